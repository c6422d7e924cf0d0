//! SQL for mailbox messages: filing a queued message into an INBOX (local delivery),
//! listing, looking up and removing messages (POP3). IMAP's operations are in the
//! sibling module `imap`, whose counters and tombstones these share.
//!
//! Where it sits: [`super::SqliteStore`] runs [`deliver`] and [`remove`] on the writer
//! thread (inside its group-committed transaction, so each is atomic) and the lookups on
//! a pooled reader.
//!
//! A delivered message is a row naming the queue entry's body file plus the
//! per-recipient `prefix`; the body is never copied. UIDs come from the mailbox's
//! UIDNEXT, which only grows, so UIDs are unique and ascending (RFC 3501 §2.3.1.1).

use message::QueueId;
use rusqlite::{Connection, OptionalExtension, params};

use super::imap::{Counters, expunge_uids};
use super::mailboxes::{mailbox_exists, uid_from};
use super::queue::{blob_of, idx, qid, qid_from, recipient_status, unreferenced};
use crate::mailbox_names::INBOX;
use crate::{AccountId, MailboxId, MessageMeta, Result, StoreError};

/// Files queue entry `id` for recipient `recipient` into `account`'s INBOX; see
/// [`crate::Store::deliver_to_mailbox`]. `None` when that recipient is already done.
pub(super) fn deliver(
    c: &Connection,
    id: QueueId,
    recipient: usize,
    account: AccountId,
    prefix: &[u8],
    now_unix: i64,
) -> Result<Option<u32>> {
    deliver_into(c, id, recipient, account, prefix, now_unix, false)
}

/// [`deliver`], into the account's Junk mailbox when `junk`: the one with special use
/// `\Junk` (RFC 6154), else INBOX (DMARC quarantine, RFC 7489 §6.6.4).
pub(super) fn deliver_into(
    c: &Connection,
    id: QueueId,
    recipient: usize,
    account: AccountId,
    prefix: &[u8],
    now_unix: i64,
    junk: bool,
) -> Result<Option<u32>> {
    let Some((blob, body_size)) = blob_of(c, id)? else {
        return Err(StoreError::NotFound(format!("queue entry {id}")));
    };
    if recipient_status(c, id, recipient)? != "pending" {
        return Ok(None);
    }
    file_pending(
        c,
        &Pending {
            id,
            recipient,
            account,
            prefix,
            blob: &blob,
            body_size,
            summary: None,
        },
        now_unix,
        junk,
    )
}

/// A recipient of a queue entry, known to be pending, and what filing it needs: the
/// entry's body (`blob`, `body_size`) and the message's IMAP summary when one was made.
pub(super) struct Pending<'a> {
    pub id: QueueId,
    pub recipient: usize,
    pub account: AccountId,
    pub prefix: &'a [u8],
    pub blob: &'a str,
    pub body_size: u64,
    pub summary: Option<&'a [u8]>,
}

