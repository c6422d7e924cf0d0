//! PostgreSQL SQL for mailbox messages: POP3's listing, reading and removal, and
//! IMAP's view (the listing, the delta sessions move forward with, flag changes with
//! CONDSTORE mod-sequences, RFC 7162; APPEND/COPY/MOVE; EXPUNGE and the tombstones
//! QRESYNC reads back, RFC 7162 §3.2.10; the opaque per-message summaries), plus the
//! filing primitives [`take_uids`] and [`insert_row`] that local delivery (`queue`)
//! shares.
//!
//! Where it sits: [`super::PgStore`]'s trait methods delegate here; each write runs in
//! one transaction (READ COMMITTED) on a pooled connection. The semantics are those of
//! the embedded store (`crate::sqlite::imap` and `crate::sqlite::messages`).
//!
//! Concurrency: every change to a mailbox's messages first locks the mailbox's row
//! (inserts through [`take_uids`], other changes with `SELECT … FOR UPDATE` on it), so
//! UIDs and mod-sequences stay strictly increasing with several nodes writing; COPY and
//! MOVE lock both mailboxes in ascending id order; quota checks (`super::quota::admit`)
//! lock the account's row before any mailbox row (the lock order every filing path
//! keeps: account, then mailboxes). Bodies are written (and committed)
//! before the rows naming them and deleted after the commit that removed the last row
//! naming them.
//!
//! Mod-sequences: each new or changed message takes the next value of the mailbox's
//! `highest_modseq`; one expunge takes one value for all the UIDs it removes and
//! records them in `expunged`.

use message::QueueId;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::mailboxes::{modseq_from, uid_from};
use super::{PgStore, db_err};
use crate::flags;
use crate::*;

/// Column `i` of `row`; a value that does not read as `T` is a damaged row.
fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i).map_err(damaged)
}

