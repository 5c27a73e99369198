//! Durable storage for rooms, documents and their operation logs.
//!
//! One interface, [`Store`], over two backends: Postgres for deployment and SQLite as the
//! embedded default. The backends hold the same schema (see `migrations/`) and return the
//! same records, so the relay never needs to know which one it talks to. Every statement
//! their dialects share is written once (`sql.rs`), and run once, by `shared.rs`'s
//! `SqlStore`, generic over the sqlx backend; `postgres.rs` and `sqlite.rs` hold only
//! what differs (connecting, the log's append path, Postgres's document lock). Dispatch
//! is a plain enum match, so the async methods need no boxing.
//!
//! Revisions and sequence numbers are `u64` in Rust and signed 64-bit integers in SQL;
//! every conversion is checked (`records.rs`), and a stored value the relay could not
//! have written is reported as [`StoreError::Corrupt`], never unwrapped.

mod error;
mod postgres;
mod records;
mod shared;
mod sql;
mod sqlite;

pub use error::StoreError;
pub use postgres::{relay_channel, DocumentLock, PgStore};
pub use records::{
    AppendBatch, DocumentSummary, LoggedOperation, RoomRecord, SecretHashes, StoredDocument,
};
pub use sqlite::SqliteStore;

/// A document's key in the store; the log rows reference it.
pub type DocumentId = i64;

