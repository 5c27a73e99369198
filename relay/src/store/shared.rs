//! Every statement both backends run alike, written once and generic over the sqlx
//! backend. `postgres.rs` and `sqlite.rs` keep only what truly differs: connecting,
//! appending to the log (one `UNNEST` statement that also notifies other relays, against
//! chunked multi-row inserts) and Postgres's document append lock.
//!
//! The generic bounds are the ones sqlx 0.8 states on its own methods: an executor for a
//! connection (what `&Pool` and `&mut Transaction` run on), arguments that bind, and a
//! `FromRow` for every row shape selected. They are written once, on the one `impl`
//! block, because Rust does not carry a trait's `where` clauses over to its users: a
//! "backend" trait bundling them would have to repeat them at every use anyway.

use sqlx::query::Query;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};

use super::error::{is_unique_violation, unique_or};
use super::records::{
    count_from_sql, document_from_rows, duplicate_in_batch, from_sql, now_ms, operation_from_row,
    room_from_row, summaries_from_rows, to_sql, OperationRow, RawOperation, SecretHashes,
};
use super::sql::{self, DocumentRow, DocumentSummaryRow, RoomRow};
use super::{DocumentId, DocumentSummary, LoggedOperation, RoomRecord, StoreError, StoredDocument};

/// Revisions looked up per statement after a failed append: one bound parameter each,
/// far below SQLite's limit of 32,766 per statement (Postgres allows 65,535).
const REVISIONS_PER_LOOKUP: usize = 1_000;

/// What the shared statements need to know of a backend beyond sqlx's own traits.
pub(crate) trait Dialect: Database {
    /// Run first in a transaction that creates a document, with the room's id as `$1`,
    /// so the creates of one room queue and each counts the documents of those before
    /// it (see `sql::CREATE_DOCUMENT`); `None` where every write is serialised already.
    const LOCK_ROOM: Option<&'static str>;

    /// Run first in a read transaction so that all its statements see one state of the
    /// database; `None` where a transaction does so by itself.
    const SNAPSHOT_READ: Option<&'static str>;

    /// How many rows a statement changed. sqlx 0.8 has this on each backend's result
    /// type (`PgQueryResult`, `SqliteQueryResult`) but in no trait.
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

/// The pools and settings the shared statements run with. Writes go to `writer`, reads
/// to `reader`: one pool twice on Postgres; on SQLite a single-connection writer, so
/// writers queue fairly in the pool instead of sleeping in SQLite's busy handler, and a
/// few parallel readers.
#[derive(Debug)]
pub(crate) struct SqlStore<DB: Database> {
    pub(crate) writer: Pool<DB>,
    pub(crate) reader: Pool<DB>,
    /// Most documents per room (`--max-documents-per-room`), enforced by the insert.
    pub(crate) max_documents: i64,
}

// Derived `Clone` would demand `DB: Clone`, which the backend marker types are not.
impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        SqlStore {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            max_documents: self.max_documents,
        }
    }
}

impl<DB: Database> SqlStore<DB> {
    pub(crate) fn new(writer: Pool<DB>, reader: Pool<DB>) -> Self {
        SqlStore {
            writer,
            reader,
            max_documents: i64::MAX,
        }
    }

    pub(crate) fn set_max_documents_per_room(&mut self, limit: u64) {
        self.max_documents = i64::try_from(limit).unwrap_or(i64::MAX);
    }
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> RoomRow: FromRow<'r, DB::Row>,
    for<'r> DocumentRow: FromRow<'r, DB::Row>,
    for<'r> DocumentSummaryRow: FromRow<'r, DB::Row>,
    for<'r> RawOperation: FromRow<'r, DB::Row>,
{
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query(sql::PING).execute(&self.reader).await?;
        Ok(())
    }

