//! The client half of server-sequenced OT (the ot.js client state machine): at most one
//! operation in flight to the server, everything typed meanwhile composed into a buffer,
//! and remote operations transformed past both before they reach the local document.
//!
//! The state machine holds no text: the caller applies local edits to its own copy before
//! calling [`OtClient::apply_local`], and applies what [`OtClient::apply_remote`] returns.

use crate::error::OperationError;
use crate::operation::Operation;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtClient {
    /// The last server revision this client has seen (an ack counts as seeing it).
    revision: u64,
    in_flight: Option<Operation>,
    buffer: Option<Operation>,
}

impl OtClient {
    pub fn new(revision: u64) -> Self {
        Self {
            revision,
            in_flight: None,
            buffer: None,
        }
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The operation sent and not yet acknowledged, based on [`Self::revision`].
    pub fn in_flight(&self) -> Option<&Operation> {
        self.in_flight.as_ref()
    }

    /// Local edits made while an operation was in flight, not yet sent.
    pub fn buffer(&self) -> Option<&Operation> {
        self.buffer.as_ref()
    }

    pub fn is_synchronized(&self) -> bool {
        self.in_flight.is_none()
    }

    /// Records a local edit (already applied to the caller's text). Returns the operation
    /// to send now, based on [`Self::revision`], if nothing else is in flight.
    pub fn apply_local(&mut self, op: Operation) -> Result<Option<Operation>, OperationError> {
        if self.in_flight.is_none() {
            self.in_flight = Some(op.clone());
            return Ok(Some(op));
        }
        self.buffer = Some(match self.buffer.take() {
            Some(buffer) => buffer.compose(&op)?,
            None => op,
        });
        Ok(None)
    }

    /// The server acknowledged the in-flight operation as revision `revision + 1`.
    /// Returns the buffered operation to send next, if any.
    pub fn server_ack(&mut self) -> Result<Option<Operation>, ClientStateError> {
        if self.in_flight.take().is_none() {
            return Err(ClientStateError::UnexpectedAck);
        }
        self.revision += 1;
        self.in_flight = self.buffer.take();
        Ok(self.in_flight.clone())
    }

    /// A collaborator's operation, sequenced by the server as revision `revision + 1`.
    /// Returns it transformed to apply to the local text (which contains our unacked
    /// edits), and rebases the in-flight and buffered operations past it.
    pub fn apply_remote(&mut self, op: &Operation) -> Result<Operation, OperationError> {
        let mut remote = op.clone();
        if let Some(in_flight) = &self.in_flight {
            let (mine, theirs) = Operation::transform(in_flight, &remote)?;
            self.in_flight = Some(mine);
            remote = theirs;
        }
        if let Some(buffer) = &self.buffer {
            let (mine, theirs) = Operation::transform(buffer, &remote)?;
            self.buffer = Some(mine);
            remote = theirs;
        }
        self.revision += 1;
        Ok(remote)
    }

    /// After a reconnect: the pending local edits (in flight and buffered) as one
    /// operation, so the caller can resend them against the revision it resumes from.
    pub fn pending(&self) -> Result<Option<Operation>, OperationError> {
        match (&self.in_flight, &self.buffer) {
            (Some(a), Some(b)) => a.compose(b).map(Some),
            (Some(a), None) => Ok(Some(a.clone())),
            (None, _) => Ok(None),
        }
    }
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientStateError {
    #[error("the server acknowledged an operation while none was in flight")]
    UnexpectedAck,
}
