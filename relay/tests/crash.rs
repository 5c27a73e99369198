//! Crash durability: a `pairprog-relay` child process under load is killed with SIGKILL
//! and restarted on the same database. Every operation it had acknowledged is in the
//! log at its acknowledged revision, revisions continue without a gap, and the clients
//! reconnect, resend what was unacknowledged and converge.

mod common;

use common::child::ChildRelay;
use common::rng::Rng;
use common::{stored_document, TestClient, TestDb};
use pairprog_protocol::messages::ServerMessage;
use pairprog_protocol::Operation;
use pairprog_relay::store::Store;

const PATH: &str = "notes.md";
/// Frequent snapshots, so the restart loads a snapshot plus a log tail.
const RELAY_ARGS: &[&str] = &["--snapshot-every", "5"];

async fn type_randomly(rng: &mut Rng, clients: &mut [TestClient], steps: usize) {
    for _ in 0..steps {
        let i = rng.below(clients.len());
        let c = &mut clients[i];
        if rng.chance(55) {
            let text = &c.docs[PATH].text;
            let len = text.len_chars();
            let pos = rng.below(len + 1);
            let del = if rng.chance(30) {
                (len - pos).min(2)
            } else {
                0
            };
            let piece = ["x", "😀", "中", "\r\n"][rng.below(4)];
            c.edit(PATH, Operation::splice(len, pos, del, piece).expect("fits"))
                .await;
        }
        // Sometimes wait for the relay, so the typing really runs at the relay's pace
        // (the relay is another process: without waiting, the loop would outrun it).
        if rng.chance(50) && !c.docs[PATH].ot.is_synchronized() {
            let m = c.next().await;
            assert!(
                !matches!(m, ServerMessage::Error { .. }),
                "unexpected error: {m:?}"
            );
            c.handle(&m).await;
        }
        while let Some(m) = c.try_next().await {
            assert!(
                !matches!(m, ServerMessage::Error { .. }),
                "unexpected error: {m:?}"
            );
            c.handle(&m).await;
        }
        tokio::task::yield_now().await;
    }
}

async fn crash_and_recover(db: TestDb) {
    let kind = db.kind;
    let mut rng = Rng::new(7);
    let relay = ChildRelay::start_with(&db.url, RELAY_ARGS).await;
    let http = reqwest::Client::new();
    let room: serde_json::Value = http
        .post(format!("{}/api/rooms", relay.base))
        .send()
        .await
        .expect("create room")
        .json()
        .await
        .expect("json");
    let room = room["roomId"].as_str().expect("roomId").to_owned();
    let mut clients = Vec::new();
    for name in ["ada", "grace"] {
        let mut c = TestClient::join(&relay.ws(&room), name, None).await;
        c.open(PATH, Some("# notes\n")).await;
        clients.push(c);
    }
    type_randomly(&mut rng, &mut clients, 400).await;
    // Kill while operations are very likely in flight.
    for c in clients.iter_mut() {
        let text = &c.docs[PATH].text;
        let len = text.len_chars();
        c.edit(PATH, Operation::splice(len, len, 0, "!").expect("fits"))
            .await;
    }
    relay.kill().await;
    let acked_before: Vec<(String, u64, u64)> = clients
        .iter()
        .flat_map(|c| {
            c.acked
                .iter()
                .map(|(_, seq, rev)| (c.client_id.clone(), *seq, *rev))
        })
        .collect();
    assert!(acked_before.len() > 50, "{kind}: the load produced acks");

    let relay = ChildRelay::start_with(&db.url, RELAY_ARGS).await;
    {
        let store = Store::connect(&db.url).await.expect("store");
        let doc = store
            .load_document(&room, PATH)
            .await
            .expect("load")
            .expect("document survived");
        for (client, seq, revision) in &acked_before {
            assert_eq!(
                store
                    .find_client_operation(doc.id, client, *seq)
                    .await
                    .expect("query"),
                Some(*revision),
                "{kind}: acknowledged op {client}/{seq} lost"
            );
        }
    }
    let max_acked = acked_before.iter().map(|a| a.2).max().unwrap_or(0);
    for c in clients.iter_mut() {
        c.reconnect(&relay.ws(&room)).await;
    }
    type_randomly(&mut rng, &mut clients, 100).await;
    for c in clients.iter_mut() {
        while !c.docs[PATH].ot.is_synchronized() {
            let m = c.next().await;
            assert!(!matches!(m, ServerMessage::Error { .. }), "{kind}: {m:?}");
            c.handle(&m).await;
        }
    }
    let body: serde_json::Value = http
        .get(format!("{}/api/rooms/{room}/documents/{PATH}", relay.base))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    let text = body["text"].as_str().expect("text").to_owned();
    let revision = body["revision"].as_u64().expect("revision");
    assert!(
        revision > max_acked,
        "{kind}: revisions continue after the restart"
    );
    for c in clients.iter_mut() {
        c.settle(PATH, revision).await;
        assert_eq!(c.text(PATH), text, "{kind}: {} diverged", c.name);
    }
    // The log replays without gaps to the same text.
    let stored = stored_document(&db.url, &room, PATH).await;
    assert_eq!(stored.text, text, "{kind}");
    relay.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_operations_survive_sigkill_sqlite() {
    crash_and_recover(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_operations_survive_sigkill_postgres() {
    crash_and_recover(TestDb::postgres().await).await;
}
