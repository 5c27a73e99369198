//! Regression tests for bugs the fuzz harness (`tests/fuzz/`) found. Each test is named
//! after the bug and replays its smallest inputs.

use pairprog_protocol::messages::ClientMessage;
use pairprog_protocol::{Operation, Sequencer};
use ropey::Rope;

/// Retain and delete counts that add up past `usize::MAX` used to overflow the
/// operation's base length: a panic in debug builds, and in release builds a wrapped,
/// small base length that matched the document, so `Sequencer::rebase` accepted the
/// operation and `commit` panicked inserting at char `u64::MAX` (in the relay: the
/// document's owner task).
#[test]
fn overflowing_component_counts_are_refused_when_decoding() {
    let huge = u64::MAX;
    for input in [
        format!("[{huge},\"x\",6]"),
        format!("[{huge},1]"),
        "[-9223372036854775808,-9223372036854775808,5]".to_owned(),
        format!("[{huge},-6]"),
    ] {
        let err = serde_json::from_str::<Operation>(&input).unwrap_err();
        assert!(err.to_string().contains("too long"), "{input}: {err}");
        let message = format!(r#"{{"type":"op","path":"a","base":0,"seq":1,"op":{input}}}"#);
        let err = serde_json::from_str::<ClientMessage>(&message).unwrap_err();
        assert!(err.to_string().contains("too long"), "{message}: {err}");
    }
    // The longest operation allowed still decodes, and the document refuses it for its
    // length, with an error rather than a panic.
    let op: Operation = serde_json::from_str(&format!("[{}]", i64::MAX)).unwrap();
    let seq = Sequencer::new(Rope::from_str("hello"), 0, 10);
    assert!(seq.rebase(&op, 0).is_err());
}

/// Two adjacent deletes of 2^62 and 2^62 + 1 decoded into one delete of 2^63 + 1, which
/// serialising negated as an `i64`: a panic in debug builds, and in release builds a
/// wrapped number that wrote the delete back as a different operation.
#[test]
fn merged_deletes_past_i64_are_refused_not_written_back_wrong() {
    let input = format!("[-{},-{}]", 1u64 << 62, (1u64 << 62) + 1);
    assert!(
        serde_json::from_str::<Operation>(&input).is_err(),
        "{input}"
    );
    // Up to the limit, a merged delete reads back as the same operation.
    let input = format!("[-{},-{}]", 1u64 << 62, (1u64 << 62) - 1);
    let op: Operation = serde_json::from_str(&input).unwrap();
    let json = serde_json::to_string(&op).unwrap();
    assert_eq!(json, format!("[{}]", -i64::MAX));
    assert_eq!(serde_json::from_str::<Operation>(&json).unwrap(), op);
}
