//! Errors of the operation algebra. Each one is a value handed back to the caller (in the
//! relay: to the peer that sent the operation), never a panic.

use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum OperationError {
    #[error("the operation expects a document of {expected} chars, but the document has {actual}")]
    BaseLengthMismatch { expected: usize, actual: usize },
    #[error(
        "cannot compose: the first operation produces {first_target} chars but the second \
         expects {second_base}"
    )]
    ComposeLengthMismatch {
        first_target: usize,
        second_base: usize,
    },
    #[error("cannot transform operations made for different documents ({left} vs {right} chars)")]
    TransformLengthMismatch { left: usize, right: usize },
    #[error("cannot replace {deleted} chars at {offset} in a document of {len} chars")]
    SpliceOutOfRange {
        offset: usize,
        deleted: usize,
        len: usize,
    },
}
