//! The close code a client reads for each frame the relay cannot take, read from a raw
//! client socket (issue 15, defect 13): a text frame that is not UTF-8 closes with 1007,
//! a frame over the size limit with 1009, each after an `error` saying why.

mod common;

use common::client::{refusal, RawWs};
use common::{raw, TestDb, TestRelay};
use futures_util::{SinkExt, StreamExt};
use pairprog_protocol::messages::{ErrorCode, ServerMessage};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

const LIMIT: usize = 4096;

async fn relay() -> (TestRelay, String) {
    let relay = TestRelay::start_with(TestDb::sqlite(), |c| c.max_message_bytes = LIMIT).await;
    let room = relay.create_room().await;
    (relay, room)
}

/// A text frame holding bytes that are not UTF-8 (a lone continuation byte).
fn not_utf8() -> Message {
    Message::Frame(Frame::message(
        b"{\"type\":\"hello\",\"name\":\"\x80\"}".to_vec(),
        OpCode::Data(Data::Text),
        true,
    ))
}

async fn joined(relay: &TestRelay, room: &str) -> RawWs {
    let mut ws = raw(relay, room).await;
    ws.send(Message::text(r#"{"type":"hello","protocol":1,"name":"a"}"#))
        .await
        .expect("send hello");
    let welcome = common::client::next_message(&mut ws).await;
    assert!(
        matches!(welcome, ServerMessage::Welcome { .. }),
        "{welcome:?}"
    );
    ws
}

/// Sends `message` while reading what the relay answers: a frame far over the limit is
/// refused before it is all sent, so the send may fail or never finish on its own.
async fn refusal_of(ws: RawWs, message: Message) -> (Vec<ErrorCode>, Option<u16>) {
    let (mut sink, mut stream) = ws.split();
    let sending = tokio::spawn(async move {
        let _ = sink.send(message).await;
    });
    let result = read_refusal(&mut stream).await;
    sending.abort();
    result
}

/// As `common::client::refusal`, on the reading half of a split socket.
async fn read_refusal(
    stream: &mut futures_util::stream::SplitStream<RawWs>,
) -> (Vec<ErrorCode>, Option<u16>) {
    let mut errors = Vec::new();
    loop {
        let next = tokio::time::timeout(common::client::WAIT, stream.next())
            .await
            .expect("the relay answers in time");
        match next {
            Some(Ok(Message::Text(text))) => {
                if let Ok(ServerMessage::Error { code, .. }) = serde_json::from_str(&text) {
                    errors.push(code);
                }
            }
            Some(Ok(Message::Close(frame))) => return (errors, frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (errors, None),
        }
    }
}

/// A text frame that was not UTF-8 reset the connection: no error, no close frame. The
/// relay downcast the read error to its own tungstenite (0.26), not the one inside
/// axum's WebSocket (0.29), so it never recognised the error and just dropped the socket.
#[tokio::test]
async fn regression_invalid_utf8_reset_the_connection_instead_of_closing_with_1007() {
    let (mut relay, room) = relay().await;
    // As the first frame, in place of a hello.
    let mut ws = raw(&relay, &room).await;
    ws.send(not_utf8()).await.expect("send");
    assert_eq!(
        refusal(&mut ws).await,
        (vec![ErrorCode::BadMessage], Some(1007))
    );
    // And after joining.
    let mut ws = joined(&relay, &room).await;
    ws.send(not_utf8()).await.expect("send");
    assert_eq!(
        refusal(&mut ws).await,
        (vec![ErrorCode::BadMessage], Some(1007))
    );
    relay.stop().await;
}

/// A frame over twice the limit (the most the socket reads) reset the connection, for
/// the same reason as above: the capacity error was not recognised.
#[tokio::test]
async fn regression_frames_over_twice_the_limit_were_reset_instead_of_closed_with_1009() {
    let (mut relay, room) = relay().await;
    let huge = "x".repeat(10 * 1024 * 1024);
    // A hello of 10 MB.
    let ws = raw(&relay, &room).await;
    let hello = format!(r#"{{"type":"hello","protocol":1,"name":"{huge}"}}"#);
    assert_eq!(
        refusal_of(ws, Message::text(hello)).await,
        (vec![ErrorCode::MessageTooLarge], Some(1009))
    );
    // A 10 MB frame after joining.
    let ws = joined(&relay, &room).await;
    assert_eq!(
        refusal_of(ws, Message::text(huge.clone())).await,
        (vec![ErrorCode::MessageTooLarge], Some(1009))
    );
    // Just over the limit but under the socket's cap: an error, and the connection
    // goes on (as a hello: the error and 1009).
    let mut ws = joined(&relay, &room).await;
    ws.send(Message::text("x".repeat(LIMIT + 1)))
        .await
        .expect("send");
    ws.send(Message::text(r#"{"type":"close","path":"a"}"#))
        .await
        .expect("send");
    ws.send(Message::text("{not json")).await.expect("send");
    let first = common::client::next_message(&mut ws).await;
    assert!(
        matches!(
            first,
            ServerMessage::Error {
                code: ErrorCode::MessageTooLarge,
                ..
            }
        ),
        "{first:?}"
    );
    let second = common::client::next_message(&mut ws).await;
    assert!(
        matches!(
            second,
            ServerMessage::Error {
                code: ErrorCode::BadMessage,
                ..
            }
        ),
        "the connection goes on: {second:?}"
    );
    relay.stop().await;
}
