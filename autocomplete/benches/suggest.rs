//! Suggestion latency for a 1 MB document in a room of 20 documents (issue 5's target:
//! p99 <= 1 ms), and the cost of keeping the room index current.
//!
//! Run with `cargo bench -p pairprog-autocomplete`. Not a test: it prints numbers.

use pairprog_autocomplete::RoomIndex;
use std::hint::black_box;
use std::time::{Duration, Instant};

const REQUESTS: usize = 20_000;
const EDITS: usize = 5_000;
const BIG_DOCUMENT_BYTES: usize = 1 << 20;
const OTHER_DOCUMENTS: usize = 19;
const OTHER_DOCUMENT_BYTES: usize = 50 * 1024;

/// A small deterministic generator, so every run measures the same documents.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const VERBS: &[&str] = &[
    "load", "save", "parse", "render", "compute", "update", "fetch", "build", "check", "merge",
    "split", "format", "apply", "create", "delete", "resolve",
];
const NOUNS: &[&str] = &[
    "config", "user", "session", "document", "buffer", "cursor", "room", "token", "record",
    "header", "payload", "index", "cache", "request", "response", "message",
];

fn name(rng: &mut Rng, distinct: usize) -> String {
    format!(
        "{}_{}_{}",
        rng.pick(VERBS),
        rng.pick(NOUNS),
        rng.below(distinct)
    )
}

/// Python that looks like a real module: functions calling each other, classes,
/// comments (some with non-ASCII text), strings.
fn python_document(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::from("import os\nimport sys\n\n");
    while out.len() < bytes {
        let function = name(rng, 4000);
        if rng.below(8) == 0 {
            out.push_str(&format!("class {}Model:\n", NOUNS[rng.below(NOUNS.len())]));
            out.push_str(&format!("    def {function}(self, value):\n"));
            out.push_str("        \"\"\"Keeps the value — für später.\"\"\"\n");
            out.push_str("        self.value = value\n\n");
            continue;
        }
        out.push_str(&format!("def {function}(data, limit=10):\n"));
        out.push_str("    # Walk the records and keep the ones we need.\n");
        for _ in 0..rng.below(6) + 2 {
            let variable = name(rng, 200);
            let callee = name(rng, 4000);
            out.push_str(&format!(
                "    {variable} = {callee}(data, \"key {}\")\n",
                rng.below(99)
            ));
            out.push_str(&format!(
                "    if {variable} > limit:\n        return {variable}\n"
            ));
        }
        out.push_str("    return None\n\n");
    }
    out
}

fn javascript_document(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::new();
    while out.len() < bytes {
        let function = name(rng, 4000).replace('_', "");
        out.push_str(&format!("function {function}(data) {{\n"));
        for _ in 0..rng.below(5) + 1 {
            let variable = name(rng, 200).replace('_', "");
            out.push_str(&format!(
                "  const {variable} = {}(data);\n",
                name(rng, 4000)
            ));
            out.push_str(&format!("  console.log(`value ${{{variable}}}`);\n"));
        }
        out.push_str("}\n\n");
    }
    out
}

fn rust_document(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::new();
    while out.len() < bytes {
        out.push_str(&format!(
            "pub fn {}(input: &str) -> usize {{\n",
            name(rng, 4000)
        ));
        for _ in 0..rng.below(5) + 1 {
            out.push_str(&format!(
                "    let {} = {}(input);\n",
                name(rng, 200),
                name(rng, 4000)
            ));
        }
        out.push_str("    input.len()\n}\n\n");
    }
    out
}

fn go_document(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::from("package main\n\n");
    while out.len() < bytes {
        out.push_str(&format!(
            "func {}(input string) error {{\n",
            name(rng, 4000)
        ));
        for _ in 0..rng.below(5) + 1 {
            out.push_str(&format!(
                "\t{} := {}(input)\n",
                name(rng, 200),
                name(rng, 4000)
            ));
        }
        out.push_str("\treturn nil\n}\n\n");
    }
    out
}

