// Draws collaborators' cursors and selections from the latest presence: a bar at each
// caret, the name beside the first caret, and a translucent selection background, all in
// the participant's colour. Decoration types are made per colour and dropped with it.

import * as vscode from "vscode";
import { contrastingText, withAlpha } from "./colors";
import { colorsInUse, marksForDocument, type CursorMarks } from "./presenceModel";
import type { PresenceParams, Position } from "./protocol";

interface ColorTypes {
  caret: vscode.TextEditorDecorationType;
  label: vscode.TextEditorDecorationType;
  selection: vscode.TextEditorDecorationType;
}

function createTypes(color: string): ColorTypes {
  return {
    caret: vscode.window.createTextEditorDecorationType({
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
      before: {
        contentText: "",
        border: `1px solid ${color}`,
        margin: "0 -2px 0 0",
        height: "1.1em",
      },
    }),
    label: vscode.window.createTextEditorDecorationType({
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
      after: {
        backgroundColor: color,
        color: contrastingText(color),
        margin: "0 0 0 3px",
        fontWeight: "normal",
        textDecoration: "none; border-radius: 3px; padding: 0 3px; font-size: 85%",
      },
    }),
    selection: vscode.window.createTextEditorDecorationType({
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
      backgroundColor: withAlpha(color, 0.3),
    }),
  };
}

function toPosition(p: Position): vscode.Position {
  return new vscode.Position(p.line, p.character);
}

export class DecorationPainter implements vscode.Disposable {
  private readonly types = new Map<string, ColorTypes>();
  private presence: PresenceParams | undefined;

  /** `sameDocument(serverUri, editorUri)`: whether a presence URI names this document. */
  constructor(private readonly sameDocument: (serverUri: string, document: vscode.Uri) => boolean) {}

  update(presence: PresenceParams): void {
    this.presence = presence;
    const used = colorsInUse(presence);
    for (const [color, types] of this.types) {
      if (!used.has(color)) {
        types.caret.dispose();
        types.label.dispose();
        types.selection.dispose();
        this.types.delete(color);
      }
    }
    this.paintVisible();
  }

  paintVisible(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      this.paint(editor);
    }
  }

  dispose(): void {
    for (const types of this.types.values()) {
      types.caret.dispose();
      types.label.dispose();
      types.selection.dispose();
    }
    this.types.clear();
  }

  private paint(editor: vscode.TextEditor): void {
    const marks = this.presence
      ? marksForDocument(this.presence, (uri) => this.sameDocument(uri, editor.document.uri))
      : [];
    const byColor = new Map<string, CursorMarks[]>();
    for (const mark of marks) {
      byColor.set(mark.color, [...(byColor.get(mark.color) ?? []), mark]);
    }
    for (const color of byColor.keys()) {
      if (!this.types.has(color)) {
        this.types.set(color, createTypes(color));
      }
    }
    for (const [color, types] of this.types) {
      const inColor = byColor.get(color) ?? [];
      const carets: vscode.Range[] = [];
      const labels: vscode.DecorationOptions[] = [];
      const selections: vscode.Range[] = [];
      for (const mark of inColor) {
        for (const caret of mark.carets) {
          const at = editor.document.validatePosition(toPosition(caret));
          carets.push(new vscode.Range(at, at));
        }
        const first = editor.document.validatePosition(toPosition(mark.carets[0]));
        labels.push({
          range: new vscode.Range(first, first),
          hoverMessage: `${mark.name} (pairprog)`,
          renderOptions: { after: { contentText: mark.name } },
        });
        for (const span of mark.selections) {
          selections.push(
            editor.document.validateRange(new vscode.Range(toPosition(span.start), toPosition(span.end))),
          );
        }
      }
      editor.setDecorations(types.caret, carets);
      editor.setDecorations(types.label, labels);
      editor.setDecorations(types.selection, selections);
    }
  }
}
