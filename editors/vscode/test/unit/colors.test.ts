import { strict as assert } from "node:assert";
import { test } from "node:test";
import {
  FALLBACK_PALETTE,
  contrastingText,
  fallbackColor,
  normalizeColor,
  participantColor,
  withAlpha,
} from "../../src/colors";

test("colours from the wire are normalised to lower-case #rrggbb", () => {
  assert.equal(normalizeColor("#AABBCC"), "#aabbcc");
  assert.equal(normalizeColor("a1b2c3"), "#a1b2c3");
  assert.equal(normalizeColor(" #123456 "), "#123456");
});

test("anything that is not a six-digit colour is refused", () => {
  for (const bad of ["#abc", "#abcdefg", "red", "", "#ggg000", "url(x)", null, undefined, 5, {}]) {
    assert.equal(normalizeColor(bad), undefined, JSON.stringify(bad));
  }
});

test("a participant keeps the relay's colour when it is valid", () => {
  assert.equal(participantColor({ id: "p1", color: "#E6194B" }), "#e6194b");
});

test("a malformed colour falls back to a palette colour that is stable per id", () => {
  const first = participantColor({ id: "participant-7", color: "javascript:alert(1)" });
  assert.ok((FALLBACK_PALETTE as readonly string[]).includes(first));
  assert.equal(participantColor({ id: "participant-7", color: undefined }), first);
  assert.equal(fallbackColor("participant-7"), first);
});

test("fallback colours spread over the palette", () => {
  const used = new Set(Array.from({ length: 64 }, (_, i) => fallbackColor(`id-${i}`)));
  assert.ok(used.size >= FALLBACK_PALETTE.length - 1, `only ${used.size} colours used`);
});

test("alpha is appended as one clamped byte", () => {
  assert.equal(withAlpha("#102030", 0), "#10203000");
  assert.equal(withAlpha("#102030", 1), "#102030ff");
  assert.equal(withAlpha("#102030", 0.3), "#1020304d");
  assert.equal(withAlpha("#102030", 7), "#102030ff");
  assert.equal(withAlpha("#102030", -1), "#10203000");
});

test("label text is black on light colours and white on dark ones", () => {
  assert.equal(contrastingText("#ffffff"), "#000000");
  assert.equal(contrastingText("#ffe119"), "#000000");
  assert.equal(contrastingText("#000000"), "#ffffff");
  assert.equal(contrastingText("#4363d8"), "#ffffff");
});
