//! The retention job: deletes rooms idle for longer than `--room-ttl` and folds logged
//! operations older than `--history-ttl` into their documents' snapshots.
//!
//! A room's idleness is its `last_active_ms`, set at creation and whenever a
//! connection joins or ends (every operation arrives through a connection, so the end
//! of the last one is the last activity). A room with a connection in this relay is
//! never deleted, whatever the store says.
//!
//! Compaction keeps the invariant the loader relies on: the snapshot plus the log rows
//! after it rebuild the current text. The job moves the snapshot forward (never back)
//! to cover the old operations, then deletes only old rows the stored snapshot covers.
//! A reconnecting client whose revision is older than the remaining log gets the whole
//! text in `opened` instead of operations (the owner checks the log covers the gap).

use std::sync::atomic::Ordering;
use std::time::Duration;

use ropey::Rope;
use tokio::task::JoinHandle;

use crate::document::now_ms;
use crate::state::SharedState;
use crate::store::{DocumentId, StoreError};

/// Rooms, or documents, handled per run; the next run continues where this one ended.
const BATCH: u32 = 1_000;

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub rooms_deleted: u64,
    pub snapshots_advanced: u64,
    pub operations_deleted: u64,
}

/// Starts the job: a run every `--retention-interval` (the first one interval after
/// start), until the relay shuts down. Returns `None` when both TTLs are off.
pub fn spawn(state: SharedState) -> Option<JoinHandle<()>> {
    let config = &state.config;
    if config.room_ttl.is_zero() && config.history_ttl.is_zero() {
        return None;
    }
    let every = config.retention_interval.max(Duration::from_secs(1));
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = state.shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            // A run checks for shutdown between its statements only through the
            // select above, so it is also raced against the cancellation.
            tokio::select! {
                biased;
                _ = state.shutdown.cancelled() => return,
                result = run_once(&state, now_ms()) => match result {
                    Ok(report) => tracing::info!(?report, "retention run finished"),
                    Err(e) => tracing::warn!(error = %e, "retention run failed; retrying next interval"),
                },
            }
        }
    }))
}

/// One run of the job as of `now_ms`: what the background task calls, and what tests
/// call directly with a chosen clock.
pub async fn run_once(state: &SharedState, now_ms: i64) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let config = &state.config;
    if let Some(cutoff) = cutoff(now_ms, config.room_ttl) {
        // Other relays sharing the database judge idleness by the stored time alone, and
        // a long-lived connection writes it only when it starts and ends: refresh it for
        // every room with someone connected here, before anyone looks.
        for room in state.rooms.all() {
            if room.member_count() > 0 {
                state.store.touch_room(&room.id, now_ms).await?;
            }
        }
        report.rooms_deleted = expire_rooms(state, cutoff).await?;
    }
    if let Some(cutoff) = cutoff(now_ms, config.history_ttl) {
        for document in state
            .store
            .documents_with_old_operations(cutoff, BATCH)
            .await?
        {
            let (advanced, deleted) = compact_document(state, document, cutoff).await?;
            report.snapshots_advanced += u64::from(advanced);
            report.operations_deleted += deleted;
        }
    }
    let metrics = &state.metrics;
    metrics
        .rooms_expired
        .fetch_add(report.rooms_deleted, Ordering::Relaxed);
    metrics
        .snapshots_compacted
        .fetch_add(report.snapshots_advanced, Ordering::Relaxed);
    metrics
        .operations_compacted
        .fetch_add(report.operations_deleted, Ordering::Relaxed);
    metrics.retention_runs.fetch_add(1, Ordering::Relaxed);
    Ok(report)
}

/// `now - ttl` in milliseconds, or `None` when the TTL is off (zero).
fn cutoff(now_ms: i64, ttl: Duration) -> Option<i64> {
    if ttl.is_zero() {
        return None;
    }
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    Some(now_ms.saturating_sub(ttl_ms))
}

async fn expire_rooms(state: &SharedState, cutoff: i64) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for id in state.store.idle_rooms(cutoff, BATCH).await? {
        // Someone connected to this relay counts as activity even if the store's
        // timestamp lags (it is written when a connection starts and ends).
        if state.rooms.get(&id).is_some_and(|room| !room.is_idle()) {
            continue;
        }
        if state.store.delete_room_if_idle(&id, cutoff).await? {
            if let Some(room) = state.rooms.remove(&id, state) {
                room.delete();
            }
            tracing::info!(room = %id, "deleted an idle room");
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Folds the document's operations committed before `cutoff` into its snapshot and
/// deletes them. Returns whether the snapshot moved and how many rows went.
async fn compact_document(
    state: &SharedState,
    document: DocumentId,
    cutoff: i64,
) -> Result<(bool, u64), StoreError> {
    let Some(stored) = state.store.document_by_id(document).await? else {
        return Ok((false, 0));
    };
    let mut text = Rope::from_str(&stored.snapshot);
    let mut revision = stored.snapshot_revision;
    for logged in &stored.operations {
        // The log is in revision order; stop at the first operation young enough to
        // keep, so the snapshot never skips one.
        if logged.committed_at_ms >= cutoff {
            break;
        }
        if logged.revision != revision + 1 {
            return Err(StoreError::Corrupt {
                revision: logged.revision,
                message: format!("expected revision {} after {revision}", revision + 1),
            });
        }
        logged
            .operation
            .apply(&mut text)
            .map_err(|e| StoreError::Corrupt {
                revision: logged.revision,
                message: e.to_string(),
            })?;
        revision = logged.revision;
    }
    let advanced = revision > stored.snapshot_revision
        && state
            .store
            .advance_snapshot(document, &text.to_string(), revision)
            .await?;
    let deleted = state
        .store
        .delete_covered_operations(document, cutoff)
        .await?;
    Ok((advanced, deleted))
}
