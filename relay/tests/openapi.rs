//! `/openapi.json` states what the REST routes really answer (issue 15, defect 13: it
//! omitted the 400 `malformed_json` answer and did not say what 422 checks). Each case
//! sends a real request, reads the status and error code the relay gives, and requires
//! the document to list that status for that route with a description naming the code.

mod common;

use common::{TestDb, TestRelay};
use serde_json::Value;

/// (route, body, the status expected, the error code expected).
const CASES: &[(&str, &str, u16, &str)] = &[
    ("/api/rooms", "{", 400, "malformed_json"),
    ("/api/rooms", r#"{"path":""}"#, 422, "invalid_path"),
    ("/api/rooms", r#"{"colour":"red"}"#, 422, "invalid_request"),
    ("/api/autocomplete", "{", 422, "invalid_request"),
    (
        "/api/autocomplete",
        r#"{"code":"ab","cursorPosition":5,"language":"python"}"#,
        422,
        "cursor_out_of_range",
    ),
];

#[tokio::test]
async fn regression_openapi_omitted_malformed_json_and_what_422_checks() {
    let relay = TestRelay::start(TestDb::sqlite()).await;
    let openapi: Value = relay
        .http
        .get(relay.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("the document is JSON");
    for &(route, body, status, code) in CASES {
        let answer = relay
            .http
            .post(relay.url(route))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        let got = answer.status().as_u16();
        let error: Value = answer.json().await.expect("an error body");
        assert_eq!(
            (got, error["error"]["code"].as_str()),
            (status, Some(code)),
            "POST {route} {body}: {error}"
        );
        let documented = &openapi["paths"][route]["post"]["responses"][status.to_string()];
        let description = documented["description"].as_str().unwrap_or_default();
        assert!(
            description.contains(&format!("`{code}`")),
            "/openapi.json lists POST {route} answering {status} without naming `{code}`: \
             {documented}"
        );
    }
}
