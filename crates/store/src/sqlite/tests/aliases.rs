//! SQLite-only alias tests: a version-1 database (from before aliases) migrates in place
//! and keeps its data, and damaged alias rows are set aside, not a panic.

use super::super::{SqliteStore, schema};
use super::{addr, store_with_alice};
use crate::{Store, StoreError};

#[tokio::test]
async fn migrates_a_version_1_database_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A data directory as the last Postie without aliases left it: schema version 1,
    // rows written with that version's SQL.
    {
        let c = schema::create_at_version(&dir.path().join("postie.db"), 1).expect("v1 database");
        c.execute_batch(
            "INSERT INTO domains(name) VALUES ('example.org');
             INSERT INTO meta(key, value) VALUES ('last_uid_validity', 1000);
             INSERT INTO accounts(id, address_key, address, domain, password_hash)
                 VALUES (7, 'alice@example.org', 'Alice@example.org', 'example.org', 'h1');
             INSERT INTO mailboxes(id, account_id, name, uid_validity, uid_next)
                 VALUES (9, 7, 'INBOX', 1000, 5);",
        )
        .expect("v1 rows");
        // A queue row as version 1 wrote it (without the DSN and hold columns).
        c.execute(
            "INSERT INTO queue(id, sender, body_type, smtputf8, blob_id, size, queued_at)
             VALUES (77, 'a@remote.example', '7BIT', 0, ?1, 3, 1000);",
            [super::super::blobs::new_id()],
        )
        .expect("v1 queue row");
        c.execute_batch(
            "INSERT INTO queue_recipients(queue_id, idx, address, status, attempts, next_attempt)
             VALUES (77, 0, 'b@remote.example', 'pending', 0, 1000);",
        )
        .expect("v1 queue recipient");
        let has_aliases: bool = c
            .prepare("SELECT 1 FROM sqlite_master WHERE name = 'aliases'")
            .expect("prepare")
            .exists([])
            .expect("query");
        assert!(!has_aliases, "version 1 has no aliases table");
    }
    let s = SqliteStore::open(dir.path()).expect("open migrates");
    let version: i64 = s
        .read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
        .await
        .expect("version");
    assert_eq!(version, schema::SCHEMA_VERSION);
    // The data is all still there.
    let alice = s
        .account_get(&addr("alice@example.org"))
        .await
        .expect("get")
        .expect("alice kept");
    assert_eq!(alice.id, crate::AccountId(7));
    assert_eq!(alice.address.to_string(), "Alice@example.org");
    assert_eq!(alice.password_hash, "h1");
    let boxes = s.mailbox_list(alice.id).await.expect("boxes");
    // INBOX first, as it was; the v4 migration added the special-use mailboxes.
    assert_eq!(boxes.len(), 6);
    assert_eq!(
        (boxes[0].id.0, boxes[0].uid_validity, boxes[0].uid_next),
        (9, 1000, 5)
    );
    let q = s.queue_list().await.expect("queue");
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].id.as_u64(), q[0].size), (77, 3));
    // Aliases work on the migrated database, including the cascade and the new checks.
    s.alias_add(&addr("info@example.org"), &addr("alice@example.org"))
        .await
        .expect("alias");
    assert_eq!(
        s.resolve_recipient(&addr("INFO@example.org"))
            .await
            .expect("resolve")
            .map(|a| a.id),
        Some(alice.id)
    );
    assert!(matches!(
        s.account_add(&addr("info@example.org"), "h").await,
        Err(StoreError::Exists(_))
    ));
    // A new account's INBOX still continues the old UIDVALIDITY sequence.
    let bob = s
        .account_add(&addr("bob@example.org"), "h")
        .await
        .expect("bob");
    assert!(s.mailbox_list(bob).await.expect("boxes")[0].uid_validity > 1000);
    drop(s);
    // Reopening is a no-op, and the alias was durable.
    let s = SqliteStore::open(dir.path()).expect("reopen");
    let aliases = s.alias_list().await.expect("aliases");
    assert_eq!(
        aliases,
        [(addr("info@example.org"), addr("Alice@example.org"))]
    );
    s.account_remove(&addr("alice@example.org"))
        .await
        .expect("rm alice");
    assert!(s.alias_list().await.expect("aliases").is_empty());
}

#[tokio::test]
async fn damaged_alias_rows_are_set_aside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, alice) = store_with_alice(dir.path()).await;
    for alias in ["a@example.org", "b@example.org"] {
        s.alias_add(&addr(alias), &addr("alice@example.org"))
            .await
            .expect("alias");
    }
    s.write(|c| {
        c.execute(
            "UPDATE aliases SET display = '@@' WHERE address = 'a@example.org'",
            [],
        )?;
        Ok(())
    })
    .await
    .expect("corrupt");
    // One damaged row does not hide the others.
    assert_eq!(
        s.alias_list().await.expect("list"),
        [(addr("b@example.org"), addr("alice@example.org"))]
    );
    // Resolving goes by the lookup key and the account row, so it still works.
    assert_eq!(
        s.resolve_recipient(&addr("a@example.org"))
            .await
            .expect("resolve")
            .map(|a| a.id),
        Some(alice)
    );
    // A damaged target account is reported, not a panic.
    s.write(|c| {
        c.execute("UPDATE accounts SET address = '@@'", [])?;
        Ok(())
    })
    .await
    .expect("corrupt");
    assert!(matches!(
        s.resolve_recipient(&addr("b@example.org")).await,
        Err(StoreError::Damaged(_))
    ));
    assert!(s.alias_list().await.expect("list").is_empty());
}
