//! The public entry points: errors, ordering, serialization, languages.

mod common;

use common::{first, suggestions};
use pairprog_autocomplete::{suggest, try_suggest, AutocompleteError, Language, SuggestionKind};

#[test]
fn a_cursor_past_the_end_is_an_error_counted_in_chars() {
    // Four chars, eleven bytes: the length in the error is in chars.
    let code = "é漢🦀x";
    assert_eq!(
        try_suggest(code, 5, "python"),
        Err(AutocompleteError::CursorOutOfRange { cursor: 5, len: 4 })
    );
    assert!(try_suggest(code, 4, "python").is_ok());
    assert!(try_suggest("", 0, "python").is_ok());
    assert_eq!(
        try_suggest("", 1, "python"),
        Err(AutocompleteError::CursorOutOfRange { cursor: 1, len: 0 })
    );
    let message = try_suggest("ab", 9, "python").unwrap_err().to_string();
    assert_eq!(
        message,
        "cursor position 9 is beyond the end of the code (2 characters)"
    );
}

#[test]
fn the_forgiving_entry_point_clamps_the_cursor() {
    assert_eq!(suggest("def ", 99, "python"), suggest("def ", 4, "python"));
    assert_eq!(suggest("def ", 99, "python")[0].text, "name():\n    pass");
}

#[test]
fn the_cursor_counts_chars_not_bytes() {
    // Multi-byte chars before the cursor must not shift it.
    let code = "s = \"héllo 🦀\"\ndef ";
    let top = try_suggest(code, code.chars().count(), "python").unwrap();
    assert_eq!(top[0].label, "def");
}

#[test]
fn unknown_languages_get_identifiers_only() {
    let all = suggestions("cobol", "def total_amount = 1\ntot<|>");
    assert!(!all.is_empty());
    assert!(all.iter().all(|s| s.kind == SuggestionKind::Identifier));
    assert!(suggestions("cobol", "def <|>").is_empty());
}

#[test]
fn suggestions_are_sorted_unique_and_bounded() {
    let code = "def alpha_one():\n    pass\ndef alpha_two():\n    pass\nalpha_one()\nal<|>";
    let all = suggestions("python", code);
    assert!(all.windows(2).all(|w| w[0].confidence >= w[1].confidence));
    let mut texts: Vec<_> = all.iter().map(|s| &s.text).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), all.len());
    assert!(all.len() <= pairprog_autocomplete::MAX_SUGGESTIONS);
    assert_eq!(suggestions("python", code), all, "same input, same order");
}

#[test]
fn suggestions_serialize_for_the_rest_layer() {
    let top = first("python", "def <|>").expect("def");
    let json = serde_json::to_value(&top).unwrap();
    assert_eq!(json["label"], "def");
    assert_eq!(json["text"], "name():\n    pass");
    assert_eq!(json["snippet"], "${1:name}(${2}):\n    ${0:pass}");
    assert_eq!(json["confidence"], 0.9);
    assert_eq!(json["description"], "Function definition");
    assert_eq!(json["kind"], "template");
    assert_eq!(json["typedChars"], 4);
    let closing = first("javascript", "console.log(1<|>").expect("closing");
    let json = serde_json::to_value(&closing).unwrap();
    assert!(json.get("snippet").is_none(), "{json}");
}

#[test]
fn language_ids_map_with_aliases_and_fall_back_to_other() {
    let cases = [
        ("python", Language::Python),
        ("PY", Language::Python),
        ("javascriptreact", Language::JavaScript),
        ("typescriptreact", Language::TypeScript),
        ("rust", Language::Rust),
        ("go", Language::Go),
        ("java", Language::Java),
        ("c", Language::C),
        ("cpp", Language::Cpp),
        ("c++", Language::Cpp),
        ("brainfuck", Language::Other),
        ("", Language::Other),
    ];
    for (id, language) in cases {
        assert_eq!(Language::from_id(id), language, "{id:?}");
    }
}
