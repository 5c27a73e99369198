//! The fuzz corpus and mutations of `protocol/tests/fuzz/`, sent over a real WebSocket to
//! a real relay: the size check, the decoder and the document owner as the relay runs
//! them. Every frame must get the answer the protocol promises (a frame over the limit
//! `message_too_large`, one that does not decode `bad_message`), the relay must keep
//! answering, and afterwards the document must be exactly what a well-behaved client,
//! which saw every committed operation, holds.
//!
//! `PAIRPROG_FUZZ_SEED` replays a run; `PAIRPROG_FUZZ_FRAMES` (default 300) sets its
//! length.

mod common;

#[path = "../../protocol/tests/fuzz/mutate.rs"]
#[allow(dead_code)]
mod mutate;

use std::path::Path;

use common::{TestClient, TestDb, TestRelay};
use futures_util::{SinkExt, StreamExt};
use mutate::Rng;
use pairprog_protocol::messages::{ClientMessage, ErrorCode, ServerMessage, PROTOCOL_VERSION};
use pairprog_protocol::Operation;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const PATH: &str = "doc.txt";
const TEXT: &str = "hello 😀\r\nworld\n";
const LIMIT: usize = 4096;
/// The relay's socket-level cap for this limit (`relay/src/ws.rs`): beyond it the
/// connection is closed rather than answered.
const HARD_CAP: usize = 64 * 1024;
/// An error every frame is followed by, so the answers to one frame are those before it.
const PROBE: &str = r#"{"type":"cursor","path":"probe/never-open.txt","selections":[]}"#;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/fuzz-corpus/ws_message");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the protocol's fuzz corpus")
        .map(|e| e.expect("a corpus entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read(f).expect("a corpus file"))
        .collect()
}

/// Connects, says hello and opens the document.
async fn connect(url: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .expect("websocket connects");
    let hello = ClientMessage::Hello {
        protocol: PROTOCOL_VERSION,
        name: "mallory".into(),
        client_key: Some(common::client::new_client_key()),
    };
    send(&mut ws, &serde_json::to_string(&hello).unwrap())
        .await
        .expect("send hello");
    let open = ClientMessage::Open {
        path: PATH.into(),
        language: None,
        text: None,
        revision: None,
    };
    send(&mut ws, &serde_json::to_string(&open).unwrap())
        .await
        .expect("send open");
    loop {
        match recv(&mut ws).await.expect("welcome and opened") {
            ServerMessage::Opened { .. } => return ws,
            ServerMessage::Error { code, message, .. } => panic!("{code:?}: {message}"),
            _ => {}
        }
    }
}

async fn send(ws: &mut Ws, text: &str) -> Result<(), String> {
    ws.send(Message::text(text.to_owned()))
        .await
        .map_err(|e| e.to_string())
}

/// The next message, or `None` once the relay closed the connection.
async fn recv(ws: &mut Ws) -> Option<ServerMessage> {
    loop {
        let frame = tokio::time::timeout(common::client::WAIT, ws.next())
            .await
            .expect("the relay answers in time");
        match frame {
            Some(Ok(Message::Text(text))) => {
                return Some(serde_json::from_str(&text).expect("the relay sends valid JSON"))
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// The error codes the relay sent in answer to one frame, up to the probe's answer, or
/// `None` when it closed the connection instead. Answers about an operation (they carry
/// its `seq`) come from the document's owner task and may arrive after the probe, so
/// they are left out.
async fn answers(ws: &mut Ws) -> Option<Vec<ErrorCode>> {
    let mut codes = Vec::new();
    loop {
        match recv(ws).await? {
            ServerMessage::Error {
                code: ErrorCode::NotOpen,
                path: Some(path),
                ..
            } if path == "probe/never-open.txt" => return Some(codes),
            ServerMessage::Error {
                code, seq: None, ..
            } => codes.push(code),
            _ => {}
        }
    }
}

/// Sends an operation through the document owner and waits for its answer: the owner
/// handles its queue in order, so every earlier operation has been decided by then.
async fn drain_document_queue(ws: &mut Ws) {
    const MARKER: u64 = 999_999_999;
    let marker = format!(r#"{{"type":"op","path":"{PATH}","base":0,"seq":{MARKER},"op":[]}}"#);
    send(ws, &marker).await.expect("send the marker");
    loop {
        match recv(ws).await.expect("the marker is answered") {
            ServerMessage::Ack { seq: MARKER, .. }
            | ServerMessage::Error {
                seq: Some(MARKER), ..
            } => return,
            _ => {}
        }
    }
}

#[tokio::test]
async fn mutated_frames_get_their_answers_and_leave_the_document_consistent() {
    let seed = std::env::var("PAIRPROG_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
    let frames: u64 = std::env::var("PAIRPROG_FUZZ_FRAMES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    eprintln!("fuzz_ws: seed {seed}, {frames} frames (replay with PAIRPROG_FUZZ_SEED={seed})");

    let relay = TestRelay::start_with(TestDb::sqlite(), |c| {
        c.max_message_bytes = LIMIT;
        c.max_document_bytes = 512;
    })
    .await;
    let room = relay.create_room().await;
    let url = relay.ws_url(&room);
    let mut alice = TestClient::join(&url, "alice", None).await;
    alice.open(PATH, Some(TEXT)).await;

    let corpus = corpus();
    let mut mallory = connect(&url).await;
    let (mut decoded, mut too_large, mut closed) = (0, 0, 0);
    for iteration in 0..frames {
        let mut rng = Rng::for_iteration(seed, iteration);
        let mut frame = rng.pick(&corpus).clone();
        for _ in 0..1 + rng.below(3) {
            let other = rng.pick(&corpus).clone();
            mutate::mutate_bytes(&mut rng, &mut frame, &other);
        }
        // Text frames are UTF-8 by definition; the socket library refuses anything else.
        let frame = String::from_utf8_lossy(&frame).into_owned();
        let label = format!("seed {seed} iteration {iteration}, {} bytes", frame.len());

        let sent =
            send(&mut mallory, &frame).await.is_ok() && send(&mut mallory, PROBE).await.is_ok();
        let codes = if sent {
            answers(&mut mallory).await
        } else {
            None
        };
        let Some(codes) = codes else {
            // Only a frame beyond the socket cap may cost the connection.
            assert!(
                frame.len() > HARD_CAP,
                "{label}: the relay closed the connection"
            );
            closed += 1;
            mallory = connect(&url).await;
            continue;
        };
        if frame.len() > LIMIT {
            too_large += 1;
            assert_eq!(codes, [ErrorCode::MessageTooLarge], "{label}");
        } else if serde_json::from_str::<ClientMessage>(&frame).is_err() {
            assert_eq!(codes, [ErrorCode::BadMessage], "{label}");
        } else {
            decoded += 1;
            assert!(codes.len() <= 1, "{label}: {codes:?}");
        }
        if iteration % 25 == 0 {
            // Mutated frames close or reopen the document now and then; keep Mallory's
            // operations reaching it.
            mallory = connect(&url).await;
        }
    }
    eprintln!(
        "fuzz_ws: {frames} frames: {decoded} decoded, {too_large} over the limit, \
         {closed} closed the connection"
    );

    // Whatever Mallory's frames committed reached Alice as remote operations before the
    // ack of her own next edit; then her copy is the relay's.
    let mut mallory = connect(&url).await;
    drain_document_queue(&mut mallory).await;
    let len = alice.text(PATH).chars().count();
    alice
        .edit(PATH, Operation::new().retain(len).insert("!"))
        .await;
    alice.settle(PATH, 0).await;
    let (text, _) = relay.document(&room, PATH).await;
    assert_eq!(alice.text(PATH), text, "seed {seed}");
    assert!(text.ends_with('!'), "{text:?}");
}
