//! libFuzzer target for validating an operation against a document. An input is an
//! operation corpus file (`{"text","history","historyLimit","base","op"}`); one that is
//! not is taken as the operation's JSON text against a fixed document.
#![no_main]

#[path = "../../tests/fuzz/model.rs"]
#[allow(dead_code)]
mod model;
#[path = "../../tests/fuzz/mutate.rs"]
#[allow(dead_code)]
mod mutate;
#[path = "../../tests/fuzz/targets.rs"]
#[allow(dead_code)]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let case = targets::OperationCase::from_corpus_bytes(data).unwrap_or_else(|_| {
        targets::OperationCase {
            text: "hello 😀\r\nworld\n".to_owned(),
            history: Vec::new(),
            history_limit: 16,
            base: 0,
            op: data.to_vec(),
        }
    });
    targets::check_operation(&case);
});
