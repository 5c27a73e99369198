//! One WebSocket connection: the `hello` handshake, then a reader loop that checks each
//! message and hands it to the room or a document owner, and a writer task that drains
//! the connection's bounded outbox onto the socket.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::{SinkExt, StreamExt};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use pairprog_protocol::messages::{
    ClientMessage, ErrorCode, Participant, Selection, ServerMessage, PROTOCOL_VERSION,
};
use tokio::sync::{mpsc, oneshot};

use crate::access::{self, Role};
use crate::api_error::ApiError;
use crate::document::{now_ms, DocCommand, ProtoError, SubmitCommand};
use crate::ids;
use crate::limits::{self, ConnectionSlot, Limits, PeerAddr};
use crate::room::{frame, DispatchError, Frame, JoinError, Kick, KickReason, Member, RoomPin};
use crate::state::SharedState;

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a closing connection may take to flush and say goodbye.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Close codes (RFC 6455).
const GOING_AWAY: u16 = 1001;
const UNSUPPORTED_DATA: u16 = 1003;
const INVALID_PAYLOAD: u16 = 1007;
const POLICY_VIOLATION: u16 = 1008;
const MESSAGE_TOO_BIG: u16 = 1009;
const TRY_AGAIN_LATER: u16 = 1013;
/// Selections kept per cursor update; the owner keeps no more either.
const MAX_SELECTIONS: usize = 64;

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
        .write_buffer_size(0)
        .max_write_buffer_size(limit.saturating_mul(2))
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

    let hello = match read_hello(&mut stream, state.config.max_message_bytes).await {
        Ok(text) => serde_json::from_str::<ClientMessage>(&text),
        Err(refusal) => {
            // A peer that can still be told why hears it before the close.
            if let Some(refusal) = refusal {
                let msg = frame(&ServerMessage::Error {
                    code: refusal.code,
                    message: refusal.message,
                    path: None,
                    seq: None,
                });
                let _ = sink.send(Message::Text(msg)).await;
                let _ = sink.send(close(refusal.close.0, refusal.close.1)).await;
            }
            state.metrics.connections.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    };
    let refuse = |code, message: String| {
        frame(&ServerMessage::Error {
            code,
            message,
            path: None,
            seq: None,
        })
    };
    let (name, client_id) = match hello {
        Ok(ClientMessage::Hello {
            protocol,
            name,
            client_id,
        }) if protocol == PROTOCOL_VERSION => (name, client_id),
        Ok(ClientMessage::Hello { protocol, .. }) => {
            let msg = refuse(
                ErrorCode::ProtocolMismatch,
                format!("this relay speaks protocol {PROTOCOL_VERSION}; the client speaks {protocol}. Update the older one."),
            );
            let _ = sink.send(Message::Text(msg)).await;
            let _ = sink
                .send(close(POLICY_VIOLATION, "protocol version mismatch"))
                .await;
            state.metrics.connections.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        Ok(_) => {
            let msg = refuse(
                ErrorCode::NotJoined,
                "the first message must be hello".into(),
            );
            let _ = sink.send(Message::Text(msg)).await;
            let _ = sink.send(close(POLICY_VIOLATION, "expected hello")).await;
            state.metrics.connections.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        Err(e) => {
            let msg = refuse(ErrorCode::BadMessage, format!("bad hello: {e}"));
            let _ = sink.send(Message::Text(msg)).await;
            let _ = sink.send(close(POLICY_VIOLATION, "bad hello")).await;
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
            name: clean_name(&name),
            color: room.pick_color(),
            read_only: role == Role::ReadOnly,
        },
        client_id: client_id
            .filter(|id| (1..=64).contains(&id.len()))
            .unwrap_or_else(ids::short_id),
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
            let msg = refuse(ErrorCode::UnknownRoom, "the room was deleted".into());
            let _ = sink.send(Message::Text(msg)).await;
            let _ = sink.send(close(GOING_AWAY, "room deleted")).await;
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
            let msg = refuse(
                ErrorCode::Unavailable,
                "the room is full: it has the most connections the relay allows".into(),
            );
            let _ = sink.send(Message::Text(msg)).await;
            let _ = sink.send(close(TRY_AGAIN_LATER, "room full")).await;
            state.metrics.connections.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    }
    tracing::debug!(room = %room_id, participant = %you.id, "joined");
    touch(&state, &room_id).await;

    let (close_tx, close_rx) = oneshot::channel();
    let writer = tokio::spawn(write_loop(sink, outbox_rx, close_rx));
    let mut conn = Connection {
        limiter: message_limiter(&state.config),
        state: state.clone(),
        room,
        member,
        open: HashMap::new(),
        cursors: HashMap::new(),
        next_cursor_at: tokio::time::Instant::now(),
    };
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

/// Why a connection is being closed for what its peer sent: the error it is told, then
/// the close frame.
struct Refusal {
    code: ErrorCode,
    message: String,
    close: (u16, &'static str),
}

/// Waits for the first frame, which must be a `hello` in a text frame. `Err(None)`: the
/// peer left or broke the connection, so nobody is left to tell.
async fn read_hello(
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
    limit: usize,
) -> Result<Utf8Bytes, Option<Refusal>> {
    let deadline = tokio::time::Instant::now() + HELLO_TIMEOUT;
    loop {
        let Ok(next) = tokio::time::timeout_at(deadline, stream.next()).await else {
            return Err(Some(Refusal {
                code: ErrorCode::NotJoined,
                message: format!("no hello within {} s", HELLO_TIMEOUT.as_secs()),
                close: (POLICY_VIOLATION, "expected hello"),
            }));
        };
        return match next {
            None | Some(Ok(Message::Close(_))) => Err(None),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Text(text))) if text.len() > limit => Err(Some(Refusal {
                code: ErrorCode::MessageTooLarge,
                message: format!("the hello is {} bytes; the limit is {limit}", text.len()),
                close: (MESSAGE_TOO_BIG, "message too big"),
            })),
            Some(Ok(Message::Text(text))) => Ok(text),
            Some(Ok(Message::Binary(_))) => Err(Some(Refusal {
                code: ErrorCode::BadMessage,
                message: "binary messages are not part of the protocol; send hello as JSON text"
                    .into(),
                close: (UNSUPPORTED_DATA, "expected a text frame"),
            })),
            Some(Err(e)) => Err(read_failure(e)),
        };
    }
}

/// What to tell a peer whose frame could not be read: one too large gets 1009 and one
/// that is not UTF-8 gets 1007, each after an error message. Any other failure means
/// the connection itself broke, and nothing can be sent.
fn read_failure(error: axum::Error) -> Option<Refusal> {
    let error = error.into_inner().downcast::<tungstenite::Error>().ok()?;
    match *error {
        tungstenite::Error::Capacity(e) => Some(Refusal {
            code: ErrorCode::MessageTooLarge,
            message: format!("the message is larger than the relay reads: {e}"),
            close: (MESSAGE_TOO_BIG, "message too big"),
        }),
        tungstenite::Error::Utf8 => Some(Refusal {
            code: ErrorCode::BadMessage,
            message: "a text message that is not valid UTF-8".into(),
            close: (INVALID_PAYLOAD, "invalid UTF-8"),
        }),
        e => {
            tracing::debug!(error = %e, "websocket read failed");
            None
        }
    }
}

/// Ends a connection that joined nothing because the database did not answer: the
/// error, a "try again later" close, and the counts undone.
async fn refuse_storage(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    state: &SharedState,
    error: impl std::fmt::Display,
) {
    let msg = frame(&ServerMessage::Error {
        code: ErrorCode::Unavailable,
        message: format!("storage unavailable: {error}"),
        path: None,
        seq: None,
    });
    let _ = sink.send(Message::Text(msg)).await;
    let _ = sink
        .send(close(TRY_AGAIN_LATER, "storage unavailable"))
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

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

fn clean_name(name: &str) -> String {
    let name: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    if name.is_empty() {
        "Anonymous".to_owned()
    } else {
        name
    }
}

/// Drains the outbox onto the socket; on a close request, flushes what is queued (up to
/// the outbox's bound) and sends the close frame.
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut outbox: mpsc::Receiver<Frame>,
    mut close_rx: oneshot::Receiver<Option<(u16, &'static str)>>,
) {
    loop {
        tokio::select! {
            biased;
            reason = &mut close_rx => {
                // A peer being dropped for slowness may never read again: bound the
                // flush and the close handshake instead of waiting on its socket.
                let reason = reason.ok().flatten();
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                    while let Ok(frame) = outbox.try_recv() {
                        if sink.send(Message::Text(frame)).await.is_err() {
                            return;
                        }
                    }
                    if let Some((code, why)) = reason {
                        let _ = sink.send(close(code, why)).await;
                    }
                    let _ = sink.close().await;
                })
                .await;
                return;
            }
            frame = outbox.recv() => match frame {
                Some(frame) => {
                    if sink.send(Message::Text(frame)).await.is_err() {
                        return;
                    }
                }
                None => {
                    // Every sender is gone; wait for the reader's close reason.
                    let reason = close_rx.await.ok().flatten();
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                        if let Some((code, why)) = reason {
                            let _ = sink.send(close(code, why)).await;
                        }
                        let _ = sink.close().await;
                    })
                    .await;
                    return;
                }
            }
        }
    }
}

