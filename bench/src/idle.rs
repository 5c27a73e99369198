//! Scenario `idle`: C connections that joined a room and opened its document, then sit
//! idle. The relay's resident memory (VmRSS) is read before and after; the difference per
//! connection is what an idle participant costs the relay.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::client::BenchClient;
use crate::proc_stats::rss_kib;
use crate::relay_process::RelayProcess;
use crate::report::Report;

const PATH: &str = "notes.md";
/// Handshakes in progress at once, on top of the connect rate.
const MAX_PENDING: usize = 256;
/// Time given to the relay after the last connection, so join broadcasts are delivered
/// and freed before RSS is read.
const SETTLE: Duration = Duration::from_secs(3);

pub struct IdleParams {
    pub connections: usize,
    pub rooms: usize,
    pub connect_rate: u32,
    pub nofile: String,
}

pub async fn run(relay: &RelayProcess, p: &IdleParams) -> anyhow::Result<Report> {
    let mut room_ids = Vec::with_capacity(p.rooms);
    for _ in 0..p.rooms.max(1) {
        room_ids.push(relay.create_room().await?);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = rss_kib(relay.pid)?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::channel::<anyhow::Result<()>>(1024);
    let dropped = Arc::new(AtomicU64::new(0));
    let pending = Arc::new(Semaphore::new(MAX_PENDING));
    let mut interval = tokio::time::interval(Duration::from_secs_f64(
        1.0 / f64::from(p.connect_rate.max(1)),
    ));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    // Connect phase: bounded by the connection count, and by the time the rate implies
    // plus a margin (a stalled relay fails the run instead of hanging it).
    let connect_limit =
        Duration::from_secs_f64(p.connections as f64 / f64::from(p.connect_rate.max(1)))
            + Duration::from_secs(120);
    let mut tasks = Vec::with_capacity(p.connections);
    for i in 0..p.connections {
        interval.tick().await;
        let url = relay.ws_url(&room_ids[i % room_ids.len()]);
        let permit = pending
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        let ready = ready_tx.clone();
        let mut shutdown = shutdown_rx.clone();
        let dropped = dropped.clone();
        tasks.push(tokio::spawn(async move {
            let joined = async {
                let mut c = BenchClient::join(&url, &format!("idle{i}")).await?;
                c.open(PATH, "# notes\n").await?;
                anyhow::Ok(c)
            }
            .await;
            drop(permit);
            let mut client = match joined {
                Ok(c) => {
                    let _ = ready.send(Ok(())).await;
                    c
                }
                Err(e) => {
                    let _ = ready.send(Err(e)).await;
                    return;
                }
            };
            drop(ready);
            // Idle: drain whatever the relay sends (others' joins) until told to stop.
            loop {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    open = client.discard_one() => if !open {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    },
                }
            }
            client.close().await;
        }));
        if started.elapsed() > connect_limit {
            bail!("connecting stalled: {i} connections after {connect_limit:?}");
        }
    }
    drop(ready_tx);
    let mut ok = 0usize;
    let mut errors = Vec::new();
    while ok + errors.len() < p.connections {
        match tokio::time::timeout(Duration::from_secs(60), ready_rx.recv()).await {
            Ok(Some(Ok(()))) => ok += 1,
            Ok(Some(Err(e))) => errors.push(format!("{e:#}")),
            Ok(None) => break,
            Err(_) => bail!("handshakes stalled at {ok} of {}", p.connections),
        }
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let rss_after = rss_kib(relay.pid)?;
    let relay_connections = relay.metric("pairprog_connections").await?;
    let dropped_while_idle = dropped.load(Ordering::Relaxed);

    let _ = shutdown_tx.send(true);
    let close_deadline = Instant::now() + Duration::from_secs(60);
    for t in tasks {
        let left = close_deadline.saturating_duration_since(Instant::now());
        let _ = tokio::time::timeout(left, t).await;
    }

    let per_conn = (rss_after.saturating_sub(rss_before)) as f64 / ok.max(1) as f64;
    let mut r = Report::new(
        "idle",
        format!(
            "Memory of {} idle connections over {} rooms",
            p.connections,
            room_ids.len()
        ),
    );
    r.row("connections established", ok.to_string(), ok);
    r.row(
        "relay's pairprog_connections gauge",
        format!("{relay_connections}"),
        relay_connections,
    );
    r.row("relay RSS before", format!("{rss_before} KiB"), rss_before);
    r.row(
        "relay RSS with the connections",
        format!("{rss_after} KiB"),
        rss_after,
    );
    r.row(
        "KiB per connection",
        format!("{per_conn:.1}"),
        (per_conn * 10.0).round() / 10.0,
    );
    r.row(
        "connect phase",
        format!("{:.1} s", connect_time.as_secs_f64()),
        connect_time.as_secs_f64(),
    );
    r.row(
        "connections dropped while idle",
        dropped_while_idle.to_string(),
        dropped_while_idle,
    );
    r.row(
        "RLIMIT_NOFILE (bench and relay)",
        p.nofile.clone(),
        p.nofile.clone(),
    );
    r.note(format!(
        "Each connection says hello, opens the room's one document and then only reads; connects are paced \
         at {}/s with at most {MAX_PENDING} handshakes in progress; RSS (VmRSS) is read {} s after the last one. \
         Kernel socket buffers are not part of RSS. Target: ≤ 20 KiB per connection.",
        p.connect_rate,
        SETTLE.as_secs()
    ));
    if !errors.is_empty() {
        r.note(format!(
            "{} connections failed; first: {}",
            errors.len(),
            errors[0]
        ));
    }
    Ok(r)
}