/// A connected store. Cloning is cheap: both backends share their pools behind `Arc`s.
#[derive(Clone, Debug)]
pub enum Store {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

/// Runs the same method on whichever backend `$store` holds: its own, for what differs.
macro_rules! dispatch {
    ($store:expr, $backend:ident => $call:expr) => {
        match $store {
            Store::Postgres($backend) => $call,
            Store::Sqlite($backend) => $call,
        }
    };
}

/// Runs a shared statement (`shared::SqlStore`) on whichever backend `$store` holds.
/// The two arms are the same text but not the same code: one is `SqlStore<Postgres>`,
/// the other `SqlStore<Sqlite>`.
macro_rules! shared {
    ($store:expr, $sql:ident => $call:expr) => {
        match $store {
            Store::Postgres(backend) => {
                let $sql = &backend.sql;
                $call
            }
            Store::Sqlite(backend) => {
                let $sql = &backend.sql;
                $call
            }
        }
    };
}

impl Store {
    /// Connects to the database `url` names and applies the pending migrations.
    ///
    /// `postgres://` or `postgresql://` selects Postgres (a pool of up to 10
    /// connections, durable commits with the server's default `synchronous_commit`).
    /// `sqlite:` selects SQLite, e.g. `sqlite:///path/pairprog.db` or `sqlite:pairprog.db`;
    /// the file is created if missing and opened in WAL mode with `synchronous=FULL`,
    /// foreign keys on and a 5 s busy timeout.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let scheme = url
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") if url.contains("://") => {
                Ok(Store::Postgres(PgStore::connect(url).await?))
            }
            Some("sqlite") => Ok(Store::Sqlite(SqliteStore::connect(url).await?)),
            _ => Err(StoreError::UnsupportedUrl(url.to_owned())),
        }
    }

    /// Which backend this is: `"postgres"` or `"sqlite"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "postgres",
            Store::Sqlite(_) => "sqlite",
        }
    }

    /// Runs `SELECT 1`, so `GET /health` can report an unreachable database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        shared!(self, sql => sql.ping().await)
    }

    /// Creates a room, active as of its creation. `RoomExists` if the id is taken.
    pub async fn create_room(&self, id: &str, created_at_ms: i64) -> Result<(), StoreError> {
        shared!(self, sql => sql.create_room(id, created_at_ms, None).await)
    }

    /// Creates a room like [`Store::create_room`], storing the hashes of its secrets.
    pub async fn create_room_with_secrets(
        &self,
        id: &str,
        created_at_ms: i64,
        secrets: &SecretHashes,
    ) -> Result<(), StoreError> {
        shared!(self, sql => sql.create_room(id, created_at_ms, Some(secrets)).await)
    }

    pub async fn room(&self, id: &str) -> Result<Option<RoomRecord>, StoreError> {
        shared!(self, sql => sql.room(id).await)
    }

    /// Deletes a room with its documents and their logs (the foreign keys cascade).
    /// Returns false if there was no such room.
    pub async fn delete_room(&self, id: &str) -> Result<bool, StoreError> {
        shared!(self, sql => sql.delete_room(id).await)
    }

    pub async fn count_rooms(&self) -> Result<u64, StoreError> {
        shared!(self, sql => sql.count_rooms().await)
    }

    /// The room's documents, first created first, each with its latest revision.
    pub async fn documents(&self, room: &str) -> Result<Vec<DocumentSummary>, StoreError> {
        shared!(self, sql => sql.documents(room).await)
    }

    pub async fn count_documents(&self, room: &str) -> Result<u64, StoreError> {
        shared!(self, sql => sql.count_documents(room).await)
    }

    /// Creates a document at revision 0 whose snapshot is `text`. `DocumentExists` if
    /// the room already has `path`; a database error if the room does not exist.
    ///
    /// The room may hold at most [`Store::set_max_documents_per_room`] documents; one
    /// more is `TooManyDocuments`, however many creates run at once. Text holding
    /// U+0000 is `NulCharacter` on both backends (Postgres cannot store it).
    pub async fn create_document(
        &self,
        room: &str,
        path: &str,
        language: &str,
        text: &str,
    ) -> Result<DocumentId, StoreError> {
        refuse_nul(&[path, language, text])?;
        shared!(self, sql => sql.create_document(room, path, language, text).await)
    }

    /// Creates a room (with its secrets' hashes, if any) and, if given, its first
    /// document `(path, language, text)` in one transaction: either both exist
    /// afterwards or neither does.
    pub async fn create_room_with_document(
        &self,
        id: &str,
        created_at_ms: i64,
        secrets: Option<&SecretHashes>,
        first: Option<(&str, &str, &str)>,
    ) -> Result<(), StoreError> {
        if let Some((path, language, text)) = first {
            refuse_nul(&[path, language, text])?;
        }
        shared!(self, sql => sql.create_room_with_document(id, created_at_ms, secrets, first).await)
    }

    /// Most documents one room may hold (`--max-documents-per-room`); unlimited until set.
    pub fn set_max_documents_per_room(&mut self, limit: u64) {
        match self {
            Store::Postgres(backend) => backend.sql.set_max_documents_per_room(limit),
            Store::Sqlite(backend) => backend.sql.set_max_documents_per_room(limit),
        }
    }

    /// The document's snapshot and every logged operation after it, or `None`.
    pub async fn load_document(
        &self,
        room: &str,
        path: &str,
    ) -> Result<Option<StoredDocument>, StoreError> {
        shared!(self, sql => sql.load_document(room, path).await)
    }

    /// Appends a batch of operations atomically, committing (and syncing) once. A
    /// revision already in the log, or repeated within the batch, fails the whole batch
    /// with `RevisionConflict` and writes nothing. An empty batch does nothing.
    pub async fn append_operations(
        &self,
        document: DocumentId,
        ops: &[LoggedOperation],
    ) -> Result<(), StoreError> {
        dispatch!(self, store => store.append_operations(document, ops, &[]).await)
    }

    /// [`Store::append_operations`] for one [`AppendBatch`]: on Postgres its notice is
    /// sent to the other relays in the same statement, so only if the rows commit.
    pub async fn append_batch(&self, batch: &AppendBatch) -> Result<(), StoreError> {
        let notices = Vec::from_iter(batch.notice.as_deref());
        dispatch!(self, store => store.append_operations(batch.document, &batch.ops, &notices).await)
    }

    /// Consecutive batches of one document (each sequenced on top of the one before),
    /// appended as one: all or nothing, failing as [`Store::append_batch`] would for a
    /// single batch (a revision taken is a `RevisionConflict`), with every notice.
    pub async fn append_chain(&self, batches: &[AppendBatch]) -> Result<(), StoreError> {
        let Some(first) = batches.first() else {
            return Ok(());
        };
        debug_assert!(batches.iter().all(|b| b.document == first.document));
        let ops: Vec<LoggedOperation> = batches.iter().flat_map(|b| b.ops.clone()).collect();
        let notices: Vec<&str> = batches.iter().filter_map(|b| b.notice.as_deref()).collect();
        dispatch!(self, store => store.append_operations(first.document, &ops, &notices).await)
    }

    /// The document's append lock, on Postgres, where other relays may append too (see
    /// [`DocumentLock`]); `None` on SQLite, whose file has one relay.
    pub async fn lock_document(
        &self,
        document: DocumentId,
    ) -> Result<Option<DocumentLock>, StoreError> {
        match self {
            Store::Postgres(store) => store.lock_document(document).await.map(Some),
            Store::Sqlite(_) => Ok(None),
        }
    }

    /// Appends the operations of several documents atomically, with one commit (and
    /// sync) for all of them, and sends their notices on Postgres. Any failure writes
    /// and sends nothing; the committer then splits the group in halves and appends each
    /// again, recursively, to isolate the batch that fails.
    pub async fn append_many(&self, batches: &[AppendBatch]) -> Result<(), StoreError> {
        dispatch!(self, store => store.append_many(batches).await)
    }

    /// Replaces the document's snapshot with `text` at `revision`. The log rows before
    /// it are kept for the history endpoint. A missing document is
    /// `Database(RowNotFound)`.
    pub async fn write_snapshot(
        &self,
        document: DocumentId,
        text: &str,
        revision: u64,
    ) -> Result<(), StoreError> {
        shared!(self, sql => sql.write_snapshot(document, text, revision).await)
    }

    /// Logged operations with revision > `since`, ascending, at most `limit` of them.
    pub async fn operations_since(
        &self,
        document: DocumentId,
        since: u64,
        limit: u32,
    ) -> Result<Vec<LoggedOperation>, StoreError> {
        shared!(self, sql => sql.operations_since(document, since, limit).await)
    }

    /// The revision at which `(client_id, client_seq)` was committed to this document,
    /// if it was: how a resend is recognised even after the relay restarted.
    pub async fn find_client_operation(
        &self,
        document: DocumentId,
        client_id: &str,
        client_seq: u64,
    ) -> Result<Option<u64>, StoreError> {
        shared!(self, sql => sql.find_client_operation(document, client_id, client_seq).await)
    }

    /// Records that the room was active at `now_ms` (never moving it backwards), for a
    /// retention job. A missing room is not an error.
    pub async fn touch_room(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        shared!(self, sql => sql.touch_room(id, now_ms).await)
    }

    /// Ids of rooms whose last activity is before `before_ms`, oldest first.
    pub async fn idle_rooms(&self, before_ms: i64, limit: u32) -> Result<Vec<String>, StoreError> {
        shared!(self, sql => sql.idle_rooms(before_ms, limit).await)
    }

    /// Deletes the room (with its documents and logs) if its last activity is still
    /// before `before_ms`. Returns whether it was deleted.
    pub async fn delete_room_if_idle(&self, id: &str, before_ms: i64) -> Result<bool, StoreError> {
        shared!(self, sql => sql.delete_room_if_idle(id, before_ms).await)
    }

    /// Documents whose first logged operation was committed before `before_ms`: those
    /// the retention job can compact (it folds a prefix of the log).
    pub async fn documents_with_old_operations(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<DocumentId>, StoreError> {
        shared!(self, sql => sql.documents_with_old_operations(before_ms, limit).await)
    }

    /// Like [`Store::load_document`], by the document's key.
    pub async fn document_by_id(
        &self,
        document: DocumentId,
    ) -> Result<Option<StoredDocument>, StoreError> {
        shared!(self, sql => sql.document_by_id(document).await)
    }

    /// Replaces the snapshot only if `revision` is later than the stored one. Returns
    /// whether it did.
    pub async fn advance_snapshot(
        &self,
        document: DocumentId,
        text: &str,
        revision: u64,
    ) -> Result<bool, StoreError> {
        shared!(self, sql => sql.advance_snapshot(document, text, revision).await)
    }

    /// Deletes the log rows committed before `before_ms` that the stored snapshot
    /// already contains. Returns how many.
    pub async fn delete_covered_operations(
        &self,
        document: DocumentId,
        before_ms: i64,
    ) -> Result<u64, StoreError> {
        shared!(self, sql => sql.delete_covered_operations(document, before_ms).await)
    }
}

/// Refuses text holding U+0000 before it reaches either backend, so both answer alike:
/// Postgres's `text` cannot store it, SQLite's can.
fn refuse_nul(texts: &[&str]) -> Result<(), StoreError> {
    if texts.iter().any(|t| t.contains('\0')) {
        return Err(StoreError::NulCharacter);
    }
    Ok(())
}
