//! The scale-out paths one at a time, with relays in this process on one Postgres
//! database, so each path is forced rather than left to timing: a batch that loses its
//! revision to another writer, and operations too large for a notification.
//! `scale_out.rs` runs whole relay processes under random load.

mod common;

use common::{TestClient, TestDb, TestRelay};
use pairprog_protocol::messages::ServerMessage;
use pairprog_protocol::Operation;
use pairprog_relay::store::{LoggedOperation, Store};
use pairprog_relay::{Config, Relay};

const PATH: &str = "notes.md";

/// A second relay on the database `first` uses, as another process would be.
async fn second_relay(first: &TestRelay) -> Relay {
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".parse().expect("loopback address");
    config.database_url = Some(first.db.url.clone());
    Relay::start(config).await.expect("second relay starts")
}

fn metric(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in\n{page}"))
}

/// Another writer commits revision 1 behind the relay's back (straight into the log,
/// with no notification, as a relay whose notification is still on the way would have).
/// The relay sequences a client's operation as revision 1 too; its insert must fail,
/// and the relay must read revision 1 from the log, pass it on, and commit the client's
/// operation as revision 2, transformed past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_batch_that_loses_its_revision_to_another_relay_is_sequenced_again() {
    let relay = TestRelay::start(TestDb::postgres().await).await;
    let room = relay.create_room().await;
    let mut ada = TestClient::join(&relay.ws_url(&room), "ada", None).await;
    ada.open(PATH, Some("hello")).await;

    let store = Store::connect(&relay.db.url).await.expect("store");
    let doc = store
        .load_document(&room, PATH)
        .await
        .expect("load")
        .expect("created");
    let theirs = Operation::splice(5, 0, 0, ">> ").expect("fits");
    store
        .append_operations(
            doc.id,
            &[LoggedOperation {
                revision: 1,
                author: "grace".into(),
                client_id: "grace-client".into(),
                client_seq: 1,
                operation: theirs.clone(),
                committed_at_ms: 0,
                participant_id: "grace".into(),
            }],
        )
        .await
        .expect("the other writer commits revision 1");

    ada.edit(PATH, Operation::splice(5, 5, 0, " world").expect("fits"))
        .await;
    let remote = ada
        .wait_for(|m| matches!(m, ServerMessage::Remote { .. }))
        .await;
    assert_eq!(
        remote,
        ServerMessage::Remote {
            path: PATH.into(),
            revision: 1,
            op: theirs,
            author: "grace".into(),
        },
        "the revision the relay lost is passed on, named after its author"
    );
    ada.handle(&remote).await;
    let ack = ada
        .wait_for(|m| matches!(m, ServerMessage::Ack { .. }))
        .await;
    assert_eq!(
        ack,
        ServerMessage::Ack {
            path: PATH.into(),
            revision: 2,
            seq: 1,
        },
        "ada's operation is committed after it"
    );
    ada.handle(&ack).await;
    assert_eq!(ada.text(PATH), ">> hello world");
    assert_eq!(
        relay.document(&room, PATH).await,
        (">> hello world".to_owned(), 2)
    );
    let metrics = relay.metrics().await;
    assert!(metric(&metrics, "pairprog_revision_races_total") >= 1);
    let mut relay = relay;
    relay.stop().await;
}

/// A paste too large for a notification is announced by its revision only; the other
/// relay reads it from the log and passes it on whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_too_large_to_notify_reaches_the_other_relay_through_the_log() {
    let a = TestRelay::start(TestDb::postgres().await).await;
    let b = second_relay(&a).await;
    let room = a.create_room().await;
    let mut ada = TestClient::join(&a.ws_url(&room), "ada", None).await;
    ada.open(PATH, Some("")).await;
    let mut bob = TestClient::join(&format!("ws://{}/ws/{room}", b.addr), "bob", None).await;
    bob.open(PATH, None).await;

    // 12,000 bytes of UTF-8 in one operation, beyond NOTIFY's 8,000.
    let paste = "中文😀 ".repeat(1000);
    ada.edit(PATH, Operation::splice(0, 0, 0, &paste).expect("fits"))
        .await;
    let remote = bob
        .wait_for(|m| matches!(m, ServerMessage::Remote { .. }))
        .await;
    bob.handle(&remote).await;
    assert_eq!(bob.text(PATH), paste, "bob has the whole paste");
    let ack = ada
        .wait_for(|m| matches!(m, ServerMessage::Ack { .. }))
        .await;
    ada.handle(&ack).await;

    // Small operations still travel in the notification, through either relay.
    bob.edit(PATH, Operation::splice(4000, 0, 0, "!").expect("fits"))
        .await;
    let remote = ada
        .wait_for(|m| matches!(m, ServerMessage::Remote { .. }))
        .await;
    ada.handle(&remote).await;
    let ack = bob
        .wait_for(|m| matches!(m, ServerMessage::Ack { .. }))
        .await;
    bob.handle(&ack).await;
    assert_eq!(ada.text(PATH), format!("!{paste}"));
    assert_eq!(bob.text(PATH), ada.text(PATH));

    let on_b = reqwest::get(format!("http://{}/metrics", b.addr))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metric(&on_b, "pairprog_catch_ups_total") >= 1,
        "the paste was read from the log"
    );
    assert!(metric(&on_b, "pairprog_bus_received_total") >= 1);
    b.shutdown().await;
    let mut a = a;
    a.stop().await;
}
