//! LSP positions on a rope. Everything inside pairprog counts chars; an LSP client counts
//! a line's characters in the encoding it negotiated (UTF-16 code units unless it offered
//! another). These functions are the only place where the two meet.
//!
//! Line breaks are `\n`, `\r\n` and `\r`, exactly the ones LSP defines (the workspace's
//! ropey is built with `cr_lines` only). Out-of-range input clamps instead of failing, as
//! the LSP specification asks: a character past the end of its line means the line end,
//! a line past the last one means the end of the document. Every conversion is
//! O(log n) in the document size.

use ropey::Rope;
use serde::{Deserialize, Serialize};

/// The unit in which a client counts a line's characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PositionEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "utf-16")]
    Utf16,
    #[serde(rename = "utf-32")]
    Utf32,
}

impl PositionEncoding {
    /// The name LSP uses in `general.positionEncodings`.
    pub fn lsp_name(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Utf16 => "utf-16",
            Self::Utf32 => "utf-32",
        }
    }

    pub fn from_lsp_name(name: &str) -> Option<Self> {
        match name {
            "utf-8" => Some(Self::Utf8),
            "utf-16" => Some(Self::Utf16),
            "utf-32" => Some(Self::Utf32),
            _ => None,
        }
    }

    /// Picks the encoding for a client: the first one it offers that we know, in the
    /// client's order of preference (Neovim prefers UTF-8 because extmark columns are
    /// bytes); UTF-16, which every client must support, when it offers none.
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Self {
        offered
            .into_iter()
            .find_map(Self::from_lsp_name)
            .unwrap_or(Self::Utf16)
    }
}

/// A zero-based line and a column counted in some [`PositionEncoding`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

impl Position {
    pub const fn new(line: u32, character: u32) -> Self {
        Self { line, character }
    }
}

/// A half-open range between two positions, as LSP sends it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Range {
    pub start: Position,
    pub end: Position,
}

impl Range {
    pub const fn new(start: Position, end: Position) -> Self {
        Self { start, end }
    }
}

/// The char offset where `line` starts and where its text ends (before its line break).
/// `line` must be a valid line index of `rope`.
fn line_bounds(rope: &Rope, line: usize) -> (usize, usize) {
    let start = rope.line_to_char(line);
    if line + 1 >= rope.len_lines() {
        return (start, rope.len_chars());
    }
    let next = rope.line_to_char(line + 1);
    let break_len = if next >= 2 && rope.char(next - 1) == '\n' && rope.char(next - 2) == '\r' {
        2
    } else {
        1
    };
    (start, next - break_len)
}

/// The position of a char offset in `encoding` units since the start of the document.
fn units_before(rope: &Rope, offset: usize, encoding: PositionEncoding) -> usize {
    match encoding {
        PositionEncoding::Utf8 => rope.char_to_byte(offset),
        PositionEncoding::Utf16 => rope.char_to_utf16_cu(offset),
        PositionEncoding::Utf32 => offset,
    }
}

/// The char containing the `units`-th unit of the document (rounding down when `units`
/// falls inside a multi-unit char).
fn char_at_units(rope: &Rope, units: usize, encoding: PositionEncoding) -> usize {
    match encoding {
        PositionEncoding::Utf8 => rope.byte_to_char(units),
        PositionEncoding::Utf16 => rope.utf16_cu_to_char(units),
        PositionEncoding::Utf32 => units,
    }
}

/// The char offset of an LSP position. Never fails: see the module notes on clamping. A
/// column that points inside a multi-unit char (half a surrogate pair, a byte in the
/// middle of a UTF-8 sequence) rounds down to the start of that char.
pub fn position_to_offset(rope: &Rope, position: Position, encoding: PositionEncoding) -> usize {
    let line = position.line as usize;
    if line >= rope.len_lines() {
        return rope.len_chars();
    }
    let (start, end) = line_bounds(rope, line);
    let start_units = units_before(rope, start, encoding);
    let end_units = units_before(rope, end, encoding);
    let target = start_units.saturating_add(position.character as usize);
    if target >= end_units {
        end
    } else {
        char_at_units(rope, target, encoding)
    }
}

/// The LSP position of a char offset. An offset past the end means the end of the
/// document; an offset between the `\r` and `\n` of a CRLF, which LSP cannot express,
/// maps to the end of that line's text.
pub fn offset_to_position(rope: &Rope, offset: usize, encoding: PositionEncoding) -> Position {
    let offset = offset.min(rope.len_chars());
    let line = rope.char_to_line(offset);
    let (start, end) = line_bounds(rope, line);
    let offset = offset.min(end);
    let column = units_before(rope, offset, encoding) - units_before(rope, start, encoding);
    Position {
        line: saturating_u32(line),
        character: saturating_u32(column),
    }
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// An LSP range as `(offset, length)` in chars. A range whose end comes before its start
/// is read with its ends swapped.
pub fn range_to_span(rope: &Rope, range: Range, encoding: PositionEncoding) -> (usize, usize) {
    let a = position_to_offset(rope, range.start, encoding);
    let b = position_to_offset(rope, range.end, encoding);
    (a.min(b), a.abs_diff(b))
}

/// The LSP range covering `length` chars from `offset` (both clamped to the document).
pub fn span_to_range(
    rope: &Rope,
    offset: usize,
    length: usize,
    encoding: PositionEncoding,
) -> Range {
    Range {
        start: offset_to_position(rope, offset, encoding),
        end: offset_to_position(rope, offset.saturating_add(length), encoding),
    }
}

/// True when `offset` falls between the `\r` and the `\n` of a CRLF: a place an LSP
/// client cannot address, which an editor bridge must widen to the whole line break.
pub fn splits_crlf(rope: &Rope, offset: usize) -> bool {
    offset > 0
        && offset < rope.len_chars()
        && rope.char(offset - 1) == '\r'
        && rope.char(offset) == '\n'
}