/// Sorted, deduplicated UIDs, as stored (bigint).
fn sorted(uids: &[u32]) -> Vec<i64> {
    let mut v: Vec<i64> = uids.iter().map(|u| i64::from(*u)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A stored message size.
fn size_from(size: i64) -> Result<u64> {
    u64::try_from(size).map_err(|_| StoreError::Damaged(format!("message size {size}")))
}

/// True when the mailbox exists.
async fn mailbox_exists(
    c: &impl deadpool_postgres::GenericClient,
    mailbox: MailboxId,
) -> Result<bool> {
    let stmt = c
        .prepare_cached("SELECT 1 FROM mailboxes WHERE id = $1")
        .await
        .map_err(db_err)?;
    Ok(c.query_opt(&stmt, &[&mailbox.0])
        .await
        .map_err(db_err)?
        .is_some())
}

/// Locks the mailbox's row for the transaction (the first step of every change to its
/// messages); `NotFound` for an unknown mailbox.
async fn lock_mailbox(tx: &deadpool_postgres::Transaction<'_>, mailbox: MailboxId) -> Result<()> {
    let stmt = tx
        .prepare_cached("SELECT 1 FROM mailboxes WHERE id = $1 FOR UPDATE")
        .await
        .map_err(db_err)?;
    match tx.query_opt(&stmt, &[&mailbox.0]).await.map_err(db_err)? {
        Some(_) => Ok(()),
        None => Err(StoreError::mailbox_gone()),
    }
}

/// How an error names the mailbox: `mailbox "INBOX" of alice@example.org`, or
/// `a mailbox that was deleted` when it no longer exists.
async fn describe(c: &impl deadpool_postgres::GenericClient, mailbox: MailboxId) -> Result<String> {
    let row = c
        .query_opt(
            "SELECT m.name, a.address FROM mailboxes m JOIN accounts a ON a.id = m.account_id
             WHERE m.id = $1",
            &[&mailbox.0],
        )
        .await
        .map_err(db_err)?;
    Ok(match row {
        Some(row) => crate::mailbox_label(&get::<String>(&row, 0)?, &get::<String>(&row, 1)?),
        None => "a mailbox that was deleted".to_owned(),
    })
}

/// The listing: one walk of the primary key (mailbox_id, uid), already in UID order.
const LIST_SQL: &str = "SELECT uid, flags, modseq, size, received_at FROM messages
     WHERE mailbox_id = $1 ORDER BY uid";

/// The messages changed after a mod-sequence (index messages_modseq), by UID.
const CHANGED_SQL: &str = "SELECT uid, flags, modseq, size, received_at FROM messages
     WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid";

/// The UIDs expunged after a mod-sequence (index expunged_modseq).
const EXPUNGED_SQL: &str =
    "SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid";

/// One [`LIST_SQL`] / [`CHANGED_SQL`] row.
fn imap_message(r: &Row) -> Result<ImapMessage> {
    let text: String = get(r, 1)?;
    Ok(ImapMessage {
        uid: uid_from(get(r, 0)?, "UID")?,
        flags: flags::decode(&text),
        modseq: modseq_from(get(r, 2)?)?,
        size: size_from(get(r, 3)?)?,
        received_at: get(r, 4)?,
    })
}

/// Runs `sql` and reads message rows.
async fn messages_of(
    c: &impl deadpool_postgres::GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<ImapMessage>> {
    let stmt = c.prepare_cached(sql).await.map_err(db_err)?;
    let rows = c.query(&stmt, params).await.map_err(db_err)?;
    rows.iter().map(imap_message).collect()
}

/// Runs `sql` and reads UIDs from column 0.
async fn uids_of(
    c: &impl deadpool_postgres::GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<u32>> {
    let stmt = c.prepare_cached(sql).await.map_err(db_err)?;
    let rows = c.query(&stmt, params).await.map_err(db_err)?;
    rows.iter().map(|r| uid_from(get(r, 0)?, "UID")).collect()
}

/// Runs a write transaction's result to its end: commits on success, otherwise rolls
/// back (dropping `tx`) and passes the error on.
async fn finish<T>(tx: deadpool_postgres::Transaction<'_>, result: Result<T>) -> Result<T> {
    let value = result?;
    super::commit(tx).await?;
    Ok(value)
}

/// The messages of a mailbox by ascending UID (POP3's listing); `NotFound` for an
/// unknown mailbox.
pub(super) async fn message_list(s: &PgStore, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
    let c = s.client().await?;
    if !mailbox_exists(&c, mailbox).await? {
        return Err(StoreError::mailbox_gone());
    }
    let stmt = c
        .prepare_cached(
            "SELECT uid, size, received_at, queue_id FROM messages WHERE mailbox_id = $1
             ORDER BY uid",
        )
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[&mailbox.0]).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(MessageMeta {
                uid: uid_from(get(r, 0)?, "UID")?,
                size: size_from(get(r, 1)?)?,
                received_at: get(r, 2)?,
                queue_id: QueueId::from_u64(get::<i64>(r, 3)? as u64),
            })
        })
        .collect()
}

/// Where a message's bytes are: its prefix, its body's id and the body's length.
struct Location {
    prefix: Vec<u8>,
    blob: String,
    body_size: u64,
}

/// Finds a message; `NotFound` for an unknown mailbox or UID, `Damaged` when its sizes
/// do not add up.
async fn locate(
    c: &impl deadpool_postgres::GenericClient,
    mailbox: MailboxId,
    uid: u32,
) -> Result<Location> {
    let stmt = c
        .prepare_cached(
            "SELECT prefix, blob_id, body_size, size FROM messages
             WHERE mailbox_id = $1 AND uid = $2",
        )
        .await
        .map_err(db_err)?;
    let row = c
        .query_opt(&stmt, &[&mailbox.0, &i64::from(uid)])
        .await
        .map_err(db_err)?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(format!(
            "message {uid} in {}",
            describe(c, mailbox).await?
        )));
    };
    let prefix: Vec<u8> = get(&row, 0)?;
    let blob: String = get(&row, 1)?;
    let body_size: i64 = get(&row, 2)?;
    let size: i64 = get(&row, 3)?;
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
            describe(c, mailbox).await?
        ))),
    }
}

/// A message's bytes: its prefix, then its body. A body missing because the row was
/// removed meanwhile (a concurrent expunge) is `NotFound`, as for any expunged message;
/// one missing under a row still there is `Damaged`.
pub(super) async fn message_read(s: &PgStore, mailbox: MailboxId, uid: u32) -> Result<Vec<u8>> {
    let loc = {
        let c = s.client().await?;
        locate(&c, mailbox, uid).await?
    };
    let mut full = loc.prefix;
    match s
        .blobs()
        .read_into(&loc.blob, loc.body_size, &mut full)
        .await
    {
        Ok(()) => Ok(full),
        Err(StoreError::Damaged(why)) => {
            let c = s.client().await?;
            let still_there = locate(&c, mailbox, uid).await.is_ok();
            Err(if still_there {
                tracing::error!(mailbox = mailbox.0, uid, error = %why, "message body is damaged");
                StoreError::Damaged(why)
            } else {
                // Expunged by another session between the row and the body: the reader
                // answers as for any expunged message (RFC 5530 EXPUNGEISSUED).
                tracing::debug!(mailbox = mailbox.0, uid, "message removed while being read");
                StoreError::NotFound("removed while being read".into())
            })
        }
        Err(e) => Err(e),
    }
}

