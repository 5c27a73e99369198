//! Scale-out: several `pairprog-relay` processes share one PostgreSQL database, and a
//! room's participants may be spread over them (a load balancer without room affinity,
//! or a relay that died and whose clients reconnected elsewhere).
//!
//! What the relays promise together, tested from the outside only (WebSocket, REST and
//! the stored log): they share one order of operations per document through the
//! database; an operation committed through one relay reaches the other relay's clients
//! as `remote`; a resend of an operation already committed through a relay that died is
//! acknowledged with its original revision; participant lists and `joined`/`left` counts
//! are room-wide; cursors and `documentAdded` cross relays; and the participants of a
//! relay that died are dropped by the others within seconds.
//!
//! The typing is random with a printed seed; replay one with
//! `PAIRPROG_SEED=n cargo test -p pairprog-relay --test scale_out`, or run more with
//! `PAIRPROG_SEEDS=n`. Postgres only: SQLite is one process's embedded database.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::child::ChildRelay;
use common::client::WAIT;
use common::rng::{seeds, Rng};
use common::{encode_path, TestClient, TestDb};
use futures_util::{SinkExt, StreamExt};
use pairprog_protocol::messages::{
    ClientMessage, Participant, Selection, ServerMessage, PROTOCOL_VERSION,
};
use pairprog_protocol::{Operation, Sequencer};
use pairprog_relay::store::Store;
use ropey::Rope;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const PATH: &str = "src/shared.rs";
const START: &str = "start\r\n";
const PIECES: &[&str] = &["x", "é", "中", "😀", "\r\n", "\n", "\r", "fn "];
/// Frequent snapshots, so both relays write snapshots of the same document.
const RELAY_ARGS: &[&str] = &["--snapshot-every", "5"];
const STEPS_BEFORE_KILL: usize = 300;
const STEPS_AFTER_KILL: usize = 100;
/// How long a client may take to catch up once typing stopped. Shorter than the client's
/// own wait for one message ([`WAIT`]), so a client that never catches up fails with a
/// message that says so instead of a bare timeout.
const CATCH_UP: Duration = Duration::from_secs(15);
/// REST reads of a document allowed before its revision must have caught up.
const REST_TRIES: usize = 10;

// ---------------------------------------------------------------------------------------
// Convergence and a relay's death
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_converge_and_survive_one_being_killed() {
    let count = std::env::var("PAIRPROG_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for seed in seeds(count) {
        eprintln!("scale_out: seed {seed} (replay with PAIRPROG_SEED={seed})");
        converge_and_survive(seed).await;
    }
}

