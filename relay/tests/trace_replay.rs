//! The concurrent editing trace `friendsforever.json.gz` (two agents, 26,078 txns, 2,258
//! merges) replayed through the real relay, on each storage backend, by two WebSocket
//! clients: one per agent, each sending every txn of its agent as one operation against
//! the revision it had seen. At the end the relay, the store and both clients hold the
//! trace's `endContent`.
//!
//! A trace txn's positions refer to the document as its agent saw it at the txn's
//! `parents` version, which is not what the agent's client holds when the txn is replayed:
//! the relay may already have delivered operations of the other agent that the trace says
//! the agent had not seen yet. Each agent therefore keeps two texts:
//!
//! * the view `V`, the document exactly as the trace says the agent saw it, and
//! * the client's document `D` (the test client's rope), which the relay's messages
//!   update as they arrive.
//!
//! The remote operations applied to `D` but not yet to `V` are kept in order as `U`, so
//! that `V` followed by `U` is `D`. Before a txn, the front of `U` moves into `V` for every
//! txn of the other agent that the txn's parents contain. The txn is then built on `V`,
//! transformed past what is left of `U` to fit `D`, and handed to ot.js-style client logic
//! with one operation in flight. Txns made while one is in flight wait in a queue `Q`
//! uncomposed, because the replay relies on the k-th remote operation an agent receives
//! being the other agent's k-th txn.
//!
//! The relay sequences the txns in the trace's order: a txn goes out only once every
//! earlier txn of the other agent is acknowledged. Server-ordered OT puts two concurrent
//! insertions at the same place in the order they were sequenced, and the trace has such
//! ties, so `endContent` is the result of the trace's order and of no other (with the
//! other order at ties, the protocol's own replay in `protocol/tests/traces.rs` ends
//! elsewhere). A replay that let the two sockets race reached a different, converged
//! text now and then. Operations still reach the relay on stale bases and cross remote
//! operations on the way, so the relay's and the clients' transforms are exercised.

mod common;
#[path = "../../protocol/tests/common/traces.rs"]
mod traces;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::{backends, stored_document, TestClient, TestDb, TestRelay};
use pairprog_protocol::messages::{ClientMessage, ServerMessage};
use pairprog_protocol::Operation;
use ropey::Rope;
use sqlx::Connection;
use traces::{load, Trace, Txn};

const PATH: &str = "friendsforever.txt";

/// The patches of one txn, applied in sequence, as a single operation on `view`.
fn txn_op(view: &Rope, txn: &Txn) -> Operation {
    let mut scratch = view.clone();
    let mut op = Operation::identity(view.len_chars());
    for traces::Patch(pos, del, ins) in &txn.patches {
        let step = Operation::splice(scratch.len_chars(), *pos, *del, ins)
            .expect("the patch fits the agent's view");
        step.apply(&mut scratch)
            .expect("the patch fits the agent's view");
        op = op.compose(&step).expect("consecutive patches chain");
    }
    op
}

/// What the trace says about causality, computed once.
struct Causality {
    /// `parents_clock[i][a]`: the highest txn of agent `a` in txn i's parents version.
    parents_clock: Vec<[Option<usize>; 2]>,
    /// `rank[i]`: how many txns of the same agent come before txn i.
    rank: Vec<usize>,
    /// How many txns each agent makes.
    count: [usize; 2],
}

impl Causality {
    fn of(trace: &Trace) -> Causality {
        assert_eq!(trace.num_agents, 2, "this replay drives exactly two agents");
        // known[i][a]: the highest txn of agent `a` contained in the version after txn i.
        let mut known: Vec<[Option<usize>; 2]> = Vec::with_capacity(trace.txns.len());
        let mut parents_clock = Vec::with_capacity(trace.txns.len());
        let mut rank = Vec::with_capacity(trace.txns.len());
        let mut count = [0; 2];
        let mut last_own: [Option<usize>; 2] = [None; 2];
        for (i, txn) in trace.txns.iter().enumerate() {
            let mut clock = [None; 2];
            for &p in &txn.parents {
                for (a, k) in known[p].iter().enumerate() {
                    clock[a] = clock[a].max(*k);
                }
            }
            // The replay keeps one view per agent that only grows, which is right only
            // if every txn builds on its agent's previous one.
            assert_eq!(
                clock[txn.agent], last_own[txn.agent],
                "txn {i} does not build on its agent's previous txn"
            );
            parents_clock.push(clock);
            let mut after = clock;
            after[txn.agent] = Some(i);
            known.push(after);
            last_own[txn.agent] = Some(i);
            rank.push(count[txn.agent]);
            count[txn.agent] += 1;
        }
        Causality {
            parents_clock,
            rank,
            count,
        }
    }

