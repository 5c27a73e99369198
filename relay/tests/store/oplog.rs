//! The operation log's scenarios of `store.rs`: atomic batches and groups, what
//! retention finds, reading the log back. Each runs on both backends (`on_both_backends!`
//! in `store.rs`).

use super::*;

pub(crate) async fn conflicting_batch_writes_nothing(db: &TestDb) {
    let store = db.connect().await;
    let document = room_with_document(&store).await;
    let (committed, text) = typing("", &["a", "b"], 1, "c1", 0);
    store.append_operations(document, &committed).await.unwrap();

    // Revision 3 is new but revision 2 is taken: neither may be written.
    let (mut batch, _) = typing(&text, &["x", "y"], 2, "c2", 0);
    batch.reverse();
    let err = store.append_operations(document, &batch).await.unwrap_err();
    assert!(
        matches!(err, StoreError::RevisionConflict { document: d, revision: 2 } if d == document),
        "{err:?}"
    );

    // A batch that repeats a revision conflicts with itself.
    let (mut batch, _) = typing(&text, &["x", "y"], 3, "c3", 0);
    batch[1].revision = 3;
    let err = store.append_operations(document, &batch).await.unwrap_err();
    assert!(
        matches!(err, StoreError::RevisionConflict { revision: 3, .. }),
        "{err:?}"
    );

    // A client key that was already used is not a revision conflict, and also writes
    // nothing.
    let (mut batch, _) = typing(&text, &["x"], 3, "c1", 0);
    batch[0].client_seq = 1;
    let err = store.append_operations(document, &batch).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");

    let logged = store.operations_since(document, 0, 100).await.unwrap();
    assert_eq!(logged, committed);
    assert_eq!(
        store
            .find_client_operation(document, "c2", 1)
            .await
            .unwrap(),
        None
    );

    // An empty batch is accepted and changes nothing; the log continues normally.
    store.append_operations(document, &[]).await.unwrap();
    let (next, _) = typing(&text, &["c"], 3, "c2", 0);
    store.append_operations(document, &next).await.unwrap();
    assert_eq!(store.documents("room").await.unwrap()[0].revision, 3);
}

