//! The connection to the relay: one task per joined room that connects, says hello,
//! forwards what the relay sends to the session, writes what the session sends, and
//! reconnects with backoff when the relay or the network goes away.
//!
//! Every connection has a generation number, unique in the process (not per link), and
//! every link an id. The session stamps what it sends with the generation it was
//! written for; a message for an older connection is dropped rather than sent on a new
//! one before the session has reopened its documents there. Events name their link and
//! generation, so nothing a previous room's link still says (a late `Failed` or
//! `Disconnected`) can act on the room joined since.
//!
//! The session waits for room in the link's outgoing queue, and the link for room in
//! the session's event queue. While the link waits to hand over an event it keeps
//! writing (or, with no connection, dropping) what the session queues, so the two can
//! never end up waiting on each other, however many documents a reconnect reopens.
//!
//! The link knows nothing of the session: it sends plain [`LinkEvent`]s, which the
//! session stamps with the join they belong to (`session/room.rs`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Messages the session may queue for the relay before it has to wait.
const OUTGOING_CAPACITY: usize = 1_024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Link ids and connection generations, both unique for the life of the process (0 is
/// never handed out: the session uses it for "no connection").
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// What a link tells the session, with the id of the link that says it.
#[derive(Debug)]
pub struct LinkEvent {
    pub link: u64,
    pub kind: LinkEventKind,
}

#[derive(Debug)]
pub enum LinkEventKind {
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
    id: u64,
    outgoing: mpsc::Sender<(u64, ClientMessage)>,
}

impl LinkHandle {
    /// Starts the link task. Dropping the handle closes the connection. `ca_file` adds
    /// certificate authorities to trust for a `wss://` relay.
    pub fn spawn(
        url: String,
        name: String,
        client_key: String,
        ca_file: Option<PathBuf>,
        secret: Option<String>,
        events: mpsc::Sender<LinkEvent>,
    ) -> LinkHandle {
        let (outgoing, rx) = mpsc::channel(OUTGOING_CAPACITY);
        let target = Target {
            url,
            secret,
            ca_file,
        };
        let id = next_id();
        let link = Link {
            id,
            events,
            outgoing: rx,
        };
        tokio::spawn(run(target, name, client_key, link));
        LinkHandle { id, outgoing }
    }

    /// This link's id, which every event it sends carries.
    pub fn id(&self) -> u64 {
        self.id
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

/// The link task's ends of the two queues it shares with the session.
struct Link {
    id: u64,
    events: mpsc::Sender<LinkEvent>,
    outgoing: mpsc::Receiver<(u64, ClientMessage)>,
}

/// Why handing an event to the session did not complete.
enum Stop {
    /// The session is gone (or dropped the handle): end the task.
    SessionGone,
    /// Writing what the session queued meanwhile broke the connection.
    Broken(String),
}

impl Link {
    /// Hands the session an event. Meanwhile, what the session queues is written to
    /// `ws` if it is for connection `generation`, and dropped otherwise (or with no
    /// connection): the session may be waiting for room in that queue, and waiting on
    /// each other's full queues would leave both stuck.
    async fn deliver(
        &mut self,
        kind: LinkEventKind,
        mut ws: Option<(&mut Ws, u64)>,
    ) -> Result<(), Stop> {
        let event = LinkEvent {
            link: self.id,
            kind,
        };
        let handed = self.events.send(event);
        tokio::pin!(handed);
        loop {
            tokio::select! {
                biased;
                result = &mut handed => return result.map_err(|_| Stop::SessionGone),
                queued = self.outgoing.recv() => match (queued, ws.as_mut()) {
                    (None, _) => return Err(Stop::SessionGone),
                    (Some((for_generation, message)), Some((ws, generation))) if for_generation == *generation => {
                        send(ws, &message).await.map_err(|e| Stop::Broken(e.to_string()))?;
                    }
                    (Some(_), _) => {}
                },
            }
        }
    }

    /// Reports a refusal for good; the task ends after it.
    async fn fail(&mut self, reason: String) {
        let _ = self.deliver(LinkEventKind::Failed { reason }, None).await;
    }
}

async fn run(target: Target, name: String, client_key: String, mut link: Link) {
    let Target { url, ca_file, .. } = &target;
    // Built once: every reconnection trusts the same authorities. A plain ws:// relay
    // needs none (and must not fail over an unreadable caFile it never uses).
    let connector = if url.starts_with("wss://") {
        match crate::tls::client_config(ca_file.as_deref()) {
            Ok(config) => Some(Connector::Rustls(config)),
            Err(e) => return link.fail(e.to_string()).await,
        }
    } else {
        None
    };
    let mut attempt: u32 = 0;
    loop {
        if attempt > 0 {
            let delay = backoff(attempt);
            if link
                .deliver(LinkEventKind::Reconnecting { attempt, delay }, None)
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
                    message = link.outgoing.recv() => if message.is_none() { return },
                }
            }
        }
        attempt = attempt.saturating_add(1);
        let request = match target.request() {
            Ok(request) => request,
            Err(reason) => return link.fail(reason).await,
        };
        let connected = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async_tls_with_config(
                request,
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
                return link.fail("the relay has no such room".to_owned()).await;
            }
            // Retrying with the same secret cannot succeed.
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response)))
                if response.status().as_u16() == 403 =>
            {
                return link.fail("wrong or missing room secret".to_owned()).await;
            }
            Ok(Err(e)) => {
                // Retrying cannot make an untrusted certificate trusted: say so and stop.
                if let Some(reason) = crate::tls::certificate_failure(&e) {
                    return link.fail(reason).await;
                }
                tracing::info!(%url, error = %e, "relay connection failed");
                continue;
            }
            Err(_) => {
                tracing::info!(%url, "relay connection timed out");
                continue;
            }
        };
        let generation = next_id();
        let hello = ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            name: name.clone(),
            client_key: Some(client_key.clone()),
        };
        if send(&mut ws, &hello).await.is_err() {
            continue;
        }
        // The first answer is the welcome, or a refusal.
        let first = tokio::time::timeout(CONNECT_TIMEOUT, next_message(&mut ws)).await;
        match first {
            Ok(Some(welcome @ ServerMessage::Welcome { .. })) => {
                attempt = 0;
                let event = LinkEventKind::Connected {
                    generation,
                    welcome: Box::new(welcome),
                };
                match link.deliver(event, Some((&mut ws, generation))).await {
                    Ok(()) => {}
                    Err(Stop::SessionGone) => {
                        let _ = ws.close(None).await;
                        return;
                    }
                    Err(Stop::Broken(reason)) => {
                        let event = LinkEventKind::Disconnected { generation, reason };
                        if link.deliver(event, None).await.is_err() {
                            return;
                        }
                        continue;
                    }
                }
            }
            Ok(Some(ServerMessage::Error {
                code: ErrorCode::UnknownRoom | ErrorCode::ProtocolMismatch,
                message,
                ..
            })) => return link.fail(message).await,
            other => {
                tracing::info!(?other, "relay did not welcome us");
                continue;
            }
        }
        let reason = loop {
            tokio::select! {
                incoming = next_message(&mut ws) => match incoming {
                    Some(message) => {
                        let event = LinkEventKind::Message { generation, message };
                        match link.deliver(event, Some((&mut ws, generation))).await {
                            Ok(()) => {}
                            Err(Stop::SessionGone) => {
                                let _ = ws.close(None).await;
                                return;
                            }
                            Err(Stop::Broken(reason)) => break reason,
                        }
                    }
                    None => break "the relay closed the connection".to_owned(),
                },
                message = link.outgoing.recv() => match message {
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
        let event = LinkEventKind::Disconnected { generation, reason };
        if link.deliver(event, None).await.is_err() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    const WAIT: Duration = Duration::from_secs(20);

    fn welcome() -> String {
        serde_json::json!({
            "type": "welcome", "protocol": PROTOCOL_VERSION, "roomId": "r", "clientId": "c",
            "you": {"id": "me", "name": "me", "color": "#000000"},
            "participants": [], "documents": [],
        })
        .to_string()
    }

    /// A relay stand-in: welcomes one client, sends it `burst` messages at once, then
    /// counts what the client sends until `expected` arrived.
    async fn fake_relay(burst: usize, expected: usize) -> (String, tokio::task::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("ws://{}/ws/r", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
            let _hello = ws.next().await;
            ws.send(Message::text(welcome())).await.expect("welcome");
            for i in 0..burst {
                let left = serde_json::json!({"type": "left", "participantId": format!("p{i}"), "count": 1});
                ws.send(Message::text(left.to_string()))
                    .await
                    .expect("send");
            }
            let mut received = 0;
            while received < expected {
                match ws.next().await {
                    Some(Ok(Message::Text(_))) => received += 1,
                    Some(Ok(_)) => {}
                    _ => break,
                }
            }
            received
        });
        (url, task)
    }

    async fn next_link_event(events: &mut mpsc::Receiver<LinkEvent>) -> LinkEvent {
        tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("an event in time")
            .expect("the link ended")
    }

    /// Generations restarted at 0 in every link and `Failed`/`Reconnecting` carried none,
    /// so the link of a room the session had left could still make it leave the next.
    #[tokio::test]
    async fn regression_an_old_rooms_link_could_make_the_session_leave_the_new_room() {
        let (events_tx, mut events) = mpsc::channel(16);
        // Nothing listens on port 1: both links fail to connect and say so.
        let url = "ws://127.0.0.1:1/ws/room".to_owned();
        let a = LinkHandle::spawn(
            url.clone(),
            "a".into(),
            "c".into(),
            None,
            None,
            events_tx.clone(),
        );
        let b = LinkHandle::spawn(url, "b".into(), "c".into(), None, None, events_tx);
        assert_ne!(a.id(), b.id());
        let mut seen = std::collections::HashSet::new();
        while seen.len() < 2 {
            let event = next_link_event(&mut events).await;
            assert!(event.link == a.id() || event.link == b.id(), "{event:?}");
            seen.insert(event.link);
        }
        // Generations are unique across links too.
        let (first, relay_a) = fake_relay(0, 0).await;
        let (second, relay_b) = fake_relay(0, 0).await;
        let (events_tx, mut events) = mpsc::channel(16);
        let _x = LinkHandle::spawn(first, "x".into(), "c".into(), None, None, events_tx.clone());
        let _y = LinkHandle::spawn(second, "y".into(), "c".into(), None, None, events_tx);
        let mut generations = Vec::new();
        while generations.len() < 2 {
            if let LinkEventKind::Connected { generation, .. } =
                next_link_event(&mut events).await.kind
            {
                generations.push(generation);
            }
        }
        assert_ne!(generations[0], generations[1]);
        assert!(generations.iter().all(|g| *g > 0));
        relay_a.abort();
        relay_b.abort();
    }

    /// The session waited for room in the link's outgoing queue while the link waited
    /// for room in the session's event queue: a reconnect that reopened many documents
    /// while the relay sent many messages left both waiting for ever.
    #[tokio::test]
    async fn regression_session_and_link_deadlocked_on_each_others_full_queues() {
        let sends = OUTGOING_CAPACITY * 2;
        let (url, relay) = fake_relay(64, sends).await;
        // A session whose event queue holds one event and which is busy sending.
        let (events_tx, mut events) = mpsc::channel(1);
        let link = LinkHandle::spawn(url, "me".into(), "c".into(), None, None, events_tx);
        let generation = match next_link_event(&mut events).await.kind {
            LinkEventKind::Connected { generation, .. } => generation,
            other => panic!("expected connected, got {other:?}"),
        };
        let sending = async {
            for i in 0..sends {
                let message = ClientMessage::Close {
                    path: format!("doc{i}.txt"),
                };
                link.send(generation, message).await;
            }
        };
        tokio::time::timeout(WAIT, sending)
            .await
            .expect("the session's sends complete while its event queue is full");
        let received = tokio::time::timeout(WAIT, relay)
            .await
            .expect("relay")
            .expect("task");
        assert_eq!(received, sends);
        // And the relay's messages all reach the session afterwards, in order.
        for i in 0..64 {
            match next_link_event(&mut events).await.kind {
                LinkEventKind::Message {
                    message: ServerMessage::Left { participant_id, .. },
                    ..
                } => {
                    assert_eq!(participant_id, format!("p{i}"));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
