//! The server's features beyond text sync, through scripted clients: completion with
//! and without snippet support, remote cursors as `$/pairprog/presence` in each
//! client's own position encoding, and inlay hints naming the remote participant.

mod common;

use std::time::Duration;

use common::editor::{Behaviour, EditorOptions, ScriptedEditor};
use common::typing::Edit;
use common::{
    assert_no_violations, seeds, shutdown_all, start_in_room, wait_quiescent, RoomSetup, TestRelay,
};
use pairprog_protocol::position::{offset_to_position, Position};
use serde_json::{json, Value};

/// The items of a completion answer, whether a list or a `CompletionList`.
fn completion_items(result: &Value) -> Vec<Value> {
    match result {
        Value::Array(items) => items.clone(),
        Value::Object(list) => list
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The text an item would insert.
fn inserted_text(item: &Value) -> String {
    item["textEdit"]["newText"]
        .as_str()
        .or_else(|| item["insertText"].as_str())
        .or_else(|| item["label"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// True when `text` holds snippet syntax: a tab stop `$1` or a placeholder `${...}`.
fn has_snippet_syntax(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars
        .windows(2)
        .any(|w| w[0] == '$' && (w[1] == '{' || w[1].is_ascii_digit()))
}

/// Asks for completions at the end of `path` and returns the items from pairprog.
async fn pairprog_completions(editor: &ScriptedEditor, path: &str) -> Vec<Value> {
    let rope = editor.rope(path);
    let end = offset_to_position(&rope, rope.len_chars(), editor.encoding());
    let result = editor
        .request(
            "textDocument/completion",
            json!({
                "textDocument": {"uri": editor.uri(path)},
                "position": end,
                "context": {"triggerKind": 1},
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("completion failed: {e}"));
    let items = completion_items(&result);
    let ours: Vec<Value> = items
        .into_iter()
        .filter(|i| {
            i["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("pairprog"))
        })
        .collect();
    assert!(
        !ours.is_empty(),
        "{}: no pairprog completion for {:?}; answer: {result}",
        editor.name(),
        rope.to_string()
    );
    ours
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_offers_snippets_only_to_clients_that_support_them() {
    for seed in seeds(&[41]) {
        eprintln!("seed = {seed}");
        let mut relay = TestRelay::start().await;
        let ws = relay.api.ws_base();
        let files = [("def.py", "def"), ("for.py", "for ")];
        let mut editors = Vec::new();
        // VS Code with snippets; Eglot without yasnippet has no snippet support.
        for (i, (behaviour, snippets)) in [(Behaviour::VsCode, true), (Behaviour::Eglot, false)]
            .into_iter()
            .enumerate()
        {
            let room = relay.api.create_room().await;
            let mut options =
                EditorOptions::new(behaviour, ["ada", "grace"][i], &ws, seed * 100 + i as u64)
                    .snippets(snippets)
                    .room(&room);
            for (path, text) in files {
                options = options.file(path, text);
            }
            let editor = ScriptedEditor::start(options).await;
            editor.wait_in_room(&room).await;
            editors.push((editor, snippets));
        }
        for (editor, snippets) in &editors {
            for (path, _) in files {
                let items = pairprog_completions(editor, path).await;
                if *snippets {
                    assert!(
                        items.iter().any(|i| i["insertTextFormat"] == json!(2)),
                        "{path}: a snippet-capable client gets snippet items: {items:?}"
                    );
                } else {
                    for item in &items {
                        assert_eq!(
                            item["insertTextFormat"],
                            json!(1),
                            "{path}: a client without snippet support gets plain text items: {item}"
                        );
                        assert!(
                            !has_snippet_syntax(&inserted_text(item)),
                            "{path}: a plain item holds snippet syntax: {item}"
                        );
                    }
                }
            }
        }
        let editors: Vec<ScriptedEditor> = editors.into_iter().map(|(e, _)| e).collect();
        assert_no_violations(seed, &editors);
        shutdown_all(&editors).await;
        relay.stop().await;
    }
}

/// The label of an inlay hint, whether a string or label parts.
fn hint_label(hint: &Value) -> String {
    match &hint["label"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["value"].as_str()).collect(),
        _ => String::new(),
    }
}

fn position_json(p: Position) -> Value {
    json!({"line": p.line, "character": p.character})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_cursors_reach_every_client_in_its_own_encoding() {
    // Each line mixes units: 漢 is 1 UTF-16 unit and 3 UTF-8 bytes, 🎉 is 2 and 4.
    const PATH: &str = "notes.md";
    const TEXT: &str = "漢字🎉 start\r\nsecond 🎉 line 漢\nthird\n";
    for seed in seeds(&[42]) {
        eprintln!("seed = {seed}");
        let mut relay = TestRelay::start().await;
        let behaviours = [Behaviour::VsCode, Behaviour::Neovim, Behaviour::Eglot];
        let (_room, editors) = start_in_room(
            &relay.api,
            &behaviours,
            seed,
            &[(PATH, TEXT)],
            RoomSetup::InitOptions,
        )
        .await;
        let alice = &editors[0];
        let rope = alice.rope(PATH);
        // A selection from after 漢字 on line 0 to after the 🎉 on line 1, in chars.
        let anchor = 2;
        let head = rope.line_to_char(1) + "second 🎉".chars().count();
        let encoding = alice.encoding();
        alice.notify(
            "$/pairprog/cursor",
            json!({
                "uri": alice.uri(PATH),
                "selections": [{
                    "anchor": position_json(offset_to_position(&rope, anchor, encoding)),
                    "head": position_json(offset_to_position(&rope, head, encoding)),
                }],
            }),
        );
        for other in &editors[1..] {
            let encoding = other.encoding();
            let want_anchor = position_json(offset_to_position(&rope, anchor, encoding));
            let want_head = position_json(offset_to_position(&rope, head, encoding));
            let uri = other.uri(PATH);
            let presence = other
                .wait_notification("$/pairprog/presence", Duration::from_secs(20), |p| {
                    p["cursors"].as_array().is_some_and(|cursors| {
                        cursors.iter().any(|c| {
                            c["name"] == json!(alice.name())
                                && c["selections"][0]["head"] == want_head
                        })
                    })
                })
                .await;
            let cursor = presence["cursors"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["name"] == json!(alice.name())))
                .expect("found above");
            assert_eq!(cursor["path"], json!(PATH), "{}: {cursor}", other.name());
            assert_eq!(
                cursor["uri"],
                json!(uri),
                "{}: the uri is the receiver's own: {cursor}",
                other.name()
            );
            assert_eq!(
                cursor["selections"][0]["anchor"],
                want_anchor,
                "{}: {cursor}",
                other.name()
            );
            assert!(
                presence["participants"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == json!(alice.name()))),
                "{}: presence lists alice among the participants: {presence}",
                other.name()
            );

            let other_rope = other.rope(PATH);
            let end = offset_to_position(&other_rope, other_rope.len_chars(), encoding);
            let hints = other
                .request(
                    "textDocument/inlayHint",
                    json!({
                        "textDocument": {"uri": uri},
                        "range": {"start": {"line": 0, "character": 0}, "end": position_json(end)},
                    }),
                )
                .await
                .unwrap_or_else(|e| panic!("inlayHint failed: {e}"));
            let hints = hints.as_array().cloned().unwrap_or_default();
            let hint = hints
                .iter()
                .find(|h| hint_label(h).contains(alice.name()))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: no inlay hint naming {}: {hints:?}",
                        other.name(),
                        alice.name()
                    )
                });
            assert_eq!(hint_label(hint), format!("‸{}", alice.name()));
            assert_eq!(
                hint["position"],
                want_head,
                "{}: the hint sits at the cursor: {hint}",
                other.name()
            );
        }
        // Neovim advertised refresh support, so the cursor move asks it to refresh.
        let neovim = &editors[1];
        neovim
            .wait_server_request(
                "workspace/inlayHint/refresh",
                Duration::from_secs(20),
                |_| true,
            )
            .await;
        assert!(
            editors[2]
                .server_requests("workspace/inlayHint/refresh")
                .is_empty(),
            "Eglot did not advertise refresh support and must not be asked to refresh"
        );
        assert_no_violations(seed, &editors);
        shutdown_all(&editors).await;
        relay.stop().await;
    }
}

/// Seen in the three-editor test: a collaborator typing fast at the end of a line was
/// drawn one or two characters behind their caret in every other editor. Their cursor
/// went to the relay in their own text while their last keystrokes were still
/// unacknowledged; the relay read it against its shorter text and clamped it, and the
/// receivers never moved it past the author's following inserts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_cursor_behind_the_typist() {
    const PATH: &str = "line.txt";
    for seed in seeds(&[7]) {
        eprintln!("seed = {seed}");
        // Cursors pass the relay as they come, not the latest per 50 ms, so the ones sent
        // with keystrokes in flight reach the document before those keystrokes commit.
        let mut relay = TestRelay::start_with(|c| c.cursor_interval = Duration::ZERO).await;
        let behaviours = [Behaviour::VsCode, Behaviour::Neovim];
        let (room, editors) = start_in_room(
            &relay.api,
            &behaviours,
            seed,
            &[(PATH, "typing: ")],
            RoomSetup::InitOptions,
        )
        .await;
        let (alice, bob) = (&editors[0], &editors[1]);
        // Keystrokes with no wait between them, each followed by the plugin's cursor at
        // the end of the text, so most cursors go out with keystrokes in flight.
        for i in 0..40 {
            let key = char::from(b'a' + (i % 26) as u8).to_string();
            alice.type_changes(PATH, 1, |rope| {
                Some(Edit {
                    start: rope.len_chars(),
                    end: rope.len_chars(),
                    text: key.clone(),
                })
            });
            let rope = alice.rope(PATH);
            let end = position_json(offset_to_position(
                &rope,
                rope.len_chars(),
                alice.encoding(),
            ));
            alice.notify(
                "$/pairprog/cursor",
                json!({"uri": alice.uri(PATH), "selections": [{"anchor": end, "head": end}]}),
            );
        }
        let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
        let rope = ropey::Rope::from_str(&text);
        let end = position_json(offset_to_position(&rope, rope.len_chars(), bob.encoding()));
        let head_of_alice = |presence: &Value| {
            presence["cursors"].as_array().and_then(|cs| {
                cs.iter()
                    .find(|c| c["name"] == json!(alice.name()))
                    .map(|c| c["selections"][0]["head"].clone())
            })
        };
        let shown = bob
            .wait_until(Duration::from_secs(20), || {
                let last = bob.notifications("$/pairprog/presence").pop()?;
                (head_of_alice(&last)? == end).then_some(())
            })
            .await;
        assert!(
            shown.is_some(),
            "seed {seed}: bob shows alice's caret at {:?}, not at the end of the text {end} ({text:?})",
            bob.notifications("$/pairprog/presence").pop().as_ref().and_then(head_of_alice)
        );
        assert_no_violations(seed, &editors);
        shutdown_all(&editors).await;
        relay.stop().await;
    }
}
