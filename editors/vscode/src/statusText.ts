// What the status-bar item says, from the latest presence. Kept apart from the VS Code
// item so the wording can be tested.

import type { ConnectionState, PresenceParams } from "./protocol";

export interface StatusView {
  text: string;
  tooltip: string;
}

const CONNECTION_ICON: Record<ConnectionState, string> = {
  connected: "$(broadcast)",
  connecting: "$(sync~spin)",
  reconnecting: "$(sync~spin)",
  disconnected: "$(debug-disconnect)",
};

/** `serverRunning` false means the language server is not running at all. */
export function statusView(presence: PresenceParams, serverRunning: boolean): StatusView {
  if (!serverRunning) {
    return {
      text: "$(error) pairprog",
      tooltip: "pairprog-lsp is not running. Click for the options.",
    };
  }
  if (!presence.room) {
    return {
      text: "$(broadcast) pairprog",
      tooltip: "Not in a room. Click to create or join one.",
    };
  }
  // Everyone in the room, you included.
  const count = presence.participants.length + (presence.you ? 1 : 0);
  const people = count === 1 ? "1 participant" : `${count} participants`;
  // A newer server may report a state this extension does not know yet.
  const icon = (CONNECTION_ICON[presence.connection] as string | undefined) ?? "$(question)";
  const text =
    presence.connection === "connected"
      ? `${icon} ${presence.room} · ${count}`
      : `${icon} ${presence.room} · ${count} · ${presence.connection}`;
  return {
    text,
    tooltip: `pairprog room ${presence.room}: ${people}, ${presence.connection}. Click to show the participants.`,
  };
}
