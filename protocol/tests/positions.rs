//! Table tests of LSP position conversions: every encoding against ASCII, é (2 bytes in
//! UTF-8), CJK (3 bytes), emoji (4 bytes, a surrogate pair in UTF-16), CRLF and lone CR,
//! the empty document, a last line with no newline, and `u32::MAX` positions.

use pairprog_protocol::position::{
    offset_to_position, position_to_offset, range_to_span, span_to_range, splits_crlf,
};
use pairprog_protocol::{Position, PositionEncoding, Range};
use ropey::Rope;

use PositionEncoding::{Utf16, Utf32, Utf8};

const MAX: u32 = u32::MAX;

/// (document, line, character, encoding, expected char offset)
const TO_OFFSET: &[(&str, u32, u32, PositionEncoding, usize)] = &[
    // ASCII: every encoding counts the same.
    ("abc\ndef", 1, 2, Utf8, 6),
    ("abc\ndef", 1, 2, Utf16, 6),
    ("abc\ndef", 1, 2, Utf32, 6),
    // é is 2 bytes in UTF-8, 1 unit in UTF-16 and UTF-32.
    ("héllo", 0, 3, Utf8, 2),
    ("héllo", 0, 2, Utf16, 2),
    ("héllo", 0, 2, Utf32, 2),
    // Half-way through é in UTF-8 rounds down to its start.
    ("héllo", 0, 2, Utf8, 1),
    // CJK: 3 bytes, 1 UTF-16 unit.
    ("中文x", 0, 6, Utf8, 2),
    ("中文x", 0, 2, Utf16, 2),
    ("中文x", 0, 2, Utf32, 2),
    // Emoji: 4 bytes, a surrogate pair, one char.
    ("a😀b", 0, 5, Utf8, 2),
    ("a😀b", 0, 3, Utf16, 2),
    ("a😀b", 0, 2, Utf32, 2),
    // Inside the surrogate pair rounds down to the emoji's start.
    ("a😀b", 0, 2, Utf16, 1),
    ("😀😀\n😀", 1, 2, Utf16, 4),
    // CRLF is one line break; the column cannot reach into it.
    ("ab\r\ncd", 1, 1, Utf16, 5),
    ("ab\r\ncd", 0, 2, Utf16, 2),
    ("ab\r\ncd", 0, 3, Utf16, 2),
    // A lone CR is a line break too.
    ("ab\rcd", 1, 0, Utf16, 3),
    ("ab\rcd", 1, 2, Utf8, 5),
    ("a\r\rb", 2, 0, Utf32, 3),
    // A character past the line end clamps to the line end, not into the next line.
    ("abc\ndef", 0, 10, Utf16, 3),
    ("abc\ndef", 0, MAX, Utf8, 3),
    ("é\nx", 0, MAX, Utf32, 1),
    // A line past the end clamps to the end of the document.
    ("abc\ndef", 2, 0, Utf16, 7),
    ("abc\ndef", MAX, MAX, Utf16, 7),
    // The empty document has one empty line.
    ("", 0, 0, Utf16, 0),
    ("", 0, 5, Utf8, 0),
    ("", 3, 0, Utf32, 0),
    // A trailing newline makes an empty last line.
    ("abc\n", 1, 0, Utf16, 4),
    ("abc\n", 1, 4, Utf16, 4),
    // Last line with no newline.
    ("abc\nde", 1, 2, Utf16, 6),
];

#[test]
fn position_to_offset_table() {
    for &(doc, line, character, encoding, expected) in TO_OFFSET {
        let rope = Rope::from_str(doc);
        let got = position_to_offset(&rope, Position::new(line, character), encoding);
        assert_eq!(got, expected, "{doc:?} ({line}, {character}) {encoding:?}");
    }
}

