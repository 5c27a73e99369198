//! Document owners and the committer they commit through, driven directly rather than
//! through sockets: a real `RoomRegistry`, real owner tasks, a real `Committer` and an
//! SQLite store, with the test standing in for the connections. These are the defects
//! of issue 15 whose fixes live in the owner's and the committer's control flow, where
//! the simulator (which re-implements the owner's wiring) cannot see them: an `open`
//! whose requester gave up (defect 7), an owner that ends early (defect 10), a
//! refused group commit (defect 9), and the committer keeping a pipelined document's
//! batches in order (issue 19).

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use pairprog_protocol::messages::Participant;
use pairprog_protocol::Operation;
use pairprog_relay::committer::Committer;
use pairprog_relay::document::{
    CommitOutcome, DocCommand, DocEnv, Failure, ProtoError, SubmitCommand,
};
use pairprog_relay::member::{Frame, Kick, Member, Metered};
use pairprog_relay::metrics::Metrics;
use pairprog_relay::room::{RoomContext, RoomRegistry};
use pairprog_relay::store::{AppendBatch, LoggedOperation, Store};
use pairprog_relay::Config;
use sqlx::Connection;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use common::TestDb;

const ROOM: &str = "room";
const PATH: &str = "notes.md";

/// What rooms need from the relay, as the test provides it (`state.rs` in the relay).
struct World {
    env: Arc<DocEnv>,
    registry: Arc<RoomRegistry>,
    /// The SQLite file; held so it outlives the store.
    db: TestDb,
}

impl Metered for World {
    fn metrics(&self) -> &Arc<Metrics> {
        &self.env.metrics
    }
}

impl RoomContext for World {
    fn max_connections_per_room(&self) -> usize {
        100
    }
    fn documents(&self) -> &Arc<DocEnv> {
        &self.env
    }
}

impl World {
    /// A store holding the room `ROOM`, a committer and an owner environment. Idle
    /// documents unload at once (`--idle-unload-secs 0`): whether an owner can unload
    /// is then seen as soon as its queue is empty, without waiting out a real delay.
    async fn new() -> World {
        let db = TestDb::sqlite();
        let store = Store::connect(&db.url).await.expect("SQLite store");
        store.create_room(ROOM, 0).await.expect("create the room");
        let metrics = Arc::new(Metrics::default());
        let mut config = Config::defaults();
        config.idle_unload_secs = 0;
        let env = Arc::new(DocEnv {
            config,
            committer: Committer::start(store.clone(), metrics.clone()),
            store,
            metrics,
            bus: None,
            shutdown: CancellationToken::new(),
            owners: TaskTracker::new(),
        });
        World {
            env,
            registry: Arc::new(RoomRegistry::default()),
            db,
        }
    }

    /// Waits until every owner task started so far has ended. Owners end only by
    /// unloading their document (or failing to load it), so this is that event.
    async fn owners_ended(&self) -> Result<(), tokio::time::error::Elapsed> {
        self.env.owners.close();
        // Only a guard against hanging forever when an owner never unloads (the defect);
        // an owner that can unload does so as soon as its queue is empty.
        tokio::time::timeout(Duration::from_secs(10), self.env.owners.wait()).await
    }
}

/// A connection as owners see it, with the receiving end of its outbox.
fn member(id: &str) -> (Member, mpsc::Receiver<Frame>) {
    let (outbox, frames) = mpsc::channel(64);
    let member = Member {
        participant: Participant {
            id: id.to_owned(),
            name: id.to_owned(),
            color: "#000000".to_owned(),
            read_only: false,
        },
        client_id: format!("client-{id}"),
        outbox,
        kick: Arc::new(Kick::default()),
    };
    (member, frames)
}

fn open(
    member: Member,
    text: Option<&str>,
) -> (DocCommand, oneshot::Receiver<Result<(), ProtoError>>) {
    let (reply, answer) = oneshot::channel();
    let command = DocCommand::Open {
        member,
        language: None,
        text: text.map(str::to_owned),
        revision: None,
        reply,
    };
    (command, answer)
}

