//! libFuzzer target for the WebSocket message decoder. The checks are the stable
//! harness's (`protocol/tests/fuzz/targets.rs`), shared so both fuzzers assert the same.
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
    targets::check_ws_message(data);
});
