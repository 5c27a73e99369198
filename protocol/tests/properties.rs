//! Property tests of the operation algebra against a plain `String` model.

mod common;

use common::model_apply;
use pairprog_protocol::{Bias, Operation, Sequencer};
use proptest::prelude::*;
use ropey::Rope;

/// Text built from pieces that stress every unit conversion: ASCII, Latin-1, CJK,
/// astral-plane emoji, and all three LSP line breaks.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", " ", "é", "中", "😀", "\n", "\r\n", "\r"]),
        0..24,
    )
    .prop_map(|pieces| pieces.concat())
}

#[derive(Clone, Debug)]
enum Step {
    Retain(usize),
    Insert(String),
    Delete(usize),
}

/// An operation valid for a document of `len` chars.
fn operation(len: usize) -> impl Strategy<Value = Operation> {
    let step = prop_oneof![
        (1usize..6).prop_map(Step::Retain),
        text().prop_map(Step::Insert),
        (1usize..6).prop_map(Step::Delete),
    ];
    prop::collection::vec(step, 0..8).prop_map(move |steps| {
        let mut op = Operation::new();
        let mut left = len;
        for step in steps {
            match step {
                Step::Retain(n) => {
                    let n = n.min(left);
                    op.push_retain(n);
                    left -= n;
                }
                Step::Insert(s) => op.push_insert(&s),
                Step::Delete(n) => {
                    let n = n.min(left);
                    op.push_delete(n);
                    left -= n;
                }
            }
        }
        op.retain(left)
    })
}

fn doc_and_op() -> impl Strategy<Value = (String, Operation)> {
    text().prop_flat_map(|d| {
        let len = d.chars().count();
        (Just(d), operation(len))
    })
}

fn doc_and_two_concurrent_ops() -> impl Strategy<Value = (String, Operation, Operation)> {
    text().prop_flat_map(|d| {
        let len = d.chars().count();
        (Just(d), operation(len), operation(len))
    })
}

fn doc_and_two_sequential_ops() -> impl Strategy<Value = (String, Operation, Operation)> {
    doc_and_op().prop_flat_map(|(d, a)| {
        let len = a.target_len();
        (Just(d), Just(a), operation(len))
    })
}

