//! `cargo bench -p pairprog-protocol`: the figures recorded in docs/BENCHMARKS.md.
//!
//! - replaying automerge-paper as operations on a rope, next to the same patches applied
//!   with raw `Rope::insert`/`Rope::remove`;
//! - transform throughput: one operation rebased past a window of 1,000 concurrent ones;
//! - UTF-16 position -> char offset (and back) on a 1 MB document.

#[path = "../tests/common/traces.rs"]
mod traces;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pairprog_protocol::position::{offset_to_position, position_to_offset};
use pairprog_protocol::{Operation, Position, PositionEncoding, Sequencer};
use ropey::Rope;
use traces::Patch;

fn replay(c: &mut Criterion) {
    let trace = traces::load("automerge-paper.json.gz");
    let patches: Vec<&Patch> = trace.txns.iter().flat_map(|t| &t.patches).collect();
    // Check once that what is timed is a correct replay.
    let mut check = Rope::new();
    for Patch(pos, del, ins) in patches.iter().copied() {
        Operation::splice(check.len_chars(), *pos, *del, ins)
            .and_then(|op| op.apply(&mut check))
            .expect("patch fits");
    }
    assert_eq!(check, trace.end_content.as_str());
    let mut group = c.benchmark_group("automerge-paper");
    group.sample_size(20);
    group.throughput(Throughput::Elements(patches.len() as u64));
    group.bench_function("raw ropey insert/remove", |b| {
        b.iter(|| {
            let mut rope = Rope::new();
            for Patch(pos, del, ins) in patches.iter().copied() {
                if *del > 0 {
                    rope.remove(*pos..pos + del);
                }
                if !ins.is_empty() {
                    rope.insert(*pos, ins);
                }
            }
            black_box(rope.len_chars())
        })
    });
    group.bench_function("operations applied to a rope", |b| {
        b.iter(|| {
            let mut rope = Rope::new();
            for Patch(pos, del, ins) in patches.iter().copied() {
                Operation::splice(rope.len_chars(), *pos, *del, ins)
                    .and_then(|op| op.apply(&mut rope))
                    .expect("patch fits");
            }
            black_box(rope.len_chars())
        })
    });
    // The same operations built beforehand: what applying alone costs.
    let mut len = 0;
    let built: Vec<Operation> = patches
        .iter()
        .map(|Patch(pos, del, ins)| {
            let op = Operation::new()
                .retain(*pos)
                .delete(*del)
                .insert(ins)
                .retain(len - pos - del);
            len = op.target_len();
            op
        })
        .collect();
    group.bench_function("prebuilt operations applied to a rope", |b| {
        b.iter(|| {
            let mut rope = Rope::new();
            for op in &built {
                op.apply(&mut rope).expect("op fits");
            }
            black_box(rope.len_chars())
        })
    });
    group.finish();
}

/// A deterministic pseudo-random keystroke on a document of `len` chars.
fn keystroke(state: &mut u64, len: usize) -> Operation {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let pos = (*state >> 33) as usize % (len + 1);
    if *state & 3 == 0 && pos < len {
        Operation::new().retain(pos).delete(1).retain(len - pos - 1)
    } else {
        Operation::new().retain(pos).insert("x").retain(len - pos)
    }
}

fn transform_window(c: &mut Criterion) {
    let base = Rope::from_str(&"lorem ipsum dolor sit amet\n".repeat(400));
    let mut seq = Sequencer::new(base.clone(), 0, 2_000);
    let mut state = 7;
    for _ in 0..1_000 {
        let op = keystroke(&mut state, seq.text().len_chars());
        seq.submit(&op, seq.revision()).expect("fits");
    }
    let late = keystroke(&mut state, base.len_chars());
    let mut group = c.benchmark_group("transform");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("rebase one op past a 1,000-op concurrent window", |b| {
        b.iter(|| black_box(seq.rebase(black_box(&late), 0).expect("rebases")))
    });
    group.finish();
}

fn positions(c: &mut Criterion) {
    // About 1 MB with emoji and CJK on every line, so UTF-16 differs from chars.
    let line = "fn main() { println!(\"héllo 中文 😀\"); } // some ordinary code\r\n";
    let text = line.repeat(1_000_000 / line.len() + 1);
    let rope = Rope::from_str(&text);
    let lines = rope.len_lines() as u32;
    let mut group = c.benchmark_group("positions (1 MB document)");
    let mut k = 0u32;
    group.bench_function("utf-16 position -> offset", |b| {
        b.iter(|| {
            k = k.wrapping_add(7919) % lines;
            black_box(position_to_offset(
                &rope,
                Position::new(k, 30),
                PositionEncoding::Utf16,
            ))
        })
    });
    let len = rope.len_chars();
    let mut o = 0usize;
    group.bench_function("offset -> utf-16 position", |b| {
        b.iter(|| {
            o = (o + 104_729) % len;
            black_box(offset_to_position(&rope, o, PositionEncoding::Utf16))
        })
    });
    group.bench_function("clone the 1 MB rope (for scale)", |b| {
        b.iter_batched(|| (), |()| black_box(rope.clone()), BatchSize::SmallInput)
    });
    group.finish();
}

criterion_group!(benches, replay, transform_window, positions);
criterion_main!(benches);
