//! `POST /api/autocomplete`: the original product's contract and every bad input.

mod common;

use common::{TestDb, TestRelay};
use serde_json::{json, Value};

async fn post(relay: &TestRelay, body: String) -> (u16, Value) {
    let response = relay
        .http
        .post(relay.url("/api/autocomplete"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test]
async fn autocomplete_keeps_the_original_contract() {
    let mut relay = TestRelay::start(TestDb::sqlite()).await;
    let (status, body) = post(
        &relay,
        json!({"code": "def ", "cursorPosition": 4, "language": "python"}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suggestion"], "name():\n    pass");
    let confidence = body["confidence"].as_f64().expect("confidence");
    assert!((0.0..=1.0).contains(&confidence));
    assert!(!body["description"]
        .as_str()
        .expect("description")
        .is_empty());
    assert_eq!(body["suggestions"][0]["text"], body["suggestion"]);

    // An unknown language is not an error: identifiers only.
    let (status, body) = post(
        &relay,
        json!({"code": "alpha_value = 1\nalp", "cursorPosition": 19, "language": "cobol"})
            .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["suggestions"].is_array());
    relay.stop().await;
}

#[tokio::test]
async fn autocomplete_refuses_bad_input_saying_which() {
    let mut relay = TestRelay::start_with(TestDb::sqlite(), |c| c.max_message_bytes = 4096).await;
    let cases = [
        (
            json!({"code": "ab", "cursorPosition": 3, "language": "python"}).to_string(),
            "cursor_out_of_range",
            "cursorPosition",
        ),
        (
            json!({"code": "😀", "cursorPosition": 2, "language": "python"}).to_string(),
            "cursor_out_of_range",
            "cursorPosition",
        ),
        (
            json!({"code": "ab", "cursorPosition": -1, "language": "python"}).to_string(),
            "cursor_out_of_range",
            "negative",
        ),
        (
            json!({"cursorPosition": 0, "language": "python"}).to_string(),
            "invalid_request",
            "code",
        ),
        (
            json!({"code": "", "language": "python"}).to_string(),
            "invalid_request",
            "cursorPosition",
        ),
        (
            json!({"code": "", "cursorPosition": 0}).to_string(),
            "invalid_request",
            "language",
        ),
        ("{not json".to_owned(), "invalid_request", "cannot read"),
        (
            json!({"code": "x".repeat(10_000), "cursorPosition": 0, "language": "python"})
                .to_string(),
            "body_too_large",
            "",
        ),
    ];
    for (body, code, needle) in cases {
        let (status, reply) = post(&relay, body.clone()).await;
        // A body over the limit is 413 on every route; the rest is 422.
        let expected = if code == "body_too_large" { 413 } else { 422 };
        assert_eq!(status, expected, "{body:.80}: {reply}");
        assert_eq!(reply["error"]["code"], code, "{body:.80}: {reply}");
        let message = reply["error"]["message"].as_str().expect("message");
        assert!(message.contains(needle), "{body:.80}: {message}");
    }
    relay.stop().await;
}
