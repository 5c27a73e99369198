//! The server half of server-sequenced OT: a document, its revision, and the recent
//! operations, so an operation based on an older revision can be transformed past
//! everything committed since. The relay's per-document owner task holds one of these;
//! it calls [`Sequencer::rebase`], commits the result durably, then
//! [`Sequencer::commit`]s it in memory.

use std::collections::VecDeque;

use ropey::Rope;

use crate::error::OperationError;
use crate::operation::Operation;

#[derive(Clone, Debug)]
pub struct Sequencer {
    text: Rope,
    revision: u64,
    /// `history[i]` took the document from revision `history_start + i` to the next one.
    history: VecDeque<Operation>,
    history_start: u64,
    history_limit: usize,
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum SequenceError {
    #[error("base revision {base} is ahead of the document's revision {current}")]
    FutureRevision { base: u64, current: u64 },
    #[error(
        "base revision {base} is older than the oldest revision kept in memory ({oldest}); \
         resynchronise the document"
    )]
    HistoryTrimmed { base: u64, oldest: u64 },
    #[error(transparent)]
    Operation(#[from] OperationError),
}

impl Sequencer {
    /// A document at `revision`, remembering at most `history_limit` operations.
    pub fn new(text: Rope, revision: u64, history_limit: usize) -> Self {
        Self {
            text,
            revision,
            history: VecDeque::new(),
            history_start: revision,
            history_limit: history_limit.max(1),
        }
    }

    pub fn text(&self) -> &Rope {
        &self.text
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The operations that took the document from `base` to the current revision, or
    /// `None` when `base` is in the future or no longer in memory.
    pub fn operations_since(&self, base: u64) -> Option<impl Iterator<Item = &Operation>> {
        if base > self.revision || base < self.history_start {
            return None;
        }
        Some(self.history.range((base - self.history_start) as usize..))
    }

    /// Transforms `op`, made against revision `base`, so it applies to the current text.
    /// Checks that the result fits the document; changes nothing.
    pub fn rebase(&self, op: &Operation, base: u64) -> Result<Operation, SequenceError> {
        if base > self.revision {
            return Err(SequenceError::FutureRevision {
                base,
                current: self.revision,
            });
        }
        let since = self
            .operations_since(base)
            .ok_or(SequenceError::HistoryTrimmed {
                base,
                oldest: self.history_start,
            })?;
        let mut op = op.clone();
        for committed in since {
            op = Operation::transform(&op, committed)?.0;
        }
        if op.base_len() != self.text.len_chars() {
            return Err(OperationError::BaseLengthMismatch {
                expected: op.base_len(),
                actual: self.text.len_chars(),
            }
            .into());
        }
        Ok(op)
    }

    /// Applies an operation already rebased onto the current revision and returns the new
    /// revision.
    pub fn commit(&mut self, op: Operation) -> Result<u64, OperationError> {
        op.apply(&mut self.text)?;
        self.history.push_back(op);
        if self.history.len() > self.history_limit {
            self.history.pop_front();
            self.history_start += 1;
        }
        self.revision += 1;
        Ok(self.revision)
    }

    /// [`Self::rebase`] then [`Self::commit`]: returns the operation as sequenced and its
    /// revision.
    pub fn submit(&mut self, op: &Operation, base: u64) -> Result<(Operation, u64), SequenceError> {
        let rebased = self.rebase(op, base)?;
        let revision = self.commit(rebased.clone())?;
        Ok((rebased, revision))
    }
}
