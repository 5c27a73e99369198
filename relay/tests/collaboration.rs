//! Two clients in a room, on each storage backend: edits reach the other side, acks
//! carry revisions, presence and join/leave events flow, REST sees the same text.

mod common;

use common::{backends, TestClient, TestRelay};
use pairprog_protocol::messages::{ClientMessage, Selection, ServerMessage};
use pairprog_protocol::Operation;

#[tokio::test]
async fn two_clients_edit_one_document() {
    for db in backends().await {
        let kind = db.kind;
        let mut relay = TestRelay::start(db).await;
        let room = relay.create_room().await;
        let mut alice = TestClient::join(&relay.ws_url(&room), "alice", None).await;
        let mut bob = TestClient::join(&relay.ws_url(&room), "bob", None).await;
        match alice
            .wait_for(|m| matches!(m, ServerMessage::Joined { .. }))
            .await
        {
            ServerMessage::Joined { participant, count } => {
                assert_eq!(participant.name, "bob");
                assert_eq!(count, 2);
            }
            other => unreachable!("{other:?}"),
        }

        let (text, rev) = alice.open("src/main.rs", Some("fn main() {}\n")).await;
        assert_eq!((text.as_str(), rev), ("fn main() {}\n", 0), "{kind}");
        let (text, _) = bob.open("src/main.rs", None).await;
        assert_eq!(text, "fn main() {}\n");

        // Concurrent edits at both ends of the document.
        alice
            .edit(
                "src/main.rs",
                Operation::new().insert("// 😀 héllo\r\n").retain(13),
            )
            .await;
        bob.edit("src/main.rs", Operation::new().retain(13).insert("// end"))
            .await;
        alice.settle("src/main.rs", 2).await;
        bob.settle("src/main.rs", 2).await;
        let expected = "// 😀 héllo\r\nfn main() {}\n// end";
        assert_eq!(alice.text("src/main.rs"), expected, "{kind}");
        assert_eq!(bob.text("src/main.rs"), expected, "{kind}");
        assert_eq!(
            relay.document(&room, "src/main.rs").await,
            (expected.to_owned(), 2)
        );

        // Presence: bob's cursor reaches alice.
        bob.send(&ClientMessage::Cursor {
            path: "src/main.rs".into(),
            selections: vec![Selection { anchor: 3, head: 5 }],
            revision: None,
        })
        .await;
        let bob_id = bob.participant_id.clone();
        match alice
            .wait_for(|m| matches!(m, ServerMessage::Presence(_)))
            .await
        {
            ServerMessage::Presence(info) => {
                assert_eq!(info.participant_id, bob_id);
                assert_eq!(info.selections, vec![Selection { anchor: 3, head: 5 }]);
            }
            other => unreachable!("{other:?}"),
        }

        bob.close().await;
        match alice
            .wait_for(|m| matches!(m, ServerMessage::Left { .. }))
            .await
        {
            ServerMessage::Left {
                participant_id,
                count,
            } => {
                assert_eq!(participant_id, bob_id);
                assert_eq!(count, 1);
            }
            other => unreachable!("{other:?}"),
        }
        alice.close().await;
        relay.stop().await;
    }
}

#[tokio::test]
async fn rest_shapes_match_the_original_product() {
    for db in backends().await {
        let mut relay = TestRelay::start(db).await;
        let created = relay
            .http
            .post(relay.url("/api/rooms"))
            .json(&serde_json::json!({"code": "print('hi')\n", "language": "python"}))
            .send()
            .await
            .expect("POST");
        assert_eq!(created.status(), 201);
        let body: serde_json::Value = created.json().await.expect("json");
        let room = body["roomId"].as_str().expect("roomId").to_owned();
        assert!(room.len() >= 21, "room ids carry at least 122 random bits");
        assert!(body["createdAt"]
            .as_str()
            .expect("createdAt")
            .ends_with('Z'));

        let got: serde_json::Value = relay
            .http
            .get(relay.url(&format!("/api/rooms/{room}")))
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("json");
        assert_eq!(got["code"], "print('hi')\n");
        assert_eq!(got["language"], "python");
        assert_eq!(got["documents"][0]["path"], "main.py");
        assert_eq!(got["participantCount"], 0);

        let health = relay
            .http
            .get(relay.url("/health"))
            .send()
            .await
            .expect("health");
        assert_eq!(health.status(), 200);
        let live = relay
            .http
            .get(relay.url("/liveness"))
            .send()
            .await
            .expect("liveness");
        assert_eq!(live.status(), 200);
        let metrics = relay.metrics().await;
        assert!(metrics.contains("pairprog_commit_duration_seconds_bucket"));
        let openapi: serde_json::Value = relay
            .http
            .get(relay.url("/openapi.json"))
            .send()
            .await
            .expect("openapi")
            .json()
            .await
            .expect("json");
        assert!(openapi["paths"]["/api/rooms/{roomId}"].is_object());

        let deleted = relay
            .http
            .delete(relay.url(&format!("/api/rooms/{room}")))
            .send()
            .await
            .expect("DELETE");
        assert_eq!(deleted.status(), 204);
        let gone = relay
            .http
            .get(relay.url(&format!("/api/rooms/{room}")))
            .send()
            .await
            .expect("GET");
        assert_eq!(gone.status(), 404);
        let body: serde_json::Value = gone.json().await.expect("json");
        assert_eq!(body["error"]["code"], "room_not_found");
        relay.stop().await;
    }
}
