//! Per-IP rate limits, connection caps, the allowed Origin list and body limits: each
//! refusal has its status, its clear reason, and its counter in /metrics.

mod common;

use common::{TestClient, TestDb, TestRelay};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// The status a WebSocket upgrade got (101 when it succeeded), with an optional Origin.
async fn upgrade_status(url: &str, origin: Option<&str>) -> u16 {
    let mut request = url.into_client_request().expect("request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).expect("header"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected connect error: {e}"),
    }
}

#[tokio::test]
async fn room_creation_is_rate_limited_per_address() {
    let mut relay =
        TestRelay::start_with(TestDb::sqlite(), |c| c.room_creates_per_minute = 3).await;
    for _ in 0..3 {
        relay.create_room().await;
    }
    let refused = relay
        .http
        .post(relay.url("/api/rooms"))
        .send()
        .await
        .expect("POST");
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(relay
        .metrics()
        .await
        .contains("pairprog_rate_limited_room_creates_total 1"));
    // Reading is not limited.
    assert_eq!(
        relay
            .http
            .get(relay.url("/health"))
            .send()
            .await
            .expect("health")
            .status(),
        200
    );
    relay.stop().await;
}

#[tokio::test]
async fn websocket_connects_are_rate_limited_per_address() {
    let mut relay = TestRelay::start_with(TestDb::sqlite(), |c| c.connects_per_minute = 2).await;
    let room = relay.create_room().await;
    let _a = TestClient::join(&relay.ws_url(&room), "a", None).await;
    let _b = TestClient::join(&relay.ws_url(&room), "b", None).await;
    assert_eq!(upgrade_status(&relay.ws_url(&room), None).await, 429);
    assert!(relay
        .metrics()
        .await
        .contains("pairprog_rate_limited_connects_total 1"));
    relay.stop().await;
}

#[tokio::test]
async fn connections_are_capped_per_room_and_in_total() {
    let mut relay = TestRelay::start_with(TestDb::sqlite(), |c| {
        c.max_connections_per_room = 2;
        c.max_connections = 3;
    })
    .await;
    let first = relay.create_room().await;
    let second = relay.create_room().await;
    let _a = TestClient::join(&relay.ws_url(&first), "a", None).await;
    let _b = TestClient::join(&relay.ws_url(&first), "b", None).await;
    assert_eq!(upgrade_status(&relay.ws_url(&first), None).await, 503);
    let c = TestClient::join(&relay.ws_url(&second), "c", None).await;
    assert_eq!(upgrade_status(&relay.ws_url(&second), None).await, 503);
    let text = relay.metrics().await;
    assert!(
        text.contains("pairprog_room_full_refused_total 1"),
        "{text}"
    );
    assert!(
        text.contains("pairprog_relay_full_refused_total 1"),
        "{text}"
    );
    // A connection that ends gives its place back.
    drop(c);
    let mut freed = false;
    for _ in 0..200 {
        if relay.metrics().await.contains("pairprog_connections 2") {
            freed = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(freed, "the dropped connection was not counted out");
    let _d = TestClient::join(&relay.ws_url(&second), "d", None).await;
    relay.stop().await;
}

#[tokio::test]
async fn only_allowed_origins_pass_and_requests_without_one_do() {
    let mut relay = TestRelay::start_with(TestDb::sqlite(), |c| {
        c.allowed_origins = vec!["https://app.example".into()];
    })
    .await;
    let room = relay.create_room().await;
    let get = |origin: Option<&'static str>| {
        let mut request = relay.http.get(relay.url(&format!("/api/rooms/{room}")));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    assert_eq!(get(None).await.expect("GET").status(), 200);
    assert_eq!(
        get(Some("https://app.example"))
            .await
            .expect("GET")
            .status(),
        200
    );
    let refused = get(Some("https://evil.example")).await.expect("GET");
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "origin_not_allowed");
    let ws = relay.ws_url(&room);
    assert_eq!(upgrade_status(&ws, Some("https://evil.example")).await, 403);
    assert_eq!(upgrade_status(&ws, Some("https://app.example")).await, 101);
    assert_eq!(upgrade_status(&ws, None).await, 101);
    assert!(relay
        .metrics()
        .await
        .contains("pairprog_origin_refused_total 2"));
    relay.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let mut relay = TestRelay::start_with(TestDb::sqlite(), |c| c.max_message_bytes = 1024).await;
    let big = format!("{{\"code\":\"{}\"}}", "x".repeat(4096));
    // Every route is covered, even one that reads no body.
    for (method, route) in [
        (reqwest::Method::POST, "/api/rooms"),
        (reqwest::Method::POST, "/api/autocomplete"),
        (reqwest::Method::GET, "/health"),
    ] {
        let response = relay
            .http
            .request(method, relay.url(route))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), 413, "{route}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "body_too_large", "{route}");
    }
    // A body under the limit still creates a room.
    let response = relay
        .http
        .post(relay.url("/api/rooms"))
        .body("{\"code\":\"small\"}")
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 201);
    relay.stop().await;
}
