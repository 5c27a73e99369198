//! Database outages under load: a real `pairprog-relay` process on a throwaway
//! PostgreSQL cluster of this test's own, with several WebSocket clients typing into a
//! few documents, while the cluster is stopped (`pg_ctl stop -m immediate`) or its
//! postmaster SIGKILLed, and started again, several times. The clients keep typing
//! through each outage, resending and reconnecting as a real editor agent does.
//!
//! Then: every acknowledged operation is in the stored log at its revision; no client
//! was told of revision r + 2 without r + 1 (`outage/typist.rs` checks each as it
//! arrives); each revision was acknowledged once; and once quiet, every client holds the
//! stored text at the stored revision.
//!
//! Skipped, saying so, only when no PostgreSQL server binaries are installed. The seed
//! is printed; `PAIRPROG_SEED=n cargo test -p pairprog-relay --test postgres_outage`
//! replays its choices (the timing of a real database's outages cannot be replayed).

#[path = "outage/cluster.rs"]
mod cluster;
mod common;
#[path = "outage/typist.rs"]
mod typist;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use cluster::{PgCluster, Unavailable};
use common::child::ChildRelay;
use common::rng::Rng;
use common::{stored_document, TestClient};
use pairprog_protocol::messages::{ClientMessage, ErrorCode, ServerMessage};
use pairprog_protocol::Operation;
use pairprog_relay::store::Store;
use tokio::sync::watch;
use typist::{Outcome, Phase, Status, Typist};

const PATHS: &[&str] = &["notes.md", "src/main.rs", "todo.txt"];
const TYPISTS: &[&str] = &["ada", "grace", "edsger", "barbara"];
/// Outages: the cluster stopped with `immediate`, except the one marked to SIGKILL the
/// postmaster.
const CYCLES: usize = 4;
const KILL_CYCLE: usize = 2;
/// The whole test's budget, so a hang fails with a message instead of holding CI.
const BUDGET: Duration = Duration::from_secs(85);
/// How long the clients may take to get back in sync once the database is up.
const SETTLE: Duration = Duration::from_secs(40);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_operations_survive_postgres_outages() {
    let seed = std::env::var("PAIRPROG_SEED")
        .ok()
        .map(|s| s.parse().expect("PAIRPROG_SEED is a number"))
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 4];
            getrandom::fill(&mut bytes).expect("random source");
            u64::from(u32::from_le_bytes(bytes))
        });
    eprintln!("postgres_outage: seed {seed} (replay with PAIRPROG_SEED={seed})");
    let cluster = match PgCluster::start().await {
        Ok(cluster) => cluster,
        Err(Unavailable::NoBinaries) => {
            eprintln!(
                "postgres_outage: SKIPPED: no PostgreSQL server binaries (initdb, pg_ctl) on \
                 PATH or in /usr/lib/postgresql/*/bin; install the server to run this test"
            );
            return;
        }
    };
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(BUDGET, outages(&cluster, seed)).await;
    match result {
        Ok(Ok(report)) => eprintln!(
            "postgres_outage: seed {seed}: {report} in {:.1} s",
            started.elapsed().as_secs_f64()
        ),
        Ok(Err(violation)) => panic!(
            "seed {seed}: {violation}\nserver log:\n{}",
            cluster.log_tail()
        ),
        Err(_) => panic!(
            "seed {seed}: the test did not finish within {BUDGET:?}\nserver log:\n{}",
            cluster.log_tail()
        ),
    }
}

