// Entry point. Activation wires the parts that live as long as the extension (commands,
// status bar, decorations, cursor sending) and starts the language client, whose own
// lifetime the ClientController keeps so that "Restart Server" works.

import * as vscode from "vscode";
import { ClientController } from "./client";
import { registerCommands } from "./commands";
import { DecorationPainter } from "./decorations";
import { CURSOR_METHOD, type CursorParams } from "./protocol";
import { StatusBar } from "./statusBar";
import { Throttle } from "./throttle";

let controller: ClientController | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("pairprog");
  context.subscriptions.push(output);
  try {
    controller = new ClientController(output);
    const ctl = controller;
    context.subscriptions.push(ctl, ...registerCommands(ctl));

    const statusBar = new StatusBar(ctl);
    const painter = new DecorationPainter((serverUri, document) => {
      const client = ctl.languageClient;
      const uri = client ? client.protocol2CodeConverter.asUri(serverUri) : vscode.Uri.parse(serverUri);
      return uri.toString() === document.toString();
    });
    context.subscriptions.push(statusBar, painter);
    context.subscriptions.push(
      ctl.onDidChange(() => {
        statusBar.refresh();
        painter.update(ctl.presence);
      }),
      vscode.window.onDidChangeVisibleTextEditors(() => painter.paintVisible()),
    );

    const throttleMs = vscode.workspace.getConfiguration("pairprog").get<number>("cursorThrottleMs", 50);
    const cursor = new Throttle<CursorParams>(Math.max(0, throttleMs), (params) => ctl.sendCursor(params));
    context.subscriptions.push({ dispose: () => cursor.dispose() });
    const sendSelection = (editor: vscode.TextEditor | undefined): void => {
      const client = ctl.languageClient;
      if (!editor || !client || !ctl.presence.room || editor.document.uri.scheme !== "file") {
        return;
      }
      cursor.push({
        uri: client.code2ProtocolConverter.asUri(editor.document.uri),
        selections: editor.selections.map((s) => ({
          anchor: { line: s.anchor.line, character: s.anchor.character },
          head: { line: s.active.line, character: s.active.character },
        })),
      });
    };
    context.subscriptions.push(
      vscode.window.onDidChangeTextEditorSelection((e) => sendSelection(e.textEditor)),
      vscode.window.onDidChangeActiveTextEditor((editor) => sendSelection(editor)),
      // pairprog-lsp turns the caret into an offset in the text it has then. A
      // collaborator's edit on an earlier line moves that offset but not the caret's
      // line and column, so no selection event fires: send the caret again, or others
      // keep drawing it where it was before the edit.
      vscode.workspace.onDidChangeTextDocument((e) => {
        const editor = vscode.window.activeTextEditor;
        if (editor && e.document === editor.document && e.contentChanges.length > 0) {
          sendSelection(editor);
        }
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (["pairprog.serverPath", "pairprog.relayUrl", "pairprog.userName"].some((s) => e.affectsConfiguration(s))) {
          void vscode.window
            .showInformationMessage("pairprog settings changed: restart pairprog-lsp to use them?", "Restart")
            .then((choice) => {
              if (choice === "Restart") {
                void vscode.commands.executeCommand("pairprog.restart");
              }
            });
        }
      }),
    );
    output.appendLine(`pairprog: sending cursors as ${CURSOR_METHOD} at most every ${throttleMs} ms`);

    // A server that cannot start has already been reported by the controller, with
    // actions; activation itself succeeds so the commands (Restart among them) stay.
    await ctl.start().catch(() => undefined);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    output.appendLine(`activation failed: ${message}`);
    void vscode.window.showErrorMessage(`pairprog failed to activate: ${message}`);
    throw e;
  }
}

export async function deactivate(): Promise<void> {
  await controller?.stop();
  controller = undefined;
}
