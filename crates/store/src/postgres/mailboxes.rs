//! Mailboxes on PostgreSQL: listing, looking up, creating, deleting and renaming them
//! (RFC 3501 §6.3.3–6.3.5), the special-use mailboxes of a new account (RFC 6154), the
//! subscription list (RFC 3501 §6.3.6) and the `\Recent` claim (RFC 3501 §2.3.2).
//!
//! Where it sits: the trait methods `mailbox_*` of [`super::PgStore`]; `accounts`
//! calls [`create_defaults`] inside `account_add`'s transaction. Names are checked and
//! INBOX spelled canonically by [`crate::mailbox_names`] before any SQL runs.
//!
//! UIDVALIDITY comes from `meta.last_uid_validity`, which only grows: [`insert`]
//! raises it in one statement, which also locks its row until the transaction ends,
//! so two nodes creating mailboxes at once never hand out one value twice and a
//! mailbox deleted and re-created under the same name never gets an old value back
//! (RFC 3501 §2.3.1.1). Row ids are identity values, never reused, so a session
//! holding a deleted mailbox's id gets `NotFound`, never another mailbox's messages.
//!
//! Locks: deleting or renaming locks the mailbox rows concerned (`FOR UPDATE`, in id
//! order when several), the lock every change to a mailbox's messages takes first, so
//! a filing under way finishes before and none slips in between reading the bodies to
//! release and deleting the rows.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{PgStore, db_err, is_foreign_key_violation, is_unique_violation, now_unix};
use crate::mailbox_names::{self, DEFAULT_SPECIAL, INBOX};
use crate::{AccountId, Mailbox, MailboxId, Result, StoreError};

/// The columns [`mailbox_from_row`] reads, from `mailboxes m`.
pub(super) const COLUMNS: &str = "m.id, m.name, m.uid_validity, m.uid_next, m.highest_modseq,
     m.special_use, m.recent_uid,
     EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id
             AND s.name = m.name)";

/// Reads a stored UID counter, which must fit IMAP's 32 bits.
pub(super) fn uid_from(value: i64, what: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| StoreError::Damaged(format!("{what} {value} out of range")))
}

/// Reads a stored mod-sequence, which must be positive (RFC 7162 §3.1).
pub(super) fn modseq_from(value: i64) -> Result<u64> {
    u64::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| StoreError::Damaged(format!("mod-sequence {value} out of range")))
}

/// Checks the [`COLUMNS`] of `row`, starting at column `at` (a query may select other
/// columns first, e.g. the ACL's shared mailboxes), and builds the [`Mailbox`].
pub(super) fn mailbox_from_row(row: &Row, at: usize) -> Result<Mailbox> {
    let id: i64 = row.try_get(at).map_err(db_err)?;
    let name: String = row.try_get(at + 1).map_err(db_err)?;
    let validity: i64 = row.try_get(at + 2).map_err(db_err)?;
    let next: i64 = row.try_get(at + 3).map_err(db_err)?;
    let modseq: i64 = row.try_get(at + 4).map_err(db_err)?;
    let special_use: Option<String> = row.try_get(at + 5).map_err(db_err)?;
    let recent: i64 = row.try_get(at + 6).map_err(db_err)?;
    let subscribed: bool = row.try_get(at + 7).map_err(db_err)?;
    Ok(Mailbox {
        id: MailboxId(id),
        name,
        uid_validity: uid_from(validity, "UIDVALIDITY")?,
        uid_next: uid_from(next, "UIDNEXT")?,
        highest_modseq: modseq_from(modseq)?,
        subscribed,
        special_use,
        recent_uid: uid_from(recent, "recent UID")?,
    })
}

/// `NotFound` unless the account exists.
async fn known_account(c: &impl GenericClient, account: AccountId) -> Result<()> {
    let stmt = c
        .prepare_cached("SELECT 1 FROM accounts WHERE id = $1")
        .await
        .map_err(db_err)?;
    match c.query_opt(&stmt, &[&account.0]).await.map_err(db_err)? {
        Some(_) => Ok(()),
        None => Err(StoreError::account_gone()),
    }
}

