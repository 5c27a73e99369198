//! A client that keeps typing whatever the relay and its database go through, the way a
//! real editor agent does: it resends an operation answered `unavailable`, reopens a
//! document it lost, reconnects after a close and catches up from the revision it knows.
//!
//! It also judges what it receives. Every revision it is told of (an `ack`, a `remote`,
//! an entry of `opened`) must be exactly the next one: a client told of r + 2 without
//! r + 1 has silently diverged. Any error but `unavailable` (and `not_open` for a
//! document the relay unloaded) is a violation: the test's clients send nothing wrong.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pairprog_protocol::messages::{
    ClientMessage, ErrorCode, HistoryEntry, ServerMessage, PROTOCOL_VERSION,
};
use pairprog_protocol::{Operation, OtClient};
use ropey::Rope;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::rng::Rng;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One keystroke per tick while typing.
const TICK: Duration = Duration::from_millis(15);
/// Pause before resending, reopening or reconnecting after the relay could not serve.
const BACKOFF: Duration = Duration::from_millis(150);
/// How long a connect or `hello` may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the test tells every typist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Type and keep up.
    Typing,
    /// Stop typing; keep resending, reopening and reconnecting until in sync.
    Quiet,
    /// Return the final state.
    Stop,
}

/// What a typist shows the test while it runs, so the test waits on it.
#[derive(Clone, Debug, Default)]
pub struct Status {
    pub typed: u64,
    pub acked: u64,
    /// Connected, every document open and nothing unacknowledged.
    pub in_sync: bool,
    /// Revision per document.
    pub revisions: BTreeMap<String, u64>,
}

/// What a typist hands back at the end.
pub struct Outcome {
    pub client_id: String,
    pub name: String,
    /// path → (text, revision).
    pub docs: BTreeMap<String, (String, u64)>,
    /// Every (path, seq, revision) acknowledged to it, by `ack` or found in `opened`.
    pub acked: Vec<(String, u64, u64)>,
    pub typed: u64,
    pub reconnects: u64,
    /// Errors received, by code.
    pub errors: BTreeMap<String, u64>,
    /// Close codes received, by code.
    pub closes: BTreeMap<u16, u64>,
    /// Upgrade failures, by reason.
    pub refused: BTreeMap<String, u64>,
}

struct Doc {
    text: Rope,
    ot: OtClient,
    /// The sequence number of the operation in flight, and the next one to use.
    in_flight_seq: Option<u64>,
    next_seq: u64,
    /// Opened once: its text is known, so it can be typed into.
    known: bool,
    /// Subscribed on the current connection.
    open: bool,
    /// An `open` is on its way.
    opening: bool,
    /// The operation in flight was sent on the current connection and not refused.
    sent: bool,
    /// Not before this instant: the next resend or reopen.
    retry_at: Instant,
}

pub struct Typist {
    url: String,
    name: String,
    /// The secret the relay derives `client_id` from; the same across reconnects, so
    /// resends are recognised.
    client_key: String,
    client_id: String,
    paths: Vec<String>,
    rng: Rng,
    ws: Option<Ws>,
    docs: BTreeMap<String, Doc>,
    connect_at: Instant,
    acked: Vec<(String, u64, u64)>,
    typed: u64,
    reconnects: u64,
    errors: BTreeMap<String, u64>,
    closes: BTreeMap<u16, u64>,
    refused: BTreeMap<String, u64>,
}

impl Typist {
    pub fn new(url: String, name: &str, seed: u64, paths: &[&str]) -> Typist {
        // Derived from the seed so a replayed run sends the same keys.
        let client_key = format!("outage-key-{seed:020}-{name}-{:016x}", seed ^ 0x5eed);
        Typist {
            url,
            name: name.to_owned(),
            client_key: client_key.clone(),
            client_id: pairprog_protocol::identity::client_id(&client_key),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            rng: Rng::new(seed),
            ws: None,
            docs: BTreeMap::new(),
            connect_at: Instant::now(),
            acked: Vec::new(),
            typed: 0,
            reconnects: 0,
            errors: BTreeMap::new(),
            closes: BTreeMap::new(),
            refused: BTreeMap::new(),
        }
    }

