//! Shared by the relay's integration tests: a relay started in process on a fresh
//! database (SQLite file or a new Postgres database), and a WebSocket test client.
#![allow(dead_code, unused_imports)] // Each test file uses a different subset.

pub mod child;
pub mod client;
pub mod db;
/// The same seeded generator the protocol tests use, so a seed means one thing.
#[path = "../../../protocol/tests/common/rng.rs"]
pub mod rng;

use pairprog_relay::{Config, Relay};

pub use client::TestClient;
pub use db::{stored_document, TestDb};

/// A relay on a loopback port with its own database.
pub struct TestRelay {
    pub relay: Option<Relay>,
    pub db: TestDb,
    pub http: reqwest::Client,
}

impl TestRelay {
    pub async fn start(db: TestDb) -> TestRelay {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestRelay {
        let mut config = Config::defaults();
        config.listen = "127.0.0.1:0".parse().expect("loopback address");
        config.database_url = Some(db.url.clone());
        tweak(&mut config);
        let relay = Relay::start(config).await.expect("relay starts");
        TestRelay {
            relay: Some(relay),
            db,
            http: reqwest::Client::new(),
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.relay.as_ref().expect("relay running").addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// The relay's `/metrics` page (Prometheus text).
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    pub fn ws_url(&self, room: &str) -> String {
        format!("ws://{}/ws/{room}", self.addr())
    }

    pub async fn create_room(&self) -> String {
        let body: serde_json::Value = self
            .http
            .post(self.url("/api/rooms"))
            .send()
            .await
            .expect("POST /api/rooms")
            .json()
            .await
            .expect("JSON body");
        body["roomId"].as_str().expect("roomId").to_owned()
    }

    /// The document as REST reports it: (text, revision).
    pub async fn document(&self, room: &str, path: &str) -> (String, u64) {
        let body: serde_json::Value = self
            .http
            .get(self.url(&format!(
                "/api/rooms/{room}/documents/{}",
                encode_path(path)
            )))
            .send()
            .await
            .expect("GET document")
            .json()
            .await
            .expect("JSON body");
        (
            body["text"].as_str().expect("text").to_owned(),
            body["revision"].as_u64().expect("revision"),
        )
    }

    pub async fn stop(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.shutdown().await;
        }
    }
}

pub fn encode_path(path: &str) -> String {
    path.replace('%', "%25").replace('/', "%2F")
}

/// Both storage backends, for tests that must pass on each.
pub async fn backends() -> Vec<TestDb> {
    vec![TestDb::sqlite(), TestDb::postgres().await]
}

/// A raw WebSocket to the relay, for frames `TestClient` would never send. It reads
/// frames of any size, so what the relay sends is never refused on our side.
pub async fn raw(relay: &TestRelay, room: &str) -> client::RawWs {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(
        relay.ws_url(room),
        Some(
            tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                .max_message_size(None)
                .max_frame_size(None),
        ),
        true,
    )
    .await
    .expect("websocket connects");
    ws
}