/// The row id of the account's mailbox named `name` (canonical); `lock` takes its row
/// `FOR UPDATE` until the transaction ends.
async fn find(
    c: &impl GenericClient,
    account: AccountId,
    name: &str,
    lock: bool,
) -> Result<Option<i64>> {
    let sql = if lock {
        "SELECT id FROM mailboxes WHERE account_id = $1 AND name = $2 FOR UPDATE"
    } else {
        "SELECT id FROM mailboxes WHERE account_id = $1 AND name = $2"
    };
    let stmt = c.prepare_cached(sql).await.map_err(db_err)?;
    let row = c
        .query_opt(&stmt, &[&account.0, &name])
        .await
        .map_err(db_err)?;
    row.map(|r| r.try_get(0).map_err(db_err)).transpose()
}

/// One mailbox by row id, `None` when there is none.
async fn by_id(c: &impl GenericClient, id: i64) -> Result<Option<Mailbox>> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM mailboxes m WHERE m.id = $1"
        ))
        .await
        .map_err(db_err)?;
    let row = c.query_opt(&stmt, &[&id]).await.map_err(db_err)?;
    row.map(|r| mailbox_from_row(&r, 0)).transpose()
}

/// The UIDVALIDITY for a new mailbox: the current time in seconds, but always above
/// every value handed out before, so a mailbox deleted and re-created with the same
/// name never reuses one (RFC 3501 §2.3.1.1). Never zero (it is an nz-number). The
/// statement locks `meta`'s row until the transaction ends: creations are serialized
/// across nodes, and a value is never handed out twice.
async fn next_uid_validity(c: &impl GenericClient, now_unix: i64) -> Result<u32> {
    let now = i64::from(u32::try_from(now_unix.max(1)).unwrap_or(u32::MAX));
    let stmt = c
        .prepare_cached(
            "INSERT INTO meta(key, value) VALUES ('last_uid_validity', $1)
             ON CONFLICT (key) DO UPDATE
                 SET value = least(greatest(meta.value + 1, EXCLUDED.value), 4294967295)
             RETURNING value",
        )
        .await
        .map_err(db_err)?;
    let value: i64 = c
        .query_one(&stmt, &[&now])
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)?;
    u32::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| StoreError::Damaged(format!("last UIDVALIDITY {value} out of range")))
}

/// Inserts an empty mailbox (canonical, free name); returns its row id. UIDs start at
/// 1 (RFC 3501 §2.3.1.1: UIDs are non-zero), HIGHESTMODSEQ at 1. A name taken
/// meanwhile (another node) is `Exists`; an account removed meanwhile `NotFound`.
async fn insert(
    c: &impl GenericClient,
    account: AccountId,
    name: &str,
    special_use: Option<&str>,
    now_unix: i64,
) -> Result<i64> {
    let uid_validity = next_uid_validity(c, now_unix).await?;
    let stmt = c
        .prepare_cached(
            "INSERT INTO mailboxes(account_id, name, uid_validity, uid_next, highest_modseq,
                                   special_use)
             VALUES ($1, $2, $3, 1, 1, $4) RETURNING id",
        )
        .await
        .map_err(db_err)?;
    let row = c
        .query_one(
            &stmt,
            &[&account.0, &name, &i64::from(uid_validity), &special_use],
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Exists(format!("mailbox {name}"))
            } else if is_foreign_key_violation(&e) {
                StoreError::account_gone()
            } else {
                db_err(e)
            }
        })?;
    row.try_get(0).map_err(db_err)
}