async fn outages(cluster: &PgCluster, seed: u64) -> Result<String, String> {
    let mut rng = Rng::new(seed);
    let relay = ChildRelay::start_with(&cluster.url(), &["--snapshot-every", "20"]).await;
    let room = create_room(&relay.base).await;

    let (phase_tx, phase) = watch::channel(Phase::Typing);
    let mut statuses = Vec::new();
    let mut tasks = Vec::new();
    for (i, name) in TYPISTS.iter().enumerate() {
        let typist = Typist::new(relay.ws(&room), name, seed ^ (i as u64 + 1) << 32, PATHS);
        let (status_tx, status) = watch::channel(Status::default());
        statuses.push(status);
        tasks.push(tokio::spawn(typist.run(phase.clone(), status_tx)));
    }

    let mut outage_typed = 0;
    for cycle in 0..CYCLES {
        // Let the room work with the database up: enough acknowledgements that
        // operations are surely in flight when it goes.
        let acked = total(&statuses, |s| s.acked) + 60 + rng.below(100) as u64;
        if !wait_until(&mut statuses, |all| total_of(all, |s| s.acked) >= acked).await {
            return Err(stop(&phase_tx, tasks, "acks before an outage").await);
        }
        if cycle == KILL_CYCLE {
            cluster.kill_postmaster().await;
        } else {
            cluster.stop_immediate().await;
        }
        // Type through the outage: 1 to 6 seconds at our pace (four typists, one
        // keystroke each per 15 ms; longer on a loaded machine), often longer than the
        // relay's pool waits for a connection (5 s), so commits fail as well as stall.
        let typed = total(&statuses, |s| s.typed);
        let during = 300 + rng.below(1300) as u64;
        if !wait_until(&mut statuses, |all| {
            total_of(all, |s| s.typed) >= typed + during
        })
        .await
        {
            return Err(stop(&phase_tx, tasks, "typing during an outage").await);
        }
        outage_typed += total(&statuses, |s| s.typed) - typed;
        cluster.pg_start().await;
    }

    phase_tx.send_replace(Phase::Quiet);
    let settle = tokio::time::timeout(SETTLE, async {
        if !wait_until(&mut statuses, |all| all.iter().all(|s| s.in_sync)).await {
            return None;
        }
        // Every client has its operations acknowledged: now the stored revisions are
        // final, and each client must reach them.
        let stored = stored_documents(&cluster.url(), &room).await;
        let reached = wait_until(&mut statuses, |all| {
            all.iter().all(|s| {
                PATHS
                    .iter()
                    .all(|p| s.revisions.get(*p) == Some(&stored[*p].1))
            })
        })
        .await;
        reached.then_some(stored)
    })
    .await;
    let outcomes = match (settle, join(&phase_tx, tasks).await) {
        (_, Err(violation)) => return Err(violation),
        (Ok(Some(stored)), Ok(outcomes)) => (stored, outcomes),
        (_, Ok(outcomes)) => {
            return Err(format!(
                "the clients did not get back in sync within {SETTLE:?}: {}",
                describe(&outcomes)
            ))
        }
    };
    let (stored, outcomes) = outcomes;
    let report = check(&cluster.url(), &stored, &outcomes, seed).await;
    relay.kill().await;
    Ok(format!(
        "{CYCLES} outages (one a postmaster SIGKILL), {} typed ({outage_typed} during outages), {report}; {}",
        outcomes.iter().map(|o| o.typed).sum::<u64>(),
        describe(&outcomes)
    ))
}

/// Tells the typists to stop and collects what they did, or the first violation.
async fn join(
    phase: &watch::Sender<Phase>,
    tasks: Vec<tokio::task::JoinHandle<Result<Outcome, String>>>,
) -> Result<Vec<Outcome>, String> {
    phase.send_replace(Phase::Stop);
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("typist task")?);
    }
    Ok(outcomes)
}

/// Stops after a typist ended early: what it found, or why nothing was found.
async fn stop(
    phase: &watch::Sender<Phase>,
    tasks: Vec<tokio::task::JoinHandle<Result<Outcome, String>>>,
    what: &str,
) -> String {
    match join(phase, tasks).await {
        Err(violation) => violation,
        Ok(_) => format!("a typist ended while waiting for {what}"),
    }
}

/// The checks after quiet; returns the numbers.
async fn check(
    url: &str,
    stored: &BTreeMap<String, (String, u64, i64)>,
    outcomes: &[Outcome],
    seed: u64,
) -> String {
    let store = Store::connect(url).await.expect("store");
    let mut missing = Vec::new();
    let mut by_revision: HashMap<(String, u64), (String, u64)> = HashMap::new();
    let mut acked = 0;
    for outcome in outcomes {
        for (path, seq, revision) in &outcome.acked {
            acked += 1;
            let document = stored[path].2;
            let found = store
                .find_client_operation(document, &outcome.client_id, *seq)
                .await
                .expect("query the log");
            if found != Some(*revision) {
                missing.push(format!(
                    "{}/{path}/seq {seq}: acked at {revision}, stored at {found:?}",
                    outcome.name
                ));
            }
            if let Some(other) =
                by_revision.insert((path.clone(), *revision), (outcome.name.clone(), *seq))
            {
                panic!(
                    "seed {seed}: {path} revision {revision} acknowledged twice: to {:?} and {}/{seq}",
                    other, outcome.name
                );
            }
        }
    }
    assert!(
        missing.is_empty(),
        "seed {seed}: {} of {acked} acknowledged operations are not in the log: {missing:?}",
        missing.len()
    );
    assert!(
        acked > 200,
        "seed {seed}: the load produced only {acked} acks"
    );
    for outcome in outcomes {
        for (path, (text, revision)) in &outcome.docs {
            let (stored_text, stored_revision, _) = &stored[path];
            assert_eq!(
                revision, stored_revision,
                "seed {seed}: {} at another revision of {path}",
                outcome.name
            );
            assert!(
                text == stored_text,
                "seed {seed}: {} diverged on {path}: {} chars against the stored {}",
                outcome.name,
                text.chars().count(),
                stored_text.chars().count()
            );
        }
    }
    format!("{acked} acked, 0 missing")
}

