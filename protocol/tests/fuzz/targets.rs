//! The two fuzz targets and their assertions.

use std::sync::atomic::{AtomicU64, Ordering};

use pairprog_protocol::messages::ClientMessage;
use pairprog_protocol::{Component, Operation, SequenceError, Sequencer};
use ropey::Rope;
use serde_json::{json, Value};

use crate::model::{self, WireStep};
use crate::mutate::{self, Rng};

/// The relay's default `max_message_bytes`: it refuses longer text frames before parsing.
const MESSAGE_LIMIT: usize = 1024 * 1024;

#[derive(Clone, Copy)]
pub enum Target {
    WsMessage,
    Operation,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::WsMessage => "ws_message",
            Target::Operation => "operation",
        }
    }
}

static MESSAGES_OK: AtomicU64 = AtomicU64::new(0);
static MESSAGES_REFUSED: AtomicU64 = AtomicU64::new(0);
static OPERATIONS_VALID: AtomicU64 = AtomicU64::new(0);
static OPERATIONS_INVALID: AtomicU64 = AtomicU64::new(0);
static OPERATIONS_UNDECODABLE: AtomicU64 = AtomicU64::new(0);

pub struct Stats {
    pub messages_ok: u64,
    pub messages_refused: u64,
    pub operations_valid: u64,
    pub operations_invalid: u64,
    pub operations_undecodable: u64,
}

pub fn stats() -> Stats {
    Stats {
        messages_ok: MESSAGES_OK.load(Ordering::Relaxed),
        messages_refused: MESSAGES_REFUSED.load(Ordering::Relaxed),
        operations_valid: OPERATIONS_VALID.load(Ordering::Relaxed),
        operations_invalid: OPERATIONS_INVALID.load(Ordering::Relaxed),
        operations_undecodable: OPERATIONS_UNDECODABLE.load(Ordering::Relaxed),
    }
}

/// What a decoded message holds on the heap, roughly, in bytes. Bounding it by the input
/// length is what "decoding never allocates unboundedly" means for the result.
fn footprint(message: &ClientMessage) -> usize {
    let op_size = |op: &Operation| {
        std::mem::size_of_val(op.components())
            + op.components()
                .iter()
                .map(|c| match c {
                    Component::Insert(s) => s.len(),
                    _ => 0,
                })
                .sum::<usize>()
    };
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    match message {
        ClientMessage::Hello {
            name, client_key, ..
        } => name.len() + opt(client_key),
        ClientMessage::Open {
            path,
            language,
            text,
            ..
        } => path.len() + opt(language) + opt(text),
        ClientMessage::Close { path, .. } => path.len(),
        ClientMessage::Op { path, op, .. } => path.len() + op_size(op),
        ClientMessage::Cursor {
            path, selections, ..
        } => path.len() + std::mem::size_of_val(selections.as_slice()),
        // Fields the secure helper or later versions add are covered by the round trip.
        #[allow(unreachable_patterns)]
        _ => 0,
    }
}

/// The normal form `Operation` promises: no empty components, no two adjacent of one
/// kind, an insert never right after a delete, and lengths that match the components.
fn assert_normalised(op: &Operation) {
    let (mut base, mut target) = (0u128, 0u128);
    let mut previous: Option<&Component> = None;
    for c in op.components() {
        match c {
            Component::Retain(n) => {
                assert!(*n > 0, "empty retain in {op:?}");
                base += *n as u128;
                target += *n as u128;
            }
            Component::Delete(n) => {
                assert!(*n > 0, "empty delete in {op:?}");
                base += *n as u128;
            }
            Component::Insert(s) => {
                assert!(!s.is_empty(), "empty insert in {op:?}");
                target += s.chars().count() as u128;
            }
        }
        if let Some(p) = previous {
            assert!(
                std::mem::discriminant(p) != std::mem::discriminant(c),
                "adjacent components of one kind in {op:?}"
            );
            assert!(
                !matches!((p, c), (Component::Delete(_), Component::Insert(_))),
                "an insert after a delete in {op:?}"
            );
        }
        previous = Some(c);
    }
    assert_eq!(base, op.base_len() as u128, "base length of {op:?}");
    assert_eq!(target, op.target_len() as u128, "target length of {op:?}");
}

