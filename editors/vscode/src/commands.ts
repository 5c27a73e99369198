// The commands in the palette. Each reports failure to the user with the server's own
// message: nothing fails silently.

import * as vscode from "vscode";
import type { ClientController } from "./client";
import { ServerCommand, type RoomResult } from "./protocol";
import { participantList } from "./participants";

/** The server checks ids, links and `roomId#secret` (lsp/src/commands.rs); this only refuses nothing. */
export function validateRoomInput(value: string): string | undefined {
  const trimmed = value.trim();
  if (!trimmed) {
    return "Paste the room id (or link) your pair sent you.";
  }
  return undefined;
}

async function reportErrors(what: string, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    void vscode.window.showErrorMessage(`pairprog: ${what} failed: ${message}`);
  }
}

export function registerCommands(controller: ClientController): vscode.Disposable[] {
  const create = async (): Promise<void> =>
    reportErrors("creating a room", async () => {
      const result = await controller.executeCommand<RoomResult>(ServerCommand.createRoom);
      // A room with secrets is joined with `roomId#secret`; the bare id would be refused.
      const link = result.link ?? result.roomId;
      await vscode.env.clipboard.writeText(link);
      const what = link === result.roomId ? "its id" : "its link (with the join secret)";
      void vscode.window.showInformationMessage(
        `pairprog: created room ${result.roomId} and copied ${what} to the clipboard. Send it to your pair: they run “Pairprog: Join Room”.`,
      );
    });

  const join = async (): Promise<void> => {
    const room = await vscode.window.showInputBox({
      title: "Join a pairprog room",
      prompt: "The room id or link your pair sent you (roomId#secret for a room with secrets)",
      placeHolder: "room id",
      ignoreFocusOut: true,
      validateInput: validateRoomInput,
    });
    if (room === undefined) {
      return;
    }
    await reportErrors("joining the room", async () => {
      await controller.executeCommand(ServerCommand.joinRoom, [room.trim()]);
    });
  };

  const leave = async (): Promise<void> =>
    reportErrors("leaving the room", async () => {
      await controller.executeCommand(ServerCommand.leaveRoom);
    });

  const copyRoomId = async (): Promise<void> => {
    const room = controller.presence.room;
    if (!room) {
      void vscode.window.showWarningMessage("pairprog: you are not in a room. Create or join one first.");
      return;
    }
    await vscode.env.clipboard.writeText(room);
    void vscode.window.showInformationMessage(`pairprog: copied room id ${room} to the clipboard.`);
  };

  const showParticipants = async (): Promise<void> => {
    const items = participantList(controller.presence, controller.running);
    const picked = await vscode.window.showQuickPick(
      items.map((item) => ({ ...item, label: item.label, description: item.description, detail: item.detail })),
      { title: controller.presence.room ? `pairprog room ${controller.presence.room}` : "pairprog", placeHolder: items.length ? undefined : "Nobody is here" },
    );
    if (!picked) {
      return;
    }
    if (picked.command) {
      await vscode.commands.executeCommand(picked.command);
    } else if (picked.reveal) {
      const client = controller.languageClient;
      if (!client) {
        return;
      }
      const uri = client.protocol2CodeConverter.asUri(picked.reveal.uri);
      const at = new vscode.Position(picked.reveal.line, picked.reveal.character);
      await vscode.window.showTextDocument(uri, { selection: new vscode.Range(at, at) });
    }
  };

  const restart = async (): Promise<void> =>
    reportErrors("restarting pairprog-lsp", async () => {
      await controller.restart();
    });

  return [
    vscode.commands.registerCommand("pairprog.create", create),
    vscode.commands.registerCommand("pairprog.join", join),
    vscode.commands.registerCommand("pairprog.leave", leave),
    vscode.commands.registerCommand("pairprog.copyRoomId", copyRoomId),
    vscode.commands.registerCommand("pairprog.showParticipants", showParticipants),
    vscode.commands.registerCommand("pairprog.restart", restart),
  ];
}
