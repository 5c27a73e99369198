//! A batch's life in the core: deduplicate and sequence submits in memory, hand them to
//! the store as one [`CommitRequest`], and settle its [`CommitOutcome`].
//!
//! - Committed: the ops become durable, then (only then) their authors are acknowledged
//!   and the other subscribers hear of them.
//! - Failed before commit: the batch is taken back (the sequencer restored to its
//!   checkpoint). A lost race with another relay sequences it again on top of what the
//!   log holds; rows the store refused are split in halves until the offending operation
//!   stands alone, so it never takes the others with it; an unreachable store makes
//!   every sender resend.
//! - Outcome unknown: nothing is answered until the log says what is in it (`resolve`);
//!   what the log holds is announced like any committed operation, the rest is refused.
//!
//! A duplicate of an operation in flight (same client id and seq) is not acknowledged
//! from memory: it waits for the first copy's outcome and gets the same answer.

use pairprog_protocol::messages::{ErrorCode, ServerMessage};
use pairprog_protocol::{Component, SequenceError};
use ropey::Rope;

use super::core::DocCore;
#[cfg(test)]
use super::core::Fault;
use super::types::{
    CommitOutcome, CommitRequest, Effect, Failure, LogEntry, ProtoError, SubmitCommand,
};
use super::types::{InFlight, Lookup, Pending};

/// Times one batch may lose the race for its revisions to other relays before its
/// senders are told to resend.
pub const MAX_RACES: usize = 64;

/// What the shell does after a batch's outcome was taken in.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Settled: ask [`DocCore::next_commit`] for more.
    Done,
    /// Another relay took some revisions: take the document's append lock (or catch
    /// up), apply what the log holds beyond [`DocCore::revision`], then commit again.
    Race,
    /// Read the log after `since` and hand it to [`DocCore::resolve`].
    Resolve { since: u64 },
}

/// How the core treats one submit.
enum Class {
    New,
    /// Committed already as this revision: acknowledge it again.
    Resend(u64),
    /// A duplicate of the operation at this index of the batch in flight.
    Waiter(usize),
    /// Acknowledged while the log was read during this batch's life.
    Answered,
    Refuse(ProtoError),
}

impl DocCore {
    /// The (client, seq) pairs of `batch` only the log can tell about: older than the
    /// client's last durable one, or from a client not seen since the document loaded
    /// (a resend after a relay restart). The shell looks them up before [`Self::submit`].
    pub fn lookups_needed(&self, batch: &[SubmitCommand]) -> Vec<(String, u64)> {
        let Some(doc) = &self.doc else {
            return Vec::new();
        };
        let mut needed: Vec<(String, u64)> = Vec::new();
        for s in batch {
            let key = (s.client_id.clone(), s.seq);
            let durable = doc.clients.get(&s.client_id);
            let older = durable.is_none_or(|&(last, _)| s.seq < last);
            if older && !self.lookups.contains_key(&key) && !needed.contains(&key) {
                needed.push(key);
            }
        }
        needed
    }

    /// Takes in a batch of submits with the log's answers for [`Self::lookups_needed`].
    /// Then call [`Self::next_commit`].
    pub fn submit(&mut self, batch: Vec<SubmitCommand>, lookups: Vec<Lookup>) {
        self.lookups.extend(lookups);
        self.backlog.push_back(batch);
    }

    /// Sequences the next waiting submits in memory and returns what to append, or
    /// `None` when nothing is left (or a batch is still in flight).
    pub fn next_commit(&mut self, now_ms: i64, out: &mut Vec<Effect>) -> Option<CommitRequest> {
        while self.in_flight.is_none() {
            let Some(batch) = self.backlog.pop_front() else {
                self.lookups.clear();
                self.answered.clear();
                self.races = 0;
                return None;
            };
            if let Some(request) = self.sequence(batch, now_ms, out) {
                return Some(request);
            }
        }
        None
    }

