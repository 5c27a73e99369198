//! A WebSocket client speaking the collaboration protocol, with an OT client per
//! document, for tests. Every wait is on a message, with a timeout so a bug fails
//! instead of hanging.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pairprog_protocol::messages::{ClientMessage, ErrorCode, ServerMessage, PROTOCOL_VERSION};
use pairprog_protocol::{Operation, OtClient};
use ropey::Rope;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(20);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// A WebSocket to the relay without the protocol client on top.
pub type RawWs = Ws;

/// One open document on the client side.
pub struct ClientDoc {
    pub text: Rope,
    pub ot: OtClient,
    /// Sequence number of the operation in flight, and the next one to use.
    pub in_flight_seq: Option<u64>,
    pub next_seq: u64,
}

pub struct TestClient {
    ws: Ws,
    pub name: String,
    /// The secret this client says hello with, kept across reconnects.
    client_key: String,
    /// Our public id, as the relay's welcome gives it (derived from `client_key`).
    pub client_id: String,
    pub participant_id: String,
    /// Our colour, as the latest welcome gave it.
    pub color: String,
    pub docs: HashMap<String, ClientDoc>,
    /// Messages received and not yet consumed by a `wait_for`.
    pub inbox: VecDeque<ServerMessage>,
    /// Every (path, seq, revision) the relay acknowledged to this client.
    pub acked: Vec<(String, u64, u64)>,
}

