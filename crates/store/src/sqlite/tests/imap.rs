//! SQLite-only IMAP tests: a version-3 database migrates to the current version with its data,
//! APPEND survives a restart, MULTIAPPEND is one transaction, body files live exactly as long as an IMAP-visible row
//! needs them, and (ignored by default) the timing of a 100,000-message mailbox.

use std::time::Instant;

use message::QueueId;

use super::super::{SqliteStore, blobs::Blobs, schema};
use super::{addr, blob_files, envelope, store_with_alice};
use crate::{FlagChange, Mailbox, MailboxId, NewMessage, Store, StoreError};

/// The mailbox `name` of `account`, which must exist.
async fn get(s: &SqliteStore, account: crate::AccountId, name: &str) -> Mailbox {
    s.mailbox_get(account, name)
        .await
        .expect("get")
        .unwrap_or_else(|| panic!("no mailbox {name}"))
}

#[tokio::test]
async fn migrates_a_version_3_database_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blob = super::super::blobs::new_id();
    Blobs::open(dir.path().join("blobs"))
        .expect("blobs")
        .write(&blob, b"body")
        .expect("body file");
    // A data directory as version 3 left it: two accounts, one of which already has a
    // mailbox called Sent, and a delivered message.
    {
        let c = schema::create_at_version(&dir.path().join("postie.db"), 3).expect("v3");
        c.execute_batch(
            "INSERT INTO domains(name) VALUES ('example.org');
             INSERT INTO meta(key, value) VALUES ('last_uid_validity', 1000);
             INSERT INTO accounts(id, address_key, address, domain, password_hash)
                 VALUES (7, 'alice@example.org', 'alice@example.org', 'example.org', 'h'),
                        (8, 'bob@example.org', 'bob@example.org', 'example.org', 'h');
             INSERT INTO mailboxes(id, account_id, name, uid_validity, uid_next)
                 VALUES (9, 7, 'INBOX', 999, 3), (10, 8, 'INBOX', 1000, 1),
                        (11, 8, 'Sent', 998, 1);",
        )
        .expect("v3 rows");
        c.execute(
            "INSERT INTO queue(id, sender, body_type, smtputf8, blob_id, size, queued_at)
             VALUES (77, 'a@remote.example', '7BIT', 0, ?1, 4, 1000)",
            [&blob],
        )
        .expect("queue row");
        c.execute_batch(
            "INSERT INTO queue_recipients(queue_id, idx, address, status, attempts, next_attempt)
             VALUES (77, 0, 'alice@example.org', 'delivered', 1, 1000);",
        )
        .expect("recipient");
        c.execute(
            "INSERT INTO messages(mailbox_id, uid, blob_id, prefix, body_size, size,
                                  received_at, queue_id, recipient_index)
             VALUES (9, 2, ?1, x'503a20310d0a', 4, 10, 1234, 77, 0)",
            [&blob],
        )
        .expect("message row");
    }
    let s = SqliteStore::open(dir.path())
        .expect("open migrates")
        .files_only();
    let version: i64 = s
        .read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
        .await
        .expect("version");
    assert_eq!(version, schema::SCHEMA_VERSION);
    let alice = crate::AccountId(7);
    let boxes = s.mailbox_list(alice).await.expect("boxes");
    // Version 9: mail that was there before the upgrade is not \Recent.
    let inbox = boxes.iter().find(|m| m.name == "INBOX").expect("inbox");
    assert_eq!(inbox.recent_uid, 2);
    assert!(
        boxes
            .iter()
            .filter(|m| m.name != "INBOX")
            .all(|m| m.recent_uid == 0)
    );
    let names: Vec<(&str, Option<&str>, bool)> = boxes
        .iter()
        .map(|m| (m.name.as_str(), m.special_use.as_deref(), m.subscribed))
        .collect();
    assert_eq!(
        names,
        [
            ("INBOX", None, true),
            ("Sent", Some("\\Sent"), true),
            ("Drafts", Some("\\Drafts"), true),
            ("Trash", Some("\\Trash"), true),
            ("Junk", Some("\\Junk"), true),
            ("Archive", Some("\\Archive"), true),
        ]
    );
    let inbox = &boxes[0];
    assert_eq!(
        (inbox.id.0, inbox.uid_validity, inbox.uid_next),
        (9, 999, 3)
    );
    assert_eq!(inbox.highest_modseq, 1);
    let mut validities: Vec<u32> = boxes[1..].iter().map(|m| m.uid_validity).collect();
    assert!(validities.iter().all(|v| *v > 1000), "{validities:?}");
    validities.sort_unstable();
    validities.dedup();
    assert_eq!(validities.len(), 5);
    // Bob's own Sent stays as it was (not duplicated, not re-labelled).
    let bob = s.mailbox_list(crate::AccountId(8)).await.expect("bob");
    assert_eq!(bob.len(), 6);
    let sent = bob.iter().find(|m| m.name == "Sent").expect("sent");
    assert_eq!(
        (sent.id.0, sent.uid_validity, sent.special_use.as_deref()),
        (11, 998, None)
    );
    // The old message: no flags, mod-sequence 1, still readable and removable by IMAP.
    let listed = s.message_list_imap(inbox.id).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].uid, listed[0].modseq, listed[0].size),
        (2, 1, 10)
    );
    assert!(listed[0].flags.is_empty());
    assert_eq!(
        s.message_read(inbox.id, 2).await.expect("read"),
        b"P: 1\r\nbody"
    );
    let r = s
        .message_flags_set(inbox.id, &[2], FlagChange::Add, &["\\Seen".into()], None)
        .await
        .expect("flags");
    assert_eq!(r.changed[0].modseq, 2);
    // A copy of a delivered message may sit beside it in the same mailbox (the
    // delivery key only covers delivered rows).
    assert_eq!(
        s.message_copy(inbox.id, &[2], inbox.id)
            .await
            .expect("copy"),
        [(2, 3)]
    );
    // Delivery's duplicate guard still holds for delivered rows.
    let again = s
        .write(|c| {
            Ok(c.execute(
                "INSERT OR IGNORE INTO messages(mailbox_id, uid, blob_id, prefix, body_size,
                     size, received_at, queue_id, recipient_index)
                 SELECT mailbox_id, 99, blob_id, prefix, body_size, size, received_at,
                     queue_id, recipient_index FROM messages WHERE mailbox_id = 9 AND uid = 2",
                [],
            )?)
        })
        .await
        .expect("insert");
    assert_eq!(again, 0, "the unique delivery key refused a second filing");
    // New mailboxes continue the UIDVALIDITY sequence past the migrated ones.
    let new = s.mailbox_create(alice, "New", None).await.expect("create");
    assert!(new.uid_validity > *validities.last().expect("some"));
    drop(s);
    // Reopening is a no-op.
    let s = SqliteStore::open(dir.path()).expect("reopen").files_only();
    assert_eq!(s.mailbox_list(alice).await.expect("boxes").len(), 7);
}

