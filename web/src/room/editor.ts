// The CodeMirror 6 editor of the room page. The conversions at its edge (a change set in
// UTF-16 offsets into an operation in chars, and back) are in ../ot/doc.ts.

import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { Annotation, Compartment, EditorState, type Extension } from "@codemirror/state";
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
  type ViewUpdate,
} from "@codemirror/view";
import { changesToOperation, LINE_SEPARATOR } from "../ot/doc.js";
import type { Operation } from "../ot/operation.js";
import { remoteCursors } from "./cursors.js";
import { ghostText } from "./ghost.js";
import { languageSupport } from "./languages.js";
import { cspNonce } from "../shared.js";

/** Marks transactions that apply collaborators' edits, which are not sent back. */
export const remoteEdit = Annotation.define<boolean>();

export const languageCompartment = new Compartment();
export const readOnlyCompartment = new Compartment();
export const wrapCompartment = new Compartment();

/** Long lines wrap unless the person turned it off (the page is also for phones). */
export function wrapping(on: boolean): Extension {
  return on ? EditorView.lineWrapping : [];
}

export interface EditorHooks {
  /** A local edit, as an operation on the document before it. */
  localEdit(op: Operation): void;
  /** The local selection moved (or the text under it changed). */
  selectionChanged(): void;
  language(): string;
  autocompleteEnabled(): boolean;
}

export function editorExtensions(hooks: EditorHooks, language: string, readOnly: boolean, wrap: boolean): Extension {
  return [
    // The relay's text exactly: a "\r" stays a char of its line (see ../ot/doc.ts).
    EditorState.lineSeparator.of(LINE_SEPARATOR),
    EditorView.cspNonce.of(cspNonce()),
    wrapCompartment.of(wrapping(wrap)),
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
    typedTextKeepsCursorAfter,
    EditorView.contentAttributes.of({ "aria-label": "Shared document" }),
    EditorView.updateListener.of((u: ViewUpdate) => {
      for (const tr of u.transactions) {
        if (tr.docChanged && tr.annotation(remoteEdit) !== true) hooks.localEdit(changesToOperation(tr));
      }
      if (u.selectionSet || u.docChanged) hooks.selectionChanged();
    }),
  ];
}

/**
 * Typed text leaves the cursor after it. CodeMirror lets the browser insert typed text
 * into the DOM, then reads the change and the DOM selection back. In Chromium, typing
 * fast at the end of a line that scrolls horizontally, the selection it reads is
 * sometimes the one from before the insertion, so CodeMirror put the cursor in front of
 * the typed character and the next keys landed before it (web/test/e2e/long-line.mjs).
 * A plain insertion at an empty cursor can only be typing: it gets the cursor after it.
 */
const typedTextKeepsCursorAfter = EditorView.inputHandler.of((view, from, to, text, insert) => {
  const sel = view.state.selection.main;
  if (!sel.empty || from !== sel.head || to !== from || text === "" || view.composing) return false;
  if (insert().newSelection.main.head !== from) return false;
  view.dispatch({ changes: { from, insert: text }, selection: { anchor: from + text.length }, userEvent: "input.type", scrollIntoView: true });
  return true;
});

