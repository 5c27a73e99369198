//! Several editors of different kinds, each running its own `pairprog-lsp`, typing into
//! one document of one room at the same time. When they stop, every buffer and the
//! relay must hold the same text (convergence), and with unique tokens typed, every
//! token must be there exactly once (no keystroke lost or doubled).
//!
//! Seeded: each run prints `seed = n`; `PAIRPROG_SEED=n cargo test -p pairprog-lsp
//! --test editors` replays it (the thread interleaving may differ, the typing does not).

mod common;

use common::rng::Rng;
use common::typing::{check_tokens, random_edit, random_offset, token_insert, Edit, Tokens};
use common::{
    assert_no_violations, assert_tokens, for_each_seed, pause, report_applies, shutdown_all,
    start_in_room, wait_quiescent, Behaviour, RoomSetup, TestRelay,
};

use Behaviour::{Eglot, Helix, Neovim, Unnamed, VimLsp, VsCode};

const PATH: &str = "src/lib.rs";
const START: &str = "fn main() {\r\n    let s = \"漢字🎉\";\n}\n";

/// The behaviour mix for a seed: seeds 1, 2, 3 give the three mixes, others cycle.
fn mix(seed: u64) -> [Behaviour; 3] {
    const MIXES: [[Behaviour; 3]; 3] = [
        [VsCode, Neovim, Helix],
        [Eglot, VsCode, Neovim],
        [Helix, Eglot, VsCode],
    ];
    MIXES[((seed + 2) % 3) as usize]
}

