//! Several relays sharing one Postgres database, with no other coordinator.
//!
//! - **Order** is decided by the database: the log is unique on `(document, revision)`.
//!   A document owner whose insert loses that race restores its in-memory state, reads
//!   what it missed from the log, transforms its batch past it and commits again
//!   (`document.rs`).
//! - **Operations** reach the other relays through `NOTIFY`, sent in the same statement
//!   as their insert (`store::PgStore::append_many`), so only committed operations are
//!   announced, in commit order. A batch too large for a notification is announced by
//!   its revisions and read from the log. The statement notifies each other relay listed
//!   in `relays` on its own channel (`store::relay_channel`), so a relay alone sends none
//!   and none hears its own. A relay that (re)registers may miss the operations of
//!   statements that started before its row was visible: once they have all ended
//!   ([`Cluster::settle`]), every loaded document reads the log.
//! - **Presence** lives in the `presence` table (who is in which room, through which
//!   relay), changed and announced in one statement. Cursors, new documents and deleted
//!   rooms are announced only.
//! - **Liveness:** each relay writes its row in `relays` every `--peer-heartbeat`; any
//!   relay removes the participants of one silent for five intervals and announces their
//!   departure.
//!
//! `listener.rs` routes what arrives. With SQLite there is no cluster: one file, one relay.
//!
//! Layering: `cluster` sits above `room` and `document` (it routes to them) and below
//! `state`; it reaches the shared state only through [`ClusterContext`]. What owners
//! publish goes through `bus::Publisher`, whose queue the publishing task here drains.

mod listener;
mod sql;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use pairprog_protocol::bus::{BusMessage, CHANNEL};
use pairprog_protocol::messages::Participant;
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::bus::Publisher;
use crate::clock::now_ms;
use crate::ids;
use crate::member::Metered;
use crate::room::{Room, RoomContext, RoomRegistry};
use crate::store::relay_channel;

