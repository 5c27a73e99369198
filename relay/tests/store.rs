//! Integration tests of the storage layer, each run against both backends: SQLite in a
//! fresh temporary file and Postgres in a fresh database created on the server that
//! `DATABASE_URL` names (the test script always sets it; without it the Postgres tests
//! fail rather than silently skip).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use pairprog_protocol::Operation;
use pairprog_relay::store::{AppendBatch, LoggedOperation, Store, StoreError};
use sqlx::Connection;

#[path = "store/oplog.rs"]
mod oplog;
use oplog::{
    a_group_of_documents_is_one_atomic_commit, conflicting_batch_writes_nothing,
    find_client_operation_by_client_and_seq, large_batch_is_one_atomic_commit,
    operations_since_respects_limit, retention_finds_documents_by_their_first_operation,
};

// ---------------------------------------------------------------------------------------
// Test databases

/// A database that exists for one test and is removed when the test ends, even when it
/// fails, so repeated runs never see each other's data.
enum TestDb {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    fn sqlite() -> TestDb {
        let path = std::env::temp_dir().join(format!("pairprog-store-{}.db", unique_hex()));
        TestDb::Sqlite { path }
    }

    async fn postgres() -> TestDb {
        let admin_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
            panic!(
                "DATABASE_URL is not set: the Postgres store tests need a server \
                 (scripts/test.sh provides one), e.g. \
                 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"
            )
        });
        let name = format!("pairprog_test_{}", unique_hex());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|err| panic!("cannot connect to DATABASE_URL {admin_url}: {err}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.expect("close the admin connection");
        let url = with_database(&admin_url, &name);
        TestDb::Postgres {
            admin_url,
            name,
            url,
        }
    }

    fn url(&self) -> String {
        match self {
            TestDb::Sqlite { path } => format!("sqlite://{}", path.display()),
            TestDb::Postgres { url, .. } => url.clone(),
        }
    }

    async fn connect(&self) -> Store {
        Store::connect(&self.url())
            .await
            .expect("connect the store")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            TestDb::Sqlite { path } => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            TestDb::Postgres {
                admin_url, name, ..
            } => {
                // Drop cannot await, and the test's runtime may be unwinding, so the
                // cleanup runs on a runtime of its own in a thread of its own.
                let (admin_url, statement) = (
                    admin_url.clone(),
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                );
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime for the cleanup");
                    runtime.block_on(async {
                        let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                        sqlx::query(&statement).execute(&mut admin).await?;
                        admin.close().await
                    })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
                    panic!("could not drop the test database {name}: {dropped:?}");
                }
            }
        }
    }
}

/// 64 random bits in hex, for names no other test run uses.
fn unique_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let seed = (
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed),
    );
    format!("{:016x}", RandomState::new().hash_one(seed))
}

/// `url` with its database name replaced by `name`, keeping any query parameters.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |at| authority_start + at);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Declares a scenario's test once per backend.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test]
                async fn sqlite() {
                    super::$scenario(&super::TestDb::sqlite()).await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::$scenario(&super::TestDb::postgres().await).await;
                }
            }
        )*
    };
}

on_both_backends!(
    room_lifecycle,
    duplicate_room,
    create_and_duplicate_document,
    load_returns_snapshot_and_log,
    conflicting_batch_writes_nothing,
    large_batch_is_one_atomic_commit,
    a_group_of_documents_is_one_atomic_commit,
    retention_finds_documents_by_their_first_operation,
    operations_since_respects_limit,
    find_client_operation_by_client_and_seq,
    snapshot_hides_older_log_from_load,
    documents_listed_in_creation_order,
    reopening_keeps_everything,
    migrations_are_idempotent,
    unicode_and_crlf_round_trip,
    corrupt_rows_are_reported,
    touch_room_moves_forward_only,
);

// ---------------------------------------------------------------------------------------
// Helpers

/// The operations that type `pieces` one after another at the end of `text`, starting at
/// revision `first_revision`, and the text they produce.
fn typing(
    text: &str,
    pieces: &[&str],
    first_revision: u64,
    client_id: &str,
    first_seq: u64,
) -> (Vec<LoggedOperation>, String) {
    let mut text = text.to_owned();
    let mut ops = Vec::new();
    for (index, piece) in (0u64..).zip(pieces) {
        let len = text.chars().count();
        let operation = Operation::splice(len, len, 0, piece).expect("an insert at the end");
        text = operation.apply_str(&text).expect("apply the insert");
        ops.push(LoggedOperation {
            revision: first_revision + index,
            author: format!("author of {client_id}"),
            client_id: client_id.to_owned(),
            client_seq: first_seq + index,
            operation,
            committed_at_ms: 1_700_000_000_000 + i64::try_from(index).expect("small index"),
            participant_id: format!("participant of {client_id}"),
        });
    }
    (ops, text)
}

