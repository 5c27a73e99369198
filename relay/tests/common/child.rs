//! The real `pairprog-relay` binary as a child process, for tests that must kill a relay
//! with SIGKILL (no shutdown code runs) or run several relays side by side.
//!
//! The relay's stderr (its log) is read line by line and written to the test's stderr
//! with the relay's process id in front, so a failing test shows what each relay said,
//! told apart, and a passing one stays quiet (the test harness captures it).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// How long a relay may take to migrate its database and bind its socket.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ChildRelay {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:PORT`, as the relay printed it.
    pub base: String,
}

impl ChildRelay {
    /// Starts the relay binary on a free loopback port with the database at `db_url`.
    pub async fn start(db_url: &str) -> ChildRelay {
        Self::start_with(db_url, &[]).await
    }

    /// Like [`ChildRelay::start`], with extra command-line flags. The log level is
    /// `warn` unless `extra` names one.
    pub async fn start_with(db_url: &str, extra: &[&str]) -> ChildRelay {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pairprog-relay"));
        command
            .args(["--listen", "127.0.0.1:0", "--database-url", db_url])
            .args(extra);
        // clap refuses a flag given twice, so the default level is only added when the
        // caller did not choose one.
        if !extra.contains(&"--log-level") {
            command.args(["--log-level", "warn"]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("relay binary starts");
        let pid = child.id().expect("a running child has a pid");
        let label = format!("relay pid {pid}");
        let stderr = child.stderr.take().expect("piped stderr");
        tokio::spawn(forward_lines(stderr, label.clone()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        // The relay prints this line once the database is migrated and the socket bound.
        let base = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(url) = line.strip_prefix("pairprog-relay listening on ") {
                    return url.to_owned();
                }
                eprintln!("[{label} stdout] {line}");
            }
            panic!("{label} exited before listening");
        })
        .await
        .unwrap_or_else(|_| panic!("{label} did not start within {START_TIMEOUT:?}"));
        eprintln!("[{label}] listening on {base}");
        // Whatever else reaches stdout is forwarded too: dropping the pipe would make a
        // later print fail in the relay.
        tokio::spawn(forward_lines(lines.into_inner(), format!("{label} stdout")));
        ChildRelay { child, pid, base }
    }

    /// The WebSocket URL of a room on this relay.
    pub fn ws(&self, room: &str) -> String {
        format!("{}/ws/{room}", self.base.replacen("http", "ws", 1))
    }

    /// Kills the relay with SIGKILL, so no shutdown code runs, and reaps it.
    pub async fn kill(mut self) {
        // `start_kill` sends SIGKILL.
        self.child.start_kill().expect("kill");
        self.child.wait().await.expect("reaped");
    }
}

/// Copies a relay's output to the test's stderr, line by line, until the pipe closes.
async fn forward_lines(pipe: impl AsyncRead + Unpin, label: String) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("[{label}] {line}");
    }
}
