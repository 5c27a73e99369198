// The CodeMirror 6 editor of the room page, and the two conversions at its edge: a
// CodeMirror change set (UTF-16 offsets) into an operation in chars, and back.

import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { Annotation, Compartment, EditorState, type ChangeSpec, type Extension, type Text, type Transaction } from "@codemirror/state";
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
  type ViewUpdate,
} from "@codemirror/view";
import { Operation, OperationError } from "../ot/operation.js";
import { charLen, utf16Offset } from "../ot/units.js";
import { remoteCursors } from "./cursors.js";
import { ghostText } from "./ghost.js";
import { languageSupport } from "./languages.js";
import { cspNonce } from "../shared.js";

/** Marks transactions that apply collaborators' edits, which are not sent back. */
export const remoteEdit = Annotation.define<boolean>();

export const languageCompartment = new Compartment();
export const readOnlyCompartment = new Compartment();

export interface EditorHooks {
  /** A local edit, as an operation on the document before it. */
  localEdit(op: Operation): void;
  /** The local selection moved (or the text under it changed). */
  selectionChanged(): void;
  language(): string;
  autocompleteEnabled(): boolean;
}

export function editorExtensions(hooks: EditorHooks, language: string, readOnly: boolean): Extension {
  return [
    EditorView.cspNonce.of(cspNonce()),
    // Long lines wrap: the page is also for phones and tablets, and in headless Chromium
    // typing fast at the end of a horizontally scrolled line misplaced characters.
    EditorView.lineWrapping,
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightActiveLine(),
    history(),
    drawSelection(),
    indentOnInput(),
    bracketMatching(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    keymap.of([...defaultKeymap, ...historyKeymap]),
    languageCompartment.of(languageSupport(language)),
    readOnlyCompartment.of(EditorState.readOnly.of(readOnly)),
    remoteCursors,
    ghostText(
      () => hooks.language(),
      () => hooks.autocompleteEnabled(),
    ),
    EditorView.contentAttributes.of({ "aria-label": "Shared document" }),
    EditorView.updateListener.of((u: ViewUpdate) => {
      for (const tr of u.transactions) {
        if (tr.docChanged && tr.annotation(remoteEdit) !== true) hooks.localEdit(changesToOperation(tr));
      }
      if (u.selectionSet || u.docChanged) hooks.selectionChanged();
    }),
  ];
}

/** A local transaction's changes as one operation in chars. */
export function changesToOperation(tr: Transaction): Operation {
  const old = tr.startState.doc.toString();
  const op = new Operation();
  let pos = 0;
  tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    op.retain(charLen(old.slice(pos, fromA)));
    op.delete(charLen(old.slice(fromA, toA)));
    op.insert(inserted.toString());
    pos = toA;
  });
  op.retain(charLen(old.slice(pos)));
  return op;
}

/** An operation in chars as CodeMirror changes on `doc`; throws when it does not fit. */
export function operationToChanges(op: Operation, doc: Text): ChangeSpec[] {
  const text = doc.toString();
  if (op.baseLength !== charLen(text)) {
    throw new OperationError(`the operation expects ${op.baseLength} chars, the editor has ${charLen(text)}`);
  }
  const changes: ChangeSpec[] = [];
  let at = 0;
  for (const c of op.ops) {
    if (typeof c === "string") {
      changes.push({ from: at, insert: c });
    } else if (c > 0) {
      at = utf16Offset(text, c, at);
    } else {
      const end = utf16Offset(text, -c, at);
      changes.push({ from: at, to: end });
      at = end;
    }
  }
  return changes;
}