async fn converge_and_survive(seed: u64) {
    let mut rng = Rng::new(seed);
    let db = TestDb::postgres().await;
    let a = ChildRelay::start_with(&db.url, RELAY_ARGS).await;
    let b = ChildRelay::start_with(&db.url, RELAY_ARGS).await;
    let http = reqwest::Client::new();
    let room = create_room(&http, &a).await;

    // Everyone joins before the document exists, so relay B has to learn of a document
    // created through relay A after it loaded the room, not merely find it on loading.
    let mut clients = Vec::new();
    for (name, relay) in [("a0", &a), ("a1", &a), ("b0", &b), ("b1", &b)] {
        clients.push(TestClient::join(&relay.ws(&room), name, None).await);
    }
    let opened = clients[0].open(PATH, Some(START)).await;
    assert_eq!(opened, (START.to_owned(), 0), "seed {seed}: a0 creates");
    // b0 offers other text, as an editor with its own copy does: the room's document
    // exists (through relay A), so b0 must get that one and nothing may be created.
    for (i, offered) in [(2, Some("b0's own text\n")), (1, None), (3, None)] {
        let opened = clients[i].open(PATH, offered).await;
        assert_eq!(
            opened,
            (START.to_owned(), 0),
            "seed {seed}: {} must open the document a0 created through relay A",
            clients[i].name
        );
    }

    type_randomly(&mut rng, &mut clients, STEPS_BEFORE_KILL, seed).await;
    let revision = quiesce(&mut clients, seed, "before the kill").await;
    let on_a = rest_document_at(&http, &a, &room, revision, seed).await;
    let on_b = rest_document_at(&http, &b, &room, revision, seed).await;
    assert_eq!(
        on_a, on_b,
        "seed {seed}: the relays serve different texts at revision {revision}"
    );
    for c in &clients {
        assert_eq!(c.text(PATH), on_a, "seed {seed}: {} diverged", c.name);
    }
    assert!(
        revision > 20,
        "seed {seed}: the typing produced only {revision} revisions"
    );

    // One more edit each, so operations are in flight when relay A dies.
    for c in clients.iter_mut() {
        let len = c.docs[PATH].text.len_chars();
        let at = rng.below(len + 1);
        c.edit(PATH, Operation::splice(len, at, 0, "!").expect("fits"))
            .await;
    }
    a.kill().await;
    let acked_before = all_acks(&clients);
    {
        let store = Store::connect(&db.url).await.expect("store");
        let doc = store
            .load_document(&room, PATH)
            .await
            .expect("load")
            .expect("document stored");
        for (client, seq, revision) in &acked_before {
            assert_eq!(
                store
                    .find_client_operation(doc.id, client, *seq)
                    .await
                    .expect("query"),
                Some(*revision),
                "seed {seed}: acknowledged op {client}/{seq} is not in the log at its revision"
            );
        }
    }

    // A's clients move to B and resend what A had not acknowledged; B's clients never
    // left. What A committed but could not acknowledge must come back as acks (or in the
    // catch-up) with the revision A gave it, never be applied twice.
    for c in clients.iter_mut().take(2) {
        c.reconnect(&b.ws(&room)).await;
    }
    type_randomly(&mut rng, &mut clients, STEPS_AFTER_KILL, seed).await;
    let revision = quiesce(&mut clients, seed, "after the kill").await;
    let text = rest_document_at(&http, &b, &room, revision, seed).await;
    for c in &clients {
        assert_eq!(
            c.text(PATH),
            text,
            "seed {seed}: {} diverged after the kill",
            c.name
        );
    }

    // Every acknowledgement, before and after the kill, is one distinct revision of the
    // log: two relays acknowledging the same revision would be a fork. And every revision
    // is some client's acknowledged operation: one applied twice, or committed without
    // its author ever learning of it, would leave a revision no acknowledgement names.
    let acked = all_acks(&clients);
    let mut revisions = HashSet::new();
    for (client, seq, revision) in &acked {
        assert!(
            revisions.insert(*revision),
            "seed {seed}: revision {revision} acknowledged twice (once to {client}/{seq})"
        );
    }
    assert_eq!(
        revisions,
        (1..=revision).collect::<HashSet<u64>>(),
        "seed {seed}: the acknowledgements do not account for revisions 1..={revision}"
    );
    let store = Store::connect(&db.url).await.expect("store");
    let doc = store
        .load_document(&room, PATH)
        .await
        .expect("load")
        .expect("document stored");
    for (client, seq, revision) in &acked {
        assert_eq!(
            store
                .find_client_operation(doc.id, client, *seq)
                .await
                .expect("query"),
            Some(*revision),
            "seed {seed}: acknowledged op {client}/{seq} is not in the log at its revision"
        );
    }
    // The log replays from the snapshot without gaps to what everyone holds.
    let mut replay = Sequencer::new(Rope::from_str(&doc.snapshot), doc.snapshot_revision, 1);
    for op in doc.operations {
        assert_eq!(
            op.revision,
            replay.revision() + 1,
            "seed {seed}: gap in the log"
        );
        replay.commit(op.operation).expect("a logged op applies");
    }
    assert_eq!(
        (replay.text().to_string(), replay.revision()),
        (text.clone(), revision),
        "seed {seed}: the log does not replay to the relay's document"
    );

    // The reconnects above mostly find what A committed in their catch-up, before any
    // resend, so one resend is made on purpose: a0's last operation that A acknowledged,
    // sent again through B with its seq and base. B must acknowledge it with the revision
    // A gave it and apply nothing.
    let a0 = clients[0].client_id.clone();
    let (seq, committed_as) = acked_before
        .iter()
        .filter(|(client, ..)| *client == a0)
        .map(|(_, seq, revision)| (*seq, *revision))
        .next_back()
        .expect("a0 had acknowledgements from relay A");
    let logged = logged_operation(&http, &b, &room, committed_as).await;
    assert_eq!(
        (logged["clientId"].as_str(), logged["seq"].as_u64()),
        (Some(a0.as_str()), Some(seq)),
        "seed {seed}: the history names a0's operation at revision {committed_as}"
    );
    let op: Operation = serde_json::from_value(logged["op"].clone()).expect("a logged op");
    let (mut resender, _) = Watcher::join(&b.ws(&room), "a0", Some(clients[0].client_key())).await;
    resender.open(PATH).await;
    resender
        .send(&ClientMessage::Op {
            path: PATH.to_owned(),
            base: committed_as - 1,
            seq,
            op,
        })
        .await;
    let answer = resender
        .wait_for("the answer to the resend", |m| match m {
            ServerMessage::Ack { seq: s, .. } => *s == seq,
            ServerMessage::Error { seq: s, .. } => *s == Some(seq),
            _ => false,
        })
        .await;
    assert_eq!(
        answer,
        ServerMessage::Ack {
            path: PATH.to_owned(),
            revision: committed_as,
            seq
        },
        "seed {seed}: a resend through B of an operation A committed is acknowledged \
         with A's revision"
    );
    assert_eq!(
        rest_document(&http, &b, &room).await,
        (text, revision),
        "seed {seed}: the resend applied nothing"
    );
    eprintln!(
        "scale_out: seed {seed}: {revision} revisions, {} acknowledgements ({} before the kill)",
        acked.len(),
        acked_before.len()
    );
    b.kill().await;
}

