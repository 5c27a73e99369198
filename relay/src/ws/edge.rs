//! The socket's edge: close codes, what a frame that could not be read is answered
//! with, the per-connection read rate, and the writer task that drains the bounded
//! outbox onto the socket.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use pairprog_protocol::messages::{ErrorCode, ServerMessage};
use tokio::sync::{mpsc, oneshot};

use crate::room::{frame, Frame};

/// Bytes of frames the socket library holds before writing them without a flush: the
/// writer feeds every frame the outbox holds and flushes once, so what queued together
/// leaves in one send. A keystroke's frames are about 100 bytes.
pub(super) const COALESCE_BYTES: usize = 2 * 1024;

/// Frames fed before a flush at the most, so a peer that is sent to without pause still
/// receives within a bounded delay.
const FRAMES_PER_FLUSH: usize = 64;

/// How long a closing connection may take to flush and say goodbye.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Close codes (RFC 6455).
pub(super) const GOING_AWAY: u16 = 1001;
pub(super) const UNSUPPORTED_DATA: u16 = 1003;
pub(super) const INVALID_PAYLOAD: u16 = 1007;
pub(super) const POLICY_VIOLATION: u16 = 1008;
pub(super) const MESSAGE_TOO_BIG: u16 = 1009;
pub(super) const TRY_AGAIN_LATER: u16 = 1013;

pub(super) type Sink = SplitSink<WebSocket, Message>;
pub(super) type Stream = SplitStream<WebSocket>;

/// Why a connection is being closed for what its peer sent: the error it is told, then
/// the close frame.
pub(super) struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    pub close: (u16, &'static str),
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>, close: (u16, &'static str)) -> Self {
        Self {
            code,
            message: message.into(),
            close,
        }
    }

    /// Tells a peer that has joined nothing why, then closes. Failures to send are
    /// ignored: the peer may already be gone, and there is nobody else to tell.
    pub async fn send(self, sink: &mut Sink) {
        let msg = frame(&ServerMessage::Error {
            code: self.code,
            message: self.message,
            path: None,
            seq: None,
        });
        let _ = sink.send(Message::Text(msg)).await;
        let _ = sink.send(close(self.close.0, self.close.1)).await;
    }
}

/// What to tell a peer whose frame could not be read: one too large gets 1009 and one
/// that is not UTF-8 gets 1007, each after an error message. Any other failure means
/// the connection itself broke, and nothing can be sent. The downcast names axum's own
/// tungstenite (see relay/Cargo.toml).
pub(super) fn read_failure(error: axum::Error) -> Option<Refusal> {
    let error = error.into_inner().downcast::<tungstenite::Error>().ok()?;
    match *error {
        tungstenite::Error::Capacity(e) => Some(Refusal::new(
            ErrorCode::MessageTooLarge,
            format!("the message is larger than the relay reads: {e}"),
            (MESSAGE_TOO_BIG, "message too big"),
        )),
        tungstenite::Error::Utf8(_) => Some(Refusal::new(
            ErrorCode::BadMessage,
            "a text message that is not valid UTF-8",
            (INVALID_PAYLOAD, "invalid UTF-8"),
        )),
        e => {
            tracing::debug!(error = %e, "websocket read failed");
            None
        }
    }
}

pub(super) fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Drains the outbox onto the socket; on a close request, flushes what is queued (up to
/// the outbox's bound) and sends the close frame.
pub(super) async fn write_loop(
    mut sink: Sink,
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
                    if write_queued(&mut sink, frame, &mut outbox).await.is_err() {
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

/// Writes `first` and whatever else the outbox holds already (up to
/// [`FRAMES_PER_FLUSH`]), then flushes once: one system call for frames that queued
/// together instead of one each.
async fn write_queued(
    sink: &mut Sink,
    first: Frame,
    outbox: &mut mpsc::Receiver<Frame>,
) -> Result<(), axum::Error> {
    sink.feed(Message::Text(first)).await?;
    for _ in 1..FRAMES_PER_FLUSH {
        let Ok(next) = outbox.try_recv() else { break };
        sink.feed(Message::Text(next)).await?;
    }
    sink.flush().await
}

/// The per-connection message rate (`--ws-messages-per-second`, with its burst), or none.
pub(super) fn message_limiter(config: &crate::Config) -> Option<DefaultDirectRateLimiter> {
    let rate = NonZeroU32::new(config.ws_messages_per_second)?;
    let burst = NonZeroU32::new(config.ws_message_burst).unwrap_or(rate);
    Some(DefaultDirectRateLimiter::direct(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

/// The next frame, once the connection's rate allows reading one. A client over its
/// rate is read more slowly, so TCP pushes back on it; nothing it sent is refused.
pub(super) async fn next_within_rate(
    limiter: Option<&DefaultDirectRateLimiter>,
    stream: &mut Stream,
) -> Option<Result<Message, axum::Error>> {
    if let Some(limiter) = limiter {
        while let Err(not_until) = limiter.check() {
            tokio::time::sleep(not_until.wait_time_from(DefaultClock::default().now())).await;
        }
    }
    stream.next().await
}
