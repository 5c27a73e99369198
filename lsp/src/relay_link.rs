//! The connection to the relay: one task per joined room that connects, says hello,
//! forwards what the relay sends to the session, writes what the session sends, and
//! reconnects with backoff when the relay or the network goes away.
//!
//! Every connection has a generation number. The session stamps what it sends with the
//! generation it was written for; a message for an older connection is dropped rather
//! than sent on a new one before the session has reopened its documents there.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pairprog_protocol::messages::{ClientMessage, ErrorCode, ServerMessage, PROTOCOL_VERSION};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

use crate::session::Event;

/// Messages the session may queue for the relay before it has to wait.
const OUTGOING_CAPACITY: usize = 1_024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum LinkEvent {
    /// Waiting `delay` before connection attempt number `attempt`.
    Reconnecting {
        attempt: u32,
        delay: Duration,
    },
    /// The relay answered hello.
    Connected {
        generation: u64,
        welcome: Box<ServerMessage>,
    },
    Message {
        generation: u64,
        message: ServerMessage,
    },
    Disconnected {
        generation: u64,
        reason: String,
    },
    /// The relay refused us for good (no such room, another protocol version), or
    /// cannot be trusted (its TLS certificate, an unusable caFile).
    Failed {
        reason: String,
    },
}

pub struct LinkHandle {
    outgoing: mpsc::Sender<(u64, ClientMessage)>,
}

impl LinkHandle {
    /// Starts the link task. Dropping the handle closes the connection. `ca_file` adds
    /// certificate authorities to trust for a `wss://` relay.
    pub fn spawn(
        url: String,
        name: String,
        client_id: String,
        ca_file: Option<PathBuf>,
        secret: Option<String>,
        events: mpsc::Sender<Event>,
    ) -> LinkHandle {
        let (outgoing, rx) = mpsc::channel(OUTGOING_CAPACITY);
        let target = Target {
            url,
            secret,
            ca_file,
        };
        tokio::spawn(run(target, name, client_id, events, rx));
        LinkHandle { outgoing }
    }