/// A random edit on a document: inserts of up to two pieces (emoji, CJK, CRLF, lone CR
/// and LF among them) and deletes of up to three chars.
fn random_edit(rng: &mut Rng, doc: &Rope) -> Operation {
    let len = doc.len_chars();
    let pos = rng.below(len + 1);
    let del = if rng.chance(30) {
        rng.below(len - pos + 1).min(3)
    } else {
        0
    };
    let mut text = String::new();
    for _ in 0..1 + rng.below(2) {
        let piece: &&str = rng.pick(PIECES);
        text.push_str(piece);
    }
    Operation::splice(len, pos, del, &text).expect("in range")
}

/// Random clients type, read what has arrived at random moments (a random latency per
/// client) and now and then wait for the relay.
async fn type_randomly(rng: &mut Rng, clients: &mut [TestClient], steps: usize, seed: u64) {
    for _ in 0..steps {
        let i = rng.below(clients.len());
        let c = &mut clients[i];
        match rng.below(100) {
            0..=44 => {
                let op = random_edit(rng, &c.docs[PATH].text);
                c.edit(PATH, op).await;
            }
            45..=69 => {
                for _ in 0..rng.below(4) {
                    match c.try_next().await {
                        Some(m) => take(c, m, seed).await,
                        None => break,
                    }
                }
            }
            _ => {
                // The relays are other processes: without waiting for them now and then
                // the loop would outrun them and every edit would land in a buffer.
                if !c.docs[PATH].ot.is_synchronized() {
                    let m = c.next().await;
                    take(c, m, seed).await;
                }
            }
        }
        tokio::task::yield_now().await;
    }
}

/// Feeds one message to a client's OT state; an error from a relay fails the test, since
/// the clients send nothing a relay should refuse.
async fn take(c: &mut TestClient, m: ServerMessage, seed: u64) {
    if let ServerMessage::Error { .. } = m {
        panic!("seed {seed}: {} got {m:?}", c.name);
    }
    c.handle(&m).await;
}

/// Lets every client's operations be acknowledged, then brings every client to the
/// highest revision any of them reached, which is then the document's last (every
/// committed operation was acknowledged to its author). Returns that revision.
async fn quiesce(clients: &mut [TestClient], seed: u64, when: &str) -> u64 {
    for c in clients.iter_mut() {
        while !c.docs[PATH].ot.is_synchronized() {
            let m = c.next().await;
            take(c, m, seed).await;
        }
    }
    let revision = clients
        .iter()
        .map(|c| c.docs[PATH].ot.revision())
        .max()
        .expect("there are clients");
    for c in clients.iter_mut() {
        if tokio::time::timeout(CATCH_UP, c.settle(PATH, revision))
            .await
            .is_err()
        {
            panic!(
                "seed {seed} ({when}): {} stayed at revision {} while another client \
                 reached {revision}: operations committed through the other relay do not \
                 reach it",
                c.name,
                c.docs[PATH].ot.revision()
            );
        }
    }
    revision
}

/// Every acknowledgement the clients received: (client id, seq, revision).
fn all_acks(clients: &[TestClient]) -> Vec<(String, u64, u64)> {
    clients
        .iter()
        .flat_map(|c| {
            c.acked
                .iter()
                .map(|(_, seq, rev)| (c.client_id.clone(), *seq, *rev))
        })
        .collect()
}

async fn create_room(http: &reqwest::Client, relay: &ChildRelay) -> String {
    let body: serde_json::Value = http
        .post(format!("{}/api/rooms", relay.base))
        .send()
        .await
        .expect("POST /api/rooms")
        .json()
        .await
        .expect("JSON body");
    body["roomId"].as_str().expect("roomId").to_owned()
}

