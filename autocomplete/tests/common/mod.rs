//! Helpers shared by the table-driven tests: inputs mark the cursor with `<|>`.

#![allow(dead_code)]

use pairprog_autocomplete::{try_suggest, Suggestion};

/// The marker that stands for the cursor in test inputs.
pub const CURSOR: &str = "<|>";

/// Splits an input into its text and its cursor in chars.
pub fn at(marked: &str) -> (String, usize) {
    let byte = marked
        .find(CURSOR)
        .unwrap_or_else(|| panic!("test input {marked:?} has no cursor marker"));
    (
        marked.replacen(CURSOR, "", 1),
        marked[..byte].chars().count(),
    )
}

/// All suggestions for a marked input.
pub fn suggestions(language: &str, marked: &str) -> Vec<Suggestion> {
    let (text, cursor) = at(marked);
    try_suggest(&text, cursor, language).expect("the cursor marker is inside the text")
}

/// The first suggestion for a marked input, if any.
pub fn first(language: &str, marked: &str) -> Option<Suggestion> {
    suggestions(language, marked).into_iter().next()
}

/// Checks a table of (input, expected first plain text) for one language.
pub fn check_table(language: &str, table: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (marked, expected) in table {
        let got = first(language, marked).map(|s| s.text);
        if got.as_deref() != Some(*expected) {
            failures.push(format!("{marked:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{language}:\n{}", failures.join("\n"));
}
