//! Joining a room whose copy of a file differs from the joiner's: the room's text wins
//! in the joiner's buffer, and the joiner's own text is not lost: it is saved to a file
//! the server names in a `window/showMessageRequest` or `window/showMessage`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::editor::{Behaviour, EditorOptions, ScriptedEditor};
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

/// A relay and a room that Ada (a VS Code) created sharing `PATH` with `ROOM_TEXT`, once
/// she is in it: what every join test starts from. Returns the relay, its WebSocket
/// base, Ada's editor and the room id.
async fn room_created_by_ada(seed: u64) -> (TestRelay, String, ScriptedEditor, String) {
    let relay = TestRelay::start().await;
    let ws = relay.api.ws_base();
    let owner = ScriptedEditor::start(
        EditorOptions::new(Behaviour::VsCode, "ada", &ws, seed * 100).file(PATH, ROOM_TEXT),
    )
    .await;
    let room = owner.create_room().await;
    owner.wait_in_room(&room).await;
    (relay, ws, owner, room)
}

async fn join_with_differing_text(joiner: Behaviour) {
    for seed in seeds(&[31]) {
        eprintln!("seed = {seed} ({joiner:?} joins)");
        let (mut relay, ws, owner, room) = room_created_by_ada(seed).await;

        let original = format!("my local version from {joiner:?}\nwith two lines\r\n");
        let joining = ScriptedEditor::start(
            EditorOptions::new(joiner, "grace", &ws, seed * 100 + 1).file(PATH, &original),
        )
        .await;
        joining.join_room(&room).await;
        let editors = [owner.clone(), joining.clone()];
        // Nobody types: the room's text must reach every client at once, a
        // plugin-less Neovim still at version 0 included (issue 14, item 3).
        let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
        assert_eq!(text, ROOM_TEXT, "seed = {seed}: the room's text must win");
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

/// Issue 14, item 3: a plugin-less Neovim kept its own text until its user typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_plugin_less_neovim_sees_nothing_after_joining() {
    join_with_differing_text(Behaviour::Neovim).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_ignore_versions_join_a_room_with_different_text() {
    join_with_differing_text(Behaviour::VimLsp).await;
    join_with_differing_text(Behaviour::Unnamed).await;
}

/// Issue 14, item 6: joining from an empty folder (the file did not exist, or a new
/// buffer reported as "" or "\n") wrote a recovered copy of nothing and asked about it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_joining_from_an_empty_folder_made_a_recovered_copy() {
    for seed in seeds(&[32]) {
        eprintln!("seed = {seed}");
        let (mut relay, ws, owner, room) = room_created_by_ada(seed).await;
        for (i, (behaviour, empty)) in [(Behaviour::Neovim, "\n"), (Behaviour::Helix, "")]
            .into_iter()
            .enumerate()
        {
            let joining = ScriptedEditor::start(
                EditorOptions::new(behaviour, "grace", &ws, seed * 100 + 1 + i as u64)
                    .file(PATH, empty),
            )
            .await;
            joining.join_room(&room).await;
            let editors = [owner.clone(), joining.clone()];
            let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
            assert_eq!(
                text, ROOM_TEXT,
                "seed = {seed}: the room's text simply wins"
            );
            let joined: Vec<String> = joining
                .notifications("window/showMessage")
                .iter()
                .filter_map(|m| m["message"].as_str().map(str::to_owned))
                .collect();
            assert!(
                joined
                    .iter()
                    .any(|m| m.contains("joined room") && m.contains(PATH)),
                "the join message names the room's files: {joined:?}"
            );
            assert!(
                !joined.iter().any(|m| m.contains("replaced")),
                "no recovered copy for an empty file: {joined:?}"
            );
            assert!(joining
                .server_requests("window/showMessageRequest")
                .is_empty());
            let status = joining.status().await;
            assert!(
                status["roomDocuments"]
                    .as_array()
                    .is_some_and(|d| d.contains(&serde_json::json!(PATH))),
                "status names the room's files: {status}"
            );
            assert_no_violations(seed, &editors);
            joining.shutdown().await;
        }
        owner.shutdown().await;
        relay.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helix_joins_a_room_with_different_text() {
    join_with_differing_text(Behaviour::Helix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eglot_joins_a_room_with_different_text() {
    join_with_differing_text(Behaviour::Eglot).await;
}

/// Issue 14, item 2: `:Pairprog leave`, `:Pairprog join ID` (the same room), type: the
/// relay refused every later edit (`FutureRevision`) while `pairprog.status` said
/// `synced`. Leave and rejoin twice, typing in between, then type: every word must reach
/// the room, and the status must be true.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_leave_and_rejoin_lost_every_later_edit() {
    for seed in seeds(&[33]) {
        eprintln!("seed = {seed}");
        let (mut relay, ws, owner, room) = room_created_by_ada(seed).await;
        let other = ScriptedEditor::start(
            EditorOptions::new(Behaviour::Neovim, "grace", &ws, seed * 100 + 1)
                .file(PATH, ROOM_TEXT),
        )
        .await;
        other.join_room(&room).await;
        let editors = [owner.clone(), other.clone()];
        let mut words = Vec::new();
        let mut type_word = |editor: &ScriptedEditor, word: String| {
            editor.type_changes(PATH, 1, |rope| {
                let end = rope.len_chars();
                Some(common::typing::Edit {
                    start: end,
                    end,
                    text: word.clone(),
                })
            });
            words.push(word);
        };
        for round in 0..2 {
            type_word(&owner, format!("<a{round}>"));
            type_word(&other, format!("<g{round}>"));
            wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
            other
                .execute("pairprog.leaveRoom", serde_json::json!([]))
                .await;
            type_word(&owner, format!("<away{round}>"));
            other.join_room(&room).await;
            other.wait_in_room(&room).await;
        }
        type_word(&other, "<back>".to_owned());
        type_word(&owner, "<last>".to_owned());
        let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
        for word in &words {
            assert_eq!(
                text.matches(word.as_str()).count(),
                1,
                "seed = {seed}: {word} must be there exactly once in {text:?}"
            );
        }
        let status = other.status().await;
        assert_eq!(status["pendingEdits"], serde_json::json!(0), "{status}");
        assert_no_violations(seed, &editors);
        shutdown_all(&editors).await;
        relay.stop().await;
    }
}
