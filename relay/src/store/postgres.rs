//! The Postgres backend, for deployments.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions, PgQueryResult};
use sqlx::Postgres;

use super::records::{operation_from_row, operation_to_row, OperationRow, RawOperation};
use super::shared::{Dialect, SqlStore};
use super::sql;
use super::{AppendBatch, DocumentId, LoggedOperation, StoreError};

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
/// Only relays other than this one (`$12`) are told, each on its own channel
/// ([`relay_channel`]), so a relay never receives its own operations back to decode and
/// drop; a relay alone on the database sends no notification at all.
///
/// When another relay is alive, it first takes each document's advisory lock (in id
/// order, so two of these never deadlock; the insert waits for the locks through its
/// `WHERE`), held to the end of the statement's transaction. A relay that lost a revision
/// race holds the same lock while it catches up and commits again
/// ([`PgStore::lock_document`]), so nobody can take its revisions a second time: without
/// that, a relay whose clients always have the next operation ready won every race and
/// starved the other. Alone, there is nobody to race with, and the locks are skipped. A
/// relay that registers while this statement runs is not seen by it; it catches up from
/// the log once every transaction older than its registration has ended
/// (`cluster::Cluster::settle`), so nothing committed unannounced is missed.
const APPEND_ROWS: &str = "WITH peers AS MATERIALIZED (SELECT id FROM relays WHERE id <> $12), \
     locked AS (SELECT pg_advisory_xact_lock(d) \
         FROM (SELECT DISTINCT d FROM UNNEST($1::BIGINT[]) AS d ORDER BY d) AS documents \
         WHERE EXISTS (SELECT 1 FROM peers)), \
     appended AS (INSERT INTO operations \
         (document_id, revision, author, client_id, client_seq, operation, committed_at_ms, \
          participant_id) \
     SELECT * FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], \
                          $7::TEXT[], $8::BIGINT[], $9::TEXT[]) \
         WHERE (SELECT COUNT(*) FROM locked) >= 0) \
     SELECT pg_notify($10 || p.id, n.notice) \
     FROM UNNEST($11::TEXT[]) WITH ORDINALITY AS n (notice, i) CROSS JOIN peers p \
     ORDER BY p.id, n.i";

/// The channel on which relay `relay_id` hears of the operations other relays commit
/// (the append statement addresses each peer's own channel). Other messages (presence,
/// cursors, new documents) go to every relay on the shared channel.
pub fn relay_channel(relay_id: &str) -> String {
    format!("{}:{relay_id}", pairprog_protocol::bus::CHANNEL)
}

/// Exclusive appends at once: each holds a connection of the pool while its owner
/// catches up, so they must leave room for everything else.
const EXCLUSIVE_APPENDS: usize = 3;

impl Dialect for Postgres {
    /// Locks the room's row, so the creates of one room queue behind each other.
    const LOCK_ROOM: Option<&'static str> = Some("SELECT id FROM rooms WHERE id = $1 FOR UPDATE");

    /// Postgres's default, read committed, takes a new snapshot per statement.
    const SNAPSHOT_READ: Option<&'static str> =
        Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// A pool of Postgres connections. Commits use the server's default
/// `synchronous_commit`, so an acknowledged operation is on disk.
#[derive(Clone, Debug)]
pub struct PgStore {
    /// The statements both backends share, all on the one pool.
    pub(super) sql: SqlStore<Postgres>,
    /// Bounds the exclusive appends ([`PgStore::lock_document`]) running at once.
    exclusive: std::sync::Arc<tokio::sync::Semaphore>,
    /// This relay's id in the `relays` table, so appends notify only the others. Empty
    /// until [`PgStore::set_relay_id`]: then every registered relay counts as another.
    relay_id: std::sync::Arc<str>,
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
            sql: SqlStore::new(pool.clone(), pool),
            exclusive: std::sync::Arc::new(tokio::sync::Semaphore::new(EXCLUSIVE_APPENDS)),
            relay_id: std::sync::Arc::from(""),
        })
    }

    /// Names this relay (its row in `relays`), so its appends notify and lock only for
    /// the other relays. Set before the store is cloned into the committer.
    pub fn set_relay_id(&mut self, relay_id: &str) {
        self.relay_id = std::sync::Arc::from(relay_id);
    }

    /// The underlying pool, for callers that need a query the store does not offer.
    pub fn pool(&self) -> &PgPool {
        &self.sql.writer
    }

    pub(super) async fn append_operations(
        &self,
        document: DocumentId,
        ops: &[LoggedOperation],
        notices: &[&str],
    ) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let rows = ops
            .iter()
            .map(operation_to_row)
            .collect::<Result<Vec<_>, _>>()?;
        // A single statement is its own transaction and is atomic: a conflicting row
        // leaves none of the batch behind. Skipping an explicit BEGIN/COMMIT saves two
        // round trips on every commit, which the latency target needs.
        let result = self
            .insert_rows(&vec![document; rows.len()], &rows, notices)
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(err) => Err(self.sql.append_failure(document, ops, &rows, err).await),
        }
    }

    /// Appends the operations of several documents in one atomic statement: the
    /// cross-document group commit (one WAL flush for everything queued).
    pub(super) async fn append_many(&self, batches: &[AppendBatch]) -> Result<(), StoreError> {
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
        append_rows_query(documents, rows, notices, &self.relay_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// The [`APPEND_ROWS`] statement with its arguments bound.
fn append_rows_query<'q>(
    documents: &'q [DocumentId],
    rows: &'q [OperationRow<'q>],
    notices: &'q [&'q str],
    relay_id: &'q str,
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
        // `$10 || id` is each peer's channel: the prefix is the channel of an empty id.
        .bind(relay_channel(""))
        .bind(notices)
        .bind(relay_id)
}

/// A document's append lock, held in an open transaction: while it is held no other
/// relay can append to the document, so what it reads from the log stays the end of the
/// log until it appends. Dropping it without [`DocumentLock::append`] rolls back.
pub struct DocumentLock {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    document: DocumentId,
    relay_id: std::sync::Arc<str>,
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
        let mut tx = self.pool().begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(document)
            .execute(&mut *tx)
            .await?;
        Ok(DocumentLock {
            tx,
            document,
            relay_id: self.relay_id.clone(),
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
        append_rows_query(&documents, &rows, &notices, &self.relay_id)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(())
    }
}
