//! Readings from /proc: CPU time and resident memory of the relay, of the bench itself and
//! of the PostgreSQL server, so a reader sees where the two cores' time went.

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

/// Total CPU time of every process named `postgres` on the machine (the server and its
/// backends). Backends that exit between two readings drop out of the sum, so this is a
/// lower bound; the bench keeps its connections open for the whole measurement.
pub fn postgres_cpu_time() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| read_stat(&e.path().join("stat")).ok())
        .filter(|(comm, _)| comm == "postgres")
        .map(|(_, t)| t)
        .sum()
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

/// CPU time of the relay, the bench and PostgreSQL at one instant.
#[derive(Clone, Copy, Debug)]
pub struct CpuSnapshot {
    pub relay: Duration,
    pub bench: Duration,
    pub postgres: Duration,
}

impl CpuSnapshot {
    pub fn take(relay_pid: u32) -> anyhow::Result<Self> {
        Ok(Self {
            relay: cpu_time(relay_pid)?,
            bench: own_cpu_time()?,
            postgres: postgres_cpu_time(),
        })
    }

    /// CPU seconds spent by each between `earlier` and `self`.
    pub fn since(&self, earlier: &CpuSnapshot) -> CpuSnapshot {
        CpuSnapshot {
            relay: self.relay.saturating_sub(earlier.relay),
            bench: self.bench.saturating_sub(earlier.bench),
            postgres: self.postgres.saturating_sub(earlier.postgres),
        }
    }
}
