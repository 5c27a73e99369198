//! The relay the language servers under test connect to: either in process (fast, for
//! most tests) or as a child process that can be killed with SIGKILL and restarted on
//! the same port and database (for the crash test).
//!
//! The child is this very test binary run again with `--exact <entry test>`: the entry
//! test starts the relay when `PAIRPROG_RELAY_CHILD` is set and returns at once
//! otherwise. That needs no relay binary (the relay is only a library dev-dependency
//! here) and runs exactly the relay code the in-process tests use.

use std::process::Stdio;
use std::time::Duration;

use pairprog_relay::{Config, Relay};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::db::TestDb;

/// The variable that turns the child entry test into a relay: `<database url>,<port>`.
pub const CHILD_ENV: &str = "PAIRPROG_RELAY_CHILD";
/// The line the child prints on stdout once it listens, followed by its base URL.
const CHILD_READY: &str = "pairprog-relay child listening on ";

/// REST access to a relay, shared by both kinds.
#[derive(Clone)]
pub struct RelayApi {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub http: reqwest::Client,
}

impl RelayApi {
    pub fn new(base: String) -> RelayApi {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        RelayApi { base, http }
    }

    /// For an `https://` relay whose certificate the PEM `ca` signed.
    pub fn with_ca(base: String, ca: &str) -> RelayApi {
        let ca = reqwest::Certificate::from_pem(ca.as_bytes()).expect("a PEM CA certificate");
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTPS client");
        RelayApi { base, http }
    }

    /// The address a language server is given in `initializationOptions.relay`.
    pub fn ws_base(&self) -> String {
        match self.base.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => self.base.replacen("http://", "ws://", 1),
        }
    }

    pub async fn create_room(&self) -> String {
        let response = self
            .http
            .post(format!("{}/api/rooms", self.base))
            .send()
            .await
            .expect("POST /api/rooms");
        assert!(
            response.status().is_success(),
            "POST /api/rooms: {}",
            response.status()
        );
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        body["roomId"].as_str().expect("roomId").to_owned()
    }

    /// The relay's text and revision of a document, or `None` while the relay cannot
    /// answer (restarting) or does not have the document yet.
    pub async fn document(&self, room: &str, path: &str) -> Option<(String, u64)> {
        let url = format!(
            "{}/api/rooms/{room}/documents/{}",
            self.base,
            encode_path(path)
        );
        let response = self.http.get(url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body: serde_json::Value = response.json().await.ok()?;
        Some((
            body["text"].as_str()?.to_owned(),
            body["revision"].as_u64()?,
        ))
    }
}

impl RelayApi {
    /// The relay's operation log of a document (`/history`), oldest first.
    pub async fn history(&self, room: &str, path: &str) -> Vec<serde_json::Value> {
        let url = format!(
            "{}/api/rooms/{room}/documents/{}/history?since=0&limit=10000",
            self.base,
            encode_path(path)
        );
        let Ok(response) = self.http.get(url).send().await else {
            return Vec::new();
        };
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        body["operations"].as_array().cloned().unwrap_or_default()
    }

    /// For a failure report: every logged operation whose inserted text holds one of
    /// `needles`, with its revision, author, client id and sequence number, so a lost
    /// or doubled keystroke can be traced to the message that carried it.
    pub async fn operations_inserting(&self, room: &str, path: &str, needles: &[String]) -> String {
        let mut out = String::new();
        for op in self.history(room, path).await {
            let inserted: Vec<&str> = op["op"]
                .as_array()
                .map(|parts| parts.iter().filter_map(|p| p.as_str()).collect())
                .unwrap_or_default();
            let hits: Vec<&String> = needles
                .iter()
                .filter(|n| inserted.iter().any(|i| i.contains(n.as_str())))
                .collect();
            if !hits.is_empty() {
                out.push_str(&format!(
                    "  revision {} by {} (client {} seq {} at {}): inserts {hits:?} in {}\n",
                    op["revision"], op["author"], op["clientId"], op["seq"], op["time"], op["op"]
                ));
            }
        }
        out
    }
}

/// A path as one URL segment, as the REST routes expect.
pub fn encode_path(path: &str) -> String {
    path.replace('%', "%25").replace('/', "%2F")
}

/// A relay in this process on a fresh PostgreSQL database.
pub struct TestRelay {
    relay: Option<Relay>,
    pub api: RelayApi,
    // Dropped last: the database outlives the relay using it.
    pub db: TestDb,
}

