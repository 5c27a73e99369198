//! Every kind of bad input gets a clear error to its sender only, and changes nothing:
//! the document's text and revision stay as they were and other clients notice nothing.

mod common;

use common::{backends, TestClient, TestRelay};
use pairprog_protocol::messages::{ClientMessage, ErrorCode, ServerMessage};
use pairprog_protocol::Operation;

const PATH: &str = "doc.txt";
const TEXT: &str = "hello 😀\r\nworld\n";

#[tokio::test]
async fn bad_websocket_messages_change_nothing() {
    for db in backends().await {
        let kind = db.kind;
        let mut relay = TestRelay::start_with(db, |c| {
            c.max_message_bytes = 4096;
            c.max_document_bytes = 64;
            c.max_documents_per_room = 2;
        })
        .await;
        let room = relay.create_room().await;
        let mut bad = TestClient::join(&relay.ws_url(&room), "mallory", None).await;
        let mut good = TestClient::join(&relay.ws_url(&room), "alice", None).await;
        good.open(PATH, Some(TEXT)).await;
        bad.open(PATH, None).await;
        let len = TEXT.chars().count();

        bad.send_raw("{not json").await;
        bad.expect_error(ErrorCode::BadMessage).await;
        bad.send_raw(r#"{"type":"shout","text":"hi"}"#).await;
        let msg = bad.expect_error(ErrorCode::BadMessage).await;
        assert!(msg.contains("shout"), "{msg}");
        bad.send_raw(r#"{"type":"op","path":"doc.txt","base":0,"seq":1,"op":[0]}"#)
            .await;
        bad.expect_error(ErrorCode::BadMessage).await;

        // An operation for a document of another length.
        bad.send(&ClientMessage::Op {
            path: PATH.into(),
            base: 0,
            seq: 1,
            op: Operation::new().retain(len + 5).insert("x"),
        })
        .await;
        bad.expect_error(ErrorCode::InvalidOperation).await;
        // A base revision from the future.
        bad.send(&ClientMessage::Op {
            path: PATH.into(),
            base: 99,
            seq: 2,
            op: Operation::new().retain(len).insert("x"),
        })
        .await;
        bad.expect_error(ErrorCode::FutureRevision).await;
        // A message over the size limit.
        bad.send(&ClientMessage::Op {
            path: PATH.into(),
            base: 0,
            seq: 3,
            op: Operation::new().retain(len).insert(&"x".repeat(5000)),
        })
        .await;
        bad.expect_error(ErrorCode::MessageTooLarge).await;
        // An operation that would grow the document past its limit.
        bad.send(&ClientMessage::Op {
            path: PATH.into(),
            base: 0,
            seq: 4,
            op: Operation::new().retain(len).insert(&"y".repeat(100)),
        })
        .await;
        bad.expect_error(ErrorCode::DocumentTooLarge).await;
        // Editing a document that is not open, and a path that is not allowed.
        bad.send(&ClientMessage::Op {
            path: "other.txt".into(),
            base: 0,
            seq: 5,
            op: Operation::new().insert("x"),
        })
        .await;
        bad.expect_error(ErrorCode::NotOpen).await;
        bad.send(&ClientMessage::Open {
            path: "../etc/passwd".into(),
            language: None,
            text: Some("x".into()),
            revision: None,
        })
        .await;
        bad.expect_error(ErrorCode::InvalidPath).await;
        // A new document over the size limit, then too many documents.
        bad.send(&ClientMessage::Open {
            path: "big.txt".into(),
            language: None,
            text: Some("z".repeat(100)),
            revision: None,
        })
        .await;
        bad.expect_error(ErrorCode::DocumentTooLarge).await;
        bad.open("second.txt", Some("two")).await;
        bad.send(&ClientMessage::Open {
            path: "third.txt".into(),
            language: None,
            text: Some("three".into()),
            revision: None,
        })
        .await;
        bad.expect_error(ErrorCode::TooManyDocuments).await;
        // Opening a document that does not exist without text.
        bad.send(&ClientMessage::Open {
            path: "missing.txt".into(),
            language: None,
            text: None,
            revision: None,
        })
        .await;
        bad.expect_error(ErrorCode::UnknownDocument).await;

        // Nothing changed, and the well-behaved client still works and saw no errors.
        assert_eq!(
            relay.document(&room, PATH).await,
            (TEXT.to_owned(), 0),
            "{kind}"
        );
        good.edit(PATH, Operation::new().retain(len).insert("!"))
            .await;
        good.settle(PATH, 1).await;
        assert!(
            !good
                .inbox
                .iter()
                .any(|m| matches!(m, ServerMessage::Error { .. })),
            "{:?}",
            good.inbox
        );
        assert_eq!(relay.document(&room, PATH).await.1, 1);
        relay.stop().await;
    }
}

#[tokio::test]
async fn protocol_mismatch_and_unknown_room_are_refused() {
    let mut relay = TestRelay::start(common::TestDb::sqlite()).await;
    let room = relay.create_room().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.ws_url(&room))
        .await
        .expect("connects");
    use futures_util::{SinkExt, StreamExt};
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"hello","protocol":999,"name":"future"}"#,
    ))
    .await
    .expect("send");
    let reply = ws.next().await.expect("a reply").expect("a frame");
    let reply: ServerMessage = serde_json::from_str(reply.to_text().expect("text")).expect("json");
    assert!(matches!(
        reply,
        ServerMessage::Error {
            code: ErrorCode::ProtocolMismatch,
            ..
        }
    ));

    let missing = tokio_tungstenite::connect_async(relay.ws_url("no-such-room")).await;
    match missing {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 404)
        }
        other => panic!("expected 404, got {other:?}"),
    }
    relay.stop().await;
}

#[tokio::test]
async fn bad_rest_requests_get_json_errors() {
    let mut relay = TestRelay::start(common::TestDb::sqlite()).await;
    let cases = [
        ("/api/rooms", "{not json", 400, "malformed_json"),
        ("/api/rooms", r#"{"code": 5}"#, 422, "invalid_request"),
        ("/api/rooms", r#"{"path": "/abs"}"#, 422, "invalid_path"),
    ];
    for (path, body, status, code) in cases {
        let response = relay
            .http
            .post(relay.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), status, "{body}");
        let json: serde_json::Value = response.json().await.expect("json error");
        assert_eq!(json["error"]["code"], code, "{body}");
    }
    for path in [
        "/api/rooms/nope",
        "/api/rooms/nope/documents/a.txt",
        "/api/rooms/x%2F..%2Fy",
    ] {
        let response = relay
            .http
            .get(relay.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 404, "{path}");
    }
    let room = relay.create_room().await;
    let response = relay
        .http
        .get(relay.url(&format!("/api/rooms/{room}/documents/absent.txt")))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    let json: serde_json::Value = response.json().await.expect("json");
    assert_eq!(json["error"]["code"], "document_not_found");
    relay.stop().await;
}
