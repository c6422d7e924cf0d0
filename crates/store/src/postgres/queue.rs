//! The durable queue on PostgreSQL: inserting accepted messages (and filing them for
//! local recipients in the same transaction), listing what is due, claiming entries
//! for one node with leases, recording outcomes, local delivery into a mailbox, and
//! collecting finished entries.
//!
//! Where it sits: called by [`super::PgStore`]'s `Store` impl; the SMTP receiver
//! enqueues, the queue runners of every node claim, deliver and mark, `postie queue`
//! lists, holds, flushes and deletes. The semantics (error kinds and messages, order,
//! the stored encodings of the envelope) are the embedded store's
//! (`crate::sqlite::queue`, `crate::sqlite::messages::deliver_into`), so `postie store
//! migrate` copies rows as they are.
//!
//! Concurrency (several nodes, READ COMMITTED):
//! - A claim is `SELECT … FOR UPDATE SKIP LOCKED` and the `UPDATE` setting the lease in
//!   one transaction: a row another claimer has locked is skipped, and a row another
//!   claimer leased and committed meanwhile is re-checked against the lease condition
//!   (PostgreSQL re-evaluates the `WHERE` on the newest row version), so two claimers
//!   never both get an entry.
//! - Filing a recipient (`deliver_to_mailbox`) first locks the queue row
//!   (`FOR UPDATE`), then the recipient's row: two filings of one entry run one after
//!   the other, and one that finds its recipient done files nothing (idempotent). The
//!   lock order is queue row, account row (the quota check), mailbox row (UIDs), the
//!   same as every other filing path after its first step, so filings cannot deadlock.
//! - Bodies: written (and committed) before the rows naming them; deleted after the
//!   commit that removed the last row naming them, as [`super::unreferenced`] reports.
//!
//! Encodings: a queue id is its 64 bits as a signed `bigint` ([`qid`]), sorted back in
//! unsigned order by [`ORDER_OLDEST_FIRST`]; `body_type` is `BodyType::as_str`,
//! `dsn_ret` `Ret::as_str`, `notify` `Notify::to_param` (RFC 3461 §4.1), `orcpt` as
//! given (RFC 3461 §4.2). An entry read back whose envelope no longer parses, or whose
//! recipients are not numbered 0..n, is logged and left out of listings (a damaged
//! entry must not stop the rest of the queue).

use deadpool_postgres::Transaction;
use message::dsn::Ret;
use message::{Domain, Envelope, QueueId};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use super::messages::{NewRow, insert_row, take_uids};
use super::{PgStore, db_err, is_unique_violation, now_unix, unreferenced};
use crate::mailbox_names::INBOX;
use crate::queue_rows::{Head, Recipient};
use crate::{AccountId, Filing, MailboxId, QueuedMessage, RecipientOutcome, Result, StoreError};

/// Oldest first: by arrival second, then by queue id compared as unsigned (ids start
/// with their arrival time in milliseconds).
const ORDER_OLDEST_FIRST: &str = "q.queued_at, q.id < 0, q.id";

/// A queue id as stored.
fn qid(id: QueueId) -> i64 {
    id.as_u64() as i64
}

/// A queue id as read back.
fn qid_from(value: i64) -> QueueId {
    QueueId::from_u64(value as u64)
}

/// A recipient index as stored; an index too large for a `bigint` cannot exist.
fn idx(id: QueueId, recipient: usize) -> Result<i64> {
    i64::try_from(recipient)
        .map_err(|_| StoreError::NotFound(format!("recipient {recipient} of {id}")))
}

/// Column `i` of `row`; a value of the wrong type (or NULL where none may be) is
/// `Damaged`.
fn col<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i)
        .map_err(|e| StoreError::Damaged(format!("queue row, column {i}: {e}")))
}

// ---- enqueue and local filing ----------------------------------------------------

/// `Store::enqueue`: the entry with all recipients pending, due at once.
pub(super) async fn enqueue(
    s: &PgStore,
    id: QueueId,
    envelope: &Envelope,
    body: &[u8],
) -> Result<()> {
    enqueue_filed(s, id, envelope, body, &[], false).await?;
    Ok(())
}

/// `Store::enqueue_and_file`: the entry and its filings into INBOX, in one
/// transaction.
pub(super) async fn enqueue_and_file(
    s: &PgStore,
    id: QueueId,
    envelope: &Envelope,
    body: &[u8],
    filings: &[Filing],
) -> Result<Vec<usize>> {
    enqueue_filed(s, id, envelope, body, filings, false).await
}

