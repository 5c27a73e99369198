//! Property tests: any text, any cursor, never a panic; confidences stay in range and
//! results stay sorted.

use pairprog_autocomplete::{try_suggest, AutocompleteError, RoomIndex, Suggestion};
use proptest::prelude::*;

const LANGUAGES: &[&str] = &[
    "python",
    "javascript",
    "typescript",
    "rust",
    "go",
    "java",
    "c",
    "cpp",
    "unknown",
];

/// Text biased toward what stresses the engine: keywords, brackets, quotes, comment
/// markers, CRLF, tabs, multi-byte chars; plus fully random strings.
fn text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "def ",
        "for ",
        "if ",
        "class ",
        "fn ",
        "func ",
        "function ",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "'",
        "`",
        "\"\"\"",
        "#",
        "//",
        "/*",
        "*/",
        "\\",
        "\n",
        "\r\n",
        "\r",
        "\t",
        "    ",
        "x",
        "name_1",
        " = ",
        ":",
        ";",
        "é",
        "漢字",
        "🦀",
        "👨‍👩‍👧",
        "$",
        "${1:",
        "'a",
    ]);
    prop_oneof![
        prop::collection::vec(piece, 0..60).prop_map(|p| p.concat()),
        any::<String>(),
    ]
}

fn check(suggestions: &[Suggestion]) {
    for s in suggestions {
        assert!((0.0..=1.0).contains(&s.confidence), "{s:?}");
        assert!(!s.text.is_empty(), "{s:?}");
    }
    assert!(suggestions
        .windows(2)
        .all(|w| w[0].confidence >= w[1].confidence));
}

proptest! {
    #[test]
    fn any_text_and_cursor_never_panics(
        code in text(),
        cursor in 0usize..200,
        language in prop::sample::select(LANGUAGES.to_vec()),
    ) {
        let len = code.chars().count();
        match try_suggest(&code, cursor, language) {
            Ok(suggestions) => {
                prop_assert!(cursor <= len);
                check(&suggestions);
            }
            Err(error) => prop_assert_eq!(error, AutocompleteError::CursorOutOfRange { cursor, len }),
        }
    }

    #[test]
    fn the_room_index_never_panics_under_edits(
        code in text(),
        other in text(),
        language in prop::sample::select(LANGUAGES.to_vec()),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..5, text()), 0..6),
        cursor in any::<prop::sample::Index>(),
    ) {
        let mut room = RoomIndex::new();
        room.set_document("a", language, &code);
        room.set_document("b", "python", &other);
        for (at, removed, inserted) in edits {
            let len = room.document_text("a").map_or(0, |t| t.chars().count());
            let start = at.index(len + 1);
            room.apply_edit("a", start, (start + removed).min(len), &inserted).unwrap();
        }
        let text = room.document_text("a").unwrap_or_default();
        let len = text.chars().count();
        let suggestions = room.suggest("a", cursor.index(len + 1)).unwrap();
        check(&suggestions);
        prop_assert_eq!(
            room.suggest("a", len + 1),
            Err(AutocompleteError::CursorOutOfRange { cursor: len + 1, len })
        );
    }
}