/// Adds (`on`) or removes the canonical `name` in the account's subscription list.
async fn set_subscribed(
    c: &impl GenericClient,
    account: AccountId,
    name: &str,
    on: bool,
) -> Result<()> {
    let sql = if on {
        "INSERT INTO subscriptions(account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM subscriptions WHERE account_id = $1 AND name = $2"
    };
    let stmt = c.prepare_cached(sql).await.map_err(db_err)?;
    c.execute(&stmt, &[&account.0, &name]).await.map_err(|e| {
        if is_foreign_key_violation(&e) {
            StoreError::account_gone()
        } else {
            db_err(e)
        }
    })?;
    Ok(())
}

/// A new account's INBOX and special-use mailboxes, all subscribed; inside
/// `account_add`'s transaction.
pub(super) async fn create_defaults(
    c: &impl GenericClient,
    account: AccountId,
    now_unix: i64,
) -> Result<()> {
    insert(c, account, INBOX, None, now_unix).await?;
    set_subscribed(c, account, INBOX, true).await?;
    for (name, special_use) in DEFAULT_SPECIAL {
        insert(c, account, name, Some(special_use), now_unix).await?;
        set_subscribed(c, account, name, true).await?;
    }
    Ok(())
}

/// The account's mailboxes in creation order; `NotFound` for an unknown account.
pub(super) async fn mailbox_list(s: &PgStore, account: AccountId) -> Result<Vec<Mailbox>> {
    let c = s.client().await?;
    known_account(&c, account).await?;
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM mailboxes m WHERE m.account_id = $1 ORDER BY m.id"
        ))
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[&account.0]).await.map_err(db_err)?;
    rows.iter().map(|r| mailbox_from_row(r, 0)).collect()
}

/// The account's mailbox named `name`, `None` when there is none.
pub(super) async fn mailbox_get(
    s: &PgStore,
    account: AccountId,
    name: &str,
) -> Result<Option<Mailbox>> {
    let name = mailbox_names::canonical(name)?;
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM mailboxes m WHERE m.account_id = $1 AND m.name = $2"
        ))
        .await
        .map_err(db_err)?;
    let row = c
        .query_opt(&stmt, &[&account.0, &name])
        .await
        .map_err(db_err)?;
    row.map(|r| mailbox_from_row(&r, 0)).transpose()
}

/// Creates a mailbox; see [`crate::Store::mailbox_create`].
pub(super) async fn mailbox_create(
    s: &PgStore,
    account: AccountId,
    name: &str,
    special_use: Option<&str>,
) -> Result<Mailbox> {
    let name = mailbox_names::canonical(name)?;
    let special_use = special_use.map(mailbox_names::special_use).transpose()?;
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    known_account(&tx, account).await?;
    if find(&tx, account, &name, false).await?.is_some() {
        return Err(StoreError::Exists(format!("mailbox {name}")));
    }
    let id = insert(&tx, account, &name, special_use.as_deref(), now_unix()).await?;
    let mailbox = by_id(&tx, id)
        .await?
        .ok_or_else(|| StoreError::Io(format!("mailbox {name} vanished")))?;
    super::commit(tx).await?;
    Ok(mailbox)
}

/// Deletes a mailbox with its messages (INBOX cannot be); after the commit, releases
/// the bodies no row names any more.
pub(super) async fn mailbox_delete(s: &PgStore, account: AccountId, name: &str) -> Result<()> {
    let name = mailbox_names::canonical(name)?;
    if name == INBOX {
        return Err(StoreError::Invalid("INBOX cannot be deleted".into()));
    }
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let Some(id) = find(&tx, account, &name, true).await? else {
        return Err(StoreError::NotFound(format!("mailbox {name}")));
    };
    let blobs: Vec<String> = tx
        .query(
            "SELECT DISTINCT blob_id FROM messages WHERE mailbox_id = $1",
            &[&id],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| r.try_get(0).map_err(db_err))
        .collect::<Result<_>>()?;
    // Its messages, tombstones, ACL and POP3 lease go with it (ON DELETE CASCADE).
    tx.execute("DELETE FROM mailboxes WHERE id = $1", &[&id])
        .await
        .map_err(db_err)?;
    let freed = super::unreferenced(&tx, &blobs).await?;
    super::commit(tx).await?;
    s.release(freed).await;
    Ok(())
}

