//! The proxy's own cost per keystroke on a 1 MB document (not a test; figures in
//! `docs/BENCHMARKS.md`):
//! * `didChange` received → operation to send, serialized for the relay;
//! * remote operation received → `workspace/applyEdit` serialized for the editor;
//! * the resident memory the bridge and the completion index add, against the text's size.
//!
//! Run with `cargo bench -p pairprog-lsp --bench bridge`. Each step is timed on its own
//! with `Instant`, so the median and p99 are of single keystrokes, not of batches.

use std::time::{Duration, Instant};

use pairprog_lsp::bridge::{Document, EditReply};
use pairprog_lsp::edit_convert::ContentChange;
use pairprog_protocol::messages::ClientMessage;
use pairprog_protocol::position::offset_to_position;
use pairprog_protocol::{Operation, PositionEncoding, Range};
use ropey::Rope;

/// The process's resident memory in bytes (Linux), to weigh the bridge's state without
/// an allocator of our own (the workspace forbids `unsafe`).
fn resident_bytes() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map_or(0, |kb| kb * 1024)
}

const SAMPLES: usize = 20_000;

/// A 1 MB Rust document: this workspace's own sources, concatenated and repeated, with a
/// line of CJK and emoji per file so UTF-16 columns differ from char columns. Real code
/// repeats its identifiers; a synthetic text with a new name on every line would make
/// the completion index look several times larger than it is in practice.
fn document() -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut sources = Vec::new();
    for dir in ["protocol/src", "relay/src", "lsp/src", "autocomplete/src"] {
        collect_rust(&std::path::Path::new(root).join(dir), &mut sources);
    }
    sources.sort();
    let mut text = String::new();
    while text.len() < 1_000_000 {
        for path in &sources {
            text.push_str("// 漢字 🎉 ");
            text.push_str(&path.display().to_string());
            text.push('\n');
            text.push_str(&std::fs::read_to_string(path).unwrap_or_default());
        }
    }
    text.truncate(text.floor_char_boundary(1_000_000));
    text
}

fn collect_rust(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rust(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p) as usize]
}

fn report(name: &str, samples: &mut [Duration]) {
    let median = percentile(samples, 0.5);
    let p99 = percentile(samples, 0.99);
    let max = percentile(samples, 1.0);
    println!(
        "{name:<34} median {:>7.1} µs   p99 {:>7.1} µs   max {:>8.1} µs",
        median.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        max.as_secs_f64() * 1e6
    );
}

fn shared(text: &str) -> Document {
    let mut doc = Document::new("rust".into(), Rope::from_str(text), 1);
    doc.start_opening();
    doc.opened(text, 0).expect("opens");
    doc
}

/// The child's job: the resident memory an open, shared 1 MB document adds (its bridge
/// and its completion index), once the `didOpen` string is dropped.
fn measure_memory(file: &str) {
    let before = resident_bytes();
    let text = std::fs::read_to_string(file).expect("document file");
    let size = text.len();
    let doc = shared(&text);
    let mut index = pairprog_autocomplete::RoomIndex::new();
    index.set_document_rope("file:///bench.rs", "rust", doc.editor_text());
    drop(text);
    let held = resident_bytes() - before;
    println!(
        "memory: document {:.2} MB, bridge + completion index hold {:.2} MB ({:.2}×)",
        size as f64 / 1e6,
        held as f64 / 1e6,
        held as f64 / size as f64
    );
    std::hint::black_box((doc, index));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--memory") {
        measure_memory(&args[i + 1]);
        return;
    }
    let text = document();
    let encoding = PositionEncoding::Utf16;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    // Memory is measured in a child process that has done nothing else, so freed
    // memory from building the text here cannot hide what the bridge takes.
    let file = std::env::temp_dir().join(format!("pairprog-bench-{}.rs", std::process::id()));
    std::fs::write(&file, &text).expect("temp file");
    let child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .arg("--memory")
        .arg(&file)
        .output()
        .expect("child runs");
    print!("{}", String::from_utf8_lossy(&child.stdout));
    let _ = std::fs::remove_file(&file);

    // didChange → operation serialized for the relay.
    let mut doc = shared(&text);
    let mut version = 1;
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let offset = rng.below(doc.editor_text().len_chars());
        let at = offset_to_position(doc.editor_text(), offset, encoding);
        let change = ContentChange {
            range: Some(Range::new(at, at)),
            text: "x".into(),
        };
        version += 1;
        let start = Instant::now();
        let outcome = doc
            .editor_change(version, &[change], encoding)
            .expect("change");
        let out = outcome.outgoing.expect("nothing in flight, so it goes out");
        let frame = serde_json::to_string(&ClientMessage::Op {
            path: "src/bench.rs".into(),
            base: out.base,
            seq: out.seq,
            op: out.op,
        })
        .expect("serializes");
        samples.push(start.elapsed());
        std::hint::black_box(frame);
        doc.ack(out.seq).expect("ack");
    }
    report("didChange → op sent", &mut samples);

    // Remote operation → applyEdit serialized for the editor.
    let mut doc = shared(&text);
    let mut version = 1;
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let len = doc.local_text().len_chars();
        let op = Operation::splice(len, rng.below(len), 0, "y").expect("fits");
        let start = Instant::now();
        doc.remote(&op).expect("remote");
        let edit = doc.next_editor_edit().expect("edit").expect("one to send");
        let range = edit.splice.range(doc.editor_text(), encoding);
        let request = serde_json::json!({
            "jsonrpc": "2.0", "id": edit.id, "method": "workspace/applyEdit",
            "params": {"edit": {"documentChanges": [{
                "textDocument": {"uri": "file:///bench.rs", "version": edit.version},
                "edits": [{"range": range, "newText": edit.splice.inserted}],
            }]}},
        })
        .to_string();
        samples.push(start.elapsed());
        std::hint::black_box(request);
        // The editor applies it and echoes it back (not timed).
        let change = ContentChange {
            range: Some(range),
            text: edit.splice.inserted.clone(),
        };
        version += 1;
        doc.editor_change(version, &[change], encoding)
            .expect("echo");
        doc.edit_reply(edit.id, EditReply::Applied).expect("reply");
        assert!(doc.editor_settled());
    }
    report("remote op → applyEdit sent", &mut samples);
}
