//! `pairprog-bench`: a load tool for `pairprog-relay`. It starts a real relay process on
//! loopback against a fresh database (several for `throughput --relays N`, all on that one
//! database), runs one scenario, prints a markdown table (or JSON) ready for
//! docs/BENCHMARKS.md, and stops the relays.
//!
//! Build the relay first: `cargo build --release -p pairprog-relay`, then
//! `cargo run --release -p pairprog-bench -- latency` (or throughput, idle, wire).

mod client;
mod db;
mod idle;
mod latency;
mod proc_stats;
mod relay_process;
mod report;
mod throughput;
mod wire;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};

use crate::db::BenchDatabase;
use crate::relay_process::RelayProcess;
use crate::report::Report;
use crate::throughput::Placement;

/// The most relays `--relays` starts. Each keeps a pool of up to 10 PostgreSQL
/// connections, so 8 stay below a default server's `max_connections` of 100.
const MAX_RELAYS: usize = 8;

/// Measures pairprog-relay as a process over loopback: edit latency, throughput, memory
/// per idle connection, and bytes on the wire per keystroke.
#[derive(Debug, Parser)]
#[command(name = "pairprog-bench")]
struct Cli {
    /// Which measurement to run.
    #[arg(value_enum)]
    scenario: Scenario,

    /// Database for the relay. For postgres://… a fresh database pairprog_bench_<random> is
    /// created on that server and dropped at the end. Without it: a temporary SQLite file.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,

    /// The pairprog-relay binary. Default: the one next to this executable.
    #[arg(long)]
    relay_bin: Option<PathBuf>,

    /// throughput: seconds of typing.
    #[arg(long, default_value_t = 10)]
    duration: u64,

    /// throughput: rooms (2 typing clients each). idle: rooms the connections spread over.
    #[arg(long)]
    rooms: Option<usize>,

    /// throughput: relay processes started on the one database (PostgreSQL only for more
    /// than one; at most 8).
    #[arg(long, default_value_t = 1)]
    relays: usize,

    /// throughput with several relays: `split` (default) connects the two clients of each
    /// room to different relays, so every document is written through two relays; `room`
    /// connects both to one relay and spreads the rooms round-robin over the relays.
    #[arg(long, value_enum)]
    placement: Option<Placement>,

    /// latency: keystrokes measured (default 2000). wire: trace patches replayed (default 5000).
    #[arg(long)]
    keystrokes: Option<usize>,

    /// idle: connections to open.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,

    /// idle: new connections per second.
    #[arg(long, default_value_t = 2_000)]
    connect_rate: u32,

    /// wire: gzip JSON trace ({"startContent", "txns": [{"patches": [[pos, del, "ins"]]}]}).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/traces/rustcode.json.gz"))]
    trace: PathBuf,

    /// Seed of the random keystrokes, so runs repeat.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Print JSON instead of markdown.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scenario {
    Latency,
    Throughput,
    Idle,
    Wire,
}

/// Raises RLIMIT_NOFILE for this process; the relay child inherits it. Root may also
/// raise the hard limit; otherwise the soft limit goes up to the hard one.
fn raise_nofile(wanted: u64) -> String {
    use rlimit::Resource;
    let (soft, hard) = Resource::NOFILE.get().unwrap_or((0, 0));
    if soft >= wanted {
        return format!("{soft} (already sufficient; hard {hard})");
    }
    if wanted > hard && Resource::NOFILE.set(wanted, wanted).is_ok() {
        return format!("{wanted} (raised from soft {soft}, hard {hard})");
    }
    match rlimit::increase_nofile_limit(wanted) {
        Ok(now) if now > soft => format!("{now} (raised from soft {soft}; hard {hard})"),
        Ok(now) => format!("{now} (the hard limit; raising it was refused)"),
        Err(e) => format!("{soft} (could not raise: {e})"),
    }
}

