//! Room secrets and read-only participants: rooms created with secrets need them over
//! REST and WebSocket, every refusal looks the same whether or not the room exists,
//! and a read-only participant watches and shows a cursor but changes nothing.

mod common;

use common::{TestClient, TestDb, TestRelay};
use pairprog_protocol::messages::{ClientMessage, ErrorCode, Selection, ServerMessage};
use pairprog_protocol::Operation;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

struct Secrets {
    room: String,
    join: String,
    read_only: String,
}

async fn create_with_secrets(relay: &TestRelay) -> Secrets {
    let response = relay
        .http
        .post(relay.url("/api/rooms"))
        .json(&json!({"secrets": true, "code": "hello", "path": "a.txt"}))
        .send()
        .await
        .expect("POST /api/rooms");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    let field = |name: &str| body[name].as_str().expect(name).to_owned();
    Secrets {
        room: field("roomId"),
        join: field("joinSecret"),
        read_only: field("readOnlySecret"),
    }
}

/// GET `path` with an optional bearer secret: (status, body).
async fn get(relay: &TestRelay, path: &str, secret: Option<&str>) -> (u16, Value) {
    let mut request = relay.http.get(relay.url(path));
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    let response = request.send().await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The HTTP status a WebSocket upgrade to `url` was refused with, or 101.
async fn upgrade_status(url: &str, bearer: Option<&str>) -> u16 {
    let mut request = url.into_client_request().expect("request");
    if let Some(secret) = bearer {
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {secret}")).expect("header"),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected connect error: {e}"),
    }
}

#[tokio::test]
async fn rooms_without_secrets_keep_the_old_shapes() {
    let mut relay = TestRelay::start(TestDb::sqlite()).await;
    let response = relay
        .http
        .post(relay.url("/api/rooms"))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["createdAt", "roomId"], "no new fields: {body}");
    let room = body["roomId"].as_str().expect("roomId");
    assert_eq!(
        get(&relay, &format!("/api/rooms/{room}"), None).await.0,
        200
    );
    // Unknown rooms are still 404 when no secret is involved.
    let (status, body) = get(&relay, "/api/rooms/nosuchroom", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("room_not_found"))
    );
    let mut client = TestClient::join(&relay.ws_url(room), "ana", None).await;
    client.open("x.txt", Some("x")).await;
    relay.stop().await;
}

