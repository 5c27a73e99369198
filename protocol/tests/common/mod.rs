//! Helpers shared by the protocol's integration tests.
#![allow(dead_code)]

use pairprog_protocol::{Component, Operation};

/// The reference model: an operation applied to a plain list of chars, written without
/// any of the crate's own helpers.
pub fn model_apply(doc: &str, op: &Operation) -> Option<String> {
    let chars: Vec<char> = doc.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    for c in op.components() {
        match c {
            Component::Retain(n) => {
                out.extend(chars.get(i..i + n)?);
                i += n;
            }
            Component::Insert(s) => out.push_str(s),
            Component::Delete(n) => {
                chars.get(i..i + n)?;
                i += n;
            }
        }
    }
    (i == chars.len()).then_some(out)
}

pub mod rng;
pub mod traces;
