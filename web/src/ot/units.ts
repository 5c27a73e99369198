// Units at the edge: the wire counts Unicode scalar values ("chars"), JavaScript strings
// and CodeMirror count UTF-16 code units. A char outside the Basic Multilingual Plane
// (most emoji) is one char and two code units; CJK in the BMP is one of each.

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** The number of chars in `s`; a lone surrogate counts as one, as Rust sees U+FFFD. */
export function charLen(s: string): number {
  let n = s.length;
  for (let i = 0; i + 1 < s.length; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) {
      n--;
      i++;
    }
  }
  return n;
}

/** Splits `s` after its first `n` chars (all of it when shorter). */
export function sliceChars(s: string, n: number): [string, string] {
  const at = utf16Offset(s, n);
  return [s.slice(0, at), s.slice(at)];
}

/** The UTF-16 offset of char offset `chars` in `s`, clamped to its end. */
export function utf16Offset(s: string, chars: number, from = 0): number {
  let i = from;
  let left = chars;
  while (left > 0 && i < s.length) {
    i += isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
    left--;
  }
  return i;
}

/** The char offset of UTF-16 offset `units` in `s` (inside a pair: the pair's start). */
export function charOffset(s: string, units: number): number {
  const end = Math.min(Math.max(units, 0), s.length);
  let chars = 0;
  let i = 0;
  while (i < end) {
    const pair = isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1));
    if (pair && i + 1 === end) break;
    i += pair ? 2 : 1;
    chars++;
  }
  return chars;
}
