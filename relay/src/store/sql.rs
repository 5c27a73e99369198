//! The statements both backends run verbatim. Both accept `$N` placeholders (sqlx's
//! SQLite driver maps `$N` to positional parameters), so only the few statements whose
//! dialects differ live in the backend files.

use super::records::operation_columns;

pub(crate) const PING: &str = "SELECT 1";

pub(crate) const CREATE_ROOM: &str =
    "INSERT INTO rooms (id, created_at_ms, last_active_ms) VALUES ($1, $2, $2)";

pub(crate) const ROOM: &str = "SELECT id, created_at_ms FROM rooms WHERE id = $1";

pub(crate) const DELETE_ROOM: &str = "DELETE FROM rooms WHERE id = $1";

pub(crate) const COUNT_ROOMS: &str = "SELECT COUNT(*) FROM rooms";

/// The id follows creation order exactly (a sequence or AUTOINCREMENT), unlike a
/// millisecond clock that can tie or step back, so it is the creation order; the path
/// would only break ties, which unique ids never produce.
pub(crate) const DOCUMENTS: &str = "SELECT d.path, d.language, d.snapshot_revision, \
         (SELECT MAX(o.revision) FROM operations o WHERE o.document_id = d.id) \
     FROM documents d WHERE d.room_id = $1 ORDER BY d.id, d.path";

pub(crate) const COUNT_DOCUMENTS: &str = "SELECT COUNT(*) FROM documents WHERE room_id = $1";

pub(crate) const CREATE_DOCUMENT: &str = "INSERT INTO documents \
         (room_id, path, language, snapshot, snapshot_revision, created_at_ms) \
     VALUES ($1, $2, $3, $4, 0, $5) RETURNING id";

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

/// The row types the shared statements select.
pub(crate) type DocumentSummaryRow = (String, String, i64, Option<i64>);
pub(crate) type DocumentRow = (i64, String, String, String, String, i64);