/// Removes the messages `uids` of `mailbox` (all of them when `None`; only those
/// flagged `\Deleted` when `deleted_only`) and leaves tombstones sharing one new
/// mod-sequence. The caller holds the mailbox's row lock. Returns the removed UIDs
/// ascending, and the bodies no row names any more (to release after the commit).
async fn expunge_rows(
    tx: &deadpool_postgres::Transaction<'_>,
    mailbox: MailboxId,
    uids: Option<&[u32]>,
    deleted_only: bool,
) -> Result<(Vec<u32>, Vec<String>)> {
    let wanted: Option<Vec<i64>> = uids.map(sorted);
    if wanted.as_ref().is_some_and(Vec::is_empty) {
        return Ok((Vec::new(), Vec::new()));
    }
    // Flags are stored canonical and space-separated, and no keyword has a backslash.
    let deleted: Option<&str> = deleted_only.then_some(flags::DELETED);
    let stmt = tx
        .prepare_cached(
            "DELETE FROM messages WHERE mailbox_id = $1
               AND ($2::bigint[] IS NULL OR uid = ANY($2))
               AND ($3::text IS NULL OR strpos(' ' || flags || ' ', ' ' || $3 || ' ') > 0)
             RETURNING uid, blob_id",
        )
        .await
        .map_err(db_err)?;
    let rows = tx
        .query(&stmt, &[&mailbox.0, &wanted, &deleted])
        .await
        .map_err(db_err)?;
    if rows.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut removed = Vec::with_capacity(rows.len());
    let mut blobs: Vec<String> = Vec::with_capacity(rows.len());
    for r in &rows {
        removed.push(uid_from(get(r, 0)?, "UID")?);
        blobs.push(get(r, 1)?);
    }
    removed.sort_unstable();
    blobs.sort_unstable();
    blobs.dedup();
    let stmt = tx
        .prepare_cached(
            "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1
             RETURNING highest_modseq",
        )
        .await
        .map_err(db_err)?;
    let row = tx
        .query_opt(&stmt, &[&mailbox.0])
        .await
        .map_err(db_err)?
        .ok_or_else(StoreError::mailbox_gone)?;
    let modseq: i64 = get(&row, 0)?;
    let as_stored: Vec<i64> = removed.iter().map(|u| i64::from(*u)).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO expunged(mailbox_id, uid, modseq)
             SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
             ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq",
        )
        .await
        .map_err(db_err)?;
    tx.execute(&stmt, &[&mailbox.0, &as_stored, &modseq])
        .await
        .map_err(db_err)?;
    let freed = super::unreferenced(tx, &blobs).await?;
    Ok((removed, freed))
}

/// Removes the given UIDs (unknown ones ignored) as an IMAP expunge would: tombstones
/// and a new HIGHESTMODSEQ, so IMAP sessions see POP3's deletions; bodies no row names
/// any more are released after the commit.
pub(super) async fn message_remove(s: &PgStore, mailbox: MailboxId, uids: &[u32]) -> Result<()> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let result = async {
        lock_mailbox(&tx, mailbox).await?;
        expunge_rows(&tx, mailbox, Some(uids), false).await
    }
    .await;
    let (_, freed) = finish(tx, result).await?;
    s.release(freed).await;
    Ok(())
}

/// Every message of the mailbox, by ascending UID, in one query.
pub(super) async fn message_list_imap(s: &PgStore, mailbox: MailboxId) -> Result<Vec<ImapMessage>> {
    let c = s.client().await?;
    if !mailbox_exists(&c, mailbox).await? {
        return Err(StoreError::mailbox_gone());
    }
    messages_of(&c, LIST_SQL, &[&mailbox.0]).await
}