/// Replays a stored document into its current text.
fn replay(snapshot: &str, ops: &[LoggedOperation]) -> String {
    ops.iter().fold(snapshot.to_owned(), |text, op| {
        op.operation.apply_str(&text).expect("the log applies")
    })
}

fn revisions(ops: &[LoggedOperation]) -> Vec<u64> {
    ops.iter().map(|op| op.revision).collect()
}

/// A room with one empty document, as most scenarios start.
async fn room_with_document(store: &Store) -> i64 {
    store.create_room("room", 1).await.expect("create the room");
    store
        .create_document("room", "src/main.rs", "rust", "")
        .await
        .expect("create the document")
}

// ---------------------------------------------------------------------------------------
// Scenarios

async fn room_lifecycle(db: &TestDb) {
    let store = db.connect().await;
    store.ping().await.expect("ping");
    assert_eq!(store.count_rooms().await.unwrap(), 0);
    assert!(store.room("room").await.unwrap().is_none());

    let document = room_with_document(&store).await;
    let room = store.room("room").await.unwrap().expect("the room exists");
    assert_eq!((room.id.as_str(), room.created_at_ms), ("room", 1));
    assert_eq!(store.count_rooms().await.unwrap(), 1);
    let (ops, _) = typing("", &["a", "b"], 1, "c1", 0);
    store.append_operations(document, &ops).await.unwrap();

    assert!(store.delete_room("room").await.unwrap());
    assert!(store.room("room").await.unwrap().is_none());
    assert_eq!(store.count_rooms().await.unwrap(), 0);
    // The cascade removed the document and its log.
    assert!(store
        .load_document("room", "src/main.rs")
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.count_documents("room").await.unwrap(), 0);
    assert!(store
        .operations_since(document, 0, 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .find_client_operation(document, "c1", 0)
            .await
            .unwrap(),
        None
    );
    // Deleting again reports that nothing was there.
    assert!(!store.delete_room("room").await.unwrap());
    // The id can be used again after the delete.
    store.create_room("room", 2).await.unwrap();
}

async fn duplicate_room(db: &TestDb) {
    let store = db.connect().await;
    store.create_room("room", 1).await.unwrap();
    let err = store.create_room("room", 2).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::RoomExists(id) if id == "room"),
        "{err:?}"
    );
    // The original is untouched.
    assert_eq!(store.room("room").await.unwrap().unwrap().created_at_ms, 1);
    assert_eq!(store.count_rooms().await.unwrap(), 1);
}

async fn create_and_duplicate_document(db: &TestDb) {
    let store = db.connect().await;
    store.create_room("room", 1).await.unwrap();
    store.create_room("other", 1).await.unwrap();
    let id = store
        .create_document("room", "a.py", "python", "print(1)\n")
        .await
        .unwrap();
    let err = store
        .create_document("room", "a.py", "python", "different")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::DocumentExists { room, path } if room == "room" && path == "a.py"),
        "{err:?}"
    );
    // The same path in another room is another document.
    let other = store
        .create_document("other", "a.py", "python", "")
        .await
        .unwrap();
    assert_ne!(id, other);
    // A document needs an existing room.
    let err = store
        .create_document("missing", "a.py", "python", "")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");

    let loaded = store.load_document("room", "a.py").await.unwrap().unwrap();
    assert_eq!(loaded.id, id);
    assert_eq!(loaded.room_id, "room");
    assert_eq!(loaded.path, "a.py");
    assert_eq!(loaded.language, "python");
    assert_eq!(loaded.snapshot, "print(1)\n");
    assert_eq!(loaded.snapshot_revision, 0);
    assert!(loaded.operations.is_empty());
    assert!(store.load_document("room", "b.py").await.unwrap().is_none());
    assert_eq!(store.count_documents("room").await.unwrap(), 1);
}

async fn load_returns_snapshot_and_log(db: &TestDb) {
    let store = db.connect().await;
    store.create_room("room", 1).await.unwrap();
    let document = store
        .create_document("room", "notes.md", "markdown", "# Notes\n")
        .await
        .unwrap();
    let (first, _) = typing("# Notes\n", &["one", " two"], 1, "c1", 0);
    let (second, text) = typing("# Notes\none two", &[" three"], 3, "c2", 7);
    store.append_operations(document, &first).await.unwrap();
    store.append_operations(document, &second).await.unwrap();

    let loaded = store
        .load_document("room", "notes.md")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.snapshot, "# Notes\n");
    assert_eq!(loaded.snapshot_revision, 0);
    let expected: Vec<_> = first.iter().chain(&second).cloned().collect();
    assert_eq!(loaded.operations, expected);
    assert_eq!(replay(&loaded.snapshot, &loaded.operations), text);
}

