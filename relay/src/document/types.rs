//! The plain data the document core takes in and gives out. Nothing here knows of the
//! store, sockets or tasks: the shell (`owner.rs`) converts at the edge.

use pairprog_protocol::bus::BusMessage;
use pairprog_protocol::messages::{ErrorCode, ServerMessage};
use pairprog_protocol::{Checkpoint, Operation};

/// A document's key in the store, as the core sees it.
pub type DocId = i64;

/// One edit a client sent: `op` made against revision `base`, the client's `seq`-th.
#[derive(Clone, Debug)]
pub struct SubmitCommand {
    pub participant_id: String,
    pub client_id: String,
    pub seq: u64,
    pub base: u64,
    pub op: Operation,
}

/// What the log says of a (client id, seq): the revision it was committed as, if it
/// was, or why the log could not be read.
pub type Lookup = ((String, u64), Result<Option<u64>, String>);

/// One committed operation of the document's log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub revision: u64,
    pub author: String,
    pub client_id: String,
    pub client_seq: u64,
    pub operation: Operation,
    pub committed_at_ms: i64,
    pub participant_id: String,
}

/// A document as the store holds it: a snapshot and the log after it.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub id: DocId,
    pub language: String,
    pub snapshot: String,
    pub snapshot_revision: u64,
    pub operations: Vec<LogEntry>,
}

/// Rows to append to the log in one transaction, with the notice for other relays.
#[derive(Clone, Debug)]
pub struct CommitRequest {
    pub document: DocId,
    pub ops: Vec<LogEntry>,
    pub notice: Option<String>,
}

/// How an append ended, as far as the shell can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Durable.
    Committed,
    /// Nothing was written.
    FailedBeforeCommit(Failure),
    /// The rows may or may not be durable (e.g. the connection dropped during COMMIT):
    /// the log must say which before anyone hears anything.
    OutcomeUnknown(String),
}

/// Why an append wrote nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Another writer (relay) took some of these revisions first.
    Conflict,
    /// The store refused these rows: one of them is at fault, so the batch is split to
    /// find it and the others still commit.
    Rejected(String),
    /// The store could not be reached: nobody is at fault, everybody resends.
    Unavailable(String),
}

/// What the shell must do after the core took an input, in order.
#[derive(Clone, Debug)]
pub enum Effect {
    /// Send `msg` to each of these subscribers (participant ids).
    Send { to: Vec<String>, msg: ServerMessage },
    /// Close these subscribers' connections so they reconnect and resynchronise; the
    /// core has already forgotten them.
    Resync { to: Vec<String> },
    /// Tell the other relays.
    Publish(BusMessage),
}

/// An error for the peer that caused it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtoError {
    pub code: ErrorCode,
    pub message: String,
}

impl ProtoError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn to_message(&self, path: Option<&str>, seq: Option<u64>) -> ServerMessage {
        ServerMessage::Error {
            code: self.code,
            message: self.message.clone(),
            path: path.map(str::to_owned),
            seq,
        }
    }
}

/// The current text, for REST.
#[derive(Clone, Debug)]
pub struct DocView {
    pub path: String,
    pub language: String,
    pub text: String,
    pub revision: u64,
    pub document_id: DocId,
}

/// The store's log no longer continues from the core's revision, or holds an operation
/// that does not apply: the document must be reloaded.
#[derive(Clone, Debug, thiserror::Error)]
#[error("revision {revision}: {message}")]
pub struct LostTrack {
    pub revision: u64,
    pub message: String,
}

/// A batch sequenced in memory and handed to the store.
pub(super) struct InFlight {
    /// The sequencer before this batch, to take it (and every later batch) back.
    pub(super) checkpoint: Checkpoint,
    /// The text before this batch: for the oldest batch in flight, the durable text.
    pub(super) text: ropey::Rope,
    pub(super) ops: Vec<Pending>,
}

/// One operation of a batch in flight, with the participants that sent duplicates of
/// it meanwhile.
pub(super) struct Pending {
    pub(super) submit: SubmitCommand,
    pub(super) entry: LogEntry,
    pub(super) waiters: Vec<String>,
}

/// The error for an operation the store could not take: its sender resends it.
pub(super) fn unavailable(why: &str) -> ProtoError {
    ProtoError::new(
        ErrorCode::Unavailable,
        format!("the relay could not store the operation ({why}); resend it"),
    )
}
