//! The owner's pipeline as the simulator drives it (`pipeline.rs` and the committer):
//! batches are handed out as the core sequences them and answered oldest first, with
//! faults; once one is answered as not committed, the committer answers every batch
//! after it as not written without trying it (what `committer.rs` promises), except
//! the batches that had joined its unit (one statement): those share its fate, so after
//! an unknown outcome they may be in the log too. The core must have taken exactly those
//! back, and settles them from the log.

use super::world::{chance, mix, Handed, World};
use crate::document::{CommitOutcome, CommitRequest, Failure, Next, PIPELINE};

/// Reads of the log to settle an unknown outcome before giving up (as `settle.rs`).
const RESOLVE_ATTEMPTS: u32 = 5;

fn not_written() -> CommitOutcome {
    CommitOutcome::FailedBeforeCommit(Failure::Unavailable(
        "an earlier batch of the document was not committed".to_owned(),
    ))
}

impl World {
    /// Hands every batch the core sequences to the committer (`Owner::pump`), checking
    /// the pipeline's bound; under the append lock, commits it at once instead.
    pub(super) fn pump(&mut self, r: u64) -> Result<(), String> {
        let mut r = r;
        loop {
            let mut fx = Vec::new();
            let request = self.core.next_commit(self.now, &mut fx);
            self.perform(fx)?;
            let Some(request) = request else { break };
            r = mix(r);
            if self.locked {
                // Under the append lock: one batch, committed before anything else.
                if !self.commits.is_empty() {
                    return Err("a commit under the append lock with others in flight".into());
                }
                let outcome = self.append(request, r, true);
                self.locked = false;
                self.settle(outcome, r)?;
                continue;
            }
            let steps = if self.faults && chance(r, 1, 12) {
                self.stats.stalls += 1;
                (r >> 40) as u8 % 6
            } else {
                0
            };
            if !self.commits.is_empty() {
                self.stats.pipelined += 1;
            }
            self.commits.push_back(Handed {
                request,
                steps,
                fate: None,
            });
            if self.commits.len() > PIPELINE {
                return Err(format!("{} batches in flight", self.commits.len()));
            }
        }
        // Nothing more to commit: the append lock, if held, is released.
        self.locked = false;
        if let Some((_, text, revision)) = self.core.snapshot_due(8) {
            if !(self.faults && chance(r, 1, 10)) {
                self.store.write_snapshot(text, revision);
                self.core.snapshot_written(revision);
            }
        }
        Ok(())
    }

    /// The oldest batch's answer, fed to the core, then whatever the core sequences.
    pub(super) fn complete(&mut self, r: u64) -> Result<(), String> {
        let Some(outcome) = self.answer_oldest(r) else {
            return Ok(());
        };
        self.settle(outcome, r)?;
        self.pump(r)
    }

    /// What the committer answers for the oldest batch in flight (and writes).
    pub(super) fn answer_oldest(&mut self, r: u64) -> Option<CommitOutcome> {
        let handed = self.commits.pop_front()?;
        if let Some(fate) = handed.fate {
            return Some(fate);
        }
        let written_before = self.store.revision();
        let outcome = self.append(handed.request, r, false);
        if outcome != CommitOutcome::Committed {
            // The batches that joined its unit (one statement) share its fate: written
            // with it when it was. The rest are never tried.
            let written = self.store.revision() > written_before;
            let joined = if chance(mix(r), 1, 2) {
                (r >> 48) as usize % (self.commits.len() + 1)
            } else {
                0
            };
            for (i, later) in self.commits.iter_mut().enumerate() {
                later.fate = Some(match &outcome {
                    CommitOutcome::OutcomeUnknown(why) if i < joined => {
                        if written && self.store.check(&later.request).is_ok() {
                            self.store.append(&later.request.ops);
                            self.stats.shared_unknown += 1;
                        }
                        CommitOutcome::OutcomeUnknown(why.clone())
                    }
                    _ => not_written(),
                });
            }
        }
        Some(outcome)
    }

