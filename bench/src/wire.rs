//! Scenario `wire`: bytes on the wire per keystroke. A recorded typing session is replayed
//! through the relay, one keystroke per operation, by a typist with a peer watching; the
//! WebSocket bytes are compared with what the old full-text-per-keystroke design sent.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use pairprog_protocol::Operation;
use serde::{Deserialize, Serialize};

use crate::client::{frame_header_len, BenchClient, Event};
use crate::relay_process::RelayProcess;
use crate::report::{secs, Report};

const PATH: &str = "src/lib.rs";
const TIME_LIMIT: Duration = Duration::from_secs(300);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Trace {
    #[serde(default)]
    start_content: String,
    txns: Vec<Txn>,
}

#[derive(Deserialize)]
struct Txn {
    /// `[position in chars, chars deleted, text inserted]`.
    patches: Vec<(usize, usize, String)>,
}

/// The old product's message: every keystroke sent the whole document.
#[derive(Serialize)]
struct CodeUpdate<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'a str,
}

fn load_trace(path: &Path) -> anyhow::Result<Trace> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open trace {}", path.display()))?;
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .with_context(|| format!("cannot gunzip {}", path.display()))?;
    serde_json::from_str(&json).with_context(|| format!("{} is not a trace", path.display()))
}

pub async fn run(
    relay: &RelayProcess,
    trace_path: &Path,
    keystrokes: usize,
) -> anyhow::Result<Report> {
    let trace = load_trace(trace_path)?;
    let patches: Vec<&(usize, usize, String)> = trace
        .txns
        .iter()
        .flat_map(|t| t.patches.iter())
        .take(keystrokes)
        .collect();
    let room = relay.create_room().await?;
    let url = relay.ws_url(&room);
    let mut typist = BenchClient::join(&url, "typist").await?;
    let mut peer = BenchClient::join(&url, "peer").await?;
    typist.open(PATH, &trace.start_content).await?;
    peer.open(PATH, &trace.start_content).await?;
    let (t0, p0) = (typist.bytes, peer.bytes);
    typist.keep_last = true;
    peer.keep_last = true;

    let mut old_bytes = 0u64;
    let mut old_payload = 0u64;
    let started = Instant::now();
    for (i, (pos, del, ins)) in patches.iter().enumerate() {
        if started.elapsed() > TIME_LIMIT {
            bail!("stopped after {TIME_LIMIT:?} at keystroke {i}");
        }
        let len = typist.doc().text.len_chars();
        let op = Operation::splice(len, *pos, *del, ins)
            .with_context(|| format!("patch {i} does not fit the document"))?;
        if !typist.edit(op).await? {
            bail!("the typist had an operation in flight; the closed loop broke");
        }
        let expected = typist.doc().ot.revision() + 1;
        loop {
            match peer.step().await.context("peer")? {
                Event::Remote { revision } if revision == expected => break,
                Event::Remote { revision } => {
                    bail!("peer got revision {revision}, expected {expected}")
                }
                _ => {}
            }
        }
        loop {
            if let Event::Ack { .. } = typist.step().await.context("typist")? {
                break;
            }
        }
        // The old design: the typist sends the whole text, the server forwards it.
        let text = typist.doc().text.to_string();
        let msg = serde_json::to_string(&CodeUpdate {
            kind: "code_update",
            code: &text,
        })
        .expect("serializes");
        let n = msg.len();
        old_payload += 2 * n as u64;
        old_bytes += (2 * n + frame_header_len(n, true) + frame_header_len(n, false)) as u64;
    }
    let elapsed = started.elapsed();
    if typist.doc().text != peer.doc().text {
        bail!("typist's and peer's texts differ after the replay");
    }
    let (relay_text, _) = relay.document(&room, PATH).await?;
    if typist.doc().text != relay_text.as_str() {
        bail!("the relay's document differs from the typist's after the replay");
    }
    let final_chars = typist.doc().text.len_chars();
    let samples = (
        typist.last_sent.clone(),
        peer.last_received.clone(),
        typist.last_received.clone(),
    );
    let (t1, p1) = (typist.bytes, peer.bytes);
    typist.close().await;
    peer.close().await;

    let k = patches.len().max(1) as f64;
    let per = |v: u64| v as f64 / k;
    let sent_wire = t1.sent_wire - t0.sent_wire;
    let sent_payload = t1.sent_payload - t0.sent_payload;
    let remote_wire = p1.recv_wire - p0.recv_wire;
    let remote_payload = p1.recv_payload - p0.recv_payload;
    let ack_wire = t1.recv_wire - t0.recv_wire;
    let new_total = per(sent_wire + remote_wire);
    let old_total = per(old_bytes);
    let name = trace_path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut r = Report::new("wire", format!("Bytes on the wire per keystroke, {name}"));
    r.row(
        "keystrokes replayed (trace patches)",
        patches.len().to_string(),
        patches.len(),
    );
    r.row(
        "document at the end (chars)",
        final_chars.to_string(),
        final_chars,
    );
    r.row(
        "typist → relay `op`, B/keystroke (payload / with frame header)",
        format!("{:.1} / {:.1}", per(sent_payload), per(sent_wire)),
        per(sent_wire),
    );
    r.row(
        "relay → peer `remote`, B/keystroke (payload / with frame header)",
        format!("{:.1} / {:.1}", per(remote_payload), per(remote_wire)),
        per(remote_wire),
    );
    r.row(
        "**pairprog: typist sent + peer received, B/keystroke**",
        format!("**{new_total:.1}**"),
        new_total,
    );
    r.row(
        "relay → typist `ack`, B/keystroke (not in the total)",
        format!("{:.1}", per(ack_wire)),
        per(ack_wire),
    );
    r.row(
        "**full text per keystroke (old design), B/keystroke**",
        format!("**{old_total:.0}**"),
        old_total,
    );
    r.row(
        "old payload only, B/keystroke",
        format!("{:.0}", per(old_payload)),
        per(old_payload),
    );
    r.row(
        "ratio old / pairprog",
        format!("{:.0}×", old_total / new_total.max(1e-9)),
        old_total / new_total.max(1e-9),
    );
    r.row("replay time", secs(elapsed), elapsed.as_secs_f64());
    r.note(
        "Every trace patch is sent as its own operation (no composing, the worst case for pairprog) and the \
         next waits for the ack. Bytes are the JSON text payloads plus RFC 6455 frame headers (client frames \
         masked: +4); TCP/IP headers are not counted. The old design's figure is `{\"type\":\"code_update\",\
         \"code\":<whole document>}` sent by the typist and forwarded to the peer after every keystroke. \
         Target: ≤ 100 B per keystroke.",
    );
    r.note("Typist, peer and relay texts are checked equal at the end.");
    r.note(format!(
        "Last messages of the run: op `{}`, remote `{}`, ack `{}`.",
        samples.0, samples.1, samples.2
    ));
    Ok(r)
}