/// `Store::enqueue_and_file_junk`: the filings go to each account's `\Junk` mailbox
/// (RFC 6154), INBOX when it has none (DMARC quarantine, RFC 7489 §6.6.4).
pub(super) async fn enqueue_and_file_junk(
    s: &PgStore,
    id: QueueId,
    envelope: &Envelope,
    body: &[u8],
    filings: &[Filing],
) -> Result<Vec<usize>> {
    enqueue_filed(s, id, envelope, body, filings, true).await
}

/// Writes the body, then inserts the entry and files `filings` (into Junk when
/// `junk`) in one transaction. A filing the account's quota cannot take is skipped
/// (logged) and stays pending for the queue. If the transaction fails before its
/// commit the body is deleted again; if the commit's outcome is unknown it is left
/// for the orphan sweep.
async fn enqueue_filed(
    s: &PgStore,
    id: QueueId,
    envelope: &Envelope,
    body: &[u8],
    filings: &[Filing],
    junk: bool,
) -> Result<Vec<usize>> {
    if envelope.recipients.is_empty() {
        return Err(StoreError::Invalid(
            "a message needs at least one recipient".into(),
        ));
    }
    let size =
        i64::try_from(body.len()).map_err(|_| StoreError::Invalid("message too large".into()))?;
    let blobs = s.put_blobs(&[body]).await?;
    let ids: Vec<String> = blobs.into_iter().map(|(blob, _)| blob).collect();
    let Some(blob) = ids.first().cloned() else {
        return Err(StoreError::Io("the body store returned no body id".into()));
    };
    let mut c = match s.client().await {
        Ok(c) => c,
        Err(e) => {
            s.release(ids).await;
            return Err(e);
        }
    };
    let tx = match c.transaction().await {
        Ok(tx) => tx,
        Err(e) => {
            s.release(ids).await;
            return Err(db_err(e));
        }
    };
    let entry = Entry {
        id,
        blob,
        body_size: size,
        now: now_unix(),
    };
    match insert_and_file(&tx, &entry, envelope, filings, junk).await {
        Ok(filed) => {
            // An error here leaves the outcome unknown: the body stays for the sweep.
            super::commit(tx).await?;
            Ok(filed)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(error = %rollback, "rollback after a failed enqueue");
            }
            s.release(ids).await;
            Err(e)
        }
    }
}

/// The statements of [`enqueue_filed`], inside its transaction.
async fn insert_and_file(
    tx: &Transaction<'_>,
    entry: &Entry,
    envelope: &Envelope,
    filings: &[Filing],
    junk: bool,
) -> Result<Vec<usize>> {
    insert(tx, entry, envelope).await?;
    // Filed account by account, in ascending id order: each filing locks its account's
    // row (the quota check) and then its mailbox's row (UIDs), so two messages for the
    // same accounts listed in different orders, arriving at once, take those locks in
    // the same order and cannot deadlock each other.
    let mut order: Vec<usize> = (0..filings.len()).collect();
    order.sort_by_key(|&i| filings[i].account.0);
    let mut done = vec![false; filings.len()];
    for i in order {
        let f = &filings[i];
        let one = One {
            recipient: f.recipient,
            account: f.account,
            prefix: &f.prefix,
            summary: f.summary.as_deref(),
        };
        match file(tx, entry, &one, junk).await {
            Ok(_) => done[i] = true,
            // Over quota: left pending for the queue, which retries it.
            Err(StoreError::OverQuota(why)) => {
                tracing::info!(queue_id = %entry.id, recipient = f.recipient, %why, "not filed");
            }
            Err(e) => return Err(e),
        }
    }
    // Reported in `filings` order.
    Ok(filings
        .iter()
        .zip(done)
        .filter_map(|(f, filed)| filed.then_some(f.recipient))
        .collect())
}

