//! TODO(issue 15): PostgreSQL messages.

#![allow(unused_variables, unused_imports)]

use message::{Address, Domain, Envelope, QueueId};

use super::{PgStore, db_err};
use crate::*;

pub(super) async fn message_list(s: &PgStore, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
    todo!("postgres message_list")
}

pub(super) async fn message_read(s: &PgStore, mailbox: MailboxId, uid: u32) -> Result<Vec<u8>> {
    todo!("postgres message_read")
}

pub(super) async fn message_remove(s: &PgStore, mailbox: MailboxId, uids: &[u32]) -> Result<()> {
    todo!("postgres message_remove")
}

pub(super) async fn message_list_imap(s: &PgStore, mailbox: MailboxId) -> Result<Vec<ImapMessage>> {
    todo!("postgres message_list_imap")
}

pub(super) async fn message_changes_since(
    s: &PgStore,
    mailbox: MailboxId,
    since: u64,
) -> Result<MailboxChanges> {
    todo!("postgres message_changes_since")
}

pub(super) async fn message_summaries(
    s: &PgStore,
    mailbox: MailboxId,
    uids: &[u32],
) -> Result<Vec<(u32, Option<Vec<u8>>)>> {
    todo!("postgres message_summaries")
}

pub(super) async fn message_summaries_set(
    s: &PgStore,
    mailbox: MailboxId,
    summaries: &[(u32, Vec<u8>)],
) -> Result<()> {
    todo!("postgres message_summaries_set")
}

pub(super) async fn message_flags_set(
    s: &PgStore,
    mailbox: MailboxId,
    uids: &[u32],
    change: FlagChange,
    flags: &[String],
    unchanged_since: Option<u64>,
) -> Result<FlagsResult> {
    todo!("postgres message_flags_set")
}

pub(super) async fn message_append_with(
    s: &PgStore,
    mailbox: MailboxId,
    body: &[u8],
    flags: &[String],
    received_at: i64,
    summary: Option<&[u8]>,
) -> Result<u32> {
    todo!("postgres message_append_with")
}

pub(super) async fn message_append_many(
    s: &PgStore,
    mailbox: MailboxId,
    messages: &[NewMessage<'_>],
) -> Result<Vec<u32>> {
    todo!("postgres message_append_many")
}

pub(super) async fn message_copy(
    s: &PgStore,
    from: MailboxId,
    uids: &[u32],
    to: MailboxId,
) -> Result<Vec<(u32, u32)>> {
    todo!("postgres message_copy")
}

pub(super) async fn message_move(
    s: &PgStore,
    from: MailboxId,
    uids: &[u32],
    to: MailboxId,
) -> Result<Vec<(u32, u32)>> {
    todo!("postgres message_move")
}

pub(super) async fn message_expunge(
    s: &PgStore,
    mailbox: MailboxId,
    uids: Option<&[u32]>,
) -> Result<Vec<u32>> {
    todo!("postgres message_expunge")
}

pub(super) async fn mailbox_expunged_since(
    s: &PgStore,
    mailbox: MailboxId,
    modseq: u64,
) -> Result<Vec<u32>> {
    todo!("postgres mailbox_expunged_since")
}

/// One message row to insert (see [`insert_row`]).
pub(super) struct NewRow<'a> {
    /// The body's id in the blob store.
    pub blob_id: &'a str,
    /// Per-recipient header lines put before the body (empty for APPEND/COPY).
    pub prefix: &'a [u8],
    /// The body's length in octets.
    pub body_size: u64,
    /// INTERNALDATE, unix seconds.
    pub received_at: i64,
    /// The queue id it came under (an arrival id for APPEND), `QueueId::as_u64` as i64.
    pub queue_id: i64,
    /// The recipient index for a delivery (the `messages_filed` guard), else `None`.
    pub recipient_index: Option<i64>,
    /// Canonical flags, encoded as `crate::flags::encode` does.
    pub flags: &'a str,
    /// The IMAP layer's summary, if any.
    pub summary: Option<&'a [u8]>,
}

/// Takes `n` (at least 1) consecutive UIDs and mod-sequences in `mailbox` by updating
/// its row (which locks it until the transaction ends: this is what keeps UIDs and
/// mod-sequences strictly increasing with several nodes appending); returns the first
/// UID and the first mod-sequence. `NotFound` (`StoreError::mailbox_gone`) when there
/// is no such mailbox.
pub(super) async fn take_uids(
    tx: &deadpool_postgres::Transaction<'_>,
    mailbox: MailboxId,
    n: u32,
) -> Result<(u32, u64)> {
    let n = i64::from(n.max(1));
    let row = tx
        .query_opt(
            "UPDATE mailboxes SET uid_next = uid_next + $2, highest_modseq = highest_modseq + $2
             WHERE id = $1 RETURNING uid_next, highest_modseq, name",
            &[&mailbox.0, &n],
        )
        .await
        .map_err(db_err)?;
    let Some(row) = row else {
        return Err(StoreError::mailbox_gone());
    };
    let uid_next: i64 = row.try_get(0).map_err(damaged)?;
    let modseq: i64 = row.try_get(1).map_err(damaged)?;
    let name: String = row.try_get(2).map_err(damaged)?;
    // RFC 3501 §2.3.1.1: UIDs are 32-bit, and UIDNEXT itself must stay representable.
    // The caller's transaction rolls the update back with the error.
    if uid_next > i64::from(u32::MAX) {
        return Err(StoreError::Invalid(format!(
            "mailbox {name:?} has used up its UIDs"
        )));
    }
    let first_uid = uid_from(uid_next - n, "UIDNEXT")?;
    let first_modseq = modseq_from(modseq - n + 1)?;
    Ok((first_uid, first_modseq))
}

/// Inserts one message row with the UID and mod-sequence [`take_uids`] gave.
pub(super) async fn insert_row(
    tx: &deadpool_postgres::Transaction<'_>,
    mailbox: MailboxId,
    uid: u32,
    modseq: u64,
    row: &NewRow<'_>,
) -> Result<()> {
    let body_size = i64::try_from(row.body_size)
        .map_err(|_| StoreError::Invalid("message too large".into()))?;
    let size = i64::try_from(row.prefix.len())
        .ok()
        .and_then(|p| p.checked_add(body_size))
        .ok_or_else(|| StoreError::Invalid("message too large".into()))?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO messages(mailbox_id, uid, blob_id, prefix, body_size, size,
                 received_at, queue_id, recipient_index, flags, modseq, summary)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .await
        .map_err(db_err)?;
    tx.execute(
        &stmt,
        &[
            &mailbox.0,
            &i64::from(uid),
            &row.blob_id,
            &row.prefix,
            &body_size,
            &size,
            &row.received_at,
            &row.queue_id,
            &row.recipient_index,
            &row.flags,
            &sql_modseq(modseq)?,
            &row.summary,
        ],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A column that did not read as its type: the row is damaged.
fn damaged(e: tokio_postgres::Error) -> StoreError {
    StoreError::Damaged(format!("message row: {e}"))
}

/// A stored UID (or UIDNEXT) as a 32-bit UID; `Damaged` when out of range.
fn uid_from(value: i64, what: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| StoreError::Damaged(format!("{what} {value} out of range")))
}

/// A stored mod-sequence; `Damaged` unless positive.
fn modseq_from(value: i64) -> Result<u64> {
    u64::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| StoreError::Damaged(format!("mod-sequence {value} out of range")))
}

/// A mod-sequence as stored.
fn sql_modseq(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::Invalid("mod-sequence overflow".into()))
}
