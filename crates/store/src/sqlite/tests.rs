//! Tests only the SQLite backend can have: durability across reopen, group commit,
//! damaged files on disk, two processes on one data directory, body-file lifetime and
//! the orphan sweep. The shared behaviour suite is in `src/suite.rs`; migration and
//! alias tests are in the child module `aliases` (`tests/aliases.rs`), the IMAP ones
//! (v3 → v4 migration, APPEND durability, body files, 100k timing) in `imap`, the
//! IDN re-keying (v7 → v8 migration) in `idn`.

mod aliases;
mod idn;
mod imap;
mod inline;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use message::{Address, BodyType, Domain, Envelope, QueueId};

use super::{SqliteStore, queue};
use crate::{RecipientOutcome, Store, StoreError};

fn addr(s: &str) -> Address {
    Address::parse(s).expect("test address")
}

fn envelope(recipients: &[&str]) -> Envelope {
    Envelope {
        sender: Some(addr("a@remote.example")),
        recipients: recipients.iter().map(|r| addr(r)).collect(),
        body_type: BodyType::SevenBit,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    }
}

/// Every body file under `dir/blobs`.
fn blob_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir.join("blobs")).expect("blobs dir") {
        let sub = sub.expect("entry").path();
        for f in std::fs::read_dir(&sub).expect("sub dir") {
            out.push(f.expect("entry").path());
        }
    }
    out
}

async fn store_with_alice(dir: &Path) -> (SqliteStore, crate::AccountId) {
    let s = SqliteStore::open(dir).expect("open").files_only();
    s.domain_add(&Domain::parse("example.org").expect("d"))
        .await
        .expect("domain");
    let alice = s
        .account_add(&addr("alice@example.org"), "hash")
        .await
        .expect("alice");
    (s, alice)
}

#[tokio::test]
async fn layout_on_disk() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("nested").join("data");
    let s = SqliteStore::open(&dir).expect("open").files_only();
    assert!(dir.join("postie.db").is_file());
    assert!(dir.join("blobs").is_dir());
    assert_eq!(s.data_dir(), dir);
    s.enqueue(
        QueueId::from_u64(1),
        &envelope(&["x@remote.example"]),
        b"body",
    )
    .await
    .expect("enqueue");
    let files = blob_files(&dir);
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().and_then(|n| n.to_str()).expect("name");
    let parent = files[0]
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str());
    assert_eq!(parent, Some(&name[..2]), "blobs/xx/<id>");
    assert_eq!(std::fs::read(&files[0]).expect("read"), b"body");
}

#[tokio::test]
async fn survives_close_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = QueueId::from_u64(42);
    {
        let (s, alice) = store_with_alice(dir.path()).await;
        s.enqueue(
            id,
            &envelope(&["alice@example.org", "b@remote.example"]),
            b"hello",
        )
        .await
        .expect("enqueue");
        assert_eq!(
            s.deliver_to_mailbox(id, 0, alice, b"P: 1\r\n")
                .await
                .expect("d"),
            Some(1)
        );
    }
    let s = SqliteStore::open(dir.path()).expect("reopen").files_only();
    let alice = s
        .account_get(&addr("ALICE@example.org"))
        .await
        .expect("get")
        .expect("alice survived");
    let boxes = s.mailbox_list(alice.id).await.expect("boxes");
    assert_eq!(boxes[0].uid_next, 2);
    assert_eq!(
        s.message_read(boxes[0].id, 1).await.expect("read"),
        b"P: 1\r\nhello"
    );
    let q = s.queue_list().await.expect("queue");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].id, id);
    assert_eq!(s.queue_body(id).await.expect("body"), b"hello");
    // Delivery stays idempotent across the restart.
    assert_eq!(
        s.deliver_to_mailbox(id, 0, alice.id, b"").await.expect("d"),
        None
    );
}

/// The body [`enqueue_concurrently`] gives queue entry `1000 + n`.
fn concurrent_body(n: u64) -> Vec<u8> {
    format!("message {n}\r\n").repeat(100).into_bytes()
}

