//! Readings from /proc: CPU time and resident memory of the relays, of the bench itself and
//! of the PostgreSQL server, so a reader sees where the two cores' time went.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, Context};

/// Clock ticks per second for /proc/<pid>/stat. Linux uses 100 nearly everywhere; asking
/// `getconf` avoids assuming it without needing unsafe code for sysconf.
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

/// The command name and the user + system CPU time recorded in a /proc/<pid>/stat file.
fn read_stat(path: &Path) -> anyhow::Result<(String, Duration)> {
    let stat =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // The command name is in parentheses and may itself contain spaces or parentheses,
    // so the fields are counted from the last closing parenthesis.
    let open = stat
        .find('(')
        .ok_or_else(|| anyhow!("malformed {}", path.display()))?;
    let close = stat
        .rfind(')')
        .ok_or_else(|| anyhow!("malformed {}", path.display()))?;
    let comm = stat[open + 1..close].to_owned();
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // After the name: state is field 3 of the man page, utime 14 and stime 15.
    let tick = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .ok_or_else(|| anyhow!("short {}", path.display()))?
            .parse::<u64>()
            .with_context(|| format!("field {i} of {}", path.display()))
    };
    let ticks = tick(11)? + tick(12)?;
    Ok((
        comm,
        Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64),
    ))
}

/// User + system CPU time consumed so far by a process.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    read_stat(Path::new(&format!("/proc/{pid}/stat"))).map(|(_, t)| t)
}

/// CPU time of this bench process (all its threads).
pub fn own_cpu_time() -> anyhow::Result<Duration> {
    read_stat(Path::new("/proc/self/stat")).map(|(_, t)| t)
}

/// CPU time of every process named `postgres` on the machine (the server and its
/// backends), by pid. Comparing two readings pid by pid (see [`CpuSnapshot::since`])
/// keeps a backend that exits in between (another client's, on a shared server) from
/// making the total go down; what it used before exiting is lost, so the figure is a
/// lower bound. The bench keeps its own connections open for the whole measurement.
pub fn postgres_cpu_times() -> HashMap<u32, Duration> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let (comm, time) = read_stat(&e.path().join("stat")).ok()?;
            (comm == "postgres").then_some((pid, time))
        })
        .collect()
}

/// Resident set size of a process, in KiB (VmRSS in /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in {path}"))
}

/// CPU time of the relays, the bench and PostgreSQL at one instant.
#[derive(Clone, Debug)]
pub struct CpuSnapshot {
    /// The sum over every relay process.
    pub relay: Duration,
    /// Each relay process, in the order their pids were given.
    pub relays: Vec<Duration>,
    pub bench: Duration,
    /// The sum over every `postgres` process, and each of them by pid.
    pub postgres: Duration,
    postgres_by_pid: HashMap<u32, Duration>,
}

impl CpuSnapshot {
    /// One relay process.
    pub fn take(relay_pid: u32) -> anyhow::Result<Self> {
        Self::take_all(&[relay_pid])
    }

    /// Several relay processes sharing the load.
    pub fn take_all(relay_pids: &[u32]) -> anyhow::Result<Self> {
        let relays = relay_pids
            .iter()
            .map(|pid| cpu_time(*pid))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let postgres_by_pid = postgres_cpu_times();
        Ok(Self {
            relay: relays.iter().sum(),
            relays,
            bench: own_cpu_time()?,
            postgres: postgres_by_pid.values().sum(),
            postgres_by_pid,
        })
    }

    /// CPU seconds spent by each between `earlier` and `self`.
    pub fn since(&self, earlier: &CpuSnapshot) -> CpuSnapshot {
        CpuSnapshot {
            relay: self.relay.saturating_sub(earlier.relay),
            relays: self
                .relays
                .iter()
                .zip(&earlier.relays)
                .map(|(now, then)| now.saturating_sub(*then))
                .collect(),
            bench: self.bench.saturating_sub(earlier.bench),
            // Pid by pid: a backend that started in between counts whole, one that exited
            // counts nothing (instead of subtracting what it had used before).
            postgres: self
                .postgres_by_pid
                .iter()
                .map(|(pid, now)| {
                    let then = earlier
                        .postgres_by_pid
                        .get(pid)
                        .copied()
                        .unwrap_or_default();
                    now.saturating_sub(then)
                })
                .sum(),
            postgres_by_pid: HashMap::new(),
        }
    }
}