/// Inserts the `queue` row and its recipients (all pending, due at `entry.now`).
/// `Exists` when the id is taken.
async fn insert(tx: &Transaction<'_>, entry: &Entry, envelope: &Envelope) -> Result<()> {
    let id = entry.id;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO queue(id, sender, body_type, smtputf8, blob_id, size, queued_at,
                               dsn_ret, dsn_envid, require_tls)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (id) DO NOTHING",
        )
        .await
        .map_err(db_err)?;
    let inserted = tx
        .execute(
            &stmt,
            &[
                &qid(id),
                &envelope.sender.as_ref().map(|a| a.to_string()),
                &envelope.body_type.as_str(),
                &envelope.smtputf8,
                &entry.blob,
                &entry.body_size,
                &entry.now,
                &envelope.dsn.ret.map(Ret::as_str),
                &envelope.dsn.envid,
                &envelope.require_tls,
            ],
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Exists(format!("queue entry {id}"))
            } else {
                db_err(e)
            }
        })?;
    if inserted == 0 {
        return Err(StoreError::Exists(format!("queue entry {id}")));
    }
    let mut addresses = Vec::with_capacity(envelope.recipients.len());
    let mut notifies = Vec::with_capacity(envelope.recipients.len());
    let mut orcpts = Vec::with_capacity(envelope.recipients.len());
    for (i, rcpt) in envelope.recipients.iter().enumerate() {
        let dsn = envelope.dsn.recipient(i);
        addresses.push(rcpt.to_string());
        notifies.push(dsn.notify.to_param());
        orcpts.push(dsn.orcpt);
    }
    // One statement for every recipient; `idx` is the position, from 0.
    let stmt = tx
        .prepare_cached(
            "INSERT INTO queue_recipients(queue_id, idx, address, status, attempts,
                                          next_attempt, notify, orcpt)
             SELECT $1, t.n - 1, t.address, 'pending', 0, $2, t.notify, t.orcpt
             FROM unnest($3::text[], $4::text[], $5::text[])
                  WITH ORDINALITY AS t(address, notify, orcpt, n)",
        )
        .await
        .map_err(db_err)?;
    tx.execute(
        &stmt,
        &[&qid(id), &entry.now, &addresses, &notifies, &orcpts],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A queue entry being filed, its row locked (or inserted) by the transaction.
struct Entry {
    /// Its id.
    id: QueueId,
    /// Its body's id.
    blob: String,
    /// Its body's length in octets.
    body_size: i64,
    /// The time of the filing (INTERNALDATE of the new messages), unix seconds.
    now: i64,
}

/// One recipient's filing.
struct One<'a> {
    /// The recipient's index in the envelope.
    recipient: usize,
    /// The account receiving it.
    account: AccountId,
    /// The per-recipient header lines put before the body.
    prefix: &'a [u8],
    /// The IMAP layer's summary, if the caller made one.
    summary: Option<&'a [u8]>,
}

/// Locks queue entry `id`'s row for the transaction; `None` when there is none.
async fn lock_entry(tx: &Transaction<'_>, id: QueueId) -> Result<Option<Entry>> {
    let stmt = tx
        .prepare_cached("SELECT blob_id, size FROM queue WHERE id = $1 FOR UPDATE")
        .await
        .map_err(db_err)?;
    let Some(row) = tx.query_opt(&stmt, &[&qid(id)]).await.map_err(db_err)? else {
        return Ok(None);
    };
    let body_size: i64 = col(&row, 1)?;
    if body_size < 0 {
        return Err(StoreError::Damaged(format!(
            "queue entry {id}: size {body_size}"
        )));
    }
    Ok(Some(Entry {
        id,
        blob: col(&row, 0)?,
        body_size,
        now: now_unix(),
    }))
}