/// The per-connection message rate (`--ws-messages-per-second`, with its burst), or none.
fn message_limiter(config: &crate::Config) -> Option<DefaultDirectRateLimiter> {
    let rate = NonZeroU32::new(config.ws_messages_per_second)?;
    let burst = NonZeroU32::new(config.ws_message_burst).unwrap_or(rate);
    Some(DefaultDirectRateLimiter::direct(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

/// The next frame, once the connection's rate allows reading one. A client over its
/// rate is read more slowly, so TCP pushes back on it; nothing it sent is refused.
async fn next_within_rate(
    limiter: Option<&DefaultDirectRateLimiter>,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
) -> Option<Result<Message, axum::Error>> {
    if let Some(limiter) = limiter {
        while let Err(not_until) = limiter.check() {
            tokio::time::sleep(not_until.wait_time_from(DefaultClock::default().now())).await;
        }
    }
    stream.next().await
}

/// What the reader loop does next.
enum Next {
    Stop(Option<(u16, &'static str)>),
    FlushCursors,
    Frame(Option<Result<Message, axum::Error>>),
}

struct Connection {
    state: SharedState,
    /// Pinned for the connection's life; dropping it releases the room if idle.
    room: RoomPin,
    member: Member,
    /// Documents this connection subscribed to, with their owners' queues.
    open: HashMap<String, mpsc::Sender<DocCommand>>,
    limiter: Option<DefaultDirectRateLimiter>,
    /// The latest cursor per document not passed on yet. A newer one replaces it, so a
    /// flood of cursor updates costs the owner (and every subscriber's outbox) at most
    /// one update per `--cursor-interval`, never one per message.
    cursors: HashMap<String, Vec<Selection>>,
    /// When the pending cursors may next be passed on.
    next_cursor_at: tokio::time::Instant,
}

impl Connection {
    fn send(&self, msg: &ServerMessage) {
        self.member.send(frame(msg), &self.state);
    }

    fn error(&self, error: ProtoError, path: Option<&str>, seq: Option<u64>) {
        self.send(&error.to_message(path, seq));
    }

    /// Reads until the peer goes, is kicked, or the relay shuts down. Returns the close
    /// frame to send, if any.
    async fn read_loop(
        &mut self,
        stream: &mut futures_util::stream::SplitStream<WebSocket>,
        kick: &Kick,
    ) -> Option<(u16, &'static str)> {
        loop {
            let next = tokio::select! {
                biased;
                _ = self.state.shutdown.cancelled() => Next::Stop(Some((GOING_AWAY, "relay shutting down"))),
                reason = kick.kicked() => Next::Stop(Some(match reason {
                    KickReason::Slow => (POLICY_VIOLATION, "too slow: outgoing queue overflowed"),
                    KickReason::RoomDeleted => (GOING_AWAY, "room deleted"),
                    KickReason::Resync => (TRY_AGAIN_LATER, "reconnect to resynchronise"),
                })),
                _ = tokio::time::sleep_until(self.next_cursor_at), if !self.cursors.is_empty() => Next::FlushCursors,
                m = next_within_rate(self.limiter.as_ref(), stream) => Next::Frame(m),
            };
            match next {
                Next::Stop(reason) => return reason,
                Next::FlushCursors => self.flush_cursors(),
                Next::Frame(None) => return None,
                Next::Frame(Some(Err(e))) => {
                    let refusal = read_failure(e)?;
                    self.error(ProtoError::new(refusal.code, refusal.message), None, None);
                    return Some(refusal.close);
                }
                Next::Frame(Some(Ok(Message::Close(_)))) => return None,
                Next::Frame(Some(Ok(Message::Text(text)))) => self.handle_text(&text).await,
                Next::Frame(Some(Ok(Message::Binary(_)))) => self.error(
                    ProtoError::new(
                        ErrorCode::BadMessage,
                        "binary messages are not part of the protocol; send JSON text",
                    ),
                    None,
                    None,
                ),
                Next::Frame(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            }
        }
    }

    /// Passes each pending cursor to its document's owner without waiting: one whose
    /// queue is full stays pending (a later update may still replace it) and is tried
    /// again after the interval.
    fn flush_cursors(&mut self) {
        let participant_id = &self.member.participant.id;
        let open = &self.open;
        self.cursors.retain(|path, selections| {
            let Some(tx) = open.get(path) else {
                return false;
            };
            let command = DocCommand::Cursor {
                participant_id: participant_id.clone(),
                selections: selections.clone(),
            };
            matches!(
                tx.try_send(command),
                Err(mpsc::error::TrySendError::Full(_))
            )
        });
        self.next_cursor_at = tokio::time::Instant::now() + self.state.config.cursor_interval;
    }

    async fn handle_text(&mut self, text: &str) {
        let limit = self.state.config.max_message_bytes;
        if text.len() > limit {
            return self.error(
                ProtoError::new(
                    ErrorCode::MessageTooLarge,
                    format!("the message is {} bytes; the limit is {limit}", text.len()),
                ),
                None,
                None,
            );
        }
        let message = match serde_json::from_str::<ClientMessage>(text) {
            Ok(m) => m,
            Err(e) => {
                return self.error(
                    ProtoError::new(
                        ErrorCode::BadMessage,
                        format!("cannot read the message: {e}"),
                    ),
                    None,
                    None,
                )
            }
        };
        // Documents are keyed by the NFC form of their path (see `ids::validate_path`).
        // A path that is not valid stays as sent: `open` refuses it, and nothing else
        // can find it open.
        let key = |path: String| ids::validate_path(&path).unwrap_or(path);
        match message {
            ClientMessage::Hello { .. } => self.error(
                ProtoError::new(ErrorCode::BadMessage, "already joined: hello comes once"),
                None,
                None,
            ),
            ClientMessage::Open {
                path,
                language,
                text,
                revision,
            } => self.open(path, language, text, revision).await,
            ClientMessage::Close { path } => {
                let path = key(path);
                self.cursors.remove(&path);
                if let Some(tx) = self.open.remove(&path) {
                    let _ = tx
                        .send(DocCommand::Close {
                            participant_id: self.member.participant.id.clone(),
                        })
                        .await;
                }
            }
            ClientMessage::Op {
                path,
                base,
                seq,
                op,
            } => {
                let path = key(path);
                if self.member.participant.read_only {
                    self.state
                        .metrics
                        .read_only_refused
                        .fetch_add(1, Ordering::Relaxed);
                    return self.error(
                        ProtoError::new(
                            ErrorCode::ReadOnly,
                            "you joined with the read-only secret: your edits are not applied",
                        ),
                        Some(&path),
                        Some(seq),
                    );
                }
                let Some(tx) = self.open.get(&path) else {
                    return self.error(
                        ProtoError::new(ErrorCode::NotOpen, "open the document before editing it"),
                        Some(&path),
                        Some(seq),
                    );
                };
                let submit = DocCommand::Submit(SubmitCommand {
                    participant_id: self.member.participant.id.clone(),
                    client_id: self.member.client_id.clone(),
                    seq,
                    base,
                    op,
                });
                if tx.send(submit).await.is_err() {
                    self.open.remove(&path);
                    self.error(
                        ProtoError::new(
                            ErrorCode::Unavailable,
                            "the document was unloaded; open it again",
                        ),
                        Some(&path),
                        Some(seq),
                    );
                }
            }
            ClientMessage::Cursor {
                path,
                mut selections,
            } => {
                let path = key(path);
                if self.open.contains_key(&path) {
                    selections.truncate(MAX_SELECTIONS);
                    self.cursors.insert(path, selections);
                    if tokio::time::Instant::now() >= self.next_cursor_at {
                        self.flush_cursors();
                    }
                } else {
                    self.error(
                        ProtoError::new(
                            ErrorCode::NotOpen,
                            "open the document before moving in it",
                        ),
                        Some(&path),
                        None,
                    );
                }
            }
        }
    }

    async fn open(
        &mut self,
        path: String,
        language: Option<String>,
        text: Option<String>,
        revision: Option<u64>,
    ) {
        let path = match ids::validate_path(&path) {
            Ok(path) => path,
            Err(why) => {
                return self.error(
                    ProtoError::new(ErrorCode::InvalidPath, why),
                    Some(&path),
                    None,
                )
            }
        };
        if let Some(tx) = self.open.remove(&path) {
            // Reopening (a resync): leave first so the owner starts this subscription afresh.
            let _ = tx
                .send(DocCommand::Close {
                    participant_id: self.member.participant.id.clone(),
                })
                .await;
        }
        // A read-only participant may open what exists but not create: its text is
        // never passed on, and "no such document" becomes a read-only refusal.
        let read_only = self.member.participant.read_only;
        let refused_creation = read_only && text.is_some();
        let text = if read_only { None } else { text };
        let (reply, answer) = oneshot::channel();
        let command = DocCommand::Open {
            member: self.member.clone(),
            language: language.filter(|l| !l.is_empty() && l.len() <= 64),
            text,
            revision,
            reply,
        };
        let tx = match self.room.dispatch(&path, command, &self.state) {
            Ok(tx) => tx,
            Err(DispatchError::Busy) => {
                return self.error(
                    ProtoError::new(ErrorCode::Unavailable, "the document is busy; try again"),
                    Some(&path),
                    None,
                )
            }
            Err(DispatchError::Gone) => {
                return self.error(
                    ProtoError::new(ErrorCode::UnknownRoom, "the room was deleted"),
                    Some(&path),
                    None,
                )
            }
        };
        match tokio::time::timeout(OPEN_TIMEOUT, answer).await {
            Ok(Ok(Ok(()))) => {
                self.open.insert(path, tx);
            }
            Ok(Ok(Err(e))) if refused_creation && e.code == ErrorCode::UnknownDocument => {
                self.state
                    .metrics
                    .read_only_refused
                    .fetch_add(1, Ordering::Relaxed);
                self.error(
                    ProtoError::new(
                        ErrorCode::ReadOnly,
                        "you joined with the read-only secret: you cannot create documents",
                    ),
                    Some(&path),
                    None,
                )
            }
            Ok(Ok(Err(e))) => self.error(e, Some(&path), None),
            Ok(Err(_)) | Err(_) => self.error(
                ProtoError::new(ErrorCode::Unavailable, "the document did not open in time"),
                Some(&path),
                None,
            ),
        }
    }

    async fn leave(&mut self) {
        for (_, tx) in self.open.drain() {
            let _ = tx
                .send(DocCommand::Close {
                    participant_id: self.member.participant.id.clone(),
                })
                .await;
        }
        self.room.leave(&self.member.participant.id, &self.state);
    }
}