/// Files `p` (see [`deliver_into`]) and marks its recipient delivered. The caller knows
/// the recipient is pending: [`deliver_into`] looked it up; a message being accepted
/// has just written its entry (so nothing is looked up twice on the acceptance path).
pub(super) fn file_pending(
    c: &Connection,
    p: &Pending<'_>,
    now_unix: i64,
    junk: bool,
) -> Result<Option<u32>> {
    let (id, recipient, account) = (p.id, p.recipient, p.account);
    let junk_box: Option<i64> = if junk {
        c.prepare_cached(
            "SELECT id FROM mailboxes WHERE account_id = ?1 AND special_use = '\\Junk'
             ORDER BY id LIMIT 1",
        )?
        .query_row(params![account.0], |r| r.get(0))
        .optional()?
    } else {
        None
    };
    let inbox: Option<i64> = match junk_box {
        Some(mailbox) => Some(mailbox),
        None => c
            .prepare_cached("SELECT id FROM mailboxes WHERE account_id = ?1 AND name = ?2")?
            .query_row(params![account.0, INBOX], |r| r.get(0))
            .optional()?,
    };
    let Some(mailbox) = inbox else {
        return Err(StoreError::NotFound(format!(
            "INBOX of account {}",
            account.0
        )));
    };
    let mut counters = Counters::load(c, MailboxId(mailbox))?;
    let uid = counters.next_uid()?;
    // A new message takes a new mod-sequence (RFC 7162 §3.1); it has no flags yet.
    let modseq = i64::try_from(counters.next_modseq())
        .map_err(|_| StoreError::Invalid("mod-sequence overflow".into()))?;
    let body_size = i64::try_from(p.body_size)
        .map_err(|_| StoreError::Damaged(format!("queue entry {id}: size {}", p.body_size)))?;
    let size = i64::try_from(p.prefix.len())
        .ok()
        .and_then(|prefix| prefix.checked_add(body_size))
        .ok_or_else(|| StoreError::Invalid("message too large".into()))?;
    let index = idx(id, recipient)?;
    let filed = c
        .prepare_cached(
            "INSERT OR IGNORE INTO messages(mailbox_id, uid, blob_id, prefix, body_size, size,
                 received_at, queue_id, recipient_index, flags, modseq, summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, '', ?10, ?11)",
        )?
        .execute(params![
            mailbox,
            i64::from(uid),
            p.blob,
            p.prefix,
            body_size,
            size,
            now_unix,
            qid(id),
            index,
            modseq,
            p.summary,
        ])?;
    c.prepare_cached(
        "UPDATE queue_recipients SET status = 'delivered', attempts = attempts + 1,
         last_error = NULL WHERE queue_id = ?1 AND idx = ?2",
    )?
    .execute(params![qid(id), index])?;
    if filed == 0 {
        // Already in this mailbox under (queue id, recipient): belt and braces for the
        // status check above. Record the recipient as done and file nothing.
        tracing::warn!(queue_id = %id, recipient, "message was already filed");
        return Ok(None);
    }
    counters.save(c)?;
    Ok(Some(uid))
}

/// The messages of a mailbox by ascending UID; `NotFound` for an unknown mailbox.
pub(super) fn list(c: &Connection, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
    if !mailbox_exists(c, mailbox)? {
        return Err(StoreError::mailbox_gone());
    }
    let mut stmt = c.prepare_cached(
        "SELECT uid, size, received_at, queue_id FROM messages WHERE mailbox_id = ?1
         ORDER BY uid",
    )?;
    let rows = stmt
        .query_map([mailbox.0], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(uid, size, received_at, queue_id)| {
            Ok(MessageMeta {
                uid: uid_from(uid, "UID")?,
                size: u64::try_from(size)
                    .map_err(|_| StoreError::Damaged(format!("message size {size}")))?,
                received_at,
                queue_id: qid_from(queue_id),
            })
        })
        .collect()
}

/// Where a message's bytes are: its prefix, its body file and that file's length.
pub(super) struct Location {
    /// The per-recipient header lines.
    pub(super) prefix: Vec<u8>,
    /// The body file's id.
    pub(super) blob: String,
    /// The body file's recorded length.
    pub(super) body_size: u64,
}

/// Finds a message; `NotFound` for an unknown mailbox or UID.
pub(super) fn locate(c: &Connection, mailbox: MailboxId, uid: u32) -> Result<Location> {
    let row: Option<(Vec<u8>, String, i64, i64)> = c
        .prepare_cached(
            "SELECT prefix, blob_id, body_size, size FROM messages
             WHERE mailbox_id = ?1 AND uid = ?2",
        )?
        .query_row(params![mailbox.0, i64::from(uid)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((prefix, blob, body_size, size)) = row else {
        return Err(StoreError::NotFound(format!(
            "message {uid} in {}",
            super::mailboxes::describe(c, mailbox)?
        )));
    };
    let body_size = u64::try_from(body_size).ok();
    let consistent = body_size
        .and_then(|b| b.checked_add(prefix.len() as u64))
        .is_some_and(|total| i64::try_from(total).ok() == Some(size));
    match body_size {
        Some(body_size) if consistent => Ok(Location {
            prefix,
            blob,
            body_size,
        }),
        _ => Err(StoreError::Damaged(format!(
            "message {uid} in {}: sizes do not add up",
            super::mailboxes::describe(c, mailbox)?
        ))),
    }
}

/// Removes the given UIDs (unknown ones are ignored) as an IMAP expunge would:
/// tombstones and a new HIGHESTMODSEQ, so IMAP sessions see POP3's deletions. Returns
/// the body files no row references any more, for the caller to delete after the
/// commit.
pub(super) fn remove(c: &Connection, mailbox: MailboxId, uids: &[u32]) -> Result<Vec<String>> {
    let (_, blobs) = expunge_uids(c, mailbox, uids)?;
    unreferenced(c, blobs)
}
