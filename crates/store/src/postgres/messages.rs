//! TODO(issue 15): PostgreSQL messages.

#![allow(unused_variables, unused_imports)]

use message::{Address, Domain, Envelope, QueueId};

use super::PgStore;
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

pub(super) async fn message_changes_since(s: &PgStore, mailbox: MailboxId, since: u64) -> Result<MailboxChanges> {
    todo!("postgres message_changes_since")
}

pub(super) async fn message_summaries(s: &PgStore, mailbox: MailboxId, uids: &[u32]) -> Result<Vec<(u32, Option<Vec<u8>>)>> {
    todo!("postgres message_summaries")
}

pub(super) async fn message_summaries_set(s: &PgStore, mailbox: MailboxId, summaries: &[(u32, Vec<u8>)]) -> Result<()> {
    todo!("postgres message_summaries_set")
}

pub(super) async fn message_flags_set(s: &PgStore, mailbox: MailboxId, uids: &[u32], change: FlagChange, flags: &[String], unchanged_since: Option<u64>) -> Result<FlagsResult> {
    todo!("postgres message_flags_set")
}

pub(super) async fn message_append_with(s: &PgStore, mailbox: MailboxId, body: &[u8], flags: &[String], received_at: i64, summary: Option<&[u8]>) -> Result<u32> {
    todo!("postgres message_append_with")
}

pub(super) async fn message_append_many(s: &PgStore, mailbox: MailboxId, messages: &[NewMessage<'_>]) -> Result<Vec<u32>> {
    todo!("postgres message_append_many")
}

pub(super) async fn message_copy(s: &PgStore, from: MailboxId, uids: &[u32], to: MailboxId) -> Result<Vec<(u32, u32)>> {
    todo!("postgres message_copy")
}

pub(super) async fn message_move(s: &PgStore, from: MailboxId, uids: &[u32], to: MailboxId) -> Result<Vec<(u32, u32)>> {
    todo!("postgres message_move")
}

pub(super) async fn message_expunge(s: &PgStore, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<Vec<u32>> {
    todo!("postgres message_expunge")
}

pub(super) async fn mailbox_expunged_since(s: &PgStore, mailbox: MailboxId, modseq: u64) -> Result<Vec<u32>> {
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
    todo!("postgres messages::take_uids")
}

/// Inserts one message row with the UID and mod-sequence [`take_uids`] gave.
pub(super) async fn insert_row(
    tx: &deadpool_postgres::Transaction<'_>,
    mailbox: MailboxId,
    uid: u32,
    modseq: u64,
    row: &NewRow<'_>,
) -> Result<()> {
    todo!("postgres messages::insert_row")
}
