//! The cross-document group commit. Every document owner hands its batch of operations
//! here and waits; everything that queued meanwhile, across all documents, is written as
//! one group in a single statement. With hundreds of active documents that turns
//! hundreds of commits (and disk syncs) into one, which is what lets the relay sustain
//! tens of thousands of operations per second on two cores. On Postgres a second group
//! forms and commits while the first waits for its sync (see [`POSTGRES_WORKERS`]).
//!
//! A failed group must not fail everyone in it, nor stall everyone behind it. When the
//! store refused a group's rows (a revision another relay took, a value it rejects), the
//! group is split in halves and each half committed again, recursively: one bad batch
//! among `n` costs about `2·log2(n)` transactions, not `n` (retrying each batch alone
//! serialised every document behind the one at fault). When the store could not be
//! reached, or the commit's outcome is unknown, nobody is at fault and splitting would
//! only add load: every owner gets the answer at once and settles it from its own log.

use std::time::Instant;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::document::types::{CommitOutcome, Failure};
use crate::metrics::Metrics;
use crate::store::{AppendBatch, Store, StoreError};

/// Batches waiting for the committer before owners are made to wait for a place.
const QUEUE: usize = 8192;
/// Most operations in one transaction.
const MAX_ROWS: usize = 8192;
/// Groups in flight at once on Postgres. While one waits for its disk sync, the next
/// group forms and commits; the server merges the syncs of concurrent commits. This keeps
/// each document's order only because an owner waits for its commit before it sends its
/// next batch: two groups in flight never hold the same document. SQLite has one writer
/// connection, so a second group there would only wait for it, smaller.
const POSTGRES_WORKERS: usize = 2;

struct CommitRequest {
    batch: AppendBatch,
    reply: oneshot::Sender<CommitOutcome>,
}

#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<CommitRequest>,
}

impl Committer {
    /// Starts the committer task; it ends when every `Committer` handle is dropped (the
    /// groups in flight still finish and answer).
    pub fn start(store: Store, metrics: Arc<Metrics>) -> Committer {
        let (tx, rx) = mpsc::channel(QUEUE);
        let workers = match store {
            Store::Postgres(_) => POSTGRES_WORKERS,
            Store::Sqlite(_) => 1,
        };
        tokio::spawn(run(store, metrics, rx, workers));
        Committer { tx }
    }

    /// Commits one document's batch durably (and sends its notice), together with
    /// whatever else is queued, and says how that ended.
    pub async fn commit(&self, batch: AppendBatch) -> CommitOutcome {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(CommitRequest { batch, reply }).await.is_err() {
            return CommitOutcome::FailedBeforeCommit(Failure::Unavailable(
                "the committer stopped".to_owned(),
            ));
        }
        // The committer may have stopped after writing and before answering.
        answer
            .await
            .unwrap_or_else(|_| CommitOutcome::OutcomeUnknown("the committer stopped".to_owned()))
    }
}

/// What a failed append means for its rows.
///
/// A conflict, and an error the database reported for a statement (or for COMMIT),
/// wrote nothing. Of those, data errors (SQLSTATE class 22 and 23 on Postgres;
/// constraint, type and size errors on SQLite) are the rows' fault; the rest (the
/// server shutting down, a lock timeout...) are the store's. A lost connection or I/O
/// error may have happened after the COMMIT reached the server: the outcome is unknown.
pub fn outcome_of(error: &StoreError) -> CommitOutcome {
    if error.is_conflict() {
        return CommitOutcome::FailedBeforeCommit(Failure::Conflict);
    }
    let why = error.to_string();
    let failure = match error {
        StoreError::Corrupt { .. } => Failure::Rejected(why),
        StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) => {
            Failure::Unavailable(why)
        }
        StoreError::Database(e) => match e.as_database_error() {
            Some(db) if db.code().is_some_and(|c| rows_at_fault(&c)) => Failure::Rejected(why),
            Some(_) => Failure::Unavailable(why),
            None => return CommitOutcome::OutcomeUnknown(why),
        },
        _ => Failure::Unavailable(why),
    };
    CommitOutcome::FailedBeforeCommit(failure)
}

/// Whether a database error code blames the rows written (see [`outcome_of`]).
fn rows_at_fault(code: &str) -> bool {
    match code.parse::<i64>() {
        // SQLite: TOOBIG, CONSTRAINT, MISMATCH, RANGE (primary code in the low byte).
        Ok(sqlite) => matches!(sqlite & 0xff, 18 | 19 | 20 | 25),
        Err(_) => code.starts_with("22") || code.starts_with("23"),
    }
}

/// Forms groups and commits each on a task of its own, at most `workers` at once. A
/// group is formed only when a slot is free, so while every slot is busy the requests
/// keep queueing and the next group takes all of them.
async fn run(
    store: Store,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<CommitRequest>,
    workers: usize,
) {
    let slots = Arc::new(Semaphore::new(workers));
    loop {
        // The semaphore is never closed, so acquiring only waits.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else { return };
        let mut rows = first.batch.ops.len();
        let mut requests = vec![first];
        while rows < MAX_ROWS {
            match rx.try_recv() {
                Ok(next) => {
                    rows += next.batch.ops.len();
                    requests.push(next);
                }
                Err(_) => break,
            }
        }
        let (store, metrics) = (store.clone(), metrics.clone());
        tokio::spawn(async move {
            commit_group(&store, &metrics, requests).await;
            drop(slot);
        });
    }
}

/// Commits a group; on a failure that blames its rows, commits each half again (see the
/// module comment), so the batch at fault is found in O(log n) transactions.
async fn commit_group(store: &Store, metrics: &Metrics, requests: Vec<CommitRequest>) {
    let (batches, replies): (Vec<AppendBatch>, Vec<_>) =
        requests.into_iter().map(|r| (r.batch, r.reply)).unzip();
    let mut groups = vec![(batches, replies)];
    while let Some((mut batches, mut replies)) = groups.pop() {
        let started = Instant::now();
        metrics
            .commit_groups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = match batches.as_slice() {
            [one] => store.append_batch(one).await,
            many => store.append_many(many).await,
        };
        let outcome = match result {
            Ok(()) => {
                tracing::trace!(documents = batches.len(), took = ?started.elapsed(), "group commit");
                CommitOutcome::Committed
            }
            Err(e) => outcome_of(&e),
        };
        let blames_rows = matches!(
            outcome,
            CommitOutcome::FailedBeforeCommit(Failure::Conflict | Failure::Rejected(_))
        );
        if blames_rows && batches.len() > 1 {
            tracing::debug!(
                documents = batches.len(),
                "group commit refused; committing each half"
            );
            let half = batches.len() / 2;
            groups.push((batches.split_off(half), replies.split_off(half)));
            groups.push((batches, replies));
            continue;
        }
        for reply in replies {
            let _ = reply.send(outcome.clone());
        }
    }
}