fn message_type(frame: &Frame) -> String {
    let value: serde_json::Value = serde_json::from_str(frame.as_str()).expect("a JSON frame");
    value["type"].as_str().unwrap_or_default().to_owned()
}

/// Issue 15, defect 7. `ws/reader.rs` waits 30 s for an `open`; when it gives up, the
/// command is still queued behind whatever held the owner up. The owner later subscribed
/// the member anyway: the connection believed the open had failed and never sent
/// `close`, so the subscriber stayed for good, received every operation of a document it
/// never opened, and kept the document (and its room) loaded forever. Now an `open`
/// whose requester is gone is dropped.
#[tokio::test]
async fn regression_an_open_that_timed_out_left_a_ghost_subscriber_forever() {
    let world = World::new().await;
    let room = world.registry.pin(ROOM, &world);

    let (writer, mut writer_frames) = member("writer");
    let (command, answer) = open(writer, Some("hello"));
    room.dispatch(PATH, command, &world).expect("dispatch");
    answer.await.expect("answered").expect("the writer opens");
    assert_eq!(
        message_type(&writer_frames.recv().await.expect("opened")),
        "opened"
    );

    // The ghost's requester gave up before the owner reached its `open`: exactly what a
    // timed-out `open` leaves in the queue.
    let (ghost, mut ghost_frames) = member("ghost");
    let (command, answer) = open(ghost, None);
    drop(answer);
    room.dispatch(PATH, command, &world).expect("dispatch");

    // The writer types; its ack comes after the owner has handled the ghost's `open`
    // (one queue, in order) and is sent with the broadcast to every subscriber.
    room.dispatch(
        PATH,
        DocCommand::Submit(SubmitCommand {
            participant_id: "writer".to_owned(),
            client_id: "client-writer".to_owned(),
            seq: 1,
            base: 0,
            op: Operation::new().retain(5).insert("!"),
        }),
        &world,
    )
    .expect("dispatch");
    while message_type(&writer_frames.recv().await.expect("the writer's ack")) != "ack" {}
    let leaked: Vec<String> = std::iter::from_fn(|| ghost_frames.try_recv().ok())
        .map(|frame| message_type(&frame))
        .collect();
    assert!(
        leaked.is_empty(),
        "a member whose open was abandoned was subscribed and sent {leaked:?}"
    );

    // Once the writer closes, nobody is subscribed: the document unloads, and the room,
    // which nothing holds any more, is released.
    room.dispatch(
        PATH,
        DocCommand::Close {
            participant_id: "writer".to_owned(),
        },
        &world,
    )
    .expect("dispatch");
    drop(room);
    world
        .owners_ended()
        .await
        .expect("the document never unloaded: an abandoned open is still subscribed");
    assert!(
        world.registry.get(ROOM).is_none(),
        "the room was not released"
    );
    assert_eq!(world.env.metrics.rooms.load(Ordering::Relaxed), 0);
    assert_eq!(world.env.metrics.live_documents.load(Ordering::Relaxed), 0);
}

/// Issue 15, defect 10 (the document part). An owner whose document could not be loaded
/// (the database down) returned before the call that releases its room. A room is kept
/// while a document is loaded in it, so when the requester had gone first (a
/// connection that opened a document and closed, a REST read that gave up), nothing was
/// left to release it: the `Room` entry stayed in the registry for good. Now every way
/// out of the owner releases the room.
#[tokio::test]
async fn regression_an_owner_that_failed_to_load_leaked_its_room() {
    let world = World::new().await;
    // The store now fails every load, as it would with the database unreachable.
    let mut raw = sqlx::SqliteConnection::connect(&world.db.url)
        .await
        .expect("a second connection to the SQLite file");
    sqlx::query("ALTER TABLE documents RENAME TO documents_out_of_reach")
        .execute(&mut raw)
        .await
        .expect("break the store");
    raw.close().await.expect("close the second connection");

    // A requester pins the room, asks for the document and goes away before the owner
    // has even started loading it.
    let room = world.registry.pin(ROOM, &world);
    let (reply, answer) = oneshot::channel();
    room.dispatch(PATH, DocCommand::Read { reply }, &world)
        .expect("dispatch");
    drop(answer);
    drop(room);
    assert!(
        world.registry.get(ROOM).is_some(),
        "kept while its document's owner runs"
    );

    world.owners_ended().await.expect("the owner ends");
    assert!(
        world.registry.get(ROOM).is_none(),
        "the room stayed in the registry after its owner failed to load"
    );
    assert_eq!(world.env.metrics.rooms.load(Ordering::Relaxed), 0);
}

