//! pairprog's rule-based ("mock AI") completion engine, shared by the relay's
//! `POST /api/autocomplete` and the language server's `textDocument/completion`.
//!
//! Two ways in:
//!
//! * [`try_suggest`] (and the forgiving [`suggest`]) take one document's text, a cursor
//!   in chars and an LSP language id. They read the whole text once, which suits the
//!   REST endpoint.
//! * [`RoomIndex`] keeps every document of a room with its identifier counts, updated
//!   edit by edit, and answers [`RoomIndex::suggest`] from a bounded window around the
//!   cursor plus one prefix lookup, so the language server can ask on every keystroke.
//!
//! Suggestions come ranked best first ([`Suggestion`]); the first one is what the old
//! REST contract called `suggestion`.
//!
//! ```
//! let suggestions = pairprog_autocomplete::try_suggest("def ", 4, "python").unwrap();
//! assert_eq!(suggestions[0].text, "name():\n    pass");
//! ```

mod context;
mod engine;
mod error;
mod identifiers;
mod indent;
mod language;
mod lexer;
mod rank;
mod room;
mod rules;
mod snippet;
mod suggestion;
mod window;

pub use context::{AFTER_WINDOW_CHARS, CONTEXT_WINDOW_CHARS};
pub use error::AutocompleteError;
pub use language::Language;
pub use room::RoomIndex;
pub use suggestion::{Suggestion, SuggestionKind, MAX_SUGGESTIONS};

/// Ranked suggestions for `code` at `cursor` (in Unicode scalar values), or
/// [`AutocompleteError::CursorOutOfRange`] when the cursor lies past the end of the code.
///
/// `language` is an LSP language id; an unknown one gets identifier suggestions only.
/// Names come from `code` itself; to offer names from other documents, use
/// [`RoomIndex::suggest_for_text`].
pub fn try_suggest(
    code: &str,
    cursor: usize,
    language: &str,
) -> Result<Vec<Suggestion>, AutocompleteError> {
    RoomIndex::new().suggest_for_text(code, cursor, language, None)
}

/// Like [`try_suggest`], but a cursor past the end is taken as the end, for callers that
/// would rather get something than an error.
pub fn suggest(code: &str, cursor: usize, language: &str) -> Vec<Suggestion> {
    match try_suggest(code, cursor, language) {
        Ok(suggestions) => suggestions,
        Err(AutocompleteError::CursorOutOfRange { len, .. }) => {
            try_suggest(code, len, language).unwrap_or_default()
        }
        Err(_) => Vec::new(),
    }
}