/// Files `entry` for one recipient into the account's INBOX (its `\Junk` mailbox when
/// `junk` and it has one) and marks the recipient delivered; `None` when the recipient
/// is already done. `NotFound` for an unknown recipient or an account without the
/// mailbox; `OverQuota` when the account cannot take it (nothing written). The
/// caller's transaction holds the queue row's lock.
async fn file(
    tx: &Transaction<'_>,
    entry: &Entry,
    one: &One<'_>,
    junk: bool,
) -> Result<Option<u32>> {
    let id = entry.id;
    let index = idx(id, one.recipient)?;
    let stmt = tx
        .prepare_cached(
            "SELECT status FROM queue_recipients WHERE queue_id = $1 AND idx = $2 FOR UPDATE",
        )
        .await
        .map_err(db_err)?;
    let Some(row) = tx
        .query_opt(&stmt, &[&qid(id), &index])
        .await
        .map_err(db_err)?
    else {
        return Err(StoreError::NotFound(format!(
            "recipient {} of queue entry {id}",
            one.recipient
        )));
    };
    let status: String = col(&row, 0)?;
    if status != "pending" {
        return Ok(None);
    }
    let size = i64::try_from(one.prefix.len())
        .ok()
        .and_then(|p| p.checked_add(entry.body_size))
        .ok_or_else(|| StoreError::Invalid("message too large".into()))?;
    super::quota::admit(tx, one.account, size as u64, 1).await?;
    let mailbox = target_mailbox(tx, one.account, junk).await?;
    let (uid, modseq) = take_uids(tx, mailbox, 1).await?;
    insert_row(
        tx,
        mailbox,
        uid,
        modseq,
        &NewRow {
            blob_id: &entry.blob,
            prefix: one.prefix,
            body_size: entry.body_size as u64,
            received_at: entry.now,
            queue_id: qid(id),
            recipient_index: Some(index),
            flags: "",
            summary: one.summary,
        },
    )
    .await?;
    let stmt = tx
        .prepare_cached(
            "UPDATE queue_recipients SET status = 'delivered', attempts = attempts + 1,
             last_error = NULL WHERE queue_id = $1 AND idx = $2",
        )
        .await
        .map_err(db_err)?;
    tx.execute(&stmt, &[&qid(id), &index])
        .await
        .map_err(db_err)?;
    Ok(Some(uid))
}

/// The mailbox a delivery for `account` goes to: with `junk`, the first mailbox with
/// special use `\Junk` (RFC 6154), else INBOX. `NotFound` when there is none.
async fn target_mailbox(tx: &Transaction<'_>, account: AccountId, junk: bool) -> Result<MailboxId> {
    if junk {
        let stmt = tx
            .prepare_cached(
                "SELECT id FROM mailboxes WHERE account_id = $1 AND special_use = $2
                 ORDER BY id LIMIT 1",
            )
            .await
            .map_err(db_err)?;
        if let Some(row) = tx
            .query_opt(&stmt, &[&account.0, &"\\Junk"])
            .await
            .map_err(db_err)?
        {
            return Ok(MailboxId(col(&row, 0)?));
        }
    }
    let stmt = tx
        .prepare_cached("SELECT id FROM mailboxes WHERE account_id = $1 AND name = $2")
        .await
        .map_err(db_err)?;
    match tx
        .query_opt(&stmt, &[&account.0, &INBOX])
        .await
        .map_err(db_err)?
    {
        Some(row) => Ok(MailboxId(col(&row, 0)?)),
        None => Err(StoreError::NotFound(format!(
            "INBOX of account {}",
            account.0
        ))),
    }
}

/// `Store::deliver_to_mailbox`: files entry `id` for `recipient` into `account`'s
/// INBOX and marks the recipient delivered, in one transaction; `None` when the
/// recipient is already done. `NotFound` for an unknown entry, recipient or INBOX;
/// `OverQuota` (recipient left pending) when the account cannot take it.
pub(super) async fn deliver_to_mailbox(
    s: &PgStore,
    id: QueueId,
    recipient: usize,
    account: AccountId,
    prefix: &[u8],
) -> Result<Option<u32>> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let Some(entry) = lock_entry(&tx, id).await? else {
        return Err(StoreError::NotFound(format!("queue entry {id}")));
    };
    let one = One {
        recipient,
        account,
        prefix,
        summary: None,
    };
    let uid = file(&tx, &entry, &one, false).await?;
    super::commit(tx).await?;
    Ok(uid)
}

// ---- reading entries ---------------------------------------------------------------

/// The columns [`load`] reads: the `queue` row, then one recipient (NULL when the
/// entry has none, which is damage), one result row per recipient.
const ENTRY_COLUMNS: &str = "q.id, q.sender, q.body_type, q.smtputf8, q.size, q.queued_at,
     q.dsn_ret, q.dsn_envid, q.held, q.warned,
     r.idx, r.address, r.status, r.attempts, r.next_attempt, r.last_error, r.notify, r.orcpt,
     q.require_tls";

/// One entry's head and the recipient columns of its rows (NULL when the entry has no
/// recipient row, which [`crate::queue_rows::assemble`] reports as damage).
struct LoadedEntry {
    head: Head,
    recipients: Vec<RecipientColumns>,
}

/// The recipient columns of one result row, NULL for an entry without recipients.
struct RecipientColumns {
    index: Option<i64>,
    address: Option<String>,
    status: Option<String>,
    attempts: Option<i64>,
    next_attempt: Option<i64>,
    last_error: Option<String>,
    notify: Option<String>,
    orcpt: Option<String>,
}