/// Issue 15, defect 9. When the store refused a group commit, the committer retried
/// every batch of the group alone, one after another: one conflicting document among
/// `n` cost `n + 1` transactions while every document in the group waited for all of
/// them. Now a refused group is split in halves, so the batch at fault is found in about
/// `2·log2(n)` transactions and only it is refused.
#[tokio::test]
async fn regression_one_refused_batch_retried_the_whole_group_one_by_one() {
    const DOCUMENTS: usize = 32;
    const AT_FAULT: usize = 13;
    let world = World::new().await;
    let store = &world.env.store;
    let mut documents = Vec::new();
    for i in 0..DOCUMENTS {
        let path = format!("doc{i}.txt");
        let id = store
            .create_document(ROOM, &path, "plaintext", "")
            .await
            .expect("create a document");
        documents.push(id);
    }
    let insert = |document, author: &str| AppendBatch {
        document,
        ops: vec![LoggedOperation {
            revision: 1,
            author: author.to_owned(),
            client_id: format!("client-{author}"),
            client_seq: 1,
            operation: Operation::new().insert(author),
            committed_at_ms: 0,
            participant_id: author.to_owned(),
        }],
        notice: None,
    };
    // Another relay already took revision 1 of one document: that batch conflicts.
    store
        .append_batch(&insert(documents[AT_FAULT], "other"))
        .await
        .expect("the other relay's commit");

    // Every commit is queued before the committer runs (the futures are polled together
    // on this one thread), so they form one group.
    let groups_before = world.env.metrics.commit_groups.load(Ordering::Relaxed);
    let outcomes = join_all(
        documents
            .iter()
            .map(|&document| world.env.committer.commit(insert(document, "mine"))),
    )
    .await;
    let transactions = world.env.metrics.commit_groups.load(Ordering::Relaxed) - groups_before;

    for (i, outcome) in outcomes.iter().enumerate() {
        let expected = if i == AT_FAULT {
            CommitOutcome::FailedBeforeCommit(Failure::Conflict)
        } else {
            CommitOutcome::Committed
        };
        assert_eq!(*outcome, expected, "document {i}");
    }
    // One group, then two halves per level down to the batch at fault: 1 + 2·5.
    let bound = 1 + 2 * DOCUMENTS.ilog2() as u64;
    assert!(
        transactions <= bound,
        "{transactions} transactions to isolate one refused batch among {DOCUMENTS} \
         (at most {bound} when halving)"
    );
    for (i, &document) in documents.iter().enumerate() {
        let logged = store
            .operations_since(document, 0, 10)
            .await
            .expect("read the log");
        let author = if i == AT_FAULT { "other" } else { "mine" };
        assert_eq!(logged.len(), 1, "document {i}");
        assert_eq!(logged[0].author, author, "document {i}");
    }
}

