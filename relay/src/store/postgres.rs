//! The Postgres backend, for deployments.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};

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

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Enough connections for many owner tasks committing at once, few enough to stay far
/// below a default server's `max_connections` when several relays share it.
const MAX_CONNECTIONS: u32 = 10;

/// How long a caller waits for a free connection. `GET /health` relies on this to
/// report an unreachable database within seconds instead of hanging.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// One statement over parallel arrays: a single round trip for any batch size, with no
/// bind-parameter limit to chunk around. It appends rows of one or many documents (the
/// document id is a column too) and sends the notices announcing them to the other
/// relays. A data-modifying `WITH` runs to completion whether or not the outer query
/// reads it, and notifications are delivered only when (and in the order) transactions
/// commit, so other relays hear of exactly the rows that were committed, in order.
///
/// It first takes each document's advisory lock (in id order, so two of these never
/// deadlock; the insert waits for the locks through its `WHERE`), held to the end of the
/// statement's transaction. A relay that lost a revision race holds the same lock while
/// it catches up and commits again ([`PgStore::lock_document`]), so nobody can take its
/// revisions a second time: without that, a relay whose clients always have the next
/// operation ready won every race and starved the other.
const APPEND_ROWS: &str = "WITH locked AS (SELECT pg_advisory_xact_lock(d) \
         FROM (SELECT DISTINCT d FROM UNNEST($1::BIGINT[]) AS d ORDER BY d) AS documents), \
     appended AS (INSERT INTO operations \
         (document_id, revision, author, client_id, client_seq, operation, committed_at_ms, \
          participant_id) \
     SELECT * FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], \
                          $7::TEXT[], $8::BIGINT[], $9::TEXT[]) \
         WHERE (SELECT COUNT(*) FROM locked) >= 0) \
     SELECT pg_notify($10, notice) FROM UNNEST($11::TEXT[]) AS notice";

/// Exclusive appends at once: each holds a connection of the pool while its owner
/// catches up, so they must leave room for everything else.
const EXCLUSIVE_APPENDS: usize = 3;

const FIRST_EXISTING_REVISION: &str =
    "SELECT MIN(revision) FROM operations WHERE document_id = $1 AND revision = ANY($2)";

/// Serialises the document creates of one room (see `sql::CREATE_DOCUMENT`).
const LOCK_ROOM: &str = "SELECT id FROM rooms WHERE id = $1 FOR UPDATE";

/// GREATEST keeps a late, out-of-order touch from moving the activity backwards.
const TOUCH_ROOM: &str =
    "UPDATE rooms SET last_active_ms = GREATEST(last_active_ms, $2) WHERE id = $1";

/// A pool of Postgres connections. Commits use the server's default
/// `synchronous_commit`, so an acknowledged operation is on disk.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// Bounds the exclusive appends ([`PgStore::lock_document`]) running at once.
    exclusive: std::sync::Arc<tokio::sync::Semaphore>,
    /// Most documents per room (`--max-documents-per-room`), enforced by the insert.
    max_documents: i64,
}

