//! The one error type every store operation returns, whichever backend runs.

use super::DocumentId;

/// Why a store operation failed. The relay maps the specific variants to client-facing
/// errors (404, 409, ...) and treats `Database`/`Migrate` as the database being unhealthy.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use postgres://… or sqlite:…")]
    UnsupportedUrl(String),
    #[error("revision {revision} of document {document} is already committed")]
    RevisionConflict { document: DocumentId, revision: u64 },
    #[error("room {0} already exists")]
    RoomExists(String),
    #[error("document {path} already exists in room {room}")]
    DocumentExists { room: String, path: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("room {room} already holds {limit} documents, the most it may hold")]
    TooManyDocuments { room: String, limit: u64 },
    #[error("text must not contain the NUL character (U+0000): the database cannot store it")]
    NulCharacter,
    #[error("corrupt stored operation at revision {revision}: {message}")]
    Corrupt { revision: u64, message: String },
}

impl StoreError {
    /// Whether another writer got there first: a revision, or a client's sequence
    /// number, already in the log. With several relays on one database this is a lost
    /// race, retried after catching up; with one relay it would be a bug.
    pub fn is_conflict(&self) -> bool {
        match self {
            StoreError::RevisionConflict { .. } => true,
            StoreError::Database(err) => is_unique_violation(err),
            _ => false,
        }
    }
}

/// Whether `err` is a UNIQUE or PRIMARY KEY violation. Both backends classify their
/// native codes (23505 on Postgres, SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY) the same way,
/// so the callers can turn the violation into a specific variant without parsing text.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

/// Turns a UNIQUE violation into the specific error `conflict` builds, and passes any
/// other database error through unchanged.
pub(crate) fn unique_or(err: sqlx::Error, conflict: impl FnOnce() -> StoreError) -> StoreError {
    if is_unique_violation(&err) {
        conflict()
    } else {
        err.into()
    }
}
