//! The suggestion type the engine hands to the REST endpoint and the language server.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// How many suggestions one request returns at most. Editors show a short list anyway,
/// and a bound keeps the response small for the REST endpoint.
pub const MAX_SUGGESTIONS: usize = 20;

/// Where a suggestion comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuggestionKind {
    /// A keyword template or idiom (`def`, `for (int i = 0; …)`, `console.log`).
    Template,
    /// Closes the construct being typed (brackets, `:` or a `{ … }` block).
    Closing,
    /// A name defined somewhere in the room.
    Identifier,
}

/// One ranked suggestion.
///
/// `text` and `snippet` are *continuations*: they go in at the cursor and never repeat
/// what was already typed, which is what the old REST contract's `suggestion` meant. An
/// editor that prefers to replace the word being typed can replace the `typed_chars`
/// chars before the cursor with those chars followed by `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// A short name for menus, e.g. `def`, `console.log`, `compute_total`.
    pub label: String,
    /// The plain text to insert at the cursor.
    pub text: String,
    /// The same insertion in LSP snippet syntax with tab stops (`$1`, `${1:name}`, `$0`),
    /// when the suggestion has stops worth jumping between.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    /// How sure the engine is, in `0.0..=1.0`.
    pub confidence: f64,
    /// One short sentence saying what the suggestion is.
    pub description: String,
    /// Where the suggestion comes from.
    pub kind: SuggestionKind,
    /// How many chars right before the cursor this suggestion continues.
    pub typed_chars: usize,
}

/// Clamps confidences into range, orders suggestions best first and drops duplicates.
///
/// Ties are broken by kind, then label, then text, so equal inputs always give the same
/// order. A suggestion whose text another better one already inserts is dropped, because
/// an editor would show two entries doing the same thing.
pub(crate) fn finish(mut suggestions: Vec<Suggestion>) -> Vec<Suggestion> {
    for suggestion in &mut suggestions {
        suggestion.confidence = round(suggestion.confidence);
    }
    suggestions.retain(|s| !s.text.is_empty());
    suggestions.sort_by(compare);
    let mut seen: Vec<&str> = Vec::new();
    let mut keep = vec![false; suggestions.len()];
    for (index, suggestion) in suggestions.iter().enumerate() {
        if !seen.contains(&suggestion.text.as_str()) {
            seen.push(&suggestion.text);
            keep[index] = true;
        }
    }
    let mut flags = keep.into_iter();
    suggestions.retain(|_| flags.next().unwrap_or(false));
    suggestions.truncate(MAX_SUGGESTIONS);
    suggestions
}

/// Keeps four decimals, which is plenty for ranking and keeps JSON readable; NaN (which
/// no rule should produce) becomes 0 so the range promise still holds.
fn round(confidence: f64) -> f64 {
    if confidence.is_nan() {
        return 0.0;
    }
    (confidence.clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0
}

fn compare(a: &Suggestion, b: &Suggestion) -> Ordering {
    b.confidence
        .total_cmp(&a.confidence)
        .then(a.kind.cmp(&b.kind))
        .then_with(|| a.label.cmp(&b.label))
        .then_with(|| a.text.cmp(&b.text))
}