impl TestRelay {
    pub async fn start() -> TestRelay {
        TestRelay::start_with(|_| {}).await
    }

    /// The same, with `tweak` applied to the relay's configuration.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestRelay {
        let db = TestDb::postgres().await;
        let mut config = Config::defaults();
        config.listen = "127.0.0.1:0".parse().expect("a loopback address");
        config.database_url = Some(db.url.clone());
        tweak(&mut config);
        let relay = Relay::start(config).await.expect("the relay starts");
        let api = RelayApi::new(format!("http://{}", relay.addr));
        TestRelay {
            relay: Some(relay),
            api,
            db,
        }
    }

    /// Serving HTTPS and WSS with the certificate `cert` and key `key`, which the PEM
    /// CA certificate `ca` signed; `api` trusts that CA.
    pub async fn start_tls(cert: &std::path::Path, key: &std::path::Path, ca: &str) -> TestRelay {
        let db = TestDb::postgres().await;
        let mut config = Config::defaults();
        config.listen = "127.0.0.1:0".parse().expect("a loopback address");
        config.database_url = Some(db.url.clone());
        config.tls_cert = Some(cert.to_owned());
        config.tls_key = Some(key.to_owned());
        let relay = Relay::start(config).await.expect("the TLS relay starts");
        let api = RelayApi::with_ca(relay.base_url(), ca);
        TestRelay {
            relay: Some(relay),
            api,
            db,
        }
    }

    pub async fn stop(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.shutdown().await;
        }
    }
}

/// Body of the child entry test. Returns at once unless [`CHILD_ENV`] is set; with it,
/// starts the relay on the given port and database, prints [`CHILD_READY`] and serves
/// until the parent kills the process.
pub fn child_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (url, port) = spec
        .rsplit_once(',')
        .unwrap_or_else(|| panic!("{CHILD_ENV} is `<database url>,<port>`, not {spec:?}"));
    let port: u16 = port.parse().expect("a port number");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let mut config = Config::defaults();
        config.listen = ([127, 0, 0, 1], port).into();
        config.database_url = Some(url.to_owned());
        // Frequent snapshots make the restarted relay load from a snapshot plus a log
        // tail, the path a long-lived document takes after a crash.
        config.snapshot_every = 20;
        // The killed process's listening socket can take a moment to be released.
        let mut attempts = 0;
        let relay = loop {
            match Relay::start(config.clone()).await {
                Ok(relay) => break relay,
                Err(e) if attempts < 100 => {
                    attempts += 1;
                    eprintln!("relay child: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the relay child cannot start: {e}"),
            }
        };
        println!("{CHILD_READY}http://{}", relay.addr);
        std::future::pending::<()>().await;
    });
}

/// A relay in a child process on a fixed port, killable and restartable.
pub struct ChildRelay {
    child: Option<Child>,
    pub port: u16,
    pub api: RelayApi,
    entry_test: String,
    // Dropped last: the database outlives the processes using it.
    pub db: TestDb,
}

impl ChildRelay {
    /// Starts the child on a free port. `entry_test` is the name of the test in the
    /// current binary that calls [`child_entry`].
    pub async fn start(entry_test: &str) -> ChildRelay {
        let db = TestDb::postgres().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut relay = ChildRelay {
            child: None,
            port,
            api: RelayApi::new(format!("http://127.0.0.1:{port}")),
            entry_test: entry_test.to_owned(),
            db,
        };
        relay.spawn().await;
        relay
    }

    async fn spawn(&mut self) {
        assert!(self.child.is_none(), "the relay child already runs");
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut child = Command::new(exe)
            .args([
                &self.entry_test,
                "--exact",
                "--nocapture",
                "--include-ignored",
            ])
            .env(CHILD_ENV, format!("{},{}", self.db.url, self.port))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the test binary starts again as the relay child");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read the child's stdout") {
                if line.starts_with(CHILD_READY) {
                    return;
                }
            }
            panic!("the relay child exited before listening");
        })
        .await;
        assert!(ready.is_ok(), "the relay child listens within 30 s");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown code runs, connections drop without a close frame.
    pub async fn kill(&mut self) {
        let mut child = self.child.take().expect("the relay child runs");
        child.start_kill().expect("SIGKILL the relay child");
        child.wait().await.expect("reap the relay child");
    }

    /// Starts the relay again on the same port and database.
    pub async fn restart(&mut self) {
        self.spawn().await;
    }
}
