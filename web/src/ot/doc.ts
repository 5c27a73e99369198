// Chars ↔ UTF-16 offsets on CodeMirror's `Text`, in time proportional to the edit rather
// than the document. `Text` is a persistent tree: leaves of at most 32 lines, nodes of
// at most 32 children, and an edit replaces only the nodes on its path. We cache, per
// node, how many surrogate pairs (chars that take two UTF-16 units) it holds, so an
// offset is found by walking down one path, summing cached counts, and scanning one leaf.
// After an edit only the new nodes on its path are counted again.
//
// Line breaks: the documents here are built with `LINE_SEPARATOR` ("\n"), so a "\r"
// stays in its line as an ordinary char and the editor's text is exactly the relay's
// (CodeMirror's default would turn "\r\n" into one "\n" and every offset after it would
// be off by one). Between two children of a node there is always one line break: one
// char and one unit.

import { ChangeSet, Text, type ChangeSpec, type Transaction } from "@codemirror/state";
import { Operation, OperationError } from "./operation.js";
import { charLen, utf16Offset } from "./units.js";

/** The only line break of editor documents; "\r" is kept as a char of its line. */
export const LINE_SEPARATOR = "\n";

const pairsInNode = new WeakMap<Text, number>();
/** UTF-16 units read by leaf scans since the module loaded (tests check it stays small). */
let scanned = 0;

export function unitsScanned(): number {
  return scanned;
}

/** A document from a string, with the editor's line separator. */
export function textOf(s: string): Text {
  return Text.of(s.split(LINE_SEPARATOR));
}

function leafString(leaf: Text, to = leaf.length): string {
  scanned += to;
  return leaf.sliceString(0, to);
}

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Surrogate pairs in `s` (a lone surrogate is one char of one unit). */
function pairsIn(s: string): number {
  return s.length - charLen(s);
}

/** Surrogate pairs in a node, counted once per node and cached. */
function pairs(node: Text): number {
  const known = pairsInNode.get(node);
  if (known !== undefined) return known;
  let n = 0;
  const children = node.children;
  if (children === null) n = pairsIn(leafString(node));
  else for (const child of children) n += pairs(child);
  pairsInNode.set(node, n);
  return n;
}

/** The document's length in chars. */
export function docCharLength(doc: Text): number {
  return doc.length - pairs(doc);
}

/** The char offset of UTF-16 offset `units` (clamped; inside a pair: the pair's start). */
export function docCharOffset(doc: Text, units: number): number {
  let pos = Math.min(Math.max(units, 0), doc.length);
  let node = doc;
  let chars = 0;
  // Down one path: every child before the one holding `pos` is skipped with its cached count.
  descend: for (;;) {
    const children = node.children;
    if (children === null) break;
    for (const child of children) {
      if (pos <= child.length) {
        node = child;
        continue descend;
      }
      chars += child.length - pairs(child) + 1;
      pos -= child.length + 1;
    }
    throw new Error("unreachable: a position past the end of its node");
  }
  // A pair never spans a line break, so it never spans two leaves: the leaf tells.
  const s = leafString(node, Math.min(pos + 1, node.length));
  const inside = pos > 0 && pos < s.length && isHigh(s.charCodeAt(pos - 1)) && isLow(s.charCodeAt(pos));
  const prefix = inside ? pos - 1 : pos;
  return chars + charLen(s.slice(0, prefix));
}

/** The UTF-16 offset of char offset `chars` (clamped to the document). */
export function docUtf16Offset(doc: Text, chars: number): number {
  let left = Math.min(Math.max(chars, 0), docCharLength(doc));
  let node = doc;
  let units = 0;
  descend: for (;;) {
    const children = node.children;
    if (children === null) break;
    for (const child of children) {
      const len = child.length - pairs(child);
      if (left <= len) {
        node = child;
        continue descend;
      }
      left -= len + 1;
      units += child.length + 1;
    }
    throw new Error("unreachable: an offset past the end of its node");
  }
  return units + utf16Offset(leafString(node), left);
}

/** A transaction's changes as one operation in chars on the document before it. */
export function changesToOperation(tr: Transaction): Operation {
  return changeSetToOperation(tr.changes, tr.startState.doc);
}

export function changeSetToOperation(changes: ChangeSet, doc: Text): Operation {
  const op = new Operation();
  let at = 0;
  changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    const from = docCharOffset(doc, fromA);
    const to = docCharOffset(doc, toA);
    op.retain(from - at);
    op.delete(to - from);
    op.insert(inserted.sliceString(0, inserted.length, LINE_SEPARATOR));
    at = to;
  });
  op.retain(docCharLength(doc) - at);
  return op;
}

/** An operation in chars as CodeMirror changes on `doc`; throws when it does not fit. */
export function operationToChanges(op: Operation, doc: Text): ChangeSpec[] {
  const len = docCharLength(doc);
  if (op.baseLength !== len) {
    throw new OperationError(`the operation expects ${op.baseLength} chars, the editor has ${len}`);
  }
  const changes: ChangeSpec[] = [];
  let at = 0;
  for (const c of op.ops) {
    if (typeof c === "string") {
      changes.push({ from: docUtf16Offset(doc, at), insert: textOf(c) });
    } else if (c > 0) {
      at += c;
    } else {
      changes.push({ from: docUtf16Offset(doc, at), to: docUtf16Offset(doc, at - c) });
      at -= c;
    }
  }
  return changes;
}

/** `op` applied to `doc`, in time proportional to the operation's components. */
export function applyToText(op: Operation, doc: Text): Text {
  return ChangeSet.of(operationToChanges(op, doc), doc.length, LINE_SEPARATOR).apply(doc);
}
