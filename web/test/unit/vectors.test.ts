// Replays web/test/vectors.json, computed by the Rust algebra
// (protocol/tests/web_vectors.rs), against the TypeScript mirror.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Bias, Operation } from "../../src/ot/operation.js";
import { charLen, charOffset, utf16Offset } from "../../src/ot/units.js";

interface Vectors {
  units: { text: string; chars: number; utf16Offsets: number[] }[];
  compose: { doc: string; a: unknown; b: unknown; composed: unknown; result: string }[];
  transform: { doc: string; left: unknown; right: unknown; leftPrime: unknown; rightPrime: unknown; result: string }[];
  transformOffset: { op: unknown; baseLength: number; offset: number; before: number; after: number; baseOffset: number }[];
}

const vectors = JSON.parse(readFileSync(new URL("../../../test/vectors.json", import.meta.url), "utf8")) as Vectors;

test("there are vectors of every kind", () => {
  assert.ok(vectors.units.length >= 10);
  assert.ok(vectors.compose.length >= 50);
  assert.ok(vectors.transform.length >= 50);
  assert.ok(vectors.transformOffset.length >= 30);
});

test("char counts and UTF-16 offsets agree with Rust", () => {
  for (const v of vectors.units) {
    assert.equal(charLen(v.text), v.chars, JSON.stringify(v.text));
    v.utf16Offsets.forEach((units, chars) => {
      assert.equal(utf16Offset(v.text, chars), units, `${JSON.stringify(v.text)} char ${chars}`);
      assert.equal(charOffset(v.text, units), chars, `${JSON.stringify(v.text)} unit ${units}`);
    });
  }
});

test("compose agrees with Rust", () => {
  for (const v of vectors.compose) {
    const a = Operation.fromJSON(v.a);
    const b = Operation.fromJSON(v.b);
    const ab = a.compose(b);
    assert.deepEqual(ab.toJSON(), v.composed, JSON.stringify(v));
    assert.equal(ab.apply(v.doc), v.result);
    assert.equal(b.apply(a.apply(v.doc)), v.result);
  }
});

test("transform agrees with Rust and converges", () => {
  for (const v of vectors.transform) {
    const left = Operation.fromJSON(v.left);
    const right = Operation.fromJSON(v.right);
    const [l2, r2] = Operation.transform(left, right);
    assert.deepEqual(l2.toJSON(), v.leftPrime, JSON.stringify(v));
    assert.deepEqual(r2.toJSON(), v.rightPrime, JSON.stringify(v));
    assert.equal(r2.apply(left.apply(v.doc)), v.result);
    assert.equal(l2.apply(right.apply(v.doc)), v.result);
  }
});

test("offset transform agrees with Rust", () => {
  for (const v of vectors.transformOffset) {
    const op = Operation.fromJSON(v.op);
    assert.equal(op.baseLength, v.baseLength);
    assert.equal(op.transformOffset(v.offset, Bias.Before), v.before, JSON.stringify(v));
    assert.equal(op.transformOffset(v.offset, Bias.After), v.after, JSON.stringify(v));
    assert.equal(op.baseOffset(v.offset), v.baseOffset, JSON.stringify(v));
  }
});