/// Mixes with the clients that give no version guarantee (issue 14, item 4): vim-lsp
/// applies every edit where it was aimed, stale or not, and reports it late as the whole
/// text; the unnamed client is stock Neovim that the proxy cannot recognise.
fn ignoring_mix(seed: u64) -> [Behaviour; 3] {
    const MIXES: [[Behaviour; 3]; 2] = [[VimLsp, Unnamed, Neovim], [Unnamed, VsCode, VimLsp]];
    MIXES[(seed % 2) as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_editors_typing_randomly_converge() {
    for_each_seed(&[1, 2, 3], |seed| {
        three_editors_typing_randomly(seed, mix(seed))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_ignore_versions_converge_typing_randomly() {
    for_each_seed(&[7, 8], |seed| {
        three_editors_typing_randomly(seed, ignoring_mix(seed))
    })
    .await;
}

async fn three_editors_typing_randomly(seed: u64, behaviours: [Behaviour; 3]) {
    eprintln!("seed {seed}: {behaviours:?}");
    let mut relay = TestRelay::start().await;
    let (room, editors) = start_in_room(
        &relay.api,
        &behaviours,
        seed,
        &[(PATH, START)],
        RoomSetup::Commands,
    )
    .await;
    let mut typists = Vec::new();
    for (i, editor) in editors.iter().enumerate() {
        let editor = editor.clone();
        let mut rng = Rng::new(seed * 1000 + i as u64);
        typists.push(tokio::spawn(async move {
            let actions = 100 + rng.below(101);
            for _ in 0..actions {
                // Now and then one action makes several changes (multi-cursor).
                let count = if rng.chance(15) { 2 + rng.below(2) } else { 1 };
                editor.type_changes(PATH, count, |rope| random_edit(&mut rng, rope));
                pause(&mut rng).await;
            }
        }));
    }
    for typist in typists {
        typist.await.expect("typing finished");
    }
    let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
    report_applies(seed, &editors);
    eprintln!("seed {seed}: converged on {} chars", text.chars().count());
    assert_no_violations(seed, &editors);
    shutdown_all(&editors).await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_typed_token_survives_exactly_once() {
    // All four recognised clients at once: every echo model meets every other.
    for_each_seed(&[4, 5], |seed| {
        editors_typing_tokens(seed, vec![Neovim, Helix, Eglot, VsCode])
    })
    .await;
}

/// Issue 14, item 4: a stale edit applied in the wrong place was taken for typing and
/// doubled a collaborator's text (`END_N1N1`). The client nobody recognises, beside
/// stock Neovim and Helix. NOT PASSING: with seed 9 the texts converge, but one token
/// ends up split by another. The client applied an unversioned edit at its wire
/// position on typing it had not reported yet, inside the token `<a3漢字>`; the bridge
/// finds it there and moves it where it was meant
/// (`bridge::tests::an_unversioned_edit_applied_inside_unreported_typing_is_moved_where_meant`),
/// but the model had meanwhile typed `<a12🎉>` right after the misplaced text, and that
/// typing stays where it was typed relative to the user's own text: between `漢` and
/// `字`. A real user would see the collaborator's text appear inside their word for one
/// debounce (150 ms) and could type there the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "known failure: typing next to a misplaced unversioned edit splits a token (seed 9)"]
async fn regression_clients_that_ignore_versions_doubled_typed_tokens() {
    for_each_seed(&[9], |seed| {
        editors_typing_tokens(seed, vec![Unnamed, Neovim, Helix])
    })
    .await;
}

/// The same with Vim + vim-lsp typing tokens. NOT PASSING reliably: the texts converge,
/// and no token is doubled any more, but a token can come out split. vim-lsp applies
/// every edit at once and reports it only inside its next whole-text change, mixed with
/// typing: the echo is found where the edit's text lies in that change
/// (`bridge::merged`), and the first change after its `applied` answer holds it for
/// certain. Seeds 4, 5, 8, 9 and 11 fail, and the others now and then (3 of 9 runs of
/// the list 1, 2, 3, 7, 12 failed, seed 1 at least twice): with 5 and 8 one of stock Neovim's first tokens comes out split
/// in front of its last chars (`<b1` `🎉>`, as in the test above); with the others a
/// token typed in two keystrokes on both sides of the place a client put an edit at
/// (`<a16`, the collaborator's words, `>`) is left split when the edit is moved back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "known failure: a token typed beside vim-lsp's misplaced edit can come out split, see the comment"]
async fn vim_lsp_typed_tokens_survive_exactly_once() {
    for_each_seed(&[1, 2, 3, 7, 12], |seed| {
        editors_typing_tokens(seed, vec![VimLsp, Unnamed, Helix])
    })
    .await;
}

async fn editors_typing_tokens(seed: u64, behaviours: Vec<Behaviour>) {
    eprintln!("seed {seed}: {behaviours:?}");
    let mut relay = TestRelay::start().await;
    let (room, editors) = start_in_room(
        &relay.api,
        &behaviours,
        seed,
        &[(PATH, "<init>")],
        RoomSetup::InitOptions,
    )
    .await;
    let mut typists = Vec::new();
    for (i, editor) in editors.iter().enumerate() {
        let editor = editor.clone();
        let mut rng = Rng::new(seed * 1000 + i as u64);
        let prefix = ["a", "b", "c", "d"][i];
        typists.push(tokio::spawn(async move {
            let mut tokens = Tokens::new(prefix);
            for _ in 0..60 {
                let count = if rng.chance(15) { 2 } else { 1 };
                editor.type_changes(PATH, count, |rope| {
                    Some(token_insert(&mut rng, &mut tokens, rope))
                });
                pause(&mut rng).await;
            }
            tokens.made
        }));
    }
    let mut expected = vec!["<init>".to_owned()];
    for typist in typists {
        expected.extend(typist.await.expect("typing finished"));
    }
    let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
    assert_tokens(seed, &relay.api, &room, PATH, &text, &expected, &editors).await;
    report_applies(seed, &editors);
    assert_no_violations(seed, &editors);
    shutdown_all(&editors).await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_changes_in_a_burst_arrive_in_order() {
    for_each_seed(&[6], burst_of_changes).await;
}

async fn burst_of_changes(seed: u64) {
    const CHANGES: usize = 10_000;
    const CHARS: &[&str] = &["a", "b", "é", "漢", "🎉", "\n", " "];
    let mut relay = TestRelay::start().await;
    // The typist and a passive observer who receives all of it as applyEdits.
    let (room, editors) = start_in_room(
        &relay.api,
        &[VsCode, VsCode],
        seed,
        &[(PATH, "burst:\n")],
        RoomSetup::InitOptions,
    )
    .await;
    let typist = &editors[0];
    let mut rng = Rng::new(seed);
    // No awaiting between changes: every didChange is queued to the server's stdin
    // at once, as a fast macro or a paste of many single edits would.
    for _ in 0..CHANGES {
        typist.type_changes(PATH, 1, |rope| {
            let at = random_offset(&mut rng, rope);
            Some(Edit {
                start: at,
                end: at,
                text: (*rng.pick(CHARS)).to_owned(),
            })
        });
    }
    let typed = typist.text(PATH);
    assert_eq!(typed.chars().count(), "burst:\n".chars().count() + CHANGES);
    let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
    // Nobody else typed, so the typist's own buffer is the truth.
    assert_eq!(
        text, typed,
        "seed = {seed}: the relay's text differs from the typist's"
    );
    eprintln!("seed {seed}: observer applyEdit {:?}", editors[1].stats());
    assert_no_violations(seed, &editors);
    shutdown_all(&editors).await;
    relay.stop().await;
}

/// Issue 14, item 1: when a collaborator appended a line at the end of the file
/// (`GoEND<Esc>`), a plugin-less Neovim got an edit at (line count, 0), appended it with
/// a line break of its own, and one operation then repeated about 7 times a second in
/// every editor. Collaborators append lines while the Neovim user types at the top;
/// every line must be there exactly once, and the room must come to rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_plugin_less_neovim_repeats_an_op_forever() {
    for_each_seed(&[10], appends_at_the_end).await;
}

async fn appends_at_the_end(seed: u64) {
    let behaviours = [VsCode, Neovim, Unnamed];
    let mut relay = TestRelay::start().await;
    let (room, editors) = start_in_room(
        &relay.api,
        &behaviours,
        seed,
        &[(PATH, "first line\n")],
        RoomSetup::Commands,
    )
    .await;
    let mut rng = Rng::new(seed);
    let mut expected = Vec::new();
    for round in 0..6 {
        let appender = &editors[[0, 2][round % 2]];
        let line = format!("END{round}\n");
        appender.type_changes(PATH, 1, |rope| {
            let end = rope.len_chars();
            Some(Edit {
                start: end,
                end,
                text: line.clone(),
            })
        });
        expected.push(line);
        let word = format!("<n{round}>");
        editors[1].type_changes(PATH, 1, |_| {
            Some(Edit {
                start: 0,
                end: 0,
                text: word.clone(),
            })
        });
        expected.push(word);
        pause(&mut rng).await;
    }
    let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
    for piece in &expected {
        assert_eq!(
            text.matches(piece.as_str()).count(),
            1,
            "seed = {seed}: {piece:?} must be there exactly once in {text:?}"
        );
    }
    // At rest: the revision no longer rises.
    let (_, revision) = relay.api.document(&room, PATH).await.expect("the document");
    let again = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
    let (_, later) = relay.api.document(&room, PATH).await.expect("the document");
    assert_eq!(
        (again, later),
        (text, revision),
        "seed = {seed}: the room came to rest"
    );
    assert_no_violations(seed, &editors);
    shutdown_all(&editors).await;
    relay.stop().await;
}

/// The token check itself: a broken token is reported without hiding the tokens after
/// it, and doubled and lost tokens are told apart.
#[test]
fn the_token_check_counts_past_a_broken_token() {
    let expected: Vec<String> = ["<a1>", "<b2\r\n>", "<c3🎉>", "<d4>"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(check_tokens("<b2\r\n><a1><d4><c3🎉>", &expected).is_ok());
    let problems = check_tokens("<a1>4><b2\r\n><c3🎉><a1>", &expected).unwrap_err();
    assert_eq!(
        problems.malformed.as_deref(),
        Some("text outside any whole token: [\"4>\"]")
    );
    assert_eq!(problems.lost, vec!["<d4>".to_owned()]);
    assert_eq!(problems.doubled, vec![("<a1>".to_owned(), 2)]);
    let problems = check_tokens("<a1><b2\r\n<c3🎉><d4>", &expected).unwrap_err();
    assert!(problems.malformed.is_some());
    assert_eq!(problems.lost, vec!["<b2\r\n>".to_owned()]);
}
