//! The retention job, run directly with a chosen "now" so nothing sleeps: idle rooms
//! go, rooms in use stay, and old history folds into snapshots without changing any
//! text a client, a reconnect or a restarted relay sees.

mod common;

use std::time::Duration;

use common::{TestClient, TestRelay};
use pairprog_protocol::messages::{ClientMessage, ServerMessage};
use pairprog_protocol::Operation;
use pairprog_relay::document::now_ms;
use pairprog_relay::retention::{self, Report};
use pairprog_relay::{Config, Relay};

const MINUTE_MS: i64 = 60_000;

#[tokio::test]
async fn idle_rooms_are_deleted_and_rooms_in_use_are_kept() {
    for db in common::backends().await {
        let kind = db.kind;
        let mut relay = TestRelay::start_with(db, |c| c.room_ttl = Duration::from_secs(60)).await;
        let state = relay.relay.as_ref().expect("running").state.clone();
        let idle = relay.create_room().await;
        let busy = relay.create_room().await;
        let mut client = TestClient::join(&relay.ws_url(&busy), "ana", None).await;
        client.open("a.txt", Some("kept")).await;

        // Not yet idle for a minute: nothing goes.
        let report = retention::run_once(&state, now_ms() + MINUTE_MS / 2)
            .await
            .expect("run");
        assert_eq!(report, Report::default(), "{kind}");

        let report = retention::run_once(&state, now_ms() + 2 * MINUTE_MS)
            .await
            .expect("run");
        assert_eq!(report.rooms_deleted, 1, "{kind}");
        let status = |room: String| {
            let http = relay.http.clone();
            let url = relay.url(&format!("/api/rooms/{room}"));
            async move { http.get(url).send().await.expect("GET").status() }
        };
        assert_eq!(
            status(idle.clone()).await,
            404,
            "{kind}: the idle room is gone"
        );
        assert_eq!(
            status(busy.clone()).await,
            200,
            "{kind}: the room in use stays"
        );
        assert!(
            relay
                .metrics()
                .await
                .contains("pairprog_rooms_expired_total 1"),
            "{kind}"
        );
        // Leaving records activity, so the room is not idle as of "now" either.
        drop(client);
        relay.stop().await;
    }
}

#[tokio::test]
async fn old_history_folds_into_the_snapshot_and_every_reader_sees_the_same_text() {
    for db in common::backends().await {
        let kind = db.kind;
        let db_url = db.url.clone();
        let mut relay = TestRelay::start_with(db, |c| {
            c.history_ttl = Duration::from_secs(60);
            c.snapshot_every = 1_000;
        })
        .await;
        let state = relay.relay.as_ref().expect("running").state.clone();
        let room = relay.create_room().await;
        let url = relay.ws_url(&room);
        let mut ana = TestClient::join(&url, "ana", None).await;
        ana.open("a.txt", Some("")).await;
        for (i, word) in ["one ", "two ", "three ", "four ", "five "]
            .iter()
            .enumerate()
        {
            let len = ana.docs["a.txt"].text.len_chars();
            ana.edit("a.txt", Operation::new().retain(len).insert(word))
                .await;
            ana.settle("a.txt", i as u64 + 1).await;
        }
        let expected = "one two three four five ";

        // Nothing is old yet.
        let report = retention::run_once(&state, now_ms()).await.expect("run");
        assert_eq!(report.operations_deleted, 0, "{kind}");

        let report = retention::run_once(&state, now_ms() + 2 * MINUTE_MS)
            .await
            .expect("run");
        assert_eq!(
            (report.snapshots_advanced, report.operations_deleted),
            (1, 5),
            "{kind}"
        );
        let history: serde_json::Value = relay
            .http
            .get(relay.url(&format!("/api/rooms/{room}/documents/a.txt/history")))
            .send()
            .await
            .expect("history")
            .json()
            .await
            .expect("json");
        assert_eq!(
            history["operations"].as_array().map(Vec::len),
            Some(0),
            "{kind}"
        );
        assert_eq!(history["revision"], 5, "{kind}");
        assert_eq!(
            relay.document(&room, "a.txt").await,
            (expected.to_owned(), 5)
        );

        // A client reconnecting from revision 2 (whose operations are gone) gets the
        // whole text, not a wrong or partial list.
        let mut late = TestClient::join(&url, "bo", None).await;
        late.send(&ClientMessage::Open {
            path: "a.txt".into(),
            language: None,
            text: None,
            revision: Some(2),
        })
        .await;
        let opened = late
            .wait_for(|m| matches!(m, ServerMessage::Opened { .. }))
            .await;
        match opened {
            ServerMessage::Opened {
                text,
                operations,
                revision,
                ..
            } => {
                assert_eq!(operations, None, "{kind}");
                assert_eq!((text.as_deref(), revision), (Some(expected), 5), "{kind}");
            }
            _ => unreachable!(),
        }

        // Editing goes on after compaction.
        ana.edit(
            "a.txt",
            Operation::new()
                .retain(expected.chars().count())
                .insert("six"),
        )
        .await;
        ana.settle("a.txt", 6).await;
        let after = format!("{expected}six");

        // A second relay on the same database (what a restart sees) loads the same text
        // from the compacted snapshot and the remaining log.
        let mut config = Config::defaults();
        config.listen = "127.0.0.1:0".parse().expect("address");
        config.database_url = Some(db_url.clone());
        let other = Relay::start(config).await.expect("second relay");
        let body: serde_json::Value = relay
            .http
            .get(format!(
                "http://{}/api/rooms/{room}/documents/a.txt",
                other.addr
            ))
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("json");
        assert_eq!(body["text"].as_str(), Some(after.as_str()), "{kind}");
        assert_eq!(body["revision"], 6, "{kind}");
        other.shutdown().await;

        let text = relay.metrics().await;
        assert!(
            text.contains("pairprog_operations_compacted_total 5"),
            "{kind}: {text}"
        );
        assert!(
            text.contains("pairprog_snapshots_compacted_total 1"),
            "{kind}"
        );
        assert!(text.contains("pairprog_retention_runs_total 2"), "{kind}");
        relay.stop().await;
    }
}

#[tokio::test]
async fn the_job_stops_when_the_relay_shuts_down() {
    let mut relay = TestRelay::start_with(common::TestDb::sqlite(), |c| {
        c.room_ttl = Duration::from_secs(60);
        c.retention_interval = Duration::from_secs(3600);
    })
    .await;
    let state = relay.relay.as_ref().expect("running").state.clone();
    let job = retention::spawn(state).expect("a TTL is set, so the job runs");
    relay.stop().await;
    tokio::time::timeout(Duration::from_secs(10), job)
        .await
        .expect("the job ended with the relay")
        .expect("the job did not panic");
}

#[tokio::test]
async fn no_job_runs_when_both_ttls_are_off() {
    let mut relay = TestRelay::start_with(common::TestDb::sqlite(), |c| {
        c.room_ttl = Duration::ZERO;
        c.history_ttl = Duration::ZERO;
    })
    .await;
    let state = relay.relay.as_ref().expect("running").state.clone();
    assert!(retention::spawn(state).is_none());
    relay.stop().await;
}
