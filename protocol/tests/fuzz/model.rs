//! The oracle: a plain `Vec<char>` model of what an operation on the wire means, written
//! from `docs/PROTOCOL.md` and sharing no code with the crate under test.

use serde_json::Value;

/// One element of the wire array, as the protocol defines it.
#[derive(Clone, Debug, PartialEq)]
pub enum WireStep {
    Retain(u64),
    Delete(u64),
    Insert(String),
}

/// Reads the wire array: positive integers retain, negative integers delete, non-empty
/// strings insert; anything else (zero, fractions, numbers outside 64 bits, empty
/// strings, other JSON) makes the operation malformed.
pub fn read_wire(value: &Value) -> Option<Vec<WireStep>> {
    let items = value.as_array()?;
    let mut steps = Vec::with_capacity(items.len());
    for item in items {
        let step = match item {
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    (u > 0).then_some(WireStep::Retain(u))?
                } else {
                    let i = n.as_i64()?;
                    (i < 0).then_some(WireStep::Delete(i.unsigned_abs()))?
                }
            }
            Value::String(s) if !s.is_empty() => WireStep::Insert(s.clone()),
            _ => return None,
        };
        steps.push(step);
    }
    Some(steps)
}

/// Applies the steps to `text`, or `None` when they do not walk exactly the whole text.
pub fn apply(steps: &[WireStep], text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut pos: usize = 0;
    for step in steps {
        match step {
            WireStep::Retain(n) => {
                let end = pos.checked_add(usize::try_from(*n).ok()?)?;
                out.extend(chars.get(pos..end)?);
                pos = end;
            }
            WireStep::Delete(n) => {
                let end = pos.checked_add(usize::try_from(*n).ok()?)?;
                chars.get(pos..end)?;
                pos = end;
            }
            WireStep::Insert(s) => out.push_str(s),
        }
    }
    (pos == chars.len()).then_some(out)
}