/// The document as `relay` answers `GET /api/rooms/{room}/documents/{path}`.
async fn rest_document(http: &reqwest::Client, relay: &ChildRelay, room: &str) -> (String, u64) {
    let url = format!(
        "{}/api/rooms/{room}/documents/{}",
        relay.base,
        encode_path(PATH)
    );
    let body: serde_json::Value = http
        .get(&url)
        .send()
        .await
        .expect("GET document")
        .json()
        .await
        .expect("JSON body");
    (
        body["text"].as_str().expect("text").to_owned(),
        body["revision"].as_u64().expect("revision"),
    )
}

/// The logged operation at `revision`, from `relay`'s history endpoint (JSON:
/// `revision`, `op`, `author`, `time`, `clientId`, `seq`).
async fn logged_operation(
    http: &reqwest::Client,
    relay: &ChildRelay,
    room: &str,
    revision: u64,
) -> serde_json::Value {
    let url = format!(
        "{}/api/rooms/{room}/documents/{}/history?since={}&limit=1",
        relay.base,
        encode_path(PATH),
        revision - 1
    );
    let mut body: serde_json::Value = http
        .get(&url)
        .send()
        .await
        .expect("GET history")
        .json()
        .await
        .expect("JSON body");
    let entry = body["operations"][0].take();
    assert_eq!(
        entry["revision"].as_u64(),
        Some(revision),
        "the history has revision {revision}: {body}"
    );
    entry
}

/// The document's text as `relay` serves it at `revision`. A relay serves its in-memory
/// copy, and a client of that relay at `revision` (the caller settled them all) proves
/// the relay applied it, so the first answer should do; the few extra reads only absorb
/// a relay whose REST view is updated just after its broadcast.
async fn rest_document_at(
    http: &reqwest::Client,
    relay: &ChildRelay,
    room: &str,
    revision: u64,
    seed: u64,
) -> String {
    let mut seen = 0;
    for _ in 0..REST_TRIES {
        let (text, at) = rest_document(http, relay, room).await;
        assert!(
            at <= revision,
            "seed {seed}: {} serves revision {at}, past the clients' {revision}",
            relay.base
        );
        if at == revision {
            return text;
        }
        seen = at;
    }
    panic!(
        "seed {seed}: {} still serves revision {seen} after {REST_TRIES} reads; the \
         clients are at {revision}",
        relay.base
    );
}