    /// How many txns of `agent` the parents version of txn `i` contains.
    fn seen_of(&self, i: usize, agent: usize) -> usize {
        self.parents_clock[i][agent].map_or(0, |k| self.rank[k] + 1)
    }
}

/// Counters showing that the replay exercised concurrency in all three places where an
/// operation can be transformed.
#[derive(Debug, Default)]
struct Concurrency {
    /// Txns that had to be transformed past remote operations the agent had received but,
    /// per the trace, not yet seen.
    past_unseen: usize,
    /// Remote operations that arrived while the agent had unacknowledged operations.
    remote_over_pending: usize,
    /// Operations the relay committed at a later revision than their base plus one, i.e.
    /// rebased past the other agent's operations.
    rebased_by_relay: usize,
}

/// One agent: its WebSocket client (whose rope is the document `D`), its view `V` of the
/// trace, and the operations between the two.
struct Agent {
    client: TestClient,
    /// The document as the trace says this agent saw it.
    view: Rope,
    /// Remote operations applied to the client's document and not yet to the view, each
    /// on the view followed by the ones before it.
    unseen: VecDeque<Operation>,
    /// How many remote operations the view contains.
    seen: usize,
    /// How many remote operations arrived; `seen + unseen.len()`.
    received: usize,
    /// Local operations not yet handed to the OT client, each on the one before it, with
    /// the index of the txn each one is.
    queue: VecDeque<(usize, Operation)>,
    /// How many of this agent's txns the relay has acknowledged.
    acked: usize,
    /// The base revision of the operation in flight.
    in_flight_base: u64,
    stats: Concurrency,
}

impl Agent {
    fn new(client: TestClient) -> Agent {
        Agent {
            client,
            view: Rope::new(),
            unseen: VecDeque::new(),
            seen: 0,
            received: 0,
            queue: VecDeque::new(),
            acked: 0,
            in_flight_base: 0,
            stats: Concurrency::default(),
        }
    }

    fn doc(&self) -> &common::client::ClientDoc {
        &self.client.docs[PATH]
    }

    fn doc_mut(&mut self) -> &mut common::client::ClientDoc {
        self.client.docs.get_mut(PATH).expect("document open")
    }

    /// True when everything this agent made is acknowledged and it received all `remote`
    /// operations of the other agent.
    fn settled(&self, remote: usize) -> bool {
        self.queue.is_empty() && self.doc().ot.is_synchronized() && self.received == remote
    }

    /// Hands `op` (on the client's document as of the last acknowledged revision plus
    /// nothing in flight) to the OT client and sends it as the single one in flight.
    async fn submit(&mut self, op: Operation) {
        let doc = self.doc_mut();
        let op = doc
            .ot
            .apply_local(op)
            .expect("a local operation is accepted")
            .expect("nothing was in flight, so the operation goes out at once");
        let seq = doc.next_seq;
        doc.next_seq += 1;
        doc.in_flight_seq = Some(seq);
        let base = doc.ot.revision();
        self.in_flight_base = base;
        self.client
            .send(&ClientMessage::Op {
                path: PATH.to_owned(),
                base,
                seq,
                op,
            })
            .await;
    }

    /// Makes txn `txn` of this agent, given as an operation on the view, and queues it.
    fn local(&mut self, txn: usize, op: Operation) {
        op.apply(&mut self.view).expect("the txn fits the view");
        // Rebase the txn past the operations the client holds but the agent has not seen,
        // and those past the txn, so that the view followed by them stays the document.
        if !self.unseen.is_empty() {
            self.stats.past_unseen += 1;
        }
        let mut op = op;
        for u in self.unseen.iter_mut() {
            let (mine, theirs) = Operation::transform(&op, u).expect("same base");
            op = mine;
            *u = theirs;
        }
        op.apply(&mut self.doc_mut().text)
            .expect("the rebased txn fits the client's document");
        self.queue.push_back((txn, op));
    }

    /// Whether the txn at the front of the queue may go out now: nothing of this agent
    /// is in flight, and the other agent has every txn before it acknowledged
    /// (`other_acked` of them are).
    fn ready(&self, causality: &Causality, other_acked: usize) -> bool {
        self.queue.front().is_some_and(|&(txn, _)| {
            let other_before = txn - causality.rank[txn];
            self.doc().ot.is_synchronized() && other_acked >= other_before
        })
    }