fn apply(doc: &str, op: &Operation) -> String {
    let mut rope = Rope::from_str(doc);
    op.apply(&mut rope)
        .expect("generated operation fits its document");
    rope.to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn apply_matches_the_string_model((doc, op) in doc_and_op()) {
        let expected = model_apply(&doc, &op).expect("model accepts the operation");
        prop_assert_eq!(apply(&doc, &op), expected.clone());
        prop_assert_eq!(op.apply_str(&doc).unwrap(), expected.clone());
        prop_assert_eq!(op.target_len(), expected.chars().count());
    }

    #[test]
    fn apply_rejects_a_document_of_another_length((doc, op) in doc_and_op(), extra in text()) {
        prop_assume!(!extra.is_empty());
        let longer = format!("{doc}{extra}");
        let mut rope = Rope::from_str(&longer);
        prop_assert!(op.apply(&mut rope).is_err());
        prop_assert_eq!(rope.to_string(), longer);
    }

    #[test]
    fn compose_equals_applying_in_sequence((doc, a, b) in doc_and_two_sequential_ops()) {
        let composed = a.compose(&b).unwrap();
        let sequential = model_apply(&model_apply(&doc, &a).unwrap(), &b).unwrap();
        prop_assert_eq!(model_apply(&doc, &composed).unwrap(), sequential);
    }

    #[test]
    fn transform_converges((doc, a, b) in doc_and_two_concurrent_ops()) {
        let (a2, b2) = Operation::transform(&a, &b).unwrap();
        let via_a = model_apply(&model_apply(&doc, &a).unwrap(), &b2).unwrap();
        let via_b = model_apply(&model_apply(&doc, &b).unwrap(), &a2).unwrap();
        prop_assert_eq!(via_a, via_b);
    }

    #[test]
    fn transform_keeps_every_insert((doc, a, b) in doc_and_two_concurrent_ops()) {
        // Intention: concurrent inserts both survive, whatever the other side deleted.
        let (_, b2) = Operation::transform(&a, &b).unwrap();
        let inserted = |op: &Operation| -> usize {
            op.components().iter().map(|c| match c {
                pairprog_protocol::Component::Insert(s) => s.chars().count(),
                _ => 0,
            }).sum()
        };
        prop_assert_eq!(inserted(&b2), inserted(&b));
        let _ = doc;
    }

    #[test]
    fn invert_restores_the_document((doc, op) in doc_and_op()) {
        let inverse = op.invert(&Rope::from_str(&doc)).unwrap();
        prop_assert_eq!(model_apply(&apply(&doc, &op), &inverse).unwrap(), doc);
    }

    #[test]
    fn offset_transform_stays_in_bounds_and_keeps_its_char(
        (doc, op) in doc_and_op(),
        offset in 0usize..40,
        after in any::<bool>(),
    ) {
        let bias = if after { Bias::After } else { Bias::Before };
        let moved = op.transform_offset(offset, bias);
        prop_assert!(moved <= op.target_len());
        // The char just after the cursor, if the operation kept it, is still just after.
        // Tag every char of the document with its index to tell equal chars apart.
        let tagged: String = (0..doc.chars().count())
            .map(|i| char::from_u32(0xE000 + i as u32).unwrap())
            .collect();
        let retagged = pairprog_protocol::Operation::from_components(
            op.components().iter().map(|c| match c {
                pairprog_protocol::Component::Insert(s) => {
                    pairprog_protocol::Component::Insert("\u{1}".repeat(s.chars().count()).into())
                }
                other => other.clone(),
            }),
        );
        let result: Vec<char> = model_apply(&tagged, &retagged).unwrap().chars().collect();
        if let Some(tag) = tagged.chars().nth(offset) {
            if let Some(pos) = result.iter().position(|c| *c == tag) {
                // Text inserted right in front of the char may end up on either side of a
                // `Before` cursor (it depends on whether the insert replaced text), but
                // the cursor never leaves that run of inserted text.
                match bias {
                    Bias::After => prop_assert_eq!(moved, pos),
                    Bias::Before => {
                        let run = inserted_run_before(&result, pos);
                        prop_assert!(pos - run <= moved && moved <= pos, "{} not in {}..={}", moved, pos - run, pos);
                    }
                }
            }
        }
    }

    /// A client states its cursor in the relay's text by mapping it back through its
    /// unacknowledged operations; the relay then moves it past them with `After`. The
    /// cursor must come back where it was, or (inside text the operation inserted) no
    /// further than that insert's end.
    #[test]
    fn base_offset_round_trips_through_transform_offset(
        (_doc, op) in doc_and_op(),
        offset in 0usize..40,
    ) {
        let base = op.base_offset(offset);
        prop_assert!(base <= op.base_len());
        let target = offset.min(op.target_len());
        let after = op.transform_offset(base, Bias::After);
        let before = op.transform_offset(base, Bias::Before);
        prop_assert!(before <= target && target <= after, "{} <= {} <= {}", before, target, after);
        // Between `before` and `after` there is only inserted text.
        let inserted_only = op.base_offset(after) == base && op.base_offset(before) == base;
        prop_assert!(inserted_only, "{}..{} maps back to {}", before, after, base);
    }

    #[test]
    fn json_round_trips((_, op) in doc_and_op()) {
        let json = serde_json::to_string(&op).unwrap();
        prop_assert_eq!(serde_json::from_str::<Operation>(&json).unwrap(), op);
    }

    /// A relay that loses a revision race undoes what it sequenced in memory: after a
    /// restore the sequencer must be exactly the one that never saw the undone commits.
    #[test]
    fn restore_undoes_commits_as_if_they_never_happened(
        (doc, a, b) in doc_and_two_sequential_ops(),
        late in text(),
        limit in 1usize..4,
    ) {
        let mut seq = Sequencer::new(Rope::from_str(&doc), 0, limit);
        seq.commit(a.clone()).unwrap();
        let checkpoint = seq.checkpoint();
        seq.commit(b.clone()).unwrap();
        seq.commit(Operation::splice(b.target_len(), 0, 0, "x").unwrap()).unwrap();
        prop_assert!(seq.restore(checkpoint));
        let mut fresh = Sequencer::new(Rope::from_str(&doc), 0, limit);
        fresh.commit(a.clone()).unwrap();
        prop_assert_eq!(seq.text().to_string(), apply(&doc, &a));
        prop_assert_eq!(seq.revision(), 1);
        // An operation made against the original text rebases as on the fresh one, or
        // is refused as too old when the undone commits pushed it out of memory.
        let concurrent = Operation::splice(doc.chars().count(), 0, 0, &late).unwrap();
        match (seq.rebase(&concurrent, 0), fresh.rebase(&concurrent, 0)) {
            (Ok(x), Ok(y)) => prop_assert_eq!(x, y),
            (Err(_), _) => prop_assert!(limit < 3, "history was cleared only when it overflowed"),
            (Ok(_), Err(e)) => prop_assert!(false, "fresh refused: {e}"),
        }
        // A checkpoint from the future is refused and changes nothing.
        let mut ahead = seq.clone();
        ahead.commit(Operation::splice(seq.text().len_chars(), 0, 0, "y").unwrap()).unwrap();
        prop_assert!(!seq.restore(ahead.checkpoint()));
        prop_assert_eq!(seq.revision(), 1);
    }

    #[test]
    fn diff_turns_old_into_new(old in text(), new in text()) {
        let op = Operation::from_diff(&old, &new);
        prop_assert_eq!(model_apply(&old, &op).unwrap(), new);
    }
}

/// How many inserted chars (tagged `\u{1}`) directly precede `pos`.
fn inserted_run_before(result: &[char], pos: usize) -> usize {
    result[..pos]
        .iter()
        .rev()
        .take_while(|c| **c == '\u{1}')
        .count()
}
