//! A room lives in memory while anyone uses it, and exactly one `Room` exists per room
//! id: a joiner can never land in a copy the next client cannot find, and no early
//! return leaves an entry behind.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{TestClient, TestDb, TestRelay};

/// `ws.rs` got or created the room, then awaited (the document list, and with several
/// relays the roster and the join announcement) before joining it. `release_if_idle`,
/// run by every `GET /api/rooms/{id}`, could remove the still-empty room meanwhile: the
/// joiner then sat in a `Room` nobody else could find, and the next client created a
/// second one (opening a document there spawned a second owner for it).
#[tokio::test]
async fn regression_a_joiner_landed_in_a_room_nobody_else_could_find() {
    let mut relay = TestRelay::start(TestDb::sqlite()).await;
    let state = relay.relay.as_ref().expect("running").state.clone();

    // The interleaving itself, step by step: a pinned room survives a release.
    let first = state.rooms.pin("some-room", &state);
    state.rooms.release_if_idle("some-room", &state);
    let second = state.rooms.pin("some-room", &state);
    assert!(Arc::ptr_eq(&first, &second), "the room was replaced");
    drop(first);
    drop(second);
    assert!(
        state.rooms.get("some-room").is_none(),
        "unpinned, idle: released"
    );

    // And end to end: joins racing room reads all land in the one room.
    for round in 0..30 {
        let room = relay.create_room().await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut readers = Vec::new();
        for _ in 0..4 {
            let (http, url, stop) = (
                relay.http.clone(),
                relay.url(&format!("/api/rooms/{room}")),
                stop.clone(),
            );
            readers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _ = http.get(&url).send().await;
                }
            }));
        }
        let a = TestClient::join(&relay.ws_url(&room), "a", None).await;
        let b = TestClient::join(&relay.ws_url(&room), "b", None).await;
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            reader.await.expect("reader");
        }
        let body: serde_json::Value = relay
            .http
            .get(relay.url(&format!("/api/rooms/{room}")))
            .send()
            .await
            .expect("GET room")
            .json()
            .await
            .expect("json");
        assert_eq!(body["participantCount"], 2, "round {round}: {body}");
        a.close().await;
        b.close().await;
    }
    relay.stop().await;
}
