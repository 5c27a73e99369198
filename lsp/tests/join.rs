//! Joining a room whose copy of a file differs from the joiner's: the room's text wins
//! in the joiner's buffer, and the joiner's own text is not lost: it is saved to a file
//! the server names in a `window/showMessageRequest` or `window/showMessage`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::editor::{Behaviour, EditorOptions, ScriptedEditor};
use common::typing::Edit;
use common::{assert_no_violations, seeds, shutdown_all, wait_quiescent, TestRelay};
use serde_json::Value;

const PATH: &str = "src/app.py";
const ROOM_TEXT: &str = "room version\n";

/// Every path-like word of a message, as given and relative to the workspace root.
fn candidate_paths(message: &str, root: &Path) -> Vec<PathBuf> {
    message
        .split(|c: char| c.is_whitespace() || "\"'`()[]<>".contains(c))
        .map(|w| w.trim_end_matches(['.', ',', ':', ';', '!', '?']))
        .map(|w| w.strip_prefix("file://").unwrap_or(w))
        .filter(|w| w.contains('/') || w.contains('.'))
        .flat_map(|w| [PathBuf::from(w), root.join(w)])
        .collect()
}

/// The saved copy the server told the editor about, if any: a file named in a message
/// (or in the `showDocument` the first action triggered) holding `original`.
fn saved_copy(editor: &ScriptedEditor, original: &str) -> Option<PathBuf> {
    let mut texts: Vec<String> = Vec::new();
    for params in editor.server_requests("window/showMessageRequest") {
        texts.push(params["message"].as_str().unwrap_or_default().to_owned());
    }
    for params in editor.notifications("window/showMessage") {
        texts.push(params["message"].as_str().unwrap_or_default().to_owned());
    }
    for params in editor.server_requests("window/showDocument") {
        texts.push(params["uri"].as_str().unwrap_or_default().to_owned());
    }
    // The document's own file still holds the original text on disk (the editor never
    // saved the replaced buffer), so naming it proves nothing: the copy is elsewhere.
    let own = editor.root().join(PATH).canonicalize().ok();
    texts
        .iter()
        .flat_map(|t| candidate_paths(t, editor.root()))
        .filter(|p| p.canonicalize().ok() != own)
        .find(|p| p.is_file() && std::fs::read_to_string(p).is_ok_and(|s| s == original))
}

async fn join_with_differing_text(joiner: Behaviour) {
    for seed in seeds(&[31]) {
        eprintln!("seed = {seed} ({joiner:?} joins)");
        let mut relay = TestRelay::start().await;
        let ws = relay.api.ws_base();
        let owner = ScriptedEditor::start(
            EditorOptions::new(Behaviour::VsCode, "ada", &ws, seed * 100).file(PATH, ROOM_TEXT),
        )
        .await;
        let room = owner.create_room().await;
        owner.wait_in_room(&room).await;

        let original = format!("my local version from {joiner:?}\nwith two lines\r\n");
        let joining = ScriptedEditor::start(
            EditorOptions::new(joiner, "grace", &ws, seed * 100 + 1).file(PATH, &original),
        )
        .await;
        joining.join_room(&room).await;
        let editors = [owner.clone(), joining.clone()];
        let text = if joiner.open_version() == 0 {
            // The server holds edits for a document still at version 0 until its first
            // change, so the joiner types one character, as a user eventually does.
            joining.type_changes(PATH, 1, |_| {
                Some(Edit {
                    start: 0,
                    end: 0,
                    text: "X".into(),
                })
            });
            let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
            assert!(
                text.contains(ROOM_TEXT.trim_end()) && !text.contains("my local version"),
                "seed = {seed}: the room's text must win, got {text:?}"
            );
            text
        } else {
            let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
            assert_eq!(text, ROOM_TEXT, "seed = {seed}: the room's text must win");
            text
        };
        assert_eq!(joining.text(PATH), text);

        // The notice may come a little after the buffer changed: wait for it.
        let copy = joining
            .wait_until(Duration::from_secs(20), || saved_copy(&joining, &original))
            .await;
        match copy {
            Some(path) => eprintln!("{joiner:?}: the local text was saved to {}", path.display()),
            None => {
                let mut seen: Vec<Value> = joining.server_requests("window/showMessageRequest");
                seen.extend(joining.notifications("window/showMessage"));
                seen.extend(joining.server_requests("window/showDocument"));
                panic!(
                    "seed = {seed}: {joiner:?} was never told where its own text was saved; messages: {seen:?}\n{}",
                    joining.diagnostics()
                );
            }
        }
        assert_no_violations(seed, &editors);
        shutdown_all(&editors).await;
        relay.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vscode_joins_a_room_with_different_text() {
    join_with_differing_text(Behaviour::VsCode).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neovim_joins_a_room_with_different_text() {
    join_with_differing_text(Behaviour::Neovim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helix_joins_a_room_with_different_text() {
    join_with_differing_text(Behaviour::Helix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eglot_joins_a_room_with_different_text() {
    join_with_differing_text(Behaviour::Eglot).await;
}
