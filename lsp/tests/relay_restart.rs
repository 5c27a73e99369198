//! The relay dies (SIGKILL) while two editors type, and comes back on the same port and
//! database. The servers must reconnect, resend what the relay had not acknowledged,
//! send what was typed while it was down, and converge: every token typed is in the
//! relay's text exactly once, nothing lost, nothing doubled.

mod common;

use common::rng::Rng;
use common::typing::{token_insert, Tokens};
use common::{
    assert_no_violations, assert_tokens, for_each_seed, pause, report_applies, shutdown_all,
    start_in_room, wait_quiescent, Behaviour, ChildRelay, RoomSetup,
};
use tokio::sync::watch;

const PATH: &str = "notes.md";
/// Actions each editor makes in a run.
const ACTIONS: usize = 150;

/// Not a test of its own: the body of the relay child process (see `common::relay`).
/// Returns at once in a normal run.
#[test]
fn relay_child() {
    common::relay::child_entry();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editors_converge_across_a_relay_crash() {
    for_each_seed(&[21, 22], crash_and_restart_while_typing).await;
}

async fn crash_and_restart_while_typing(seed: u64) {
    let behaviours = if seed % 2 == 1 {
        [Behaviour::Neovim, Behaviour::VsCode]
    } else {
        [Behaviour::Helix, Behaviour::Eglot]
    };
    let mut relay = ChildRelay::start("relay_child").await;
    let (room, editors) = start_in_room(
        &relay.api,
        &behaviours,
        seed,
        &[(PATH, "<init>")],
        RoomSetup::InitOptions,
    )
    .await;
    // Counts actions across both editors, so the kill and the restart happen at
    // known points of the typing rather than after fixed delays.
    let (progress, mut watch_progress) = watch::channel(0usize);
    let mut typists = Vec::new();
    for (i, editor) in editors.iter().enumerate() {
        let editor = editor.clone();
        let progress = progress.clone();
        let mut rng = Rng::new(seed * 1000 + i as u64);
        let prefix = ["a", "b"][i];
        typists.push(tokio::spawn(async move {
            let mut tokens = Tokens::new(prefix);
            for _ in 0..ACTIONS {
                let count = if rng.chance(15) { 2 } else { 1 };
                editor.type_changes(PATH, count, |rope| {
                    Some(token_insert(&mut rng, &mut tokens, rope))
                });
                progress.send_modify(|n| *n += 1);
                pause(&mut rng).await;
            }
            tokens.made
        }));
    }
    watch_progress
        .wait_for(|n| *n >= ACTIONS / 2)
        .await
        .expect("typing goes on");
    relay.kill().await;
    eprintln!(
        "seed {seed}: relay killed after {} actions",
        *watch_progress.borrow()
    );
    // Keep typing while the relay is down.
    watch_progress
        .wait_for(|n| *n >= ACTIONS)
        .await
        .expect("typing goes on");
    relay.restart().await;
    eprintln!(
        "seed {seed}: relay restarted after {} actions",
        *watch_progress.borrow()
    );
    let mut expected = vec!["<init>".to_owned()];
    for typist in typists {
        expected.extend(typist.await.expect("typing finished"));
    }
    let text = wait_quiescent(seed, &relay.api, &room, PATH, &editors).await;
    assert_tokens(seed, &relay.api, &room, PATH, &text, &expected, &editors).await;
    report_applies(seed, &editors);
    assert_no_violations(seed, &editors);
    shutdown_all(&editors).await;
    relay.kill().await;
}
