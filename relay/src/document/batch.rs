//! A batch's way into the store: deduplicate and sequence submits in memory, on top of
//! the batches still in flight, and hand them to the store as one [`CommitRequest`].
//! How its [`super::CommitOutcome`] is settled is in `outcome.rs`.
//!
//! A duplicate of an operation in any batch in flight (same client id and seq) is not
//! acknowledged from memory: it waits for that copy's outcome and gets the same answer.

use pairprog_protocol::messages::{ErrorCode, ServerMessage};
use pairprog_protocol::{Component, SequenceError};
use ropey::Rope;

use super::core::DocCore;
#[cfg(test)]
use super::core::Fault;
use super::types::{unavailable, CommitRequest, Effect, LogEntry, ProtoError, SubmitCommand};
use super::types::{InFlight, Lookup, Pending};

/// Times one batch may lose the race for its revisions to other relays before its
/// senders are told to resend.
pub const MAX_RACES: usize = 64;

/// Most batches of one document in flight at once. The next is sequenced while earlier
/// ones commit, so a document is not held to one commit cycle per batch; the bound keeps
/// what a failure takes back (and sequences again) small: at most this many batches of
/// up to `MAX_BATCH` operations each. The committer joins a document's batches that
/// wait for the same group into one statement and holds the others back until the one
/// before committed (see `committer.rs`), so more than a few would only wait there.
pub const PIPELINE: usize = 4;

/// What the shell does after a batch's outcome was taken in.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Settled: ask [`DocCore::next_commit`] for more.
    Done,
    /// The answer of a batch already taken back says it committed, against the
    /// committer's promise: reload ([`DocCore::lost_track`]).
    LostTrack,
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
    /// A duplicate of the operation at (batch, index) of the batches in flight.
    Waiter(usize, usize),
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

    /// Sequences the next waiting submits in memory, on top of the batches in flight,
    /// and returns what to append; `None` when nothing is left, [`PIPELINE`] batches are
    /// in flight, an unknown outcome is being settled, or stale answers are still due.
    pub fn next_commit(&mut self, now_ms: i64, out: &mut Vec<Effect>) -> Option<CommitRequest> {
        if self.stale > 0 || self.resolving {
            return None;
        }
        while self.in_flight.len() < PIPELINE {
            let Some(batch) = self.backlog.pop_front() else {
                if self.in_flight.is_empty() {
                    self.lookups.clear();
                    self.answered.clear();
                    self.races = 0;
                }
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
        self.in_flight.push_back(InFlight {
            checkpoint: doc.seq.checkpoint(),
            text: doc.seq.text().clone(),
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
                Class::Waiter(b, i) => {
                    #[cfg(test)]
                    if self.fault == Fault::AckDuplicateFromMemory {
                        let revision = self.in_flight[b].ops[i].entry.revision;
                        let ack = ServerMessage::Ack {
                            path: self.config.path.clone(),
                            revision,
                            seq: submit.seq,
                        };
                        self.reply(&submit.participant_id, ack, out);
                        continue;
                    }
                    self.in_flight[b].ops[i].waiters.push(submit.participant_id);
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
                        if let Some(f) = self.in_flight.back_mut() {
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
        let flight = self.in_flight.back()?;
        if flight.ops.is_empty() {
            self.in_flight.pop_back();
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
        for (b, flight) in self.in_flight.iter().enumerate() {
            if let Some(i) = flight
                .ops
                .iter()
                .position(|p| p.submit.client_id == s.client_id && p.submit.seq == s.seq)
            {
                return Class::Waiter(b, i);
            }
        }
        if let Some(last) = self
            .in_flight
            .iter()
            .rev()
            .flat_map(|f| f.ops.iter().rev())
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