    pub(crate) async fn create_room(
        &self,
        id: &str,
        created_at_ms: i64,
        secrets: Option<&SecretHashes>,
    ) -> Result<(), StoreError> {
        // One statement is its own transaction: no BEGIN and COMMIT round trips.
        create_room_query(id, created_at_ms, secrets)
            .execute(&self.writer)
            .await
            .map_err(|err| unique_or(err, || StoreError::RoomExists(id.to_owned())))?;
        Ok(())
    }

    pub(crate) async fn room(&self, id: &str) -> Result<Option<RoomRecord>, StoreError> {
        let row: Option<RoomRow> = sqlx::query_as(sql::ROOM)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(room_from_row))
    }

    pub(crate) async fn delete_room(&self, id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query(sql::DELETE_ROOM)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(DB::rows_affected(&result) > 0)
    }

    pub(crate) async fn count_rooms(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(sql::COUNT_ROOMS)
            .fetch_one(&self.reader)
            .await?;
        count_from_sql(count)
    }

    pub(crate) async fn documents(&self, room: &str) -> Result<Vec<DocumentSummary>, StoreError> {
        let rows: Vec<DocumentSummaryRow> = sqlx::query_as(sql::DOCUMENTS)
            .bind(room)
            .fetch_all(&self.reader)
            .await?;
        summaries_from_rows(rows)
    }

    pub(crate) async fn count_documents(&self, room: &str) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(sql::COUNT_DOCUMENTS)
            .bind(room)
            .fetch_one(&self.reader)
            .await?;
        count_from_sql(count)
    }

    pub(crate) async fn create_document(
        &self,
        room: &str,
        path: &str,
        language: &str,
        text: &str,
    ) -> Result<DocumentId, StoreError> {
        let mut tx = self.writer.begin().await?;
        if let Some(lock_room) = DB::LOCK_ROOM {
            sqlx::query(lock_room).bind(room).execute(&mut *tx).await?;
        }
        let id = self
            .insert_document(&mut tx, room, path, language, text)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Creates a room and, if given, its first document in one transaction: either
    /// both exist afterwards or neither does. The room is new, so no other create can
    /// count its documents meanwhile and its row needs no lock.
    pub(crate) async fn create_room_with_document(
        &self,
        id: &str,
        created_at_ms: i64,
        secrets: Option<&SecretHashes>,
        first: Option<(&str, &str, &str)>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        create_room_query(id, created_at_ms, secrets)
            .execute(&mut *tx)
            .await
            .map_err(|err| unique_or(err, || StoreError::RoomExists(id.to_owned())))?;
        if let Some((path, language, text)) = first {
            self.insert_document(&mut tx, id, path, language, text)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The capped insert of `sql::CREATE_DOCUMENT`, in a transaction whose count of the
    /// room's documents no concurrent create can change (see [`Dialect::LOCK_ROOM`]).
    async fn insert_document(
        &self,
        tx: &mut sqlx::Transaction<'static, DB>,
        room: &str,
        path: &str,
        language: &str,
        text: &str,
    ) -> Result<DocumentId, StoreError> {
        let exists = || StoreError::DocumentExists {
            room: room.to_owned(),
            path: path.to_owned(),
        };
        let id: Option<DocumentId> = sqlx::query_scalar(sql::CREATE_DOCUMENT)
            .bind(room)
            .bind(path)
            .bind(language)
            .bind(text)
            .bind(now_ms())
            .bind(self.max_documents)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|err| unique_or(err, exists))?;
        if let Some(id) = id {
            return Ok(id);
        }
        let same_path: i64 = sqlx::query_scalar(sql::DOCUMENT_EXISTS)
            .bind(room)
            .bind(path)
            .fetch_one(&mut **tx)
            .await?;
        Err(if same_path > 0 {
            exists()
        } else {
            StoreError::TooManyDocuments {
                room: room.to_owned(),
                limit: self.max_documents as u64,
            }
        })
    }

    pub(crate) async fn load_document(
        &self,
        room: &str,
        path: &str,
    ) -> Result<Option<StoredDocument>, StoreError> {
        let mut tx = self.begin_snapshot_read().await?;
        let row: Option<DocumentRow> = sqlx::query_as(sql::DOCUMENT)
            .bind(room)
            .bind(path)
            .fetch_optional(&mut *tx)
            .await?;
        let document = Self::with_log(&mut tx, row).await?;
        tx.commit().await?;
        Ok(document)
    }

    pub(crate) async fn document_by_id(
        &self,
        document: DocumentId,
    ) -> Result<Option<StoredDocument>, StoreError> {
        let mut tx = self.begin_snapshot_read().await?;
        let row: Option<DocumentRow> = sqlx::query_as(sql::DOCUMENT_BY_ID)
            .bind(document)
            .fetch_optional(&mut *tx)
            .await?;
        let document = Self::with_log(&mut tx, row).await?;
        tx.commit().await?;
        Ok(document)
    }

    /// A read-only transaction whose statements all see one state of the database.
    /// The snapshot row and the log rows after it must be read together: the retention
    /// job advances snapshots and deletes the log rows they cover, and between two
    /// separate reads it could leave a gap between the snapshot read and the log read.
    async fn begin_snapshot_read(&self) -> Result<sqlx::Transaction<'static, DB>, StoreError> {
        let mut tx = self.reader.begin().await?;
        if let Some(snapshot_read) = DB::SNAPSHOT_READ {
            sqlx::query(snapshot_read).execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    /// The document a snapshot row describes, with the log rows after its snapshot, read
    /// in the same transaction as the row.
    async fn with_log(
        tx: &mut sqlx::Transaction<'static, DB>,
        row: Option<DocumentRow>,
    ) -> Result<Option<StoredDocument>, StoreError> {
        let Some(row) = row else {
            return Ok(None);
        };
        let operations: Vec<RawOperation> = sqlx::query_as(sql::OPERATIONS_AFTER)
            .bind(row.0)
            .bind(row.5)
            .fetch_all(&mut **tx)
            .await?;
        document_from_rows(row, operations).map(Some)
    }

    /// What an append that failed with `err` reports: `RevisionConflict` naming the
    /// first revision that was already taken (or repeated within the batch), else `err`
    /// itself (a client key collided, not a revision: a relay bug, reported as is).
    /// Called after the failed append's transaction ended.
    pub(crate) async fn append_failure(
        &self,
        document: DocumentId,
        ops: &[LoggedOperation],
        rows: &[OperationRow<'_>],
        err: sqlx::Error,
    ) -> StoreError {
        if !is_unique_violation(&err) {
            return err.into();
        }
        match self.conflicting_revision(document, ops, rows).await {
            Ok(Some(revision)) => StoreError::RevisionConflict { document, revision },
            Ok(None) => err.into(),
            Err(lookup) => lookup,
        }
    }

    /// The first revision of `rows` that occurs twice in the batch or is already in the
    /// document's log.
    async fn conflicting_revision(
        &self,
        document: DocumentId,
        ops: &[LoggedOperation],
        rows: &[OperationRow<'_>],
    ) -> Result<Option<u64>, StoreError> {
        if let Some(revision) = duplicate_in_batch(ops) {
            return Ok(Some(revision));
        }
        let mut first: Option<i64> = None;
        for chunk in rows.chunks(REVISIONS_PER_LOOKUP) {
            let statement = first_existing_revision(chunk.len());
            let mut query = sqlx::query_scalar(&statement).bind(document);
            for row in chunk {
                query = query.bind(row.revision);
            }
            let found: Option<i64> = query.fetch_one(&self.writer).await?;
            first = first.into_iter().chain(found).min();
        }
        first
            .map(|revision| from_sql(revision, 0, "revision"))
            .transpose()
    }

    pub(crate) async fn write_snapshot(
        &self,
        document: DocumentId,
        text: &str,
        revision: u64,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(sql::WRITE_SNAPSHOT)
            .bind(document)
            .bind(text)
            .bind(to_sql(revision, revision, "snapshot revision")?)
            .execute(&self.writer)
            .await?;
        if DB::rows_affected(&result) == 0 {
            return Err(sqlx::Error::RowNotFound.into());
        }
        Ok(())
    }

    pub(crate) async fn operations_since(
        &self,
        document: DocumentId,
        since: u64,
        limit: u32,
    ) -> Result<Vec<LoggedOperation>, StoreError> {
        // No stored revision exceeds i64::MAX, so a later `since` simply matches nothing.
        let Ok(since) = i64::try_from(since) else {
            return Ok(Vec::new());
        };
        let rows: Vec<RawOperation> = sqlx::query_as(sql::OPERATIONS_SINCE)
            .bind(document)
            .bind(since)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        rows.into_iter().map(operation_from_row).collect()
    }

    pub(crate) async fn find_client_operation(
        &self,
        document: DocumentId,
        client_id: &str,
        client_seq: u64,
    ) -> Result<Option<u64>, StoreError> {
        // A sequence number above i64::MAX could never have been stored.
        let Ok(client_seq) = i64::try_from(client_seq) else {
            return Ok(None);
        };
        let revision: Option<i64> = sqlx::query_scalar(sql::FIND_CLIENT_OPERATION)
            .bind(document)
            .bind(client_id)
            .bind(client_seq)
            .fetch_optional(&self.reader)
            .await?;
        revision
            .map(|revision| from_sql(revision, 0, "revision"))
            .transpose()
    }

    pub(crate) async fn touch_room(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query(sql::TOUCH_ROOM)
            .bind(id)
            .bind(now_ms)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub(crate) async fn idle_rooms(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(sql::IDLE_ROOMS)
            .bind(before_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?)
    }

    pub(crate) async fn delete_room_if_idle(
        &self,
        id: &str,
        before_ms: i64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(sql::DELETE_ROOM_IF_IDLE)
            .bind(id)
            .bind(before_ms)
            .execute(&self.writer)
            .await?;
        Ok(DB::rows_affected(&result) > 0)
    }

    pub(crate) async fn documents_with_old_operations(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<DocumentId>, StoreError> {
        Ok(sqlx::query_scalar(sql::DOCUMENTS_WITH_OLD_OPERATIONS)
            .bind(before_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?)
    }

    pub(crate) async fn advance_snapshot(
        &self,
        document: DocumentId,
        text: &str,
        revision: u64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(sql::ADVANCE_SNAPSHOT)
            .bind(document)
            .bind(text)
            .bind(to_sql(revision, revision, "snapshot revision")?)
            .execute(&self.writer)
            .await?;
        Ok(DB::rows_affected(&result) > 0)
    }

    pub(crate) async fn delete_covered_operations(
        &self,
        document: DocumentId,
        before_ms: i64,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(sql::DELETE_COVERED_OPERATIONS)
            .bind(document)
            .bind(before_ms)
            .execute(&self.writer)
            .await?;
        Ok(DB::rows_affected(&result))
    }
}

/// The smallest of `count` revisions (`$2` onwards) already in document `$1`'s log.
/// The list is spelled out rather than built with sqlx's `QueryBuilder`: generic over the
/// backend, its arguments' lifetime cannot shrink to the borrow that runs the query (an
/// associated type is invariant), so the builder could not be dropped after running it.
fn first_existing_revision(count: usize) -> String {
    let list = (2..count + 2)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("SELECT MIN(revision) FROM operations WHERE document_id = $1 AND revision IN ({list})")
}

/// The `sql::CREATE_ROOM` statement with its arguments bound, to run on the pool or in
/// a transaction.
fn create_room_query<'q, DB>(
    id: &'q str,
    created_at_ms: i64,
    secrets: Option<&'q SecretHashes>,
) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    i64: Encode<'q, DB> + Type<DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(sql::CREATE_ROOM)
        .bind(id)
        .bind(created_at_ms)
        .bind(secrets.map(|s| s.join.as_slice()))
        .bind(secrets.map(|s| s.read_only.as_slice()))
}
