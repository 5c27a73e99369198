//! Identifier completion from the room: names defined in any document, ranked by
//! proximity and frequency, kept current as documents change.

use pairprog_autocomplete::{AutocompleteError, RoomIndex, Suggestion, SuggestionKind};

fn names(suggestions: &[Suggestion]) -> Vec<&str> {
    suggestions
        .iter()
        .filter(|s| s.kind == SuggestionKind::Identifier)
        .map(|s| s.label.as_str())
        .collect()
}

fn end_of(index: &RoomIndex, id: &str) -> usize {
    index.document_text(id).map_or(0, |t| t.chars().count())
}

#[test]
fn a_function_defined_in_another_document_is_offered() {
    let mut room = RoomIndex::new();
    room.set_document(
        "utils.py",
        "python",
        "def parse_header(line):\n    return line\n",
    );
    room.set_document("main.py", "python", "import utils\n\nresult = parse_h");
    let suggestions = room.suggest("main.py", end_of(&room, "main.py")).unwrap();
    let top = &suggestions[0];
    assert_eq!(top.label, "parse_header");
    assert_eq!(top.text, "eader");
    assert_eq!(top.typed_chars, "parse_h".len());
    assert_eq!(top.description, "function defined in utils.py");
}

#[test]
fn names_from_other_languages_in_the_room_are_offered_too() {
    let mut room = RoomIndex::new();
    room.set_document(
        "api.ts",
        "typescript",
        "export function fetchUser(id: string) {}\n",
    );
    room.set_document("notes.txt", "plaintext", "call fetch");
    let suggestions = room
        .suggest("notes.txt", end_of(&room, "notes.txt"))
        .unwrap();
    assert_eq!(names(&suggestions), ["fetchUser"]);
}

#[test]
fn a_collaborators_new_function_is_offered_as_soon_as_it_is_typed() {
    let mut room = RoomIndex::new();
    room.set_document("a.go", "go", "package main\n");
    room.set_document("b.go", "go", "package main\n\nfunc main() {\n\tloa\n}\n");
    let cursor = "package main\n\nfunc main() {\n\tloa".chars().count();
    assert!(names(&room.suggest("b.go", cursor).unwrap()).is_empty());
    // The collaborator types a new function in a.go, one keystroke at a time.
    let typed = "\nfunc loadConfig() {}\n";
    let start = end_of(&room, "a.go");
    for (at, c) in (start..).zip(typed.chars()) {
        room.apply_edit("a.go", at, at, &c.to_string()).unwrap();
    }
    let suggestions = room.suggest("b.go", cursor).unwrap();
    assert_eq!(names(&suggestions), ["loadConfig"]);
    assert_eq!(suggestions[0].description, "function defined in a.go");
    // Renaming it takes the old name away.
    let text = room.document_text("a.go").unwrap();
    let start = text.find("loadConfig").unwrap();
    room.apply_edit("a.go", start, start + "load".len(), "read")
        .unwrap();
    assert!(names(&room.suggest("b.go", cursor).unwrap()).is_empty());
}

#[test]
fn names_near_the_cursor_rank_first() {
    let mut room = RoomIndex::new();
    room.set_document("other.py", "python", "def render_page():\n    pass\n");
    let mut text = String::from("def render_row():\n    pass\n");
    text.push_str(&"x = 1\n".repeat(2000));
    text.push_str("def render_cell():\n    pass\n\nren");
    room.set_document("here.py", "python", &text);
    let suggestions = room.suggest("here.py", text.chars().count()).unwrap();
    // Near the cursor, then elsewhere in this document, then another document.
    assert_eq!(
        names(&suggestions),
        ["render_cell", "render_row", "render_page"]
    );
}

