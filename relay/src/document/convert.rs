//! The store's records to the core's plain data and back, at the shell's edge.

use super::{CommitRequest, Loaded, LogEntry};
use crate::store::{AppendBatch, LoggedOperation, StoredDocument};

pub(super) fn entry(l: LoggedOperation) -> LogEntry {
    LogEntry {
        revision: l.revision,
        author: l.author,
        client_id: l.client_id,
        client_seq: l.client_seq,
        operation: l.operation,
        committed_at_ms: l.committed_at_ms,
        participant_id: l.participant_id,
    }
}

pub(super) fn loaded(stored: StoredDocument) -> Loaded {
    Loaded {
        id: stored.id,
        language: stored.language,
        snapshot: stored.snapshot,
        snapshot_revision: stored.snapshot_revision,
        operations: stored.operations.into_iter().map(entry).collect(),
    }
}

pub(super) fn append_batch(request: CommitRequest) -> AppendBatch {
    AppendBatch {
        document: request.document,
        ops: request
            .ops
            .into_iter()
            .map(|e| LoggedOperation {
                revision: e.revision,
                author: e.author,
                client_id: e.client_id,
                client_seq: e.client_seq,
                operation: e.operation,
                committed_at_ms: e.committed_at_ms,
                participant_id: e.participant_id,
            })
            .collect(),
        notice: request.notice,
    }
}
