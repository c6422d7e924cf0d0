//! SQL for mailboxes: listing, looking up, creating, deleting and renaming them
//! (RFC 3501 §6.3.3–6.3.5), the special-use mailboxes of a new account (RFC 6154) and
//! the subscription list (RFC 3501 §6.3.6).
//!
//! Where it sits: [`super::SqliteStore`] runs the writing functions on the writer
//! thread (inside its group-committed transaction, so each is atomic) and the lookups
//! on a pooled reader. Names are checked and INBOX spelled canonically by
//! [`crate::mailbox_names`] before any SQL runs.
//!
//! UIDVALIDITY comes from `meta.last_uid_validity`, which only grows, so a mailbox
//! deleted and re-created under the same name never gets an old value back; likewise
//! `meta.last_mailbox_id` keeps a deleted mailbox's row id from being handed out again.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::imap::{self, Counters};
use super::queue::unreferenced;
use crate::mailbox_names::{self, DEFAULT_SPECIAL, INBOX};
use crate::{AccountId, Mailbox, MailboxId, Result, StoreError};

/// The columns [`mailbox_from`] reads, from `mailboxes m`.
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

/// The raw columns of one [`COLUMNS`] row.
pub(super) type RawMailbox = (i64, String, i64, i64, i64, Option<String>, i64, bool);

/// Reads one [`COLUMNS`] row.
fn raw(r: &Row<'_>) -> rusqlite::Result<RawMailbox> {
    raw_at(r, 0)
}

/// Reads the [`COLUMNS`] of a row where they start at column `at` (a query that
/// selects other columns first, e.g. the ACL's shared mailboxes).
pub(super) fn raw_at(r: &Row<'_>, at: usize) -> rusqlite::Result<RawMailbox> {
    Ok((
        r.get(at)?,
        r.get(at + 1)?,
        r.get(at + 2)?,
        r.get(at + 3)?,
        r.get(at + 4)?,
        r.get(at + 5)?,
        r.get(at + 6)?,
        r.get(at + 7)?,
    ))
}

/// Checks a row read back and builds the [`Mailbox`].
pub(super) fn mailbox_from(row: RawMailbox) -> Result<Mailbox> {
    let (id, name, validity, next, modseq, special_use, recent, subscribed) = row;
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
fn known_account(c: &Connection, account: AccountId) -> Result<()> {
    let known = c
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([account.0])?;
    if !known {
        return Err(StoreError::account_gone());
    }
    Ok(())
}

/// How an error names the mailbox: `mailbox "INBOX" of alice@example.org`, or
/// `a mailbox that was deleted` when it no longer exists.
pub(super) fn describe(c: &Connection, mailbox: MailboxId) -> Result<String> {
    let row: Option<(String, String)> = c
        .prepare_cached(
            "SELECT m.name, a.address FROM mailboxes m JOIN accounts a ON a.id = m.account_id
             WHERE m.id = ?1",
        )?
        .query_row([mailbox.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match row {
        Some((name, address)) => crate::mailbox_label(&name, &address),
        None => "a mailbox that was deleted".to_owned(),
    })
}

/// True when the mailbox exists.
pub(super) fn mailbox_exists(c: &Connection, mailbox: MailboxId) -> Result<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM mailboxes WHERE id = ?1")?
        .exists([mailbox.0])?)
}

/// The row id of the account's mailbox named `name` (canonical).
fn find(c: &Connection, account: AccountId, name: &str) -> Result<Option<i64>> {
    Ok(
        c.prepare_cached("SELECT id FROM mailboxes WHERE account_id = ?1 AND name = ?2")?
            .query_row(params![account.0, name], |r| r.get(0))
            .optional()?,
    )
}

/// The UIDVALIDITY for a new mailbox: the current time in seconds, but always above
/// every value handed out before, so a mailbox deleted and re-created with the same
/// name never reuses one (RFC 3501 §2.3.1.1). Never zero (it is an nz-number).
fn next_uid_validity(c: &Connection, now_unix: i64) -> Result<u32> {
    let last: i64 = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'last_uid_validity'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    let now = u32::try_from(now_unix.max(1)).unwrap_or(u32::MAX);
    let after_last = u32::try_from(last.saturating_add(1)).unwrap_or(u32::MAX);
    let value = now.max(after_last).max(1);
    c.execute(
        "INSERT INTO meta(key, value) VALUES ('last_uid_validity', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [i64::from(value)],
    )?;
    Ok(value)
}