#[tokio::test]
async fn secrets_are_required_and_refusals_reveal_nothing() {
    for db in common::backends().await {
        let kind = db.kind;
        let db_url = db.url.clone();
        let mut relay = TestRelay::start(db).await;
        let s = create_with_secrets(&relay).await;
        assert_eq!(s.join.len(), 43, "{kind}: 256 bits of base64url");
        assert_ne!(s.join, s.read_only);

        let room_path = format!("/api/rooms/{}", s.room);
        let doc_path = format!("/api/rooms/{}/documents/a.txt", s.room);
        let history_path = format!("{doc_path}/history");
        let (_, refusal) = get(&relay, &room_path, None).await;
        assert_eq!(refusal["error"]["code"], "forbidden", "{kind}: {refusal}");
        for path in [&room_path, &doc_path, &history_path] {
            for secret in [None, Some("wrong"), Some(s.room.as_str())] {
                let (status, body) = get(&relay, path, secret).await;
                assert_eq!(
                    (status, &body),
                    (403, &refusal),
                    "{kind}: {path} {secret:?}"
                );
            }
        }
        // An unknown room with a secret gets exactly the same answer.
        let (status, body) = get(&relay, "/api/rooms/nosuchroomatall", Some("wrong")).await;
        assert_eq!((status, &body), (403, &refusal), "{kind}");

        // Either secret reads, by header or by query parameter.
        let (status, body) = get(&relay, &doc_path, Some(&s.join)).await;
        assert_eq!(
            (status, body["text"].as_str()),
            (200, Some("hello")),
            "{kind}"
        );
        let (status, body) = get(&relay, &format!("{doc_path}?secret={}", s.read_only), None).await;
        assert_eq!(
            (status, body["text"].as_str()),
            (200, Some("hello")),
            "{kind}"
        );
        assert_eq!(get(&relay, &history_path, Some(&s.read_only)).await.0, 200);

        // WebSocket: no secret, a wrong one, or an unknown room are refused alike.
        let ws = relay.ws_url(&s.room);
        assert_eq!(upgrade_status(&ws, None).await, 403, "{kind}");
        assert_eq!(upgrade_status(&ws, Some("wrong")).await, 403, "{kind}");
        assert_eq!(
            upgrade_status(&relay.ws_url("nosuchroomatall"), Some("wrong")).await,
            403
        );
        assert_eq!(upgrade_status(&ws, Some(&s.join)).await, 101, "{kind}");

        // The store holds the hashes, never the secrets.
        let hashes = stored_hashes(&db_url, &s.room).await;
        assert_eq!(hashes.len(), 64, "{kind}: two SHA-256 hashes");
        for secret in [&s.join, &s.read_only] {
            let needle = secret.as_bytes();
            assert!(
                !hashes.windows(needle.len()).any(|w| w == needle),
                "{kind}: a secret is stored in the clear"
            );
        }

        // Deleting needs the join secret; the read-only one is refused.
        let delete = |secret: &str| {
            relay
                .http
                .delete(relay.url(&room_path))
                .bearer_auth(secret.to_owned())
                .send()
        };
        let refused = delete(&s.read_only).await.expect("DELETE");
        assert_eq!(refused.status(), 403, "{kind}");
        assert_eq!(
            delete(&s.join).await.expect("DELETE").status(),
            204,
            "{kind}"
        );
        let metrics = relay.metrics().await;
        assert!(
            metrics.contains("pairprog_forbidden_total 15"),
            "{kind}: every refusal is counted:\n{metrics}"
        );
        relay.stop().await;
    }
}

async fn stored_hashes(url: &str, room: &str) -> Vec<u8> {
    use sqlx::Connection;
    let query = "SELECT join_secret_hash, read_only_secret_hash FROM rooms WHERE id = $1";
    let (join, read_only): (Vec<u8>, Vec<u8>) = if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query_as(query)
            .bind(room)
            .fetch_one(&mut conn)
            .await
            .expect("row")
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
        sqlx::query_as(query)
            .bind(room)
            .fetch_one(&mut conn)
            .await
            .expect("row")
    };
    [join, read_only].concat()
}