    /// Waits for every batch in flight, as the owner does before an open or applying
    /// the log.
    pub(super) fn quiesce(&mut self, r: u64) -> Result<(), String> {
        let mut r = r;
        while !self.commits.is_empty() {
            r = mix(r);
            self.complete(r)?;
        }
        Ok(())
    }

    /// The store's answer to an append: the checks it makes, then a fault or success.
    pub(super) fn append(&mut self, request: CommitRequest, r: u64, locked: bool) -> CommitOutcome {
        if let Err(refused) = self.store.check(&request) {
            return refused;
        }
        if !self.faults || locked {
            self.store.append(&request.ops);
            return CommitOutcome::Committed;
        }
        match (r >> 8) % 100 {
            0..=7 => CommitOutcome::FailedBeforeCommit(Failure::Unavailable(
                "connection refused".to_owned(),
            )),
            8..=15 => {
                self.store.append(&request.ops);
                CommitOutcome::OutcomeUnknown("connection reset during COMMIT".to_owned())
            }
            16..=21 => CommitOutcome::OutcomeUnknown("connection reset before COMMIT".to_owned()),
            _ => {
                self.store.append(&request.ops);
                CommitOutcome::Committed
            }
        }
    }

    /// Feeds an answer to the core and follows what it asks for (`Owner::settle_oldest`).
    pub(super) fn settle(&mut self, outcome: CommitOutcome, r: u64) -> Result<(), String> {
        let stale = self.core.stale() > 0;
        let committed = outcome == CommitOutcome::Committed;
        match &outcome {
            _ if stale => self.stats.taken_back += 1,
            CommitOutcome::Committed => {}
            CommitOutcome::OutcomeUnknown(_) => self.stats.unknown += 1,
            CommitOutcome::FailedBeforeCommit(Failure::Conflict) => self.stats.races += 1,
            CommitOutcome::FailedBeforeCommit(Failure::Rejected(_)) => self.stats.refused += 1,
            CommitOutcome::FailedBeforeCommit(Failure::Unavailable(_)) => self.stats.failed += 1,
        }
        let mut fx = Vec::new();
        let next = self.core.outcome(outcome, &mut fx);
        self.perform(fx)?;
        if !stale && !committed && self.core.stale() != self.commits.len() {
            return Err(format!(
                "the core took back {} batches, {} were in flight after the one answered",
                self.core.stale(),
                self.commits.len()
            ));
        }
        match next {
            Next::Done => Ok(()),
            Next::LostTrack => {
                self.drain_stale()?;
                self.lost_track()
            }
            Next::Race => {
                self.drain_stale()?;
                // Take the append lock, read what was missed, sequence again on top.
                if self.apply_missed()? {
                    self.locked = true;
                }
                Ok(())
            }
            Next::Resolve { since } => {
                self.drain_stale()?;
                let mut r = r;
                for _ in 0..RESOLVE_ATTEMPTS {
                    r = mix(r);
                    if self.faults && chance(r, 1, 3) {
                        continue;
                    }
                    let mut fx = Vec::new();
                    let resolved = self.core.resolve(self.store.since(since), &mut fx);
                    self.perform(fx)?;
                    return if resolved.is_err() {
                        self.lost_track()
                    } else {
                        Ok(())
                    };
                }
                self.lost_track()
            }
        }
    }

    /// Feeds the core the answers of the batches it took back (`Owner::drain_stale`).
    fn drain_stale(&mut self) -> Result<(), String> {
        while self.core.stale() > 0 {
            let Some(handed) = self.commits.pop_front() else {
                return Err("the core waits for an answer nothing in flight owes".into());
            };
            let Some(fate) = handed.fate else {
                return Err("the core took back a batch the committer may still write".into());
            };
            self.stats.taken_back += 1;
            let mut fx = Vec::new();
            let next = self.core.outcome(fate, &mut fx);
            self.perform(fx)?;
            if next != Next::Done {
                return Err(format!("a batch not written settled as {next:?}"));
            }
        }
        Ok(())
    }
}