/// What decodes can be stored by either database: counters fit an `i64` and no string
/// holds U+0000 (`pairprog_protocol::checked`).
fn assert_storable(message: &ClientMessage, text: &str) {
    let max = pairprog_protocol::checked::MAX_COUNTER;
    let (counters, strings): (Vec<u64>, Vec<&str>) = match message {
        ClientMessage::Hello {
            name, client_key, ..
        } => (
            vec![],
            [Some(name.as_str()), client_key.as_deref()]
                .into_iter()
                .flatten()
                .collect(),
        ),
        ClientMessage::Open {
            path,
            language,
            text,
            revision,
        } => (
            revision.iter().copied().collect(),
            [Some(path.as_str()), language.as_deref(), text.as_deref()]
                .into_iter()
                .flatten()
                .collect(),
        ),
        ClientMessage::Close { path } | ClientMessage::Cursor { path, .. } => {
            (vec![], vec![path.as_str()])
        }
        ClientMessage::Op {
            path,
            base,
            seq,
            op,
            ..
        } => (
            vec![*base, *seq],
            std::iter::once(path.as_str())
                .chain(op.components().iter().filter_map(|c| match c {
                    Component::Insert(s) => Some(s.as_str()),
                    _ => None,
                }))
                .collect(),
        ),
    };
    assert!(
        counters.iter().all(|c| *c <= max),
        "a counter past 2^63 - 1 in {text}"
    );
    assert!(
        strings.iter().all(|s| !s.contains('\0')),
        "a NUL decoded from {text}"
    );
}

/// The WebSocket decoder: what `relay/src/ws.rs` does with each text frame.
pub fn check_ws_message(bytes: &[u8]) {
    // The WebSocket layer hands the relay only valid UTF-8 text frames.
    let text = String::from_utf8_lossy(bytes);
    if text.len() > MESSAGE_LIMIT {
        // The relay answers `message_too_large` without parsing; nothing to fuzz here.
        return;
    }
    match serde_json::from_str::<ClientMessage>(&text) {
        Ok(message) => {
            MESSAGES_OK.fetch_add(1, Ordering::Relaxed);
            let size = footprint(&message);
            assert!(
                size <= 16 * text.len() + 64,
                "a {}-byte message decoded into about {size} bytes",
                text.len()
            );
            if let ClientMessage::Op { op, .. } = &message {
                assert_normalised(op);
            }
            assert_storable(&message, &text);
            if let ClientMessage::Hello {
                client_key: Some(key),
                ..
            } = &message
            {
                assert!(
                    pairprog_protocol::identity::check_client_key(key).is_ok(),
                    "a client key of the wrong form decoded from {text}"
                );
            }
            // What was read is what the protocol writes back: no field is lost or
            // invented on the way in.
            let again = serde_json::to_string(&message).expect("a decoded message serialises");
            let reread: ClientMessage =
                serde_json::from_str(&again).expect("a serialised message decodes");
            assert_eq!(reread, message, "round trip of {again}");
        }
        Err(e) => {
            MESSAGES_REFUSED.fetch_add(1, Ordering::Relaxed);
            assert!(!e.to_string().is_empty(), "an error without a message");
        }
    }
}

/// A document, the operations that built its revisions, and one operation to submit.
#[derive(Clone, Debug)]
pub struct OperationCase {
    pub text: String,
    pub history: Vec<Value>,
    pub history_limit: usize,
    pub base: u64,
    /// The operation's JSON text, kept as bytes so byte mutations reach the decoder.
    pub op: Vec<u8>,
}

impl OperationCase {
    /// Reads `{"text","history","historyLimit","base","op"}`; `"opText"` (a string)
    /// replaces `"op"` for operations that are not JSON, as failures are saved.
    pub fn from_corpus_bytes(bytes: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let text = value["text"].as_str().ok_or("no text")?.to_owned();
        let history = match &value["history"] {
            Value::Null => Vec::new(),
            Value::Array(items) => items.clone(),
            _ => return Err("history is not an array".into()),
        };
        let history_limit = value["historyLimit"].as_u64().unwrap_or(16) as usize;
        let base = value["base"].as_u64().unwrap_or(history.len() as u64);
        let op = match (&value["opText"], &value["op"]) {
            (Value::String(s), _) => s.clone().into_bytes(),
            (_, Value::Null) => return Err("no op".into()),
            (_, op) => serde_json::to_vec(op).map_err(|e| e.to_string())?,
        };
        Ok(Self {
            text,
            history,
            history_limit,
            base,
            op,
        })
    }

