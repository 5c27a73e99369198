//! The simulated world: the real [`DocCore`], driven the way the owner task drives it
//! (`owner.rs`), a simulated store, clients, another relay writing to the same log, and a
//! hostile member. Every step is one [`Event`]; each event carries its own random number,
//! so a schedule replays bit for bit and can be shrunk by dropping events.

use std::collections::{BTreeMap, VecDeque};

use super::client::{Reaction, SimClient};
use super::store::SimStore;
use crate::document::core::Fault;
use crate::document::{
    CommitOutcome, CommitRequest, CoreConfig, DocCore, Effect, LogEntry, SubmitCommand,
};

const MAX_BATCH: usize = 512;

/// A batch handed to the committer that has not been answered yet.
pub(super) struct Handed {
    pub(super) request: CommitRequest,
    /// Turns its answer is held back (a slow commit).
    pub(super) steps: u8,
    /// Decided already, because an earlier batch did not commit: answered with this
    /// without touching the store (written already if it shared an unknown outcome).
    pub(super) fate: Option<CommitOutcome>,
}

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
    /// The committer answers the oldest batch in flight, or the owner takes its next
    /// command while batches commit (a stalled commit holds its answer a few turns).
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

pub(super) enum Cmd {
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
    /// Batches handed to the store while an earlier one was still in flight.
    pub pipelined: u64,
    /// Answers for batches taken back because an earlier one did not commit.
    pub taken_back: u64,
    /// Batches taken back that were written after all, in the statement of an earlier
    /// batch whose outcome was unknown (settled from the log).
    pub shared_unknown: u64,
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
        self.pipelined += o.pipelined;
        self.taken_back += o.taken_back;
        self.shared_unknown += o.shared_unknown;
    }
}

pub struct World {
    pub(super) core: DocCore,
    pub(super) fault: Fault,
    pub store: SimStore,
    pub clients: Vec<SimClient>,
    /// The hostile member's connection (participant id), if open.
    pub(super) hostile: Option<String>,
    pub(super) hostile_seq: u64,
    pub(super) inbox: VecDeque<Cmd>,
    /// The batches handed to the committer, oldest first, answered in that order.
    pub(super) commits: VecDeque<Handed>,
    /// The store's append lock is held (after a lost race): the other relay waits.
    pub(super) locked: bool,
    pub(super) next_conn: u64,
    pub(super) foreign_seq: u64,
    /// The last revision each subscriber was told of, to check order at emission.
    pub(super) told: BTreeMap<String, u64>,
    pub(super) now: i64,
    /// Whether faults may happen (off while the run drains).
    pub faults: bool,
    pub steps: u64,
    pub(super) stats: Stats,
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
            commits: VecDeque::new(),
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
            && self.commits.is_empty()
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
    pub(super) fn perform(&mut self, effects: Vec<Effect>) -> Result<(), String> {
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

    /// The owner's turn: the oldest commit's answer, or the next command while the
    /// batches in flight commit (as the owner's `select!` picks either).
    fn relay(&mut self, r: u64) -> Result<(), String> {
        if let Some(oldest) = self.commits.front_mut() {
            let stalled = oldest.steps > 0 && self.faults;
            if stalled {
                oldest.steps -= 1;
            }
            if !stalled && (self.inbox.is_empty() || chance(r, 1, 2)) {
                return self.complete(r);
            }
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
                // As the owner: a subscriber starts with nothing in flight.
                self.quiesce(r)?;
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
                return self.pump(r);
            }
            Cmd::Replicated(entries) => {
                self.quiesce(r)?;
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
            Cmd::CatchUp => {
                self.quiesce(r)?;
                self.catch_up(r)?;
            }
        }
        self.perform(fx)
    }

    pub(super) fn catch_up(&mut self, r: u64) -> Result<(), String> {
        if self.faults && chance(mix(r), 1, 10) {
            return self.lost_track();
        }
        self.apply_missed().map(|_| ())
    }

    /// Applies what the log holds past the core's revision, as the owner does after a
    /// lost race or on a catch-up. A log the core cannot apply makes it lose track, and
    /// then the answer is false.
    pub(super) fn apply_missed(&mut self) -> Result<bool, String> {
        let mut fx = Vec::new();
        let since = self.core.revision().unwrap_or(0);
        let applied = self.core.apply_log(&self.store.since(since), &mut fx);
        self.perform(fx)?;
        if applied.is_err() {
            self.lost_track()?;
            return Ok(false);
        }
        Ok(true)
    }

    pub(super) fn lost_track(&mut self) -> Result<(), String> {
        // As the owner: the answers still due are awaited first (and dropped), so the
        // reload sees what those commits wrote.
        let mut r = self.now as u64;
        while !self.commits.is_empty() {
            r = mix(r);
            self.answer_oldest(r);
        }
        let mut fx = Vec::new();
        self.core.lost_track(&mut fx);
        self.perform(fx)?;
        self.locked = false;
        let loaded = self.store.load();
        self.core.load(Some(loaded)).map_err(|e| e.to_string())
    }

    /// The relay process dies: of the commits in flight, some land (oldest first: the
    /// committer writes a document's batches in order), every connection drops, and a
    /// fresh core loads the store.
    fn crash(&mut self, r: u64) {
        self.stats.crashes += 1;
        for (i, handed) in std::mem::take(&mut self.commits).into_iter().enumerate() {
            let lands = (r >> (i % 64)) & 1 == 0;
            if handed.fate.is_some() || !lands || self.store.check(&handed.request).is_err() {
                break;
            }
            self.store.append(&handed.request.ops);
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
pub(super) fn chance(r: u64, n: u64, d: u64) -> bool {
    (r >> 32) % d < n
}
