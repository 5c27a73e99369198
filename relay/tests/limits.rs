//! Overload and outage behaviour: a peer that stops reading is dropped instead of
//! buffered without limit, and /health reports a database that went away.

mod common;

use common::{TestClient, TestDb, TestRelay};
use pairprog_protocol::messages::ServerMessage;
use pairprog_protocol::Operation;
use sqlx::Connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_dropped_and_the_room_goes_on() {
    let mut relay = TestRelay::start_with(TestDb::sqlite(), |c| {
        c.outbox_capacity = 8;
        c.max_document_bytes = 64 << 20;
    })
    .await;
    let room = relay.create_room().await;
    let mut typist = TestClient::join(&relay.ws_url(&room), "typist", None).await;
    let mut sleeper = TestClient::join(&relay.ws_url(&room), "sleeper", None).await;
    typist.open("big.txt", Some("")).await;
    sleeper.open("big.txt", None).await;
    // The sleeper reads nothing from here on. Large operations fill the kernel's socket
    // buffers toward it, then its bounded outbox, and the relay must drop it.
    let chunk = "0123456789abcdef".repeat(50_000 / 16);
    let mut dropped = false;
    for _ in 0..400 {
        let len = typist.docs["big.txt"].text.len_chars();
        typist
            .edit("big.txt", Operation::new().retain(len).insert(&chunk))
            .await;
        let rev = typist.docs["big.txt"].ot.revision() + 1;
        typist.settle("big.txt", rev).await;
        let metrics = relay.metrics().await;
        if metrics.contains("pairprog_slow_peers_dropped_total 1") {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "the relay kept buffering for a peer that does not read"
    );
    // The typist saw the sleeper leave and keeps working.
    let sleeper_id = sleeper.participant_id.clone();
    typist
        .wait_for(|m| matches!(m, ServerMessage::Left { participant_id, .. } if *participant_id == sleeper_id))
        .await;
    let len = typist.docs["big.txt"].text.len_chars();
    typist
        .edit("big.txt", Operation::new().retain(len).insert("!"))
        .await;
    let rev = typist.docs["big.txt"].ot.revision() + 1;
    typist.settle("big.txt", rev).await;
    // The sleeper's socket ends: after what was already in flight, the stream closes.
    while sleeper.recv().await.is_some() {}
    relay.stop().await;
}

#[tokio::test]
async fn health_reports_an_unreachable_database() {
    let db = TestDb::postgres().await;
    let url = db.url.clone();
    let mut relay = TestRelay::start(db).await;
    let ok = relay
        .http
        .get(relay.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(ok.status(), 200);
    // Take the database away under the relay.
    let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let name = url.rsplit('/').next().expect("database name").to_owned();
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("admin");
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("drop");
    let down = relay
        .http
        .get(relay.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(down.status(), 503);
    let body: serde_json::Value = down.json().await.expect("json");
    assert_eq!(body["status"], "unavailable");
    let live = relay
        .http
        .get(relay.url("/liveness"))
        .send()
        .await
        .expect("liveness");
    assert_eq!(
        live.status(),
        200,
        "liveness does not depend on the database"
    );
    relay.stop().await;
}
