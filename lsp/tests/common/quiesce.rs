//! Waiting for quiescence: once typing stops, every editor and the relay must reach the
//! same text. The only way to observe that is to ask (`pairprog.status`, the REST
//! document), so this helper polls, with a deadline after which it fails loudly with
//! everything needed to replay and diagnose the run.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::editor::ScriptedEditor;
use super::relay::RelayApi;

/// How long convergence may take once typing stopped.
pub const QUIESCENCE_DEADLINE: Duration = Duration::from_secs(60);

/// Why one poll did not show quiescence.
fn editor_problem(
    editor: &ScriptedEditor,
    status: Option<&Value>,
    room: &str,
    path: &str,
    relay_text: Option<&str>,
) -> Option<String> {
    if !editor.idle() {
        return Some("changes wait in its debounce queue or messages in its delay line".into());
    }
    let Some(status) = status else {
        return Some("no answer to pairprog.status".into());
    };
    if status["room"] != json!(room) {
        return Some(format!("status room is {}", status["room"]));
    }
    if status["connection"] != "connected" {
        return Some(format!("connection is {}", status["connection"]));
    }
    let Some(docs) = status["documents"].as_array() else {
        return Some("status has no documents".into());
    };
    if !docs.iter().any(|d| d["path"] == json!(path)) {
        return Some(format!("status does not list {path}"));
    }
    if let Some(d) = docs.iter().find(|d| d["synced"] != json!(true)) {
        return Some(format!("not synced: {d}"));
    }
    if status["pendingEdits"].as_u64().is_some_and(|n| n > 0) {
        return Some(format!("pendingEdits is {}", status["pendingEdits"]));
    }
    match relay_text {
        None => Some("the relay does not answer".into()),
        Some(text) if editor.text(path) != text => Some("its text differs from the relay's".into()),
        Some(_) => None,
    }
}

/// The first char index where two texts differ, for readable failure reports.
fn first_difference(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Waits until, twice in a row with nothing moving in between, every editor is idle,
/// connected to `room` with every document synced, and holds the relay's text of
/// `path`. Returns that text. Panics at [`QUIESCENCE_DEADLINE`] with the seed, each
/// editor's text, status, message trace and server log. Interface violations are
/// checked separately ([`assert_no_violations`]), after a test's own checks, so a
/// failure report says first whether the texts converged and kept every keystroke.
pub async fn wait_quiescent(
    seed: u64,
    api: &RelayApi,
    room: &str,
    path: &str,
    editors: &[ScriptedEditor],
) -> String {
    let deadline = Instant::now() + QUIESCENCE_DEADLINE;
    let mut previous: Option<(String, u64, Vec<i64>)> = None;
    let mut last_report = String::new();
    while Instant::now() < deadline {
        let relay = api.document(room, path).await;
        let mut statuses = Vec::new();
        for editor in editors {
            let status = editor
                .try_request(
                    "workspace/executeCommand",
                    json!({"command": "pairprog.status", "arguments": []}),
                    Duration::from_secs(10),
                )
                .await
                .and_then(Result::ok);
            statuses.push(status);
        }
        let problems: Vec<(usize, String)> = editors
            .iter()
            .zip(&statuses)
            .enumerate()
            .filter_map(|(i, (e, s))| {
                editor_problem(
                    e,
                    s.as_ref(),
                    room,
                    path,
                    relay.as_ref().map(|r| r.0.as_str()),
                )
                .map(|p| (i, p))
            })
            .collect();
        if problems.is_empty() {
            let (text, revision) = relay.clone().expect("checked above");
            let versions: Vec<i64> = editors.iter().map(|e| e.version(path)).collect();
            let now = (text.clone(), revision, versions);
            if previous.as_ref() == Some(&now) {
                return text;
            }
            previous = Some(now);
        } else {
            previous = None;
            last_report = report(seed, relay.as_ref(), path, editors, &statuses, &problems);
        }
        // Status and REST answers are the only observable signs of quiescence.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no quiescence within {QUIESCENCE_DEADLINE:?}\n{last_report}");
}

fn report(
    seed: u64,
    relay: Option<&(String, u64)>,
    path: &str,
    editors: &[ScriptedEditor],
    statuses: &[Option<Value>],
    problems: &[(usize, String)],
) -> String {
    let mut out = format!("seed = {seed} (replay with PAIRPROG_SEED={seed})\n");
    match relay {
        Some((text, revision)) => {
            out.push_str(&format!("relay at revision {revision}: {text:?}\n"))
        }
        None => out.push_str("the relay did not answer\n"),
    }
    for (i, editor) in editors.iter().enumerate() {
        let text = editor.text(path);
        let diverges = relay
            .map(|(r, _)| {
                if *r == text {
                    "equal to the relay".to_owned()
                } else {
                    format!(
                        "differs from the relay at char {}",
                        first_difference(r, &text)
                    )
                }
            })
            .unwrap_or_default();
        let problem = problems
            .iter()
            .find(|(j, _)| *j == i)
            .map_or("fine", |(_, p)| p.as_str());
        out.push_str(&format!(
            "\n{} ({:?}) version {}: {problem}; text {diverges}: {text:?}\n  status: {}\n{}\n",
            editor.name(),
            editor.behaviour(),
            editor.version(path),
            statuses[i].as_ref().map_or("none".into(), Value::to_string),
            editor.diagnostics(),
        ));
    }
    out
}

/// Fails the test when any editor saw the server break the interface (an applyEdit
/// with a version it never reported, several edits, an out-of-range position...).
pub fn assert_no_violations(seed: u64, editors: &[ScriptedEditor]) {
    let all: Vec<String> = editors
        .iter()
        .flat_map(|e| {
            e.violations()
                .into_iter()
                .map(move |v| format!("{}: {v}", e.name()))
        })
        .collect();
    assert!(
        all.is_empty(),
        "seed = {seed}: every other check passed, but the server broke the interface:\n{}",
        all.join("\n")
    );
}
