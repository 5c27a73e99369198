//! The relay half of a document's bridge: the ot.js client state machine toward the
//! relay (one operation in flight, the rest composed into a buffer), the relay's text at
//! the revision we know, and the sequence numbers that let the relay recognise a resend.

use pairprog_protocol::messages::HistoryEntry;
use pairprog_protocol::{ClientStateError, Operation, OperationError, OtClient};
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
}

impl RelaySide {
    pub fn new(server: Rope, revision: u64) -> RelaySide {
        RelaySide {
            server,
            ot: OtClient::new(revision),
            next_seq: 1,
            in_flight_seq: None,
        }
    }

    pub fn revision(&self) -> u64 {
        self.ot.revision()
    }

    /// True when nothing of ours awaits the relay.
    pub fn is_synchronized(&self) -> bool {
        self.ot.is_synchronized()
    }

    /// Operations of ours not yet acknowledged (0, 1 in flight, 2 with a buffer).
    pub fn unacknowledged(&self) -> usize {
        usize::from(self.ot.in_flight().is_some()) + usize::from(self.ot.buffer().is_some())
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight_seq = Some(seq);
        seq
    }

    /// A local edit, over the proxy's text. Returns it to send if nothing is in flight.
    pub fn local(&mut self, op: Operation) -> Result<Option<Outgoing>, SyncError> {
        match self.ot.apply_local(op)? {
            Some(op) => Ok(Some(Outgoing {
                seq: self.take_seq(),
                base: self.ot.revision(),
                op,
            })),
            None => Ok(None),
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
        match self.ot.server_ack()? {
            Some(op) => Ok(Some(Outgoing {
                seq: self.take_seq(),
                base: self.ot.revision(),
                op,
            })),
            None => Ok(None),
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
                if self.ot.server_ack()?.is_some() {
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
        self.server = Rope::from_str(text);
        self.ot = OtClient::new(revision);
        self.in_flight_seq = None;
        let Some(pending) = pending else {
            return Ok((missed, None));
        };
        let (mine, theirs) = Operation::transform(&pending, &missed)?;
        let outgoing = self.local(mine)?;
        Ok((theirs, outgoing))
    }
}
