//! Field checks applied while a [`ClientMessage`](crate::messages::ClientMessage) is
//! decoded, so a value the relay could not store is refused as a bad message before it
//! reaches a document: counters must fit the signed 64-bit integers SQL stores, and no
//! string may hold U+0000 (PostgreSQL's `text` cannot store it; SQLite can, so without
//! this check the same input would behave differently on the two backends).

use serde::de::Error;
use serde::{Deserialize, Deserializer};

use crate::operation::{Component, Operation};

/// The largest counter (`seq`, `base`, `revision`) a client may send: `2^63 - 1`.
pub const MAX_COUNTER: u64 = i64::MAX as u64;

const NUL_MESSAGE: &str =
    "text must not contain the NUL character (U+0000): the relay's database cannot store it";

/// Whether `text` can be stored as it is: it holds no U+0000.
pub fn storable_text(text: &str) -> bool {
    !text.contains('\0')
}

pub(crate) fn counter<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value = u64::deserialize(deserializer)?;
    if value > MAX_COUNTER {
        return Err(D::Error::custom(format!(
            "{value} is too large: counters must be at most 2^63 - 1 ({MAX_COUNTER})"
        )));
    }
    Ok(value)
}

pub(crate) fn optional_counter<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    match Option::<u64>::deserialize(deserializer)? {
        Some(value) if value > MAX_COUNTER => Err(D::Error::custom(format!(
            "{value} is too large: counters must be at most 2^63 - 1 ({MAX_COUNTER})"
        ))),
        other => Ok(other),
    }
}

pub(crate) fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = String::deserialize(deserializer)?;
    if !storable_text(&value) {
        return Err(D::Error::custom(NUL_MESSAGE));
    }
    Ok(value)
}

pub(crate) fn optional_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    if value.as_deref().is_some_and(|v| !storable_text(v)) {
        return Err(D::Error::custom(NUL_MESSAGE));
    }
    Ok(value)
}

pub(crate) fn operation<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Operation, D::Error> {
    let op = Operation::deserialize(deserializer)?;
    let inserts_nul = op
        .components()
        .iter()
        .any(|c| matches!(c, Component::Insert(s) if !storable_text(s)));
    if inserts_nul {
        return Err(D::Error::custom(NUL_MESSAGE));
    }
    Ok(op)
}

pub(crate) fn optional_client_key<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    if let Some(key) = &value {
        crate::identity::check_client_key(key).map_err(D::Error::custom)?;
    }
    Ok(value)
}
