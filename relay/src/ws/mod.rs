//! One WebSocket connection. `upgrade` admits it (rate, access, caps) and sizes the
//! socket; `connection` runs its life: the `hello` ([`hello`]), joining the room, then
//! a reader ([`reader`]) and a writer draining a bounded outbox ([`edge`]) until it
//! ends, and leaving.
//!
//! Dependency rule: `mod` ← `hello`, `reader` ← `edge`; no child imports `mod`.

mod edge;
mod hello;
mod reader;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::StreamExt;
use pairprog_protocol::messages::{ErrorCode, Participant, ServerMessage, PROTOCOL_VERSION};
use tokio::sync::{mpsc, oneshot};

use self::edge::{write_loop, Refusal, Sink, GOING_AWAY, TRY_AGAIN_LATER};
use self::reader::Connection;
use crate::access::{self, Role};
use crate::api_error::ApiError;
use crate::document::now_ms;
use crate::ids;
use crate::limits::{self, ConnectionSlot, Limits, PeerAddr};
use crate::room::{Frame, JoinError, Kick, Member};
use crate::state::SharedState;

pub async fn upgrade(
    State(state): State<SharedState>,
    Extension(limits): Extension<Arc<Limits>>,
    PeerAddr(peer): PeerAddr,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let ip = limits.client_ip(&headers, peer);
    if let Err(retry_after) = limits.connects.check(ip, Instant::now()) {
        state
            .metrics
            .rate_limited_connects
            .fetch_add(1, Ordering::Relaxed);
        return limits::too_many_requests("connections", retry_after);
    }
    let room = if ids::plausible_room_id(&room_id) {
        match state.store.room(&room_id).await {
            Ok(room) => room,
            Err(e) => return ApiError::unavailable(e).into_response(),
        }
    } else {
        None
    };
    let secret = access::presented_secret(&headers, query.as_deref());
    let role = match access::check(
        room.as_ref(),
        secret.as_deref(),
        state.config.require_room_secret,
        ApiError::room_not_found(),
    ) {
        Ok(role) => role,
        Err(e) => {
            if e.status == StatusCode::FORBIDDEN {
                state.metrics.count_forbidden();
            }
            return e.into_response();
        }
    };
    let full_room = state
        .rooms
        .get(&room_id)
        .is_some_and(|r| r.member_count() >= state.config.max_connections_per_room);
    if full_room {
        state
            .metrics
            .room_full_refused
            .fetch_add(1, Ordering::Relaxed);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "room_full",
            "the room has the most connections the relay allows",
        )
        .into_response();
    }
    let Some(slot) = limits.reserve_connection() else {
        state
            .metrics
            .relay_full_refused
            .fetch_add(1, Ordering::Relaxed);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "relay_full",
            "the relay has the most connections it allows; try again later",
        )
        .into_response();
    };
    let limit = state.config.max_message_bytes;
    // Messages between our limit and this hard cap get a polite error; beyond it the
    // socket library closes the connection (1009) before buffering any more.
    let hard_cap = limit.saturating_mul(2).max(64 * 1024);
    ws.max_message_size(hard_cap)
        .max_frame_size(hard_cap)
        // tungstenite's 128 KiB buffers per connection would dominate the memory of
        // 10,000 idle connections; keystroke messages are tens of bytes.
        .read_buffer_size(4 * 1024)
        // Frames are buffered up to this many bytes until the writer flushes, which it
        // does once the outbox is drained: one send for everything queued (an ack and
        // several remotes) instead of one per frame. Small, because the buffer keeps its
        // largest size for the connection's life.
        .write_buffer_size(edge::COALESCE_BYTES)
        .max_write_buffer_size(edge::COALESCE_BYTES + limit.saturating_mul(2))
        .on_upgrade(move |socket| connection(state, room_id, role, slot, socket))
}

