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

/// The state a [`Sequencer`] can go back to: its text (a rope clone shares the tree, so
/// this costs O(1)) and revision. Several relays may commit to one document, so an
/// operation sequenced in memory can lose its revision to another relay in the database;
/// the owner then restores the checkpoint, takes in what it missed, and sequences again.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    text: Rope,
    revision: u64,
}

impl Checkpoint {
    pub fn revision(&self) -> u64 {
        self.revision
    }
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

    /// Where [`Self::restore`] can come back to.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            text: self.text.clone(),
            revision: self.revision,
        }
    }

    /// Undoes every commit made since `checkpoint` was taken. A checkpoint from a later
    /// revision than the current one, or from another document, is a caller bug; it is
    /// refused (returns false) and changes nothing.
    pub fn restore(&mut self, checkpoint: Checkpoint) -> bool {
        if checkpoint.revision > self.revision {
            return false;
        }
        let undone = (self.revision - checkpoint.revision) as usize;
        if undone <= self.history.len() {
            self.history.truncate(self.history.len() - undone);
        } else {
            // The history limit is smaller than what is undone: nothing kept in memory
            // is older than the checkpoint any more.
            self.history.clear();
            self.history_start = checkpoint.revision;
        }
        self.text = checkpoint.text;
        self.revision = checkpoint.revision;
        true
    }

    /// [`Self::rebase`] then [`Self::commit`]: returns the operation as sequenced and its
    /// revision.
    pub fn submit(&mut self, op: &Operation, base: u64) -> Result<(Operation, u64), SequenceError> {
        let rebased = self.rebase(op, base)?;
        let revision = self.commit(rebased.clone())?;
        Ok((rebased, revision))
    }
}
