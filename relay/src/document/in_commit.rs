//! A batch the owner handed to the committer and is waiting on: kept apart from the
//! owner's loop (`owner.rs`) and its pipeline (`pipeline.rs`), which both use it.

use std::collections::VecDeque;
use std::time::Instant;

use super::CommitOutcome;
use crate::committer::Handed;

/// A batch handed to the committer, with what its commit metric needs.
pub(super) struct InCommit {
    pub(super) handed: Handed,
    pub(super) rows: usize,
    pub(super) started: Instant,
}

/// The answer for the oldest batch in flight. Cancel-safe: the answer waits in its
/// channel if another branch of the owner's `select!` wins.
pub(super) async fn next_outcome(pending: &mut VecDeque<InCommit>) -> CommitOutcome {
    match pending.front_mut() {
        Some(commit) => commit.handed.outcome().await,
        None => std::future::pending().await,
    }
}
