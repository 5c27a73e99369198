//! How the core settles the outcome of its oldest batch in flight. Answers come back in
//! the order the batches were handed out (the committer keeps each document's order, see
//! `committer.rs`), so the oldest batch is always the one answered.
//!
//! - Committed: its ops become durable, then (only then) their authors are acknowledged
//!   and the other subscribers hear of them, in revision order.
//! - Failed before commit: the batch is taken back, and with it every batch sequenced
//!   after it (the sequencer restored to its checkpoint): they were sequenced on top of
//!   it, and the committer writes none of them once it did not commit. A lost race with
//!   another relay sequences them all again on top of what the log holds; rows the store
//!   refused are split in halves until the offending operation stands alone, so it never
//!   takes the others with it, and the later batches are sequenced again after the
//!   halves; an unreachable store makes every sender of them resend.
//! - Outcome unknown: the later batches are taken back and queued again; nothing is
//!   answered until the log says what it holds of the oldest (`resolve`): that is
//!   announced like any committed operation, the rest refused. The later batches were
//!   not written, unless they shared the oldest one's statement (a committer unit): then
//!   the log holds them too, they are announced with it, and their queued copies are
//!   skipped as answered.
//!
//! The answers still due for batches taken back are "stale": the shell feeds them in
//! before anything else, and nothing new is handed to the store until they are in.

use pairprog_protocol::messages::{ErrorCode, ServerMessage};

use super::batch::{Next, MAX_RACES};
use super::core::DocCore;
use super::types::{
    unavailable, CommitOutcome, Effect, Failure, InFlight, LogEntry, LostTrack, Pending,
    ProtoError, SubmitCommand,
};

impl DocCore {
    /// Takes in how the oldest batch in flight ended (or, while [`Self::stale`] is not
    /// zero, the answer for a batch already taken back).
    pub fn outcome(&mut self, outcome: CommitOutcome, out: &mut Vec<Effect>) -> Next {
        if self.stale > 0 {
            self.stale -= 1;
            // The committer writes nothing after a batch of the same document that did
            // not commit. If it did anyway, the log holds rows the core took back: only
            // a reload can say what the document is.
            return match outcome {
                CommitOutcome::Committed => Next::LostTrack,
                _ => Next::Done,
            };
        }
        let Some(flight) = self.in_flight.pop_front() else {
            return Next::Done;
        };
        match outcome {
            CommitOutcome::Committed => {
                self.races = 0;
                for p in &flight.ops {
                    if let Some(doc) = &mut self.doc {
                        doc.clients.insert(
                            p.entry.client_id.clone(),
                            (p.entry.client_seq, p.entry.revision),
                        );
                    }
                    self.announce(&p.entry, out);
                }
                Next::Done
            }
            CommitOutcome::OutcomeUnknown(_) => {
                let later = self.take_back_all();
                if !later.is_empty() {
                    self.backlog.push_front(resubmits(later));
                }
                let since = flight.checkpoint.revision();
                self.in_flight.push_front(flight);
                self.resolving = true;
                Next::Resolve { since }
            }
            CommitOutcome::FailedBeforeCommit(failure) => {
                #[cfg(test)]
                let later = if self.fault == super::core::Fault::KeepLaterBatches {
                    Vec::new()
                } else {
                    self.take_back_all()
                };
                #[cfg(not(test))]
                let later = self.take_back_all();
                let ops = self.take_back(flight);
                match failure {
                    Failure::Conflict if self.races < MAX_RACES => {
                        self.races += 1;
                        let mut all = ops;
                        all.extend(later);
                        self.backlog.push_front(resubmits(all));
                        Next::Race
                    }
                    Failure::Rejected(_) if ops.len() > 1 => {
                        // Split so the operation at fault ends up alone: at most
                        // log2(batch) more commits, and every other one goes through.
                        if !later.is_empty() {
                            self.backlog.push_front(resubmits(later));
                        }
                        let mut first = ops;
                        let second = first.split_off(first.len() / 2);
                        self.backlog.push_front(resubmits(second));
                        self.backlog.push_front(resubmits(first));
                        Next::Done
                    }
                    Failure::Rejected(why) => {
                        let error = ProtoError::new(
                            ErrorCode::InvalidOperation,
                            format!("the store refused this operation ({why}); it was not applied"),
                        );
                        self.refuse(&ops, error, out);
                        if !later.is_empty() {
                            self.backlog.push_front(resubmits(later));
                        }
                        Next::Done
                    }
                    Failure::Conflict => {
                        let error = unavailable("other relays kept taking its revisions");
                        self.refuse(&ops, error.clone(), out);
                        self.refuse(&later, error, out);
                        Next::Done
                    }
                    Failure::Unavailable(why) => {
                        // Nobody is at fault: everyone whose operation was on its way to
                        // the unreachable store resends.
                        self.refuse(&ops, unavailable(&why), out);
                        self.refuse(&later, unavailable(&why), out);
                        Next::Done
                    }
                }
            }
        }
    }