/// (document, char offset, encoding, expected line, expected character)
const TO_POSITION: &[(&str, usize, PositionEncoding, u32, u32)] = &[
    ("abc\ndef", 6, Utf16, 1, 2),
    ("héllo", 2, Utf8, 0, 3),
    ("héllo", 2, Utf16, 0, 2),
    ("中文x", 2, Utf8, 0, 6),
    ("a😀b", 2, Utf8, 0, 5),
    ("a😀b", 2, Utf16, 0, 3),
    ("a😀b", 2, Utf32, 0, 2),
    ("😀\n😀x", 3, Utf16, 1, 2),
    ("😀\n😀x", 4, Utf16, 1, 3),
    ("ab\r\ncd", 4, Utf16, 1, 0),
    ("ab\r\ncd", 2, Utf16, 0, 2),
    // Between CR and LF: no LSP position exists, so the line end is used.
    ("ab\r\ncd", 3, Utf16, 0, 2),
    ("ab\rcd", 3, Utf8, 1, 0),
    ("", 0, Utf16, 0, 0),
    ("", 9, Utf16, 0, 0),
    ("abc\n", 4, Utf16, 1, 0),
    ("abc\nde", 6, Utf32, 1, 2),
    // Past the end clamps to the end.
    ("abc\nde", usize::MAX, Utf16, 1, 2),
];

#[test]
fn offset_to_position_table() {
    for &(doc, offset, encoding, line, character) in TO_POSITION {
        let rope = Rope::from_str(doc);
        let got = offset_to_position(&rope, offset, encoding);
        assert_eq!(
            got,
            Position::new(line, character),
            "{doc:?} offset {offset} {encoding:?}"
        );
    }
}

#[test]
fn every_offset_outside_a_crlf_round_trips_in_every_encoding() {
    let doc = "héllo 中文 😀\r\nsecond\rthird\n\n😀😀 last";
    let rope = Rope::from_str(doc);
    for encoding in [Utf8, Utf16, Utf32] {
        for offset in 0..=rope.len_chars() {
            if splits_crlf(&rope, offset) {
                continue;
            }
            let position = offset_to_position(&rope, offset, encoding);
            assert_eq!(
                position_to_offset(&rope, position, encoding),
                offset,
                "{encoding:?} {offset} {position:?}"
            );
        }
    }
}

#[test]
fn ranges_convert_to_spans_and_back() {
    let rope = Rope::from_str("a😀b\r\n中x");
    let range = Range::new(Position::new(0, 1), Position::new(1, 1));
    assert_eq!(range_to_span(&rope, range, Utf16), (1, 5));
    assert_eq!(span_to_range(&rope, 1, 5, Utf16), range);
    assert_eq!(
        span_to_range(&rope, 1, 5, Utf8),
        Range::new(Position::new(0, 1), Position::new(1, 3))
    );
    // A reversed range is read with its ends swapped.
    let reversed = Range::new(Position::new(1, 1), Position::new(0, 1));
    assert_eq!(range_to_span(&rope, reversed, Utf16), (1, 5));
    // Out-of-range ends clamp.
    let huge = Range::new(Position::new(0, 0), Position::new(MAX, MAX));
    assert_eq!(range_to_span(&rope, huge, Utf32), (0, rope.len_chars()));
}

#[test]
fn splits_crlf_only_between_cr_and_lf() {
    let rope = Rope::from_str("a\r\nb\rc\n");
    let splits: Vec<usize> = (0..=rope.len_chars())
        .filter(|&o| splits_crlf(&rope, o))
        .collect();
    assert_eq!(splits, vec![2]);
}

#[test]
fn negotiation_takes_the_clients_first_known_encoding() {
    assert_eq!(PositionEncoding::negotiate(["utf-8", "utf-16"]), Utf8);
    assert_eq!(PositionEncoding::negotiate(["utf-32", "utf-8"]), Utf32);
    assert_eq!(PositionEncoding::negotiate(["latin-1", "utf-16"]), Utf16);
    assert_eq!(PositionEncoding::negotiate([]), Utf16);
}