async fn snapshot_hides_older_log_from_load(db: &TestDb) {
    let store = db.connect().await;
    let document = room_with_document(&store).await;
    let (before, at_three) = typing("", &["fn", " main", "()"], 1, "c1", 0);
    let (after, text) = typing(&at_three, &[" {", "}"], 4, "c1", 3);
    store.append_operations(document, &before).await.unwrap();
    store.append_operations(document, &after).await.unwrap();

    store.write_snapshot(document, &at_three, 3).await.unwrap();
    let loaded = store
        .load_document("room", "src/main.rs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (loaded.snapshot.as_str(), loaded.snapshot_revision),
        (at_three.as_str(), 3)
    );
    assert_eq!(loaded.operations, after);
    assert_eq!(replay(&loaded.snapshot, &loaded.operations), text);
    // The older log stays for the history endpoint and resend detection.
    assert_eq!(
        store
            .operations_since(document, 0, 100)
            .await
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        store
            .find_client_operation(document, "c1", 0)
            .await
            .unwrap(),
        Some(1)
    );

    // A snapshot at the head leaves nothing to replay.
    store.write_snapshot(document, &text, 5).await.unwrap();
    let loaded = store
        .load_document("room", "src/main.rs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (loaded.snapshot.as_str(), loaded.snapshot_revision),
        (text.as_str(), 5)
    );
    assert!(loaded.operations.is_empty());
    assert_eq!(store.documents("room").await.unwrap()[0].revision, 5);

    // A snapshot of a document that does not exist is an error, not a silent no-op.
    let err = store
        .write_snapshot(document + 1_000, "", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Database(sqlx::Error::RowNotFound)),
        "{err:?}"
    );
}

async fn documents_listed_in_creation_order(db: &TestDb) {
    let store = db.connect().await;
    store.create_room("room", 1).await.unwrap();
    assert!(store.documents("room").await.unwrap().is_empty());
    let b = store
        .create_document("room", "b.rs", "rust", "")
        .await
        .unwrap();
    let a = store
        .create_document("room", "a.py", "python", "")
        .await
        .unwrap();
    store
        .create_document("room", "c.ts", "typescript", "x")
        .await
        .unwrap();

    let (b_ops, b_text) = typing("", &["1", "2", "3"], 1, "c1", 0);
    store.append_operations(b, &b_ops).await.unwrap();
    store.write_snapshot(b, &b_text, 3).await.unwrap();
    let (a_ops, _) = typing("", &["1", "2"], 1, "c1", 100);
    store.append_operations(a, &a_ops).await.unwrap();

    let listed: Vec<_> = store
        .documents("room")
        .await
        .unwrap()
        .into_iter()
        .map(|doc| (doc.path, doc.language, doc.revision))
        .collect();
    assert_eq!(
        listed,
        [
            ("b.rs".to_owned(), "rust".to_owned(), 3),
            ("a.py".to_owned(), "python".to_owned(), 2),
            ("c.ts".to_owned(), "typescript".to_owned(), 0),
        ]
    );
    assert_eq!(store.count_documents("room").await.unwrap(), 3);
    assert!(store.documents("elsewhere").await.unwrap().is_empty());
}