impl RecipientColumns {
    /// The recipient row, `None` for the NULLs of an entry without recipients.
    fn row(self) -> Option<Recipient> {
        Some(Recipient {
            index: self.index?,
            address: self.address?,
            status: self.status?,
            attempts: self.attempts?,
            next_attempt: self.next_attempt?,
            last_error: self.last_error,
            notify: self.notify,
            orcpt: self.orcpt,
        })
    }
}

/// Turns rows of [`ENTRY_COLUMNS`] (one entry's rows next to each other, its
/// recipients in index order) into entries, in the rows' order; damaged entries are
/// logged and skipped.
fn load(rows: &[Row]) -> Result<Vec<QueuedMessage>> {
    let mut entries: Vec<LoadedEntry> = Vec::new();
    for row in rows {
        let id: i64 = col(row, 0)?;
        let recipient = RecipientColumns {
            index: col(row, 10)?,
            address: col(row, 11)?,
            status: col(row, 12)?,
            attempts: col(row, 13)?,
            next_attempt: col(row, 14)?,
            last_error: col(row, 15)?,
            notify: col(row, 16)?,
            orcpt: col(row, 17)?,
        };
        match entries.last_mut() {
            Some(entry) if entry.head.id == id => entry.recipients.push(recipient),
            _ => entries.push(LoadedEntry {
                head: Head {
                    id,
                    sender: col(row, 1)?,
                    body_type: col(row, 2)?,
                    smtputf8: col(row, 3)?,
                    size: col(row, 4)?,
                    queued_at: col(row, 5)?,
                    dsn_ret: col(row, 6)?,
                    dsn_envid: col(row, 7)?,
                    held: col(row, 8)?,
                    warned: col(row, 9)?,
                    require_tls: col(row, 18)?,
                },
                recipients: vec![recipient],
            }),
        }
    }
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let id = qid_from(entry.head.id);
        match assemble(entry) {
            Ok(m) => out.push(m),
            Err(StoreError::Damaged(why)) => {
                tracing::error!(queue_id = %id, error = %why, "damaged queue entry set aside");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Validates one entry and builds it ([`crate::queue_rows::assemble`]).
fn assemble(entry: LoadedEntry) -> Result<QueuedMessage> {
    let rows = entry
        .recipients
        .into_iter()
        .map(RecipientColumns::row)
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    crate::queue_rows::assemble(entry.head, rows)
}

/// The due entries' ids with the time each is due (its earliest due pending
/// recipient), longest due first, then oldest first; `$1` is now, `$2` the limit. A
/// `WITH` part of [`queue_due`]'s query.
const DUE_IDS: &str = "SELECT q.id, min(r.next_attempt) AS due
     FROM queue_recipients r JOIN queue q ON q.id = r.queue_id
     WHERE r.status = 'pending' AND r.next_attempt <= $1 AND NOT q.held
     GROUP BY q.id
     ORDER BY due, q.queued_at, q.id < 0, q.id
     LIMIT $2";

/// `Store::queue_due`: entries with a pending recipient due at or before `now_unix`,
/// not held, longest due first, at most `limit`; read in one statement (one snapshot).
pub(super) async fn queue_due(
    s: &PgStore,
    now_unix: i64,
    limit: usize,
) -> Result<Vec<QueuedMessage>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let c = s.client().await?;
    let sql = format!(
        "WITH d AS ({DUE_IDS})
         SELECT {ENTRY_COLUMNS}
         FROM d JOIN queue q ON q.id = d.id
              LEFT JOIN queue_recipients r ON r.queue_id = q.id
         ORDER BY d.due, {ORDER_OLDEST_FIRST}, r.idx"
    );
    let stmt = c.prepare_cached(&sql).await.map_err(db_err)?;
    let rows = c.query(&stmt, &[&now_unix, &limit]).await.map_err(db_err)?;
    load(&rows)
}

/// `Store::queue_list`: every entry, oldest first.
pub(super) async fn queue_list(s: &PgStore) -> Result<Vec<QueuedMessage>> {
    let c = s.client().await?;
    let sql = format!(
        "SELECT {ENTRY_COLUMNS}
         FROM queue q LEFT JOIN queue_recipients r ON r.queue_id = q.id
         ORDER BY {ORDER_OLDEST_FIRST}, r.idx"
    );
    let stmt = c.prepare_cached(&sql).await.map_err(db_err)?;
    let rows = c.query(&stmt, &[]).await.map_err(db_err)?;
    load(&rows)
}

/// `Store::queue_get`: one entry, `None` when there is none (or it is damaged, which
/// is logged).
pub(super) async fn queue_get(s: &PgStore, id: QueueId) -> Result<Option<QueuedMessage>> {
    let c = s.client().await?;
    let sql = format!(
        "SELECT {ENTRY_COLUMNS}
         FROM queue q LEFT JOIN queue_recipients r ON r.queue_id = q.id
         WHERE q.id = $1
         ORDER BY r.idx"
    );
    let stmt = c.prepare_cached(&sql).await.map_err(db_err)?;
    let rows = c.query(&stmt, &[&qid(id)]).await.map_err(db_err)?;
    Ok(load(&rows)?.pop())
}

/// `Store::queue_body`: the body's bytes. A body missing because the entry was removed
/// meanwhile (a concurrent collect or delete) is `NotFound`, not `Damaged`.
pub(super) async fn queue_body(s: &PgStore, id: QueueId) -> Result<Vec<u8>> {
    let Some((blob, size)) = blob_of(s, id).await? else {
        return Err(StoreError::NotFound(format!("queue entry {id}")));
    };
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    match s.blobs().read_into(&blob, size, &mut out).await {
        Ok(()) => Ok(out),
        Err(StoreError::Damaged(why)) => {
            if blob_of(s, id).await?.is_some() {
                Err(StoreError::Damaged(why))
            } else {
                Err(StoreError::NotFound("removed while being read".into()))
            }
        }
        Err(e) => Err(e),
    }
}

/// The body id and size of entry `id`, `None` when there is none.
async fn blob_of(s: &PgStore, id: QueueId) -> Result<Option<(String, u64)>> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached("SELECT blob_id, size FROM queue WHERE id = $1")
        .await
        .map_err(db_err)?;
    let Some(row) = c.query_opt(&stmt, &[&qid(id)]).await.map_err(db_err)? else {
        return Ok(None);
    };
    let size: i64 = col(&row, 1)?;
    let size = u64::try_from(size)
        .map_err(|_| StoreError::Damaged(format!("queue entry {id}: size {size}")))?;
    Ok(Some((col(&row, 0)?, size)))
}

// ---- claims ------------------------------------------------------------------------

/// `Store::queue_claim`: up to `limit` of the entries `queue_due` would return, minus
/// those under another node's live lease, leased to `node` until `lease_until`. The
/// `SELECT … FOR UPDATE SKIP LOCKED` and the `UPDATE` are one transaction, so two
/// claimers racing never both get an entry (see the module's notes).
pub(super) async fn queue_claim(
    s: &PgStore,
    node: &str,
    now_unix: i64,
    lease_until: i64,
    limit: usize,
) -> Result<Vec<QueueId>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let sql = format!(
        "SELECT q.id
         FROM queue q
         JOIN (SELECT queue_id, min(next_attempt) AS due FROM queue_recipients
               WHERE status = 'pending' AND next_attempt <= $1
               GROUP BY queue_id) d ON d.queue_id = q.id
         WHERE NOT q.held
           AND (q.lease_node IS NULL OR q.lease_until <= $1 OR q.lease_node = $2)
         ORDER BY d.due, {ORDER_OLDEST_FIRST}
         LIMIT $3
         FOR UPDATE OF q SKIP LOCKED"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(db_err)?;
    let rows = tx
        .query(&stmt, &[&now_unix, &node, &limit])
        .await
        .map_err(db_err)?;
    let locked = rows
        .iter()
        .map(|r| col::<i64>(r, 0))
        .collect::<Result<Vec<i64>>>()?;
    if locked.is_empty() {
        // Nothing written: let the transaction end without a commit.
        return Ok(Vec::new());
    }
    // Look again, now that the rows are locked, with this statement's fresh snapshot:
    // PostgreSQL re-checks a row that another transaction changed while we waited for
    // it against the new version of `queue` only, not against the subquery on
    // `queue_recipients`, so an entry another node finished and released meanwhile
    // would pass. Keep the order of the first look.
    let stmt = tx
        .prepare_cached(
            "SELECT DISTINCT queue_id FROM queue_recipients
             WHERE queue_id = ANY($1) AND status = 'pending' AND next_attempt <= $2",
        )
        .await
        .map_err(db_err)?;
    let still: std::collections::HashSet<i64> = tx
        .query(&stmt, &[&locked, &now_unix])
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| col::<i64>(r, 0))
        .collect::<Result<_>>()?;
    let ids: Vec<i64> = locked.into_iter().filter(|id| still.contains(id)).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = tx
        .prepare_cached("UPDATE queue SET lease_node = $2, lease_until = $3 WHERE id = ANY($1)")
        .await
        .map_err(db_err)?;
    tx.execute(&stmt, &[&ids, &node, &lease_until])
        .await
        .map_err(db_err)?;
    super::commit(tx).await?;
    Ok(ids.into_iter().map(qid_from).collect())
}