/// Enqueues `count` messages (ids 1000…, bodies [`concurrent_body`]) from as many tasks
/// at once; returns how many commits they took.
async fn enqueue_concurrently(s: &Arc<SqliteStore>, count: u64) -> u64 {
    let before = s.commit_count();
    let tasks: Vec<_> = (0..count)
        .map(|n| {
            let s = Arc::clone(s);
            tokio::spawn(async move {
                s.enqueue(
                    QueueId::from_u64(1000 + n),
                    &envelope(&["x@remote.example"]),
                    &concurrent_body(n),
                )
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("enqueue");
    }
    s.commit_count() - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_share_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(SqliteStore::open(dir.path()).expect("open").files_only());
    let commits = enqueue_concurrently(&s, 50).await;
    assert_eq!(s.queue_list().await.expect("list").len(), 50);
    assert_eq!(blob_files(dir.path()).len(), 50);
    assert!(commits >= 1);
    assert!(
        commits < 50,
        "group commit: 50 enqueues took {commits} commits"
    );
}

#[tokio::test]
async fn a_failing_job_does_not_spoil_its_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(SqliteStore::open(dir.path()).expect("open").files_only());
    // Hold the writer busy so the next jobs pile up into one batch.
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (started, has_started) = std::sync::mpsc::channel::<()>();
    let blocker = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            s.write(move |_| {
                let _ = started.send(());
                let _ = wait.recv_timeout(Duration::from_secs(30));
                Ok(())
            })
            .await
        })
    };
    tokio::task::spawn_blocking(move || has_started.recv_timeout(Duration::from_secs(30)))
        .await
        .expect("join")
        .expect("blocker started");
    let before = s.commit_count();
    let submitted = s.writer.submitted();
    let mut tasks = Vec::new();
    for name in ["a.example", "b.example", "a.example", "c.example"] {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            s.domain_add(&Domain::parse(name).expect("d")).await
        }));
    }
    // Wait until all four are queued behind the blocker.
    while s.writer.submitted() < submitted + 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    release.send(()).expect("release");
    blocker.await.expect("task").expect("blocker");
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task"));
    }
    let exists = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Exists(_))))
        .count();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!((ok, exists), (3, 1), "{results:?}");
    assert_eq!(s.domain_list().await.expect("list").len(), 3);
    // The blocker's batch, then one batch for all four.
    assert_eq!(s.commit_count() - before, 2);
}

#[tokio::test]
async fn damaged_body_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, alice) = store_with_alice(dir.path()).await;
    let id = QueueId::from_u64(5);
    s.enqueue(id, &envelope(&["alice@example.org"]), b"0123456789")
        .await
        .expect("enqueue");
    s.deliver_to_mailbox(id, 0, alice, b"P\r\n")
        .await
        .expect("deliver");
    let mbox = s.mailbox_list(alice).await.expect("boxes")[0].id;
    let files = blob_files(dir.path());
    assert_eq!(files.len(), 1, "one body shared by queue and mailbox");

    // Truncated.
    std::fs::write(&files[0], b"01234").expect("truncate");
    assert!(matches!(
        s.message_read(mbox, 1).await,
        Err(StoreError::Damaged(_))
    ));
    assert!(matches!(
        s.queue_body(id).await,
        Err(StoreError::Damaged(_))
    ));
    // Longer than recorded.
    std::fs::write(&files[0], b"0123456789ABC").expect("extend");
    assert!(matches!(
        s.message_read(mbox, 1).await,
        Err(StoreError::Damaged(_))
    ));
    // Missing.
    std::fs::remove_file(&files[0]).expect("remove");
    assert!(matches!(
        s.message_read(mbox, 1).await,
        Err(StoreError::Damaged(_))
    ));
    assert!(matches!(
        s.queue_body(id).await,
        Err(StoreError::Damaged(_))
    ));
    // The listing still works: the index is intact.
    assert_eq!(s.message_list(mbox).await.expect("list").len(), 1);
}

#[tokio::test]
async fn damaged_rows_are_set_aside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, _alice) = store_with_alice(dir.path()).await;
    s.enqueue(QueueId::from_u64(1), &envelope(&["x@remote.example"]), b"a")
        .await
        .expect("q");
    s.enqueue(QueueId::from_u64(2), &envelope(&["y@remote.example"]), b"b")
        .await
        .expect("q");
    s.account_add(&addr("bob@example.org"), "h")
        .await
        .expect("bob");
    // Corrupt rows the way a bad disk or a hand edit might.
    s.write(|c| {
        c.execute(
            "UPDATE queue_recipients SET address = 'not an address' WHERE queue_id = 1",
            [],
        )?;
        c.execute(
            "UPDATE accounts SET address = '@@' WHERE address_key = 'bob@example.org'",
            [],
        )?;
        c.execute("UPDATE messages SET blob_id = '../../etc/passwd'", [])?;
        Ok(())
    })
    .await
    .expect("corrupt");
    let q = s.queue_list().await.expect("list");
    assert_eq!(q.iter().map(|m| m.id.as_u64()).collect::<Vec<_>>(), [2]);
    let accounts = s.account_list().await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert!(matches!(
        s.account_get(&addr("bob@example.org")).await,
        Err(StoreError::Damaged(_))
    ));
}

