//! Fresh databases for tests: an SQLite file in the temp folder, or a new database on
//! the PostgreSQL that `DATABASE_URL` names (the test script always sets it).

use sqlx::Connection;

pub struct TestDb {
    pub url: String,
    pub kind: &'static str,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

fn unique(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random source");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let path = std::env::temp_dir().join(format!("{}.db", unique("pairprog-test-")));
        TestDb {
            url: format!("sqlite://{}", path.display()),
            kind: "sqlite",
            cleanup: Cleanup::File(path),
        }
    }

    pub async fn postgres() -> TestDb {
        let admin_url = std::env::var("DATABASE_URL").expect(
            "DATABASE_URL must name a PostgreSQL server for the relay tests; \
             scripts/test.sh provisions one",
        );
        let name = unique("pairprog_test_");
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to DATABASE_URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("DATABASE_URL has no database part: {admin_url}"),
        };
        TestDb {
            url,
            kind: "postgres",
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                // Drop runs outside any runtime guarantee, so use a short-lived one on a
                // thread of its own.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(async move {
                        if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut admin)
                            .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A document as the store holds it, rebuilt from its snapshot and log independently of
/// the relay's memory.
pub struct StoredDocument {
    pub id: i64,
    pub text: String,
    pub revision: u64,
}

/// Loads `path` of `room` from the database at `url` and replays its log, asserting the
/// log has no gap and every logged operation applies.
pub async fn stored_document(url: &str, room: &str, path: &str) -> StoredDocument {
    use pairprog_protocol::Sequencer;
    use pairprog_relay::store::Store;

    let store = Store::connect(url).await.expect("store opens");
    let doc = store
        .load_document(room, path)
        .await
        .expect("load")
        .expect("document stored");
    let mut seq = Sequencer::new(
        ropey::Rope::from_str(&doc.snapshot),
        doc.snapshot_revision,
        1,
    );
    for op in doc.operations {
        assert_eq!(
            op.revision,
            seq.revision() + 1,
            "gap in the stored log of {path}"
        );
        seq.commit(op.operation).expect("a stored op applies");
    }
    StoredDocument {
        id: doc.id,
        text: seq.text().to_string(),
        revision: seq.revision(),
    }
}
