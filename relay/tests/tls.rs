//! HTTPS and WSS (`--tls-cert`, `--tls-key`), with a CA and certificate made in the test:
//! REST and a room session work over TLS for a client trusting the CA; plain HTTP to the
//! TLS port and a client that does not trust the CA fail; a bad certificate or key stops
//! the relay at start with an error naming the problem.

#[path = "common/certs.rs"]
mod certs;
mod common;

use std::time::Duration;

use certs::TestCerts;
use common::{TestDb, TestRelay};
use futures_util::{SinkExt, StreamExt};
use pairprog_protocol::messages::{ClientMessage, ServerMessage, PROTOCOL_VERSION};
use pairprog_protocol::Operation;
use pairprog_relay::tls::TlsError;
use pairprog_relay::{Config, Relay, StartError};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

const WAIT: Duration = Duration::from_secs(20);

async fn tls_relay(certs: &TestCerts) -> TestRelay {
    let cert = certs.cert.clone();
    let key = certs.key.clone();
    TestRelay::start_with(TestDb::sqlite(), move |config| {
        config.tls_cert = Some(cert);
        config.tls_key = Some(key);
    })
    .await
}

/// An HTTPS client that trusts the test CA and nothing else.
fn trusting_client(certs: &TestCerts) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(certs.ca_pem.as_bytes()).expect("the CA");
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(WAIT)
        .build()
        .expect("an HTTPS client")
}

type Wss =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Wss, message: &ClientMessage) {
    let text = serde_json::to_string(message).expect("JSON");
    ws.send(Message::text(text)).await.expect("send over WSS");
}

/// The next protocol message, skipping presence and other messages `wanted` ignores.
async fn wait_for(ws: &mut Wss, wanted: impl Fn(&ServerMessage) -> bool) -> ServerMessage {
    tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let message: ServerMessage =
                        serde_json::from_str(&text).expect("a protocol message");
                    if wanted(&message) {
                        return message;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("the WSS connection ended: {other:?}"),
            }
        }
    })
    .await
    .expect("the relay answers within the timeout")
}

