//! The statements of the scale-out tables (`migrations/postgres/0003_scale_out.sql`).
//! Each change of presence is written and announced in one statement: the notification
//! goes out when, and only if, the change commits.

/// Says a relay is alive. `xmax = 0` holds for a freshly inserted row: the relay's row
/// was missing, so another relay took it for dead and removed its participants.
pub(super) const HEARTBEAT: &str = "INSERT INTO relays (id, last_seen_ms) VALUES ($1, $2) \
     ON CONFLICT (id) DO UPDATE SET last_seen_ms = EXCLUDED.last_seen_ms \
     RETURNING (xmax = 0)";

/// Removes relays silent since `$1`, with their participants, and announces each
/// participant's departure as a `left` bus message (the JSON `BusMessage::Left` reads;
/// `cluster::tests` checks the two agree). Participants of relays with no row at all are
/// removed too. Concurrent sweeps by several relays delete, and so announce, each row
/// once.
pub(super) const SWEEP: &str = "WITH dead AS (DELETE FROM relays WHERE last_seen_ms < $1 RETURNING id), \
     gone AS (DELETE FROM presence p \
              WHERE p.relay_id IN (SELECT id FROM dead) \
                 OR NOT EXISTS (SELECT 1 FROM relays r WHERE r.id = p.relay_id) \
              RETURNING p.room_id, p.participant_id, p.relay_id) \
     SELECT pg_notify($2, json_build_object('type', 'left', 'relay', relay_id, \
                                            'room', room_id, 'participantId', participant_id)::text) \
     FROM gone";

/// A relay going away cleanly removes its own participants and row.
pub(super) const DEPART: &str = "WITH gone AS (DELETE FROM presence WHERE relay_id = $1 \
                   RETURNING room_id, participant_id, relay_id), \
     me AS (DELETE FROM relays WHERE id = $1) \
     SELECT pg_notify($2, json_build_object('type', 'left', 'relay', relay_id, \
                                            'room', room_id, 'participantId', participant_id)::text) \
     FROM gone";

pub(super) const JOIN: &str = "WITH joined AS (INSERT INTO presence \
         (room_id, participant_id, relay_id, name, color, read_only, joined_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (room_id, participant_id) DO UPDATE SET relay_id = EXCLUDED.relay_id) \
     SELECT pg_notify($8, $9)";

pub(super) const LEAVE: &str = "WITH left_room AS (DELETE FROM presence \
         WHERE room_id = $1 AND participant_id = $2) \
     SELECT pg_notify($3, $4)";

/// The participants connected to other relays, first joined first.
pub(super) const ROSTER: &str = "SELECT participant_id, name, color, read_only FROM presence \
     WHERE room_id = $1 AND relay_id <> $2 ORDER BY joined_at_ms, participant_id";

/// Notifications with no row to change (cursors, new documents, deleted rooms).
pub(super) const NOTIFY_MANY: &str =
    "SELECT pg_notify($1, payload) FROM UNNEST($2::TEXT[]) AS payload";

/// The server's clock, exactly, as text (to compare with `pg_stat_activity` below).
pub(super) const NOW: &str = "SELECT clock_timestamp()::text";

/// Client transactions in this database that began before `$1` and are still open
/// (autovacuum's are not appends and may run for minutes). Sessions of other roles show
/// no start time without `pg_read_all_stats`; relays share one role.
pub(super) const TRANSACTIONS_BEFORE: &str = "SELECT COUNT(*) FROM pg_stat_activity \
     WHERE datname = current_database() AND backend_type = 'client backend' \
       AND xact_start < $1::timestamptz";