/// path → (text, revision, document id), replayed from the stored snapshot and log,
/// which must continue without a gap.
async fn stored_documents(url: &str, room: &str) -> BTreeMap<String, (String, u64, i64)> {
    let mut out = BTreeMap::new();
    for path in PATHS {
        let doc = stored_document(url, room, path).await;
        out.insert((*path).to_owned(), (doc.text, doc.revision, doc.id));
    }
    out
}

async fn create_room(base: &str) -> String {
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/rooms"))
        .send()
        .await
        .expect("create room")
        .json()
        .await
        .expect("json");
    body["roomId"].as_str().expect("roomId").to_owned()
}

fn total(statuses: &[watch::Receiver<Status>], f: impl Fn(&Status) -> u64) -> u64 {
    statuses.iter().map(|s| f(&s.borrow())).sum()
}

fn total_of(all: &[Status], f: impl Fn(&Status) -> u64) -> u64 {
    all.iter().map(f).sum()
}

/// Waits until `done` holds for the typists' statuses, woken by each change; false
/// when a typist ended first (it found a violation).
async fn wait_until(
    statuses: &mut [watch::Receiver<Status>],
    done: impl Fn(&[Status]) -> bool,
) -> bool {
    loop {
        let all: Vec<Status> = statuses
            .iter_mut()
            .map(|s| s.borrow_and_update().clone())
            .collect();
        if done(&all) {
            return true;
        }
        let changes = statuses.iter_mut().map(|s| Box::pin(s.changed()));
        if futures_util::future::select_all(changes).await.0.is_err() {
            return false;
        }
    }
}

fn describe(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .map(|o| {
            format!(
                "{}: typed {}, acked {}, reconnects {}, errors {:?}, closes {:?}, refused {:?}",
                o.name,
                o.typed,
                o.acked.len(),
                o.reconnects,
                o.errors,
                o.closes,
                o.refused
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// During an outage, a document whose owner lost track of it (a log read failed) and
/// could not reload it was taken for absent: `open` without text was answered
/// `unknown_document` for a document that exists (defect 13), where a client must be
/// told to try again. The owner's reload runs while the database is down, so an open
/// sent right after the first client is closed arrives while the owner has no document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_unknown_document_for_an_existing_document_during_an_outage() {
    let cluster = match PgCluster::start().await {
        Ok(cluster) => cluster,
        Err(Unavailable::NoBinaries) => {
            eprintln!("SKIPPED: no PostgreSQL server binaries (initdb, pg_ctl)");
            return;
        }
    };
    let relay = ChildRelay::start(&cluster.url()).await;
    let room = create_room(&relay.base).await;
    let mut ada = TestClient::join(&relay.ws(&room), "ada", None).await;
    let (_, revision) = ada.open("notes.md", Some("hello\n")).await;
    let mut grace = TestClient::join(&relay.ws(&room), "grace", None).await;
    cluster.stop_immediate().await;
    // A base the relay has not seen makes the owner read the log, which fails: it loses
    // track of the document, closes its subscribers and tries to reload it.
    ada.send(&ClientMessage::Op {
        path: "notes.md".into(),
        base: revision + 5,
        seq: 1,
        op: Operation::splice(6, 0, 0, "x").expect("fits"),
    })
    .await;
    while ada.recv().await.is_some() {}
    let answer = open_notes(&mut grace).await;
    let ServerMessage::Error { code, .. } = answer else {
        panic!("an open during an outage succeeded: {answer:?}");
    };
    assert_eq!(
        code,
        ErrorCode::Unavailable,
        "an existing document during an outage"
    );
    cluster.pg_start().await;
    let mut opened = None;
    // The relay's pool reconnects on its own; until then the answer is still "try again".
    for _ in 0..100 {
        match open_notes(&mut grace).await {
            ServerMessage::Opened { text, .. } => {
                opened = text;
                break;
            }
            ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::Unavailable),
            _ => unreachable!(),
        }
    }
    assert_eq!(opened.as_deref(), Some("hello\n"), "the document is back");
    relay.kill().await;
}

/// Opens `notes.md` and returns the relay's answer: `opened` or an error.
async fn open_notes(client: &mut TestClient) -> ServerMessage {
    client
        .send(&ClientMessage::Open {
            path: "notes.md".into(),
            language: None,
            text: None,
            revision: None,
        })
        .await;
    client
        .wait_for(|m| {
            matches!(
                m,
                ServerMessage::Opened { .. } | ServerMessage::Error { .. }
            )
        })
        .await
}
