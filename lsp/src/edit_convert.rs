//! Turning what the editor says (`didChange` content changes, in its position encoding)
//! into operations in chars, and our operations back into one LSP `TextEdit`.
//!
//! Every conversion happens against the editor's own text, because LSP ranges refer to
//! it, never to the proxy's copy of the room's text.

use pairprog_protocol::position::{range_to_span, span_to_range, splits_crlf};
use pairprog_protocol::{Operation, OperationError, PositionEncoding, Range};
use ropey::Rope;

/// One content change of a `didChange`: a range (absent for a whole-document change) and
/// the text that replaces it.
#[derive(Clone, Debug, PartialEq)]
pub struct ContentChange {
    pub range: Option<Range>,
    pub text: String,
}

/// Applies the changes of one `didChange` to `text`, in order (each range refers to the
/// text after the previous changes, as LSP says), and returns them as operations, each
/// over the text the previous one left. A whole-document change becomes the smallest
/// diff that makes it ([`crate::text_diff`]), so the parts it kept stay untouched for
/// collaborators and only what the user typed counts as typed.
pub fn apply_changes(
    text: &mut Rope,
    changes: &[ContentChange],
    encoding: PositionEncoding,
) -> Result<Vec<Operation>, OperationError> {
    let mut ops = Vec::with_capacity(changes.len());
    for change in changes {
        let op = match change.range {
            Some(range) => {
                let (offset, len) = range_to_span(text, range, encoding);
                Operation::splice(text.len_chars(), offset, len, &change.text)?
            }
            None => crate::text_diff::minimal_diff(text, &Rope::from_str(&change.text)),
        };
        op.apply(text)?;
        ops.push(op);
    }
    Ok(ops)
}

/// A replacement of `deleted` chars at `offset` by `inserted`: one region of a pending
/// operation, as the editor will receive it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Splice {
    pub offset: usize,
    pub deleted: usize,
    pub inserted: String,
}

impl Splice {
    /// Widens the splice so neither end falls between the `\r` and `\n` of a CRLF in
    /// `text`: LSP cannot address that place, so a client would round it and apply the
    /// edit one char off. The widened splice produces the same text.
    pub fn widen_crlf(mut self, text: &Rope) -> Splice {
        if splits_crlf(text, self.offset) {
            self.offset -= 1;
            self.deleted += 1;
            self.inserted.insert(0, '\r');
        }
        let end = self.offset + self.deleted;
        if splits_crlf(text, end) {
            self.deleted += 1;
            self.inserted.push('\n');
        }
        self
    }

    /// The LSP range this splice replaces in `text`.
    pub fn range(&self, text: &Rope, encoding: PositionEncoding) -> Range {
        span_to_range(text, self.offset, self.deleted, encoding)
    }

    /// The splice as an operation over a document of `len` chars.
    pub fn to_operation(&self, len: usize) -> Result<Operation, OperationError> {
        Operation::splice(len, self.offset, self.deleted, &self.inserted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pairprog_protocol::Position;

    fn change(l0: u32, c0: u32, l1: u32, c1: u32, text: &str) -> ContentChange {
        ContentChange {
            range: Some(Range::new(Position::new(l0, c0), Position::new(l1, c1))),
            text: text.into(),
        }
    }

    #[test]
    fn changes_in_one_notification_apply_in_order() {
        let mut text = Rope::from_str("abc\ndef");
        let changes = [change(0, 1, 0, 2, "X"), change(1, 0, 1, 0, "Y")];
        let ops = apply_changes(&mut text, &changes, PositionEncoding::Utf16).unwrap();
        assert_eq!(text.to_string(), "aXc\nYdef");
        let after_first = ops[0].apply_str("abc\ndef").unwrap();
        assert_eq!(ops[1].apply_str(&after_first).unwrap(), "aXc\nYdef");
    }

    #[test]
    fn utf16_columns_after_an_emoji_and_cjk() {
        // The emoji is two UTF-16 units, each CJK char one; UTF-8 would count 4 and 3 bytes.
        let mut text = Rope::from_str("🎉漢字x");
        let ops = apply_changes(
            &mut text,
            &[change(0, 3, 0, 4, "")],
            PositionEncoding::Utf16,
        )
        .unwrap();
        assert_eq!(text.to_string(), "🎉漢x");
        assert_eq!(ops[0].base_len(), 4);
        let mut text = Rope::from_str("🎉漢字x");
        apply_changes(&mut text, &[change(0, 4, 0, 7, "")], PositionEncoding::Utf8).unwrap();
        assert_eq!(text.to_string(), "🎉字x");
        let mut text = Rope::from_str("🎉漢字x");
        apply_changes(
            &mut text,
            &[change(0, 1, 0, 2, "")],
            PositionEncoding::Utf32,
        )
        .unwrap();
        assert_eq!(text.to_string(), "🎉字x");
    }

    #[test]
    fn a_whole_document_change_becomes_a_diff() {
        let mut text = Rope::from_str("hello world");
        let ops = apply_changes(
            &mut text,
            &[ContentChange {
                range: None,
                text: "hello brave world".into(),
            }],
            PositionEncoding::Utf16,
        )
        .unwrap();
        assert_eq!(text.to_string(), "hello brave world");
        assert!(ops[0]
            .components()
            .iter()
            .any(|c| matches!(c, pairprog_protocol::Component::Retain(n) if *n >= 5)));
    }

    #[test]
    fn out_of_range_positions_clamp_to_the_end() {
        let mut text = Rope::from_str("ab\r\ncd");
        apply_changes(
            &mut text,
            &[change(7, 0, 9, 9, "!")],
            PositionEncoding::Utf16,
        )
        .unwrap();
        assert_eq!(text.to_string(), "ab\r\ncd!");
        let mut text = Rope::from_str("ab\r\ncd");
        apply_changes(
            &mut text,
            &[change(0, 99, 0, 99, "!")],
            PositionEncoding::Utf8,
        )
        .unwrap();
        assert_eq!(text.to_string(), "ab!\r\ncd");
    }

    #[test]
    fn a_splice_inside_a_crlf_is_widened_to_the_whole_line_break() {
        let text = Rope::from_str("ab\r\ncd");
        let splice = Splice {
            offset: 3,
            deleted: 0,
            inserted: "X".into(),
        }
        .widen_crlf(&text);
        assert_eq!(
            splice,
            Splice {
                offset: 2,
                deleted: 2,
                inserted: "\rX\n".into()
            }
        );
        let op = splice.to_operation(6).unwrap();
        assert_eq!(op.apply_str("ab\r\ncd").unwrap(), "ab\rX\ncd");
        let range = splice.range(&text, PositionEncoding::Utf16);
        assert_eq!(range, Range::new(Position::new(0, 2), Position::new(1, 0)));
    }

    #[test]
    fn deleting_only_the_cr_of_a_crlf_is_widened_too() {
        let text = Rope::from_str("ab\r\ncd");
        let splice = Splice {
            offset: 2,
            deleted: 1,
            inserted: String::new(),
        }
        .widen_crlf(&text);
        assert_eq!(splice.deleted, 2);
        assert_eq!(splice.inserted, "\n");
        assert_eq!(
            splice
                .to_operation(6)
                .unwrap()
                .apply_str("ab\r\ncd")
                .unwrap(),
            "ab\ncd"
        );
    }
}