/// Issue 19, item 1. Owners are pipelined: a document's next batch reaches the committer
/// while the one before it still commits. Nothing in the log's keys forbids a hole, so
/// had the committer written a later batch after an earlier one of the same document
/// failed, the log would hold revision 3 without revision 2. A batch joins the one it
/// follows in one statement while that one waits for a group, or else waits until it
/// committed, and is answered as not written (without being tried) when it did not;
/// other documents are not held up.
#[tokio::test]
async fn a_documents_later_batches_are_not_written_after_one_that_failed() {
    let world = World::new().await;
    let store = &world.env.store;
    let failing = store
        .create_document(ROOM, "failing.txt", "plaintext", "")
        .await
        .expect("create a document");
    let fine = store
        .create_document(ROOM, "fine.txt", "plaintext", "")
        .await
        .expect("create a document");
    let insert = |document, revision: u64, author: &str| AppendBatch {
        document,
        ops: vec![LoggedOperation {
            revision,
            author: author.to_owned(),
            client_id: format!("client-{author}"),
            client_seq: revision,
            operation: Operation::new().insert(author),
            committed_at_ms: 0,
            participant_id: author.to_owned(),
        }],
        notice: None,
    };
    // Another relay already took revision 1 of `failing`: its first batch conflicts, and
    // the two sequenced on top of it (revisions 2 and 3) would not.
    store
        .append_batch(&insert(failing, 1, "other"))
        .await
        .expect("the other relay's commit");

    let committer = &world.env.committer;
    let mut first = committer.hand(insert(failing, 1, "mine"), None).await;
    let mut second = committer
        .hand(insert(failing, 2, "mine"), Some(first.id))
        .await;
    let mut third = committer
        .hand(insert(failing, 3, "mine"), Some(second.id))
        .await;
    let mut fine_first = committer.hand(insert(fine, 1, "mine"), None).await;
    let mut fine_second = committer
        .hand(insert(fine, 2, "mine"), Some(fine_first.id))
        .await;

    assert_eq!(
        first.outcome().await,
        CommitOutcome::FailedBeforeCommit(Failure::Conflict)
    );
    // They either joined the first one's unit (one statement: its conflict is theirs)
    // or waited for it and were never tried; written, in any case, they are not.
    for later in [&mut second, &mut third] {
        let outcome = later.outcome().await;
        assert!(
            matches!(outcome, CommitOutcome::FailedBeforeCommit(_)),
            "a batch after one that failed is answered as not written: {outcome:?}"
        );
    }
    assert_eq!(fine_first.outcome().await, CommitOutcome::Committed);
    assert_eq!(fine_second.outcome().await, CommitOutcome::Committed);

    let logged = store
        .operations_since(failing, 0, 10)
        .await
        .expect("read the log");
    let revisions: Vec<(u64, &str)> = logged
        .iter()
        .map(|e| (e.revision, e.author.as_str()))
        .collect();
    assert_eq!(revisions, vec![(1, "other")], "no hole in the log");
    let logged = store
        .operations_since(fine, 0, 10)
        .await
        .expect("read the log");
    assert_eq!(logged.len(), 2, "the other document committed both batches");
}

/// Issue 19, item 1. A document's batches that share one statement (the committer's
/// unit) are refused together when one row is bad. Answered as one, the batch before
/// the bad one would be refused too, and the owner refuses an operation a refusal names
/// when it stands alone: an innocent operation lost. The unit's head is tried alone,
/// then the rest, so only the batch at fault is refused.
#[tokio::test]
async fn a_refused_unit_blames_only_the_batch_at_fault() {
    let world = World::new().await;
    let store = &world.env.store;
    let busy = store
        .create_document(ROOM, "busy.txt", "plaintext", "")
        .await
        .expect("create a document");
    let document = store
        .create_document(ROOM, "unit.txt", "plaintext", "")
        .await
        .expect("create a document");
    let insert = |document, revision: u64, seq: u64| AppendBatch {
        document,
        ops: vec![LoggedOperation {
            revision,
            author: "a".to_owned(),
            client_id: "client-a".to_owned(),
            client_seq: seq,
            operation: Operation::new().insert("a"),
            committed_at_ms: 0,
            participant_id: "a".to_owned(),
        }],
        notice: None,
    };
    let committer = &world.env.committer;
    // The single SQLite writer is busy with another document, so the two batches below
    // wait for the next group together, the second joined to the first.
    let mut other = committer.hand(insert(busy, 1, 1), None).await;
    let mut good = committer.hand(insert(document, 1, 1), None).await;
    // A sequence number SQL cannot hold: the store refuses the row.
    let mut bad = committer
        .hand(insert(document, 2, u64::MAX), Some(good.id))
        .await;
    assert_eq!(other.outcome().await, CommitOutcome::Committed);
    assert_eq!(good.outcome().await, CommitOutcome::Committed);
    assert!(matches!(
        bad.outcome().await,
        CommitOutcome::FailedBeforeCommit(Failure::Rejected(_))
    ));
    let logged = store
        .operations_since(document, 0, 10)
        .await
        .expect("read the log");
    assert_eq!(logged.len(), 1, "the good batch committed, the bad one not");
}