    /// Checks and applies submits in memory; answers resends and refusals at once.
    fn sequence(
        &mut self,
        batch: Vec<SubmitCommand>,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) -> Option<CommitRequest> {
        let Some(doc) = &self.doc else {
            for s in &batch {
                let error =
                    ProtoError::new(ErrorCode::UnknownDocument, "the document does not exist");
                self.reply_error(s, error, out);
            }
            return None;
        };
        self.in_flight = Some(InFlight {
            checkpoint: doc.seq.checkpoint(),
            ops: Vec::new(),
        });
        for submit in batch {
            let Some(author) = self
                .subscribers
                .get(&submit.participant_id)
                .map(|s| s.name.clone())
            else {
                // The sender left before its operation was sequenced.
                continue;
            };
            match self.classify(&submit) {
                Class::Answered => {}
                Class::Resend(revision) => {
                    let ack = ServerMessage::Ack {
                        path: self.config.path.clone(),
                        revision,
                        seq: submit.seq,
                    };
                    self.reply(&submit.participant_id, ack, out);
                }
                Class::Waiter(i) => {
                    #[cfg(test)]
                    if self.fault == Fault::AckDuplicateFromMemory {
                        let revision = self
                            .in_flight
                            .as_ref()
                            .map_or(0, |f| f.ops[i].entry.revision);
                        let ack = ServerMessage::Ack {
                            path: self.config.path.clone(),
                            revision,
                            seq: submit.seq,
                        };
                        self.reply(&submit.participant_id, ack, out);
                        continue;
                    }
                    if let Some(f) = &mut self.in_flight {
                        f.ops[i].waiters.push(submit.participant_id);
                    }
                }
                Class::Refuse(e) => self.reply_error(&submit, e, out),
                Class::New => match self.accept(&submit, &author, now_ms) {
                    Ok(entry) => {
                        #[cfg(test)]
                        if self.fault == Fault::AckBeforeCommit {
                            let ack = ServerMessage::Ack {
                                path: self.config.path.clone(),
                                revision: entry.revision,
                                seq: submit.seq,
                            };
                            self.reply(&submit.participant_id, ack, out);
                        }
                        if let Some(f) = &mut self.in_flight {
                            f.ops.push(Pending {
                                submit,
                                entry,
                                waiters: Vec::new(),
                            });
                        }
                    }
                    Err(e) => self.reply_error(&submit, e, out),
                },
            }
        }
        let flight = self.in_flight.as_ref()?;
        if flight.ops.is_empty() {
            self.in_flight = None;
            return None;
        }
        let ops: Vec<LogEntry> = flight.ops.iter().map(|p| p.entry.clone()).collect();
        let document = self.doc.as_ref()?.id;
        let notice = self.config.relay_id.as_ref().and_then(|relay| {
            let bus = ops
                .iter()
                .map(|e| pairprog_protocol::bus::BusOp {
                    revision: e.revision,
                    op: e.operation.clone(),
                    participant_id: e.participant_id.clone(),
                    client_id: e.client_id.clone(),
                    seq: e.client_seq,
                })
                .collect();
            pairprog_protocol::bus::BusMessage::for_committed(
                relay,
                &self.config.room,
                &self.config.path,
                document,
                bus,
            )
        });
        Some(CommitRequest {
            document,
            ops,
            notice,
        })
    }

    fn classify(&self, s: &SubmitCommand) -> Class {
        if s.seq > i64::MAX as u64 {
            return Class::Refuse(ProtoError::new(
                ErrorCode::BadMessage,
                format!("sequence number {} is larger than {}", s.seq, i64::MAX),
            ));
        }
        let key = (s.client_id.clone(), s.seq);
        if self.answered.contains(&key) {
            return Class::Answered;
        }
        let flight = self.in_flight.as_ref().map_or(&[][..], |f| &f.ops[..]);
        if let Some(i) = flight
            .iter()
            .position(|p| p.submit.client_id == s.client_id && p.submit.seq == s.seq)
        {
            return Class::Waiter(i);
        }
        if let Some(last) = flight
            .iter()
            .rev()
            .find(|p| p.submit.client_id == s.client_id)
        {
            if s.seq < last.submit.seq {
                return Class::Refuse(ProtoError::new(
                    ErrorCode::BadMessage,
                    format!("sequence number {} comes after {}", s.seq, last.submit.seq),
                ));
            }
            return Class::New;
        }
        let durable = self
            .doc
            .as_ref()
            .and_then(|d| d.clients.get(&s.client_id).copied());
        match durable {
            Some((last_seq, last_rev)) if s.seq == last_seq => return Class::Resend(last_rev),
            Some((last_seq, _)) if s.seq > last_seq => return Class::New,
            _ => {}
        }
        match self.lookups.get(&key) {
            Some(Ok(Some(revision))) => Class::Resend(*revision),
            Some(Ok(None)) if durable.is_some() => Class::Refuse(ProtoError::new(
                ErrorCode::BadMessage,
                format!("sequence number {} was already used by this client", s.seq),
            )),
            Some(Ok(None)) => Class::New,
            Some(Err(e)) => Class::Refuse(unavailable(e)),
            None => Class::Refuse(unavailable("the log could not be read")),
        }
    }