    /// Applies one message from the relay.
    async fn handle(&mut self, msg: ServerMessage) {
        match msg {
            ServerMessage::Ack { seq, revision, .. } => {
                let doc = self.doc_mut();
                assert_eq!(doc.in_flight_seq, Some(seq), "the ack is for our operation");
                doc.in_flight_seq = None;
                let next = doc.ot.server_ack().expect("an operation was in flight");
                assert!(next.is_none(), "the OT client never buffers here");
                assert_eq!(doc.ot.revision(), revision, "the ack's revision is ours");
                if revision != self.in_flight_base + 1 {
                    self.stats.rebased_by_relay += 1;
                }
                self.acked += 1;
            }
            ServerMessage::Remote { op, revision, .. } => {
                let pending = !self.queue.is_empty() || !self.doc().ot.is_synchronized();
                if pending {
                    self.stats.remote_over_pending += 1;
                }
                let doc = self.doc_mut();
                let mut op = doc.ot.apply_remote(&op).expect("the remote op transforms");
                assert_eq!(
                    doc.ot.revision(),
                    revision,
                    "remote operations come in order"
                );
                // The relay's operation goes on the right: it is already sequenced, and the
                // queued ones are not, the same sides the relay takes for them later.
                for (_, q) in self.queue.iter_mut() {
                    let (mine, theirs) = Operation::transform(q, &op).expect("same base");
                    *q = mine;
                    op = theirs;
                }
                op.apply(&mut self.doc_mut().text)
                    .expect("the remote op fits the client's document");
                self.unseen.push_back(op);
                self.received += 1;
            }
            ServerMessage::Error { .. } => {
                panic!("{}: the relay refused: {msg:?}", self.client.name)
            }
            // Presence, joins and document announcements do not change the text.
            _ => {}
        }
    }

    /// Handles every message that has already arrived, without waiting, so operations
    /// reach the client in real time rather than only when the trace needs them.
    async fn drain(&mut self) {
        while let Some(msg) = self.client.try_next().await {
            self.handle(msg).await;
        }
    }

    /// Moves received remote operations into the view until it holds `remote` of them.
    /// Returns false if some have not arrived yet.
    fn advance_view(&mut self, remote: usize) -> bool {
        assert!(self.seen <= remote, "the trace never unsees a txn");
        while self.seen < remote {
            let Some(op) = self.unseen.pop_front() else {
                return false;
            };
            op.apply(&mut self.view)
                .expect("the oldest unseen op fits the view");
            self.seen += 1;
        }
        true
    }
}

/// Waits for the next message to either agent and handles it. Both sockets are watched,
/// so an agent waiting for the other's txn never blocks the ack that lets the other send
/// it. `TestClient::next` times out, so a lost message fails the test instead of hanging.
async fn wait_any(agents: &mut [Agent; 2], causality: &Causality) {
    let [zero, one] = agents;
    let (who, msg) = tokio::select! {
        msg = zero.client.next() => (0, msg),
        msg = one.client.next() => (1, msg),
    };
    agents[who].handle(msg).await;
    pump(agents, causality).await;
}

/// Sends every queued txn whose turn has come, in the trace's order (see the top).
async fn pump(agents: &mut [Agent; 2], causality: &Causality) {
    loop {
        let mut sent = false;
        for a in 0..2 {
            let other_acked = agents[1 - a].acked;
            if agents[a].ready(causality, other_acked) {
                let (_, op) = agents[a].queue.pop_front().expect("ready means queued");
                agents[a].submit(op).await;
                sent = true;
            }
        }
        if !sent {
            return;
        }
    }
}

/// Fails unless `text` is `expected`, naming the first char where they part.
fn assert_same(kind: &str, what: &str, text: &Rope, expected: &str) {
    if *text == expected {
        return;
    }
    let text = text.to_string();
    let at = text
        .chars()
        .zip(expected.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let around = |s: &str| -> String { s.chars().skip(at.saturating_sub(20)).take(60).collect() };
    panic!(
        "{kind}: {what} differs from the expected text at char {at} ({} chars against {}): \
         {:?} against {:?}",
        text.chars().count(),
        expected.chars().count(),
        around(&text),
        around(expected),
    );
}

/// The document as the store holds it, rebuilt from the snapshot and the log.
async fn stored_text(url: &str, room: &str) -> (String, u64) {
    let stored = stored_document(url, room, PATH).await;
    (stored.text, stored.revision)
}

/// An SQLite file outside the test database's folder, removed when dropped.
struct ScratchFile(PathBuf);

impl Drop for ScratchFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Makes commits on `db` skip the disk flush, and returns the database URL to give the
/// relay (with the file to remove afterwards for SQLite).
///
/// The relay commits every operation durably before acknowledging it, and the OT client
/// keeps one operation in flight, so a replay that sends each txn as its own operation
/// pays one commit per txn, one after another: on a disk whose fsync takes 3 ms that is
/// over a minute of flushing for the 26,078 txns. Durability is what the crash test
/// checks. This test checks transformation, and the relay runs the same code either way.
/// So Postgres commits with `synchronous_commit = off`, and the SQLite file lives in
/// memory-backed `/dev/shm` (the relay always sets `synchronous=FULL`, but a flush there
/// costs nothing). Where there is no `/dev/shm`, SQLite stays where `TestDb` put it, and
/// the replay is slower.
async fn without_flushes(db: &TestDb) -> (String, Option<ScratchFile>) {
    if db.kind == "postgres" {
        let name = db.url.rsplit_once('/').expect("a database name").1;
        let mut conn = sqlx::PgConnection::connect(&db.url)
            .await
            .expect("connect to the test database");
        sqlx::query(&format!(
            "ALTER DATABASE {name} SET synchronous_commit = off"
        ))
        .execute(&mut conn)
        .await
        .expect("relax synchronous_commit");
        return (db.url.clone(), None);
    }
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return (db.url.clone(), None);
    }
    let file = db
        .url
        .rsplit_once('/')
        .expect("an SQLite URL names a file")
        .1;
    let path = shm.join(file);
    (
        format!("sqlite://{}", path.display()),
        Some(ScratchFile(path)),
    )
}

