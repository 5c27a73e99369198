//! The statements both backends run verbatim. Both accept `$N` placeholders (sqlx's
//! SQLite driver maps `$N` to positional parameters), so only the few statements whose
//! dialects differ live in the backend files.

/// The columns `records::operation_from_row` expects, in this order. A macro rather
/// than a constant so `concat!` can build whole queries as string literals. It lives
/// here, with the statements, so `records` (which converts rows) may use `sql` (which
/// names them) without `sql` using `records` back.
macro_rules! operation_columns {
    () => {
        "revision, author, client_id, client_seq, operation, committed_at_ms, participant_id"
    };
}

pub(crate) const PING: &str = "SELECT 1";

pub(crate) const CREATE_ROOM: &str = "INSERT INTO rooms \
         (id, created_at_ms, last_active_ms, join_secret_hash, read_only_secret_hash) \
     VALUES ($1, $2, $2, $3, $4)";

pub(crate) const ROOM: &str =
    "SELECT id, created_at_ms, join_secret_hash, read_only_secret_hash FROM rooms WHERE id = $1";

pub(crate) const DELETE_ROOM: &str = "DELETE FROM rooms WHERE id = $1";

pub(crate) const COUNT_ROOMS: &str = "SELECT COUNT(*) FROM rooms";

/// The id follows creation order exactly (a sequence or AUTOINCREMENT), unlike a
/// millisecond clock that can tie or step back, so it is the creation order; the path
/// would only break ties, which unique ids never produce.
pub(crate) const DOCUMENTS: &str = "SELECT d.path, d.language, d.snapshot_revision, \
         (SELECT MAX(o.revision) FROM operations o WHERE o.document_id = d.id) \
     FROM documents d WHERE d.room_id = $1 ORDER BY d.id, d.path";

pub(crate) const COUNT_DOCUMENTS: &str = "SELECT COUNT(*) FROM documents WHERE room_id = $1";

/// Creates a document only while its room holds fewer than `$6`, and returns no row
/// when the room is full. Concurrent creates cannot pass the cap together: SQLite runs
/// one writer at a time, and Postgres first locks the room's row (`LOCK_ROOM`, in the
/// same transaction), so the count here sees every create that went before.
pub(crate) const CREATE_DOCUMENT: &str = "INSERT INTO documents \
         (room_id, path, language, snapshot, snapshot_revision, created_at_ms) \
     SELECT $1, $2, $3, $4, 0, $5 \
     WHERE (SELECT COUNT(*) FROM documents WHERE room_id = $1) < $6 RETURNING id";

pub(crate) const DOCUMENT_EXISTS: &str =
    "SELECT COUNT(*) FROM documents WHERE room_id = $1 AND path = $2";

pub(crate) const DOCUMENT: &str =
    "SELECT id, room_id, path, language, snapshot, snapshot_revision \
     FROM documents WHERE room_id = $1 AND path = $2";

pub(crate) const OPERATIONS_AFTER: &str = concat!(
    "SELECT ",
    operation_columns!(),
    " FROM operations WHERE document_id = $1 AND revision > $2 ORDER BY revision"
);

pub(crate) const OPERATIONS_SINCE: &str = concat!(
    "SELECT ",
    operation_columns!(),
    " FROM operations WHERE document_id = $1 AND revision > $2 ORDER BY revision LIMIT $3"
);

pub(crate) const WRITE_SNAPSHOT: &str =
    "UPDATE documents SET snapshot = $2, snapshot_revision = $3 WHERE id = $1";

pub(crate) const FIND_CLIENT_OPERATION: &str = "SELECT revision FROM operations \
     WHERE document_id = $1 AND client_id = $2 AND client_seq = $3";

/// Moves a room's last activity forward only, so a late, out-of-order touch cannot move
/// it backwards. A `WHERE` rather than `GREATEST` (spelled `MAX` in SQLite) makes it one
/// statement for both dialects; the column is `NOT NULL`, so the two agree.
pub(crate) const TOUCH_ROOM: &str =
    "UPDATE rooms SET last_active_ms = $2 WHERE id = $1 AND last_active_ms < $2";

/// Rooms whose last activity is before `$1`, oldest first, at most `$2`.
pub(crate) const IDLE_ROOMS: &str =
    "SELECT id FROM rooms WHERE last_active_ms < $1 ORDER BY last_active_ms LIMIT $2";

/// Deletes a room only if it is still idle: a connection that touched it after the
/// retention job listed it keeps it.
pub(crate) const DELETE_ROOM_IF_IDLE: &str =
    "DELETE FROM rooms WHERE id = $1 AND last_active_ms < $2";

/// Documents whose first logged operation was committed before `$1`, at most `$2`.
/// Compaction folds a prefix of the log and stops at the first operation young enough to
/// keep, so a document has work exactly when its first row is old. That row is one probe
/// of the primary key `(document_id, revision)` per document, so no index on
/// `committed_at_ms` has to be written with every operation (migration 0004): a run costs
/// one probe per document, appends cost one index fewer per operation.
pub(crate) const DOCUMENTS_WITH_OLD_OPERATIONS: &str = "SELECT d.id FROM documents d \
     WHERE (SELECT o.committed_at_ms FROM operations o WHERE o.document_id = d.id \
            ORDER BY o.revision LIMIT 1) < $1 \
     LIMIT $2";

pub(crate) const DOCUMENT_BY_ID: &str =
    "SELECT id, room_id, path, language, snapshot, snapshot_revision \
     FROM documents WHERE id = $1";

/// Moves a snapshot forward only: a document owner may have written a later one since
/// the retention job read the document, and that one must win.
pub(crate) const ADVANCE_SNAPSHOT: &str =
    "UPDATE documents SET snapshot = $2, snapshot_revision = $3 \
     WHERE id = $1 AND snapshot_revision < $3";

/// Deletes old log rows, but only those the stored snapshot already contains, so the
/// snapshot plus the remaining log always rebuild the current text.
pub(crate) const DELETE_COVERED_OPERATIONS: &str = "DELETE FROM operations \
     WHERE document_id = $1 AND committed_at_ms < $2 \
       AND revision <= (SELECT snapshot_revision FROM documents WHERE id = $1)";

/// The row types the shared statements select.
pub(crate) type DocumentSummaryRow = (String, String, i64, Option<i64>);
pub(crate) type DocumentRow = (i64, String, String, String, String, i64);
pub(crate) type RoomRow = (String, i64, Option<Vec<u8>>, Option<Vec<u8>>);
