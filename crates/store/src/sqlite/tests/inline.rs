//! The layout of bodies since schema 16 (`super::super::inline_blobs`): small bodies in
//! the database, committed with their rows (no file, no fsync of their own), large ones
//! as files; rows and bodies go together; data directories written before (every body a
//! file) read unchanged and take new bodies inline.

use std::sync::Arc;

use message::QueueId;

use super::{blob_files, concurrent_body, enqueue_concurrently, envelope, store_with_alice};
use crate::sqlite::SqliteStore;
use crate::sqlite::inline_blobs::INLINE_MAX;
use crate::{RecipientOutcome, Store};

/// How many inline bodies the database holds.
fn inline_rows(dir: &std::path::Path) -> i64 {
    let c = rusqlite::Connection::open(dir.join(crate::sqlite::DB_FILE)).expect("db");
    c.query_row("SELECT count(*) FROM inline_blobs", [], |r| r.get(0))
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_bodies_share_their_commit_and_write_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(SqliteStore::open(dir.path()).expect("open"));
    let commits = enqueue_concurrently(&s, 50).await;
    assert!(
        commits < 50,
        "group commit: 50 enqueues took {commits} commits"
    );
    assert!(blob_files(dir.path()).is_empty(), "no body file");
    assert_eq!(inline_rows(dir.path()), 50);
    for n in 0..50u64 {
        assert_eq!(
            s.queue_body(QueueId::from_u64(1000 + n))
                .await
                .expect("body"),
            concurrent_body(n)
        );
    }
}

#[tokio::test]
async fn a_large_body_is_a_file_and_bodies_go_with_their_last_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (files_only, alice) = store_with_alice(dir.path()).await;
    drop(files_only);
    let s = SqliteStore::open(dir.path()).expect("inline store");
    let small = QueueId::from_u64(1);
    let large = QueueId::from_u64(2);
    let rcpts = envelope(&["alice@example.org", "b@remote.example"]);
    s.enqueue(small, &rcpts, b"small body")
        .await
        .expect("small");
    let big = vec![b'x'; INLINE_MAX + 1];
    s.enqueue(large, &rcpts, &big).await.expect("large");
    assert_eq!(
        blob_files(dir.path()).len(),
        1,
        "only the large body is a file"
    );
    assert_eq!(inline_rows(dir.path()), 1);
    for id in [small, large] {
        s.deliver_to_mailbox(id, 0, alice, b"P: 1\r\n")
            .await
            .expect("deliver");
        s.queue_mark(id, 1, &RecipientOutcome::Delivered)
            .await
            .expect("relayed");
    }
    assert_eq!(s.queue_collect().await.expect("collect"), 2);
    // The mailbox still names both bodies.
    assert_eq!(inline_rows(dir.path()), 1);
    assert_eq!(blob_files(dir.path()).len(), 1);
    let inbox = s.mailbox_list(alice).await.expect("boxes")[0].id;
    assert_eq!(
        s.message_read(inbox, 1).await.expect("read"),
        b"P: 1\r\nsmall body"
    );
    assert_eq!(
        s.message_read(inbox, 2).await.expect("read").len(),
        6 + big.len()
    );
    s.message_remove(inbox, &[1, 2]).await.expect("remove");
    assert_eq!(
        inline_rows(dir.path()),
        0,
        "the inline body went with its row"
    );
    assert!(blob_files(dir.path()).is_empty(), "the file too");
}

/// A data directory written before schema 16 (every body a file) opens migrated: its
/// bodies read as before, and new small bodies go inline.
#[tokio::test]
async fn a_data_dir_of_body_files_reads_unchanged_and_takes_new_bodies_inline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = QueueId::from_u64(7);
    {
        let (s, _) = store_with_alice(dir.path()).await;
        s.enqueue(old, &envelope(&["alice@example.org"]), b"written as a file")
            .await
            .expect("enqueue");
    }
    // Back to the schema before inline bodies (and the mailbox totals of schema 17),
    // as an older version left it.
    {
        let c = rusqlite::Connection::open(dir.path().join(crate::sqlite::DB_FILE)).expect("db");
        c.execute_batch(
            "DROP TRIGGER messages_usage_insert;
             DROP TRIGGER messages_usage_delete;
             DROP TRIGGER messages_usage_update;
             ALTER TABLE mailboxes DROP COLUMN used_messages;
             ALTER TABLE mailboxes DROP COLUMN used_octets;
             DROP TABLE inline_blobs;
             PRAGMA user_version = 15;",
        )
        .expect("downgrade");
    }
    assert_eq!(blob_files(dir.path()).len(), 1);
    let s = SqliteStore::open(dir.path()).expect("open migrates");
    assert_eq!(
        s.queue_body(old).await.expect("old body"),
        b"written as a file"
    );
    let new = QueueId::from_u64(8);
    s.enqueue(new, &envelope(&["alice@example.org"]), b"inline")
        .await
        .expect("enqueue");
    assert_eq!(s.queue_body(new).await.expect("new body"), b"inline");
    assert_eq!(blob_files(dir.path()).len(), 1, "no new file");
    assert_eq!(inline_rows(dir.path()), 1);
}

/// A job that fails takes its inline bodies with it (its savepoint).
#[tokio::test]
async fn a_refused_enqueue_leaves_no_inline_body() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(dir.path()).expect("open");
    let id = QueueId::from_u64(3);
    s.enqueue(id, &envelope(&["b@remote.example"]), b"first")
        .await
        .expect("enqueue");
    assert!(
        s.enqueue(id, &envelope(&["b@remote.example"]), b"second")
            .await
            .is_err(),
        "the id is taken"
    );
    assert_eq!(inline_rows(dir.path()), 1);
    assert_eq!(s.queue_body(id).await.expect("body"), b"first");
}