#[tokio::test]
async fn https_and_a_wss_room_session_work_for_a_client_trusting_the_ca() {
    let certs = TestCerts::new("relay-session");
    let mut relay = tls_relay(&certs).await;
    let running = relay.relay.as_ref().expect("running");
    assert!(running.tls);
    assert_eq!(running.base_url(), format!("https://{}", relay.addr()));
    let base = format!("https://{}", relay.addr());
    let http = trusting_client(&certs);

    let liveness = http
        .get(format!("{base}/liveness"))
        .send()
        .await
        .expect("GET /liveness over HTTPS");
    assert_eq!(liveness.status(), 200);
    let body: serde_json::Value = liveness.json().await.expect("JSON");
    assert_eq!(body["status"], "alive");

    let created: serde_json::Value = http
        .post(format!("{base}/api/rooms"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("POST /api/rooms over HTTPS")
        .json()
        .await
        .expect("JSON");
    let room = created["roomId"].as_str().expect("roomId").to_owned();

    let url = format!("wss://{}/ws/{room}", relay.addr());
    let connector = Connector::Rustls(certs.client_config());
    let (mut ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(url.as_str(), None, true, Some(connector))
            .await
            .expect("a WSS connection");
    send(
        &mut ws,
        &ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            name: "ada".into(),
            client_key: None,
        },
    )
    .await;
    let welcome = wait_for(&mut ws, |m| matches!(m, ServerMessage::Welcome { .. })).await;
    assert!(matches!(welcome, ServerMessage::Welcome { room_id, .. } if room_id == room));
    send(
        &mut ws,
        &ClientMessage::Open {
            path: "main.rs".into(),
            language: None,
            text: Some("hello".into()),
            revision: None,
        },
    )
    .await;
    let opened = wait_for(&mut ws, |m| matches!(m, ServerMessage::Opened { .. })).await;
    let ServerMessage::Opened { revision, .. } = opened else {
        unreachable!("wait_for returned what it waited for")
    };
    send(
        &mut ws,
        &ClientMessage::Op {
            path: "main.rs".into(),
            base: revision,
            seq: 1,
            op: Operation::new().retain(5).insert(" over TLS"),
        },
    )
    .await;
    let ack = wait_for(&mut ws, |m| matches!(m, ServerMessage::Ack { .. })).await;
    assert!(matches!(ack, ServerMessage::Ack { seq: 1, .. }), "{ack:?}");

    let document: serde_json::Value = http
        .get(format!("{base}/api/rooms/{room}/documents/main.rs"))
        .send()
        .await
        .expect("GET the document over HTTPS")
        .json()
        .await
        .expect("JSON");
    assert_eq!(document["text"], "hello over TLS");

    // Graceful shutdown still works with TLS: the connection is closed, the relay stops.
    tokio::time::timeout(WAIT, relay.stop())
        .await
        .expect("the TLS relay shuts down");
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the WSS connection closes at shutdown");
}

#[tokio::test]
async fn plain_http_and_untrusting_clients_are_refused() {
    let certs = TestCerts::new("relay-refused");
    let relay = tls_relay(&certs).await;
    let addr = relay.addr();
    let plain = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("an HTTP client");
    let answer = plain.get(format!("http://{addr}/liveness")).send().await;
    assert!(
        answer.is_err(),
        "plain HTTP to the TLS port must not be served: {answer:?}"
    );

    let ws = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/any")).await;
    assert!(ws.is_err(), "plain WebSocket to the TLS port must fail");

    // A client with only the built-in roots does not trust the test CA.
    let untrusting = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .timeout(WAIT)
        .build()
        .expect("an HTTPS client");
    let error = untrusting
        .get(format!("https://{addr}/liveness"))
        .send()
        .await
        .expect_err("a client not trusting the CA must fail");
    let chain = format!("{:?}", error);
    assert!(
        chain.to_lowercase().contains("certificate"),
        "the failure is about the certificate: {chain}"
    );

    // The relay still serves a trusting client after those failed handshakes.
    let ok = trusting_client(&certs)
        .get(format!("https://{addr}/liveness"))
        .send()
        .await
        .expect("HTTPS after failed handshakes");
    assert_eq!(ok.status(), 200);
}

async fn start_error(tweak: impl FnOnce(&mut Config)) -> StartError {
    let db = TestDb::sqlite();
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".parse().expect("loopback");
    config.database_url = Some(db.url.clone());
    tweak(&mut config);
    match Relay::start(config).await {
        Ok(relay) => {
            relay.shutdown().await;
            panic!("the relay started with a bad TLS setup");
        }
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_bad_certificate_or_key_stops_the_relay_at_start() {
    let certs = TestCerts::new("relay-bad");

    let missing = certs.dir.join("missing.pem");
    let error = start_error(|c| {
        c.tls_cert = Some(missing.clone());
        c.tls_key = Some(certs.key.clone());
    })
    .await;
    assert!(
        matches!(error, StartError::Tls(TlsError::Certificate { .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains("missing.pem"), "{error}");

    let error = start_error(|c| c.tls_cert = Some(certs.cert.clone())).await;
    assert!(
        matches!(error, StartError::Tls(TlsError::Incomplete)),
        "{error:?}"
    );
    assert!(error.to_string().contains("--tls-key"), "{error}");

    // A key file given as the certificate: PEM, but no certificate in it.
    let error = start_error(|c| {
        c.tls_cert = Some(certs.key.clone());
        c.tls_key = Some(certs.key.clone());
    })
    .await;
    assert!(
        matches!(error, StartError::Tls(TlsError::NoCertificate { .. })),
        "{error:?}"
    );

    // A certificate given as the key: no private key in it.
    let error = start_error(|c| {
        c.tls_cert = Some(certs.cert.clone());
        c.tls_key = Some(certs.cert.clone());
    })
    .await;
    assert!(
        matches!(error, StartError::Tls(TlsError::Key { .. })),
        "{error:?}"
    );

    // A valid key of another certificate.
    let error = start_error(|c| {
        c.tls_cert = Some(certs.cert.clone());
        c.tls_key = Some(certs.other_key.clone());
    })
    .await;
    assert!(
        matches!(error, StartError::Tls(TlsError::Config(_))),
        "{error:?}"
    );
}

/// The binary: the flags' environment fallbacks, and the "listening on" line scripts
/// read says https.
#[tokio::test]
async fn the_binary_says_https_when_serving_tls() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let certs = TestCerts::new("relay-binary");
    let db = TestDb::sqlite();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pairprog-relay"))
        .args(["--listen", "127.0.0.1:0", "--database-url", &db.url])
        .env("PAIRPROG_TLS_CERT", &certs.cert)
        .env("PAIRPROG_TLS_KEY", &certs.key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start pairprog-relay");
    let stdout = child.stdout.take().expect("piped stdout");
    let line = tokio::time::timeout(WAIT, BufReader::new(stdout).lines().next_line())
        .await
        .expect("the relay prints its address in time")
        .expect("read stdout")
        .expect("a line");
    let url = line
        .strip_prefix("pairprog-relay listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(url.starts_with("https://127.0.0.1:"), "{line}");
    let answer = trusting_client(&certs)
        .get(format!("{url}/liveness"))
        .send()
        .await
        .expect("the binary serves HTTPS");
    assert_eq!(answer.status(), 200);
    child.start_kill().expect("stop the relay");
    let _ = child.wait().await;

    // Half a TLS setup is refused with a message naming both flags.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pairprog-relay"))
        .args(["--listen", "127.0.0.1:0", "--database-url", &db.url])
        .env("PAIRPROG_TLS_CERT", &certs.cert)
        .env_remove("PAIRPROG_TLS_KEY")
        .output()
        .await
        .expect("run pairprog-relay");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--tls-key"), "{stderr}");
}
