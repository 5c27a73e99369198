//! Scenario `throughput`: R rooms × 2 clients, every client typing as fast as the ot.js
//! protocol lets it (one operation in flight, the rest composed into a buffer) for D
//! seconds. Committed operations are counted from acks; the relay's own counter is read
//! from /metrics as a cross-check.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use tokio::task::JoinSet;

use crate::client::{random_keystroke, BenchClient, Event, Rng};
use crate::proc_stats::CpuSnapshot;
use crate::relay_process::RelayProcess;
use crate::report::{quantile, secs, Report};

const PATH: &str = "src/lib.rs";
/// How long the rooms may take to settle after typing stops before the run is failed.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
const COMMITTED: &str = "pairprog_operations_committed_total";
const COMMITS: &str = "pairprog_commit_duration_seconds_count";
const COMMIT_SECONDS: &str = "pairprog_commit_duration_seconds_sum";

/// One typing client and what its keystrokes are doing.
struct Typist {
    client: BenchClient,
    rng: Rng,
    /// Keystrokes composed into the operation in flight, and into the buffer.
    in_flight_keys: u64,
    buffered_keys: u64,
    sent_at: Instant,
}

#[derive(Default)]
struct RoomStats {
    acks: u64,
    keystrokes: u64,
    /// Send → ack times of the operations acknowledged during the typing window, in µs.
    ack_rtts: Vec<u32>,
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
                    stats.acks += 1;
                    stats.keystrokes += self.in_flight_keys;
                    stats
                        .ack_rtts
                        .push(self.sent_at.elapsed().as_micros().min(u32::MAX as u128) as u32);
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
    loop {
        let typing = Instant::now() < deadline;
        if !typing && a.settled() && b.settled() && a.revision() == b.revision() {
            break;
        }
        if Instant::now() > drain_deadline {
            bail!("the room did not settle within {DRAIN_LIMIT:?} after typing stopped");
        }
        // Both receives are cancel-safe: an unfinished frame stays in the socket's state.
        let (who, msg) = tokio::select! {
            m = a.client.recv() => (0, m.context("client A")?),
            m = b.client.recv() => (1, m.context("client B")?),
        };
        let typist = if who == 0 { &mut a } else { &mut b };
        let event = typist.client.handle(msg).await?;
        if typist.account(&event, typing, &mut stats) && typing {
            typist.type_one().await?;
        }
    }
    Ok((stats, a.client, b.client))
}

async fn setup_room(relay_ws: String, index: usize) -> anyhow::Result<(BenchClient, BenchClient)> {
    let mut a = BenchClient::join(&relay_ws, &format!("a{index}")).await?;
    let mut b = BenchClient::join(&relay_ws, &format!("b{index}")).await?;
    a.open(PATH, "pub fn f() {}\n").await?;
    b.open(PATH, "pub fn f() {}\n").await?;
    Ok((a, b))
}

pub async fn run(
    relay: &RelayProcess,
    rooms: usize,
    duration: Duration,
    seed: u64,
) -> anyhow::Result<Report> {
    let mut room_ids = Vec::with_capacity(rooms);
    for _ in 0..rooms {
        room_ids.push(relay.create_room().await?);
    }
    let mut setups = JoinSet::new();
    for (i, id) in room_ids.iter().enumerate() {
        setups.spawn(indexed(i, setup_room(relay.ws_url(id), i)));
    }
    let mut pairs: Vec<Option<(BenchClient, BenchClient)>> = (0..rooms).map(|_| None).collect();
    while let Some(joined) = setups.join_next().await {
        let (i, pair) = joined.context("a room setup task panicked")?;
        pairs[i] = Some(pair.with_context(|| format!("setting up room {i}"))?);
    }

    let committed_before = relay.metric(COMMITTED).await?;
    let commits_before = relay.metric(COMMITS).await?;
    let commit_secs_before = relay.metric(COMMIT_SECONDS).await?;
    let cpu_before = CpuSnapshot::take(relay.pid)?;
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
        };
        let (a, b) = (typist(a, 2 * i as u64), typist(b, 2 * i as u64 + 1));
        tasks.spawn(indexed(i, drive_room(a, b, deadline)));
    }
    tokio::time::sleep_until(deadline.into()).await;
    let committed_after = relay.metric(COMMITTED).await?;
    let commits = relay.metric(COMMITS).await? - commits_before;
    let commit_secs = relay.metric(COMMIT_SECONDS).await? - commit_secs_before;
    let cpu = CpuSnapshot::take(relay.pid)?.since(&cpu_before);
    let window = start.elapsed();

    let mut totals = RoomStats::default();
    let mut failures = Vec::new();
    let mut finished = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, result) = done.context("a room task panicked")?;
        match result {
            Ok((stats, a, b)) => {
                totals.acks += stats.acks;
                totals.keystrokes += stats.keystrokes;
                totals.ack_rtts.extend(stats.ack_rtts);
                finished.push((i, a, b));
            }
            Err(e) => failures.push(format!("room {i}: {e:#}")),
        }
    }

    // Convergence: both clients and the relay's copy hold the same text.
    let mut diverged = Vec::new();
    for (i, a, b) in finished {
        let (text, revision) = relay.document(&room_ids[i], PATH).await?;
        let (ta, tb) = (a.doc().text.to_string(), b.doc().text.to_string());
        if ta != tb || ta != text || revision != a.doc().ot.revision() {
            diverged.push(i);
        }
        a.close().await;
        b.close().await;
    }

    let secs_f = window.as_secs_f64();
    totals.ack_rtts.sort_unstable();
    let rtts: Vec<u64> = totals.ack_rtts.iter().map(|v| u64::from(*v)).collect();
    let metric_delta = committed_after - committed_before;
    let mut r = Report::new(
        "throughput",
        format!(
            "Throughput, {rooms} rooms × 2 typing clients, {} s",
            duration.as_secs()
        ),
    );
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
    r.row(
        "relay pairprog_operations_committed_total delta /s",
        format!("{:.0}", metric_delta / secs_f),
        (metric_delta / secs_f).round(),
    );
    r.row(
        "relay commits (transactions)/s",
        format!("{:.0}", commits / secs_f),
        (commits / secs_f).round(),
    );
    let per_commit = metric_delta / commits.max(1.0);
    r.row("ops per commit", format!("{per_commit:.2}"), per_commit);
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
    let cores = |d: Duration| d.as_secs_f64() / secs_f;
    r.row(
        "relay CPU",
        format!("{} ({:.2} cores)", secs(cpu.relay), cores(cpu.relay)),
        cpu.relay.as_secs_f64(),
    );
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