/// `Store::queue_renew`: extends `node`'s leases among `ids`; returns those it still
/// holds, in `ids` order.
pub(super) async fn queue_renew(
    s: &PgStore,
    node: &str,
    ids: &[QueueId],
    lease_until: i64,
) -> Result<Vec<QueueId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<i64> = ids.iter().map(|id| qid(*id)).collect();
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(
            "UPDATE queue SET lease_until = $3 WHERE id = ANY($1) AND lease_node = $2
             RETURNING id",
        )
        .await
        .map_err(db_err)?;
    let rows = c
        .query(&stmt, &[&wanted, &node, &lease_until])
        .await
        .map_err(db_err)?;
    let held = rows
        .iter()
        .map(|r| col::<i64>(r, 0))
        .collect::<Result<std::collections::HashSet<i64>>>()?;
    Ok(ids
        .iter()
        .copied()
        .filter(|id| held.contains(&qid(*id)))
        .collect())
}

/// `Store::queue_release`: drops `node`'s lease on `id`, if it holds one.
pub(super) async fn queue_release(s: &PgStore, node: &str, id: QueueId) -> Result<()> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(
            "UPDATE queue SET lease_node = NULL, lease_until = NULL
             WHERE id = $1 AND lease_node = $2",
        )
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&qid(id), &node]).await.map_err(db_err)?;
    Ok(())
}

