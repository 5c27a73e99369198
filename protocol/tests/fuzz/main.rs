//! A bounded, dependency-free fuzz harness for the two places where a peer's bytes meet
//! the relay: the WebSocket message decoder (`serde_json::from_str::<ClientMessage>`,
//! exactly what `relay/src/ws.rs` calls on every text frame) and the validation of an
//! operation against a document (`Sequencer::rebase` then `Sequencer::commit`, what the
//! relay's document owner runs before anything is stored).
//!
//! It first replays every input in `protocol/fuzz-corpus/`, then mutates them for a
//! bounded time. Runs on the stable toolchain; `scripts/fuzz.sh` runs it for longer and
//! `docs/FUZZING.md` explains replaying a failure.
//!
//! Environment: `PAIRPROG_FUZZ_SECONDS` (default 2), `PAIRPROG_FUZZ_ITERATIONS` (a cap),
//! `PAIRPROG_FUZZ_SEED` (default: from the clock), `PAIRPROG_FUZZ_ITERATION` (replay
//! only that iteration of that seed).

mod model;
mod mutate;
mod targets;

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mutate::Rng;
use targets::{OperationCase, Target};

fn corpus_dir(target: Target) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz-corpus")
        .join(target.name())
}

fn load_corpus(target: Target) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    let corpus: Vec<_> = entries
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).expect("a readable corpus file");
            (name, bytes)
        })
        .collect();
    assert!(!corpus.is_empty(), "the corpus {} is empty", dir.display());
    corpus
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a whole number")),
    )
}

/// One input of one target, ready to check and to save when it fails.
enum Input {
    Message(Vec<u8>),
    Operation(OperationCase),
}

impl Input {
    fn target(&self) -> Target {
        match self {
            Input::Message(_) => Target::WsMessage,
            Input::Operation(_) => Target::Operation,
        }
    }

    fn check(&self) {
        match self {
            Input::Message(bytes) => targets::check_ws_message(bytes),
            Input::Operation(case) => targets::check_operation(case),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        match self {
            Input::Message(bytes) => bytes.clone(),
            Input::Operation(case) => case.to_corpus_bytes(),
        }
    }
}

/// Runs one check; on a panic saves the input where the failure message says and
/// re-raises the panic so the test fails.
fn run_one(input: &Input, label: &str) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| input.check())) {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("{}-{}", input.target().name(), label));
        let saved = std::fs::write(&file, input.to_bytes()).is_ok();
        eprintln!(
            "\nfuzz failure in target {} ({label}); input {}{}",
            input.target().name(),
            if saved {
                "saved to "
            } else {
                "could not be saved to "
            },
            file.display()
        );
        eprintln!(
            "input (lossy): {}",
            truncate(&String::from_utf8_lossy(&input.to_bytes()), 2000)
        );
        resume_unwind(panic);
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

/// Builds iteration `iteration`'s input from the corpora, deterministically from the seed.
fn mutated_input(
    seed: u64,
    iteration: u64,
    messages: &[(String, Vec<u8>)],
    operations: &[OperationCase],
) -> Input {
    let mut rng = Rng::for_iteration(seed, iteration);
    let rounds = if rng.chance(2) { 1 } else { 2 + rng.below(3) };
    if iteration.is_multiple_of(2) {
        let mut bytes = rng.pick(messages).1.clone();
        for _ in 0..rounds {
            let other = &rng.pick(messages).1;
            mutate::mutate_bytes(&mut rng, &mut bytes, other);
        }
        Input::Message(bytes)
    } else {
        let mut case = rng.pick(operations).clone();
        for _ in 0..rounds {
            let other = rng.pick(operations);
            case.mutate(&mut rng, other);
        }
        Input::Operation(case)
    }
}

#[test]
fn bounded_fuzz_of_the_message_decoder_and_operation_validation() {
    let messages = load_corpus(Target::WsMessage);
    let operations: Vec<OperationCase> = load_corpus(Target::Operation)
        .iter()
        .map(|(name, bytes)| {
            OperationCase::from_corpus_bytes(bytes)
                .unwrap_or_else(|e| panic!("corpus file operation/{name} is malformed: {e}"))
        })
        .collect();
    let seed = env_u64("PAIRPROG_FUZZ_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });

    if let Some(iteration) = env_u64("PAIRPROG_FUZZ_ITERATION") {
        let input = mutated_input(seed, iteration, &messages, &operations);
        eprintln!(
            "fuzz: replaying seed {seed} iteration {iteration} ({}): {}",
            input.target().name(),
            truncate(&String::from_utf8_lossy(&input.to_bytes()), 2000)
        );
        run_one(&input, &format!("seed-{seed}-iteration-{iteration}"));
        return;
    }

    for (name, bytes) in &messages {
        run_one(&Input::Message(bytes.clone()), &format!("corpus-{name}"));
    }
    for (case, (name, _)) in operations.iter().zip(load_corpus(Target::Operation)) {
        run_one(&Input::Operation(case.clone()), &format!("corpus-{name}"));
    }

    let budget = Duration::from_secs_f64(
        std::env::var("PAIRPROG_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(2.0),
    );
    let max_iterations = env_u64("PAIRPROG_FUZZ_ITERATIONS").unwrap_or(u64::MAX);
    eprintln!(
        "fuzz: seed {seed}, budget {:.1} s; replay a failure with \
         PAIRPROG_FUZZ_SEED={seed} PAIRPROG_FUZZ_ITERATION=<n>",
        budget.as_secs_f64()
    );
    let started = Instant::now();
    let mut iteration = 0;
    while iteration < max_iterations && started.elapsed() < budget {
        let input = mutated_input(seed, iteration, &messages, &operations);
        run_one(&input, &format!("seed-{seed}-iteration-{iteration}"));
        iteration += 1;
    }
    let stats = targets::stats();
    eprintln!(
        "fuzz: seed {seed}: {iteration} iterations in {:.1} s after replaying {} corpus inputs; \
         messages decoded {} / refused {}; operations valid {} / invalid {} / undecodable {}",
        started.elapsed().as_secs_f64(),
        messages.len() + operations.len(),
        stats.messages_ok,
        stats.messages_refused,
        stats.operations_valid,
        stats.operations_invalid,
        stats.operations_undecodable,
    );
}
