//! Cutting the bounded windows around a cursor out of a `&str` or a rope.
//!
//! Cursors count chars. Finding the cursor in a `&str` costs a walk from the start, which
//! the stateless entry points accept; the room index keeps ropes, where it is logarithmic.

use crate::context::{AFTER_WINDOW_CHARS, CONTEXT_WINDOW_CHARS};
use crate::error::AutocompleteError;
use ropey::Rope;

/// How much of a document decides its indentation unit when it is first indexed.
const INDENT_SAMPLE_BYTES: usize = 64 * 1024;

/// The text before (from a line start, see [`CONTEXT_WINDOW_CHARS`]) and after the cursor.
pub(crate) fn around_in_str(code: &str, cursor: usize) -> Result<(&str, &str), AutocompleteError> {
    let mut count = 0usize;
    let mut cursor_byte = None;
    for (at, _) in code.char_indices() {
        if count == cursor {
            cursor_byte = Some(at);
            break;
        }
        count += 1;
    }
    // Without a break the loop counted every char, so `count` is the length.
    let cursor_byte = match cursor_byte {
        Some(at) => at,
        None if cursor == count => code.len(),
        None => return Err(AutocompleteError::CursorOutOfRange { cursor, len: count }),
    };
    let head = &code[..cursor_byte];
    let mut start = head
        .char_indices()
        .rev()
        .nth(CONTEXT_WINDOW_CHARS.saturating_sub(1))
        .map_or(0, |(at, _)| at);
    if start > 0 && !head[..start].ends_with(['\n', '\r']) {
        if let Some(line_break) = head[start..].find(['\n', '\r']) {
            let after_break = start + line_break + 1;
            start = if head[after_break..].starts_with('\n') && head[..after_break].ends_with('\r')
            {
                after_break + 1
            } else {
                after_break
            };
        }
    }
    let tail = &code[cursor_byte..];
    let end = tail
        .char_indices()
        .nth(AFTER_WINDOW_CHARS)
        .map_or(tail.len(), |(at, _)| at);
    Ok((&head[start..], &tail[..end]))
}

/// The same windows cut from a rope; the caller has checked `cursor <= rope.len_chars()`.
pub(crate) fn around_in_rope(rope: &Rope, cursor: usize) -> (String, String) {
    let len = rope.len_chars();
    let cursor = cursor.min(len);
    let mut start = cursor.saturating_sub(CONTEXT_WINDOW_CHARS);
    if start > 0 {
        let line = rope.char_to_line(start);
        if rope.line_to_char(line) != start {
            let next = rope.line_to_char((line + 1).min(rope.len_lines()));
            if next <= cursor {
                start = next;
            }
        }
    }
    let end = (cursor + AFTER_WINDOW_CHARS).min(len);
    (
        rope.slice(start..cursor).to_string(),
        rope.slice(cursor..end).to_string(),
    )
}

/// The start of `text` that decides the indentation unit, cut at a char boundary.
pub(crate) fn indent_sample(text: &str) -> &str {
    let mut end = text.len().min(INDENT_SAMPLE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