/// A client key as real clients make one: 32 random bytes in hex.
pub fn new_client_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("a random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TestClient {
    /// The secret this client says hello with, to speak as it from another connection
    /// (as the client itself would after a reconnect).
    pub fn client_key(&self) -> &str {
        &self.client_key
    }

    /// Connects and says hello (with `client_key`, or a fresh random one); returns the
    /// client with the welcome consumed.
    pub async fn join(url: &str, name: &str, client_key: Option<&str>) -> TestClient {
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .expect("websocket connects");
        let client_key = client_key.map_or_else(new_client_key, str::to_owned);
        let hello = ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            name: name.to_owned(),
            client_key: Some(client_key.clone()),
        };
        ws.send(Message::text(serde_json::to_string(&hello).expect("json")))
            .await
            .expect("send hello");
        let mut client = TestClient {
            ws,
            name: name.to_owned(),
            client_key,
            client_id: String::new(),
            participant_id: String::new(),
            color: String::new(),
            docs: HashMap::new(),
            inbox: VecDeque::new(),
            acked: Vec::new(),
        };
        match client.next().await {
            ServerMessage::Welcome { client_id, you, .. } => {
                client.client_id = client_id;
                client.participant_id = you.id;
                client.color = you.color;
            }
            other => panic!("expected welcome, got {other:?}"),
        }
        client
    }

    pub async fn send(&mut self, msg: &ClientMessage) {
        self.send_raw(&serde_json::to_string(msg).expect("json"))
            .await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .expect("send");
    }

    /// The next message from the relay (panics after [`WAIT`] or on close).
    pub async fn next(&mut self) -> ServerMessage {
        if let Some(m) = self.inbox.pop_front() {
            return m;
        }
        self.recv().await.expect("connection open")
    }

    /// The next message off the socket, or None when it closed.
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("relay answered in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(&text).expect("relay sends valid JSON"))
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Waits for the first message matching `pred`, keeping the others for later.
    pub async fn wait_for(&mut self, pred: impl Fn(&ServerMessage) -> bool) -> ServerMessage {
        if let Some(i) = self.inbox.iter().position(&pred) {
            return self.inbox.remove(i).expect("index valid");
        }
        loop {
            let m = self.recv().await.expect("connection open");
            if pred(&m) {
                return m;
            }
            self.inbox.push_back(m);
        }
    }

    /// Waits for the next `error`, checks its code and that it says something, and
    /// returns its message.
    pub async fn expect_error(&mut self, code: ErrorCode) -> String {
        match self
            .wait_for(|m| matches!(m, ServerMessage::Error { .. }))
            .await
        {
            ServerMessage::Error {
                code: got, message, ..
            } => {
                assert_eq!(got, code, "{message}");
                assert!(!message.is_empty());
                message
            }
            other => unreachable!("{other:?}"),
        }
    }

    /// Opens (or creates) a document and waits for `opened`.
    pub async fn open(&mut self, path: &str, text: Option<&str>) -> (String, u64) {
        self.send(&ClientMessage::Open {
            path: path.to_owned(),
            language: Some("plaintext".into()),
            text: text.map(str::to_owned),
            revision: None,
        })
        .await;
        let p = path.to_owned();
        match self
            .wait_for(|m| {
                matches!(m, ServerMessage::Opened { path, .. } if *path == p)
                    || matches!(m, ServerMessage::Error { path: Some(path), .. } if *path == p)
            })
            .await
        {
            ServerMessage::Opened { revision, text, .. } => {
                let text = text.expect("a fresh open carries the text");
                self.docs.insert(
                    path.to_owned(),
                    ClientDoc {
                        text: Rope::from_str(&text),
                        ot: OtClient::new(revision),
                        in_flight_seq: None,
                        next_seq: 1,
                    },
                );
                (text, revision)
            }
            other => panic!("open {path} failed: {other:?}"),
        }
    }

    /// Applies a local edit and sends it if nothing is in flight.
    pub async fn edit(&mut self, path: &str, op: Operation) {
        let doc = self.docs.get_mut(path).expect("document open");
        op.apply(&mut doc.text).expect("edit fits the local text");
        if let Some(out) = doc.ot.apply_local(op).expect("composes") {
            let seq = doc.next_seq;
            doc.next_seq += 1;
            doc.in_flight_seq = Some(seq);
            let msg = ClientMessage::Op {
                path: path.to_owned(),
                base: doc.ot.revision(),
                seq,
                op: out,
            };
            self.send(&msg).await;
        }
    }

    /// Handles one protocol message for the OT state (ack / remote). Returns false for
    /// messages it does not consume.
    pub async fn handle(&mut self, msg: &ServerMessage) -> bool {
        match msg {
            ServerMessage::Ack {
                path,
                seq,
                revision,
            } => {
                let doc = self.docs.get_mut(path).expect("acked document open");
                // An ack for anything but the operation in flight repeats one already
                // taken (a resend after a reconnect): ignore it.
                if doc.in_flight_seq != Some(*seq) {
                    return true;
                }
                doc.in_flight_seq = None;
                self.acked.push((path.clone(), *seq, *revision));
                if let Some(next) = doc.ot.server_ack().expect("ack expected") {
                    let seq = doc.next_seq;
                    doc.next_seq += 1;
                    doc.in_flight_seq = Some(seq);
                    let msg = ClientMessage::Op {
                        path: path.clone(),
                        base: doc.ot.revision(),
                        seq,
                        op: next,
                    };
                    self.send(&msg).await;
                }
                true
            }
            ServerMessage::Remote { path, op, .. } => {
                let doc = self.docs.get_mut(path).expect("document open");
                let local = doc.ot.apply_remote(op).expect("remote transforms");
                local.apply(&mut doc.text).expect("remote fits");
                true
            }
            _ => false,
        }
    }

    /// Processes messages until the document has nothing in flight and `revision` is
    /// reached.
    pub async fn settle(&mut self, path: &str, revision: u64) {
        loop {
            let doc = &self.docs[path];
            if doc.ot.is_synchronized() && doc.ot.revision() >= revision {
                return;
            }
            let m = self.next().await;
            if let ServerMessage::Error { .. } = m {
                panic!("{}: unexpected error while settling: {m:?}", self.name);
            }
            self.handle(&m).await;
        }
    }

    /// A message if one is already waiting on the socket, without blocking.
    pub async fn try_next(&mut self) -> Option<ServerMessage> {
        if let Some(m) = self.inbox.pop_front() {
            return Some(m);
        }
        use futures_util::FutureExt;
        match self.ws.next().now_or_never() {
            Some(Some(Ok(Message::Text(text)))) => {
                Some(serde_json::from_str(&text).expect("relay sends valid JSON"))
            }
            _ => None,
        }
    }

    /// Drops the connection (whatever was on the wire is lost), connects again with the
    /// same client key (so the same public id), reopens every document from the revision it knows, takes the
    /// operations it missed (recognising its own in-flight one among them) and resends
    /// what is still unacknowledged.
    pub async fn reconnect(&mut self, url: &str) {
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .expect("websocket reconnects");
        let hello = ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            name: self.name.clone(),
            client_key: Some(self.client_key.clone()),
        };
        ws.send(Message::text(serde_json::to_string(&hello).expect("json")))
            .await
            .expect("send hello");
        let old = std::mem::replace(&mut self.ws, ws);
        drop(old);
        self.inbox.clear();
        match self.next().await {
            ServerMessage::Welcome { client_id, you, .. } => {
                assert_eq!(client_id, self.client_id, "the relay keeps our client id");
                self.participant_id = you.id;
                self.color = you.color;
            }
            other => panic!("expected welcome, got {other:?}"),
        }
        let paths: Vec<String> = self.docs.keys().cloned().collect();
        for path in paths {
            let revision = self.docs[&path].ot.revision();
            self.send(&ClientMessage::Open {
                path: path.clone(),
                language: None,
                text: None,
                revision: Some(revision),
            })
            .await;
            let p = path.clone();
            let opened = self
                .wait_for(|m| matches!(m, ServerMessage::Opened { path, .. } if *path == p))
                .await;
            let ServerMessage::Opened { operations, .. } = opened else {
                unreachable!()
            };
            let operations = operations.expect("a reconnect within history gets operations");
            for entry in operations {
                let doc = self.docs.get_mut(&path).expect("open");
                let mine =
                    entry.client_id == self.client_id && Some(entry.seq) == doc.in_flight_seq;
                if mine {
                    doc.in_flight_seq = None;
                    self.acked.push((path.clone(), entry.seq, entry.revision));
                    // The buffer becomes the operation in flight; it is sent below, after
                    // the catch-up, against the final revision.
                    if doc.ot.server_ack().expect("in flight").is_some() {
                        doc.in_flight_seq = Some(doc.next_seq);
                        doc.next_seq += 1;
                    }
                } else {
                    let local = doc.ot.apply_remote(&entry.op).expect("transforms");
                    local.apply(&mut doc.text).expect("fits");
                }
            }
            let doc = self.docs.get_mut(&path).expect("open");
            if let (Some(seq), Some(op)) = (doc.in_flight_seq, doc.ot.in_flight().cloned()) {
                let msg = ClientMessage::Op {
                    path: path.clone(),
                    base: doc.ot.revision(),
                    seq,
                    op,
                };
                self.send(&msg).await;
            }
        }
    }

    pub fn text(&self, path: &str) -> String {
        self.docs[path].text.to_string()
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Reads until the relay closes: the error codes it sent before, and the close code
/// (`None`: the connection ended without a close frame).
pub async fn refusal(ws: &mut RawWs) -> (Vec<ErrorCode>, Option<u16>) {
    let (errors, code) = refusal_with_messages(ws).await;
    (errors.into_iter().map(|(code, _)| code).collect(), code)
}

/// As [`refusal`], with each error's message.
pub async fn refusal_with_messages(ws: &mut RawWs) -> (Vec<(ErrorCode, String)>, Option<u16>) {
    let mut errors = Vec::new();
    loop {
        let next = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("the relay answers in time");
        match next {
            Some(Ok(Message::Text(text))) => {
                if let Ok(ServerMessage::Error { code, message, .. }) = serde_json::from_str(&text)
                {
                    errors.push((code, message));
                }
            }
            Some(Ok(Message::Close(frame))) => return (errors, frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (errors, None),
        }
    }
}

/// The next protocol message on a raw socket (panics after [`WAIT`] or on close).
pub async fn next_message(ws: &mut RawWs) -> ServerMessage {
    loop {
        let next = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("the relay answers in time");
        match next {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).expect("relay sends valid JSON")
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a message, got {other:?}"),
        }
    }
}
