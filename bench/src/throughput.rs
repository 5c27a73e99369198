//! Scenario `throughput`: R rooms × 2 clients, every client typing as fast as the ot.js
//! protocol lets it (one operation in flight, the rest composed into a buffer) for D
//! seconds. Committed operations are counted from acks; the relays' own counters are read
//! from /metrics as a cross-check.
//!
//! With several relays on one database (`--relays N`), `--placement` decides where the
//! two clients of a room connect: `split` puts them on different relays, so every
//! document is written through two relays that race for its revisions (the worst case);
//! `room` puts both on one relay and spreads the rooms round-robin, as a load balancer
//! with room affinity would.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::ValueEnum;
use tokio::task::JoinSet;

use crate::client::{random_keystroke, BenchClient, Event, Rng};
use crate::proc_stats::CpuSnapshot;
use crate::relay_process::{metric_value, RelayProcess};
use crate::report::{quantile, secs, Report};

const PATH: &str = "src/lib.rs";
/// How long the rooms may take to settle after typing stops before the run is failed.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
const COMMITTED: &str = "pairprog_operations_committed_total";
const COMMITS: &str = "pairprog_commit_duration_seconds_count";
const COMMIT_SECONDS: &str = "pairprog_commit_duration_seconds_sum";
/// Counters only relays that share a database have; read when present.
const REVISION_RACES: &str = "pairprog_revision_races_total";
const BUS_RECEIVED: &str = "pairprog_bus_received_total";
const COMMIT_GROUPS: &str = "pairprog_commit_groups_total";

/// Where the two clients of a room connect when several relays run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Placement {
    /// The two clients of a room on different relays: every document is written through
    /// two relays.
    #[default]
    Split,
    /// Both clients of a room on one relay, rooms spread round-robin over the relays.
    Room,
}

impl Placement {
    /// The relays (indexes) that the two clients of room `room` connect to.
    fn relays_of(self, room: usize, relays: usize) -> (usize, usize) {
        match self {
            Placement::Split => (room % relays, (room + 1) % relays),
            Placement::Room => (room % relays, room % relays),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Placement::Split => "split",
            Placement::Room => "room",
        }
    }
}

/// One typing client and what its keystrokes are doing.
struct Typist {
    client: BenchClient,
    rng: Rng,
    /// Keystrokes composed into the operation in flight, and into the buffer.
    in_flight_keys: u64,
    buffered_keys: u64,
    sent_at: Instant,
    /// Acks received during the typing window.
    acks: u64,
}

#[derive(Default)]
struct RoomStats {
    acks: u64,
    /// The acks of client A and of client B (each connected to its own relay).
    acks_by_client: [u64; 2],
    keystrokes: u64,
    /// Send → ack times of the operations acknowledged during the typing window, in µs.
    ack_rtts: Vec<u32>,
    /// How long the operations still unacknowledged when typing stopped had waited, in
    /// µs. The ack times above leave them out, so a client the relays starve would
    /// otherwise not show in the latency at all.
    unacked_at_end: Vec<u32>,
    /// Clients that received no ack during the whole window.
    silent_clients: u64,
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

impl Typist {
    /// Types one keystroke; it goes out now or joins the buffer.
    async fn type_one(&mut self) -> anyhow::Result<()> {
        let op = random_keystroke(&mut self.rng, self.client.doc().text.len_chars());
        if self.client.edit(op).await? {
            self.in_flight_keys = 1;
            self.sent_at = Instant::now();
        } else {
            self.buffered_keys += 1;
        }
        Ok(())
    }

    /// Accounts for one handled message; returns whether it was an ack or a remote (the
    /// events a typist answers with its next keystroke).
    fn account(&mut self, event: &Event, typing: bool, stats: &mut RoomStats) -> bool {
        match event {
            Event::Ack { sent, .. } => {
                if typing {
                    self.acks += 1;
                    stats.acks += 1;
                    stats.keystrokes += self.in_flight_keys;
                    stats.ack_rtts.push(micros(self.sent_at.elapsed()));
                }
                if *sent {
                    self.in_flight_keys = std::mem::take(&mut self.buffered_keys);
                    self.sent_at = Instant::now();
                } else {
                    self.in_flight_keys = 0;
                }
                true
            }
            Event::Remote { .. } => true,
            Event::Other => false,
        }
    }

