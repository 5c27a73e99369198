//! One live document: a pure core and the task that owns it.
//!
//! - `types.rs`: the plain data the core takes and gives (submits, log entries, effects,
//!   commit outcomes).
//! - `core.rs`, `batch.rs`, `outcome.rs`: [`DocCore`], the synchronous state machine
//!   (sequencer, client deduplication, subscribers, cursors, the batches in flight,
//!   checkpoint and restore).
//!   It imports nothing async and nothing of the store: inputs in, effects out.
//! - `env.rs`: what the owner works with ([`DocEnv`]) and the room it reports to
//!   ([`Host`], implemented by `room.rs`), so this module names no layer above it.
//! - `owner.rs`: the owner task, the thin async shell that feeds the core the commands
//!   connections send, performs its effects (sends, commits through the committer, log
//!   reads, snapshots) and hands it their results; `pipeline.rs` hands the core's batches
//!   to the committer and feeds their answers back in order; `settle.rs` holds its recovery paths
//!   (a lost race, an unknown commit outcome) and `convert.rs` maps store records.
//! - `sim/` (tests only): the deterministic simulator that drives the same core with a
//!   seed against a simulated store that fails, stalls and loses the relay's memory.
//!
//! Dependency rule: `types` ← `core`/`batch` ← `owner`; the core never names `owner`,
//! `crate::store`, `crate::room`, `crate::state`, tokio or sqlx. The module as a whole
//! names nothing above it (`room`, `cluster`, `state`, `ws`, `rest`): only `member`,
//! `bus`, `committer`, `store`, `config`, `metrics` and `clock`.

mod batch;
mod convert;
mod core;
mod env;
mod in_commit;
mod outcome;
mod owner;
mod pipeline;
mod settle;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
pub mod types;

use pairprog_protocol::bus::BusOp;
use pairprog_protocol::messages::{CursorInfo, Selection};
use tokio::sync::oneshot;

pub use self::batch::{Next, MAX_RACES, PIPELINE};
pub use self::core::{CoreConfig, DocCore};
pub use self::env::{DocEnv, Host};
pub use self::owner::spawn;
pub use self::types::{
    CommitOutcome, CommitRequest, DocId, DocView, Effect, Failure, Loaded, LogEntry, Lookup,
    LostTrack, ProtoError, SubmitCommand,
};
pub use crate::clock::now_ms;
use crate::member::Member;
use crate::store::DocumentId;

pub enum DocCommand {
    /// Subscribe `member`, creating the document from `text` if it does not exist.
    Open {
        member: Member,
        language: Option<String>,
        text: Option<String>,
        revision: Option<u64>,
        reply: oneshot::Sender<Result<(), ProtoError>>,
    },
    Close {
        participant_id: String,
    },
    Submit(SubmitCommand),
    Cursor {
        participant_id: String,
        selections: Vec<Selection>,
        /// The revision the offsets refer to, when the client named it.
        revision: Option<u64>,
    },
    /// The current text, for REST.
    Read {
        reply: oneshot::Sender<Result<DocView, ReadError>>,
    },
    /// Operations another relay committed.
    Replicated {
        document: DocumentId,
        ops: Replicated,
    },
    /// Read whatever the log holds beyond our revision (notifications may have been lost).
    CatchUp,
    /// A cursor of a participant connected to another relay.
    RemoteCursor(CursorInfo),
}

/// What another relay announced it committed.
pub enum Replicated {
    /// The operations themselves, in revision order.
    Ops(Vec<BusOp>),
    /// Only that revisions up to `last` exist: too large for a notification.
    InLog { last: u64 },
}

#[derive(Debug)]
pub enum ReadError {
    NotFound,
    Storage(String),
}