pub(crate) async fn large_batch_is_one_atomic_commit(db: &TestDb) {
    let store = db.connect().await;
    let document = room_with_document(&store).await;
    // Larger than one INSERT statement carries, so the batch spans several statements.
    let pieces: Vec<String> = (0..2_500).map(|i| format!("{}", i % 10)).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let (ops, text) = typing("", &pieces, 1, "c1", 0);

    // Commit the last operation first, so the big batch conflicts only at its very end.
    store
        .append_operations(document, &ops[ops.len() - 1..])
        .await
        .unwrap();
    let err = store.append_operations(document, &ops).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::RevisionConflict {
                revision: 2_500,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        store
            .operations_since(document, 0, 10_000)
            .await
            .unwrap()
            .len(),
        1
    );

    store.delete_room("room").await.unwrap();
    let document = room_with_document(&store).await;
    store.append_operations(document, &ops).await.unwrap();
    let loaded = store
        .load_document("room", "src/main.rs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.operations.len(), 2_500);
    assert_eq!(replay(&loaded.snapshot, &loaded.operations), text);
}

/// The committer's group: several documents' batches in one commit (on SQLite one
/// statement while it fits, chunked in one transaction beyond), all or nothing.
pub(crate) async fn a_group_of_documents_is_one_atomic_commit(db: &TestDb) {
    let store = db.connect().await;
    store.create_room("room", 1).await.expect("create the room");
    let mut documents = Vec::new();
    for path in ["a.rs", "b.rs", "c.rs"] {
        documents.push(
            store
                .create_document("room", path, "rust", "")
                .await
                .expect("create the document"),
        );
    }
    let batch = |document: i64, ops: Vec<LoggedOperation>| AppendBatch {
        document,
        ops,
        notice: None,
    };
    // Two documents of 600 operations and a third that conflicts: more rows than one
    // SQLite statement carries, so the group spans chunks and fails in the last one.
    let pieces: Vec<String> = (0..600).map(|i| format!("{}", i % 10)).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let (big, _) = typing("", &pieces, 1, "c1", 0);
    let (one, _) = typing("", &["x"], 1, "c2", 0);
    store.append_operations(documents[2], &one).await.unwrap();
    let refused = store
        .append_many(&[
            batch(documents[0], big.clone()),
            batch(documents[1], big.clone()),
            batch(documents[2], one.clone()),
        ])
        .await;
    assert!(refused.is_err(), "the third batch's revision is taken");
    for document in &documents[..2] {
        let logged = store.operations_since(*document, 0, 10_000).await.unwrap();
        assert!(logged.is_empty(), "nothing of a refused group is written");
    }

    // A group that fits in one statement, then the large one without the conflict.
    let (next, _) = typing("x", &["y"], 2, "c2", 1);
    store
        .append_many(&[
            batch(documents[0], one.clone()),
            batch(documents[1], one.clone()),
            batch(documents[2], next),
        ])
        .await
        .unwrap();
    let (more, _) = typing("x", &pieces, 2, "c3", 0);
    store
        .append_many(&[batch(documents[0], more.clone()), batch(documents[1], more)])
        .await
        .unwrap();
    let counts = [601, 601, 2];
    for (document, count) in documents.iter().zip(counts) {
        let logged = store.operations_since(*document, 0, 10_000).await.unwrap();
        assert_eq!(revisions(&logged), (1..=count).collect::<Vec<u64>>());
    }
}

/// Compaction folds a prefix of the log, so a document has work when its first row is
/// older than the cutoff, whatever its later rows are.
pub(crate) async fn retention_finds_documents_by_their_first_operation(db: &TestDb) {
    let store = db.connect().await;
    store.create_room("room", 1).await.expect("create the room");
    let old = store
        .create_document("room", "old.rs", "rust", "")
        .await
        .unwrap();
    let young = store
        .create_document("room", "young.rs", "rust", "")
        .await
        .unwrap();
    let _empty = store
        .create_document("room", "empty.rs", "rust", "")
        .await
        .unwrap();
    // `typing` stamps 1_700_000_000_000 + i.
    let (ops, _) = typing("", &["a", "b", "c"], 1, "c1", 0);
    store.append_operations(old, &ops).await.unwrap();
    let (mut later, _) = typing("", &["a"], 1, "c2", 0);
    later[0].committed_at_ms = 1_800_000_000_000;
    store.append_operations(young, &later).await.unwrap();

    let found = store
        .documents_with_old_operations(1_700_000_000_001, 100)
        .await
        .unwrap();
    assert_eq!(found, vec![old]);
    let none = store
        .documents_with_old_operations(1_700_000_000_000, 100)
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
}

pub(crate) async fn operations_since_respects_limit(db: &TestDb) {
    let store = db.connect().await;
    let document = room_with_document(&store).await;
    let (ops, _) = typing("", &["a", "b", "c", "d", "e", "f"], 1, "c1", 0);
    store.append_operations(document, &ops).await.unwrap();

    let page = store.operations_since(document, 2, 3).await.unwrap();
    assert_eq!(revisions(&page), [3, 4, 5]);
    assert_eq!(page, ops[2..5]);
    assert_eq!(
        revisions(&store.operations_since(document, 4, 100).await.unwrap()),
        [5, 6]
    );
    assert!(store
        .operations_since(document, 6, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .operations_since(document, 0, 0)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .operations_since(document, u64::MAX, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .operations_since(document + 1, 0, 10)
        .await
        .unwrap()
        .is_empty());
}

pub(crate) async fn find_client_operation_by_client_and_seq(db: &TestDb) {
    let store = db.connect().await;
    let document = room_with_document(&store).await;
    let other = store
        .create_document("room", "other.rs", "rust", "")
        .await
        .unwrap();
    let (mine, text) = typing("", &["a", "b"], 1, "alice", 10);
    let (theirs, _) = typing(&text, &["c"], 3, "bob", 10);
    store.append_operations(document, &mine).await.unwrap();
    store.append_operations(document, &theirs).await.unwrap();

    let find = |client: &'static str, seq: u64| {
        let store = store.clone();
        async move {
            store
                .find_client_operation(document, client, seq)
                .await
                .unwrap()
        }
    };
    assert_eq!(find("alice", 10).await, Some(1));
    assert_eq!(find("alice", 11).await, Some(2));
    assert_eq!(find("bob", 10).await, Some(3));
    assert_eq!(find("alice", 12).await, None);
    assert_eq!(find("carol", 10).await, None);
    assert_eq!(find("alice", u64::MAX).await, None);
    // The key is per document: the same client and sequence elsewhere is unknown.
    assert_eq!(
        store
            .find_client_operation(other, "alice", 10)
            .await
            .unwrap(),
        None
    );
    // And may be committed there too.
    let (elsewhere, _) = typing("", &["z"], 1, "alice", 10);
    store.append_operations(other, &elsewhere).await.unwrap();
    assert_eq!(
        store
            .find_client_operation(other, "alice", 10)
            .await
            .unwrap(),
        Some(1)
    );
}
