//! The proxy's own cost per keystroke on a 1 MB document (not a test; figures in
//! `docs/BENCHMARKS.md`):
//! * `didChange` received → operation to send, serialized for the relay;
//! * remote operation received → `workspace/applyEdit` serialized for the editor;
//! * the memory the bridge and the completion index hold, against the text's size.
//!
//! Run with `cargo bench -p pairprog-lsp --bench bridge`. Each step is timed on its own
//! with `Instant`, so the median and p99 are of single keystrokes, not of batches.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use pairprog_lsp::bridge::{Document, EditReply};
use pairprog_lsp::edit_convert::ContentChange;
use pairprog_protocol::messages::ClientMessage;
use pairprog_protocol::position::offset_to_position;
use pairprog_protocol::{Operation, PositionEncoding, Range};
use ropey::Rope;

/// Counts live heap bytes, to weigh the bridge's state.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SAMPLES: usize = 20_000;

/// A 1 MB source-like document with some CJK and emoji, so UTF-16 columns differ from
/// char columns.
fn document() -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 1_000_000 {
        text.push_str(&format!(
            "    let value_{i} = compute(\"漢字 {i}\", {i}); // 🎉 line {i}\n"
        ));
        i += 1;
    }
    text
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

fn main() {
    let text = document();
    let encoding = PositionEncoding::Utf16;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    // Memory: the bridge (three texts sharing structure) plus the completion index.
    let before = LIVE.load(Ordering::Relaxed);
    let doc = shared(&text);
    let mut index = pairprog_autocomplete::RoomIndex::new();
    index.set_document("file:///bench.rs", "rust", &text);
    let held = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "memory: document {:.2} MB, bridge + index hold {:.2} MB ({:.2}×)",
        text.len() as f64 / 1e6,
        held as f64 / 1e6,
        held as f64 / text.len() as f64
    );
    drop(index);
    drop(doc);

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
        let outcome = doc.editor_change(version, &[change], encoding).expect("change");
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
        doc.editor_change(version, &[change], encoding).expect("echo");
        doc.edit_reply(edit.id, EditReply::Applied).expect("reply");
        assert!(doc.editor_settled());
    }
    report("remote op → applyEdit sent", &mut samples);
}
