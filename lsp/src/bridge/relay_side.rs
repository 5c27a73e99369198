//! The relay half of a document's bridge: the ot.js client state machine toward the
//! relay (one operation in flight, the rest composed into a buffer), the relay's text at
//! the revision we know, and the sequence numbers that let the relay recognise a resend.

use pairprog_protocol::messages::HistoryEntry;
use pairprog_protocol::{Bias, ClientStateError, Operation, OperationError, OtClient};
use ropey::Rope;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SyncError {
    #[error(transparent)]
    Operation(#[from] OperationError),
    #[error(transparent)]
    State(#[from] ClientStateError),
    /// The relay refused one of our operations: our view and its differ.
    #[error("the relay refused our edit: {0}")]
    Relay(String),
}

/// An operation to send: `seq` numbers it for this document, `base` is its revision.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub seq: u64,
    pub base: u64,
    pub op: Operation,
}

#[derive(Debug)]
pub struct RelaySide {
    /// The relay's text at `ot.revision()`.
    server: Rope,
    ot: OtClient,
    next_seq: u64,
    in_flight_seq: Option<u64>,
    /// How many of the user's edits the operation in flight and the buffer hold: what
    /// the user is told is not yet sent. The OT client composes any number of edits into
    /// at most two operations, so counting operations said "1" after fifty keystrokes
    /// typed offline.
    in_flight_edits: usize,
    buffered_edits: usize,
}

impl RelaySide {
    pub fn new(server: Rope, revision: u64) -> RelaySide {
        RelaySide {
            server,
            ot: OtClient::new(revision),
            next_seq: 1,
            in_flight_seq: None,
            in_flight_edits: 0,
            buffered_edits: 0,
        }
    }

    pub fn revision(&self) -> u64 {
        self.ot.revision()
    }

    /// True when nothing of ours awaits the relay.
    pub fn is_synchronized(&self) -> bool {
        self.ot.is_synchronized()
    }

    /// The user's edits not yet acknowledged by the relay (in flight or buffered).
    pub fn unacknowledged(&self) -> usize {
        self.in_flight_edits + self.buffered_edits
    }

    /// The operation in flight was acknowledged: the buffer, if any, goes in flight.
    fn settle_in_flight(&mut self, buffer_sent: bool) {
        self.in_flight_edits = if buffer_sent { self.buffered_edits } else { 0 };
        self.buffered_edits = 0;
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight_seq = Some(seq);
        seq
    }

    /// A local edit, over the proxy's text. Returns it to send if nothing is in flight.
    pub fn local(&mut self, op: Operation) -> Result<Option<Outgoing>, SyncError> {
        self.local_edits(op, 1)
    }

    /// `edits` of the user's edits composed into one operation, over the proxy's text.
    pub fn local_edits(
        &mut self,
        op: Operation,
        edits: usize,
    ) -> Result<Option<Outgoing>, SyncError> {
        match self.ot.apply_local(op)? {
            Some(op) => {
                self.in_flight_edits = edits;
                Ok(Some(Outgoing {
                    seq: self.take_seq(),
                    base: self.ot.revision(),
                    op,
                }))
            }
            None => {
                self.buffered_edits += edits;
                Ok(None)
            }
        }
    }

    /// The relay committed our operation `seq`. Returns the buffer to send next. An ack
    /// for anything but the operation in flight repeats one already taken (the answer
    /// to a resend after a reconnect) and is ignored.
    pub fn ack(&mut self, seq: u64) -> Result<Option<Outgoing>, SyncError> {
        if self.in_flight_seq != Some(seq) {
            return Ok(None);
        }
        if let Some(op) = self.ot.in_flight() {
            op.apply(&mut self.server)?;
        }
        self.in_flight_seq = None;
        let next = self.ot.server_ack()?;
        self.settle_in_flight(next.is_some());
        match next {
            Some(op) => Ok(Some(Outgoing {
                seq: self.take_seq(),
                base: self.ot.revision(),
                op,
            })),
            None => Ok(None),
        }
    }

    /// Our operation `seq`, if it is the one in flight: what an ack of `seq` commits.
    pub fn in_flight_op(&self, seq: u64) -> Option<&Operation> {
        (self.in_flight_seq == Some(seq))
            .then(|| self.ot.in_flight())
            .flatten()
    }

    /// Maps an offset in the proxy's text to the relay's text at our revision: our
    /// unacknowledged edits taken out (inside one, where it starts; the relay moves the
    /// author's cursor past its own insert when it commits).
    pub fn to_server_offset(&self, offset: usize) -> usize {
        match self.ot.pending() {
            Ok(Some(pending)) => pending.base_offset(offset),
            _ => offset,
        }
    }

    /// Maps an offset in the relay's text at our revision to the proxy's text, in front
    /// of our own unacknowledged inserts there.
    pub fn from_server_offset(&self, offset: usize) -> usize {
        match self.ot.pending() {
            Ok(Some(pending)) => pending.transform_offset(offset, Bias::Before),
            _ => offset,
        }
    }

    /// A collaborator's committed operation. Returns it transformed to apply to the
    /// proxy's text.
    pub fn remote(&mut self, op: &Operation) -> Result<Operation, SyncError> {
        op.apply(&mut self.server)?;
        Ok(self.ot.apply_remote(op)?)
    }

    /// After a reconnect, the operations committed since our revision, in order: ours
    /// (recognised by client id and seq) count as the ack we missed, the others are
    /// applied as remote. Returns the others transformed for the proxy's text, and what
    /// to (re)send now.
    pub fn catch_up(
        &mut self,
        entries: &[HistoryEntry],
        client_id: &str,
    ) -> Result<(Vec<Operation>, Option<Outgoing>), SyncError> {
        let mut remote = Vec::new();
        for entry in entries {
            if entry.revision <= self.ot.revision() {
                continue;
            }
            let mine = entry.client_id == client_id && Some(entry.seq) == self.in_flight_seq;
            if mine {
                if let Some(op) = self.ot.in_flight() {
                    op.apply(&mut self.server)?;
                }
                self.in_flight_seq = None;
                let buffer_sent = self.ot.server_ack()?.is_some();
                self.settle_in_flight(buffer_sent);
                if buffer_sent {
                    self.take_seq();
                }
            } else {
                remote.push(self.remote(&entry.op)?);
            }
        }
        Ok((remote, self.resend()))
    }

    /// What is in flight, to send again on a new connection with the same seq, so the
    /// relay applies it at most once.
    pub fn resend(&self) -> Option<Outgoing> {
        Some(Outgoing {
            seq: self.in_flight_seq?,
            base: self.ot.revision(),
            op: self.ot.in_flight()?.clone(),
        })
    }

    /// The relay could not give the operations we missed (too many), only its text at
    /// `revision`. What we missed becomes one diff from the text we knew; our own
    /// unacknowledged edits are rebased past it and sent as a new operation.
    ///
    /// Known gap: an operation that was in flight when the connection dropped may
    /// already be inside that text; we cannot tell, so it is sent again (the relay
    /// recognises a resend by seq only within the operations it still holds).
    pub fn resync(
        &mut self,
        text: &str,
        revision: u64,
    ) -> Result<(Operation, Option<Outgoing>), SyncError> {
        let missed = Operation::from_diff(&self.server.to_string(), text);
        let pending = self.ot.pending()?;
        let edits = self.unacknowledged();
        self.server = Rope::from_str(text);
        self.ot = OtClient::new(revision);
        self.in_flight_seq = None;
        self.in_flight_edits = 0;
        self.buffered_edits = 0;
        let Some(pending) = pending else {
            return Ok((missed, None));
        };
        let (mine, theirs) = Operation::transform(&pending, &missed)?;
        let outgoing = self.local_edits(mine, edits.max(1))?;
        Ok((theirs, outgoing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(r: &mut RelaySide, len: &mut usize) -> Option<Outgoing> {
        let out = r
            .local(Operation::splice(*len, *len, 0, "a").unwrap())
            .unwrap();
        *len += 1;
        out
    }

    /// Issue 14, item 8: "0 pending" (and later "1") was shown while the user typed,
    /// because the count was of operations, and the OT client composes every edit typed
    /// while one is in flight into one buffer.
    #[test]
    fn regression_pending_edits_counted_operations_not_edits() {
        let mut r = RelaySide::new(Rope::new(), 0);
        let mut len = 0;
        let first = typed(&mut r, &mut len).expect("the first edit goes at once");
        for _ in 0..4 {
            assert!(typed(&mut r, &mut len).is_none(), "buffered behind it");
        }
        assert_eq!(r.unacknowledged(), 5);
        let next = r.ack(first.seq).unwrap().expect("the buffer goes next");
        assert_eq!(r.unacknowledged(), 4);
        typed(&mut r, &mut len);
        assert_eq!(r.unacknowledged(), 5);
        r.ack(next.seq).unwrap().expect("the new buffer goes next");
        assert_eq!(r.unacknowledged(), 1);
    }

    #[test]
    fn a_resync_keeps_the_count_of_edits_it_sends_again() {
        let mut r = RelaySide::new(Rope::from_str("x"), 3);
        let mut len = 1;
        for _ in 0..3 {
            typed(&mut r, &mut len);
        }
        let (_, out) = r.resync("yx", 7).unwrap();
        assert!(out.is_some());
        assert_eq!(r.unacknowledged(), 3);
    }
}
