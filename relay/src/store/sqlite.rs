//! The SQLite backend: the embedded default, so the relay runs with no setup.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};

use super::error::{is_unique_violation, unique_or};
use super::records::{
    count_from_sql, document_from_rows, duplicate_in_batch, from_sql, now_ms, operation_from_row,
    operation_to_row, room_from_row, summaries_from_rows, to_sql, OperationRow, RawOperation,
    SecretHashes,
};
use super::sql::{self, DocumentRow, DocumentSummaryRow, RoomRow};
use super::{
    AppendBatch, DocumentId, DocumentSummary, LoggedOperation, RoomRecord, StoreError,
    StoredDocument,
};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Readers run in parallel under WAL; a few cover the REST endpoints and loads.
const READ_CONNECTIONS: u32 = 4;

/// Rows per INSERT statement: 7 parameters each stays far below SQLite's limit of
/// 32,766 bound parameters per statement.
const ROWS_PER_INSERT: usize = 1_000;

/// GREATEST is spelled MAX in SQLite. It keeps a late, out-of-order touch from moving
/// the activity backwards.
const TOUCH_ROOM: &str = "UPDATE rooms SET last_active_ms = MAX(last_active_ms, $2) WHERE id = $1";

/// A file database in WAL mode with two pools. SQLite admits one writer at a time, so
/// every write goes through a single connection: writers then queue fairly in the pool
/// instead of sleeping in SQLite's busy handler, while reads proceed in parallel.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Most documents per room (`--max-documents-per-room`), enforced by the insert.
    max_documents: i64,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and applies the migrations.
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        // synchronous=FULL syncs the WAL on every commit, so an acknowledged operation
        // survives power loss, not only a crash of the process (NORMAL would not).
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // An in-memory database lives only as long as its connections and is private to
        // them, so it gets one connection that is never closed, shared by all callers.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(u32::from(in_memory))
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect_with(options)
                .await?
        };
        Ok(SqliteStore {
            writer,
            reader,
            max_documents: i64::MAX,
        })
    }

    /// The pool every write goes through, for callers that need a query the store does
    /// not offer.
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query(sql::PING).execute(&self.reader).await?;
        Ok(())
    }

    pub async fn create_room(
        &self,
        id: &str,
        created_at_ms: i64,
        secrets: Option<&SecretHashes>,
    ) -> Result<(), StoreError> {
        sqlx::query(sql::CREATE_ROOM)
            .bind(id)
            .bind(created_at_ms)
            .bind(secrets.map(|s| s.join.as_slice()))
            .bind(secrets.map(|s| s.read_only.as_slice()))
            .execute(&self.writer)
            .await
            .map_err(|err| unique_or(err, || StoreError::RoomExists(id.to_owned())))?;
        Ok(())
    }

    pub async fn room(&self, id: &str) -> Result<Option<RoomRecord>, StoreError> {
        let row: Option<RoomRow> = sqlx::query_as(sql::ROOM)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(room_from_row))
    }

    pub async fn delete_room(&self, id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query(sql::DELETE_ROOM)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    pub async fn count_rooms(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(sql::COUNT_ROOMS)
            .fetch_one(&self.reader)
            .await?;
        count_from_sql(count)
    }

    pub async fn documents(&self, room: &str) -> Result<Vec<DocumentSummary>, StoreError> {
        let rows: Vec<DocumentSummaryRow> = sqlx::query_as(sql::DOCUMENTS)
            .bind(room)
            .fetch_all(&self.reader)
            .await?;
        summaries_from_rows(rows)
    }

    pub async fn count_documents(&self, room: &str) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(sql::COUNT_DOCUMENTS)
            .bind(room)
            .fetch_one(&self.reader)
            .await?;
        count_from_sql(count)
    }

    pub fn set_max_documents_per_room(&mut self, limit: u64) {
        self.max_documents = i64::try_from(limit).unwrap_or(i64::MAX);
    }

    pub async fn create_document(
        &self,
        room: &str,
        path: &str,
        language: &str,
        text: &str,
    ) -> Result<DocumentId, StoreError> {
        let mut tx = self.writer.begin().await?;
        let id = self
            .insert_document(&mut tx, room, path, language, text)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Creates a room and, if given, its first document in one transaction: either
    /// both exist afterwards or neither does.
    pub async fn create_room_with_document(
        &self,
        id: &str,
        created_at_ms: i64,
        secrets: Option<&SecretHashes>,
        first: Option<(&str, &str, &str)>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(sql::CREATE_ROOM)
            .bind(id)
            .bind(created_at_ms)
            .bind(secrets.map(|s| s.join.as_slice()))
            .bind(secrets.map(|s| s.read_only.as_slice()))
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

    /// The capped insert of `sql::CREATE_DOCUMENT`; SQLite's single writer makes its
    /// count and insert atomic.
    async fn insert_document(
        &self,
        tx: &mut sqlx::Transaction<'_, Sqlite>,
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

    pub async fn load_document(
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
        let document = with_log(&mut tx, row).await?;
        tx.commit().await?;
        Ok(document)
    }

    /// A read-only transaction whose statements all see one state of the database.
    /// The snapshot row and the log rows after it must be read together: the retention
    /// job advances snapshots and deletes the log rows they cover, and between two
    /// separate reads it could leave a gap between the snapshot read and the log read.
    async fn begin_snapshot_read(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        // Under WAL a deferred transaction reads one snapshot, taken at its first read.
        Ok(self.reader.begin().await?)
    }

    /// `_notice` is for other relays, and an SQLite file has only one.
    pub async fn append_operations(
        &self,
        document: DocumentId,
        ops: &[LoggedOperation],
        _notice: Option<&str>,
    ) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let rows = ops
            .iter()
            .map(operation_to_row)
            .collect::<Result<Vec<_>, _>>()?;
        // One transaction around every chunk: the batch commits (and syncs) once, and a
        // conflict anywhere rolls all of it back.
        let mut tx = self.writer.begin().await?;
        let mut failure = None;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            if let Err(err) = insert_query(document, chunk)
                .build()
                .execute(&mut *tx)
                .await
            {
                failure = Some(err);
                break;
            }
        }
        let Some(err) = failure else {
            tx.commit().await?;
            return Ok(());
        };
        tx.rollback().await?;
        if !is_unique_violation(&err) {
            return Err(err.into());
        }
        match self.conflicting_revision(document, ops, &rows).await? {
            Some(revision) => Err(StoreError::RevisionConflict { document, revision }),
            // The client key collided, not a revision: a relay bug, reported as is.
            None => Err(err.into()),
        }
    }

    /// After a failed append, finds the revision that made it fail, if a revision did.
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
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT MIN(revision) FROM operations WHERE document_id = ",
            );
            query.push_bind(document).push(" AND revision IN (");
            let mut list = query.separated(", ");
            for row in chunk {
                list.push_bind(row.revision);
            }
            query.push(")");
            let found: Option<i64> = query.build_query_scalar().fetch_one(&self.writer).await?;
            first = first.into_iter().chain(found).min();
        }
        first
            .map(|revision| from_sql(revision, 0, "revision"))
            .transpose()
    }

    pub async fn write_snapshot(
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
        if result.rows_affected() == 0 {
            return Err(sqlx::Error::RowNotFound.into());
        }
        Ok(())
    }

    pub async fn operations_since(
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

    pub async fn find_client_operation(
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

    pub async fn touch_room(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query(TOUCH_ROOM)
            .bind(id)
            .bind(now_ms)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

/// One multi-row INSERT for a chunk of the batch.
impl SqliteStore {
    /// Appends the operations of several documents in one transaction: the
    /// cross-document group commit (one sync for everything queued).
    pub async fn append_many(&self, batches: &[AppendBatch]) -> Result<(), StoreError> {
        let mut prepared = Vec::with_capacity(batches.len());
        for AppendBatch { document, ops, .. } in batches {
            let rows = ops
                .iter()
                .map(operation_to_row)
                .collect::<Result<Vec<_>, _>>()?;
            prepared.push((*document, rows));
        }
        let mut tx = self.writer.begin().await?;
        for (document, rows) in &prepared {
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                insert_query(*document, chunk)
                    .build()
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

fn insert_query<'a>(
    document: DocumentId,
    chunk: &'a [OperationRow<'a>],
) -> QueryBuilder<'a, Sqlite> {
    let mut query = QueryBuilder::new(
        "INSERT INTO operations \
             (document_id, revision, author, client_id, client_seq, operation, committed_at_ms, \
              participant_id) ",
    );
    query.push_values(chunk, |mut values, row| {
        values
            .push_bind(document)
            .push_bind(row.revision)
            .push_bind(row.author)
            .push_bind(row.client_id)
            .push_bind(row.client_seq)
            .push_bind(row.operation.as_str())
            .push_bind(row.committed_at_ms)
            .push_bind(row.participant_id);
    });
    query
}

/// What the retention job needs (see `crate::retention`).
impl SqliteStore {
    pub async fn idle_rooms(&self, before_ms: i64, limit: u32) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(sql::IDLE_ROOMS)
            .bind(before_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?)
    }

    pub async fn delete_room_if_idle(&self, id: &str, before_ms: i64) -> Result<bool, StoreError> {
        let result = sqlx::query(sql::DELETE_ROOM_IF_IDLE)
            .bind(id)
            .bind(before_ms)
            .execute(&self.writer)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    pub async fn documents_with_old_operations(
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

    pub async fn document_by_id(
        &self,
        document: DocumentId,
    ) -> Result<Option<StoredDocument>, StoreError> {
        let mut tx = self.begin_snapshot_read().await?;
        let row: Option<DocumentRow> = sqlx::query_as(sql::DOCUMENT_BY_ID)
            .bind(document)
            .fetch_optional(&mut *tx)
            .await?;
        let document = with_log(&mut tx, row).await?;
        tx.commit().await?;
        Ok(document)
    }

    pub async fn advance_snapshot(
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
        Ok(result.rows_affected() > 0)
    }

    pub async fn delete_covered_operations(
        &self,
        document: DocumentId,
        before_ms: i64,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(sql::DELETE_COVERED_OPERATIONS)
            .bind(document)
            .bind(before_ms)
            .execute(&self.writer)
            .await?;
        Ok(result.rows_affected())
    }
}

/// The document a snapshot row describes, with the log rows after its snapshot, read in
/// the same transaction as the row.
async fn with_log(
    tx: &mut sqlx::Transaction<'static, Sqlite>,
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
