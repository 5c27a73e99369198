//! Turning "the text was A, now it is B" into an operation, for inputs that only give
//! whole texts (full-sync clients, a local file that differs from the room on join, a
//! rebase after offline edits). A diff keeps what both texts share, so concurrent edits
//! elsewhere in the document survive, where a blind overwrite would erase them.

use crate::operation::{char_len, Operation};

impl Operation {
    /// A minimal-ish operation (Myers' diff with semantic cleanup, from `dissimilar`) that
    /// turns `old` into `new`.
    pub fn from_diff(old: &str, new: &str) -> Operation {
        let mut op = Operation::new();
        if old == new {
            return op.retain(char_len(old));
        }
        for chunk in dissimilar::diff(old, new) {
            match chunk {
                dissimilar::Chunk::Equal(s) => op.push_retain(char_len(s)),
                dissimilar::Chunk::Delete(s) => op.push_delete(char_len(s)),
                dissimilar::Chunk::Insert(s) => op.push_insert(s),
            }
        }
        op
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_keeps_the_shared_text() {
        let op = Operation::from_diff("hello world", "hello, brave world");
        assert_eq!(op.apply_str("hello world").unwrap(), "hello, brave world");
        assert_eq!(op.base_len(), 11);
        assert!(op
            .components()
            .iter()
            .all(|c| !matches!(c, crate::Component::Delete(n) if *n > 1)));
    }

    #[test]
    fn diff_of_equal_texts_is_a_noop() {
        assert!(Operation::from_diff("same 😀", "same 😀").is_noop());
    }
}