    /// Runs until the phase is [`Phase::Stop`]; a violation ends it with its description.
    pub async fn run(
        mut self,
        mut phase: watch::Receiver<Phase>,
        status: watch::Sender<Status>,
    ) -> Result<Outcome, String> {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let now = *phase.borrow();
            if now == Phase::Stop {
                break;
            }
            if self.ws.is_none() {
                if Instant::now() >= self.connect_at {
                    self.connect().await?;
                } else {
                    tokio::select! {
                        _ = phase.changed() => {}
                        _ = tokio::time::sleep_until(self.connect_at) => {}
                        _ = tick.tick(), if now == Phase::Typing => self.type_one(),
                    }
                }
            } else {
                let ws = self.ws.as_mut().expect("connected");
                tokio::select! {
                    _ = phase.changed() => {}
                    frame = ws.next() => self.frame(frame).await?,
                    _ = tick.tick() => {
                        if now == Phase::Typing {
                            self.type_one();
                        }
                        self.flush().await;
                    }
                }
            }
            status.send_replace(self.status());
        }
        Ok(self.outcome())
    }

    fn status(&self) -> Status {
        Status {
            typed: self.typed,
            acked: self.acked.len() as u64,
            in_sync: self.ws.is_some()
                && self.docs.len() == self.paths.len()
                && self.docs.values().all(|d| d.open && d.ot.is_synchronized()),
            revisions: self
                .docs
                .iter()
                .map(|(p, d)| (p.clone(), d.ot.revision()))
                .collect(),
        }
    }

    fn outcome(self) -> Outcome {
        Outcome {
            docs: self
                .docs
                .iter()
                .map(|(p, d)| (p.clone(), (d.text.to_string(), d.ot.revision())))
                .collect(),
            client_id: self.client_id,
            name: self.name,
            acked: self.acked,
            typed: self.typed,
            reconnects: self.reconnects,
            errors: self.errors,
            closes: self.closes,
            refused: self.refused,
        }
    }

    /// One keystroke into a random open-or-not document the typist knows: typing goes on
    /// locally while disconnected, as in an editor.
    fn type_one(&mut self) {
        let known = self.docs.values().filter(|d| d.known).count();
        if known == 0 {
            return;
        }
        let i = self.rng.below(known);
        let doc = self
            .docs
            .values_mut()
            .filter(|d| d.known)
            .nth(i)
            .expect("index in range");
        let len = doc.text.len_chars();
        let pos = self.rng.below(len + 1);
        let delete = if self.rng.chance(25) {
            (len - pos).min(3)
        } else {
            0
        };
        let piece = *self.rng.pick(&["a", "é", "中", "😀", "\n", "xy", "\r\n"]);
        let op = Operation::splice(len, pos, delete, piece).expect("the edit fits");
        op.apply(&mut doc.text).expect("the edit fits the text");
        if doc.ot.apply_local(op).expect("composes").is_some() {
            doc.in_flight_seq = Some(doc.next_seq);
            doc.next_seq += 1;
            doc.sent = false;
        }
        self.typed += 1;
    }

    /// Sends what is due: operations in flight not sent on this connection, reopens.
    async fn flush(&mut self) {
        let now = Instant::now();
        let mut out = Vec::new();
        for (path, doc) in &mut self.docs {
            if now < doc.retry_at {
                continue;
            }
            if !doc.open && !doc.opening {
                doc.opening = true;
                out.push(if doc.known {
                    ClientMessage::Open {
                        path: path.clone(),
                        language: None,
                        text: None,
                        revision: Some(doc.ot.revision()),
                    }
                } else {
                    initial_open(path)
                });
            } else if doc.open && !doc.sent {
                if let (Some(seq), Some(op)) = (doc.in_flight_seq, doc.ot.in_flight()) {
                    doc.sent = true;
                    out.push(ClientMessage::Op {
                        path: path.clone(),
                        base: doc.ot.revision(),
                        seq,
                        op: op.clone(),
                    });
                }
            }
        }
        for message in out {
            self.send(&message).await;
        }
    }

    async fn send(&mut self, message: &ClientMessage) {
        let Some(ws) = self.ws.as_mut() else { return };
        let text = serde_json::to_string(message).expect("json");
        if ws.send(Message::text(text)).await.is_err() {
            self.disconnected(None);
        }
    }

    /// Connects, says hello and opens every document: the first time with its initial
    /// text (whoever comes first creates it), afterwards from the revision it knows.
    async fn connect(&mut self) -> Result<(), String> {
        self.connect_at = Instant::now() + BACKOFF;
        let attempt = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let (mut ws, _) = tokio_tungstenite::connect_async(&self.url)
                .await
                .map_err(|e| refusal(&e))?;
            let hello = ClientMessage::Hello {
                protocol: PROTOCOL_VERSION,
                name: self.name.clone(),
                client_key: Some(self.client_key.clone()),
            };
            let hello = serde_json::to_string(&hello).expect("json");
            ws.send(Message::text(hello))
                .await
                .map_err(|_| "hello not sent".to_owned())?;
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    match serde_json::from_str::<ServerMessage>(&text) {
                        Ok(ServerMessage::Welcome { client_id, .. }) => Ok((ws, client_id)),
                        Ok(ServerMessage::Error { code, .. }) => Err(format!("hello: {code:?}")),
                        other => Err(format!("hello answered {other:?}")),
                    }
                }
                _ => Err("closed before welcome".to_owned()),
            }
        })
        .await;
        let (ws, client_id) = match attempt {
            Ok(Ok(connected)) => connected,
            Ok(Err(reason)) => {
                if reason.contains("404") {
                    return Err(format!(
                        "{}: the relay said the room does not exist: {reason}",
                        self.name
                    ));
                }
                *self.refused.entry(reason).or_default() += 1;
                return Ok(());
            }
            Err(_) => {
                *self.refused.entry("timed out".into()).or_default() += 1;
                return Ok(());
            }
        };
        if client_id != self.client_id {
            return Err(format!("{}: the relay changed our client id", self.name));
        }
        self.ws = Some(ws);
        if self.docs.is_empty() {
            for path in self.paths.clone() {
                self.docs.insert(
                    path.clone(),
                    Doc {
                        text: Rope::new(),
                        ot: OtClient::new(0),
                        in_flight_seq: None,
                        next_seq: 1,
                        known: false,
                        open: false,
                        opening: true,
                        sent: false,
                        retry_at: Instant::now(),
                    },
                );
                self.send(&initial_open(&path)).await;
            }
        } else {
            self.reconnects += 1;
            // Reopens go out with the next tick.
        }
        Ok(())
    }

    /// Forgets the connection: nothing is open, nothing counts as sent on it.
    fn disconnected(&mut self, code: Option<u16>) {
        self.ws = None;
        self.connect_at = Instant::now() + BACKOFF;
        if let Some(code) = code {
            *self.closes.entry(code).or_default() += 1;
        }
        for doc in self.docs.values_mut() {
            doc.open = false;
            doc.opening = false;
            doc.sent = false;
        }
    }

    async fn frame(
        &mut self,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Result<(), String> {
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(close))) => {
                self.disconnected(Some(close.map(|c| u16::from(c.code)).unwrap_or(1005)));
                return Ok(());
            }
            None | Some(Err(_)) => {
                self.disconnected(Some(1006));
                return Ok(());
            }
            Some(Ok(_)) => return Ok(()),
        };
        let message: ServerMessage =
            serde_json::from_str(&text).map_err(|e| format!("unreadable message: {e}"))?;
        self.message(message).await
    }

    async fn message(&mut self, message: ServerMessage) -> Result<(), String> {
        let name = self.name.clone();
        match message {
            ServerMessage::Opened {
                path,
                revision,
                text,
                operations,
                ..
            } => {
                let doc = self.doc(&path)?;
                doc.opening = false;
                doc.open = true;
                match (text, operations) {
                    (Some(text), _) if !doc.known => {
                        // The first open: the document as it is now.
                        doc.known = true;
                        doc.text = Rope::from_str(&text);
                        doc.ot = OtClient::new(revision);
                    }
                    (None, Some(operations)) => {
                        self.catch_up(&path, &operations)?;
                        let doc = self.doc(&path)?;
                        if doc.ot.revision() != revision {
                            return Err(format!(
                                "{name}: {path} caught up to {} but opened at {revision}",
                                doc.ot.revision()
                            ));
                        }
                    }
                    _ => {
                        return Err(format!(
                            "{name}: reopening {path} gave the whole text instead of operations"
                        ))
                    }
                }
                self.flush().await;
            }
            ServerMessage::Ack {
                path,
                seq,
                revision,
            } => self.ack(&path, seq, revision)?,
            ServerMessage::Remote {
                path, revision, op, ..
            } => {
                let doc = self.doc(&path)?;
                let expected = doc.ot.revision() + 1;
                if revision != expected {
                    return Err(format!(
                        "{name}: {path}: told of revision {revision} while expecting {expected}"
                    ));
                }
                let local = doc.ot.apply_remote(&op).map_err(|e| e.to_string())?;
                local.apply(&mut doc.text).map_err(|e| e.to_string())?;
            }
            ServerMessage::Error {
                code,
                message,
                path,
                seq,
            } => {
                *self.errors.entry(format!("{code:?}")).or_default() += 1;
                let retry_at = Instant::now() + BACKOFF;
                let Some(path) = path else {
                    return Err(format!("{name}: error {code:?} for no document: {message}"));
                };
                let doc = self.doc(&path)?;
                match (code, seq) {
                    // Nothing was applied: send it again.
                    (ErrorCode::Unavailable, Some(seq)) if doc.in_flight_seq == Some(seq) => {
                        doc.sent = false;
                        doc.retry_at = retry_at;
                    }
                    // The document was unloaded under the connection: open it again.
                    (ErrorCode::NotOpen, Some(_)) | (ErrorCode::Unavailable, None) => {
                        doc.open = false;
                        doc.opening = false;
                        doc.sent = false;
                        doc.retry_at = retry_at;
                    }
                    _ => {
                        return Err(format!(
                            "{name}: {path}: error {code:?} (seq {seq:?}): {message}"
                        ))
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn doc(&mut self, path: &str) -> Result<&mut Doc, String> {
        let name = &self.name;
        self.docs
            .get_mut(path)
            .ok_or_else(|| format!("{name}: a message about {path}, which it never opened"))
    }

    fn ack(&mut self, path: &str, seq: u64, revision: u64) -> Result<(), String> {
        let name = self.name.clone();
        let doc = self.doc(path)?;
        if doc.in_flight_seq != Some(seq) {
            // A repeat of an ack already taken (a resend's): it must name the same revision.
            let earlier = self
                .acked
                .iter()
                .find(|(p, s, _)| p == path && *s == seq)
                .map(|a| a.2);
            return match earlier {
                Some(r) if r == revision => Ok(()),
                _ => Err(format!(
                    "{name}: {path}: ack of seq {seq} at {revision}, earlier {earlier:?}"
                )),
            };
        }
        let expected = doc.ot.revision() + 1;
        if revision != expected {
            return Err(format!(
                "{name}: {path}: ack at revision {revision} while expecting {expected}"
            ));
        }
        self.acked_now(path, seq, revision)
    }

    /// The operation in flight is committed as `revision`; the buffer goes next.
    fn acked_now(&mut self, path: &str, seq: u64, revision: u64) -> Result<(), String> {
        self.acked.push((path.to_owned(), seq, revision));
        let doc = self.doc(path)?;
        doc.in_flight_seq = None;
        doc.sent = false;
        if doc.ot.server_ack().map_err(|e| e.to_string())?.is_some() {
            doc.in_flight_seq = Some(doc.next_seq);
            doc.next_seq += 1;
        }
        Ok(())
    }

    /// Applies what `opened` says was committed since the revision this client knew,
    /// recognising its own operation in flight among it.
    fn catch_up(&mut self, path: &str, operations: &[HistoryEntry]) -> Result<(), String> {
        let name = self.name.clone();
        let me = self.client_id.clone();
        for entry in operations {
            let doc = self.doc(path)?;
            let expected = doc.ot.revision() + 1;
            if entry.revision != expected {
                return Err(format!(
                    "{name}: {path}: reopening gave revision {} while expecting {expected}",
                    entry.revision
                ));
            }
            if entry.client_id == me {
                if doc.in_flight_seq != Some(entry.seq) {
                    return Err(format!(
                        "{name}: {path}: our seq {} at revision {} was not in flight",
                        entry.seq, entry.revision
                    ));
                }
                self.acked_now(path, entry.seq, entry.revision)?;
            } else {
                let local = doc.ot.apply_remote(&entry.op).map_err(|e| e.to_string())?;
                local.apply(&mut doc.text).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// The first open of a document: whoever comes first creates it.
fn initial_open(path: &str) -> ClientMessage {
    ClientMessage::Open {
        path: path.to_owned(),
        language: Some("plaintext".into()),
        text: Some(format!("# {path}\n")),
        revision: None,
    }
}

/// Why an upgrade failed, in a few words (the HTTP status when there is one).
fn refusal(e: &tokio_tungstenite::tungstenite::Error) -> String {
    match e {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            format!("HTTP {}", response.status().as_u16())
        }
        other => format!("{other}").chars().take(60).collect(),
    }
}
