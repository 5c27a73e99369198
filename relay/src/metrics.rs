//! Counters for `GET /metrics`, in the Prometheus text format. Plain atomics: every
//! update is one instruction, and the exposition is written by hand.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the commit-latency histogram, in seconds.
const COMMIT_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Default)]
pub struct Metrics {
    pub connections: AtomicI64,
    pub rooms: AtomicI64,
    pub live_documents: AtomicI64,
    pub operations_committed: AtomicU64,
    pub commits: AtomicU64,
    pub slow_peers_dropped: AtomicU64,
    /// Requests and connections refused for a wrong or missing room secret.
    pub forbidden: AtomicU64,
    /// Operations and document creations refused because the sender is read-only.
    pub read_only_refused: AtomicU64,
    /// Room creations refused by the per-IP rate limit.
    pub rate_limited_room_creates: AtomicU64,
    /// WebSocket connects refused by the per-IP rate limit.
    pub rate_limited_connects: AtomicU64,
    /// WebSocket connects refused because the room was full.
    pub room_full_refused: AtomicU64,
    /// WebSocket connects refused because the relay was full.
    pub relay_full_refused: AtomicU64,
    /// Requests refused because their Origin is not allowed.
    pub origin_refused: AtomicU64,
    /// Rooms deleted by the retention job for being idle longer than --room-ttl.
    pub rooms_expired: AtomicU64,
    /// Log rows deleted by the retention job after folding them into snapshots.
    pub operations_compacted: AtomicU64,
    /// Snapshots the retention job moved forward.
    pub snapshots_compacted: AtomicU64,
    /// Completed runs of the retention job.
    pub retention_runs: AtomicU64,
    /// Messages received from other relays sharing the database.
    pub bus_received: AtomicU64,
    /// Messages for other relays not sent (queue full or database error), and received
    /// messages that could not be read.
    pub bus_dropped: AtomicU64,
    /// Batches whose revisions another relay committed first, caught up and retried.
    pub revision_races: AtomicU64,
    /// Times a document read operations it had missed from the log.
    pub catch_ups: AtomicU64,
    /// Participants of relays that stopped answering, removed by this relay.
    pub peers_expired: AtomicU64,
    /// Statements the group committer ran, each its own transaction (a group, or a
    /// half of a refused one): operations committed per database transaction is
    /// `operations_committed / commit_groups` (commits under a document's append lock
    /// after a lost race are not counted here).
    pub commit_groups: AtomicU64,
    commit_buckets: [AtomicU64; COMMIT_BUCKETS.len()],
    commit_seconds_sum_micros: AtomicU64,
}

impl Metrics {
    /// Records one durable commit (one transaction, possibly of several operations).
    pub fn record_commit(&self, operations: usize, took: Duration) {
        self.commits.fetch_add(1, Relaxed);
        self.operations_committed
            .fetch_add(operations as u64, Relaxed);
        let secs = took.as_secs_f64();
        for (bound, count) in COMMIT_BUCKETS.iter().zip(&self.commit_buckets) {
            if secs <= *bound {
                count.fetch_add(1, Relaxed);
            }
        }
        self.commit_seconds_sum_micros
            .fetch_add(took.as_micros() as u64, Relaxed);
    }

    pub fn count_forbidden(&self) {
        self.forbidden.fetch_add(1, Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, v: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        gauge(
            &mut out,
            "pairprog_connections",
            "Open WebSocket connections.",
            self.connections.load(Relaxed),
        );
        gauge(
            &mut out,
            "pairprog_rooms",
            "Rooms held in memory.",
            self.rooms.load(Relaxed),
        );
        gauge(
            &mut out,
            "pairprog_live_documents",
            "Documents loaded in memory.",
            self.live_documents.load(Relaxed),
        );
        counter(
            &mut out,
            "pairprog_operations_committed_total",
            "Operations committed durably.",
            self.operations_committed.load(Relaxed),
        );
        counter(
            &mut out,
            "pairprog_slow_peers_dropped_total",
            "Connections dropped because their outgoing queue was full.",
            self.slow_peers_dropped.load(Relaxed),
        );
        let counters: [(&str, &str, &AtomicU64); 17] = [
            (
                "pairprog_forbidden_total",
                "Requests and connections refused for a wrong or missing room secret.",
                &self.forbidden,
            ),
            (
                "pairprog_read_only_refused_total",
                "Operations and document creations refused from read-only participants.",
                &self.read_only_refused,
            ),
            (
                "pairprog_rate_limited_room_creates_total",
                "Room creations refused (429) by the per-IP rate limit.",
                &self.rate_limited_room_creates,
            ),
            (
                "pairprog_rate_limited_connects_total",
                "WebSocket connects refused (429) by the per-IP rate limit.",
                &self.rate_limited_connects,
            ),
            (
                "pairprog_room_full_refused_total",
                "WebSocket connects refused (503) because the room had --max-connections-per-room.",
                &self.room_full_refused,
            ),
            (
                "pairprog_relay_full_refused_total",
                "WebSocket connects refused (503) because the relay had --max-connections.",
                &self.relay_full_refused,
            ),
            (
                "pairprog_origin_refused_total",
                "Requests refused (403) because their Origin is not in --allowed-origin.",
                &self.origin_refused,
            ),
            (
                "pairprog_rooms_expired_total",
                "Rooms deleted for being idle longer than --room-ttl.",
                &self.rooms_expired,
            ),
            (
                "pairprog_operations_compacted_total",
                "Logged operations older than --history-ttl folded into snapshots and deleted.",
                &self.operations_compacted,
            ),
            (
                "pairprog_snapshots_compacted_total",
                "Snapshots moved forward by the retention job.",
                &self.snapshots_compacted,
            ),
            (
                "pairprog_retention_runs_total",
                "Completed runs of the retention job.",
                &self.retention_runs,
            ),
            (
                "pairprog_bus_received_total",
                "Messages received from other relays sharing the database.",
                &self.bus_received,
            ),
            (
                "pairprog_bus_dropped_total",
                "Messages to other relays not sent, and received ones that could not be read.",
                &self.bus_dropped,
            ),
            (
                "pairprog_revision_races_total",
                "Batches whose revisions another relay committed first, caught up and retried.",
                &self.revision_races,
            ),
            (
                "pairprog_catch_ups_total",
                "Times a document read operations it had missed from the log.",
                &self.catch_ups,
            ),
            (
                "pairprog_peers_expired_total",
                "Participants of relays that stopped answering, removed from their rooms.",
                &self.peers_expired,
            ),
            (
                "pairprog_commit_groups_total",
                "Statements (transactions) the group committer ran, each for many documents.",
                &self.commit_groups,
            ),
        ];
        for (name, help, value) in counters {
            counter(&mut out, name, help, value.load(Relaxed));
        }
        let name = "pairprog_commit_duration_seconds";
        let _ = writeln!(out, "# HELP {name} Time to commit one batch of operations to the database.\n# TYPE {name} histogram");
        for (bound, count) in COMMIT_BUCKETS.iter().zip(&self.commit_buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                count.load(Relaxed)
            );
        }
        let commits = self.commits.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {commits}");
        let sum = self.commit_seconds_sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {commits}");
        out
    }
}