impl PgStore {
    /// Connects and applies the pending migrations. Concurrent relays starting at once
    /// are safe: the migrator serialises itself with an advisory lock.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PgStore {
            pool,
            exclusive: std::sync::Arc::new(tokio::sync::Semaphore::new(EXCLUSIVE_APPENDS)),
            max_documents: i64::MAX,
        })
    }

    /// The underlying pool, for callers that need a query the store does not offer.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query(sql::PING).execute(&self.pool).await?;
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
            .execute(&self.pool)
            .await
            .map_err(|err| unique_or(err, || StoreError::RoomExists(id.to_owned())))?;
        Ok(())
    }

    pub async fn room(&self, id: &str) -> Result<Option<RoomRecord>, StoreError> {
        let row: Option<RoomRow> = sqlx::query_as(sql::ROOM)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(room_from_row))
    }

    pub async fn delete_room(&self, id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query(sql::DELETE_ROOM)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    pub async fn count_rooms(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(sql::COUNT_ROOMS)
            .fetch_one(&self.pool)
            .await?;
        count_from_sql(count)
    }

    pub async fn documents(&self, room: &str) -> Result<Vec<DocumentSummary>, StoreError> {
        let rows: Vec<DocumentSummaryRow> = sqlx::query_as(sql::DOCUMENTS)
            .bind(room)
            .fetch_all(&self.pool)
            .await?;
        summaries_from_rows(rows)
    }

    pub async fn count_documents(&self, room: &str) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(sql::COUNT_DOCUMENTS)
            .bind(room)
            .fetch_one(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        // Creates in one room queue here, so each counts the documents of those before.
        sqlx::query(LOCK_ROOM).bind(room).execute(&mut *tx).await?;
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
        let mut tx = self.pool.begin().await?;
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

    /// The capped insert of `sql::CREATE_DOCUMENT`, in a transaction that holds the
    /// room's row lock.
    async fn insert_document(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
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
    async fn begin_snapshot_read(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Postgres's default, read committed, takes a new snapshot per statement.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    pub async fn append_operations(
        &self,
        document: DocumentId,
        ops: &[LoggedOperation],
        notice: Option<&str>,
    ) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let rows = ops
            .iter()
            .map(operation_to_row)
            .collect::<Result<Vec<_>, _>>()?;
        let revisions: Vec<i64> = rows.iter().map(|row| row.revision).collect();
        // A single statement is its own transaction and is atomic: a conflicting row
        // leaves none of the batch behind. Skipping an explicit BEGIN/COMMIT saves two
        // round trips on every commit, which the latency target needs.
        let result = self
            .insert_rows(&vec![document; rows.len()], &rows, &Vec::from_iter(notice))
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => {
                match self.conflicting_revision(document, ops, &revisions).await? {
                    Some(revision) => Err(StoreError::RevisionConflict { document, revision }),
                    // The client key collided, not a revision: a relay bug, reported as is.
                    None => Err(err.into()),
                }
            }
            Err(err) => Err(err.into()),
        }
    }

    /// After a failed append, finds the revision that made it fail, if a revision did.
    /// Appends the operations of several documents in one atomic statement: the
    /// cross-document group commit (one WAL flush for everything queued).
    pub async fn append_many(&self, batches: &[AppendBatch]) -> Result<(), StoreError> {
        let mut documents = Vec::new();
        let mut rows = Vec::new();
        let mut notices = Vec::new();
        for batch in batches {
            for op in &batch.ops {
                documents.push(batch.document);
                rows.push(operation_to_row(op)?);
            }
            notices.extend(batch.notice.as_deref());
        }
        if rows.is_empty() {
            return Ok(());
        }
        Ok(self.insert_rows(&documents, &rows, &notices).await?)
    }

    /// One `INSERT … SELECT … FROM UNNEST(…)` for all rows, `documents[i]` owning
    /// `rows[i]`: no bind limit to chunk around, one round trip.
    async fn insert_rows(
        &self,
        documents: &[DocumentId],
        rows: &[OperationRow<'_>],
        notices: &[&str],
    ) -> Result<(), sqlx::Error> {
        append_rows_query(documents, rows, notices)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn conflicting_revision(
        &self,
        document: DocumentId,
        ops: &[LoggedOperation],
        revisions: &[i64],
    ) -> Result<Option<u64>, StoreError> {
        if let Some(revision) = duplicate_in_batch(ops) {
            return Ok(Some(revision));
        }
        let existing: Option<i64> = sqlx::query_scalar(FIRST_EXISTING_REVISION)
            .bind(document)
            .bind(revisions)
            .fetch_one(&self.pool)
            .await?;
        existing
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
            .execute(&self.pool)
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
            .fetch_all(&self.pool)
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
            .fetch_optional(&self.pool)
            .await?;
        revision
            .map(|revision| from_sql(revision, 0, "revision"))
            .transpose()
    }

    pub async fn touch_room(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query(TOUCH_ROOM)
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// What the retention job needs (see `crate::retention`).
impl PgStore {
    pub async fn idle_rooms(&self, before_ms: i64, limit: u32) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(sql::IDLE_ROOMS)
            .bind(before_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn delete_room_if_idle(&self, id: &str, before_ms: i64) -> Result<bool, StoreError> {
        let result = sqlx::query(sql::DELETE_ROOM_IF_IDLE)
            .bind(id)
            .bind(before_ms)
            .execute(&self.pool)
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
            .fetch_all(&self.pool)
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
            .execute(&self.pool)
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
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

/// The document a snapshot row describes, with the log rows after its snapshot, read in
/// the same transaction as the row.
async fn with_log(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
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

/// The [`APPEND_ROWS`] statement with its arguments bound.
fn append_rows_query<'q>(
    documents: &'q [DocumentId],
    rows: &'q [OperationRow<'q>],
    notices: &'q [&'q str],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(APPEND_ROWS)
        .bind(documents)
        .bind(documents)
        .bind(rows.iter().map(|row| row.revision).collect::<Vec<_>>())
        .bind(rows.iter().map(|row| row.author).collect::<Vec<_>>())
        .bind(rows.iter().map(|row| row.client_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|row| row.client_seq).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|row| row.operation.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|row| row.committed_at_ms)
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|row| row.participant_id)
                .collect::<Vec<_>>(),
        )
        .bind(pairprog_protocol::bus::CHANNEL)
        .bind(notices)
}

/// A document's append lock, held in an open transaction: while it is held no other
/// relay can append to the document, so what it reads from the log stays the end of the
/// log until it appends. Dropping it without [`DocumentLock::append`] rolls back.
pub struct DocumentLock {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    document: DocumentId,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl PgStore {
    /// Takes the document's append lock, waiting for other relays' appends to end.
    pub async fn lock_document(&self, document: DocumentId) -> Result<DocumentLock, StoreError> {
        // The semaphore is never closed, so acquiring only waits.
        let permit = self
            .exclusive
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(document)
            .execute(&mut *tx)
            .await?;
        Ok(DocumentLock {
            tx,
            document,
            _permit: permit,
        })
    }
}

impl DocumentLock {
    /// Every logged operation after `since`, ascending.
    pub async fn operations_since(
        &mut self,
        since: u64,
    ) -> Result<Vec<LoggedOperation>, StoreError> {
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        let rows: Vec<RawOperation> = sqlx::query_as(sql::OPERATIONS_AFTER)
            .bind(self.document)
            .bind(since)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.into_iter().map(operation_from_row).collect()
    }

    /// Appends the batch, sends its notice and commits, releasing the lock.
    pub async fn append(mut self, batch: &AppendBatch) -> Result<(), StoreError> {
        let rows = batch
            .ops
            .iter()
            .map(operation_to_row)
            .collect::<Result<Vec<_>, _>>()?;
        let documents = vec![batch.document; rows.len()];
        let notices = Vec::from_iter(batch.notice.as_deref());
        append_rows_query(&documents, &rows, &notices)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(())
    }
}