#[tokio::test]
async fn append_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sent, uid) = {
        let (s, alice) = store_with_alice(dir.path()).await;
        let sent = get(&s, alice, "Sent").await;
        let uid = s
            .message_append(sent.id, b"Subject: x\r\n\r\nhi", &["\\Seen".into()], 1000)
            .await
            .expect("append");
        (sent, uid)
    };
    let s = SqliteStore::open(dir.path()).expect("reopen").files_only();
    assert_eq!(
        s.message_read(sent.id, uid).await.expect("read"),
        b"Subject: x\r\n\r\nhi"
    );
    let listed = s.message_list_imap(sent.id).await.expect("list");
    assert_eq!(listed[0].flags, ["\\Seen"]);
    assert_eq!(blob_files(dir.path()).len(), 1);
    // An append that fails takes its body file back.
    assert!(matches!(
        s.message_append(MailboxId(987_654), b"lost", &[], 0).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(blob_files(dir.path()).len(), 1);
}

/// A MULTIAPPEND whose transaction fails at its second row (a trigger stands in for a
/// disk error) leaves no row and takes back every body file it wrote; after a restart
/// a successful one is all there.
#[tokio::test]
async fn append_many_is_one_transaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, alice) = store_with_alice(dir.path()).await;
    let sent = get(&s, alice, "Sent").await;
    s.message_append(sent.id, b"kept", &[], 0)
        .await
        .expect("append");
    s.write(|c| {
        c.execute_batch(
            "CREATE TEMP TRIGGER refuse_second BEFORE INSERT ON main.messages
             WHEN NEW.body_size = 2 BEGIN SELECT RAISE(ABORT, 'injected'); END",
        )?;
        Ok(())
    })
    .await
    .expect("trigger");
    let none: &[String] = &[];
    let message = |body: &'static [u8]| NewMessage {
        body,
        flags: none,
        received_at: 0,
        summary: None,
    };
    let before = get(&s, alice, "Sent").await;
    let failing = [message(b"1"), message(b"22"), message(b"333")];
    let refused = s.message_append_many(sent.id, &failing).await;
    assert!(format!("{refused:?}").contains("injected"), "{refused:?}");
    assert_eq!(get(&s, alice, "Sent").await, before);
    assert_eq!(s.message_list_imap(sent.id).await.expect("list").len(), 1);
    assert_eq!(
        blob_files(dir.path()).len(),
        1,
        "the written bodies taken back"
    );
    let fine = [message(b"1"), message(b"333")];
    assert_eq!(
        s.message_append_many(sent.id, &fine).await.expect("append"),
        [2, 3]
    );
    drop(s);
    let s = SqliteStore::open(dir.path()).expect("reopen").files_only();
    assert_eq!(s.message_read(sent.id, 3).await.expect("read"), b"333");
    assert_eq!(blob_files(dir.path()).len(), 3);
}