    pub fn to_corpus_bytes(&self) -> Vec<u8> {
        let value = json!({
            "text": self.text,
            "history": self.history,
            "historyLimit": self.history_limit,
            "base": self.base,
            "opText": String::from_utf8_lossy(&self.op),
        });
        serde_json::to_vec_pretty(&value).unwrap_or_default()
    }

    /// The model's text at each revision: the history operations that fit, in order.
    fn revisions(&self) -> Vec<String> {
        let mut texts = vec![self.text.clone()];
        for h in &self.history {
            let last = texts.last().expect("at least the first text");
            if let Some(next) = model::read_wire(h).and_then(|s| model::apply(&s, last)) {
                texts.push(next);
            }
        }
        texts
    }

    pub fn mutate(&mut self, rng: &mut Rng, other: &OperationCase) {
        match rng.below(8) {
            0..=2 => mutate::mutate_bytes(rng, &mut self.op, &other.op),
            3 | 4 => {
                // An operation that fits the document at `base`, sometimes off by one:
                // the boundary between valid and invalid is where bugs live.
                let texts = self.revisions();
                let base = (self.base as usize).min(texts.len() - 1);
                let mut op = random_fitting_op(rng, &texts[base]);
                if rng.chance(3) {
                    mutate::mutate_value(rng, &mut op, 0);
                }
                self.op = serde_json::to_vec(&op).unwrap_or_default();
            }
            5 => {
                let revisions = self.revisions().len() as u64;
                self.base = rng.below(revisions as usize + 2) as u64;
            }
            6 => {
                let texts = self.revisions();
                let last = texts.last().expect("at least the first text");
                self.history.push(random_fitting_op(rng, last));
                self.history_limit = 1 + rng.below(4);
            }
            _ => {
                let mut chars: Vec<char> = self.text.chars().collect();
                let at = rng.below(chars.len() + 1);
                let insert: Vec<char> = rng.pick(mutate::STRINGS).chars().collect();
                chars.splice(at..at, insert);
                self.text = chars.into_iter().collect();
            }
        }
    }
}

/// A random wire operation that walks exactly `text`, not normalised.
fn random_fitting_op(rng: &mut Rng, text: &str) -> Value {
    let len = text.chars().count();
    let mut items = Vec::new();
    let mut pos = 0;
    while pos < len || (items.len() < 2 && rng.chance(2)) {
        match rng.below(3) {
            0 if pos < len => {
                let n = 1 + rng.below(len - pos);
                items.push(json!(n));
                pos += n;
            }
            1 if pos < len => {
                let n = 1 + rng.below((len - pos).min(4));
                items.push(json!(-(n as i64)));
                pos += n;
            }
            _ => {
                let s = rng.pick(mutate::STRINGS);
                if !s.is_empty() {
                    items.push(json!(s));
                }
            }
        }
    }
    Value::Array(items)
}

/// Sums retains and deletes without overflow: the decoder refuses more than `i64::MAX`.
fn too_long(steps: &[WireStep]) -> bool {
    let (mut base, mut target) = (0u128, 0u128);
    for s in steps {
        match s {
            WireStep::Retain(n) => {
                base += *n as u128;
                target += *n as u128;
            }
            WireStep::Delete(n) => base += *n as u128,
            WireStep::Insert(s) => target += s.chars().count() as u128,
        }
    }
    base > i64::MAX as u128 || target > i64::MAX as u128
}