/// `slot` holds this connection's place under `--max-connections` until it ends.
async fn connection(
    state: SharedState,
    room_id: String,
    role: Role,
    slot: ConnectionSlot,
    socket: WebSocket,
) {
    state.metrics.connections.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();

    let hello = match hello::read(&mut stream, state.config.max_message_bytes).await {
        Ok(hello) => hello,
        Err(refusal) => {
            // A peer that can still be told why hears it before the close.
            if let Some(refusal) = refusal {
                refusal.send(&mut sink).await;
            }
            state.metrics.connections.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    };
    // Pinned until this connection ends: the awaits before `join` below cannot lose
    // the room to `release_if_idle`, and every way out releases it.
    let room = state.rooms.pin(&room_id, &state);
    // Participants of other relays first, so the colour picked below is free room-wide
    // and the welcome lists them.
    if let Some(cluster) = &state.cluster {
        if let Err(e) = cluster.load_roster(&room, &state).await {
            return refuse_storage(&mut sink, &state, e).await;
        }
    }
    let (outbox, outbox_rx) = mpsc::channel::<Frame>(state.config.outbox_capacity.max(8));
    let kick = Arc::new(Kick::default());
    let member = Member {
        participant: Participant {
            id: ids::short_id(),
            name: hello.name,
            color: room.pick_color(&hello.client_id),
            read_only: role == Role::ReadOnly,
        },
        client_id: hello.client_id,
        outbox: outbox.clone(),
        kick: kick.clone(),
    };
    let documents = match state.store.documents(&room_id).await {
        Ok(docs) => docs,
        Err(e) => {
            return refuse_storage(&mut sink, &state, e).await;
        }
    };
    let you = member.participant.clone();
    if let Some(cluster) = &state.cluster {
        if let Err(e) = cluster.announce_join(&room_id, &you).await {
            return refuse_storage(&mut sink, &state, e).await;
        }
    }
    let joined = room.join(member.clone(), &state, |participants| {
        ServerMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            room_id: room_id.clone(),
            client_id: member.client_id.clone(),
            you: you.clone(),
            participants,
            documents: documents
                .into_iter()
                .map(|d| pairprog_protocol::messages::DocumentInfo {
                    path: d.path,
                    language: d.language,
                    revision: d.revision,
                })
                .collect(),
        }
    });
    match joined {
        Ok(()) => {}
        Err(JoinError::Gone) => {
            announce_leave(&state, &room_id, &you.id).await;
            Refusal::new(
                ErrorCode::UnknownRoom,
                "the room was deleted",
                (GOING_AWAY, "room deleted"),
            )
            .send(&mut sink)
            .await;
            state.metrics.connections.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        Err(JoinError::Full) => {
            announce_leave(&state, &room_id, &you.id).await;
            // Others joined between the check before the upgrade and now.
            state
                .metrics
                .room_full_refused
                .fetch_add(1, Ordering::Relaxed);
            Refusal::new(
                ErrorCode::Unavailable,
                "the room is full: it has the most connections the relay allows",
                (TRY_AGAIN_LATER, "room full"),
            )
            .send(&mut sink)
            .await;
            state.metrics.connections.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    }
    tracing::debug!(room = %room_id, participant = %you.id, "joined");
    touch(&state, &room_id).await;

    let (close_tx, close_rx) = oneshot::channel();
    let writer = tokio::spawn(write_loop(sink, outbox_rx, close_rx));
    let mut conn = Connection::new(state.clone(), room, member);
    let close_reason = conn.read_loop(&mut stream, &kick).await;
    conn.leave().await;
    announce_leave(&state, &room_id, &you.id).await;
    drop(conn);
    drop(outbox);
    let _ = close_tx.send(close_reason);
    let _ = writer.await;
    // Every operation came through a connection, so its end is the room's latest
    // activity: the retention job measures idleness from here.
    touch(&state, &room_id).await;
    // The place is free before the gauge says so, so a client that sees the gauge
    // drop can connect.
    drop(slot);
    state.metrics.connections.fetch_sub(1, Ordering::Relaxed);
}

/// Ends a connection that joined nothing because the database did not answer: the
/// error, a "try again later" close, and the counts undone.
async fn refuse_storage(sink: &mut Sink, state: &SharedState, error: impl std::fmt::Display) {
    Refusal::new(
        ErrorCode::Unavailable,
        format!("storage unavailable: {error}"),
        (TRY_AGAIN_LATER, "storage unavailable"),
    )
    .send(sink)
    .await;
    state.metrics.connections.fetch_sub(1, Ordering::Relaxed);
}

/// Tells the other relays sharing the database that a participant left. If that fails
/// they learn it when this relay stops: its participants are removed with it.
async fn announce_leave(state: &SharedState, room_id: &str, participant_id: &str) {
    if let Some(cluster) = &state.cluster {
        if let Err(e) = cluster.announce_leave(room_id, participant_id).await {
            tracing::warn!(room = %room_id, error = %e, "cannot tell the other relays a participant left");
        }
    }
}

/// Records activity in the room for the retention job. A failure only delays the
/// room's expiry less than it should, so it is logged, not fatal.
async fn touch(state: &SharedState, room_id: &str) {
    if let Err(e) = state.store.touch_room(room_id, now_ms()).await {
        tracing::warn!(room = %room_id, error = %e, "cannot record the room's activity");
    }
}
