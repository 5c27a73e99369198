//! The simulated world: the real [`DocCore`], driven the way the owner task drives it
//! (`owner.rs`), a simulated store, clients, another relay writing to the same log, and a
//! hostile member. Every step is one [`Event`]; each event carries its own random number,
//! so a schedule replays bit for bit and can be shrunk by dropping events.

use std::collections::{BTreeMap, VecDeque};

use pairprog_protocol::messages::ServerMessage;
use pairprog_protocol::Operation;

use super::client::{insert_at_boundary, tokens, Reaction, SimClient};
use super::store::{SimStore, POISON};
use crate::document::core::Fault;
use crate::document::{
    CommitOutcome, CommitRequest, CoreConfig, DocCore, Effect, Failure, LogEntry, Next,
    SubmitCommand,
};

/// Reads of the log to settle an unknown outcome before giving up (as `owner.rs`).
const RESOLVE_ATTEMPTS: u32 = 5;
const MAX_BATCH: usize = 512;

#[derive(Clone, Copy, Debug)]
pub enum Event {
    Type {
        client: usize,
        r: u64,
    },
    /// Sends the in-flight operation of a client again (a duplicate of the same seq).
    Duplicate {
        client: usize,
    },
    Deliver {
        client: usize,
        n: u8,
    },
    Disconnect {
        client: usize,
    },
    Reconnect {
        client: usize,
    },
    /// The owner takes its next command, or its stalled commit goes on.
    Relay {
        r: u64,
    },
    Crash {
        r: u64,
    },
    /// Another relay commits an operation to the same log.
    Foreign {
        r: u64,
    },
    Hostile {
        r: u64,
    },
}

enum Cmd {
    Open {
        conn: u64,
        participant: String,
        client_id: String,
        revision: Option<u64>,
    },
    Close {
        participant: String,
    },
    Submit(SubmitCommand),
    Replicated(Vec<LogEntry>),
    CatchUp,
}

/// What a run went through, to show that the faults happened.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub steps: u64,
    pub revisions: u64,
    pub acked: u64,
    pub unknown: u64,
    pub failed: u64,
    pub refused: u64,
    pub stalls: u64,
    pub crashes: u64,
    pub races: u64,
    pub resyncs: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.steps += o.steps;
        self.revisions += o.revisions;
        self.acked += o.acked;
        self.unknown += o.unknown;
        self.failed += o.failed;
        self.refused += o.refused;
        self.stalls += o.stalls;
        self.crashes += o.crashes;
        self.races += o.races;
        self.resyncs += o.resyncs;
    }
}

/// A commit handed to the store that has not returned yet.
struct Stalled {
    request: CommitRequest,
    steps: u8,
}

pub struct World {
    core: DocCore,
    fault: Fault,
    pub store: SimStore,
    pub clients: Vec<SimClient>,
    /// The hostile member's connection (participant id), if open.
    hostile: Option<String>,
    hostile_seq: u64,
    inbox: VecDeque<Cmd>,
    stalled: Option<Stalled>,
    /// The store's append lock is held (after a lost race): the other relay waits.
    locked: bool,
    next_conn: u64,
    foreign_seq: u64,
    /// The last revision each subscriber was told of, to check order at emission.
    told: BTreeMap<String, u64>,
    now: i64,
    /// Whether faults may happen (off while the run drains).
    pub faults: bool,
    pub steps: u64,
    stats: Stats,
}

impl World {
    pub fn new(clients: usize, fault: Fault) -> Self {
        let store = SimStore::new("");
        let mut world = Self {
            core: new_core(fault),
            fault,
            store,
            clients: (0..clients)
                .map(|i| SimClient::new(format!("c{i}")))
                .collect(),
            hostile: None,
            hostile_seq: 0,
            inbox: VecDeque::new(),
            stalled: None,
            locked: false,
            next_conn: 0,
            foreign_seq: 0,
            told: BTreeMap::new(),
            now: 0,
            faults: true,
            steps: 0,
            stats: Stats::default(),
        };
        world.load();
        world
    }

    fn load(&mut self) {
        self.core = new_core(self.fault);
        let loaded = self.store.load();
        self.core
            .load(Some(loaded))
            .expect("the store's log applies");
    }

