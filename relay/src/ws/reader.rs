//! The reader of a joined connection: it checks each message and hands it to the room
//! or a document owner, keeps only the latest cursor per document (passed on at most
//! once per `--cursor-interval`), and decides the close when the peer is kicked, the
//! relay shuts down or a frame cannot be read.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::Message;
use governor::DefaultDirectRateLimiter;
use pairprog_protocol::messages::{ClientMessage, ErrorCode, Selection, ServerMessage};
use tokio::sync::{mpsc, oneshot};

use super::edge::{
    message_limiter, next_within_rate, read_failure, Stream, GOING_AWAY, POLICY_VIOLATION,
    TRY_AGAIN_LATER,
};
use crate::document::{DocCommand, ProtoError, SubmitCommand};
use crate::ids;
use crate::room::{frame, DispatchError, Kick, KickReason, Member, RoomPin};
use crate::state::SharedState;

const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Selections kept per cursor update; the owner keeps no more either.
const MAX_SELECTIONS: usize = 64;

/// What the reader loop does next.
enum Next {
    Stop(Option<(u16, &'static str)>),
    FlushCursors,
    Frame(Option<Result<Message, axum::Error>>),
}

pub(super) struct Connection {
    state: SharedState,
    /// Pinned for the connection's life; dropping it releases the room if idle.
    room: RoomPin,
    member: Member,
    /// Documents this connection subscribed to, with their owners' queues.
    open: HashMap<String, mpsc::Sender<DocCommand>>,
    limiter: Option<DefaultDirectRateLimiter>,
    /// The latest cursor per document not passed on yet. A newer one replaces it, so a
    /// flood of cursor updates costs the owner (and every subscriber's outbox) at most
    /// one update per `--cursor-interval`, never one per message. Each is kept with the
    /// revision its offsets refer to, when the client named it.
    cursors: HashMap<String, (Option<u64>, Vec<Selection>)>,
    /// When the pending cursors may next be passed on.
    next_cursor_at: tokio::time::Instant,
}

impl Connection {
    pub fn new(state: SharedState, room: RoomPin, member: Member) -> Self {
        Self {
            limiter: message_limiter(&state.config),
            state,
            room,
            member,
            open: HashMap::new(),
            cursors: HashMap::new(),
            next_cursor_at: tokio::time::Instant::now(),
        }
    }

    fn send(&self, msg: &ServerMessage) {
        self.member.send(frame(msg), &self.state);
    }

    fn error(&self, error: ProtoError, path: Option<&str>, seq: Option<u64>) {
        self.send(&error.to_message(path, seq));
    }

    /// Reads until the peer goes, is kicked, or the relay shuts down. Returns the close
    /// frame to send, if any.
    pub async fn read_loop(
        &mut self,
        stream: &mut Stream,
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
        self.cursors.retain(|path, pending| {
            let Some(tx) = open.get(path) else {
                return false;
            };
            let (revision, selections) = pending;
            let command = DocCommand::Cursor {
                participant_id: participant_id.clone(),
                selections: selections.clone(),
                revision: *revision,
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
                revision,
            } => {
                let path = key(path);
                if self.open.contains_key(&path) {
                    selections.truncate(MAX_SELECTIONS);
                    self.cursors.insert(path, (revision, selections));
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

    pub async fn leave(&mut self) {
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