/// A row id no mailbox had before. SQLite would hand a deleted mailbox's id to the
/// next one created; a session still holding the old [`MailboxId`] must get
/// `NotFound`, never another mailbox's messages, so `meta.last_mailbox_id` remembers
/// the highest id handed out.
fn next_mailbox_id(c: &Connection) -> Result<i64> {
    let id: i64 = c
        .prepare_cached(
            "SELECT max(coalesce((SELECT value FROM meta WHERE key = 'last_mailbox_id'), 0),
                        coalesce((SELECT max(id) FROM mailboxes), 0)) + 1",
        )?
        .query_row([], |r| r.get(0))?;
    c.prepare_cached(
        "INSERT INTO meta(key, value) VALUES ('last_mailbox_id', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([id])?;
    Ok(id)
}

/// Inserts an empty mailbox (canonical, free name); returns its row id. UIDs start at
/// 1 (RFC 3501 §2.3.1.1: UIDs are non-zero), HIGHESTMODSEQ at 1.
fn insert(
    c: &Connection,
    account: AccountId,
    name: &str,
    special_use: Option<&str>,
    now_unix: i64,
) -> Result<i64> {
    let id = next_mailbox_id(c)?;
    let uid_validity = next_uid_validity(c, now_unix)?;
    c.prepare_cached(
        "INSERT INTO mailboxes(id, account_id, name, uid_validity, uid_next, highest_modseq,
                               special_use)
         VALUES (?1, ?2, ?3, ?4, 1, 1, ?5)",
    )?
    .execute(params![
        id,
        account.0,
        name,
        i64::from(uid_validity),
        special_use
    ])?;
    Ok(id)
}

/// A new account's INBOX and special-use mailboxes, all subscribed.
pub(super) fn create_defaults(c: &Connection, account: AccountId, now_unix: i64) -> Result<()> {
    insert(c, account, INBOX, None, now_unix)?;
    subscribe(c, account, INBOX, true)?;
    for (name, special_use) in DEFAULT_SPECIAL {
        insert(c, account, name, Some(special_use), now_unix)?;
        subscribe(c, account, name, true)?;
    }
    Ok(())
}

/// The account's mailboxes in creation order; `NotFound` for an unknown account.
pub(super) fn list(c: &Connection, account: AccountId) -> Result<Vec<Mailbox>> {
    known_account(c, account)?;
    let sql = format!("SELECT {COLUMNS} FROM mailboxes m WHERE m.account_id = ?1 ORDER BY m.id");
    let rows = c
        .prepare_cached(&sql)?
        .query_map([account.0], raw)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(mailbox_from).collect()
}

/// One mailbox by row id, `None` when there is none.
pub(super) fn by_id(c: &Connection, id: i64) -> Result<Option<Mailbox>> {
    let sql = format!("SELECT {COLUMNS} FROM mailboxes m WHERE m.id = ?1");
    let row = c.prepare_cached(&sql)?.query_row([id], raw).optional()?;
    row.map(mailbox_from).transpose()
}

/// The account's mailbox named `name`, `None` when there is none.
pub(super) fn get(c: &Connection, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
    let name = mailbox_names::canonical(name)?;
    match find(c, account, &name)? {
        Some(id) => by_id(c, id),
        None => Ok(None),
    }
}

/// Creates a mailbox; see [`crate::Store::mailbox_create`].
pub(super) fn create(
    c: &Connection,
    account: AccountId,
    name: &str,
    special_use: Option<&str>,
    now_unix: i64,
) -> Result<Mailbox> {
    let name = mailbox_names::canonical(name)?;
    let special_use = special_use.map(mailbox_names::special_use).transpose()?;
    known_account(c, account)?;
    if find(c, account, &name)?.is_some() {
        return Err(StoreError::Exists(format!("mailbox {name}")));
    }
    let id = insert(c, account, &name, special_use.as_deref(), now_unix)?;
    by_id(c, id)?.ok_or_else(|| StoreError::Io(format!("mailbox {name} vanished")))
}