    /// Has the owner read the log for anything it missed (another relay's operations
    /// whose notifications were lost), as the cluster listener asks after a reconnect.
    pub fn request_catch_up(&mut self) {
        self.inbox.push_back(Cmd::CatchUp);
    }

    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.steps = self.steps;
        stats.revisions = self.store.revision();
        stats.acked = self.clients.iter().map(|c| c.acked.len() as u64).sum();
        stats
    }

    pub fn is_quiet(&self) -> bool {
        self.inbox.is_empty()
            && self.stalled.is_none()
            && self.clients.iter().all(|c| {
                c.is_open()
                    && c.ot.is_synchronized()
                    && c.conn.as_ref().is_some_and(|c| c.outbox.is_empty())
            })
    }

    pub fn step(&mut self, event: Event) -> Result<(), String> {
        self.steps += 1;
        self.now += 1;
        match event {
            Event::Type { client, r } => {
                let c = &mut self.clients[client];
                if c.is_open() {
                    if let Some(submit) = c.type_token(r)? {
                        self.inbox.push_back(Cmd::Submit(submit));
                    }
                }
            }
            Event::Duplicate { client } => {
                if let Some(submit) = self.clients[client]
                    .resend()
                    .filter(|_| self.clients[client].is_open())
                {
                    self.inbox.push_back(Cmd::Submit(submit));
                }
            }
            Event::Deliver { client, n } => {
                for _ in 0..n {
                    self.deliver(client)?;
                }
            }
            Event::Disconnect { client } => {
                if let Some(conn) = self.clients[client].conn.take() {
                    self.inbox.push_back(Cmd::Close {
                        participant: conn.participant,
                    });
                }
            }
            Event::Reconnect { client } => self.connect(client),
            Event::Relay { r } => self.relay(r)?,
            Event::Crash { r } if self.faults => self.crash(r),
            Event::Foreign { r } => self.foreign(r),
            Event::Hostile { r } => self.hostile(r),
            Event::Crash { .. } => {}
        }
        self.check_exactly_once()
    }

    fn connect(&mut self, client: usize) {
        let c = &mut self.clients[client];
        if c.conn.is_some() {
            return;
        }
        self.next_conn += 1;
        let participant = format!("p{client}.{}", self.next_conn);
        c.conn = Some(super::client::Conn {
            id: self.next_conn,
            participant: participant.clone(),
            outbox: VecDeque::new(),
            opened: false,
        });
        let revision = (c.ot.revision() > 0 || !c.text.is_empty() || c.in_flight_seq.is_some())
            .then(|| c.ot.revision());
        self.inbox.push_back(Cmd::Open {
            conn: self.next_conn,
            participant,
            client_id: c.client_id.clone(),
            revision,
        });
    }

    fn deliver(&mut self, client: usize) -> Result<(), String> {
        let c = &mut self.clients[client];
        let Some(msg) = c.conn.as_mut().and_then(|conn| conn.outbox.pop_front()) else {
            return Ok(());
        };
        match c.receive(msg, &self.store.log)? {
            Reaction::Nothing => {}
            Reaction::Send(submit) => self.inbox.push_back(Cmd::Submit(submit)),
            Reaction::Restart => {
                if let Some(conn) = c.conn.take() {
                    self.inbox.push_back(Cmd::Close {
                        participant: conn.participant,
                    });
                }
                c.restart();
            }
        }
        Ok(())
    }

    /// Performs the core's effects, checking each message as it leaves the core:
    /// acks and operations only for what the store holds, each subscriber told of each
    /// revision once and in order.
    fn perform(&mut self, effects: Vec<Effect>) -> Result<(), String> {
        for effect in effects {
            match effect {
                Effect::Send { to, msg } => {
                    for p in &to {
                        self.check_message(p, &msg)?;
                        if let Some(conn) = self
                            .clients
                            .iter_mut()
                            .filter_map(|c| c.conn.as_mut())
                            .find(|c| &c.participant == p)
                        {
                            conn.outbox.push_back(msg.clone());
                        }
                    }
                }
                Effect::Resync { to } => {
                    self.stats.resyncs += to.len() as u64;
                    for p in &to {
                        self.told.remove(p);
                        for c in &mut self.clients {
                            if c.participant() == Some(p.as_str()) {
                                c.conn = None;
                            }
                        }
                        if self.hostile.as_deref() == Some(p.as_str()) {
                            self.hostile = None;
                        }
                    }
                }
                Effect::Publish(_) => {}
            }
        }
        Ok(())
    }

    fn check_message(&mut self, p: &str, msg: &ServerMessage) -> Result<(), String> {
        let told = self.told.get(p).copied();
        let (revision, new) = match msg {
            ServerMessage::Opened { revision, .. } => {
                self.told.insert(p.to_owned(), *revision);
                return Ok(());
            }
            ServerMessage::Ack { revision, seq, .. } => {
                let logged = self.store.log.get((*revision as usize).wrapping_sub(1));
                if logged.is_none_or(|e| e.client_seq != *seq) {
                    return Err(format!("ack of seq {seq} as revision {revision} to {p}, which the store does not hold"));
                }
                (*revision, told.is_some_and(|t| *revision > t))
            }
            ServerMessage::Remote { revision, op, .. } => {
                let logged = self.store.log.get((*revision as usize).wrapping_sub(1));
                if !logged.is_some_and(|e| &e.operation == op) {
                    return Err(format!(
                        "revision {revision} sent to {p}, which the store does not hold"
                    ));
                }
                (*revision, true)
            }
            _ => return Ok(()),
        };
        let Some(told) = told else {
            return Err(format!("revision {revision} sent to {p} before it opened"));
        };
        if new {
            if revision != told + 1 {
                return Err(format!("{p} told of revision {revision} after {told}"));
            }
            self.told.insert(p.to_owned(), revision);
        }
        Ok(())
    }

    /// The owner's turn: go on with a stalled commit, or take the next command.
    fn relay(&mut self, r: u64) -> Result<(), String> {
        if let Some(stalled) = &mut self.stalled {
            if stalled.steps > 0 && self.faults {
                stalled.steps -= 1;
                return Ok(());
            }
            let request = self.stalled.take().map(|s| s.request).expect("stalled");
            let outcome = self.append(request, r, false);
            self.settle(outcome, r)?;
            return self.drain_batches(r);
        }
        let Some(cmd) = self.inbox.pop_front() else {
            return Ok(());
        };
        let mut fx = Vec::new();
        match cmd {
            Cmd::Open {
                conn,
                participant,
                client_id,
                revision,
            } => {
                // The requester gave up (its connection is gone): no ghost subscriber.
                let live = self
                    .clients
                    .iter()
                    .any(|c| c.conn.as_ref().is_some_and(|c| c.id == conn))
                    || self.hostile.as_deref() == Some(participant.as_str());
                if !live {
                    return Ok(());
                }
                if self.core.behind(revision) {
                    self.catch_up(r)?;
                }
                let since = self.core.catch_up_since(revision);
                let logged = since.map(|s| self.store.since(s)).unwrap_or_default();
                let name = participant.clone();
                if let Err(e) =
                    self.core
                        .subscribe(&participant, &client_id, &name, since, logged, &mut fx)
                {
                    return Err(format!("open refused: {e:?}"));
                }
            }
            Cmd::Close { participant } => {
                self.told.remove(&participant);
                self.core.unsubscribe(&participant, &mut fx);
            }
            Cmd::Submit(first) => {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match self.inbox.front() {
                        Some(Cmd::Submit(_)) => {
                            if let Some(Cmd::Submit(s)) = self.inbox.pop_front() {
                                batch.push(s);
                            }
                        }
                        _ => break,
                    }
                }
                let lookups = self
                    .core
                    .lookups_needed(&batch)
                    .into_iter()
                    .map(|(client, seq)| {
                        let found = if self.faults && chance(r, 3, 20) {
                            Err("the log could not be read".to_owned())
                        } else {
                            Ok(self.store.find(&client, seq))
                        };
                        ((client, seq), found)
                    })
                    .collect();
                self.core.submit(batch, lookups);
                return self.drain_batches(r);
            }
            Cmd::Replicated(entries) => {
                if entries
                    .first()
                    .is_some_and(|e| Some(e.revision) > self.core.revision().map(|r| r + 1))
                {
                    self.catch_up(r)?;
                } else if self.core.apply_log(&entries, &mut fx).is_err() {
                    self.perform(std::mem::take(&mut fx))?;
                    self.catch_up(r)?;
                }
            }
            Cmd::CatchUp => self.catch_up(r)?,
        }
        self.perform(fx)
    }

    /// The owner's commit loop (`Owner::submit`): sequence, append, settle, until the
    /// core has nothing left or a commit stalls.
    fn drain_batches(&mut self, r: u64) -> Result<(), String> {
        let mut r = r;
        loop {
            let mut fx = Vec::new();
            let request = self.core.next_commit(self.now, &mut fx);
            self.perform(fx)?;
            let Some(request) = request else { break };
            r = mix(r);
            if self.faults && !self.locked && chance(r, 1, 12) {
                self.stats.stalls += 1;
                self.stalled = Some(Stalled {
                    request,
                    steps: (r >> 40) as u8 % 6,
                });
                return Ok(());
            }
            let outcome = self.append(request, r, self.locked);
            self.locked = false;
            self.settle(outcome, r)?;
        }
        if let Some((_, text, revision)) = self.core.snapshot_due(8) {
            if !(self.faults && chance(r, 1, 10)) {
                self.store.write_snapshot(text, revision);
                self.core.snapshot_written(revision);
            }
        }
        Ok(())
    }

    /// The store's answer to an append: the checks it makes, then a fault or success.
    fn append(&mut self, request: CommitRequest, r: u64, locked: bool) -> CommitOutcome {
        if let Err(refused) = self.store.check(&request) {
            return refused;
        }
        if !self.faults || locked {
            self.store.append(&request.ops);
            return CommitOutcome::Committed;
        }
        match (r >> 8) % 100 {
            0..=7 => CommitOutcome::FailedBeforeCommit(Failure::Unavailable(
                "connection refused".to_owned(),
            )),
            8..=15 => {
                self.store.append(&request.ops);
                CommitOutcome::OutcomeUnknown("connection reset during COMMIT".to_owned())
            }
            16..=21 => CommitOutcome::OutcomeUnknown("connection reset before COMMIT".to_owned()),
            _ => {
                self.store.append(&request.ops);
                CommitOutcome::Committed
            }
        }
    }

    fn settle(&mut self, outcome: CommitOutcome, r: u64) -> Result<(), String> {
        match &outcome {
            CommitOutcome::Committed => {}
            CommitOutcome::OutcomeUnknown(_) => self.stats.unknown += 1,
            CommitOutcome::FailedBeforeCommit(Failure::Conflict) => self.stats.races += 1,
            CommitOutcome::FailedBeforeCommit(Failure::Rejected(_)) => self.stats.refused += 1,
            CommitOutcome::FailedBeforeCommit(Failure::Unavailable(_)) => self.stats.failed += 1,
        }
        let mut fx = Vec::new();
        let next = self.core.outcome(outcome, &mut fx);
        self.perform(fx)?;
        match next {
            Next::Done => Ok(()),
            Next::Race => {
                // Take the append lock, read what was missed, sequence again on top.
                let mut fx = Vec::new();
                let since = self.core.revision().unwrap_or(0);
                let applied = self.core.apply_log(&self.store.since(since), &mut fx);
                self.perform(fx)?;
                if applied.is_err() {
                    return self.lost_track();
                }
                self.locked = true;
                Ok(())
            }
            Next::Resolve { since } => {
                let mut r = r;
                for _ in 0..RESOLVE_ATTEMPTS {
                    r = mix(r);
                    if self.faults && chance(r, 1, 3) {
                        continue;
                    }
                    let mut fx = Vec::new();
                    let resolved = self.core.resolve(self.store.since(since), &mut fx);
                    self.perform(fx)?;
                    return if resolved.is_err() {
                        self.lost_track()
                    } else {
                        Ok(())
                    };
                }
                self.lost_track()
            }
        }
    }

    fn catch_up(&mut self, r: u64) -> Result<(), String> {
        if self.faults && chance(mix(r), 1, 10) {
            return self.lost_track();
        }
        let mut fx = Vec::new();
        let since = self.core.revision().unwrap_or(0);
        let applied = self.core.apply_log(&self.store.since(since), &mut fx);
        self.perform(fx)?;
        if applied.is_err() {
            return self.lost_track();
        }
        Ok(())
    }

    fn lost_track(&mut self) -> Result<(), String> {
        let mut fx = Vec::new();
        self.core.lost_track(&mut fx);
        self.perform(fx)?;
        self.locked = false;
        let loaded = self.store.load();
        self.core.load(Some(loaded)).map_err(|e| e.to_string())
    }

    /// The relay process dies: a stalled commit lands or not, every connection drops,
    /// and a fresh core loads the store.
    fn crash(&mut self, r: u64) {
        self.stats.crashes += 1;
        if let Some(stalled) = self.stalled.take() {
            if r.is_multiple_of(2) && self.store.check(&stalled.request).is_ok() {
                self.store.append(&stalled.request.ops);
            }
        }
        self.inbox.clear();
        self.told.clear();
        self.locked = false;
        self.hostile = None;
        for c in &mut self.clients {
            c.conn = None;
        }
        self.load();
    }

    /// Another relay commits a token to the log, and announces it (or not).
    fn foreign(&mut self, r: u64) {
        if self.locked || (self.stalled.is_some() && r.is_multiple_of(2)) {
            return;
        }
        self.foreign_seq += 1;
        let token = format!("<f.{}>", self.foreign_seq);
        let entry = LogEntry {
            revision: self.store.revision() + 1,
            author: "remote".to_owned(),
            client_id: "f".to_owned(),
            client_seq: self.foreign_seq,
            operation: insert_at_boundary(&self.store.text, r, &token),
            committed_at_ms: self.now,
            participant_id: "remote".to_owned(),
        };
        self.store.append_foreign(entry.clone());
        match (r >> 20) % 4 {
            0 | 1 => self.inbox.push_back(Cmd::Replicated(vec![entry])),
            2 => self.inbox.push_back(Cmd::CatchUp),
            _ => {} // The notification was lost.
        }
    }

    /// A member sends what no honest client would.
    fn hostile(&mut self, r: u64) {
        let Some(participant) = self.hostile.clone() else {
            self.next_conn += 1;
            let participant = format!("h.{}", self.next_conn);
            self.hostile = Some(participant.clone());
            self.told.remove(&participant);
            self.inbox.push_back(Cmd::Open {
                conn: 0,
                participant,
                client_id: "h".to_owned(),
                revision: None,
            });
            return;
        };
        self.hostile_seq += 1;
        let base = self.store.revision();
        let token = format!("<h.{}>", self.hostile_seq);
        let valid = insert_at_boundary(&self.store.text, r, &token);
        let mut submit = SubmitCommand {
            participant_id: participant,
            client_id: "h".to_owned(),
            seq: self.hostile_seq,
            base,
            op: valid,
        };
        match (r >> 16) % 6 {
            0 => submit.seq = u64::MAX - (r % 3),
            1 => submit.base = base + 1 + r % 1000,
            2 => {
                submit.op = Operation::new()
                    .retain(self.store.text.chars().count() + 1)
                    .insert("<h.bad>")
            }
            3 => {
                let poison = format!("<h{POISON}{}>", self.hostile_seq);
                submit.op = insert_at_boundary(&self.store.text, r, &poison);
            }
            4 => {
                // The same (client id, seq) twice in a row.
                self.inbox.push_back(Cmd::Submit(submit.clone()));
            }
            _ => {}
        }
        self.inbox.push_back(Cmd::Submit(submit));
    }

    /// Every token is in the store at most once, and the store's text is made of tokens.
    fn check_exactly_once(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for piece in self.store.text.split_inclusive('>') {
            if !piece.starts_with('<') || piece[1..].contains('<') {
                return Err(format!("the stored text is torn at {piece:?}"));
            }
            if piece.contains(POISON) {
                return Err(format!("a refused value was stored: {piece:?}"));
            }
            if !seen.insert(piece) {
                return Err(format!("{piece} is stored twice"));
            }
        }
        Ok(())
    }

    /// After the run drained: every client holds the stored text, and everything
    /// acknowledged is in it.
    pub fn check_converged(&self) -> Result<(), String> {
        let stored = &self.store.text;
        if self.core.text().map(|t| t.to_string()).as_ref() != Some(stored) {
            return Err("the relay's text differs from the store's".to_owned());
        }
        let held = tokens(stored);
        for c in &self.clients {
            if &c.text != stored {
                return Err(format!(
                    "{} holds {:?}, the store {:?}",
                    c.client_id, c.text, stored
                ));
            }
            if let Some(missing) = c.acked.iter().find(|t| !held.contains(t)) {
                return Err(format!(
                    "{missing} was acknowledged to {} but is not stored",
                    c.client_id
                ));
            }
        }
        let subscribed = self
            .clients
            .iter()
            .filter(|c| c.participant().is_some_and(|p| self.core.is_subscribed(p)))
            .count()
            + usize::from(
                self.hostile
                    .as_deref()
                    .is_some_and(|p| self.core.is_subscribed(p)),
            );
        let total = self.core.subscriber_count();
        if subscribed != total {
            return Err(format!(
                "{total} subscribers for {subscribed} connections: a ghost subscriber"
            ));
        }
        Ok(())
    }
}

fn new_core(fault: Fault) -> DocCore {
    let mut core = DocCore::new(CoreConfig {
        room: "room".to_owned(),
        path: "sim.txt".to_owned(),
        max_document_bytes: 1 << 20,
        history: 64,
        max_catch_up: 5_000,
        relay_id: Some("sim".to_owned()),
    });
    core.fault = fault;
    core
}

/// SplitMix64: the next random number from `x`.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// True `n` times in `d`, decided by `r`.
fn chance(r: u64, n: u64, d: u64) -> bool {
    (r >> 32) % d < n
}
