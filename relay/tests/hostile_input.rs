//! Input a hostile or careless client can send that used to pass the relay's checks and
//! fail later, where it hurt others: counters the database cannot hold, NUL characters
//! Postgres cannot store, look-alike paths, frames too large or not UTF-8. Each gets a
//! clear error to its sender only, and behaves the same on SQLite and Postgres.

mod common;

use common::client::refusal;
use common::{backends, raw, TestClient, TestRelay};
use pairprog_protocol::messages::{ClientMessage, ErrorCode, ServerMessage};
use pairprog_protocol::Operation;

const PATH: &str = "doc.txt";

/// `seq` ≥ 2^63 passed decoding, was sequenced into a batch with everyone else's
/// operations, and failed the whole batch at storage ("corrupt stored operation"): the
/// other writers got `unavailable` and the document reloaded, again and again.
#[tokio::test]
async fn regression_seq_beyond_i64_failed_everyones_batch() {
    for db in backends().await {
        let kind = db.kind;
        let mut relay = TestRelay::start(db).await;
        let room = relay.create_room().await;
        let mut good = TestClient::join(&relay.ws_url(&room), "alice", None).await;
        let mut bad = TestClient::join(&relay.ws_url(&room), "mallory", None).await;
        good.open(PATH, Some("ab")).await;
        bad.open(PATH, None).await;
        let huge = 1u64 << 63;
        for message in [
            format!(r#"{{"type":"op","path":"{PATH}","base":0,"seq":{huge},"op":[2,"x"]}}"#),
            format!(r#"{{"type":"op","path":"{PATH}","base":{huge},"seq":1,"op":[2,"x"]}}"#),
            format!(
                r#"{{"type":"op","path":"{PATH}","base":0,"seq":{},"op":[2,"x"]}}"#,
                u64::MAX
            ),
            format!(r#"{{"type":"open","path":"{PATH}","revision":{huge}}}"#),
        ] {
            // The good client's edit races the bad one into the same batch.
            let len = good.docs[PATH].text.len_chars();
            good.edit(PATH, Operation::new().retain(len).insert("g"))
                .await;
            bad.send_raw(&message).await;
            let why = bad.expect_error(ErrorCode::BadMessage).await;
            assert!(why.contains("2^63"), "{kind}: {why}");
            let revision = good.docs[PATH].ot.revision() + 1;
            good.settle(PATH, revision).await;
            let (text, _) = relay.document(&room, PATH).await;
            assert_eq!(text, good.text(PATH), "{kind}");
        }
        let (text, revision) = relay.document(&room, PATH).await;
        assert_eq!((text.as_str(), revision), ("abgggg", 4), "{kind}");
        // The largest allowed seq still works.
        bad.send_raw(&format!(
            r#"{{"type":"op","path":"{PATH}","base":4,"seq":{},"op":[6,"!"]}}"#,
            i64::MAX
        ))
        .await;
        bad.wait_for(|m| matches!(m, ServerMessage::Ack { .. }))
            .await;
        assert!(
            !good
                .inbox
                .iter()
                .any(|m| matches!(m, ServerMessage::Error { .. })),
            "{kind}: {:?}",
            good.inbox
        );
        relay.stop().await;
    }
}

/// Postgres refuses U+0000 in `text` and SQLite stores it: `POST /api/rooms` answered
/// 503 yet created the room, a WebSocket `open` got `unavailable` forever, and an
/// operation inserting NUL was acknowledged, after which every snapshot failed. Now NUL
/// is refused everywhere, before anything is written, identically on both backends.
#[tokio::test]
async fn regression_nul_characters_behaved_differently_on_postgres() {
    for db in backends().await {
        let kind = db.kind;
        let mut relay = TestRelay::start(db).await;
        let store = relay.relay.as_ref().expect("running").state.store.clone();
        let rooms_before = store.count_rooms().await.expect("count");
        for body in [
            serde_json::json!({ "code": "a\u{0}b" }),
            serde_json::json!({ "code": "ab", "path": "a\u{0}.txt" }),
            serde_json::json!({ "code": "ab", "language": "py\u{0}" }),
        ] {
            let response = relay
                .http
                .post(relay.url("/api/rooms"))
                .json(&body)
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let json: serde_json::Value = response.json().await.expect("json");
            assert_eq!(status, 422, "{kind} {body}: {json}");
            let code = json["error"]["code"].as_str().unwrap_or_default();
            assert!(
                code == "invalid_text" || code == "invalid_path",
                "{kind}: {json}"
            );
        }
        assert_eq!(
            store.count_rooms().await.expect("count"),
            rooms_before,
            "{kind}: a refused request created a room"
        );
        assert!(matches!(
            store.create_document("x", "a", "plaintext", "a\0b").await,
            Err(pairprog_relay::store::StoreError::NulCharacter)
        ));

        let room = relay.create_room().await;
        let mut client = TestClient::join(&relay.ws_url(&room), "alice", None).await;
        let mut other = TestClient::join(&relay.ws_url(&room), "bob", None).await;
        client
            .send(&ClientMessage::Open {
                path: "nul.txt".into(),
                language: None,
                text: Some("a\0b".into()),
                revision: None,
            })
            .await;
        let why = client.expect_error(ErrorCode::BadMessage).await;
        assert!(why.contains("U+0000"), "{kind}: {why}");
        client.open(PATH, Some("ab")).await;
        other.open(PATH, None).await;
        client
            .send_raw(&format!(
                r#"{{"type":"op","path":"{PATH}","base":0,"seq":1,"op":[1,"\u0000",1]}}"#
            ))
            .await;
        client.expect_error(ErrorCode::BadMessage).await;
        // Nothing was stored, and both clients go on editing.
        assert_eq!(relay.document(&room, PATH).await, ("ab".to_owned(), 0));
        client
            .edit(PATH, Operation::new().retain(2).insert("c"))
            .await;
        client.settle(PATH, 1).await;
        other
            .wait_for(|m| matches!(m, ServerMessage::Remote { .. }))
            .await;
        assert_eq!(relay.document(&room, PATH).await, ("abc".to_owned(), 1));
        assert!(
            !other
                .inbox
                .iter()
                .any(|m| matches!(m, ServerMessage::Error { .. })),
            "{kind}: {:?}",
            other.inbox
        );
        relay.stop().await;
    }
}

/// A frame over the limit closed with 1005/1006 instead of 1009, and a first frame that was not a text `hello` was dropped with
/// no word. Each now gets an error naming the problem, then the right close code.
#[tokio::test]
async fn regression_bad_frames_closed_without_a_reason_or_the_right_code() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let mut relay = TestRelay::start_with(common::TestDb::sqlite(), |c| {
        c.max_message_bytes = 4096;
    })
    .await;
    let room = relay.create_room().await;
    // Over the limit but under the socket's hard cap (twice the limit, at least
    // 64 KiB), so the relay reads it whole: as hello, the error then 1009; after it,
    // the error and the connection goes on.
    let mut ws = raw(&relay, &room).await;
    let big = format!(
        r#"{{"type":"hello","protocol":1,"name":"{}"}}"#,
        "x".repeat(10_000)
    );
    let _ = ws.send(Message::text(big)).await;
    assert_eq!(
        refusal(&mut ws).await,
        (vec![ErrorCode::MessageTooLarge], Some(1009))
    );
    let mut client = TestClient::join(&relay.ws_url(&room), "a", None).await;
    client.send_raw(&"x".repeat(10_000)).await;
    client.expect_error(ErrorCode::MessageTooLarge).await;
    client.send_raw("{not json").await;
    client.expect_error(ErrorCode::BadMessage).await;
    // Frames that are not UTF-8, and frames past the socket's cap: `close_codes.rs`.
    // A binary first frame, and a hello with a NUL in the name or client id.
    let mut ws = raw(&relay, &room).await;
    ws.send(Message::binary(b"hello".to_vec()))
        .await
        .expect("send");
    assert_eq!(
        refusal(&mut ws).await,
        (vec![ErrorCode::BadMessage], Some(1003))
    );
    for bad in [
        r#"{"type":"hello","protocol":1,"name":"a\u0000b"}"#,
        r#"{"type":"hello","protocol":1,"name":"a","clientKey":"0123456789abcdef0123456789abcde\u0000"}"#,
    ] {
        let mut ws = raw(&relay, &room).await;
        ws.send(Message::text(bad)).await.expect("send");
        assert_eq!(
            refusal(&mut ws).await,
            (vec![ErrorCode::BadMessage], Some(1008))
        );
    }
    relay.stop().await;
}

/// Names that look alike were different documents (NFC and NFD `café`); now the room
/// keys documents by the NFC form, and refuses invisible and slash-like characters.
#[tokio::test]
async fn regression_look_alike_paths_were_different_documents() {
    for db in backends().await {
        let kind = db.kind;
        let mut relay = TestRelay::start(db).await;
        let room = relay.create_room().await;
        let mut client = TestClient::join(&relay.ws_url(&room), "alice", None).await;
        let nfd = "cafe\u{301}.txt";
        let nfc = "caf\u{e9}.txt";
        client
            .send(&ClientMessage::Open {
                path: nfd.into(),
                language: None,
                text: Some("hi".into()),
                revision: None,
            })
            .await;
        let opened = client
            .wait_for(|m| {
                matches!(
                    m,
                    ServerMessage::Opened { .. } | ServerMessage::Error { .. }
                )
            })
            .await;
        assert!(
            matches!(&opened, ServerMessage::Opened { path, .. } if path == nfc),
            "{kind}: {opened:?}"
        );
        assert_eq!(relay.document(&room, nfd).await, ("hi".to_owned(), 0));
        assert_eq!(relay.document(&room, nfc).await, ("hi".to_owned(), 0));
        for bad in [
            "\u{202E}txt.exe",
            "a\u{200B}.txt",
            "\u{FEFF}a.txt",
            "a\u{FF0F}b",
            "a\u{2215}b",
        ] {
            client
                .send(&ClientMessage::Open {
                    path: bad.into(),
                    language: None,
                    text: Some("x".into()),
                    revision: None,
                })
                .await;
            client.expect_error(ErrorCode::InvalidPath).await;
        }
        relay.stop().await;
    }
}

/// The per-room document cap was a count followed by an insert: concurrent creates all
/// saw room for one more (1,001 documents in a room capped at 1,000).
#[tokio::test]
async fn regression_concurrent_creates_exceeded_the_per_room_document_cap() {
    for db in backends().await {
        let kind = db.kind;
        let mut relay = TestRelay::start_with(db, |c| c.max_documents_per_room = 5).await;
        let store = relay.relay.as_ref().expect("running").state.store.clone();
        let room = relay.create_room().await;
        let mut clients = Vec::new();
        for i in 0..4 {
            clients.push(TestClient::join(&relay.ws_url(&room), &format!("c{i}"), None).await);
        }
        // Every open goes to its own document owner, so the creates run concurrently.
        for (i, client) in clients.iter_mut().enumerate() {
            for j in 0..6 {
                client
                    .send(&ClientMessage::Open {
                        path: format!("d{i}-{j}.txt"),
                        language: None,
                        text: Some("x".into()),
                        revision: None,
                    })
                    .await;
            }
        }
        let mut opened = 0;
        for client in &mut clients {
            for _ in 0..6 {
                match client
                    .wait_for(|m| {
                        matches!(
                            m,
                            ServerMessage::Opened { .. } | ServerMessage::Error { .. }
                        )
                    })
                    .await
                {
                    ServerMessage::Opened { .. } => opened += 1,
                    ServerMessage::Error { code, .. } => assert!(
                        matches!(code, ErrorCode::TooManyDocuments | ErrorCode::Unavailable),
                        "{kind}: {code:?}"
                    ),
                    _ => unreachable!(),
                }
            }
        }
        let stored = store.count_documents(&room).await.expect("count");
        assert_eq!(
            stored, 5,
            "{kind}: {stored} documents stored, {opened} opened"
        );
        assert_eq!(opened, 5, "{kind}");
        relay.stop().await;
    }
}
