//! The cross-document group commit. Every document owner hands its batch of operations
//! here and waits; one task writes everything that queued meanwhile, across all
//! documents, in a single transaction. With hundreds of active documents that turns
//! hundreds of commits (and disk syncs) into one, which is what lets the relay sustain
//! tens of thousands of operations per second on two cores.

use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::store::{AppendBatch, Store, StoreError};

/// Batches waiting for the committer before owners are made to wait for a place.
const QUEUE: usize = 8192;
/// Most operations in one transaction.
const MAX_ROWS: usize = 8192;
/// Transactions in flight at once. While one waits for its disk sync, the next group
/// forms and commits; the database merges the syncs of concurrent commits.
const WORKERS: usize = 1;

struct CommitRequest {
    batch: AppendBatch,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<CommitRequest>,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the committer stopped")]
    Stopped,
}

impl Committer {
    /// Starts the committer tasks; they end when every `Committer` handle is dropped.
    /// Each document waits for its commit before sending the next, so running several
    /// transactions at once never reorders one document's operations.
    pub fn start(store: Store) -> Committer {
        let (tx, rx) = mpsc::channel(QUEUE);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..WORKERS {
            tokio::spawn(run(store.clone(), rx.clone()));
        }
        Committer { tx }
    }

    /// Commits one document's batch durably (and sends its notice), together with
    /// whatever else is queued.
    pub async fn commit(&self, batch: AppendBatch) -> Result<(), CommitError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(CommitRequest { batch, reply })
            .await
            .map_err(|_| CommitError::Stopped)?;
        Ok(answer.await.map_err(|_| CommitError::Stopped)??)
    }
}

async fn run(store: Store, rx: std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<CommitRequest>>>) {
    loop {
        // Take one group under the lock, then commit it without holding the lock, so the
        // next worker can gather the next group meanwhile.
        let (requests, rows) = {
            let mut rx = rx.lock().await;
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
            (requests, rows)
        };
        let (batches, replies): (Vec<AppendBatch>, Vec<_>) =
            requests.into_iter().map(|r| (r.batch, r.reply)).unzip();
        let started = Instant::now();
        match store.append_many(&batches).await {
            Ok(()) => {
                tracing::trace!(rows, documents = batches.len(), took = ?started.elapsed(), "group commit");
                for reply in replies {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                // One bad batch must not fail the others: retry each on its own, so only
                // the document at fault sees an error. With several relays the usual
                // fault is a revision another relay committed first, so this is routine.
                tracing::debug!(error = %e, "group commit failed; committing documents one by one");
                for (reply, batch) in replies.into_iter().zip(batches) {
                    let result = store.append_batch(&batch).await;
                    let _ = reply.send(result);
                }
            }
        }
    }
}