/// What changed after `since`; see [`crate::Store::message_changes_since`]. One
/// REPEATABLE READ snapshot, so the mailbox row, the changed messages and the
/// tombstones agree.
pub(super) async fn message_changes_since(
    s: &PgStore,
    mailbox: MailboxId,
    since: u64,
) -> Result<MailboxChanges> {
    let mut c = s.client().await?;
    // One snapshot, so the mailbox row, the changed messages and the tombstones agree.
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db_err)?;
    let sql = format!(
        "SELECT {} FROM mailboxes m WHERE m.id = $1",
        super::mailboxes::COLUMNS
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(db_err)?;
    let Some(row) = tx.query_opt(&stmt, &[&mailbox.0]).await.map_err(db_err)? else {
        return Err(StoreError::mailbox_gone());
    };
    let current = super::mailboxes::mailbox_from_row(&row, 0)?;
    let changes = match i64::try_from(since) {
        Ok(since) if since > 0 && since as u64 <= current.highest_modseq => MailboxChanges {
            changed: messages_of(&tx, CHANGED_SQL, &[&mailbox.0, &since]).await?,
            expunged: uids_of(&tx, EXPUNGED_SQL, &[&mailbox.0, &since]).await?,
            full: false,
            mailbox: current,
        },
        _ => MailboxChanges {
            changed: messages_of(&tx, LIST_SQL, &[&mailbox.0]).await?,
            expunged: Vec::new(),
            full: true,
            mailbox: current,
        },
    };
    super::commit(tx).await?;
    Ok(changes)
}

/// The stored summaries of `uids` (any order; unknown ones skipped), by ascending UID.
pub(super) async fn message_summaries(
    s: &PgStore,
    mailbox: MailboxId,
    uids: &[u32],
) -> Result<Vec<(u32, Option<Vec<u8>>)>> {
    let uids = sorted(uids);
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(
            "SELECT uid, summary FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)
             ORDER BY uid",
        )
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[&mailbox.0, &uids]).await.map_err(db_err)?;
    rows.iter()
        .map(|r| Ok((uid_from(get(r, 0)?, "UID")?, get(r, 1)?)))
        .collect()
}

/// Stores summaries computed after filing; see [`crate::Store::message_summaries_set`].
pub(super) async fn message_summaries_set(
    s: &PgStore,
    mailbox: MailboxId,
    summaries: &[(u32, Vec<u8>)],
) -> Result<()> {
    if summaries.is_empty() {
        return Ok(());
    }
    // No mod-sequence moves (a summary is not IMAP-visible state), so no mailbox lock;
    // unknown UIDs are skipped. One transaction, in order (a UID given twice: the
    // last wins).
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let stmt = tx
        .prepare_cached("UPDATE messages SET summary = $3 WHERE mailbox_id = $1 AND uid = $2")
        .await
        .map_err(db_err)?;
    for (uid, summary) in summaries {
        tx.execute(&stmt, &[&mailbox.0, &i64::from(*uid), summary])
            .await
            .map_err(db_err)?;
    }
    super::commit(tx).await
}

/// STORE with CONDSTORE semantics (RFC 7162 §3.1.3); see
/// [`crate::Store::message_flags_set`]. Only messages whose flags really change take a
/// new mod-sequence.
pub(super) async fn message_flags_set(
    s: &PgStore,
    mailbox: MailboxId,
    uids: &[u32],
    change: FlagChange,
    flags: &[String],
    unchanged_since: Option<u64>,
) -> Result<FlagsResult> {
    let given = flags::normalize(flags)?;
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let result = flags_set_in(&tx, mailbox, &sorted(uids), change, &given, unchanged_since).await;
    finish(tx, result).await
}