/// Renames a mailbox and its children; see [`crate::Store::mailbox_rename`].
pub(super) async fn mailbox_rename(
    s: &PgStore,
    account: AccountId,
    from: &str,
    to: &str,
) -> Result<()> {
    let (from, to) = (
        mailbox_names::canonical(from)?,
        mailbox_names::canonical(to)?,
    );
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    // The account's mailbox rows, locked in id order (the order COPY/MOVE lock in):
    // the names read below stay as they are until the commit.
    let all: Vec<(i64, String)> = tx
        .query(
            "SELECT id, name FROM mailboxes WHERE account_id = $1 ORDER BY id FOR UPDATE",
            &[&account.0],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?)))
        .collect::<Result<_>>()?;
    let Some(source) = all.iter().find(|(_, n)| *n == from).map(|(id, _)| *id) else {
        return Err(StoreError::NotFound(format!("mailbox {from}")));
    };
    if all.iter().any(|(_, n)| *n == to) {
        return Err(StoreError::Exists(format!("mailbox {to}")));
    }
    if from == INBOX {
        rename_inbox(&tx, account, MailboxId(source), &to).await?;
        return super::commit(tx).await;
    }
    mailbox_names::check_rename(&from, &to)?;
    let moves: Vec<(i64, String)> = all
        .iter()
        .filter_map(|(id, name)| Some((*id, mailbox_names::renamed(name, &from, &to)?)))
        .collect();
    // A new name may only clash with a mailbox that stays where it is.
    let staying = |name: &str| {
        all.iter()
            .any(|(id, n)| n == name && !moves.iter().any(|(m, _)| m == id))
    };
    if let Some((_, taken)) = moves.iter().find(|(_, name)| staying(name)) {
        return Err(StoreError::Exists(format!("mailbox {taken}")));
    }
    let ids: Vec<i64> = moves.iter().map(|(id, _)| *id).collect();
    let names: Vec<&str> = moves.iter().map(|(_, n)| n.as_str()).collect();
    // Two passes, so no row briefly takes a name another renamed row still has (a
    // non-deferred unique index is checked row by row). No real name starts with '/'.
    tx.execute(
        "UPDATE mailboxes SET name = '/renaming/' || id WHERE id = ANY($1)",
        &[&ids],
    )
    .await
    .map_err(db_err)?;
    tx.execute(
        "UPDATE mailboxes m SET name = v.name
         FROM unnest($1::bigint[], $2::text[]) AS v(id, name) WHERE m.id = v.id",
        &[&ids, &names],
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Exists(format!("mailbox {to}"))
        } else {
            db_err(e)
        }
    })?;
    super::commit(tx).await
}