    /// Rebases and applies one operation in memory, or says why not.
    fn accept(
        &mut self,
        submit: &SubmitCommand,
        author: &str,
        now_ms: i64,
    ) -> Result<LogEntry, ProtoError> {
        let max_bytes = self.config.max_document_bytes;
        let doc = self.doc.as_mut().ok_or_else(|| {
            ProtoError::new(ErrorCode::UnknownDocument, "the document does not exist")
        })?;
        let rebased = doc
            .seq
            .rebase(&submit.op, submit.base)
            .map_err(|e| match e {
                SequenceError::FutureRevision { .. } => {
                    ProtoError::new(ErrorCode::FutureRevision, e.to_string())
                }
                SequenceError::HistoryTrimmed { .. } => {
                    ProtoError::new(ErrorCode::StaleRevision, e.to_string())
                }
                SequenceError::Operation(e) => {
                    ProtoError::new(ErrorCode::InvalidOperation, e.to_string())
                }
            })?;
        let new_bytes = bytes_after(doc.seq.text(), &rebased);
        if new_bytes > max_bytes {
            return Err(ProtoError::new(
                ErrorCode::DocumentTooLarge,
                format!("the operation would make the document {new_bytes} bytes; the limit is {max_bytes}"),
            ));
        }
        let revision = doc
            .seq
            .commit(rebased.clone())
            .map_err(|e| ProtoError::new(ErrorCode::InvalidOperation, e.to_string()))?;
        Ok(LogEntry {
            revision,
            author: author.to_owned(),
            client_id: submit.client_id.clone(),
            client_seq: submit.seq,
            operation: rebased,
            committed_at_ms: now_ms,
            participant_id: submit.participant_id.clone(),
        })
    }

    /// Takes in how the batch in flight ended.
    pub fn outcome(&mut self, outcome: CommitOutcome, out: &mut Vec<Effect>) -> Next {
        let Some(flight) = self.in_flight.take() else {
            return Next::Done;
        };
        match outcome {
            CommitOutcome::Committed => {
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
                let since = flight.checkpoint.revision();
                self.in_flight = Some(flight);
                Next::Resolve { since }
            }
            CommitOutcome::FailedBeforeCommit(failure) => {
                let ops = self.take_back(flight);
                match failure {
                    Failure::Conflict if self.races < MAX_RACES => {
                        self.races += 1;
                        self.backlog.push_front(resubmits(ops));
                        Next::Race
                    }
                    Failure::Rejected(_) if ops.len() > 1 => {
                        // Split so the operation at fault ends up alone: at most
                        // log2(batch) more commits, and every other one goes through.
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
                        Next::Done
                    }
                    Failure::Conflict => {
                        self.refuse(
                            &ops,
                            unavailable("other relays kept taking its revisions"),
                            out,
                        );
                        Next::Done
                    }
                    Failure::Unavailable(why) => {
                        self.refuse(&ops, unavailable(&why), out);
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
    pub fn resolve(
        &mut self,
        log: Vec<LogEntry>,
        out: &mut Vec<Effect>,
    ) -> Result<(), super::types::LostTrack> {
        let Some(flight) = self.in_flight.take() else {
            return Ok(());
        };
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

fn unavailable(why: &str) -> ProtoError {
    ProtoError::new(
        ErrorCode::Unavailable,
        format!("the relay could not store the operation ({why}); resend it"),
    )
}

/// The UTF-8 size of `text` after `op` (which fits it), without applying it.
fn bytes_after(text: &Rope, op: &pairprog_protocol::Operation) -> usize {
    let mut bytes = text.len_bytes();
    let mut pos = 0;
    for c in op.components() {
        match c {
            Component::Retain(n) => pos += n,
            Component::Insert(s) => bytes += s.len(),
            Component::Delete(n) => {
                bytes -= text.char_to_byte(pos + n) - text.char_to_byte(pos);
                pos += n;
            }
        }
    }
    bytes
}