#[tokio::test]
async fn read_only_participants_watch_but_change_nothing() {
    for db in common::backends().await {
        let kind = db.kind;
        let mut relay = TestRelay::start(db).await;
        let s = create_with_secrets(&relay).await;
        let ws = relay.ws_url(&s.room);
        let mut writer = TestClient::join(&format!("{ws}?secret={}", s.join), "writer", None).await;
        writer.open("a.txt", None).await;
        let mut watcher =
            TestClient::join(&format!("{ws}?secret={}", s.read_only), "watcher", None).await;
        // Everyone sees who is read-only.
        let joined = writer
            .wait_for(|m| matches!(m, ServerMessage::Joined { .. }))
            .await;
        let ServerMessage::Joined { participant, .. } = joined else {
            unreachable!()
        };
        assert!(participant.read_only, "{kind}: joined says read-only");
        // Opening an existing document works, even with text (which is ignored).
        let (text, revision) = watcher.open("a.txt", Some("something else")).await;
        assert_eq!((text.as_str(), revision), ("hello", 0), "{kind}");

        // An operation is refused with read_only and changes nothing.
        watcher
            .send(&ClientMessage::Op {
                path: "a.txt".into(),
                base: 0,
                seq: 1,
                op: Operation::new().retain(5).insert("!"),
            })
            .await;
        let refusal = watcher
            .wait_for(|m| matches!(m, ServerMessage::Error { .. }))
            .await;
        assert!(
            matches!(
                &refusal,
                ServerMessage::Error { code: ErrorCode::ReadOnly, seq: Some(1), path: Some(p), .. } if p == "a.txt"
            ),
            "{kind}: {refusal:?}"
        );
        // Creating a document is refused too, and creates nothing.
        watcher
            .send(&ClientMessage::Open {
                path: "new.txt".into(),
                language: None,
                text: Some("mine".into()),
                revision: None,
            })
            .await;
        let refusal = watcher
            .wait_for(|m| matches!(m, ServerMessage::Error { .. }))
            .await;
        assert!(
            matches!(
                &refusal,
                ServerMessage::Error {
                    code: ErrorCode::ReadOnly,
                    ..
                }
            ),
            "{kind}: {refusal:?}"
        );
        let (status, _) = get(
            &relay,
            &format!("/api/rooms/{}/documents/new.txt", s.room),
            Some(&s.join),
        )
        .await;
        assert_eq!(status, 404, "{kind}: the refused document was not created");

        // The watcher's cursor reaches the writer.
        watcher
            .send(&ClientMessage::Cursor {
                path: "a.txt".into(),
                selections: vec![Selection { anchor: 2, head: 2 }],
                revision: None,
            })
            .await;
        let watcher_id = watcher.participant_id.clone();
        writer
            .wait_for(|m| matches!(m, ServerMessage::Presence(c) if c.participant_id == watcher_id))
            .await;

        // The writer still edits, and the watcher receives it.
        writer
            .edit("a.txt", Operation::new().retain(5).insert(" world"))
            .await;
        writer.settle("a.txt", 1).await;
        let remote = watcher
            .wait_for(|m| matches!(m, ServerMessage::Remote { .. }))
            .await;
        assert!(
            matches!(remote, ServerMessage::Remote { revision: 1, .. }),
            "{kind}"
        );
        let (status, body) = get(
            &relay,
            &format!("/api/rooms/{}/documents/a.txt", s.room),
            Some(&s.read_only),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            (body["text"].as_str(), body["revision"].as_u64()),
            (Some("hello world"), Some(1)),
            "{kind}: only the writer's edit is in the document"
        );
        relay.stop().await;
    }
}

#[tokio::test]
async fn with_required_secrets_every_room_gets_them_and_unknown_rooms_look_alike() {
    let mut relay = TestRelay::start_with(TestDb::sqlite(), |c| c.require_room_secret = true).await;
    // The old body-less request still works, and now returns secrets.
    let body: Value = relay
        .http
        .post(relay.url("/api/rooms"))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("json");
    let room = body["roomId"].as_str().expect("roomId");
    let join = body["joinSecret"]
        .as_str()
        .expect("joinSecret with the flag");
    let (_, refusal) = get(&relay, &format!("/api/rooms/{room}"), None).await;
    assert_eq!(refusal["error"]["code"], "forbidden");
    assert_eq!(
        get(&relay, &format!("/api/rooms/{room}"), Some(join))
            .await
            .0,
        200
    );
    // Unknown rooms, with or without a secret, and malformed ids: the same 403.
    for (path, secret) in [
        ("/api/rooms/nosuchroomatall", None),
        ("/api/rooms/nosuchroomatall", Some("x")),
        ("/api/rooms/bad%20id", None),
    ] {
        assert_eq!(
            get(&relay, path, secret).await,
            (403, refusal.clone()),
            "{path}"
        );
    }
    assert_eq!(
        upgrade_status(&relay.ws_url("nosuchroomatall"), None).await,
        403
    );
    // A room made before the flag was turned on has no secrets: nobody gets in.
    let state = &relay.relay.as_ref().expect("running").state;
    state
        .store
        .create_room("legacyroom", 1)
        .await
        .expect("room");
    assert_eq!(
        get(&relay, "/api/rooms/legacyroom", None).await,
        (403, refusal)
    );
    assert_eq!(upgrade_status(&relay.ws_url("legacyroom"), None).await, 403);
    relay.stop().await;
}