#[test]
fn frequent_names_rank_above_rare_ones_at_equal_distance() {
    let mut room = RoomIndex::new();
    room.set_document("lib.rs", "rust", "fn make_rare() {}\nfn make_common() {}\n");
    let uses = "make_common();\n".repeat(30);
    room.set_document("uses.rs", "rust", &uses);
    room.set_document("main.rs", "rust", "fn main() {\n    mak\n}\n");
    let cursor = "fn main() {\n    mak".chars().count();
    let suggestions = room.suggest("main.rs", cursor).unwrap();
    assert_eq!(names(&suggestions), ["make_common", "make_rare"]);
    assert!(suggestions[0].confidence > suggestions[1].confidence);
}

#[test]
fn only_names_with_the_typed_prefix_and_only_defined_names_are_offered() {
    let mut room = RoomIndex::new();
    room.set_document(
        "a.js",
        "javascript",
        "const userName = 1;\nfunction userId() {}\nunknownCall(userUndefined);\nuse",
    );
    let suggestions = room.suggest("a.js", end_of(&room, "a.js")).unwrap();
    let mut offered = names(&suggestions);
    offered.sort_unstable();
    assert_eq!(offered, ["userId", "userName"]);
}

#[test]
fn removing_a_document_removes_its_names() {
    let mut room = RoomIndex::new();
    room.set_document("a.c", "c", "int checksum(int x) { return x; }\n");
    room.set_document("b.c", "c", "che");
    assert_eq!(names(&room.suggest("b.c", 3).unwrap()), ["checksum"]);
    assert!(room.remove_document("a.c"));
    assert!(names(&room.suggest("b.c", 3).unwrap()).is_empty());
}

#[test]
fn suggest_for_text_uses_the_room_but_not_the_stale_copy_it_replaces() {
    let mut room = RoomIndex::new();
    room.set_document("a.py", "python", "def old_helper():\n    pass\n");
    room.set_document("b.py", "python", "def other_helper():\n    pass\n");
    // The REST caller sends a newer a.py in which old_helper is gone.
    let code = "def odd_helper():\n    pass\n\no";
    let cursor = code.chars().count();
    let fresh = room
        .suggest_for_text(code, cursor, "python", Some("a.py"))
        .unwrap();
    let mut offered = names(&fresh);
    offered.sort_unstable();
    assert_eq!(offered, ["odd_helper", "other_helper"]);
    let stale = room.suggest_for_text(code, cursor, "python", None).unwrap();
    assert!(names(&stale).contains(&"old_helper"));
}

#[test]
fn room_errors_are_typed() {
    let mut room = RoomIndex::new();
    room.set_document("a.py", "python", "héllo 🦀");
    assert_eq!(
        room.suggest("a.py", 8),
        Err(AutocompleteError::CursorOutOfRange { cursor: 8, len: 7 })
    );
    assert_eq!(
        room.suggest("missing.py", 0),
        Err(AutocompleteError::UnknownDocument("missing.py".into()))
    );
    assert!(room.suggest("a.py", 7).is_ok());
}

#[test]
fn the_index_and_the_stateless_entry_point_agree() {
    let code = "class Cart:\n    def add_item(self):\n        pass\n\n    de";
    let mut room = RoomIndex::new();
    room.set_document("cart.py", "python", code);
    let cursor = code.chars().count();
    assert_eq!(
        room.suggest("cart.py", cursor).unwrap(),
        pairprog_autocomplete::try_suggest(code, cursor, "python").unwrap()
    );
}

#[test]
fn a_document_given_as_a_rope_indexes_like_one_given_as_text() {
    let utils = "def parse_header(line):\n    return line\n";
    let main = "import utils\n\nresult = parse_h";
    let mut from_text = RoomIndex::new();
    from_text.set_document("utils.py", "python", utils);
    from_text.set_document("main.py", "python", main);
    let mut from_rope = RoomIndex::new();
    from_rope.set_document_rope("utils.py", "python", &ropey::Rope::from_str(utils));
    from_rope.set_document_rope("main.py", "python", &ropey::Rope::from_str(main));
    let cursor = end_of(&from_text, "main.py");
    assert_eq!(
        from_text.suggest("main.py", cursor).unwrap(),
        from_rope.suggest("main.py", cursor).unwrap()
    );
}