    fn settled(&self) -> bool {
        self.client.doc().ot.is_synchronized()
    }

    fn revision(&self) -> u64 {
        self.client.doc().ot.revision()
    }
}

/// Drives both clients of a room until the deadline, then until both are synchronized at
/// the same revision.
async fn drive_room(
    mut a: Typist,
    mut b: Typist,
    deadline: Instant,
) -> anyhow::Result<(RoomStats, BenchClient, BenchClient)> {
    let mut stats = RoomStats::default();
    a.type_one().await?;
    b.type_one().await?;
    let drain_deadline = deadline + DRAIN_LIMIT;
    let mut window_closed = false;
    loop {
        let typing = Instant::now() < deadline;
        if !typing && !window_closed {
            window_closed = true;
            for t in [&a, &b] {
                if !t.settled() {
                    stats.unacked_at_end.push(micros(t.sent_at.elapsed()));
                }
            }
            stats.acks_by_client = [a.acks, b.acks];
            stats.silent_clients = u64::from(a.acks == 0) + u64::from(b.acks == 0);
        }
        if !typing && a.settled() && b.settled() && a.revision() == b.revision() {
            break;
        }
        if Instant::now() > drain_deadline {
            bail!("the room did not settle within {DRAIN_LIMIT:?} after typing stopped");
        }
        // Both receives are cancel-safe: an unfinished frame stays in the socket's state.
        // The timer wakes the loop at the deadline, so what is unacknowledged then is
        // measured then, even in a room where nothing arrives.
        let (who, msg) = tokio::select! {
            m = a.client.recv() => (0, m.context("client A")?),
            m = b.client.recv() => (1, m.context("client B")?),
            () = tokio::time::sleep_until(deadline.into()), if typing => continue,
        };
        let typist = if who == 0 { &mut a } else { &mut b };
        let event = typist.client.handle(msg).await?;
        if typist.account(&event, typing, &mut stats) && typing {
            typist.type_one().await?;
        }
    }
    Ok((stats, a.client, b.client))
}

/// Joins the two clients of a room (each through its relay) and opens the document: A
/// creates it, B opens the same path with the same text, as an editor sharing its copy.
async fn setup_room(
    url_a: String,
    url_b: String,
    index: usize,
) -> anyhow::Result<(BenchClient, BenchClient)> {
    let mut a = BenchClient::join(&url_a, &format!("a{index}")).await?;
    let mut b = BenchClient::join(&url_b, &format!("b{index}")).await?;
    a.open(PATH, "pub fn f() {}\n").await?;
    b.open(PATH, "pub fn f() {}\n").await?;
    Ok((a, b))
}

/// One relay's counters from /metrics at one instant.
#[derive(Clone, Copy, Default)]
struct Counters {
    committed: f64,
    commits: f64,
    commit_secs: f64,
    /// None when the relay does not count them (no scale-out support).
    races: Option<f64>,
    bus_received: Option<f64>,
    /// The group committer's statements; None from relays that do not count them.
    groups: Option<f64>,
}

impl Counters {
    async fn read(relay: &RelayProcess) -> anyhow::Result<Self> {
        let text = relay.metrics_text().await?;
        let required = |name: &str| {
            metric_value(&text, name).ok_or_else(|| anyhow!("GET /metrics has no {name}"))
        };
        Ok(Self {
            committed: required(COMMITTED)?,
            commits: required(COMMITS)?,
            commit_secs: required(COMMIT_SECONDS)?,
            races: metric_value(&text, REVISION_RACES),
            bus_received: metric_value(&text, BUS_RECEIVED),
            groups: metric_value(&text, COMMIT_GROUPS),
        })
    }

    async fn read_all(relays: &[RelayProcess]) -> anyhow::Result<Vec<Self>> {
        let mut all = Vec::with_capacity(relays.len());
        for relay in relays {
            all.push(Self::read(relay).await?);
        }
        Ok(all)
    }

