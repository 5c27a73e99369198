//! One connection cannot use up what the others need: HTTP connections that send
//! nothing (or half a request) are closed after a timeout and are capped in number, and
//! a flood of WebSocket messages is read at a bounded rate, with cursor updates
//! coalesced so the other participants' queues never overflow.

mod common;

use std::time::Duration;

use common::{TestClient, TestDb, TestRelay};
use pairprog_protocol::messages::{ClientMessage, Selection, ServerMessage};
use pairprog_protocol::Operation;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the relay closes the socket, for at most `within`. True if it closed.
async fn closed_within(mut socket: TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// 2,000 half-sent requests and 500 silent sockets were all still open after 61 s, and
/// a few hundred of them made `/liveness` time out ("too many open files"): nothing
/// bounded how long a client may take to send its headers, or how many connections may
/// be open at once.
#[tokio::test]
async fn regression_silent_and_half_sent_http_connections_were_never_closed() {
    let mut relay = TestRelay::start_with(TestDb::sqlite(), |c| {
        c.http_header_timeout = Duration::from_millis(300);
        c.max_http_connections = 16;
    })
    .await;
    let mut sockets = Vec::new();
    for i in 0..50 {
        let mut socket = TcpStream::connect(relay.addr()).await.expect("connect");
        if i % 2 == 1 {
            socket
                .write_all(b"GET /liveness HTTP/1.1\r\nHost: relay\r\n")
                .await
                .expect("half a request");
        }
        sockets.push(socket);
    }
    // Only 16 are served at once; each is closed after the timeout, freeing its place
    // for the next. All 50 end in a few timeouts' time, not never.
    let closed = futures_util::future::join_all(
        sockets
            .into_iter()
            .map(|s| closed_within(s, Duration::from_secs(15))),
    )
    .await;
    assert!(closed.iter().all(|c| *c), "{closed:?}");
    // A request whose body stops coming is ended too.
    let mut socket = TcpStream::connect(relay.addr()).await.expect("connect");
    socket
        .write_all(
            b"POST /api/rooms HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"code\":",
        )
        .await
        .expect("half a body");
    assert!(closed_within(socket, Duration::from_secs(15)).await);
    // And the relay answers as before.
    let live = relay
        .http
        .get(relay.url("/liveness"))
        .send()
        .await
        .expect("liveness");
    assert_eq!(live.status(), 200);
    relay.stop().await;
}

/// A read-only watcher sent 145,226 `cursor` messages in 10 s: each became a presence
/// message queued to every other participant, whose outgoing queues overflowed, so the
/// writers were dropped as "too slow" (1008). Messages are now read at a bounded rate
/// per connection, and a connection passes on at most one cursor per document per
/// interval (the latest).
#[tokio::test]
async fn regression_a_watchers_cursor_flood_got_the_writers_kicked() {
    let mut relay = TestRelay::start_with(TestDb::sqlite(), |c| {
        c.outbox_capacity = 16;
    })
    .await;
    let created: serde_json::Value = relay
        .http
        .post(relay.url("/api/rooms"))
        .json(&serde_json::json!({"secrets": true, "code": "hello", "path": "a.txt"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let room = created["roomId"].as_str().expect("roomId");
    let join = created["joinSecret"].as_str().expect("joinSecret");
    let read_only = created["readOnlySecret"].as_str().expect("readOnlySecret");
    let ws = relay.ws_url(room);
    let mut writer = TestClient::join(&format!("{ws}?secret={join}"), "writer", None).await;
    let mut watcher = TestClient::join(&format!("{ws}?secret={read_only}"), "watcher", None).await;
    writer.open("a.txt", None).await;
    watcher.open("a.txt", None).await;

    // The flood, with the largest cursors allowed, for two seconds; the writer reads
    // nothing meanwhile.
    let selections: Vec<Selection> = (0..64).map(|i| Selection { anchor: i, head: i }).collect();
    let cursor = serde_json::to_string(&ClientMessage::Cursor {
        path: "a.txt".into(),
        selections,
        revision: None,
    })
    .expect("json");
    let started = tokio::time::Instant::now();
    let flood = Duration::from_secs(2);
    let mut sent = 0;
    while sent < 50_000 {
        let Some(left) = flood.checked_sub(started.elapsed()) else {
            break;
        };
        // The relay reads slowly now, so sending blocks once the socket's buffers are
        // full; a send cut short here ends the flood (the watcher is not used again).
        if tokio::time::timeout(left, watcher.send_raw(&cursor))
            .await
            .is_err()
        {
            break;
        }
        sent += 1;
    }
    let flooded_for = started.elapsed();

    // The writer was not dropped, and heard about one cursor per interval, not one per
    // message.
    writer
        .edit("a.txt", Operation::new().retain(5).insert("!"))
        .await;
    let mut presence = 0;
    loop {
        match writer.recv().await {
            Some(ServerMessage::Presence(_)) => presence += 1,
            Some(ServerMessage::Ack { .. }) => break,
            Some(ServerMessage::Error { message, .. }) => panic!("{message}"),
            Some(_) => {}
            None => panic!("the writer was disconnected after {sent} cursor messages"),
        }
    }
    // 50 ms apart at most: about 40 in two seconds, whatever was sent.
    let bound = (flooded_for.as_millis() / 50) as usize + 10;
    assert!(
        presence <= bound,
        "{presence} presence messages for {sent} cursor messages in {flooded_for:?}"
    );
    drop(watcher);
    relay.stop().await;
}
