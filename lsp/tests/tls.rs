//! pairprog-lsp and a `wss://` relay whose certificate a private CA signed (made in the
//! test): with `caFile` the editor creates a room (REST over HTTPS), another joins it
//! (WSS) and an edit reaches the relay; without it, or with an unreadable CA file, the
//! user is told why at once instead of the server retrying forever.

// The relay's tests use parts of it these tests do not (a mismatched key, a client
// configuration in memory).
#[allow(dead_code)]
#[path = "../../relay/tests/common/certs.rs"]
mod certs;
mod common;

use std::time::Duration;

use certs::TestCerts;
use common::editor::{Behaviour, EditorOptions, ScriptedEditor};
use common::typing::Edit;
use common::{assert_no_violations, shutdown_all, wait_quiescent, TestRelay};
use serde_json::{json, Value};

const PATH: &str = "src/main.rs";
const TEXT: &str = "fn main() {}\n";
/// A certificate failure must be reported well before this; a hang would pass it.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

async fn tls_relay(certs: &TestCerts) -> TestRelay {
    TestRelay::start_tls(&certs.cert, &certs.key, &certs.ca_pem).await
}

/// The error a command answered with, failing the test if it succeeded or never answered.
async fn command_error(editor: &ScriptedEditor, command: &str, arguments: Value) -> String {
    let reply = editor
        .try_request(
            "workspace/executeCommand",
            json!({"command": command, "arguments": arguments}),
            ANSWER_WITHIN,
        )
        .await
        .unwrap_or_else(|| {
            panic!(
                "{command}: no answer within {ANSWER_WITHIN:?}\n{}",
                editor.diagnostics()
            )
        });
    match reply {
        Ok(result) => panic!("{command} succeeded against an untrusted relay: {result}"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ca_file_editors_create_and_join_a_room_on_a_wss_relay() {
    let certs = TestCerts::new("lsp-trusted");
    let mut relay = tls_relay(&certs).await;
    let wss = relay.api.ws_base();
    assert!(wss.starts_with("wss://127.0.0.1:"), "{wss}");

    let ada = ScriptedEditor::start(
        EditorOptions::new(Behaviour::VsCode, "ada", &wss, 700)
            .ca_file(&certs.ca)
            .file(PATH, TEXT),
    )
    .await;
    // createRoom goes over HTTPS, then the room's WebSocket over WSS.
    let room = ada.create_room().await;
    ada.wait_in_room(&room).await;

    let grace = ScriptedEditor::start(
        EditorOptions::new(Behaviour::VsCode, "grace", &wss, 701)
            .ca_file(&certs.ca)
            .file(PATH, TEXT),
    )
    .await;
    grace.join_room(&room).await;
    grace.wait_in_room(&room).await;

    ada.type_changes(PATH, 1, |_| {
        Some(Edit {
            start: 0,
            end: 0,
            text: "// over TLS\n".into(),
        })
    });
    let editors = [ada.clone(), grace.clone()];
    let text = wait_quiescent(700, &relay.api, &room, PATH, &editors).await;
    assert_eq!(text, format!("// over TLS\n{TEXT}"));
    assert_eq!(grace.text(PATH), text, "the edit reached the other editor");
    let (relay_text, _) = relay
        .api
        .document(&room, PATH)
        .await
        .expect("the relay has the document");
    assert_eq!(relay_text, text, "the edit reached the relay");

    assert_no_violations(700, &editors);
    shutdown_all(&editors).await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_ca_the_user_is_told_about_the_certificate() {
    let certs = TestCerts::new("lsp-untrusted");
    let mut relay = tls_relay(&certs).await;
    let wss = relay.api.ws_base();
    let editor = ScriptedEditor::start(
        EditorOptions::new(Behaviour::VsCode, "linus", &wss, 710).file(PATH, TEXT),
    )
    .await;

    let error = command_error(&editor, "pairprog.createRoom", json!([])).await;
    assert!(
        error.contains("certificate") && error.contains("caFile"),
        "createRoom over HTTPS names the certificate problem and the setting: {error}"
    );

    // A room that exists, made by a client that trusts the CA.
    let room = relay.api.create_room().await;
    let error = command_error(&editor, "pairprog.joinRoom", json!([room])).await;
    assert!(
        error.contains("certificate") && error.contains("caFile"),
        "joinRoom over WSS names the certificate problem and the setting: {error}"
    );
    // The message is shown without waiting for the editor, so it may come after the
    // reply; this waits for it (and fails the test when it never comes).
    let told = editor
        .wait_notification("window/showMessage", ANSWER_WITHIN, |m| {
            m["message"]
                .as_str()
                .is_some_and(|s| s.contains("certificate"))
        })
        .await;
    assert!(told["message"].to_string().contains("caFile"), "{told}");
    // The server is not stuck reconnecting: it answers and is in no room.
    let status = editor.status().await;
    assert_eq!(status["room"], Value::Null, "{status}");

    shutdown_all(&[editor]).await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_ca_file_is_a_clear_error() {
    let certs = TestCerts::new("lsp-bad-ca");
    let mut relay = tls_relay(&certs).await;
    let wss = relay.api.ws_base();
    let missing = certs.dir.join("no-such-ca.pem");
    let editor = ScriptedEditor::start(
        EditorOptions::new(Behaviour::Helix, "barbara", &wss, 720)
            .ca_file(&missing)
            .file(PATH, TEXT),
    )
    .await;
    let room = relay.api.create_room().await;
    let error = command_error(&editor, "pairprog.joinRoom", json!([room])).await;
    assert!(
        error.contains("no-such-ca.pem") && error.contains("caFile"),
        "the error names the file and the setting: {error}"
    );
    let error = command_error(&editor, "pairprog.createRoom", json!([])).await;
    assert!(error.contains("no-such-ca.pem"), "{error}");
    assert_eq!(editor.status().await["room"], Value::Null);

    shutdown_all(&[editor]).await;
    relay.stop().await;
}