/// RENAME INBOX (RFC 3501 §6.3.5): a new mailbox `to` takes all of INBOX's messages
/// (keeping their UIDs and mod-sequences, under a new UIDVALIDITY); INBOX stays,
/// empty, with the messages recorded as expunged (RFC 7162 §3.2.10) under one new
/// mod-sequence. The caller holds INBOX's row locked.
async fn rename_inbox(
    tx: &deadpool_postgres::Transaction<'_>,
    account: AccountId,
    inbox: MailboxId,
    to: &str,
) -> Result<()> {
    let row = tx
        .query_opt(
            "SELECT uid_next, highest_modseq, recent_uid FROM mailboxes WHERE id = $1",
            &[&inbox.0],
        )
        .await
        .map_err(db_err)?
        .ok_or_else(StoreError::mailbox_gone)?;
    let uid_next: i64 = row.try_get(0).map_err(db_err)?;
    let highest: i64 = row.try_get(1).map_err(db_err)?;
    let recent: i64 = row.try_get(2).map_err(db_err)?;
    uid_from(uid_next, "UIDNEXT")?;
    let highest_modseq = modseq_from(highest)?;
    uid_from(recent, "recent UID")?;
    let target = insert(tx, account, to, None, now_unix()).await?;
    // The same messages under the same UIDs: their \Recent stays claimed, and the
    // counters go along so UIDs and mod-sequences keep growing.
    tx.execute(
        "UPDATE mailboxes SET uid_next = $2, highest_modseq = $3, recent_uid = $4
         WHERE id = $1",
        &[&target, &uid_next, &highest, &recent],
    )
    .await
    .map_err(db_err)?;
    let any = tx
        .query_opt(
            "SELECT 1 FROM messages WHERE mailbox_id = $1 LIMIT 1",
            &[&inbox.0],
        )
        .await
        .map_err(db_err)?
        .is_some();
    if !any {
        return Ok(());
    }
    let modseq = i64::try_from(highest_modseq + 1)
        .map_err(|_| StoreError::Invalid("mod-sequence overflow".into()))?;
    tx.execute(
        "INSERT INTO expunged(mailbox_id, uid, modseq)
         SELECT mailbox_id, uid, $2 FROM messages WHERE mailbox_id = $1
         ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq",
        &[&inbox.0, &modseq],
    )
    .await
    .map_err(db_err)?;
    tx.execute(
        "UPDATE messages SET mailbox_id = $2 WHERE mailbox_id = $1",
        &[&inbox.0, &target],
    )
    .await
    .map_err(db_err)?;
    tx.execute(
        "UPDATE mailboxes SET highest_modseq = $2 WHERE id = $1",
        &[&inbox.0, &modseq],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Adds or removes `name` in the account's subscription list.
pub(super) async fn mailbox_subscribe(
    s: &PgStore,
    account: AccountId,
    name: &str,
    subscribed: bool,
) -> Result<()> {
    let name = mailbox_names::canonical(name)?;
    let c = s.client().await?;
    known_account(&c, account).await?;
    set_subscribed(&c, account, &name, subscribed).await
}

/// The account's subscription list, sorted (byte order).
pub(super) async fn mailbox_subscriptions(s: &PgStore, account: AccountId) -> Result<Vec<String>> {
    let c = s.client().await?;
    known_account(&c, account).await?;
    let stmt = c
        .prepare_cached("SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name")
        .await
        .map_err(db_err)?;
    c.query(&stmt, &[&account.0])
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| r.try_get(0).map_err(db_err))
        .collect()
}

/// Raises the mailbox's `recent_uid` to `up_to` (capped at the highest UID handed out,
/// never lowered) and returns the value it had; see
/// [`crate::Store::mailbox_recent_claim`]. The row is locked from the read to the
/// update, so two sessions (on any nodes) never claim one message both.
pub(super) async fn mailbox_recent_claim(
    s: &PgStore,
    mailbox: MailboxId,
    up_to: u32,
) -> Result<u32> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let row = tx
        .query_opt(
            "SELECT recent_uid, uid_next FROM mailboxes WHERE id = $1 FOR UPDATE",
            &[&mailbox.0],
        )
        .await
        .map_err(db_err)?
        .ok_or_else(StoreError::mailbox_gone)?;
    let before = uid_from(row.try_get(0).map_err(db_err)?, "recent UID")?;
    let next = uid_from(row.try_get(1).map_err(db_err)?, "UIDNEXT")?;
    let top = up_to.min(next.saturating_sub(1));
    if top > before {
        tx.execute(
            "UPDATE mailboxes SET recent_uid = $2 WHERE id = $1",
            &[&mailbox.0, &i64::from(top)],
        )
        .await
        .map_err(db_err)?;
        super::commit(tx).await?;
    }
    Ok(before)
}