fn random_tag() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    check_relay_options(&cli)?;
    let nofile = raise_nofile((cli.connections as u64 * 2 + 4096).max(65_536));
    let relay_bin = match &cli.relay_bin {
        Some(p) => p.clone(),
        None => relay_process::default_relay_bin()?,
    };
    let tag = random_tag();
    let work_dir = std::env::temp_dir().join(format!("pairprog-bench-{tag}"));
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let database = BenchDatabase::prepare(cli.database_url.as_deref(), &work_dir, &tag).await?;

    let outcome = run_with_relay(&cli, &relay_bin, &database, &work_dir, nofile).await;
    let cleanup = database.cleanup().await;
    match &outcome {
        // The relay log is kept for inspection when something went wrong.
        Ok(false) => eprintln!("relay log kept in {}", work_dir.display()),
        _ => {
            let _ = std::fs::remove_dir_all(&work_dir);
        }
    }
    outcome?;
    cleanup.context("dropping the bench database")?;
    Ok(())
}

/// Refuses `--relays`/`--placement` where they mean nothing, before anything starts.
fn check_relay_options(cli: &Cli) -> anyhow::Result<()> {
    if !(1..=MAX_RELAYS).contains(&cli.relays) {
        anyhow::bail!("--relays must be between 1 and {MAX_RELAYS}");
    }
    let several = cli.relays > 1 || cli.placement.is_some();
    if several && !matches!(cli.scenario, Scenario::Throughput) {
        anyhow::bail!("--relays and --placement apply to the throughput scenario only");
    }
    let postgres = cli
        .database_url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"));
    if cli.relays > 1 && !postgres {
        anyhow::bail!(
            "several relays share a database only on PostgreSQL: give --database-url postgres://… \
             (or DATABASE_URL)"
        );
    }
    Ok(())
}

/// Runs the scenario against fresh relays; Ok(true) when no relay logged a problem.
async fn run_with_relay(
    cli: &Cli,
    relay_bin: &std::path::Path,
    database: &BenchDatabase,
    work_dir: &std::path::Path,
    nofile: String,
) -> anyhow::Result<bool> {
    let command = format!(
        "cargo run --release -p pairprog-bench -- {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    let mut relays = Vec::with_capacity(cli.relays);
    for index in 0..cli.relays {
        relays.push(RelayProcess::start(relay_bin, &database.url, work_dir, index).await?);
    }
    let relay = &relays[0];
    let result: anyhow::Result<Report> = match cli.scenario {
        Scenario::Latency => latency::run(relay, cli.keystrokes.unwrap_or(2000), cli.seed).await,
        Scenario::Throughput => {
            throughput::run(
                &relays,
                cli.placement.unwrap_or_default(),
                cli.rooms.unwrap_or(200),
                Duration::from_secs(cli.duration),
                cli.seed,
            )
            .await
        }
        Scenario::Idle => {
            let params = idle::IdleParams {
                connections: cli.connections,
                rooms: cli.rooms.unwrap_or(100),
                connect_rate: cli.connect_rate,
                nofile: nofile.clone(),
            };
            idle::run(relay, &params).await
        }
        Scenario::Wire => wire::run(relay, &cli.trace, cli.keystrokes.unwrap_or(5000)).await,
    };
    let mut exits = Vec::with_capacity(relays.len());
    let mut problems = Vec::new();
    for (index, relay) in relays.into_iter().enumerate() {
        let log = relay.stop().await?;
        exits.push(log.exit);
        problems.extend(
            log.problems
                .into_iter()
                .map(|p| format!("relay {index}: {p}")),
        );
    }
    let mut report = result?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let context = vec![
        (
            "database".to_owned(),
            format!("{} ({})", database.kind, database.durability),
        ),
        (
            "machine".to_owned(),
            format!("{cores} cores, relay + database + bench on the same machine, loopback"),
        ),
        (
            if exits.len() == 1 {
                "relay".to_owned()
            } else {
                format!("relays ({})", exits.len())
            },
            format!("{} ({})", relay_bin.display(), exits.join("; ")),
        ),
    ];
    if !problems.is_empty() {
        report.note(format!(
            "The relays logged {} warnings/errors; first: {}",
            problems.len(),
            problems[0]
        ));
    }
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.json(&command, &context))?
        );
    } else {
        println!("{}", report.markdown(&command, &context));
    }
    Ok(problems.is_empty())
}