async fn replay(trace: &Trace, causality: &Causality, db: TestDb) {
    let kind = db.kind;
    let started = Instant::now();
    let (url, _scratch) = without_flushes(&db).await;
    let relay_url = url.clone();
    let mut relay = TestRelay::start_with(db, |config| config.database_url = Some(relay_url)).await;
    let room = relay.create_room().await;
    let ws_url = relay.ws_url(&room);
    let mut zero = TestClient::join(&ws_url, "agent0", None).await;
    let mut one = TestClient::join(&ws_url, "agent1", None).await;
    zero.open(PATH, Some("")).await;
    one.open(PATH, None).await;
    let mut agents = [Agent::new(zero), Agent::new(one)];

    for (i, txn) in trace.txns.iter().enumerate() {
        let a = txn.agent;
        let other = 1 - a;
        for agent in agents.iter_mut() {
            agent.drain().await;
        }
        pump(&mut agents, causality).await;
        let seen = causality.seen_of(i, other);
        while !agents[a].advance_view(seen) {
            wait_any(&mut agents, causality).await;
        }
        let op = txn_op(&agents[a].view, txn);
        agents[a].local(i, op);
        pump(&mut agents, causality).await;
    }

    // Let every queued operation go out and every broadcast arrive.
    while !(agents[0].settled(causality.count[1]) && agents[1].settled(causality.count[0])) {
        wait_any(&mut agents, causality).await;
    }
    let revision = trace.txns.len() as u64;
    let (text, rest_revision) = relay.document(&room, PATH).await;
    assert_eq!(rest_revision, revision, "{kind}: relay revision");
    // Convergence first: whatever the order, everyone must hold the relay's text.
    for (a, agent) in agents.iter_mut().enumerate() {
        assert!(agent.advance_view(causality.count[1 - a]));
        assert_eq!(agent.doc().ot.revision(), revision, "{kind}: agent {a}");
        assert_same(
            kind,
            &format!("agent {a}'s document"),
            &agent.doc().text,
            &text,
        );
    }
    assert_same(
        kind,
        "the relay's text",
        &Rope::from_str(&text),
        &trace.end_content,
    );
    for (a, agent) in agents.iter().enumerate() {
        assert_same(
            kind,
            &format!("agent {a}'s view"),
            &agent.view,
            &trace.end_content,
        );
    }
    let stats: Vec<&Concurrency> = agents.iter().map(|a| &a.stats).collect();
    eprintln!(
        "{kind}: {} txns replayed in {:.1?}; concurrency per agent: {stats:?}",
        trace.txns.len(),
        started.elapsed()
    );
    // The replay must really be concurrent, or it proves nothing about transform. How the
    // work splits between the three places depends on timing; the trace's 2,258 merges
    // guarantee that txns are concurrent somewhere.
    let transformed: usize = stats
        .iter()
        .map(|s| s.past_unseen + s.remote_over_pending + s.rebased_by_relay)
        .sum();
    assert!(transformed > 1000, "{kind}: only {transformed} transforms");

    for agent in agents {
        agent.client.close().await;
    }
    relay.stop().await;
    let (stored, stored_revision) = stored_text(&url, &room).await;
    assert_eq!(stored_revision, revision, "{kind}: stored revision");
    assert!(
        stored == trace.end_content,
        "{kind}: the stored text is not endContent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friendsforever_replays_through_the_relay_to_its_end_content() {
    let trace = load("friendsforever.json.gz");
    let causality = Causality::of(&trace);
    for db in backends().await {
        replay(&trace, &causality, db).await;
    }
}
