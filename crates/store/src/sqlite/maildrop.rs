//! SQL for POP3 maildrop locks (`Store::maildrop_lock`): plain functions over a
//! [`Connection`], like `queue`'s claims.
//!
//! Where it sits: [`super::SqliteStore`] runs both on the writer thread, inside its
//! write transaction, so the check and the set are one atomic step, also against
//! another process on the same database (SQLite's write lock). The table is
//! `maildrop_locks` (schema migration 12 in `schema`), one row per locked mailbox,
//! going with its mailbox (ON DELETE CASCADE); the lock itself is a single upsert
//! whose `WHERE` lets it replace only an expired lease or the holder's own.

use rusqlite::{Connection, params};

use crate::{MailboxId, Result, StoreError};

/// Takes or extends the lock (see `Store::maildrop_lock`).
pub(super) fn lock(
    c: &Connection,
    mailbox: MailboxId,
    holder: &str,
    now: i64,
    until: i64,
) -> Result<bool> {
    let exists = c
        .prepare_cached("SELECT 1 FROM mailboxes WHERE id = ?1")?
        .exists([mailbox.0])?;
    if !exists {
        return Err(StoreError::mailbox_gone());
    }
    let changed = c
        .prepare_cached(
            "INSERT INTO maildrop_locks(mailbox_id, holder, lease_until) VALUES (?1, ?2, ?3)
             ON CONFLICT(mailbox_id) DO UPDATE
                SET holder = excluded.holder, lease_until = excluded.lease_until
              WHERE maildrop_locks.holder = excluded.holder
                 OR maildrop_locks.lease_until <= ?4",
        )?
        .execute(params![mailbox.0, holder, until, now])?;
    Ok(changed == 1)
}

/// Drops the lock if it is `holder`'s (see `Store::maildrop_unlock`).
pub(super) fn unlock(c: &Connection, mailbox: MailboxId, holder: &str) -> Result<()> {
    c.prepare_cached("DELETE FROM maildrop_locks WHERE mailbox_id = ?1 AND holder = ?2")?
        .execute(params![mailbox.0, holder])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::sqlite::{SqliteStore, schema};
    use crate::{MailboxId, Store};

    /// A version-11 database (before maildrop locks) migrates: its mailboxes start
    /// unlocked and can be locked, refused to another holder and unlocked.
    #[tokio::test]
    async fn migrates_a_version_11_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let c = schema::create_at_version(&dir.path().join("postie.db"), 11).expect("v11");
            c.execute_batch(
                "INSERT INTO domains(name) VALUES ('example.org');
                 INSERT INTO accounts(id, address_key, address, domain, password_hash)
                     VALUES (1, 'a@example.org', 'a@example.org', 'example.org', 'x');
                 INSERT INTO mailboxes(id, account_id, name, uid_validity, uid_next)
                     VALUES (7, 1, 'INBOX', 1, 1);",
            )
            .expect("v11 rows");
        }
        let s = SqliteStore::open(dir.path()).expect("open migrates");
        let version: i64 = s
            .read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .await
            .expect("version");
        assert_eq!(version, schema::SCHEMA_VERSION);
        let inbox = MailboxId(7);
        assert!(s.maildrop_lock(inbox, "a", 100, 700).await.expect("lock"));
        assert!(!s.maildrop_lock(inbox, "b", 100, 700).await.expect("lock"));
        s.maildrop_unlock(inbox, "a").await.expect("unlock");
        assert!(s.maildrop_lock(inbox, "b", 100, 700).await.expect("lock"));
    }

    /// Two stores on one database (two nodes' writers) see each other's locks.
    #[tokio::test]
    async fn two_stores_on_one_database_share_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = SqliteStore::open(dir.path()).expect("open a");
        let b = SqliteStore::open(dir.path()).expect("open b");
        let domain = message::Domain::parse("example.org").expect("domain");
        a.domain_add(&domain).await.expect("domain");
        let address = message::Address::parse("u@example.org").expect("address");
        let account = a.account_add(&address, "x").await.expect("account");
        let inbox = a
            .mailbox_list(account)
            .await
            .expect("list")
            .into_iter()
            .find(|m| m.name == "INBOX")
            .expect("inbox")
            .id;
        assert!(
            a.maildrop_lock(inbox, "node-a:1", 100, 700)
                .await
                .expect("a")
        );
        assert!(
            !b.maildrop_lock(inbox, "node-b:1", 200, 800)
                .await
                .expect("b")
        );
        assert!(
            b.maildrop_lock(inbox, "node-b:1", 700, 1300)
                .await
                .expect("expired")
        );
        assert!(
            !a.maildrop_lock(inbox, "node-a:1", 701, 1300)
                .await
                .expect("a again")
        );
    }
}