/// STORE with CONDSTORE semantics inside `tx`; `given` is canonical, `uids` sorted.
async fn flags_set_in(
    tx: &deadpool_postgres::Transaction<'_>,
    mailbox: MailboxId,
    uids: &[i64],
    change: FlagChange,
    given: &[String],
    unchanged_since: Option<u64>,
) -> Result<FlagsResult> {
    let stmt = tx
        .prepare_cached("SELECT highest_modseq FROM mailboxes WHERE id = $1 FOR UPDATE")
        .await
        .map_err(db_err)?;
    let Some(row) = tx.query_opt(&stmt, &[&mailbox.0]).await.map_err(db_err)? else {
        return Err(StoreError::mailbox_gone());
    };
    let mut highest = modseq_from(get(&row, 0)?)?;
    let mut result = FlagsResult::default();
    if uids.is_empty() {
        return Ok(result);
    }
    let stmt = tx
        .prepare_cached(
            "SELECT uid, flags, modseq, size, received_at FROM messages
             WHERE mailbox_id = $1 AND uid = ANY($2) ORDER BY uid",
        )
        .await
        .map_err(db_err)?;
    let rows = tx
        .query(&stmt, &[&mailbox.0, &uids])
        .await
        .map_err(db_err)?;
    let (mut new_uids, mut new_flags, mut new_modseqs) = (Vec::new(), Vec::new(), Vec::new());
    for r in &rows {
        let m = imap_message(r)?;
        if unchanged_since.is_some_and(|since| m.modseq > since) {
            result.modified.push(m.uid);
            continue;
        }
        let new = flags::apply(&m.flags, change, given);
        if new == m.flags {
            continue;
        }
        highest += 1;
        new_uids.push(i64::from(m.uid));
        new_flags.push(flags::encode(&new));
        new_modseqs.push(sql_modseq(highest)?);
        result.changed.push(ImapMessage {
            flags: new,
            modseq: highest,
            ..m
        });
    }
    if result.changed.is_empty() {
        return Ok(result);
    }
    let stmt = tx
        .prepare_cached(
            "UPDATE messages m SET flags = v.flags, modseq = v.modseq
             FROM unnest($2::bigint[], $3::text[], $4::bigint[]) AS v(uid, flags, modseq)
             WHERE m.mailbox_id = $1 AND m.uid = v.uid",
        )
        .await
        .map_err(db_err)?;
    tx.execute(&stmt, &[&mailbox.0, &new_uids, &new_flags, &new_modseqs])
        .await
        .map_err(db_err)?;
    tx.execute(
        "UPDATE mailboxes SET highest_modseq = $2 WHERE id = $1",
        &[&mailbox.0, &sql_modseq(highest)?],
    )
    .await
    .map_err(db_err)?;
    Ok(result)
}

/// APPEND: files one message (flags, INTERNALDATE, summary); returns its UID.
pub(super) async fn message_append_with(
    s: &PgStore,
    mailbox: MailboxId,
    body: &[u8],
    flags: &[String],
    received_at: i64,
    summary: Option<&[u8]>,
) -> Result<u32> {
    let one = NewMessage {
        body,
        flags,
        received_at,
        summary,
    };
    let uids = message_append_many(s, mailbox, std::slice::from_ref(&one)).await?;
    uids.first()
        .copied()
        .ok_or_else(|| StoreError::Io("append filed nothing".into()))
}

/// What APPEND files besides the body: canonical flags, INTERNALDATE, the arrival id
/// it is listed under and the summary.
struct Appended<'a> {
    flags: String,
    received_at: i64,
    arrival: QueueId,
    summary: Option<&'a [u8]>,
}

