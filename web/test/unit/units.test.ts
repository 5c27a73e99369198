// Table tests of the UTF-16 ↔ char conversions at the editor's edge.

import assert from "node:assert/strict";
import { test } from "node:test";
import { charLen, charOffset, sliceChars, utf16Offset } from "../../src/ot/units.js";

test("chars count scalar values, not UTF-16 units", () => {
  const table: [string, number][] = [
    ["", 0],
    ["abc", 3],
    ["中文", 2],
    ["😀", 1],
    ["a😀b", 3],
    ["\r\n", 2],
    ["👩‍💻", 3],
    ["\ud83d", 1],
  ];
  for (const [s, n] of table) assert.equal(charLen(s), n, JSON.stringify(s));
});

test("offsets convert both ways and clamp out of range", () => {
  const s = "a😀中\r\nb";
  assert.equal(utf16Offset(s, 0), 0);
  assert.equal(utf16Offset(s, 2), 3);
  assert.equal(utf16Offset(s, 3), 4);
  assert.equal(utf16Offset(s, 99), s.length);
  assert.equal(charOffset(s, 3), 2);
  assert.equal(charOffset(s, 2), 1, "inside a pair: the pair's start");
  assert.equal(charOffset(s, 99), 6);
  assert.equal(charOffset(s, -1), 0);
  assert.deepEqual(sliceChars(s, 2), ["a😀", "中\r\nb"]);
});
