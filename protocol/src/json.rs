//! The compact JSON form of an operation: an array whose elements are a positive integer
//! (retain that many chars), a negative integer (delete that many chars) or a string
//! (insert it). `[5, "hi", -2, 3]` keeps 5 chars, inserts "hi", deletes 2 and keeps 3.
//! A keystroke in the middle of a document costs a dozen bytes.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::operation::{Component, Operation};

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.components().len()))?;
        for c in self.components() {
            match c {
                Component::Retain(n) => seq.serialize_element(n)?,
                Component::Insert(s) => seq.serialize_element(s.as_str())?,
                Component::Delete(n) => seq.serialize_element(&-(*n as i64))?,
            }
        }
        seq.end()
    }
}

/// One element of the array, checked as it is read.
struct WireComponent(Component);

impl<'de> Deserialize<'de> for WireComponent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ComponentVisitor)
    }
}

struct ComponentVisitor;

const EXPECTED: &str =
    "an operation component: a positive retain count, a negative delete count or a non-empty insert string";

impl Visitor<'_> for ComponentVisitor {
    type Value = WireComponent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match usize::try_from(v) {
            Ok(0) => Err(E::custom(
                "an operation component of length 0 is not allowed",
            )),
            Ok(n) => Ok(WireComponent(Component::Retain(n))),
            Err(_) => Err(E::custom("retain count too large")),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        if v >= 0 {
            return self.visit_u64(v.unsigned_abs());
        }
        usize::try_from(v.unsigned_abs())
            .map(|n| WireComponent(Component::Delete(n)))
            .map_err(|_| E::custom("delete count too large"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.visit_string(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        if v.is_empty() {
            return Err(E::custom("an empty insert is not allowed"));
        }
        Ok(WireComponent(Component::Insert(v.into())))
    }
}

/// The longest base or target length an operation read from JSON may have.
const MAX_LEN: usize = i64::MAX as usize;

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OperationVisitor;

        impl<'de> Visitor<'de> for OperationVisitor {
            type Value = Operation;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an operation: an array of retain counts, delete counts and insert strings",
                )
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Operation, A::Error> {
                let mut op = Operation::new();
                while let Some(WireComponent(c)) = seq.next_element()? {
                    // Counts come from the peer: ones whose sum overflows would wrap the
                    // base length to a small number that can match a document, and
                    // applying such an operation indexes far past the document's end.
                    // Capping lengths at `i64::MAX` (no document is longer) also keeps
                    // every merged delete writable as one negative JSON integer.
                    let (base, target) = match &c {
                        Component::Retain(n) => (*n, *n),
                        Component::Insert(s) => (0, s.chars().count()),
                        Component::Delete(n) => (*n, 0),
                    };
                    let fits = |len: usize, more: usize| {
                        len.checked_add(more).is_some_and(|sum| sum <= MAX_LEN)
                    };
                    if !fits(op.base_len(), base) || !fits(op.target_len(), target) {
                        return Err(de::Error::custom(
                            "operation too long: its counts add up to more than 2^63 - 1",
                        ));
                    }
                    op.push(c);
                }
                Ok(op)
            }
        }

        deserializer.deserialize_seq(OperationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_compact_form() {
        let op = Operation::new()
            .retain(5)
            .insert("hé😀")
            .delete(2)
            .retain(3);
        let json = serde_json::to_string(&op).unwrap();
        assert_eq!(json, r#"[5,"hé😀",-2,3]"#);
        assert_eq!(serde_json::from_str::<Operation>(&json).unwrap(), op);
    }

    #[test]
    fn unnormalised_input_is_normalised() {
        let op: Operation = serde_json::from_str(r#"[1,2,-1,"a",-1]"#).unwrap();
        assert_eq!(op, Operation::new().retain(3).insert("a").delete(2));
    }

    #[test]
    fn rejects_bad_components_with_a_message() {
        for (input, needle) in [
            ("[0]", "length 0"),
            (r#"[""]"#, "empty insert"),
            ("[1.5]", "operation component"),
            ("[true]", "operation component"),
            ("{}", "an operation"),
            ("[[1]]", "operation component"),
        ] {
            let err = serde_json::from_str::<Operation>(input).unwrap_err();
            assert!(err.to_string().contains(needle), "{input}: {err}");
        }
    }
}