    fn since(self, earlier: Self) -> Self {
        let delta = |now: Option<f64>, then: Option<f64>| Some(now? - then?);
        Self {
            committed: self.committed - earlier.committed,
            commits: self.commits - earlier.commits,
            commit_secs: self.commit_secs - earlier.commit_secs,
            races: delta(self.races, earlier.races),
            bus_received: delta(self.bus_received, earlier.bus_received),
            groups: delta(self.groups, earlier.groups),
        }
    }

    fn add(self, other: Self) -> Self {
        let sum = |a: Option<f64>, b: Option<f64>| Some(a? + b?);
        Self {
            committed: self.committed + other.committed,
            commits: self.commits + other.commits,
            commit_secs: self.commit_secs + other.commit_secs,
            races: sum(self.races, other.races),
            bus_received: sum(self.bus_received, other.bus_received),
            groups: sum(self.groups, other.groups),
        }
    }

    /// The identity of `add`: zero, with the optional counters present.
    fn zero() -> Self {
        Self {
            races: Some(0.0),
            bus_received: Some(0.0),
            groups: Some(0.0),
            ..Self::default()
        }
    }
}

pub async fn run(
    relays: &[RelayProcess],
    placement: Placement,
    rooms: usize,
    duration: Duration,
    seed: u64,
) -> anyhow::Result<Report> {
    if relays.is_empty() {
        bail!("the throughput scenario needs at least one relay");
    }
    let n = relays.len();
    let mut room_ids = Vec::with_capacity(rooms);
    for i in 0..rooms {
        // A room is created through the relay its first client uses; with several relays
        // the others learn of it from the database.
        let (ra, _) = placement.relays_of(i, n);
        room_ids.push(relays[ra].create_room().await?);
    }
    let mut setups = JoinSet::new();
    for (i, id) in room_ids.iter().enumerate() {
        let (ra, rb) = placement.relays_of(i, n);
        setups.spawn(indexed(
            i,
            setup_room(relays[ra].ws_url(id), relays[rb].ws_url(id), i),
        ));
    }
    let mut pairs: Vec<Option<(BenchClient, BenchClient)>> = (0..rooms).map(|_| None).collect();
    while let Some(joined) = setups.join_next().await {
        let (i, pair) = joined.context("a room setup task panicked")?;
        pairs[i] = Some(pair.with_context(|| format!("setting up room {i}"))?);
    }

    let pids: Vec<u32> = relays.iter().map(|r| r.pid).collect();
    let counters_before = Counters::read_all(relays).await?;
    let cpu_before = CpuSnapshot::take_all(&pids)?;
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = JoinSet::new();
    for (i, pair) in pairs.into_iter().enumerate() {
        let (a, b) = pair.expect("every room was set up");
        let typist = |client, n: u64| Typist {
            client,
            rng: Rng::new(seed.wrapping_add(n)),
            in_flight_keys: 0,
            buffered_keys: 0,
            sent_at: start,
            acks: 0,
        };
        let (a, b) = (typist(a, 2 * i as u64), typist(b, 2 * i as u64 + 1));
        tasks.spawn(indexed(i, drive_room(a, b, deadline)));
    }
    tokio::time::sleep_until(deadline.into()).await;
    let counters_after = Counters::read_all(relays).await?;
    let cpu = CpuSnapshot::take_all(&pids)?.since(&cpu_before);
    let window = start.elapsed();
    let per_relay: Vec<Counters> = counters_after
        .iter()
        .zip(&counters_before)
        .map(|(after, before)| after.since(*before))
        .collect();
    let total = per_relay
        .iter()
        .fold(Counters::zero(), |sum, c| sum.add(*c));

    let mut totals = RoomStats::default();
    let mut acks_by_relay = vec![0u64; n];
    let mut failures = Vec::new();
    let mut finished = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, result) = done.context("a room task panicked")?;
        match result {
            Ok((stats, a, b)) => {
                totals.acks += stats.acks;
                totals.keystrokes += stats.keystrokes;
                totals.ack_rtts.extend(stats.ack_rtts);
                totals.unacked_at_end.extend(stats.unacked_at_end);
                totals.silent_clients += stats.silent_clients;
                let (ra, rb) = placement.relays_of(i, n);
                acks_by_relay[ra] += stats.acks_by_client[0];
                acks_by_relay[rb] += stats.acks_by_client[1];
                finished.push((i, a, b));
            }
            Err(e) => failures.push(format!("room {i}: {e:#}")),
        }
    }

    // Convergence: both clients and the copy of every relay they use hold the same text.
    // Both clients settled at one revision, and each got it from its own relay, so each
    // of those relays holds it already.
    let mut diverged = Vec::new();
    for (i, a, b) in finished {
        let (ra, rb) = placement.relays_of(i, n);
        let (ta, tb) = (a.doc().text.to_string(), b.doc().text.to_string());
        let mut same = ta == tb && a.doc().ot.revision() == b.doc().ot.revision();
        for r in if ra == rb { vec![ra] } else { vec![ra, rb] } {
            let (text, revision) = relays[r].document(&room_ids[i], PATH).await?;
            same &= text == ta && revision == a.doc().ot.revision();
        }
        if !same {
            diverged.push(i);
        }
        a.close().await;
        b.close().await;
    }

    let secs_f = window.as_secs_f64();
    totals.ack_rtts.sort_unstable();
    let rtts: Vec<u64> = totals.ack_rtts.iter().map(|v| u64::from(*v)).collect();
    let metric_delta = total.committed;
    let commits = total.commits;
    let commit_secs = total.commit_secs;
    let title = if n == 1 {
        format!(
            "Throughput, {rooms} rooms × 2 typing clients, {} s",
            duration.as_secs()
        )
    } else {
        format!(
            "Throughput, {rooms} rooms × 2 typing clients, {n} relays on one database ({} placement), {} s",
            placement.name(),
            duration.as_secs()
        )
    };
    let mut r = Report::new("throughput", title);
    let ops_s = totals.acks as f64 / secs_f;
    let keys_s = totals.keystrokes as f64 / secs_f;
    r.row(
        "committed ops/s (acks)",
        format!("{ops_s:.0}"),
        ops_s.round(),
    );
    r.row(
        "keystrokes/s committed",
        format!("{keys_s:.0}"),
        keys_s.round(),
    );
    r.row(
        "keystrokes per op",
        format!("{:.2}", keys_s / ops_s.max(1e-9)),
        keys_s / ops_s.max(1e-9),
    );
    // With one relay the row keeps its old name, so earlier JSON results still compare.
    let committed_row = if n == 1 {
        "relay pairprog_operations_committed_total delta /s".to_owned()
    } else {
        format!("relays pairprog_operations_committed_total delta /s (sum of {n})")
    };
    r.row(
        &committed_row,
        format!("{:.0}", metric_delta / secs_f),
        (metric_delta / secs_f).round(),
    );
    if n > 1 {
        for (i, c) in per_relay.iter().enumerate() {
            r.row(
                &format!("relay {i} committed delta /s"),
                format!("{:.0}", c.committed / secs_f),
                (c.committed / secs_f).round(),
            );
        }
    }
    r.row(
        "relay commits (transactions)/s",
        format!("{:.0}", commits / secs_f),
        (commits / secs_f).round(),
    );
    if n > 1 {
        if let Some(races) = total.races {
            r.row(
                "revision races /s (batches another relay beat, sum)",
                format!("{:.0}", races / secs_f),
                (races / secs_f).round(),
            );
        }
        if let Some(received) = total.bus_received {
            r.row(
                "messages from other relays /s (sum)",
                format!("{:.0}", received / secs_f),
                (received / secs_f).round(),
            );
        }
    }
    let per_commit = metric_delta / commits.max(1.0);
    r.row("ops per commit", format!("{per_commit:.2}"), per_commit);
    if let Some(groups) = total.groups {
        r.row(
            "group commits (database transactions)/s",
            format!("{:.0}", groups / secs_f),
            (groups / secs_f).round(),
        );
        let per_group = metric_delta / groups.max(1.0);
        r.row(
            "ops per database transaction (group commit)",
            format!("{per_group:.1}"),
            per_group,
        );
    }
    let mean_commit_ms = 1000.0 * commit_secs / commits.max(1.0);
    r.row(
        "mean commit time (ms)",
        format!("{mean_commit_ms:.2}"),
        mean_commit_ms,
    );
    r.row("acks counted", totals.acks.to_string(), totals.acks);
    r.row(
        "ack round trip p50 (µs)",
        quantile(&rtts, 0.5).to_string(),
        quantile(&rtts, 0.5),
    );
    r.row(
        "ack round trip p99 (µs)",
        quantile(&rtts, 0.99).to_string(),
        quantile(&rtts, 0.99),
    );
    let oldest_unacked = totals.unacked_at_end.iter().max().copied().unwrap_or(0);
    r.row(
        "oldest op unacknowledged when typing stopped (µs)",
        oldest_unacked.to_string(),
        oldest_unacked,
    );
    r.row(
        "clients with no ack in the window",
        format!("{} of {}", totals.silent_clients, 2 * rooms),
        totals.silent_clients,
    );
    if n > 1 {
        for (i, acks) in acks_by_relay.iter().enumerate() {
            let per_s = *acks as f64 / secs_f;
            r.row(
                &format!("acks/s received by relay {i}'s clients"),
                format!("{per_s:.0}"),
                per_s.round(),
            );
        }
    }
    let cores = |d: Duration| d.as_secs_f64() / secs_f;
    let cpu_row = if n == 1 {
        "relay CPU".to_owned()
    } else {
        format!("relay CPU (sum of {n})")
    };
    r.row(
        &cpu_row,
        format!("{} ({:.2} cores)", secs(cpu.relay), cores(cpu.relay)),
        cpu.relay.as_secs_f64(),
    );
    if n > 1 {
        for (i, t) in cpu.relays.iter().enumerate() {
            r.row(
                &format!("relay {i} CPU"),
                format!("{} ({:.2} cores)", secs(*t), cores(*t)),
                t.as_secs_f64(),
            );
        }
    }
    r.row(
        "PostgreSQL CPU",
        format!("{} ({:.2} cores)", secs(cpu.postgres), cores(cpu.postgres)),
        cpu.postgres.as_secs_f64(),
    );
    r.row(
        "bench (clients) CPU",
        format!("{} ({:.2} cores)", secs(cpu.bench), cores(cpu.bench)),
        cpu.bench.as_secs_f64(),
    );
    r.row("measured window", secs(window), secs_f);
    r.row(
        "rooms converged (clients = relay)",
        format!("{}/{rooms}", rooms - failures.len() - diverged.len()),
        rooms - failures.len() - diverged.len(),
    );
    r.note(
        "Each client types one keystroke (a random one-char insert, or a backspace 1 time in 5, at a random \
         position) every time the relay sends it an ack or a remote, so it always has an operation in flight \
         and composes the rest into its buffer (ot.js rules). Ops = acks received in the window; keystrokes = \
         the keystrokes those acked ops carried. Target: ≥ 20,000 committed ops/s.",
    );
    r.note("CPU times are user + system from /proc/<pid>/stat over the window; PostgreSQL sums every `postgres` process.");
    if n > 1 {
        let how = match placement {
            Placement::Split => {
                "split: the two clients of every room connect to different relays (room i to \
                 relays i mod N and i+1 mod N), so every document is written through two \
                 relays that race for its revisions"
            }
            Placement::Room => {
                "room: both clients of a room connect to one relay, rooms round-robin over \
                 the relays (a load balancer with room affinity); no document is written \
                 through two relays"
            }
        };
        r.note(format!(
            "{n} relay processes on one database, placement {how}. Ops/s and latency come from \
             every client's acks; the committed counters and CPU are summed over the relays \
             (each operation is committed by the relay its author is connected to)."
        ));
    }
    for f in failures.iter().take(5) {
        r.note(format!("FAILED {f}"));
    }
    if !diverged.is_empty() {
        r.note(format!(
            "DIVERGED rooms (clients or relay text differ): {diverged:?}"
        ));
    }
    if !failures.is_empty() || !diverged.is_empty() {
        r.note(format!(
            "{} rooms failed, {} diverged",
            failures.len(),
            diverged.len()
        ));
    }
    if totals.acks == 0 {
        return Err(anyhow!("no operation was acknowledged"));
    }
    Ok(r)
}

/// Tags a future's output with an index, so JoinSet results can be matched to rooms.
pub async fn indexed<T>(i: usize, f: impl std::future::Future<Output = T>) -> (usize, T) {
    (i, f.await)
}
