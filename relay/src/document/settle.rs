//! The owner's recovery paths, when a commit did not simply succeed: a lost race with
//! another relay (taken again under the document's append lock) and a commit whose
//! outcome is unknown (settled from the log before anyone is answered).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::convert::entry;
use super::owner::{Owner, CATCH_UP_PAGE};
use super::LogEntry;
use crate::store::{DocumentLock, StoreError};

/// Reads of the log to settle a commit whose outcome is unknown, and the pause before
/// the first retry (doubling). After the last, the document is dropped and its
/// subscribers resynchronise: nobody is answered from a guess.
const RESOLVE_ATTEMPTS: u32 = 5;
const RESOLVE_BACKOFF: Duration = Duration::from_millis(100);

impl Owner {
    /// After a lost race: takes the append lock (Postgres) and applies what the log
    /// holds beyond the core's revision; without a lock (SQLite) catches up. The core
    /// then sequences the batch again on top.
    pub(super) async fn race(&mut self) -> Option<DocumentLock> {
        self.env
            .metrics
            .revision_races
            .fetch_add(1, Ordering::Relaxed);
        let document = self.core.document_id()?;
        let since = self.core.revision()?;
        let mut lock = match self.env.store.lock_document(document).await {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                if let Err(e) = self.catch_up().await {
                    self.lost_track(&e).await;
                }
                return None;
            }
            Err(e) => {
                let mut fx = Vec::new();
                self.core.refuse_backlog(&e.to_string(), &mut fx);
                self.perform(fx);
                return None;
            }
        };
        let missed = match lock.operations_since(since).await {
            Ok(missed) => missed,
            Err(e) => {
                let mut fx = Vec::new();
                self.core.refuse_backlog(&e.to_string(), &mut fx);
                self.perform(fx);
                return None;
            }
        };
        self.env.metrics.catch_ups.fetch_add(1, Ordering::Relaxed);
        let entries: Vec<LogEntry> = missed.into_iter().map(entry).collect();
        let mut fx = Vec::new();
        let applied = self.core.apply_log(&entries, &mut fx);
        self.perform(fx);
        if let Err(e) = applied {
            self.lost_track(&e.to_string()).await;
            return None;
        }
        Some(lock)
    }

    /// Settles a commit whose outcome is unknown from the log. If the log cannot be read
    /// after a few tries, the document is dropped and its subscribers resynchronise:
    /// they resend what they hold, and the log recognises what was committed.
    pub(super) async fn resolve(&mut self, since: u64) {
        let mut pause = RESOLVE_BACKOFF;
        for attempt in 1..=RESOLVE_ATTEMPTS {
            match self.read_log(since).await {
                Ok(log) => {
                    let mut fx = Vec::new();
                    let resolved = self.core.resolve(log, &mut fx);
                    self.perform(fx);
                    if let Err(e) = resolved {
                        self.lost_track(&e.to_string()).await;
                    }
                    return;
                }
                Err(e) if attempt < RESOLVE_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "cannot read the log to settle a commit; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = self.env.shutdown.cancelled() => break,
                    }
                    pause *= 2;
                }
                Err(_) => break,
            }
        }
        self.lost_track("the outcome of a commit could not be settled")
            .await;
    }

    /// Every operation the log holds after `since`.
    pub(super) async fn read_log(&self, since: u64) -> Result<Vec<LogEntry>, StoreError> {
        let Some(document) = self.core.document_id() else {
            return Ok(Vec::new());
        };
        let mut log = Vec::new();
        loop {
            let after = log.last().map_or(since, |e: &LogEntry| e.revision);
            let page = self
                .env
                .store
                .operations_since(document, after, CATCH_UP_PAGE)
                .await?;
            let full = page.len() == CATCH_UP_PAGE as usize;
            log.extend(page.into_iter().map(entry));
            if !full {
                return Ok(log);
            }
        }
    }
}
