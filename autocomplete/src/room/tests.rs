//! The incremental index must always equal a fresh build of the same text.

use super::*;
use proptest::prelude::*;

/// Rebuilds every table from scratch and compares with the incrementally kept ones.
fn assert_consistent(index: &RoomIndex) {
    let mut room = IdentTable::default();
    for (id, document) in &index.documents {
        let fresh = IdentTable::build(&document.rope.to_string(), rules_for(document.language));
        assert_eq!(document.table, fresh, "table of {id} drifted");
        room.add_table(&fresh);
    }
    assert_eq!(index.room, room, "room table drifted");
}

/// Text made of the pieces that matter to line splitting and definitions.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "\n", "\r", "\r\n", " ", "def ", "fn ", "let ", "x", "name", "_n2", " = ", "(", ")", "\"",
        "#", "//", "é", "漢字", "🦀", ":", "=", "\t", "/*", "*/", "'",
    ])
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn edits_keep_tables_equal_to_a_fresh_build(
        initial in text(),
        language in prop::sample::select(vec!["python", "rust", "go", "c", "javascript", "other"]),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..6, text()), 1..12),
    ) {
        let mut index = RoomIndex::new();
        index.set_document("a", language, &initial);
        index.set_document("b", "python", "def shared():\n    pass\n");
        for (at, removed, inserted) in edits {
            let len = index.documents["a"].rope.len_chars();
            let start = at.index(len + 1);
            let end = (start + removed).min(len);
            index.apply_edit("a", start, end, &inserted).unwrap();
            assert_consistent(&index);
        }
    }
}

#[test]
fn replacing_and_removing_documents_keeps_the_room_table_exact() {
    let mut index = RoomIndex::new();
    index.set_document("a", "python", "def alpha():\n    pass\n");
    index.set_document("b", "python", "def beta():\n    alpha()\n");
    index.set_document("a", "python", "def gamma():\n    pass\n");
    assert_consistent(&index);
    assert!(index.remove_document("b"));
    assert!(!index.remove_document("b"));
    assert_consistent(&index);
    assert_eq!(index.room.get("alpha"), Default::default());
}

#[test]
fn bad_edits_are_errors_and_leave_the_document_alone() {
    let mut index = RoomIndex::new();
    index.set_document("a", "rust", "fn main() {}");
    assert_eq!(
        index.apply_edit("a", 5, 3, "x"),
        Err(AutocompleteError::EditOutOfRange {
            start: 5,
            end: 3,
            len: 12
        })
    );
    assert_eq!(
        index.apply_edit("a", 0, 13, "x"),
        Err(AutocompleteError::EditOutOfRange {
            start: 0,
            end: 13,
            len: 12
        })
    );
    assert_eq!(
        index.apply_edit("nope", 0, 0, "x"),
        Err(AutocompleteError::UnknownDocument("nope".into()))
    );
    assert_eq!(index.document_text("a").as_deref(), Some("fn main() {}"));
}
