//! Randomized multi-client runs against the real relay on each backend: 2 to 8 clients
//! type random inserts and deletes (emoji, CJK, CRLF), read the relay's messages at
//! random moments (random latency), and drop and re-establish their connections with
//! operations in flight. At quiescence every client's text equals the relay's and the
//! stored document's. Each run prints its seed; replay one with
//! `PAIRPROG_SEED=n cargo test -p pairprog-relay --test randomized`.

mod common;

use common::rng::{seeds, Rng};
use common::{backends, stored_document, TestClient, TestDb, TestRelay};
use pairprog_protocol::Operation;
use ropey::Rope;

const PATH: &str = "src/lib.rs";
const PIECES: &[&str] = &["a", "b", "é", "中", "😀", "\r\n", "\n", "\r", "fn "];

fn random_edit(rng: &mut Rng, doc: &Rope) -> Operation {
    let len = doc.len_chars();
    let pos = rng.below(len + 1);
    let del = if rng.chance(35) {
        rng.below(len - pos + 1).min(3)
    } else {
        0
    };
    let mut text = String::new();
    for _ in 0..rng.below(3) {
        let piece: &&str = rng.pick(PIECES);
        text.push_str(piece);
    }
    Operation::splice(len, pos, del, &text).expect("in range")
}

/// The document as the store holds it, rebuilt independently of the relay's memory.
async fn stored_text(db: &TestDb, room: &str) -> (String, u64) {
    let stored = stored_document(&db.url, room, PATH).await;
    (stored.text, stored.revision)
}

async fn run(seed: u64, db: TestDb) {
    let kind = db.kind;
    let mut rng = Rng::new(seed);
    let relay = TestRelay::start_with(db, |c| c.snapshot_every = 7).await;
    let room = relay.create_room().await;
    let url = relay.ws_url(&room);
    let n = 2 + rng.below(7);
    let mut clients = Vec::new();
    for i in 0..n {
        let mut c = TestClient::join(&url, &format!("c{i}"), None).await;
        c.open(PATH, Some("start\r\n")).await;
        clients.push(c);
    }
    for _step in 0..250 {
        let i = rng.below(n);
        let c = &mut clients[i];
        match rng.below(100) {
            0..=44 => {
                let op = random_edit(&mut rng, &c.docs[PATH].text);
                c.edit(PATH, op).await;
            }
            45..=94 => {
                // Read what has arrived: a random delay between relay and client.
                for _ in 0..rng.below(4) {
                    match c.try_next().await {
                        Some(m) => {
                            assert!(
                                c.handle(&m).await
                                    || !matches!(
                                        m,
                                        pairprog_protocol::messages::ServerMessage::Error { .. }
                                    ),
                                "seed {seed} ({kind}): client {i} got {m:?}"
                            );
                        }
                        None => break,
                    }
                }
            }
            _ => c.reconnect(&url).await,
        }
        tokio::task::yield_now().await;
    }
    // Quiescence: flush every in-flight and buffered operation.
    for c in clients.iter_mut() {
        while !c.docs[PATH].ot.is_synchronized() {
            let m = c.next().await;
            if let pairprog_protocol::messages::ServerMessage::Error { .. } = m {
                panic!("seed {seed} ({kind}): {m:?}");
            }
            c.handle(&m).await;
        }
    }
    let (text, revision) = relay.document(&room, PATH).await;
    for (i, c) in clients.iter_mut().enumerate() {
        c.settle(PATH, revision).await;
        assert_eq!(
            c.text(PATH),
            text,
            "seed {seed} ({kind}): client {i} diverged"
        );
    }
    assert_eq!(
        stored_text(&relay.db, &room).await,
        (text, revision),
        "seed {seed} ({kind}): the store disagrees with the relay"
    );
    let mut relay = relay;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_clients_converge_on_both_backends() {
    let count = std::env::var("PAIRPROG_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    for seed in seeds(count) {
        for db in backends().await {
            eprintln!("randomized: seed {seed} on {}", db.kind);
            run(seed, db).await;
        }
    }
}