/// Operation validation: what the relay's document owner does with a submitted `op`.
pub fn check_operation(case: &OperationCase) {
    let mut seq = Sequencer::new(Rope::from_str(&case.text), 0, case.history_limit);
    let limit = case.history_limit.max(1) as u64;
    let mut texts = vec![case.text.clone()];
    // Build the revisions through the code under test, checking each step on the way.
    for h in &case.history {
        let expected = model::read_wire(h).and_then(|s| model::apply(&s, texts.last().unwrap()));
        let decoded = serde_json::from_value::<Operation>(h.clone());
        let revision = seq.revision();
        match (decoded, expected) {
            (Ok(op), Some(next)) => {
                seq.submit(&op, revision)
                    .expect("a fitting history operation");
                assert_eq!(seq.text().to_string(), next, "history operation {h}");
                texts.push(next);
            }
            (Ok(op), None) => {
                let before = seq.text().to_string();
                assert!(seq.submit(&op, revision).is_err(), "{h} should not fit");
                assert_eq!(seq.text().to_string(), before);
                assert_eq!(seq.revision(), revision);
            }
            (Err(_), _) => {}
        }
    }

    let op_text = String::from_utf8_lossy(&case.op);
    let wire = serde_json::from_str::<Value>(&op_text)
        .ok()
        .and_then(|v| model::read_wire(&v));
    let op = match serde_json::from_str::<Operation>(&op_text) {
        Ok(op) => {
            let steps = wire
                .as_ref()
                .unwrap_or_else(|| panic!("the decoder accepted {op_text}, the model did not"));
            assert!(!too_long(steps));
            assert_normalised(&op);
            op
        }
        Err(e) => {
            OPERATIONS_UNDECODABLE.fetch_add(1, Ordering::Relaxed);
            assert!(!e.to_string().is_empty());
            if let Some(steps) = &wire {
                assert!(
                    too_long(steps),
                    "the decoder refused {op_text} ({e}), the model accepts it"
                );
            }
            return;
        }
    };
    let steps = wire.expect("checked above");
    let revision = seq.revision();
    let text_now = seq.text().to_string();

    // Straight application to the current text, through `commit` on a copy: it either
    // gives the model's text or refuses and leaves the document exactly as it was.
    let mut probe = seq.clone();
    match (probe.commit(op.clone()), model::apply(&steps, &text_now)) {
        (Ok(r), Some(expected)) => {
            assert_eq!(r, revision + 1);
            assert_eq!(probe.text().to_string(), expected, "commit of {op_text}");
            assert_eq!(op.apply_str(&text_now).as_deref(), Ok(expected.as_str()));
        }
        (Err(e), None) => {
            assert!(!e.to_string().is_empty());
            assert_eq!(probe.text().to_string(), text_now);
            assert_eq!(probe.revision(), revision);
            assert!(op.apply_str(&text_now).is_err());
        }
        (got, expected) => panic!(
            "commit of {op_text} to {text_now:?}: the relay says {got:?}, the model {expected:?}"
        ),
    }

    // Submission at `base`, as a client sends it.
    let base = case.base;
    let result = seq.rebase(&op, base);
    if base > revision {
        assert!(
            matches!(result, Err(SequenceError::FutureRevision { .. })),
            "{result:?}"
        );
        OPERATIONS_INVALID.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if base < revision - limit.min(revision) {
        assert!(
            matches!(result, Err(SequenceError::HistoryTrimmed { .. })),
            "{result:?}"
        );
        OPERATIONS_INVALID.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let Some(after_base) = model::apply(&steps, &texts[base as usize]) else {
        let e = result.expect_err("an operation that does not fit its base revision");
        assert!(matches!(e, SequenceError::Operation(_)), "{e:?}");
        assert!(!e.to_string().is_empty());
        assert_eq!(
            seq.text().to_string(),
            text_now,
            "a refused rebase changed the text"
        );
        OPERATIONS_INVALID.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let rebased = result.unwrap_or_else(|e| panic!("{op_text} at base {base} refused: {e}"));
    // The expected text: the operation applied at its base, then everything committed
    // since, each transformed past it (the other path round the OT square).
    let mut expected = after_base;
    let mut pending = op.clone();
    for committed in &case_committed(case, &texts)[base as usize..] {
        let (next, committed_past) =
            Operation::transform(&pending, committed).expect("both fit the same revision");
        let wire = serde_json::to_value(&committed_past).expect("an operation serialises");
        let steps = model::read_wire(&wire).expect("a serialised operation is well formed");
        expected = model::apply(&steps, &expected).expect("a transformed operation fits");
        pending = next;
    }
    assert_eq!(rebased, pending, "rebase of {op_text} from {base}");
    let new_revision = seq.commit(rebased).expect("a rebased operation fits");
    assert_eq!(new_revision, revision + 1);
    assert_eq!(seq.text().to_string(), expected, "{op_text} at base {base}");
    OPERATIONS_VALID.fetch_add(1, Ordering::Relaxed);
}

/// The history operations that were committed, decoded, one per revision.
fn case_committed(case: &OperationCase, texts: &[String]) -> Vec<Operation> {
    let mut committed = Vec::new();
    for h in &case.history {
        let Some(text) = texts.get(committed.len()) else {
            break;
        };
        let fits = model::read_wire(h).and_then(|s| model::apply(&s, text));
        if let (Some(_), Ok(op)) = (fits, serde_json::from_value::<Operation>(h.clone())) {
            committed.push(op);
        }
    }
    committed
}
