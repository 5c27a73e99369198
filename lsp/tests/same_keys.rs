//! Two users press the same keys at the same place at once: both open a line at the top
//! and start a word with the same letters (the real-editor matrix's `same-keys`). The
//! first keystrokes of both are the same text at the same position, and neither may be
//! taken for the echo of the other: every keystroke must survive exactly once.
//!
//! Seeded like the other end-to-end tests (`PAIRPROG_SEED=n` replays the editors'
//! latencies); the keystrokes themselves are fixed.

mod common;

use std::time::Duration;

use common::typing::Edit;
use common::{
    assert_no_violations, for_each_seed, report_applies, shutdown_all, wait_quiescent, Behaviour,
    EditorOptions, ScriptedEditor, TestRelay,
};

const PATH: &str = "app.py";
const START: &str = "first\nsecond\n";

/// Seen in the real-editor matrix about one run in five: Bob (our plugin) and Carol
/// (plugin-less Neovim) both typed `O` at the top, then `SAME_`. Carol's `O` was still in
/// Neovim's debounce when Bob's line break reached her editor as an edit stamped with
/// the version before it; Neovim skipped that stale edit yet answered `applied: true`,
/// and the debounced change that then came held exactly the edit's text at exactly its
/// place. Her `O` was taken for the echo of Bob's: one line break was lost (and, with
/// `SAME_`, more of the word).
///
/// Fixed by sending stock Neovim only unversioned edits: it applies each one, so its
/// `applied: true` is true and an edit's text is in the editor exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_identical_keys_typed_at_once_were_taken_for_an_echo() {
    for_each_seed(&[11, 12, 13], same_keys).await;
}

fn insert_at_top(editor: &ScriptedEditor, text: &str) {
    editor.type_changes(PATH, 1, |_| {
        Some(Edit {
            start: 0,
            end: 0,
            text: text.to_owned(),
        })
    });
}

async fn same_keys(seed: u64) {
    let mut relay = TestRelay::start().await;
    let room = relay.api.create_room().await;
    let ws = relay.api.ws_base();
    let bob = ScriptedEditor::start(
        EditorOptions::new(Behaviour::VsCode, "bob", &ws, seed * 100)
            .file(PATH, START)
            .room(&room),
    )
    .await;
    // A debounce longer than the relay's round trip, so that Carol's keystroke is
    // certainly still unreported when Bob's reaches her editor, whatever the machine's
    // load (with Neovim's 150 ms this happened only sometimes).
    let carol = ScriptedEditor::start(
        EditorOptions::new(Behaviour::Neovim, "carol", &ws, seed * 100 + 1)
            .file(PATH, START)
            .room(&room)
            .neovim_debounce(Duration::from_secs(2)),
    )
    .await;
    let editors = [bob.clone(), carol.clone()];
    for editor in &editors {
        editor.wait_in_room(&room).await;
    }

    // Carol has typed before (her buffer is past version 0, so edits to her are not the
    // version-0 kind), and recently: her next keystroke waits out the rest of her
    // debounce instead of going at once.
    carol.type_changes(PATH, 1, |rope| {
        // At the end of the last line: Neovim keeps the final line break out of reach.
        let end = rope.len_chars() - 1;
        Some(Edit {
            start: end,
            end,
            text: "x".to_owned(),
        })
    });
    // Neovim sends what it holds before any request of its own: "x" goes now, at a
    // version above 0.
    carol.status().await;
    insert_at_top(&carol, "\n");
    insert_at_top(&bob, "\n");
    // Bob's line break reaches Carol's editor while hers is still in its debounce.
    carol
        .wait_server_request("workspace/applyEdit", Duration::from_secs(10), |p| {
            p.to_string().contains(r#""newText":"\n""#)
        })
        .await;
    insert_at_top(&carol, "SAME_C");
    insert_at_top(&bob, "SAME_B");

    let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
    report_applies(seed, &editors);
    let expected_len = START.chars().count() + "x".len() + 2 * "\nSAME_B".len();
    assert!(
        text.matches("SAME_B").count() == 1
            && text.matches("SAME_C").count() == 1
            && text.matches('\n').count() == START.matches('\n').count() + 2
            && text.chars().count() == expected_len,
        "seed = {seed}: every keystroke of both users exactly once, got {text:?}"
    );
    assert_no_violations(seed, &editors);
    shutdown_all(&editors).await;
    relay.stop().await;
}