#[tokio::test]
async fn damaged_blob_id_is_not_a_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, alice) = store_with_alice(dir.path()).await;
    let id = QueueId::from_u64(3);
    s.enqueue(id, &envelope(&["alice@example.org"]), b"x")
        .await
        .expect("q");
    s.deliver_to_mailbox(id, 0, alice, b"").await.expect("d");
    s.write(|c| {
        c.execute(
            "UPDATE messages SET blob_id = '../../../../etc/hostname'",
            [],
        )?;
        Ok(())
    })
    .await
    .expect("corrupt");
    let mbox = s.mailbox_list(alice).await.expect("boxes")[0].id;
    assert!(matches!(
        s.message_read(mbox, 1).await,
        Err(StoreError::Damaged(_))
    ));
}

#[tokio::test]
async fn a_second_process_sees_the_same_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = SqliteStore::open(dir.path()).expect("server").files_only();
    let cli = SqliteStore::open(dir.path()).expect("cli").files_only();
    server
        .domain_add(&Domain::parse("example.org").expect("d"))
        .await
        .expect("domain");
    // The CLI adds a user while the server has the database open…
    let id = cli
        .account_add(&addr("Dora@example.org"), "h")
        .await
        .expect("add");
    // …and the server sees it at once.
    let seen = server
        .account_get(&addr("dora@example.org"))
        .await
        .expect("get")
        .expect("visible");
    assert_eq!(seen.id, id);
    // Both keep writing, interleaved.
    let q = QueueId::from_u64(77);
    server
        .enqueue(q, &envelope(&["dora@example.org"]), b"hi")
        .await
        .expect("enqueue");
    assert_eq!(
        cli.deliver_to_mailbox(q, 0, id, b"").await.expect("d"),
        Some(1)
    );
    assert_eq!(
        server.deliver_to_mailbox(q, 0, id, b"").await.expect("d"),
        None
    );
    cli.account_set_password(&addr("dora@example.org"), "h2")
        .await
        .expect("passwd");
    let dora = server
        .account_get(&addr("dora@example.org"))
        .await
        .expect("get");
    assert_eq!(dora.map(|a| a.password_hash).as_deref(), Some("h2"));
}

/// Environment variable that turns [`child_process_adds_a_user`] on and names its dir.
const CHILD_DIR: &str = "POSTIE_STORE_TEST_CHILD_DIR";

/// Run by [`another_process_adds_a_user`] in a child process, as `postie user add` would.
#[tokio::test]
#[ignore = "run as a child process by another_process_adds_a_user"]
async fn child_process_adds_a_user() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let s = SqliteStore::open(Path::new(&dir))
        .expect("child open")
        .files_only();
    s.account_add(&addr("eve@example.org"), "child-hash")
        .await
        .expect("child add");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_adds_a_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, alice) = store_with_alice(dir.path()).await;
    // Keep the server side busy writing while the other process works.
    let q = QueueId::from_u64(1);
    s.enqueue(q, &envelope(&["alice@example.org"]), b"x")
        .await
        .expect("enqueue");
    let exe = std::env::current_exe().expect("test binary");
    let data_dir = dir.path().to_path_buf();
    let child = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .args([
                "--exact",
                "sqlite::tests::child_process_adds_a_user",
                "--ignored",
            ])
            .env(CHILD_DIR, data_dir)
            .output()
    });
    let (out, delivered) = tokio::join!(child, s.deliver_to_mailbox(q, 0, alice, b""));
    let out = out.expect("join").expect("run child");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran its test"
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(delivered.expect("deliver"), Some(1));
    let eve = s.account_get(&addr("EVE@example.org")).await.expect("get");
    assert_eq!(eve.map(|a| a.password_hash).as_deref(), Some("child-hash"));
}

