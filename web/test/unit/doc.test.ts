// Table and randomized tests of the chars ↔ UTF-16 conversions on CodeMirror's Text
// (src/ot/doc.ts), against the string versions in src/ot/units.ts as the oracle, and a
// check that one keystroke in a large document reads only a small part of it.
// PAIRPROG_SEED replays the randomized test.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ChangeSet, EditorState } from "@codemirror/state";
import {
  applyToText,
  changeSetToOperation,
  docCharLength,
  docCharOffset,
  docUtf16Offset,
  LINE_SEPARATOR,
  operationToChanges,
  textOf,
  unitsScanned,
} from "../../src/ot/doc.js";
import { Operation } from "../../src/ot/operation.js";
import { charLen, charOffset, utf16Offset } from "../../src/ot/units.js";

test("offsets on a document: emoji, CJK, CRLF, a lone CR, out of range", () => {
  // [text, [char offset, UTF-16 offset] pairs]
  const table: [string, [number, number][]][] = [
    ["", [[0, 0], [1, 0], [-1, 0]]],
    ["abc", [[0, 0], [2, 2], [3, 3], [99, 3]]],
    ["中文\n字", [[1, 1], [2, 2], [3, 3], [4, 4], [5, 4]]],
    ["a😀b", [[1, 1], [2, 3], [3, 4], [4, 4]]],
    ["😀\n😀", [[1, 2], [2, 3], [3, 5]]],
    ["a\r\nb", [[1, 1], [2, 2], [3, 3], [4, 4]]],
    ["x\ry\r\n😀\r\n", [[2, 2], [5, 5], [6, 7], [8, 9], [9, 9]]],
    ["👩‍💻", [[1, 2], [2, 3], [3, 5]]],
  ];
  for (const [s, rows] of table) {
    const doc = textOf(s);
    assert.equal(doc.length, s.length, `${JSON.stringify(s)}: the editor keeps every unit`);
    assert.equal(docCharLength(doc), charLen(s), JSON.stringify(s));
    for (const [chars, units] of rows) {
      assert.equal(docUtf16Offset(doc, chars), units, `${JSON.stringify(s)}: char ${chars}`);
      const clamped = Math.min(Math.max(chars, 0), charLen(s));
      assert.equal(docCharOffset(doc, units), clamped, `${JSON.stringify(s)}: unit ${units}`);
    }
  }
  const emoji = textOf("a😀b");
  assert.equal(docCharOffset(emoji, 2), 1, "inside a pair: the pair's start");
  assert.equal(docCharOffset(emoji, -5), 0);
  assert.equal(docCharOffset(emoji, 99), 3);
});

test("an editor with our separator keeps CRLF, and its changes become the relay's operation", () => {
  const state = EditorState.create({ doc: "a\r\nb😀\r\nc", extensions: EditorState.lineSeparator.of(LINE_SEPARATOR) });
  assert.equal(state.doc.toString(), "a\r\nb😀\r\nc");
  // Types "X" after the emoji and replaces "c" with "中".
  const tr = state.update({ changes: [{ from: 6, insert: "X" }, { from: 8, to: 9, insert: "中" }] });
  const op = changeSetToOperation(tr.changes, state.doc);
  assert.deepEqual(op.toJSON(), [5, "X", 2, "中", -1]);
  assert.equal(op.apply("a\r\nb😀\r\nc"), tr.state.doc.toString());
  // And back: the relay's operation applied to the editor gives the same text.
  const back = state.update({ changes: operationToChanges(op, state.doc) });
  assert.equal(back.state.doc.toString(), "a\r\nb😀X\r\n中");
  assert.throws(() => operationToChanges(Operation.identity(99), state.doc), /expects 99 chars/);
});

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

const PIECES = ["a", "bc", "中", "😀", "\r\n", "\n", "\r", "é", "👩‍💻"];

test("randomized: conversions on many-leaf documents agree with the string versions", () => {
  const seed = Number(process.env.PAIRPROG_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`# doc conversions seed ${seed} (PAIRPROG_SEED=${seed} replays it)`);
  const rand = rng(seed);
  const piece = () => PIECES[Math.floor(rand() * PIECES.length)];
  let s = Array.from({ length: 3000 }, piece).join("");
  let doc = textOf(s);
  for (let round = 0; round < 200; round++) {
    const len = charLen(s);
    for (let k = 0; k < 5; k++) {
      const c = Math.floor(rand() * (len + 2)) - 1;
      assert.equal(docUtf16Offset(doc, c), utf16Offset(s, Math.max(c, 0)), `seed ${seed} round ${round}: char ${c}`);
      const u = Math.floor(rand() * (s.length + 2)) - 1;
      assert.equal(docCharOffset(doc, u), charOffset(s, u), `seed ${seed} round ${round}: unit ${u}`);
    }
    assert.equal(docCharLength(doc), len);
    // A random edit, as an operation in chars, applied to both.
    const at = Math.floor(rand() * (len + 1));
    const del = Math.min(len - at, Math.floor(rand() * 4));
    const ins = rand() < 0.7 ? Array.from({ length: 1 + Math.floor(rand() * 3) }, piece).join("") : "";
    const op = Operation.splice(len, at, del, ins);
    s = op.apply(s);
    doc = applyToText(op, doc);
    assert.equal(doc.toString(), s, `seed ${seed} round ${round}`);
  }
});

test("a keystroke in a 1 MB document reads a few kilobytes of it, not the document", () => {
  const line = "let x = '😀 中文';\r\n";
  const s = line.repeat(Math.ceil(1_000_000 / line.length));
  let doc = textOf(s);
  docCharLength(doc); // counts every leaf once
  const before = unitsScanned();
  const middle = docCharLength(doc) >> 1;
  for (let i = 0; i < 100; i++) {
    // What one keystroke costs: the operation's offsets, its changes, the new length.
    const op = Operation.splice(docCharLength(doc), middle + i, 0, "k");
    doc = applyToText(op, doc);
    const changes = ChangeSet.of(operationToChanges(Operation.splice(docCharLength(doc), middle, 1, ""), doc), doc.length, LINE_SEPARATOR);
    changeSetToOperation(changes, doc);
    docCharOffset(doc, docUtf16Offset(doc, middle));
  }
  const perKeystroke = (unitsScanned() - before) / 100;
  console.log(`one keystroke read ${perKeystroke} units`);
  assert.ok(perKeystroke < 16_000, `one keystroke read ${perKeystroke} units of a ${s.length}-unit document`);
});