/// Deletes a mailbox and its messages; returns the body files no row references any
/// more, for the caller to delete after the commit.
pub(super) fn delete(c: &Connection, account: AccountId, name: &str) -> Result<Vec<String>> {
    let name = mailbox_names::canonical(name)?;
    if name == INBOX {
        return Err(StoreError::Invalid("INBOX cannot be deleted".into()));
    }
    let Some(id) = find(c, account, &name)? else {
        return Err(StoreError::NotFound(format!("mailbox {name}")));
    };
    let blobs = c
        .prepare_cached("SELECT DISTINCT blob_id FROM messages WHERE mailbox_id = ?1")?
        .query_map([id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // Its messages and tombstones go with it (ON DELETE CASCADE).
    c.prepare_cached("DELETE FROM mailboxes WHERE id = ?1")?
        .execute([id])?;
    unreferenced(c, blobs)
}

/// Renames a mailbox and its children; see [`crate::Store::mailbox_rename`].
pub(super) fn rename(
    c: &Connection,
    account: AccountId,
    from: &str,
    to: &str,
    now_unix: i64,
) -> Result<()> {
    let (from, to) = (
        mailbox_names::canonical(from)?,
        mailbox_names::canonical(to)?,
    );
    let Some(source) = find(c, account, &from)? else {
        return Err(StoreError::NotFound(format!("mailbox {from}")));
    };
    if find(c, account, &to)?.is_some() {
        return Err(StoreError::Exists(format!("mailbox {to}")));
    }
    if from == INBOX {
        return rename_inbox(c, account, MailboxId(source), &to, now_unix);
    }
    mailbox_names::check_rename(&from, &to)?;
    let all = c
        .prepare_cached("SELECT id, name FROM mailboxes WHERE account_id = ?1")?
        .query_map([account.0], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
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
    // Two passes, so no row briefly takes a name another renamed row still has (the
    // unique index is checked row by row). No real name starts with '/'.
    let mut set = c.prepare_cached("UPDATE mailboxes SET name = ?2 WHERE id = ?1")?;
    for (id, _) in &moves {
        set.execute(params![id, format!("/renaming/{id}")])?;
    }
    for (id, name) in &moves {
        set.execute(params![id, name])?;
    }
    Ok(())
}

/// RENAME INBOX (RFC 3501 §6.3.5): a new mailbox `to` takes all of INBOX's messages
/// (keeping their UIDs and mod-sequences, under a new UIDVALIDITY); INBOX stays,
/// empty, with the messages recorded as expunged.
fn rename_inbox(
    c: &Connection,
    account: AccountId,
    inbox: MailboxId,
    to: &str,
    now_unix: i64,
) -> Result<()> {
    let mut counters = Counters::load(c, inbox)?;
    let (uid_next, highest) = (counters.uid_next, counters.highest_modseq);
    let target = insert(c, account, to, None, now_unix)?;
    // The same messages under the same UIDs: their \Recent stays claimed.
    c.prepare_cached(
        "UPDATE mailboxes SET recent_uid = (SELECT recent_uid FROM mailboxes WHERE id = ?1)
         WHERE id = ?2",
    )?
    .execute(params![inbox.0, target])?;
    imap::tombstone_all(c, &mut counters)?;
    c.prepare_cached("UPDATE messages SET mailbox_id = ?2 WHERE mailbox_id = ?1")?
        .execute(params![inbox.0, target])?;
    let mut moved = Counters::load(c, MailboxId(target))?;
    moved.uid_next = uid_next;
    moved.highest_modseq = highest;
    moved.save(c)?;
    counters.save(c)
}

/// Adds or removes `name` in the account's subscription list.
pub(super) fn subscribe(c: &Connection, account: AccountId, name: &str, on: bool) -> Result<()> {
    let name = mailbox_names::canonical(name)?;
    known_account(c, account)?;
    let sql = if on {
        "INSERT OR IGNORE INTO subscriptions(account_id, name) VALUES (?1, ?2)"
    } else {
        "DELETE FROM subscriptions WHERE account_id = ?1 AND name = ?2"
    };
    c.prepare_cached(sql)?.execute(params![account.0, name])?;
    Ok(())
}

/// The account's subscription list, sorted.
pub(super) fn subscriptions(c: &Connection, account: AccountId) -> Result<Vec<String>> {
    known_account(c, account)?;
    Ok(
        c.prepare_cached("SELECT name FROM subscriptions WHERE account_id = ?1 ORDER BY name")?
            .query_map([account.0], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    )
}

/// Raises the mailbox's `recent_uid` to `up_to` (capped at the highest UID handed out,
/// never lowered) and returns the value it had; see
/// [`crate::Store::mailbox_recent_claim`]. Runs in the writer's transaction, so the
/// read and the update are one step.
pub(super) fn recent_claim(c: &Connection, mailbox: MailboxId, up_to: u32) -> Result<u32> {
    let row: Option<(i64, i64)> = c
        .prepare_cached("SELECT recent_uid, uid_next FROM mailboxes WHERE id = ?1")?
        .query_row([mailbox.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((before, next)) = row else {
        return Err(StoreError::mailbox_gone());
    };
    let before = uid_from(before, "recent UID")?;
    let top = up_to.min(uid_from(next, "UIDNEXT")?.saturating_sub(1));
    if top > before {
        c.prepare_cached("UPDATE mailboxes SET recent_uid = ?2 WHERE id = ?1")?
            .execute(params![mailbox.0, i64::from(top)])?;
    }
    Ok(before)
}
