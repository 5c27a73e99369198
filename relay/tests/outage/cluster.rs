//! A throwaway PostgreSQL cluster of the test's own, which the test may stop and kill at
//! will: `initdb` into a temporary folder, `pg_ctl` on a free loopback port. The system
//! cluster other tests use (`DATABASE_URL`) is never touched.
//!
//! The binaries are found as `scripts/postgres.sh` finds them: on `PATH`, else in the
//! newest `/usr/lib/postgresql/<version>/bin`. As root, the cluster runs as the
//! `postgres` user (or `nobody`), since `initdb` refuses to run as root.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// How long `pg_ctl` may take to start or stop the server (crash recovery included).
const PG_CTL_WAIT_SECS: &str = "60";
/// How long the backends of a SIGKILLed postmaster get to notice it is gone and exit
/// before they are killed too (a new postmaster refuses to start beside them).
const ORPHAN_EXIT: Duration = Duration::from_secs(10);
/// Starts tried before the test fails, and the pause between two.
const START_ATTEMPTS: u32 = 20;
const START_RETRY: Duration = Duration::from_millis(250);

pub struct PgCluster {
    dir: PathBuf,
    pg_ctl: PathBuf,
    port: u16,
    /// The unprivileged user and group the server runs as when the test runs as root.
    run_as: Option<(u32, u32)>,
}

/// Why a cluster could not be had: only a missing installation lets the test skip.
pub enum Unavailable {
    NoBinaries,
}

impl PgCluster {
    /// Creates and starts a cluster, or says that PostgreSQL is not installed.
    pub async fn start() -> Result<PgCluster, Unavailable> {
        let (Some(initdb), Some(pg_ctl)) = (find_bin("initdb"), find_bin("pg_ctl")) else {
            return Err(Unavailable::NoBinaries);
        };
        let dir = std::env::temp_dir().join(format!("pairprog-outage-{}", unique()));
        std::fs::create_dir_all(&dir).expect("create the cluster folder");
        let run_as = unprivileged_user();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the cluster folder");
        }
        let cluster = PgCluster {
            port: free_port(),
            dir,
            pg_ctl,
            run_as,
        };
        let data = cluster.data();
        cluster
            .run(
                Command::new(initdb).arg("-D").arg(&data).args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                ]),
                "initdb",
            )
            .await;
        cluster.pg_start().await;
        Ok(cluster)
    }

    /// The URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Starts the server and waits until it accepts connections (after crash recovery,
    /// if it was stopped with `immediate` or killed).
    pub async fn pg_start(&self) {
        // `fsync=off`: the test kills the server, never the machine, and the kernel keeps
        // whatever a killed process wrote. Commits still wait for their WAL write.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        // A backend the killed postmaster forked just before it died (the relay keeps
        // reconnecting) is missing from the children it was killed with and may still
        // hold the old shared memory for a moment; the server then refuses to start. It
        // exits as soon as it notices its postmaster is gone, so starting is retried.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut command = Command::new(&self.pg_ctl);
            command
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", PG_CTL_WAIT_SECS, "-o", &options, "start"]);
            match self.try_run(&mut command, "pg_ctl start").await {
                Ok(()) => return,
                Err(why) if attempts < START_ATTEMPTS => {
                    eprintln!("postgres_outage: start attempt {attempts} failed, retrying: {why}");
                    tokio::time::sleep(START_RETRY).await;
                }
                Err(why) => panic!("{why}"),
            }
        }
    }

    /// `pg_ctl stop -m immediate`: every server process quits at once, without a
    /// checkpoint, as after a crash; open connections break mid-statement.
    pub async fn stop_immediate(&self) {
        self.run(
            Command::new(&self.pg_ctl).arg("-D").arg(self.data()).args([
                "-w",
                "-t",
                PG_CTL_WAIT_SECS,
                "-m",
                "immediate",
                "stop",
            ]),
            "pg_ctl stop",
        )
        .await;
    }

    /// SIGKILL of the postmaster alone. Its backends notice and exit by themselves;
    /// any still there after [`ORPHAN_EXIT`] are killed too, since a new postmaster
    /// refuses to start while they hold the old shared memory.
    pub async fn kill_postmaster(&self) {
        let pid_file = self.data().join("postmaster.pid");
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .expect("postmaster.pid")
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("postmaster.pid starts with the pid");
        let children = children_of(pid);
        signal_kill(pid);
        let deadline = tokio::time::Instant::now() + ORPHAN_EXIT;
        let mut interval = tokio::time::interval(Duration::from_millis(20));
        loop {
            interval.tick().await;
            let alive: Vec<u32> = std::iter::once(pid)
                .chain(children.iter().copied())
                .filter(|p| is_alive(*p))
                .collect();
            if alive.is_empty() {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                for p in alive {
                    signal_kill(p);
                }
            }
        }
        // A killed postmaster leaves its lock file behind. PostgreSQL itself discards a
        // stale one, except when the recorded pid is still taken (by an unreaped zombie
        // here, whose parent may not reap it): then it would refuse to start.
        let _ = std::fs::remove_file(pid_file);
    }

    async fn run(&self, command: &mut Command, what: &str) {
        if let Err(why) = self.try_run(command, what).await {
            panic!("{why}");
        }
    }

    async fn try_run(&self, command: &mut Command, what: &str) -> Result<(), String> {
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        let output = command
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("{what} cannot run: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "{what} failed ({}): {}{}\nserver log:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log_tail()
        ))
    }

    /// The last lines of the server's log, for a failure message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut stop = std::process::Command::new(&self.pg_ctl);
        stop.arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "immediate", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            stop.uid(uid).gid(gid);
        }
        let _ = stop.status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn find_bin(name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin").join(name)))
        })
        .filter(|(_, path)| path.is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, path)| path)
}

/// `Some((uid, gid))` of `postgres` (else `nobody`) when running as root.
fn unprivileged_user() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is this process's user: no libc call needed.
    if std::fs::metadata("/proc/self").ok()?.uid() != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let user = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name) && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
    };
    Some(
        user("postgres")
            .or_else(|| user("nobody"))
            .expect("a postgres or nobody user to run the cluster as"),
    )
}

/// A port the kernel just handed out on loopback, free again once the probe closes.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn unique() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The processes whose parent is `pid`, read from `/proc`.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| stat_of(*p).is_some_and(|(_, parent)| parent == pid))
        .collect()
}

/// (state, parent pid) of a process, from `/proc/PID/stat`.
fn stat_of(pid: u32) -> Option<(char, u32)> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    // The command name is in parentheses and may hold spaces: read after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// Running, as opposed to gone or a zombie waiting to be reaped.
fn is_alive(pid: u32) -> bool {
    stat_of(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

fn signal_kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
