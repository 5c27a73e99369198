//! Scenario `latency`: two clients in one room; A types one keystroke at a time and the
//! next waits until B has received the previous one, so every sample is the unloaded
//! edit → remote-receipt time (send, relay transform, durable commit, broadcast, receive).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::client::{random_keystroke, BenchClient, Event, Rng};
use crate::proc_stats::CpuSnapshot;
use crate::relay_process::RelayProcess;
use crate::report::{quantile, secs, Report};

/// Keystrokes typed first and not counted: connection pools, caches and the document
/// owner warm up.
const WARMUP: usize = 100;
/// The whole run stops after this long whatever the keystroke count.
const TIME_LIMIT: Duration = Duration::from_secs(300);

pub async fn run(relay: &RelayProcess, keystrokes: usize, seed: u64) -> anyhow::Result<Report> {
    let room = relay.create_room().await?;
    let url = relay.ws_url(&room);
    let mut a = BenchClient::join(&url, "typist").await?;
    let mut b = BenchClient::join(&url, "watcher").await?;
    a.open("src/main.rs", "fn main() {}\n").await?;
    b.open("src/main.rs", "fn main() {}\n").await?;
    let mut rng = Rng::new(seed);
    let mut samples = Vec::with_capacity(keystrokes);
    let started = Instant::now();
    let mut cpu_before = None;
    for i in 0..WARMUP + keystrokes {
        if started.elapsed() > TIME_LIMIT {
            bail!(
                "stopped after {TIME_LIMIT:?} with {} samples",
                samples.len()
            );
        }
        if i == WARMUP {
            cpu_before = Some(CpuSnapshot::take(relay.pid)?);
        }
        let expected = a.doc().ot.revision() + 1;
        let op = random_keystroke(&mut rng, a.doc().text.len_chars());
        let sent_at = Instant::now();
        if !a.edit(op).await? {
            bail!("the typist had an operation in flight; the closed loop broke");
        }
        // B's receipt is the measurement, so B is read first; A's ack waits in its socket.
        loop {
            match b.step().await.context("watcher")? {
                Event::Remote { revision } if revision == expected => break,
                Event::Remote { revision } => {
                    bail!("watcher got revision {revision}, expected {expected}")
                }
                _ => {}
            }
        }
        let took = sent_at.elapsed();
        loop {
            if let Event::Ack { .. } = a.step().await.context("typist")? {
                break;
            }
        }
        if i >= WARMUP {
            samples.push(took.as_micros() as u64);
        }
    }
    let elapsed = started.elapsed();
    let cpu = CpuSnapshot::take(relay.pid)?.since(&cpu_before.expect("set after warm-up"));
    if a.doc().text != b.doc().text {
        bail!("the two clients' texts differ after the run");
    }
    let (relay_text, relay_rev) = relay.document(&room, "src/main.rs").await?;
    if a.doc().text != relay_text.as_str() || relay_rev != a.doc().ot.revision() {
        bail!("the relay's document differs from the clients' after the run");
    }
    a.close().await;
    b.close().await;

    samples.sort_unstable();
    let mean = samples.iter().sum::<u64>() as f64 / samples.len().max(1) as f64;
    let mut r = Report::new(
        "latency",
        "Edit → remote receipt latency, 2 clients, 1 room",
    );
    r.row(
        "keystrokes measured",
        samples.len().to_string(),
        samples.len(),
    );
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
        let v = quantile(&samples, q);
        r.row(&format!("{name} (µs)"), v.to_string(), v);
    }
    let max = samples.last().copied().unwrap_or(0);
    r.row("max (µs)", max.to_string(), max);
    r.row("mean (µs)", format!("{mean:.0}"), mean.round());
    r.row(
        "relay CPU per keystroke (µs)",
        format!(
            "{:.0}",
            cpu.relay.as_micros() as f64 / samples.len().max(1) as f64
        ),
        cpu.relay.as_micros() as f64 / samples.len().max(1) as f64,
    );
    r.row(
        "PostgreSQL CPU per keystroke (µs)",
        format!(
            "{:.0}",
            cpu.postgres.as_micros() as f64 / samples.len().max(1) as f64
        ),
        cpu.postgres.as_micros() as f64 / samples.len().max(1) as f64,
    );
    r.row("run time", secs(elapsed), elapsed.as_secs_f64());
    r.note(format!(
        "Closed loop: A sends one keystroke (a random one-char insert or backspace at a random position), \
         the sample is the time until B has read the `remote`, then A reads its `ack` and types the next. \
         The first {WARMUP} keystrokes are warm-up and not counted. Target: p50 ≤ 1,000 µs, p99 ≤ 5,000 µs."
    ));
    r.note("The relay's and B's text are checked equal to A's at the end.");
    Ok(r)
}
