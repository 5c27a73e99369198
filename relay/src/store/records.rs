//! The plain records the store hands out, and the checked conversions between the
//! relay's unsigned counters and the signed 64-bit integers SQL stores.

use std::time::{SystemTime, UNIX_EPOCH};

use pairprog_protocol::Operation;

use super::sql::{DocumentRow, DocumentSummaryRow, RoomRow};
use super::{DocumentId, StoreError};

/// A room as stored.
#[derive(Clone, Debug)]
pub struct RoomRecord {
    pub id: String,
    pub created_at_ms: i64,
    /// The hashes of the room's secrets, if it was created with them.
    pub secrets: Option<SecretHashes>,
}

/// The SHA-256 hashes of a room's join secret and read-only secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretHashes {
    pub join: Vec<u8>,
    pub read_only: Vec<u8>,
}

/// Builds a room from its `sql::ROOM` row. A room with only one of its two hashes can
/// only come from a damaged database; it is treated as having secrets that match
/// nothing, so it fails closed rather than open.
pub(crate) fn room_from_row(row: RoomRow) -> RoomRecord {
    let (id, created_at_ms, join, read_only) = row;
    let secrets = match (join, read_only) {
        (None, None) => None,
        (join, read_only) => Some(SecretHashes {
            join: join.unwrap_or_default(),
            read_only: read_only.unwrap_or_default(),
        }),
    };
    RoomRecord {
        id,
        created_at_ms,
        secrets,
    }
}

/// One document of a room, without its text: what a room listing needs.
#[derive(Clone, Debug)]
pub struct DocumentSummary {
    pub path: String,
    pub language: String,
    /// The latest committed revision: the larger of the snapshot's revision and the
    /// revision of the last logged operation.
    pub revision: u64,
}

/// Everything needed to rebuild a document's current text: its snapshot and the
/// operations committed after it.
#[derive(Clone, Debug)]
pub struct StoredDocument {
    pub id: DocumentId,
    pub room_id: String,
    pub path: String,
    pub language: String,
    pub snapshot: String,
    pub snapshot_revision: u64,
    /// The log after the snapshot, in ascending revision order.
    pub operations: Vec<LoggedOperation>,
}

/// One committed operation of a document's log.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedOperation {
    /// The document revision this operation produced (the first edit of a new document
    /// produces revision 1).
    pub revision: u64,
    pub author: String,
    pub client_id: String,
    pub client_seq: u64,
    pub operation: Operation,
    pub committed_at_ms: i64,
    /// The participant (connection) that sent it; empty in rows older than the column.
    pub participant_id: String,
}

/// One document's operations to append, with the notification that announces them to
/// the other relays (Postgres only; sent in the same statement, so only if they commit).
#[derive(Clone, Debug)]
pub struct AppendBatch {
    pub document: DocumentId,
    pub ops: Vec<LoggedOperation>,
    pub notice: Option<String>,
}

/// A logged operation as one row of SQL values, ready to bind.
pub(crate) struct OperationRow<'a> {
    pub revision: i64,
    pub author: &'a str,
    pub client_id: &'a str,
    pub client_seq: i64,
    pub operation: String,
    pub committed_at_ms: i64,
    pub participant_id: &'a str,
}

/// An operation row as selected with `sql::operation_columns!`.
pub(crate) type RawOperation = (i64, String, String, i64, String, i64, String);

/// Converts a counter for binding. SQL has no unsigned 64-bit type, so a value above
/// `i64::MAX` is refused rather than silently wrapped into a negative number.
pub(crate) fn to_sql(value: u64, revision: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt {
        revision,
        message: format!("{what} {value} does not fit in a signed 64-bit column"),
    })
}

/// Converts a stored counter back. A negative value can only come from a damaged or
/// hand-edited database, so it is reported instead of wrapping to a huge revision.
pub(crate) fn from_sql(value: i64, revision: u64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        revision,
        message: format!("stored {what} {value} is negative"),
    })
}

/// Converts a logged operation into bindable values.
pub(crate) fn operation_to_row(op: &LoggedOperation) -> Result<OperationRow<'_>, StoreError> {
    let operation = serde_json::to_string(&op.operation).map_err(|err| StoreError::Corrupt {
        revision: op.revision,
        message: format!("operation does not serialise: {err}"),
    })?;
    Ok(OperationRow {
        revision: to_sql(op.revision, op.revision, "revision")?,
        author: &op.author,
        client_id: &op.client_id,
        client_seq: to_sql(op.client_seq, op.revision, "client sequence number")?,
        operation,
        committed_at_ms: op.committed_at_ms,
        participant_id: &op.participant_id,
    })
}

/// Decodes a selected operation row, reporting any value the relay could not have
/// written as `Corrupt` rather than panicking.
pub(crate) fn operation_from_row(row: RawOperation) -> Result<LoggedOperation, StoreError> {
    let (revision, author, client_id, client_seq, operation, committed_at_ms, participant_id) = row;
    // A negative revision has no meaningful u64; 0 names it in the error instead.
    let revision = from_sql(revision, 0, "revision")?;
    let client_seq = from_sql(client_seq, revision, "client sequence number")?;
    let operation = serde_json::from_str(&operation).map_err(|err| StoreError::Corrupt {
        revision,
        message: format!("operation is not valid JSON for an operation: {err}"),
    })?;
    Ok(LoggedOperation {
        revision,
        author,
        client_id,
        client_seq,
        operation,
        committed_at_ms,
        participant_id,
    })
}

/// Converts a `COUNT(*)` result.
pub(crate) fn count_from_sql(value: i64) -> Result<u64, StoreError> {
    from_sql(value, 0, "row count")
}

/// Builds the summaries from `sql::DOCUMENTS` rows. A summary's revision is the
/// snapshot's, or the last logged operation's if that is later.
pub(crate) fn summaries_from_rows(
    rows: Vec<DocumentSummaryRow>,
) -> Result<Vec<DocumentSummary>, StoreError> {
    rows.into_iter()
        .map(|(path, language, snapshot_revision, last_logged)| {
            let snapshot = from_sql(snapshot_revision, 0, "snapshot revision")?;
            let logged = match last_logged {
                Some(value) => from_sql(value, 0, "revision")?,
                None => 0,
            };
            Ok(DocumentSummary {
                path,
                language,
                revision: snapshot.max(logged),
            })
        })
        .collect()
}

/// Builds a stored document from its `sql::DOCUMENT` row and the log rows after it.
pub(crate) fn document_from_rows(
    row: DocumentRow,
    operations: Vec<RawOperation>,
) -> Result<StoredDocument, StoreError> {
    let (id, room_id, path, language, snapshot, snapshot_revision) = row;
    Ok(StoredDocument {
        id,
        room_id,
        path,
        language,
        snapshot,
        snapshot_revision: from_sql(snapshot_revision, 0, "snapshot revision")?,
        operations: operations
            .into_iter()
            .map(operation_from_row)
            .collect::<Result<_, _>>()?,
    })
}

/// The first revision that occurs twice within `ops`, which the database would reject
/// as a conflict with itself.
pub(crate) fn duplicate_in_batch(ops: &[LoggedOperation]) -> Option<u64> {
    let mut seen = std::collections::HashSet::with_capacity(ops.len());
    ops.iter()
        .map(|op| op.revision)
        .find(|revision| !seen.insert(*revision))
}

/// Milliseconds since the Unix epoch, for timestamps the interface does not pass in.
/// A clock before 1970 or beyond the year 292 million is clamped rather than failing.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
