// The entries of "Show Participants", with no VS Code types so they can be unit-tested.

import type { PresenceParams } from "./protocol";

export interface ParticipantItem {
  label: string;
  description?: string;
  detail?: string;
  /** A command to run when picked (offered when there is nobody to show). */
  command?: string;
  /** Where the participant's cursor is, to jump there when picked. */
  reveal?: { uri: string; line: number; character: number };
}

export function participantList(presence: PresenceParams, serverRunning: boolean): ParticipantItem[] {
  if (!serverRunning) {
    return [{ label: "$(debug-restart) Restart pairprog-lsp", command: "pairprog.restart" }];
  }
  if (!presence.room) {
    return [
      { label: "$(add) Create Room", description: "start a room and share its id", command: "pairprog.create" },
      { label: "$(sign-in) Join Room", description: "join with an id your pair sent", command: "pairprog.join" },
    ];
  }
  const items: ParticipantItem[] = [];
  if (presence.you) {
    items.push({ label: `$(account) ${presence.you.name}`, description: "you" });
  }
  for (const participant of presence.participants) {
    const cursor = presence.cursors.find((c) => c.participantId === participant.id);
    const head = cursor?.selections[0]?.head;
    if (cursor && head) {
      items.push({
        label: `$(person) ${participant.name}`,
        description: `${cursor.path}:${head.line + 1}:${head.character + 1}`,
        detail: "Go to their cursor",
        reveal: { uri: cursor.uri, line: head.line, character: head.character },
      });
    } else {
      items.push({ label: `$(person) ${participant.name}`, description: "not in an open file" });
    }
  }
  items.push({ label: "$(copy) Copy Room ID", description: presence.room, command: "pairprog.copyRoomId" });
  items.push({ label: "$(sign-out) Leave Room", command: "pairprog.leave" });
  return items;
}