// ---- administration and outcomes ---------------------------------------------------

/// `Store::queue_hold`: sets or clears the hold flag; `NotFound` when there is no such
/// entry.
pub(super) async fn queue_hold(s: &PgStore, id: QueueId, held: bool) -> Result<()> {
    let c = s.client().await?;
    let changed = c
        .execute(
            "UPDATE queue SET held = $2 WHERE id = $1",
            &[&qid(id), &held],
        )
        .await
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("queue entry {id}")));
    }
    Ok(())
}

/// `Store::queue_flush`: makes pending recipients due at `now_unix` (of entry `id`,
/// else in `domain`, else all); returns how many.
pub(super) async fn queue_flush(
    s: &PgStore,
    id: Option<QueueId>,
    domain: Option<&Domain>,
    now_unix: i64,
) -> Result<usize> {
    let c = s.client().await?;
    let changed = match (id, domain) {
        (Some(id), _) => c
            .execute(
                "UPDATE queue_recipients SET next_attempt = $2
                 WHERE queue_id = $1 AND status = 'pending'",
                &[&qid(id), &now_unix],
            )
            .await
            .map_err(db_err)?,
        // The address ends with "@domain"; compared lower-cased, as domains are. An
        // address keeps the spelling it was written in, so an IDN domain is matched in
        // its A-label and its U-label form (both lower case as `Address` writes them).
        // `lower` under the column's "C" collation folds ASCII only, as SQLite's does.
        (None, Some(domain)) => c
            .execute(
                "UPDATE queue_recipients SET next_attempt = $2
                 WHERE status = 'pending'
                   AND (lower(right(address, length($1::text) + 1)) = '@' || $1::text
                        OR right(address, length($3::text) + 1) = '@' || $3::text)",
                &[&domain.as_str(), &now_unix, &domain.unicode()],
            )
            .await
            .map_err(db_err)?,
        (None, None) => c
            .execute(
                "UPDATE queue_recipients SET next_attempt = $1 WHERE status = 'pending'",
                &[&now_unix],
            )
            .await
            .map_err(db_err)?,
    };
    Ok(usize::try_from(changed).unwrap_or(usize::MAX))
}