/// Cursors in chars: half anywhere, half one to three chars into an identifier, as
/// while typing (the case that exercises the room's name lookup).
fn cursors(rng: &mut Rng, text: &str, count: usize) -> Vec<usize> {
    let chars: Vec<char> = text.chars().collect();
    let mut word_starts = Vec::new();
    for i in 1..chars.len() {
        if (chars[i].is_alphabetic() || chars[i] == '_')
            && !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
        {
            word_starts.push(i);
        }
    }
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                rng.below(chars.len() + 1)
            } else {
                let start = word_starts[rng.below(word_starts.len())];
                (start + 1 + rng.below(3)).min(chars.len())
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{what:<44} n={:<6} median {:>9.1?}  p99 {:>9.1?}  max {:>9.1?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
    );
}

fn main() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let big = python_document(&mut rng, BIG_DOCUMENT_BYTES);
    let mut room = RoomIndex::new();
    for i in 0..OTHER_DOCUMENTS {
        let (id, language, text) = match i % 4 {
            0 => (
                format!("doc{i}.py"),
                "python",
                python_document(&mut rng, OTHER_DOCUMENT_BYTES),
            ),
            1 => (
                format!("doc{i}.js"),
                "javascript",
                javascript_document(&mut rng, OTHER_DOCUMENT_BYTES),
            ),
            2 => (
                format!("doc{i}.rs"),
                "rust",
                rust_document(&mut rng, OTHER_DOCUMENT_BYTES),
            ),
            _ => (
                format!("doc{i}.go"),
                "go",
                go_document(&mut rng, OTHER_DOCUMENT_BYTES),
            ),
        };
        room.set_document(&id, language, &text);
    }

    let mut full_index = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        room.set_document("big.py", "python", black_box(&big));
        full_index.push(started.elapsed());
    }
    println!(
        "room: 1 document of {} bytes ({} chars) + {OTHER_DOCUMENTS} documents of ~{} KB",
        big.len(),
        big.chars().count(),
        OTHER_DOCUMENT_BYTES / 1024
    );
    report("set_document (full index of the 1 MB doc)", full_index);

    let positions = cursors(&mut rng, &big, REQUESTS);
    // A warm-up pass so the first timed requests do not pay for cold caches.
    for &cursor in positions.iter().take(500) {
        black_box(room.suggest("big.py", cursor).ok());
    }
    // Each request is timed three times. The first run is the raw latency; the fastest
    // of the three filters out the moments the OS scheduler took the core away, which on
    // a shared 2-core machine is what dominates the raw tail, not the engine.
    let mut latencies = Vec::with_capacity(REQUESTS);
    let mut fastest = Vec::with_capacity(REQUESTS);
    let mut anywhere = Vec::with_capacity(REQUESTS / 2);
    let mut typing = Vec::with_capacity(REQUESTS / 2);
    let mut offered = 0usize;
    for (i, &cursor) in positions.iter().enumerate() {
        let mut best = Duration::MAX;
        for run in 0..3 {
            let started = Instant::now();
            let suggestions = room.suggest("big.py", black_box(cursor));
            let elapsed = started.elapsed();
            if run == 0 {
                latencies.push(elapsed);
                offered += suggestions.map_or(0, |s| s.len());
            }
            best = best.min(elapsed);
        }
        fastest.push(best);
        if i % 2 == 0 {
            anywhere.push(best);
        } else {
            typing.push(best);
        }
    }
    report("suggest (1 MB doc, room of 20), raw", latencies);
    report("suggest, fastest of 3 runs per cursor", fastest);
    report("  of which cursor anywhere", anywhere);
    report("  of which 1-3 chars into a word", typing);
    println!("  ({offered} suggestions offered in total over {REQUESTS} requests)");

    let mut keystrokes = Vec::with_capacity(EDITS);
    let mut len = big.chars().count();
    for _ in 0..EDITS {
        let at = rng.below(len + 1);
        let started = Instant::now();
        let result = room.apply_edit("big.py", at, at, black_box("a"));
        keystrokes.push(started.elapsed());
        if result.is_ok() {
            len += 1;
        }
    }
    report("apply_edit (one char typed, 1 MB doc)", keystrokes);

    let paste = python_document(&mut Rng(7), 4 * 1024);
    let mut pastes = Vec::new();
    for _ in 0..500 {
        let at = rng.below(len + 1);
        let end = (at + 64).min(len);
        let started = Instant::now();
        let result = room.apply_edit("big.py", at, end, black_box(&paste));
        pastes.push(started.elapsed());
        if result.is_ok() {
            len = len - (end - at) + paste.chars().count();
        }
    }
    report("apply_edit (4 KB paste over 64 chars)", pastes);
}