#[tokio::test]
async fn body_files_live_as_long_as_a_row_names_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, alice) = store_with_alice(dir.path()).await;
    let id = QueueId::from_u64(9);
    s.enqueue(
        id,
        &envelope(&["alice@example.org", "b@remote.example"]),
        b"body",
    )
    .await
    .expect("enqueue");
    s.deliver_to_mailbox(id, 0, alice, b"")
        .await
        .expect("deliver");
    s.queue_mark(id, 1, &RecipientOutcome::Delivered)
        .await
        .expect("relayed");
    assert_eq!(s.queue_collect().await.expect("collect"), 1);
    assert_eq!(
        blob_files(dir.path()).len(),
        1,
        "the mailbox still needs it"
    );
    let mbox = s.mailbox_list(alice).await.expect("boxes")[0].id;
    s.message_remove(mbox, &[1]).await.expect("remove");
    assert!(
        blob_files(dir.path()).is_empty(),
        "released after the last row went"
    );

    // A queue entry nobody local received: collect deletes its body at once.
    let id = QueueId::from_u64(10);
    s.enqueue(id, &envelope(&["b@remote.example"]), b"relay")
        .await
        .expect("enqueue");
    s.queue_mark(
        id,
        0,
        &RecipientOutcome::Failed {
            reason: "550".into(),
        },
    )
    .await
    .expect("fail");
    assert_eq!(s.queue_collect().await.expect("collect"), 1);
    assert!(blob_files(dir.path()).is_empty());

    // Removing an account releases its bodies.
    let id = QueueId::from_u64(11);
    s.enqueue(id, &envelope(&["alice@example.org"]), b"x")
        .await
        .expect("enqueue");
    s.deliver_to_mailbox(id, 0, alice, b"")
        .await
        .expect("deliver");
    s.queue_collect().await.expect("collect");
    assert_eq!(blob_files(dir.path()).len(), 1);
    s.account_remove(&addr("alice@example.org"))
        .await
        .expect("remove");
    assert!(blob_files(dir.path()).is_empty());

    // A rejected enqueue takes its file back.
    let env = envelope(&["b@remote.example"]);
    s.enqueue(QueueId::from_u64(12), &env, b"one")
        .await
        .expect("enqueue");
    assert!(matches!(
        s.enqueue(QueueId::from_u64(12), &env, b"two").await,
        Err(StoreError::Exists(_))
    ));
    assert_eq!(blob_files(dir.path()).len(), 1);
}

#[tokio::test]
async fn orphans_are_swept_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = SqliteStore::open(dir.path()).expect("open").files_only();
        s.enqueue(
            QueueId::from_u64(1),
            &envelope(&["b@remote.example"]),
            b"kept",
        )
        .await
        .expect("enqueue");
    }
    // A body written before a crash, never committed.
    let orphan = super::blobs::new_id();
    let sub = dir.path().join("blobs").join(&orphan[..2]);
    std::fs::create_dir_all(&sub).expect("mkdir");
    std::fs::write(sub.join(&orphan), b"lost").expect("write");
    assert_eq!(blob_files(dir.path()).len(), 2);
    // Too young to be judged with the default grace period.
    drop(SqliteStore::open(dir.path()).expect("open").files_only());
    assert_eq!(blob_files(dir.path()).len(), 2);
    let s = SqliteStore::open_with_grace(dir.path(), Duration::ZERO)
        .expect("open")
        .files_only();
    assert_eq!(blob_files(dir.path()).len(), 1);
    assert_eq!(
        s.queue_body(QueueId::from_u64(1)).await.expect("body"),
        b"kept"
    );
}

#[tokio::test]
async fn queue_ids_sort_as_unsigned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(dir.path()).expect("open").files_only();
    let env = envelope(&["b@remote.example"]);
    // Same arrival second; ids above i64::MAX must still sort after small ones.
    let ids = [u64::MAX - 1, 1 << 63, 5, (1 << 63) - 1];
    for id in ids {
        s.write({
            let env = env.clone();
            move |c| {
                queue::insert(
                    c,
                    QueueId::from_u64(id),
                    &env,
                    &super::blobs::new_id(),
                    0,
                    1000,
                )
            }
        })
        .await
        .expect("insert");
    }
    let listed: Vec<u64> = s
        .read(queue::list)
        .await
        .expect("list")
        .iter()
        .map(|m| m.id.as_u64())
        .collect();
    assert_eq!(listed, [5, (1 << 63) - 1, 1 << 63, u64::MAX - 1]);
    // Due entries come longest-due first, straight off the index; among entries due at
    // the same second the order is the index's (signed) one, which does not matter.
    let mut due: Vec<u64> = s
        .queue_due(1000, 3)
        .await
        .expect("due")
        .iter()
        .map(|m| m.id.as_u64())
        .collect();
    assert_eq!(due.len(), 3);
    due.sort_unstable();
    due.dedup();
    assert_eq!(due.len(), 3, "each entry once");
    assert!(due.iter().all(|id| listed.contains(id)));
}

/// Queueing and filing are one step: when a filing fails, nothing is queued and the
/// body file is taken back.
#[tokio::test]
async fn enqueue_and_file_is_all_or_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let (s, alice) = store_with_alice(root.path()).await;
    let bad = crate::Filing {
        recipient: 0,
        account: crate::AccountId(alice.0 + 1000),
        prefix: b"Delivered-To: x\r\n".to_vec(),
        summary: None,
    };
    let id = QueueId::from_u64(77);
    let result = s
        .enqueue_and_file(id, &envelope(&["alice@example.org"]), b"body", &[bad])
        .await;
    assert!(result.is_err(), "{result:?}");
    assert!(s.queue_list().await.expect("list").is_empty());
    assert!(
        blob_files(root.path()).is_empty(),
        "the body file was released"
    );
}
