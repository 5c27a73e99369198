//! The end-to-end harness for `pairprog-lsp`: relays (in process, or a killable child
//! process), scripted editors that drive the real server binary over stdio the way
//! VS Code, Neovim, Helix and Eglot do, random typing, and a quiescence wait.
#![allow(dead_code, unused_imports)] // Each test file uses a different subset.

/// Fresh PostgreSQL databases, shared with the relay's own tests.
#[path = "../../../relay/tests/common/db.rs"]
pub mod db;
/// The seeded generator the protocol and relay tests use, so a seed means one thing.
#[path = "../../../protocol/tests/common/rng.rs"]
pub mod rng;

pub mod editor;
pub mod jsonrpc;
pub mod quiesce;
pub mod relay;
pub mod typing;

pub use editor::{Behaviour, EditorOptions, ScriptedEditor};
pub use quiesce::{assert_no_violations, wait_quiescent};
pub use relay::{ChildRelay, RelayApi, TestRelay};

/// The seeds a test runs: `PAIRPROG_SEED=n` replays one, otherwise the defaults given.
pub fn seeds(defaults: &[u64]) -> Vec<u64> {
    match std::env::var("PAIRPROG_SEED") {
        Ok(s) => vec![s.parse().expect("PAIRPROG_SEED is a number")],
        Err(_) => defaults.to_vec(),
    }
}

/// Runs `run` once per seed of [`seeds`], each run in a task of its own so that a
/// failing seed does not hide the others; fails at the end naming every failed seed.
/// Each run prints `seed = n` first, so its output says how to replay it.
pub async fn for_each_seed<F, Fut>(defaults: &[u64], run: F)
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut failed = Vec::new();
    for seed in seeds(defaults) {
        eprintln!("seed = {seed}");
        if tokio::spawn(run(seed)).await.is_err() {
            failed.push(seed);
        }
    }
    assert!(
        failed.is_empty(),
        "failed seeds: {failed:?} (replay one with PAIRPROG_SEED=n)"
    );
}

/// Participant names, one per editor of a test.
pub const NAMES: [&str; 4] = ["ada", "grace", "linus", "barbara"];

/// How a room comes to be in [`start_in_room`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomSetup {
    /// The first editor runs `pairprog.createRoom`, the others `pairprog.joinRoom`.
    Commands,
    /// The room is made with `POST /api/rooms` and given in `initializationOptions`.
    InitOptions,
}

/// Starts one editor per behaviour, each with `files` in its own workspace, all in one
/// room; returns when every editor is connected with its documents in sync.
pub async fn start_in_room(
    api: &RelayApi,
    behaviours: &[Behaviour],
    seed: u64,
    files: &[(&str, &str)],
    setup: RoomSetup,
) -> (String, Vec<ScriptedEditor>) {
    let options = |i: usize, room: Option<&str>| {
        let mut o = EditorOptions::new(
            behaviours[i],
            NAMES[i],
            &api.ws_base(),
            seed * 100 + i as u64,
        );
        for (path, text) in files {
            o = o.file(path, text);
        }
        if let Some(room) = room {
            o = o.room(room);
        }
        o
    };
    let mut editors = Vec::new();
    let room = match setup {
        RoomSetup::Commands => {
            let first = ScriptedEditor::start(options(0, None)).await;
            let room = first.create_room().await;
            editors.push(first);
            for i in 1..behaviours.len() {
                let editor = ScriptedEditor::start(options(i, None)).await;
                editor.join_room(&room).await;
                editors.push(editor);
            }
            room
        }
        RoomSetup::InitOptions => {
            let room = api.create_room().await;
            for i in 0..behaviours.len() {
                editors.push(ScriptedEditor::start(options(i, Some(&room))).await);
            }
            room
        }
    };
    for editor in &editors {
        editor.wait_in_room(&room).await;
    }
    (room, editors)
}

/// A typist's pause between two actions: often none, usually a few milliseconds,
/// sometimes long enough for debounce timers and remote edits to land.
pub async fn pause(rng: &mut rng::Rng) {
    let ms = match rng.below(100) {
        0..=29 => 0,
        30..=84 => 1 + rng.below(25),
        85..=96 => 50 + rng.below(150),
        _ => 200 + rng.below(400),
    };
    if ms == 0 {
        tokio::task::yield_now().await;
    } else {
        // The pause is the behaviour being modelled: a person typing.
        tokio::time::sleep(std::time::Duration::from_millis(ms as u64)).await;
    }
}

/// Shuts every editor down, as closing the editors would.
/// Prints how each editor answered the server's `applyEdit`s, for reading a run's log.
pub fn report_applies(seed: u64, editors: &[ScriptedEditor]) {
    for editor in editors {
        eprintln!(
            "seed {seed}: {} ({:?}) applyEdit {:?}",
            editor.name(),
            editor.behaviour(),
            editor.stats()
        );
    }
}

pub async fn shutdown_all(editors: &[ScriptedEditor]) {
    for editor in editors {
        editor.shutdown().await;
    }
}

/// Checks that the converged `text` holds every typed token exactly once; on failure,
/// reports the tokens concerned with the relay's logged operations that inserted them,
/// and where each editor's full message trace is.
pub async fn assert_tokens(
    seed: u64,
    api: &RelayApi,
    room: &str,
    path: &str,
    text: &str,
    expected: &[String],
    editors: &[ScriptedEditor],
) {
    if let Err(problems) = typing::check_tokens(text, expected) {
        let log = api
            .operations_inserting(room, path, &problems.tokens())
            .await;
        // The whole log, one operation per line, for following what each editor sent.
        let history = api.history(room, path).await;
        let dump = std::env::temp_dir().join(format!("pairprog-lsp-history-{room}.jsonl"));
        let lines: Vec<String> = history.iter().map(|op| op.to_string()).collect();
        let _ = std::fs::write(&dump, lines.join("\n"));
        let folders: Vec<String> = editors
            .iter()
            .map(|e| {
                format!(
                    "  {} ({:?}): {}",
                    e.name(),
                    e.behaviour(),
                    e.folder().display()
                )
            })
            .collect();
        panic!(
            "seed = {seed}: {problems}\nthe relay's operations inserting them:\n{log}\nthe relay's whole log: {}\neditors:\n{}\nrelay text: {text:?}",
            dump.display(),
            folders.join("\n")
        );
    }
}