/// MULTIAPPEND (RFC 3502): files all the messages in one transaction, under one quota
/// check, or none of them; returns their UIDs in order.
pub(super) async fn message_append_many(
    s: &PgStore,
    mailbox: MailboxId,
    messages: &[NewMessage<'_>],
) -> Result<Vec<u32>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let metas = messages
        .iter()
        .map(|m| {
            Ok(Appended {
                flags: flags::encode(&flags::normalize(m.flags)?),
                received_at: m.received_at,
                arrival: crate::arrival_id(),
                summary: m.summary,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let bodies: Vec<&[u8]> = messages.iter().map(|m| m.body).collect();
    // Bodies first, durably; only then the rows that name them.
    let blobs = s.put_blobs(&bodies).await?;
    let ids: Vec<String> = blobs.iter().map(|(id, _)| id.clone()).collect();
    let mut c = match s.client().await {
        Ok(c) => c,
        Err(e) => {
            s.release(ids).await;
            return Err(e);
        }
    };
    let tx = match c.transaction().await.map_err(db_err) {
        Ok(tx) => tx,
        Err(e) => {
            s.release(ids).await;
            return Err(e);
        }
    };
    // One transaction: the quota takes them together, and any refusal rolls back every
    // row (and the bodies are taken back).
    match append_in(&tx, mailbox, &blobs, &metas).await {
        Ok(uids) => {
            // A failed COMMIT leaves the bodies to the orphan sweep: its fate is unknown.
            super::commit(tx).await?;
            Ok(uids)
        }
        Err(e) => {
            drop(tx);
            s.release(ids).await;
            Err(e)
        }
    }
}

/// Files appended messages whose bodies are in `blobs` (id, size), inside `tx`.
async fn append_in(
    tx: &deadpool_postgres::Transaction<'_>,
    mailbox: MailboxId,
    blobs: &[(String, u64)],
    metas: &[Appended<'_>],
) -> Result<Vec<u32>> {
    let n = u32::try_from(blobs.len())
        .map_err(|_| StoreError::Invalid("too many messages in one append".into()))?;
    // Lock order: the account's row (the quota) first, then the mailbox's.
    let account = account_of(tx, mailbox).await?;
    let octets = blobs.iter().map(|(_, size)| size).sum();
    super::quota::admit(tx, account, octets, u64::from(n)).await?;
    let (first_uid, first_modseq) = take_uids(tx, mailbox, n).await?;
    let mut uids = Vec::with_capacity(blobs.len());
    for (i, ((blob, size), m)) in blobs.iter().zip(metas).enumerate() {
        let uid = first_uid + i as u32;
        let row = NewRow {
            blob_id: blob,
            prefix: &[],
            body_size: *size,
            received_at: m.received_at,
            queue_id: m.arrival.as_u64() as i64,
            recipient_index: None,
            flags: &m.flags,
            summary: m.summary,
        };
        insert_row(tx, mailbox, uid, first_modseq + i as u64, &row).await?;
        uids.push(uid);
    }
    Ok(uids)
}

/// The account a mailbox belongs to; `NotFound` for an unknown mailbox.
async fn account_of(
    tx: &deadpool_postgres::Transaction<'_>,
    mailbox: MailboxId,
) -> Result<AccountId> {
    let stmt = tx
        .prepare_cached("SELECT account_id FROM mailboxes WHERE id = $1")
        .await
        .map_err(db_err)?;
    let row = tx
        .query_opt(&stmt, &[&mailbox.0])
        .await
        .map_err(db_err)?
        .ok_or_else(StoreError::mailbox_gone)?;
    Ok(AccountId(get(&row, 0)?))
}

/// COPY (UIDPLUS's COPYUID pairs, RFC 4315); the copies count against the target
/// mailbox's account, which may be another account (a shared mailbox).
pub(super) async fn message_copy(
    s: &PgStore,
    from: MailboxId,
    uids: &[u32],
    to: MailboxId,
) -> Result<Vec<(u32, u32)>> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let result = copy_in(&tx, from, uids, to, false).await;
    let (pairs, _) = finish(tx, result).await?;
    Ok(pairs)
}

/// MOVE (RFC 6851): COPY and expunge of the originals in one transaction; the quota
/// only counts when it crosses accounts.
pub(super) async fn message_move(
    s: &PgStore,
    from: MailboxId,
    uids: &[u32],
    to: MailboxId,
) -> Result<Vec<(u32, u32)>> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let result = copy_in(&tx, from, uids, to, true).await;
    let (pairs, freed) = finish(tx, result).await?;
    s.release(freed).await;
    Ok(pairs)
}

/// (source UID, new UID) pairs, as UIDPLUS's COPYUID reports them (RFC 4315).
type UidPairs = Vec<(u32, u32)>;

/// COPY, and MOVE (RFC 6851) when `remove`, inside `tx`; see
/// [`crate::Store::message_copy`]. Returns the pairs and, for a move, the bodies no row
/// names any more.
async fn copy_in(
    tx: &deadpool_postgres::Transaction<'_>,
    from: MailboxId,
    uids: &[u32],
    to: MailboxId,
    remove: bool,
) -> Result<(UidPairs, Vec<String>)> {
    let source_account = account_of(tx, from).await?;
    let target_account = account_of(tx, to).await?;
    let wanted = sorted(uids);
    // The copies add to the target's account (a move only when it crosses accounts).
    // Lock order: the account's row (the quota) before the mailboxes', so the check
    // runs first, on the messages as they are now; the final check below, after the
    // inserts, covers any change meanwhile and already holds the account's lock.
    let counts_for_quota = !remove || source_account != target_account;
    if counts_for_quota {
        let stmt = tx
            .prepare_cached(
                "SELECT count(*), coalesce(sum(size), 0)::bigint FROM messages
                 WHERE mailbox_id = $1 AND uid = ANY($2)",
            )
            .await
            .map_err(db_err)?;
        let row = tx
            .query_one(&stmt, &[&from.0, &wanted])
            .await
            .map_err(db_err)?;
        let count = size_from(get(&row, 0)?)?;
        let octets = size_from(get(&row, 1)?)?;
        if count > 0 {
            super::quota::admit(tx, target_account, octets, count).await?;
        }
    }
    // Both mailbox rows locked in ascending id order, so two nodes copying in opposite
    // directions cannot deadlock.
    let stmt = tx
        .prepare_cached("SELECT id FROM mailboxes WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .await
        .map_err(db_err)?;
    let mut ids = vec![from.0, to.0];
    ids.sort_unstable();
    ids.dedup();
    let locked = tx.query(&stmt, &[&ids]).await.map_err(db_err)?;
    if locked.len() != ids.len() {
        return Err(StoreError::mailbox_gone());
    }
    let stmt = tx
        .prepare_cached(
            "SELECT uid, blob_id, prefix, body_size, received_at, queue_id, flags, summary
             FROM messages WHERE mailbox_id = $1 AND uid = ANY($2) ORDER BY uid",
        )
        .await
        .map_err(db_err)?;
    let originals = tx.query(&stmt, &[&from.0, &wanted]).await.map_err(db_err)?;
    if originals.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let n = u32::try_from(originals.len())
        .map_err(|_| StoreError::Invalid("too many messages in one copy".into()))?;
    let (first_uid, first_modseq) = take_uids(tx, to, n).await?;
    let mut pairs = Vec::with_capacity(originals.len());
    for (i, r) in originals.iter().enumerate() {
        let uid = uid_from(get(r, 0)?, "UID")?;
        let blob: String = get(r, 1)?;
        let prefix: Vec<u8> = get(r, 2)?;
        let body_size: i64 = get(r, 3)?;
        let flags: String = get(r, 6)?;
        let summary: Option<Vec<u8>> = get(r, 7)?;
        let row = NewRow {
            blob_id: &blob,
            prefix: &prefix,
            body_size: size_from(body_size)?,
            received_at: get(r, 4)?,
            queue_id: get(r, 5)?,
            recipient_index: None,
            flags: &flags,
            summary: summary.as_deref(),
        };
        let new_uid = first_uid + i as u32;
        insert_row(tx, to, new_uid, first_modseq + i as u64, &row).await?;
        pairs.push((uid, new_uid));
    }
    // Checked again now that they are in, which is the same as usage-before plus the
    // copies (RFC 9208 §4.3.1 OVERQUOTA), whatever changed since the first check.
    if counts_for_quota {
        super::quota::admit(tx, target_account, 0, 0).await?;
    }
    if !remove {
        return Ok((pairs, Vec::new()));
    }
    let moved: Vec<u32> = pairs.iter().map(|(uid, _)| *uid).collect();
    let (_, freed) = expunge_rows(tx, from, Some(&moved), false).await?;
    Ok((pairs, freed))
}

/// EXPUNGE / UID EXPUNGE: removes the messages flagged `\Deleted` (among `uids` when
/// given); returns the removed UIDs ascending.
pub(super) async fn message_expunge(
    s: &PgStore,
    mailbox: MailboxId,
    uids: Option<&[u32]>,
) -> Result<Vec<u32>> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let result = async {
        lock_mailbox(&tx, mailbox).await?;
        expunge_rows(&tx, mailbox, uids, true).await
    }
    .await;
    let (removed, freed) = finish(tx, result).await?;
    s.release(freed).await;
    Ok(removed)
}

/// UIDs expunged by changes above `modseq`, ascending (QRESYNC, RFC 7162 §3.2.10).
pub(super) async fn mailbox_expunged_since(
    s: &PgStore,
    mailbox: MailboxId,
    modseq: u64,
) -> Result<Vec<u32>> {
    let c = s.client().await?;
    if !mailbox_exists(&c, mailbox).await? {
        return Err(StoreError::mailbox_gone());
    }
    // Above any stored value: nothing expunged after it.
    let Ok(since) = i64::try_from(modseq) else {
        return Ok(Vec::new());
    };
    uids_of(&c, EXPUNGED_SQL, &[&mailbox.0, &since]).await
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

/// A mod-sequence as stored.
fn sql_modseq(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::Invalid("mod-sequence overflow".into()))
}
