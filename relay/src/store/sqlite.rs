//! The SQLite backend: the embedded default, so the relay runs with no setup.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};

use super::records::{operation_to_row, OperationRow};
use super::shared::{Dialect, SqlStore};
use super::{AppendBatch, DocumentId, LoggedOperation, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Readers run in parallel under WAL; a few cover the REST endpoints and loads.
const READ_CONNECTIONS: u32 = 4;

/// Rows per INSERT statement: 8 parameters each stays far below SQLite's limit of
/// 32,766 bound parameters per statement (the bundled SQLite's; 999 before 3.32).
const ROWS_PER_INSERT: usize = 1_000;

impl Dialect for Sqlite {
    /// Every write goes through the one writer connection, so creates never overlap.
    const LOCK_ROOM: Option<&'static str> = None;

    /// Under WAL a deferred transaction reads one snapshot, taken at its first read.
    const SNAPSHOT_READ: Option<&'static str> = None;

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// A file database in WAL mode with two pools. SQLite admits one writer at a time, so
/// every write goes through a single connection: writers then queue fairly in the pool
/// instead of sleeping in SQLite's busy handler, while reads proceed in parallel.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// The statements both backends share, with the writer and reader pools.
    pub(super) sql: SqlStore<Sqlite>,
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
            sql: SqlStore::new(writer, reader),
        })
    }

    /// The pool every write goes through, for callers that need a query the store does
    /// not offer.
    pub fn pool(&self) -> &SqlitePool {
        &self.sql.writer
    }

    /// `_notices` are for other relays, and an SQLite file has only one.
    pub(super) async fn append_operations(
        &self,
        document: DocumentId,
        ops: &[LoggedOperation],
        _notices: &[&str],
    ) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let rows = ops
            .iter()
            .map(operation_to_row)
            .collect::<Result<Vec<_>, _>>()?;
        match self.insert_rows(&vec![document; rows.len()], &rows).await {
            Ok(()) => Ok(()),
            Err(err) => Err(self.sql.append_failure(document, ops, &rows, err).await),
        }
    }

    /// Appends the operations of several documents atomically: the cross-document group
    /// commit (one sync for everything queued), in one statement when the group fits in
    /// one (a 200-document group was 200 statements through the single writer).
    pub(super) async fn append_many(&self, batches: &[AppendBatch]) -> Result<(), StoreError> {
        let mut documents = Vec::new();
        let mut rows = Vec::new();
        for AppendBatch { document, ops, .. } in batches {
            for op in ops {
                documents.push(*document);
                rows.push(operation_to_row(op)?);
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        Ok(self.insert_rows(&documents, &rows).await?)
    }

    /// Inserts `rows[i]` into `documents[i]`'s log, all or none. A single statement is
    /// atomic by itself, so a group that fits in one skips BEGIN and COMMIT (two more
    /// statements through the single writer); a larger one is chunked below the bound
    /// parameter limit inside one transaction, which commits (and syncs) once.
    async fn insert_rows(
        &self,
        documents: &[DocumentId],
        rows: &[OperationRow<'_>],
    ) -> Result<(), sqlx::Error> {
        if rows.len() <= ROWS_PER_INSERT {
            insert_query(documents, rows)
                .build()
                .execute(self.pool())
                .await?;
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for (documents, rows) in documents
            .chunks(ROWS_PER_INSERT)
            .zip(rows.chunks(ROWS_PER_INSERT))
        {
            let inserted = insert_query(documents, rows)
                .build()
                .execute(&mut *tx)
                .await;
            if let Err(err) = inserted {
                // Rolled back before the caller looks up the conflict on the one writer.
                tx.rollback().await?;
                return Err(err);
            }
        }
        tx.commit().await
    }
}

/// One multi-row INSERT of `rows[i]` into `documents[i]`'s log (at most
/// [`ROWS_PER_INSERT`] rows).
fn insert_query<'a>(
    documents: &'a [DocumentId],
    rows: &'a [OperationRow<'a>],
) -> QueryBuilder<'a, Sqlite> {
    let mut query = QueryBuilder::new(
        "INSERT INTO operations \
             (document_id, revision, author, client_id, client_seq, operation, committed_at_ms, \
              participant_id) ",
    );
    query.push_values(documents.iter().zip(rows), |mut values, (document, row)| {
        values
            .push_bind(*document)
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
