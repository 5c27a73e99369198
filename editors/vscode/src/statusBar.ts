// The status-bar item: room, participant count and connection; a click shows who is there.

import * as vscode from "vscode";
import type { ClientController } from "./client";
import { statusView } from "./statusText";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("pairprog.status", vscode.StatusBarAlignment.Left, 100);

  constructor(private readonly controller: ClientController) {
    this.item.name = "pairprog";
    this.item.command = "pairprog.showParticipants";
    this.refresh();
    this.item.show();
  }

  refresh(): void {
    const view = statusView(this.controller.presence, this.controller.running);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
  }

  dispose(): void {
    this.item.dispose();
  }
}