/// What the cluster's tasks need from the relay around them; `state.rs` implements it.
pub trait ClusterContext: RoomContext + Send + Sync + 'static {
    fn rooms(&self) -> &RoomRegistry;
    fn shutdown(&self) -> &CancellationToken;
}
/// Most notifications sent in one statement.
const MAX_NOTIFY_BATCH: usize = 256;
/// Heartbeats a relay may miss before the others take it for dead.
const MISSED_HEARTBEATS: u32 = 5;
/// The shortest heartbeat interval honoured, whatever the flag says.
const MIN_HEARTBEAT: Duration = Duration::from_millis(100);
/// How often [`Cluster::settle`] looks whether older transactions have ended, and for
/// how long at most: a session left idle in a transaction must not hold the catch-up
/// back forever (appends are single statements and end in milliseconds).
const SETTLE_POLL: Duration = Duration::from_millis(20);
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[error("cannot join the other relays on the database: {0}")]
pub struct ClusterError(#[from] sqlx::Error);

/// This relay's membership of the group of relays sharing the database.
pub struct Cluster {
    /// Random per process: a restarted relay is a new member.
    pub relay_id: String,
    pool: PgPool,
    publisher: Publisher,
    heartbeat: Duration,
}

/// What [`spawn`] runs: the listening connection, already listening, and the outbox.
pub struct Bus {
    listener: PgListener,
    outbox: mpsc::Receiver<String>,
}

impl Cluster {
    /// Starts listening and records this relay as alive. Listening starts before the
    /// relay loads any document, so nothing committed after a load goes unheard.
    pub async fn connect(
        pool: PgPool,
        heartbeat: Duration,
    ) -> Result<(Cluster, Bus), ClusterError> {
        let mut listener = PgListener::connect_with(&pool).await?;
        let relay_id = format!("relay-{}", ids::short_id());
        listener.listen(CHANNEL).await?;
        // Before the row below makes this relay visible, so no append that sees the row
        // notifies a channel nobody listens on yet.
        listener.listen(&relay_channel(&relay_id)).await?;
        let (publisher, outbox_rx) = Publisher::new(relay_id.clone());
        let cluster = Cluster {
            relay_id,
            pool,
            publisher,
            heartbeat: heartbeat.max(MIN_HEARTBEAT),
        };
        cluster.beat().await?;
        Ok((
            cluster,
            Bus {
                listener,
                outbox: outbox_rx,
            },
        ))
    }

    /// Queues a notification without waiting. Cursors and the like are worth less than
    /// the caller's time: when the queue is full the message is dropped and counted.
    pub fn publish(&self, message: &BusMessage, state: &impl Metered) {
        self.publisher.publish(message, state);
    }

    /// A handle to publish through, for those below the cluster (document owners).
    pub fn publisher(&self) -> Publisher {
        self.publisher.clone()
    }

    /// Records `participant` as connected to this relay in `room` and tells the others.
    pub async fn announce_join(
        &self,
        room: &str,
        participant: &Participant,
    ) -> Result<(), sqlx::Error> {
        let message = BusMessage::Joined {
            relay: self.relay_id.clone(),
            room: room.to_owned(),
            participant: participant.clone(),
        };
        sqlx::query(sql::JOIN)
            .bind(room)
            .bind(&participant.id)
            .bind(&self.relay_id)
            .bind(&participant.name)
            .bind(&participant.color)
            .bind(participant.read_only)
            .bind(now_ms())
            .bind(CHANNEL)
            .bind(message.to_payload())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes `participant_id` from `room` and tells the others.
    pub async fn announce_leave(
        &self,
        room: &str,
        participant_id: &str,
    ) -> Result<(), sqlx::Error> {
        let message = BusMessage::Left {
            relay: self.relay_id.clone(),
            room: room.to_owned(),
            participant_id: participant_id.to_owned(),
        };
        sqlx::query(sql::LEAVE)
            .bind(room)
            .bind(participant_id)
            .bind(CHANNEL)
            .bind(message.to_payload())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Adds the participants other relays hold in `room` to it. Known ones are kept as
    /// they are, so this may overlap with the notifications about them.
    pub async fn load_roster(&self, room: &Room, state: &impl Metered) -> Result<(), sqlx::Error> {
        let rows: Vec<(String, String, String, bool)> = sqlx::query_as(sql::ROSTER)
            .bind(&room.id)
            .bind(&self.relay_id)
            .fetch_all(&self.pool)
            .await?;
        for (id, name, color, read_only) in rows {
            room.remote_joined(
                Participant {
                    id,
                    name,
                    color,
                    read_only,
                },
                state,
            );
        }
        Ok(())
    }

    /// Removes this relay's participants and row, telling the others, when it shuts down.
    pub async fn depart(&self) {
        if let Err(e) = sqlx::query(sql::DEPART)
            .bind(&self.relay_id)
            .bind(CHANNEL)
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "cannot remove this relay's participants; the others will time them out");
        }
    }

    /// Says this relay is alive. Returns true when its row had been removed, that is,
    /// when the others had taken it for dead and removed its participants.
    async fn beat(&self) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(sql::HEARTBEAT)
            .bind(&self.relay_id)
            .bind(now_ms())
            .fetch_one(&self.pool)
            .await
    }

    /// Waits until every transaction that began before now has ended (or
    /// [`SETTLE_LIMIT`] passed). Called after this relay's row was (re)inserted: an append
    /// statement that started before then did not see the row, so it neither notified
    /// this relay nor took the document locks for it, and what it commits can only be
    /// read from the log. Returns false when it gave up waiting.
    async fn settle(&self) -> Result<bool, sqlx::Error> {
        let now: String = sqlx::query_scalar(sql::NOW).fetch_one(&self.pool).await?;
        let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
        loop {
            let older: i64 = sqlx::query_scalar(sql::TRANSACTIONS_BEFORE)
                .bind(&now)
                .fetch_one(&self.pool)
                .await?;
            if older == 0 {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }

    /// Removes relays silent for too long, with their participants; returns how many
    /// participants went.
    async fn sweep(&self) -> Result<u64, sqlx::Error> {
        let silent_for = self.heartbeat * MISSED_HEARTBEATS;
        let before = now_ms() - i64::try_from(silent_for.as_millis()).unwrap_or(i64::MAX);
        let result = sqlx::query(sql::SWEEP)
            .bind(before)
            .bind(CHANNEL)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

/// Starts the tasks that listen, publish and keep this relay alive; they end on shutdown.
pub fn spawn<C: ClusterContext>(state: Arc<C>, cluster: Arc<Cluster>, bus: Bus) {
    // Documents loaded while the appends that started before this relay registered are
    // still running would miss what those commit.
    spawn_catch_up(state.clone(), cluster.clone());
    tokio::spawn(listener::run(state.clone(), cluster.clone(), bus.listener));
    tokio::spawn(publish(state.clone(), cluster.clone(), bus.outbox));
    tokio::spawn(heartbeat(state, cluster));
}

/// After this relay's row was (re)inserted: once the appends that could not see it have
/// ended, every loaded document reads what they committed from the log. On a task of its
/// own, so the wait never delays a heartbeat.
fn spawn_catch_up<C: ClusterContext>(state: Arc<C>, cluster: Arc<Cluster>) {
    tokio::spawn(async move {
        let settled = tokio::select! {
            _ = state.shutdown().cancelled() => return,
            settled = cluster.settle() => settled,
        };
        match settled {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "transactions older than this relay's registration are still running; catching up without waiting for them"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot wait for older transactions; catching up now"),
        }
        listener::resync(&*state, &cluster).await;
    });
}

/// Sends queued notifications, as many as are waiting in one statement.
async fn publish<C: ClusterContext>(
    state: Arc<C>,
    cluster: Arc<Cluster>,
    mut outbox: mpsc::Receiver<String>,
) {
    loop {
        let first = tokio::select! {
            _ = state.shutdown().cancelled() => return,
            first = outbox.recv() => match first {
                Some(first) => first,
                None => return,
            },
        };
        let mut batch = vec![first];
        while batch.len() < MAX_NOTIFY_BATCH {
            match outbox.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        if let Err(e) = sqlx::query(sql::NOTIFY_MANY)
            .bind(CHANNEL)
            .bind(&batch)
            .execute(&cluster.pool)
            .await
        {
            tracing::warn!(error = %e, dropped = batch.len(), "cannot notify the other relays");
            state
                .metrics()
                .bus_dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
    }
}

/// Says this relay is alive every interval and removes relays that stopped saying so.
async fn heartbeat<C: ClusterContext>(state: Arc<C>, cluster: Arc<Cluster>) {
    loop {
        tokio::select! {
            _ = state.shutdown().cancelled() => return,
            _ = tokio::time::sleep(cluster.heartbeat) => {}
        }
        match cluster.beat().await {
            Ok(false) => {}
            Ok(true) => {
                // A pause longer than the timeout (or a lost database) made the others
                // drop our participants: tell them again who is here.
                tracing::warn!(
                    "the other relays took this one for dead; announcing its participants again"
                );
                for room in state.rooms().all() {
                    for participant in room.local_participants() {
                        if let Err(e) = cluster.announce_join(&room.id, &participant).await {
                            tracing::warn!(error = %e, "cannot announce a participant");
                        }
                    }
                }
                // Without a row, the others stopped notifying this relay of their
                // operations: read them from the log.
                spawn_catch_up(state.clone(), cluster.clone());
            }
            Err(e) => tracing::warn!(error = %e, "cannot record that this relay is alive"),
        }
        match cluster.sweep().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(
                    participants = n,
                    "removed the participants of relays that stopped answering"
                );
                state
                    .metrics()
                    .peers_expired
                    .fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "cannot look for relays that stopped answering"),
        }
    }
}

#[cfg(test)]
mod tests {
    /// The sweep writes `left` messages in SQL; they must read as `BusMessage::Left`.
    #[test]
    fn the_sql_written_left_message_uses_the_bus_field_names() {
        let left = pairprog_protocol::bus::BusMessage::Left {
            relay: "r".into(),
            room: "room".into(),
            participant_id: "p".into(),
        }
        .to_payload();
        for key in [
            "\"type\":\"left\"",
            "\"relay\"",
            "\"room\"",
            "\"participantId\"",
        ] {
            assert!(left.contains(key), "{left} lacks {key}");
        }
        for sql in [super::sql::SWEEP, super::sql::DEPART] {
            for key in ["'type', 'left'", "'relay'", "'room'", "'participantId'"] {
                assert!(sql.contains(key), "the SQL lacks {key}");
            }
        }
    }
}
