//! Routes what the other relays announce to the rooms and document owners held here.
//! Nothing is loaded for a message: a relay that does not hold a room or document reads
//! it whole from the database when a client asks for it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use pairprog_protocol::bus::BusMessage;
use pairprog_protocol::messages::ServerMessage;
use sqlx::postgres::PgListener;

use std::sync::Arc;

use super::{Cluster, ClusterContext};
use crate::document::{DocCommand, Replicated};
use crate::room::{CatchUpTicket, Room};

/// Pause after a failed receive (the database is down) before trying again.
const RETRY: Duration = Duration::from_secs(1);
/// How long a message for a document whose queue is full may wait for a place.
const FULL_QUEUE_WAIT: Duration = Duration::from_secs(30);

pub(super) async fn run<C: ClusterContext>(
    state: Arc<C>,
    cluster: Arc<Cluster>,
    mut listener: PgListener,
) {
    // Notifications sent while the connection was down are lost for good: after one,
    // every loaded document reads the log and every room rereads its roster.
    let mut lost = false;
    loop {
        let next = tokio::select! {
            _ = state.shutdown().cancelled() => return,
            next = listener.try_recv() => next,
        };
        match next {
            Ok(Some(notification)) => {
                if lost {
                    lost = false;
                    resync(&*state, &cluster).await;
                }
                route(&*state, &cluster, notification.payload());
            }
            Ok(None) => {
                tracing::warn!("lost the notification connection; catching up from the database");
                resync(&*state, &cluster).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot receive from the other relays");
                lost = true;
                tokio::select! {
                    _ = state.shutdown().cancelled() => return,
                    _ = tokio::time::sleep(RETRY) => {}
                }
            }
        }
    }
}

fn route(state: &impl ClusterContext, cluster: &Cluster, payload: &str) {
    let message: BusMessage = match serde_json::from_str(payload) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable message from another relay");
            state.metrics().bus_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    if message.relay() == cluster.relay_id {
        return;
    }
    state.metrics().bus_received.fetch_add(1, Ordering::Relaxed);
    let Some(room) = state.rooms().get(message.room()) else {
        return;
    };
    match message {
        BusMessage::Ops {
            path,
            document,
            ops,
            ..
        } => deliver(
            state,
            &room,
            &path,
            DocCommand::Replicated {
                document,
                ops: Replicated::Ops(ops),
            },
        ),
        BusMessage::OpsInLog {
            path,
            document,
            last,
            ..
        } => deliver(
            state,
            &room,
            &path,
            DocCommand::Replicated {
                document,
                ops: Replicated::InLog { last },
            },
        ),
        BusMessage::Cursor { cursor, .. } => {
            let path = cursor.path.clone();
            deliver(state, &room, &path, DocCommand::RemoteCursor(cursor));
        }
        BusMessage::DocumentAdded { document, .. } => {
            room.broadcast(&ServerMessage::DocumentAdded(document), None, state)
        }
        BusMessage::Joined { participant, .. } => room.remote_joined(participant, state),
        BusMessage::Left { participant_id, .. } => {
            for owner in room.remote_left(&participant_id, state) {
                let _ = owner.try_send(DocCommand::Close {
                    participant_id: participant_id.clone(),
                });
            }
        }
        BusMessage::RoomDeleted { room: id, .. } => {
            if let Some(room) = state.rooms().remove(&id, state) {
                room.delete();
            }
        }
    }
}

/// Hands a message to a loaded document. A full queue must not stall every other room
/// behind it, so the message is then replaced by a catch-up from the log, which waits
/// for a place on a task of its own, for a bounded time. At most one such catch-up
/// waits per document (`room::CatchUpFlag`): a burst of notifications for a busy
/// document costs one task, not one each.
fn deliver(state: &impl ClusterContext, room: &Room, path: &str, command: DocCommand) {
    let replicated = matches!(command, DocCommand::Replicated { .. });
    let Err(ticket) = room.send_if_loaded(path, command) else {
        return;
    };
    state.metrics().bus_dropped.fetch_add(1, Ordering::Relaxed);
    if let (true, Some(ticket)) = (replicated, ticket) {
        tokio::spawn(catch_up_within(ticket));
    }
}

/// Queues one catch-up, waiting a bounded time for a place; the ticket is given back
/// when this ends, however it ends.
async fn catch_up_within(ticket: CatchUpTicket) {
    let _ = tokio::time::timeout(FULL_QUEUE_WAIT, ticket.owner.send(DocCommand::CatchUp)).await;
}

/// After notifications may have been lost: every loaded document catches up from the
/// log, and every room held here rereads who is connected elsewhere.
pub(super) async fn resync(state: &impl ClusterContext, cluster: &Cluster) {
    for room in state.rooms().all() {
        for ticket in room.claim_catch_ups() {
            tokio::spawn(catch_up_within(ticket));
        }
        if let Err(e) = cluster.load_roster(&room, state).await {
            tracing::warn!(error = %e, room = %room.id, "cannot reread the room's participants");
        }
    }
}
