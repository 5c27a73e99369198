//! The web client's routes: pages with their security headers and a fresh CSP nonce, and
//! the room secret presented as a WebSocket subprotocol instead of in the URL.

mod common;

use common::{TestDb, TestRelay};
use futures_util::{SinkExt, StreamExt};
use pairprog_protocol::messages::{ClientMessage, ServerMessage, PROTOCOL_VERSION};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn pages_carry_a_strict_policy_with_a_fresh_nonce() {
    let mut relay = TestRelay::start(TestDb::sqlite()).await;
    let mut nonces = Vec::new();
    for path in ["/", "/r/some-room", "/docs", "/"] {
        let response = relay.http.get(relay.url(path)).send().await.expect("GET");
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let csp = header("content-security-policy");
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("referrer-policy"), "no-referrer");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a nonce")
            .to_owned();
        let body = response.text().await.expect("body");
        assert!(body.contains(&format!("content=\"{nonce}\"")), "{path}");
        nonces.push(nonce);
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 4, "every response gets its own nonce");

    let script = relay
        .http
        .get(relay.url("/assets/room.js"))
        .send()
        .await
        .expect("GET");
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(script.headers()["x-content-type-options"], "nosniff");
    for missing in ["/assets/index.html", "/assets/nope.js"] {
        let response = relay
            .http
            .get(relay.url(missing))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 404, "{missing}");
    }
    relay.stop().await;
}

/// Upgrades with the subprotocols a browser offers; returns the HTTP status and, on
/// success, the chosen subprotocol and the `welcome`.
async fn upgrade(url: &str, protocols: &str) -> (u16, Option<String>, Option<ServerMessage>) {
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(protocols).expect("header"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut socket, response)) => {
            let chosen = response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let hello = ClientMessage::Hello {
                protocol: PROTOCOL_VERSION,
                name: "browser".into(),
                client_key: None,
            };
            let text = serde_json::to_string(&hello).expect("json");
            socket.send(Message::text(text)).await.expect("send");
            let welcome = match socket.next().await {
                Some(Ok(Message::Text(text))) => serde_json::from_str(&text).ok(),
                _ => None,
            };
            (101, chosen, welcome)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            (response.status().as_u16(), None, None)
        }
        Err(e) => panic!("unexpected connect error: {e}"),
    }
}

#[tokio::test]
async fn the_room_secret_travels_as_a_websocket_subprotocol() {
    let mut relay = TestRelay::start(TestDb::sqlite()).await;
    let body: Value = relay
        .http
        .post(relay.url("/api/rooms"))
        .json(&json!({"secrets": true, "code": "x", "path": "a.txt"}))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("json");
    let room = body["roomId"].as_str().expect("roomId");
    let url = relay.ws_url(room);
    let offer = |secret: &str| format!("pairprog.v1, pairprog.secret.{secret}");

    let join = body["joinSecret"].as_str().expect("joinSecret");
    let (status, chosen, welcome) = upgrade(&url, &offer(join)).await;
    assert_eq!(status, 101);
    assert_eq!(chosen.as_deref(), Some("pairprog.v1"));
    match welcome {
        Some(ServerMessage::Welcome { you, .. }) => assert!(!you.read_only),
        other => panic!("expected welcome, got {other:?}"),
    }

    let read_only = body["readOnlySecret"].as_str().expect("readOnlySecret");
    match upgrade(&url, &offer(read_only)).await {
        (101, _, Some(ServerMessage::Welcome { you, .. })) => assert!(you.read_only),
        other => panic!("expected a read-only welcome, got {other:?}"),
    }

    assert_eq!(upgrade(&url, &offer("wrong")).await.0, 403);
    assert_eq!(upgrade(&url, "pairprog.v1").await.0, 403);
    relay.stop().await;
}