    /// Settles an unknown outcome from the log after the batch's checkpoint. What the log
    /// holds is applied and announced (its authors acknowledged); operations of the batch
    /// it does not hold were not committed and are refused. An error reading the log
    /// leaves the batch unsettled: the shell reads again, or gives up with
    /// [`DocCore::lost_track`].
    pub fn resolve(&mut self, log: Vec<LogEntry>, out: &mut Vec<Effect>) -> Result<(), LostTrack> {
        let Some(flight) = self.in_flight.pop_front() else {
            return Ok(());
        };
        debug_assert!(
            self.in_flight.is_empty(),
            "batches after an unknown outcome"
        );
        self.resolving = false;
        let ops = self.take_back(flight);
        let found = |p: &Pending| {
            log.iter()
                .any(|e| e.client_id == p.submit.client_id && e.client_seq == p.submit.seq)
        };
        let (committed, lost): (Vec<Pending>, Vec<Pending>) = ops.into_iter().partition(found);
        self.apply_log(&log, out)?;
        for p in &committed {
            // Waiters with the operation's client id were acknowledged by the announce.
            let revision = self
                .doc
                .as_ref()
                .and_then(|d| d.clients.get(&p.submit.client_id))
                .map(|c| c.1);
            for w in &p.waiters {
                let same_client = self
                    .subscribers
                    .get(w)
                    .is_some_and(|s| s.client_id == p.submit.client_id);
                if let (false, Some(revision)) = (same_client, revision) {
                    let ack = ServerMessage::Ack {
                        path: self.config.path.clone(),
                        revision,
                        seq: p.submit.seq,
                    };
                    self.reply(w, ack, out);
                }
            }
        }
        self.refuse(&lost, unavailable("its commit failed"), out);
        Ok(())
    }

    /// Answers every submit still waiting to be sequenced: the store cannot be reached.
    pub fn refuse_backlog(&mut self, why: &str, out: &mut Vec<Effect>) {
        let error = unavailable(why);
        while let Some(batch) = self.backlog.pop_front() {
            for s in &batch {
                self.reply_error(s, error.clone(), out);
            }
        }
    }

    /// Takes back every batch still in flight (all sequenced after one that did not
    /// commit): the sequencer goes back to before the first of them, and their answers
    /// become stale. Returns their operations, oldest first.
    fn take_back_all(&mut self) -> Vec<Pending> {
        let Some(first) = self.in_flight.front() else {
            return Vec::new();
        };
        if let Some(doc) = &mut self.doc {
            doc.seq.restore(first.checkpoint.clone());
        }
        self.stale += self.in_flight.len();
        self.in_flight.drain(..).flat_map(|f| f.ops).collect()
    }

    /// Restores the sequencer to before the batch and returns its operations.
    fn take_back(&mut self, flight: InFlight) -> Vec<Pending> {
        if let Some(doc) = &mut self.doc {
            doc.seq.restore(flight.checkpoint);
        }
        flight.ops
    }

    /// Gives every sender of `ops`, duplicates included, the same refusal.
    fn refuse(&self, ops: &[Pending], error: ProtoError, out: &mut Vec<Effect>) {
        for p in ops {
            self.reply_error(&p.submit, error.clone(), out);
            for w in &p.waiters {
                let msg = error.to_message(Some(&self.config.path), Some(p.submit.seq));
                self.reply(w, msg, out);
            }
        }
    }
}

/// The submits behind `ops` (duplicates included), to sequence again.
fn resubmits(ops: Vec<Pending>) -> Vec<SubmitCommand> {
    let mut again = Vec::with_capacity(ops.len());
    for p in ops {
        for w in &p.waiters {
            let mut dup = p.submit.clone();
            dup.participant_id = w.clone();
            again.push(dup);
        }
        // The first copy goes before its duplicates.
        let at = again.len() - p.waiters.len();
        again.insert(at, p.submit);
    }
    again
}