    /// Queues a message for connection `generation`. Waits when the queue is full,
    /// which slows the session down to what the relay takes instead of buffering
    /// without bound.
    ///
    /// Cursor updates never wait: one that finds the queue full is dropped (the next
    /// one supersedes it). That also keeps a flood of cursors from filling the queue
    /// while the link task waits to hand the session an event, which would leave each
    /// waiting on the other.
    pub async fn send(&self, generation: u64, message: ClientMessage) {
        // A closed channel means the link task ended; the session hears why from it.
        if matches!(message, ClientMessage::Cursor { .. }) {
            let _ = self.outgoing.try_send((generation, message));
        } else {
            let _ = self.outgoing.send((generation, message)).await;
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    let exp = FIRST_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let base = exp.min(MAX_BACKOFF);
    let mut byte = [0u8; 1];
    let jitter = match getrandom::fill(&mut byte) {
        Ok(()) => base / 4 * u32::from(byte[0]) / 255,
        Err(_) => Duration::ZERO,
    };
    base + jitter
}

/// Where the link connects: the room's WebSocket URL, the room secret (sent as
/// `Authorization: Bearer`, never in the URL, so it stays out of logs), and the CAs.
struct Target {
    url: String,
    secret: Option<String>,
    ca_file: Option<PathBuf>,
}

impl Target {
    /// The upgrade request, built afresh for every attempt.
    fn request(&self) -> Result<Request, String> {
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("bad relay URL {}: {e}", self.url))?;
        if let Some(secret) = &self.secret {
            let value = HeaderValue::from_str(&format!("Bearer {secret}"))
                .map_err(|_| "the room secret has characters a header cannot carry".to_owned())?;
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        Ok(request)
    }
}

async fn run(
    target: Target,
    name: String,
    client_id: String,
    events: mpsc::Sender<Event>,
    mut outgoing: mpsc::Receiver<(u64, ClientMessage)>,
) {
    let Target { url, ca_file, .. } = &target;
    // Built once: every reconnection trusts the same authorities. A plain ws:// relay
    // needs none (and must not fail over an unreadable caFile it never uses).
    let connector = if url.starts_with("wss://") {
        match crate::tls::client_config(ca_file.as_deref()) {
            Ok(config) => Some(Connector::Rustls(config)),
            Err(e) => {
                let reason = e.to_string();
                let _ = events.send(Event::Link(LinkEvent::Failed { reason })).await;
                return;
            }
        }
    } else {
        None
    };
    let mut attempt: u32 = 0;
    let mut generation: u64 = 0;
    loop {
        if attempt > 0 {
            let delay = backoff(attempt);
            if events
                .send(Event::Link(LinkEvent::Reconnecting { attempt, delay }))
                .await
                .is_err()
            {
                return;
            }
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            // Messages written for a dead connection are dropped while we wait; the
            // session resends what matters after reopening.
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    message = outgoing.recv() => if message.is_none() { return },
                }
            }
        }
        attempt = attempt.saturating_add(1);
        let connected = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async_tls_with_config(
                match target.request() {
                    Ok(request) => request,
                    Err(reason) => {
                        let _ = events.send(Event::Link(LinkEvent::Failed { reason })).await;
                        return;
                    }
                },
                None,
                true,
                connector.clone(),
            ),
        )
        .await;
        let mut ws = match connected {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response)))
                if response.status().as_u16() == 404 =>
            {
                let reason = "the relay has no such room".to_owned();
                let _ = events.send(Event::Link(LinkEvent::Failed { reason })).await;
                return;
            }
            // Retrying with the same secret cannot succeed.
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response)))
                if response.status().as_u16() == 403 =>
            {
                let reason = "wrong or missing room secret".to_owned();
                let _ = events.send(Event::Link(LinkEvent::Failed { reason })).await;
                return;
            }
            Ok(Err(e)) => {
                // Retrying cannot make an untrusted certificate trusted: say so and stop.
                if let Some(reason) = crate::tls::certificate_failure(&e) {
                    let _ = events.send(Event::Link(LinkEvent::Failed { reason })).await;
                    return;
                }
                tracing::info!(%url, error = %e, "relay connection failed");
                continue;
            }
            Err(_) => {
                tracing::info!(%url, "relay connection timed out");
                continue;
            }
        };
        generation += 1;
        let hello = ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            name: name.clone(),
            client_id: Some(client_id.clone()),
        };
        if send(&mut ws, &hello).await.is_err() {
            continue;
        }
        // The first answer is the welcome, or a refusal.
        let first = tokio::time::timeout(CONNECT_TIMEOUT, next_message(&mut ws)).await;
        match first {
            Ok(Some(welcome @ ServerMessage::Welcome { .. })) => {
                attempt = 0;
                let event = LinkEvent::Connected {
                    generation,
                    welcome: Box::new(welcome),
                };
                if events.send(Event::Link(event)).await.is_err() {
                    return;
                }
            }
            Ok(Some(ServerMessage::Error {
                code: ErrorCode::UnknownRoom | ErrorCode::ProtocolMismatch,
                message,
                ..
            })) => {
                let _ = events
                    .send(Event::Link(LinkEvent::Failed { reason: message }))
                    .await;
                return;
            }
            other => {
                tracing::info!(?other, "relay did not welcome us");
                continue;
            }
        }
        let reason = loop {
            tokio::select! {
                incoming = next_message(&mut ws) => match incoming {
                    Some(message) => {
                        let event = LinkEvent::Message { generation, message };
                        if events.send(Event::Link(event)).await.is_err() {
                            let _ = ws.close(None).await;
                            return;
                        }
                    }
                    None => break "the relay closed the connection".to_owned(),
                },
                message = outgoing.recv() => match message {
                    Some((for_generation, message)) => {
                        if for_generation == generation {
                            if let Err(e) = send(&mut ws, &message).await {
                                break e.to_string();
                            }
                        }
                    }
                    None => {
                        let _ = ws.close(None).await;
                        return;
                    }
                },
            }
        };
        let event = LinkEvent::Disconnected { generation, reason };
        if events.send(Event::Link(event)).await.is_err() {
            return;
        }
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(
    ws: &mut Ws,
    message: &ClientMessage,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let text = serde_json::to_string(message).unwrap_or_default();
    ws.send(Message::text(text)).await
}

/// The next protocol message, or `None` when the connection is gone. Frames that do not
/// parse are logged and skipped: a relay of a newer version may send more.
async fn next_message(ws: &mut Ws) -> Option<ServerMessage> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(text)) => match serde_json::from_str(&text) {
                Ok(message) => return Some(message),
                Err(e) => tracing::warn!(error = %e, "unreadable message from the relay"),
            },
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}