async fn reopening_keeps_everything(db: &TestDb) {
    let (document, ops, text) = {
        let store = db.connect().await;
        let document = room_with_document(&store).await;
        let (ops, text) = typing("", &["durable", " edits"], 1, "c1", 0);
        store.append_operations(document, &ops).await.unwrap();
        store.touch_room("room", 50).await.unwrap();
        (document, ops, text)
        // The store and all its connections are dropped here, as in a restart.
    };
    let store = db.connect().await;
    assert_eq!(store.room("room").await.unwrap().unwrap().created_at_ms, 1);
    let loaded = store
        .load_document("room", "src/main.rs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.id, document);
    assert_eq!(loaded.operations, ops);
    assert_eq!(replay(&loaded.snapshot, &loaded.operations), text);
    assert_eq!(
        store
            .find_client_operation(document, "c1", 1)
            .await
            .unwrap(),
        Some(2)
    );
    // Revisions continue where they stopped.
    let (next, _) = typing(&text, &["!"], 3, "c2", 0);
    store.append_operations(document, &next).await.unwrap();
    let err = store.append_operations(document, &next).await.unwrap_err();
    assert!(
        matches!(err, StoreError::RevisionConflict { revision: 3, .. }),
        "{err:?}"
    );
}

async fn migrations_are_idempotent(db: &TestDb) {
    let first = db.connect().await;
    first.create_room("room", 1).await.unwrap();
    // A second store on the same database finds the migrations applied and the data
    // intact, even while the first is still open.
    let second = db.connect().await;
    assert!(second.room("room").await.unwrap().is_some());
    drop(first);
    drop(second);
    let third = db.connect().await;
    assert_eq!(third.count_rooms().await.unwrap(), 1);
    let expected = match db {
        TestDb::Sqlite { .. } => "sqlite",
        TestDb::Postgres { .. } => "postgres",
    };
    assert_eq!(third.backend(), expected);
}

async fn unicode_and_crlf_round_trip(db: &TestDb) {
    let store = db.connect().await;
    store.create_room("room", 1).await.unwrap();
    let start = "héllo\r\nwörld 👋\r\n";
    let document = store
        .create_document("room", "dir/ünïcode 🦀.txt", "plaintext", start)
        .await
        .unwrap();
    let (ops, text) = typing(start, &["🎉\r\n", "日本語", "\u{0}nul"], 1, "client 🌍", 0);
    store.append_operations(document, &ops).await.unwrap();
    let loaded = store
        .load_document("room", "dir/ünïcode 🦀.txt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.snapshot, start);
    assert_eq!(loaded.operations, ops);
    assert_eq!(replay(&loaded.snapshot, &loaded.operations), text);
}

async fn corrupt_rows_are_reported(db: &TestDb) {
    let store = db.connect().await;
    let document = room_with_document(&store).await;
    let (ops, _) = typing("", &["a"], 1, "c1", 0);
    store.append_operations(document, &ops).await.unwrap();
    // Damage the stored operation behind the store's back.
    let damage = "UPDATE operations SET operation = 'not json' WHERE revision = 1";
    match &store {
        Store::Postgres(pg) => sqlx::query(damage).execute(pg.pool()).await.map(drop),
        Store::Sqlite(lite) => sqlx::query(damage).execute(lite.pool()).await.map(drop),
    }
    .unwrap();
    let err = store
        .load_document("room", "src/main.rs")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { revision: 1, .. }),
        "{err:?}"
    );
    let err = store.operations_since(document, 0, 10).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { revision: 1, .. }),
        "{err:?}"
    );
}

async fn touch_room_moves_forward_only(db: &TestDb) {
    let store = db.connect().await;
    store.create_room("room", 10).await.unwrap();
    store.touch_room("room", 30).await.unwrap();
    store.touch_room("room", 20).await.unwrap();
    // Touching a room that does not exist is harmless.
    store.touch_room("missing", 40).await.unwrap();
    let query = "SELECT last_active_ms FROM rooms WHERE id = 'room'";
    let last_active: i64 = match &store {
        Store::Postgres(pg) => sqlx::query_scalar(query).fetch_one(pg.pool()).await,
        Store::Sqlite(lite) => sqlx::query_scalar(query).fetch_one(lite.pool()).await,
    }
    .unwrap();
    assert_eq!(last_active, 30);
    assert_eq!(store.room("room").await.unwrap().unwrap().created_at_ms, 10);
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in [
        "mysql://localhost/db",
        "pairprog.db",
        "",
        "postgres:relative",
    ] {
        let err = Store::connect(url).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::UnsupportedUrl(got) if got == url),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let document = room_with_document(&store).await;
    let (ops, _) = typing("", &["a", "b"], 1, "c1", 0);
    store.append_operations(document, &ops).await.unwrap();
    let loaded = store
        .load_document("room", "src/main.rs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.operations, ops);
}

#[test]
fn database_name_replacement_keeps_the_rest_of_the_url() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
        "postgres://u:p@h:5432/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    assert_eq!(with_database("postgresql://h/", "x"), "postgresql://h/x");
}

#[tokio::test]
async fn sqlite_is_durable_wal_with_foreign_keys() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let Store::Sqlite(lite) = &store else {
        panic!("a sqlite: URL must open SQLite, got {}", store.backend());
    };
    let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(lite.pool())
        .await
        .unwrap();
    // 2 is FULL: the WAL is synced on every commit.
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(lite.pool())
        .await
        .unwrap();
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(lite.pool())
        .await
        .unwrap();
    assert_eq!(
        (journal_mode.as_str(), synchronous, foreign_keys),
        ("wal", 2, 1)
    );
    // The file exists on disk where the URL pointed.
    let TestDb::Sqlite { path } = &db else {
        unreachable!()
    };
    assert!(path.exists(), "{} was not created", path.display());
}