// ---------------------------------------------------------------------------------------
// Presence across relays
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_crosses_relays() {
    let db = TestDb::postgres().await;
    let a = ChildRelay::start_with(&db.url, RELAY_ARGS).await;
    let b = ChildRelay::start_with(&db.url, RELAY_ARGS).await;
    let http = reqwest::Client::new();
    let room = create_room(&http, &a).await;

    let mut x = TestClient::join(&a.ws(&room), "x", None).await;
    let (mut y, welcome) = Watcher::join(&b.ws(&room), "y", None).await;
    let mut ids: Vec<&str> = welcome.participants.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![x.participant_id.as_str(), welcome.you.id.as_str()];
    expected.sort_unstable();
    assert_eq!(
        ids, expected,
        "Y's welcome (through B) lists X (through A) and Y: {:?}",
        welcome.participants
    );

    let mut z = TestClient::join(&a.ws(&room), "z", None).await;
    let z_id = z.participant_id.clone();
    let joined = y
        .wait_for(
            "joined for Z",
            |m| matches!(m, ServerMessage::Joined { participant, .. } if participant.id == z_id),
        )
        .await;
    let ServerMessage::Joined { participant, count } = joined else {
        unreachable!()
    };
    assert_eq!(
        (participant.name.as_str(), count),
        ("z", 3),
        "Z's join through A reaches Y with the room-wide count"
    );

    let (text, _) = x.open(PATH, Some(START)).await;
    assert_eq!(y.open(PATH).await, text, "Y (through B) opens X's document");

    let selections = vec![
        Selection { anchor: 1, head: 3 },
        Selection { anchor: 5, head: 5 },
    ];
    x.send(&ClientMessage::Cursor {
        path: PATH.to_owned(),
        selections: selections.clone(),
        revision: None,
    })
    .await;
    let x_id = x.participant_id.clone();
    // Only a non-empty presence is X's cursor: an empty one would say X left the
    // document.
    let presence = y
        .wait_for("X's cursor", |m| {
            matches!(m, ServerMessage::Presence(info)
                if info.participant_id == x_id && !info.selections.is_empty())
        })
        .await;
    let ServerMessage::Presence(info) = presence else {
        unreachable!()
    };
    assert_eq!(
        (info.path.as_str(), info.selections),
        (PATH, selections),
        "X's cursor crosses from A to B unchanged"
    );

    const NEW: &str = "docs/new.md";
    z.open(NEW, Some("# new\n")).await;
    let added = y
        .wait_for(
            "documentAdded",
            |m| matches!(m, ServerMessage::DocumentAdded(info) if info.path == NEW),
        )
        .await;
    let ServerMessage::DocumentAdded(info) = added else {
        unreachable!()
    };
    assert_eq!(
        (info.language.as_str(), info.revision),
        ("plaintext", 0),
        "the document Z created through A is announced on B"
    );

    z.close().await;
    let left = y
        .wait_for(
            "left for Z",
            |m| matches!(m, ServerMessage::Left { participant_id, .. } if *participant_id == z_id),
        )
        .await;
    assert_eq!(
        left,
        ServerMessage::Left {
            participant_id: z_id.clone(),
            count: 2
        },
        "Z leaving A reaches Y with the room-wide count"
    );

    // A dies without a word: B must notice it stopped hearing from A and drop X. The
    // watcher's wait (WAIT) is longer than the few seconds after which relays expire
    // peers they no longer hear from.
    a.kill().await;
    let killed_at = std::time::Instant::now();
    let left = y
        .wait_for(
            "left for X after relay A died",
            |m| matches!(m, ServerMessage::Left { participant_id, .. } if *participant_id == x_id),
        )
        .await;
    assert_eq!(
        left,
        ServerMessage::Left {
            participant_id: x_id.clone(),
            count: 1
        },
        "the participants of a dead relay are dropped"
    );
    eprintln!(
        "presence_crosses_relays: B dropped X {:?} after relay A was killed",
        killed_at.elapsed()
    );
    drop(x);
    b.kill().await;
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A participant that only watches, written against the socket directly because the
/// test needs its `welcome` (which `TestClient::join` consumes).
struct Watcher {
    ws: Ws,
    name: String,
    /// Messages `wait_for` passed over, shown when a wait fails.
    skipped: Vec<ServerMessage>,
}

/// The parts of a `welcome` the test reads.
struct Welcome {
    you: Participant,
    participants: Vec<Participant>,
}

impl Watcher {
    /// Connects and says hello (with `client_key`, to speak as an existing client).
    async fn join(url: &str, name: &str, client_key: Option<&str>) -> (Watcher, Welcome) {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .expect("websocket connects");
        let mut watcher = Watcher {
            ws,
            name: name.to_owned(),
            skipped: Vec::new(),
        };
        watcher
            .send(&ClientMessage::Hello {
                protocol: PROTOCOL_VERSION,
                name: name.to_owned(),
                client_key: client_key.map(str::to_owned),
            })
            .await;
        let welcome = watcher
            .wait_for("welcome", |m| matches!(m, ServerMessage::Welcome { .. }))
            .await;
        let ServerMessage::Welcome {
            you, participants, ..
        } = welcome
        else {
            unreachable!()
        };
        (watcher, Welcome { you, participants })
    }

    /// Opens an existing document; returns its text.
    async fn open(&mut self, path: &str) -> String {
        self.send(&ClientMessage::Open {
            path: path.to_owned(),
            language: None,
            text: None,
            revision: None,
        })
        .await;
        let opened = self
            .wait_for("opened", |m| match m {
                ServerMessage::Opened { path: p, .. } => p == path,
                ServerMessage::Error { path: p, .. } => p.as_deref() == Some(path),
                _ => false,
            })
            .await;
        match opened {
            ServerMessage::Opened {
                text: Some(text), ..
            } => text,
            other => panic!("{}: open {path} failed: {other:?}", self.name),
        }
    }

    async fn send(&mut self, msg: &ClientMessage) {
        self.ws
            .send(Message::text(serde_json::to_string(msg).expect("json")))
            .await
            .expect("send");
    }

    /// Waits up to [`WAIT`] for the first message matching `pred`; the others are kept
    /// in `skipped` for the failure message.
    async fn wait_for(
        &mut self,
        what: &str,
        pred: impl Fn(&ServerMessage) -> bool,
    ) -> ServerMessage {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let Ok(frame) = tokio::time::timeout_at(deadline, self.ws.next()).await else {
                panic!(
                    "{}: no {what} within {WAIT:?}; received meanwhile: {:?}",
                    self.name, self.skipped
                );
            };
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let m: ServerMessage =
                        serde_json::from_str(&text).expect("relay sends valid JSON");
                    if pred(&m) {
                        return m;
                    }
                    self.skipped.push(m);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => panic!(
                    "{}: the connection closed while waiting for {what}; received: {:?}",
                    self.name, self.skipped
                ),
                Some(Ok(_)) => {}
            }
        }
    }
}
