//! The relay under test: a real `pairprog-relay` child process on a free loopback port,
//! with helpers for its REST endpoints and its /proc readings.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde::Deserialize;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

pub struct RelayProcess {
    /// Kept in an Option so `stop` can take it and `Drop` still kills a relay left behind
    /// by an error path.
    child: Option<Child>,
    pub pid: u32,
    pub addr: SocketAddr,
    http: reqwest::Client,
    pub log_path: PathBuf,
}

/// What the relay logged at WARN level or above during the run.
pub struct RelayLog {
    pub problems: Vec<String>,
    pub exit: String,
}

/// The relay binary next to the bench executable, where `cargo build --release` puts it.
pub fn default_relay_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate the bench executable")?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("the bench executable has no parent folder"))?;
    Ok(dir.join("pairprog-relay"))
}

/// A port nobody listens on right now. Another process could take it before the relay
/// binds it; on a bench machine that race is not worth more machinery.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?.port())
}

impl RelayProcess {
    /// Starts relay number `index` (several may share one database); its log goes to
    /// `relay-<index>.log` in `work_dir`.
    pub async fn start(
        bin: &Path,
        database_url: &str,
        work_dir: &Path,
        index: usize,
    ) -> anyhow::Result<Self> {
        if !bin.is_file() {
            bail!(
                "relay binary {} not found: build it first with `cargo build --release -p pairprog-relay` \
                 (same target dir as the bench), or pass --relay-bin",
                bin.display()
            );
        }
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let log_path = work_dir.join(format!("relay-{index}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let child = Command::new(bin)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--database-url")
            .arg(database_url)
            .arg("--data-dir")
            .arg(work_dir)
            // Only problems are logged, so logging itself costs the relay nothing under load.
            .arg("--log-level")
            .arg("warn")
            // Every bench client comes from 127.0.0.1, so the per-IP limits on room
            // creation (30 a minute) and connects (120 a minute) would refuse the load
            // itself; the bench measures the relay, not its rate limiter.
            .arg("--room-creates-per-minute")
            .arg("0")
            .arg("--connects-per-minute")
            .arg("0")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child.id();
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .context("http client")?;
        let mut relay = Self {
            child: Some(child),
            pid,
            addr,
            http,
            log_path,
        };
        relay.wait_healthy().await?;
        Ok(relay)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let url = format!("{}/health", self.base_url());
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
                    bail!("the relay exited during start-up ({status}):\n{log}");
                }
            }
            if let Ok(resp) = self.http.get(&url).send().await {
                if resp.status() == reqwest::StatusCode::OK {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the relay did not answer GET /health with 200 within {START_TIMEOUT:?}")
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn ws_url(&self, room_id: &str) -> String {
        format!("ws://{}/ws/{room_id}", self.addr)
    }

    pub async fn create_room(&self) -> anyhow::Result<String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Created {
            room_id: String,
        }
        let resp = self
            .http
            .post(format!("{}/api/rooms", self.base_url()))
            .json(&serde_json::json!({}))
            .send()
            .await
            .context("POST /api/rooms")?;
        if resp.status() != reqwest::StatusCode::CREATED {
            bail!("POST /api/rooms answered {}", resp.status());
        }
        Ok(resp
            .json::<Created>()
            .await
            .context("POST /api/rooms body")?
            .room_id)
    }

    /// The relay's copy of a document: its text and revision.
    pub async fn document(&self, room_id: &str, path: &str) -> anyhow::Result<(String, u64)> {
        #[derive(Deserialize)]
        struct Doc {
            text: String,
            revision: u64,
        }
        // The path is one URL segment: its slashes are escaped.
        let escaped = path.replace('%', "%25").replace('/', "%2F");
        let url = format!(
            "{}/api/rooms/{room_id}/documents/{escaped}",
            self.base_url()
        );
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if !resp.status().is_success() {
            bail!("GET {url} answered {}", resp.status());
        }
        let doc: Doc = resp
            .json()
            .await
            .with_context(|| format!("GET {url} body"))?;
        Ok((doc.text, doc.revision))
    }

    /// One sample of a counter or gauge from GET /metrics.
    pub async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = self.metrics_text().await?;
        metric_value(&text, name).ok_or_else(|| anyhow!("GET /metrics has no {name}"))
    }

    /// The whole GET /metrics page (Prometheus text), to read several samples of one
    /// instant.
    pub async fn metrics_text(&self) -> anyhow::Result<String> {
        self.http
            .get(format!("{}/metrics", self.base_url()))
            .send()
            .await
            .context("GET /metrics")?
            .text()
            .await
            .context("GET /metrics body")
    }

    /// Stops the relay with SIGTERM (its graceful shutdown), SIGKILL after a timeout, and
    /// returns what it logged at WARN or above.
    pub async fn stop(mut self) -> anyhow::Result<RelayLog> {
        let mut child = self.child.take().expect("stop runs once");
        // The workspace forbids unsafe code, so the signal goes through kill(1).
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        let exit = loop {
            if let Some(status) = child.try_wait()? {
                break format!("exited after SIGTERM: {status}");
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let status = child.wait()?;
                break format!("did not stop within {STOP_TIMEOUT:?} of SIGTERM; killed: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let problems = log
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("panicked"))
            .map(str::to_owned)
            .collect();
        Ok(RelayLog { problems, exit })
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The sample `name` (without labels) in a Prometheus text page, if it is there.
pub fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (key, value) = l.split_once(' ')?;
        (key == name)
            .then(|| value.trim().parse::<f64>().ok())
            .flatten()
    })
}
