//! The errors the engine reports to its callers.

/// Everything that can go wrong when asking the engine for suggestions.
///
/// The REST layer maps [`AutocompleteError::CursorOutOfRange`] to a 422, and the
/// language server treats [`AutocompleteError::UnknownDocument`] as "offer nothing".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AutocompleteError {
    /// The cursor, counted in Unicode scalar values, lies past the end of the text.
    #[error("cursor position {cursor} is beyond the end of the code ({len} characters)")]
    CursorOutOfRange {
        /// The cursor the caller asked about.
        cursor: usize,
        /// The length of the text in chars; the cursor may be at most this.
        len: usize,
    },
    /// An edit's range, counted in chars, is reversed or reaches past the end of the document.
    #[error("edit range {start}..{end} does not fit the document ({len} characters)")]
    EditOutOfRange {
        /// First char the edit replaces.
        start: usize,
        /// One past the last char the edit replaces.
        end: usize,
        /// The length of the document in chars.
        len: usize,
    },
    /// The room index holds no document under this id.
    #[error("document {0:?} is not in the room index")]
    UnknownDocument(String),
}