/// `Store::queue_delete`: removes an entry whatever its state, then deletes its body
/// unless a mailbox message shares it. `NotFound` when there is no such entry.
pub(super) async fn queue_delete(s: &PgStore, id: QueueId) -> Result<()> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    // Recipients go with it (ON DELETE CASCADE).
    let row = tx
        .query_opt(
            "DELETE FROM queue WHERE id = $1 RETURNING blob_id",
            &[&qid(id)],
        )
        .await
        .map_err(db_err)?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(format!("queue entry {id}")));
    };
    let freed = unreferenced(&tx, &[col::<String>(&row, 0)?]).await?;
    super::commit(tx).await?;
    s.release(freed).await;
    Ok(())
}

/// `Store::queue_set_warned`: records that the delay warning was sent.
pub(super) async fn queue_set_warned(s: &PgStore, id: QueueId) -> Result<()> {
    let c = s.client().await?;
    c.execute("UPDATE queue SET warned = true WHERE id = $1", &[&qid(id)])
        .await
        .map_err(db_err)?;
    Ok(())
}

/// `Store::queue_mark`: records an outcome for a pending recipient; one already
/// delivered or failed keeps its final state (a no-op). `NotFound` for an unknown
/// entry or recipient.
pub(super) async fn queue_mark(
    s: &PgStore,
    id: QueueId,
    recipient: usize,
    outcome: &RecipientOutcome,
) -> Result<()> {
    let index = idx(id, recipient)?;
    let c = s.client().await?;
    // One statement: `status = 'pending'` is re-checked on the newest row version if a
    // concurrent filing changed it, so a final state is never overwritten.
    let changed = match outcome {
        RecipientOutcome::Deferred {
            next_attempt,
            reason,
        } => {
            let stmt = c
                .prepare_cached(
                    "UPDATE queue_recipients SET attempts = attempts + 1, next_attempt = $3,
                     last_error = $4
                     WHERE queue_id = $1 AND idx = $2 AND status = 'pending'",
                )
                .await
                .map_err(db_err)?;
            c.execute(&stmt, &[&qid(id), &index, next_attempt, reason])
                .await
        }
        RecipientOutcome::Failed { reason } => {
            let stmt = c
                .prepare_cached(
                    "UPDATE queue_recipients SET attempts = attempts + 1, status = 'failed',
                     last_error = $3
                     WHERE queue_id = $1 AND idx = $2 AND status = 'pending'",
                )
                .await
                .map_err(db_err)?;
            c.execute(&stmt, &[&qid(id), &index, reason]).await
        }
        RecipientOutcome::Delivered => {
            let stmt = c
                .prepare_cached(
                    "UPDATE queue_recipients SET attempts = attempts + 1, status = 'delivered',
                     last_error = NULL
                     WHERE queue_id = $1 AND idx = $2 AND status = 'pending'",
                )
                .await
                .map_err(db_err)?;
            c.execute(&stmt, &[&qid(id), &index]).await
        }
    }
    .map_err(db_err)?;
    if changed == 0 {
        let exists = c
            .query_opt(
                "SELECT 1 FROM queue_recipients WHERE queue_id = $1 AND idx = $2",
                &[&qid(id), &index],
            )
            .await
            .map_err(db_err)?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound(format!(
                "recipient {recipient} of queue entry {id}"
            )));
        }
    }
    Ok(())
}

/// `Store::queue_collect`: deletes entries with no pending recipient, then the bodies
/// no row names any more; returns how many entries. (No entry ever goes back to
/// pending, so an entry found finished stays finished while the `DELETE` waits for a
/// concurrent filing's row lock.)
pub(super) async fn queue_collect(s: &PgStore) -> Result<usize> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let stmt = tx
        .prepare_cached(
            "DELETE FROM queue q WHERE NOT EXISTS
                 (SELECT 1 FROM queue_recipients r
                  WHERE r.queue_id = q.id AND r.status = 'pending')
             RETURNING q.blob_id",
        )
        .await
        .map_err(db_err)?;
    let rows = tx.query(&stmt, &[]).await.map_err(db_err)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut blobs = rows
        .iter()
        .map(|r| col::<String>(r, 0))
        .collect::<Result<Vec<String>>>()?;
    blobs.sort();
    blobs.dedup();
    let freed = unreferenced(&tx, &blobs).await?;
    super::commit(tx).await?;
    s.release(freed).await;
    Ok(rows.len())
}