#[tokio::test]
async fn body_files_follow_imap_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, alice) = store_with_alice(dir.path()).await;
    let id = QueueId::from_u64(5);
    s.enqueue(id, &envelope(&["alice@example.org"]), b"shared")
        .await
        .expect("enqueue");
    s.deliver_to_mailbox(id, 0, alice, b"")
        .await
        .expect("deliver");
    assert_eq!(s.queue_collect().await.expect("collect"), 1);
    let inbox = get(&s, alice, "INBOX").await;
    let work = s.mailbox_create(alice, "Work", None).await.expect("work");
    let trash = get(&s, alice, "Trash").await;
    // Copy, then expunge the original: the copy still needs the file.
    s.message_copy(inbox.id, &[1], work.id).await.expect("copy");
    s.message_flags_set(inbox.id, &[1], FlagChange::Add, &["\\Deleted".into()], None)
        .await
        .expect("flag");
    assert_eq!(
        s.message_expunge(inbox.id, None).await.expect("expunge"),
        [1]
    );
    assert_eq!(blob_files(dir.path()).len(), 1);
    // Move shares it too.
    s.message_move(work.id, &[1], trash.id).await.expect("move");
    assert_eq!(blob_files(dir.path()).len(), 1);
    s.mailbox_create(alice, "Trash/old", None)
        .await
        .expect("child");
    // Deleting the last mailbox naming it releases it.
    s.mailbox_delete(alice, "Trash").await.expect("delete");
    assert!(blob_files(dir.path()).is_empty());
    // An appended body goes when its expunge commits.
    let uid = s
        .message_append(inbox.id, b"appended", &["\\Deleted".into()], 0)
        .await
        .expect("append");
    assert_eq!(blob_files(dir.path()).len(), 1);
    assert_eq!(
        s.message_expunge(inbox.id, None).await.expect("expunge"),
        [uid]
    );
    assert!(blob_files(dir.path()).is_empty());
    // The deleted mailbox's id is never handed out again.
    let again = s.mailbox_create(alice, "Trash", None).await.expect("again");
    assert_ne!(again.id, trash.id);
    assert!(matches!(
        s.message_list_imap(trash.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        s.account_get(&addr("alice@example.org"))
            .await
            .expect("get")
            .is_some()
    );
}

/// How the IMAP queries scale: 100,000 messages in one mailbox (rows inserted
/// directly, sharing one body), then the listing SELECT reads and a flag change on
/// every message. Prints the durations; asserts only the results. Run with
/// `cargo test -p store --release -- --ignored --nocapture imap_100k`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing run, not a check"]
async fn imap_100k_messages_timing() {
    const COUNT: u32 = 100_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, alice) = store_with_alice(dir.path()).await;
    let id = QueueId::from_u64(1);
    s.enqueue(id, &envelope(&["alice@example.org"]), &[b'x'; 4096])
        .await
        .expect("enqueue");
    let prefix = b"Return-Path: <a@remote.example>\r\nDelivered-To: alice@example.org\r\n";
    s.deliver_to_mailbox(id, 0, alice, prefix)
        .await
        .expect("deliver");
    let inbox = get(&s, alice, "INBOX").await;
    let started = Instant::now();
    let mailbox = inbox.id.0;
    s.write(move |c| {
        c.execute(
            "WITH RECURSIVE n(u) AS (SELECT 2 UNION ALL SELECT u + 1 FROM n WHERE u < ?2)
             INSERT INTO messages(mailbox_id, uid, blob_id, prefix, body_size, size,
                                  received_at, queue_id, recipient_index, flags, modseq)
             SELECT m.mailbox_id, n.u, m.blob_id, m.prefix, m.body_size, m.size,
                    m.received_at, m.queue_id, NULL, '\\Seen', n.u + 1
             FROM n, messages m WHERE m.mailbox_id = ?1 AND m.uid = 1",
            rusqlite::params![mailbox, COUNT],
        )?;
        c.execute(
            "UPDATE mailboxes SET uid_next = ?2 + 1, highest_modseq = ?2 + 1 WHERE id = ?1",
            rusqlite::params![mailbox, COUNT],
        )?;
        Ok(())
    })
    .await
    .expect("fill");
    println!("fill {COUNT} rows: {:?}", started.elapsed());

    let started = Instant::now();
    let listed = s.message_list_imap(inbox.id).await.expect("list");
    println!(
        "message_list_imap ({} messages): {:?}",
        listed.len(),
        started.elapsed()
    );
    assert_eq!(listed.len(), COUNT as usize);
    assert!(listed.windows(2).all(|w| w[0].uid < w[1].uid));

    let all: Vec<u32> = (1..=COUNT).collect();
    let started = Instant::now();
    let r = s
        .message_flags_set(inbox.id, &all, FlagChange::Add, &["\\Flagged".into()], None)
        .await
        .expect("flag all");
    println!("message_flags_set on all: {:?}", started.elapsed());
    assert_eq!(r.changed.len(), COUNT as usize);
    assert_eq!(
        r.changed.last().map(|m| m.modseq),
        Some(2 * u64::from(COUNT) + 1)
    );

    let started = Instant::now();
    let r = s
        .message_flags_set(
            inbox.id,
            &[COUNT / 2],
            FlagChange::Remove,
            &["\\Seen".into()],
            None,
        )
        .await
        .expect("flag one");
    println!("message_flags_set on one: {:?}", started.elapsed());
    assert_eq!(r.changed.len(), 1);

    let started = Instant::now();
    let listed = s.message_list_imap(inbox.id).await.expect("list");
    println!("message_list_imap again: {:?}", started.elapsed());
    assert!(
        listed
            .iter()
            .all(|m| m.flags.contains(&"\\Flagged".to_string()))
    );
}
