//! The owner's side of the pipelined core: it hands the core's batches to the committer
//! as soon as they are sequenced (at most [`super::PIPELINE`] in flight), and feeds their
//! answers back in the order it handed them, which is the order the core expects.
//!
//! When the oldest batch did not commit, the core takes back every later batch too; the
//! committer answers those as not written (it writes nothing of a document after a batch
//! that did not commit), and those "stale" answers are fed in before the owner acts on
//! the failure (a race, an unknown outcome), so nothing it hands out afterwards can meet
//! an older copy of itself in the committer.

use std::time::Instant;

use super::convert::append_batch;
use super::in_commit::InCommit;
use super::owner::Owner;
use super::{now_ms, CommitOutcome, Next};
use crate::committer::outcome_of;
use crate::store::DocumentLock;

impl Owner {
    /// Hands every batch the core sequences to the committer, each after the one before
    /// it (so the committer keeps their order), until the core has nothing more or its
    /// pipeline is full.
    pub(super) async fn pump(&mut self) {
        loop {
            let mut fx = Vec::new();
            let request = self.core.next_commit(now_ms(), &mut fx);
            self.perform(fx);
            let Some(request) = request else { break };
            let rows = request.ops.len();
            let after = self.pending.back().map(|c| c.handed.id);
            let handed = self.env.committer.hand(append_batch(request), after).await;
            self.pending.push_back(InCommit {
                handed,
                rows,
                started: Instant::now(),
            });
        }
        debug_assert_eq!(self.pending.len(), self.core.batches_in_flight());
    }

    /// Takes in the answer for the oldest batch in flight (popped here), follows what
    /// the core asks for, then hands it whatever it can sequence now.
    pub(super) async fn settle_oldest(&mut self, outcome: CommitOutcome) {
        let Some(commit) = self.pending.pop_front() else {
            return;
        };
        self.record(&commit, &outcome);
        let mut fx = Vec::new();
        let next = self.core.outcome(outcome, &mut fx);
        self.perform(fx);
        match next {
            Next::Done => {}
            Next::LostTrack => {
                self.lost_track("a batch taken back was committed").await;
            }
            Next::Race => {
                if self.drain_stale().await {
                    let lock = self.race().await;
                    self.commit_locked(lock).await;
                }
            }
            Next::Resolve { since } => {
                if self.drain_stale().await {
                    self.resolve(since).await;
                }
            }
        }
        self.pump().await;
        self.snapshot_if_behind(self.env.config.snapshot_every)
            .await;
    }

    /// Waits for every batch in flight to be answered and settled (and for whatever the
    /// core sequences meanwhile from what it already holds): for what needs the durable
    /// state with nothing on top (an open, the log applied, a catch-up, shutdown).
    pub(super) async fn quiesce(&mut self) {
        while let Some(commit) = self.pending.front_mut() {
            let outcome = commit.handed.outcome().await;
            self.settle_oldest(outcome).await;
        }
    }

    /// Feeds the core the answers of the batches it took back. False if one of them
    /// says it committed after all: the owner then lost track and reloaded.
    async fn drain_stale(&mut self) -> bool {
        let mut on_track = true;
        while self.core.stale() > 0 {
            let Some(mut commit) = self.pending.pop_front() else {
                break;
            };
            let outcome = commit.handed.outcome().await;
            let mut fx = Vec::new();
            on_track &= self.core.outcome(outcome, &mut fx) != Next::LostTrack;
            self.perform(fx);
        }
        if !on_track {
            self.lost_track("a batch taken back was committed").await;
        }
        on_track
    }

    /// After a lost race on Postgres: commits what the core sequences under the
    /// document's append lock, held from reading the log to appending on top of it, so
    /// the revisions cannot be taken twice. One batch at a time: nothing else of this
    /// document is in flight meanwhile.
    async fn commit_locked(&mut self, mut locked: Option<DocumentLock>) {
        while let Some(lock) = locked.take() {
            let mut fx = Vec::new();
            let request = self.core.next_commit(now_ms(), &mut fx);
            self.perform(fx);
            let Some(request) = request else { break };
            let rows = request.ops.len();
            let started = Instant::now();
            let outcome = match lock.append(&append_batch(request)).await {
                Ok(()) => CommitOutcome::Committed,
                Err(e) => outcome_of(&e),
            };
            if outcome == CommitOutcome::Committed {
                self.env.metrics.record_commit(rows, started.elapsed());
            }
            let mut fx = Vec::new();
            let next = self.core.outcome(outcome, &mut fx);
            self.perform(fx);
            match next {
                Next::Done => {}
                Next::Race => locked = self.race().await,
                Next::Resolve { since } => self.resolve(since).await,
                Next::LostTrack => self.lost_track("a batch taken back was committed").await,
            }
        }
    }

    fn record(&self, commit: &InCommit, outcome: &CommitOutcome) {
        if *outcome == CommitOutcome::Committed {
            self.env
                .metrics
                .record_commit(commit.rows, commit.started.elapsed());
        } else {
            tracing::warn!(room = %self.host.room_id(), path = %self.core.path(), ?outcome, "commit failed");
        }
    }
}
