//! SQL for the durable queue: inserting accepted messages, listing what is due,
//! claiming it for one node (leases), recording outcomes, and collecting finished
//! entries.
//!
//! Where it sits: [`super::SqliteStore`] runs the writing functions on the writer thread
//! (inside its group-committed transaction) and the reading ones on a pooled reader.
//! The body file is written by the caller before [`insert`] runs and deleted by the
//! caller after [`collect`] commits; nothing here touches files.
//!
//! A queue id is stored as its 64 bits reinterpreted as a signed integer (SQLite has no
//! unsigned type); [`ORDER_OLDEST_FIRST`] sorts them back in unsigned order.
//! An entry read back whose envelope no longer parses, or whose recipients are not
//! numbered 0..n, is logged and left out of listings (a damaged entry must not stop the
//! rest of the queue).

use crate::queue_rows::{Head, Recipient};
use message::dsn::Ret;
use message::{Domain, Envelope, QueueId};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{QueuedMessage, RecipientOutcome, Result, StoreError};

/// Oldest first: by arrival second, then by queue id compared as unsigned (ids start with
/// their arrival time in milliseconds).
const ORDER_OLDEST_FIRST: &str = "ORDER BY q.queued_at, q.id < 0, q.id";

/// A queue id as stored.
pub(super) fn qid(id: QueueId) -> i64 {
    id.as_u64() as i64
}

/// A queue id as read back.
pub(super) fn qid_from(value: i64) -> QueueId {
    QueueId::from_u64(value as u64)
}

/// A recipient index as stored; an index too large for SQLite cannot exist.
pub(super) fn idx(id: QueueId, recipient: usize) -> Result<i64> {
    i64::try_from(recipient)
        .map_err(|_| StoreError::NotFound(format!("recipient {recipient} of {id}")))
}

/// Inserts a queue entry whose body is already in blob `blob_id`, all recipients
/// pending and due at once.
pub(super) fn insert(
    c: &Connection,
    id: QueueId,
    envelope: &Envelope,
    blob_id: &str,
    size: u64,
    now_unix: i64,
) -> Result<()> {
    let exists = c
        .prepare_cached("SELECT 1 FROM queue WHERE id = ?1")?
        .exists([qid(id)])?;
    if exists {
        return Err(StoreError::Exists(format!("queue entry {id}")));
    }
    let size = i64::try_from(size).map_err(|_| StoreError::Invalid("message too large".into()))?;
    c.prepare_cached(
        "INSERT INTO queue(id, sender, body_type, smtputf8, blob_id, size, queued_at,
                           dsn_ret, dsn_envid, require_tls)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        qid(id),
        envelope.sender.as_ref().map(|a| a.to_string()),
        envelope.body_type.as_str(),
        envelope.smtputf8,
        blob_id,
        size,
        now_unix,
        envelope.dsn.ret.map(Ret::as_str),
        envelope.dsn.envid,
        envelope.require_tls,
    ])?;
    let mut stmt = c.prepare_cached(
        "INSERT INTO queue_recipients(queue_id, idx, address, status, attempts, next_attempt,
                                      notify, orcpt)
         VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?5, ?6)",
    )?;
    for (i, rcpt) in envelope.recipients.iter().enumerate() {
        let dsn = envelope.dsn.recipient(i);
        stmt.execute(params![
            qid(id),
            idx(id, i)?,
            rcpt.to_string(),
            now_unix,
            dsn.notify.to_param(),
            dsn.orcpt,
        ])?;
    }
    Ok(())
}

/// The `Head` columns, in order, for queries over `queue q`.
const HEAD_COLUMNS: &str = "q.id, q.sender, q.body_type, q.smtputf8, q.size, q.queued_at,
     q.dsn_ret, q.dsn_envid, q.held, q.warned, q.require_tls";

/// Reads the heads selected by `sql` (which selects the `Head` columns from `queue q`),
/// then each one's recipients; damaged entries are logged and skipped.
fn load(c: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<QueuedMessage>> {
    let mut stmt = c.prepare_cached(sql)?;
    let heads = stmt
        .query_map(params, |r| {
            Ok(Head {
                id: r.get(0)?,
                sender: r.get(1)?,
                body_type: r.get(2)?,
                smtputf8: r.get(3)?,
                size: r.get(4)?,
                queued_at: r.get(5)?,
                dsn_ret: r.get(6)?,
                dsn_envid: r.get(7)?,
                held: r.get(8)?,
                warned: r.get(9)?,
                require_tls: r.get(10)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(heads.len());
    for head in heads {
        let id = qid_from(head.id);
        match assemble(c, head) {
            Ok(m) => out.push(m),
            Err(StoreError::Damaged(why)) => {
                tracing::error!(queue_id = %id, error = %why, "damaged queue entry set aside");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Attaches recipients to a head and validates the whole entry
/// ([`crate::queue_rows::assemble`]).
fn assemble(c: &Connection, head: Head) -> Result<QueuedMessage> {
    let mut stmt = c.prepare_cached(
        "SELECT idx, address, status, attempts, next_attempt, last_error, notify, orcpt
         FROM queue_recipients WHERE queue_id = ?1 ORDER BY idx",
    )?;
    let rows = stmt
        .query_map([head.id], |r| {
            Ok(Recipient {
                index: r.get(0)?,
                address: r.get(1)?,
                status: r.get(2)?,
                attempts: r.get(3)?,
                next_attempt: r.get(4)?,
                last_error: r.get(5)?,
                notify: r.get(6)?,
                orcpt: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    crate::queue_rows::assemble(head, rows)
}

/// Entries with a pending recipient due at or before `now_unix`, oldest first.
pub(super) fn due(c: &Connection, now_unix: i64, limit: usize) -> Result<Vec<QueuedMessage>> {
    let mut out = Vec::with_capacity(limit);
    for id in due_ids(c, now_unix, limit)? {
        out.extend(get(c, id)?);
    }
    Ok(out)
}

/// The ids of the entries [`due`] returns, in the same order.
pub(super) fn due_ids(c: &Connection, now_unix: i64, limit: usize) -> Result<Vec<QueueId>> {
    // Recipients of one entry usually share their next attempt and sit side by side in
    // the index: read a few rows per entry wanted, keep the first `limit` entries.
    let rows = i64::try_from(limit.saturating_mul(4)).unwrap_or(i64::MAX);
    let mut stmt = c.prepare_cached(&due_sql())?;
    let mut ids: Vec<QueueId> = Vec::with_capacity(limit);
    let mut found = stmt.query(params![now_unix, rows])?;
    while ids.len() < limit
        && let Some(row) = found.next()?
    {
        let id = qid_from(row.get(0)?);
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The query behind [`due`]: the ids of due recipients' entries, longest due first,
/// straight off the (status, next_attempt) index and stopping at the limit, so a call
/// costs O(limit) however long the queue is. (Selecting entries `IN` the due set and
/// then sorting them made every call O(backlog): with thousands of messages waiting,
/// the runner spent most of its time there.)
fn due_sql() -> String {
    "SELECT r.queue_id FROM queue_recipients r JOIN queue q ON q.id = r.queue_id
     WHERE r.status = 'pending' AND r.next_attempt <= ?1 AND q.held = 0
     ORDER BY r.next_attempt LIMIT ?2"
        .to_owned()
}

/// Claims up to `limit` due entries for `node` (see `Store::queue_claim`): reads the
/// claimable ids and sets their lease in the same writer job, so inside one write
/// transaction (and, across processes, under SQLite's one write lock) nobody can claim
/// them in between.
pub(super) fn claim(
    c: &Connection,
    node: &str,
    now_unix: i64,
    lease_until: i64,
    limit: usize,
) -> Result<Vec<QueueId>> {
    let mut ids: Vec<QueueId> = Vec::with_capacity(limit.min(1024));
    if limit == 0 {
        return Ok(ids);
    }
    {
        // No LIMIT: the rows come straight off the (status, next_attempt) index in
        // order, so stepping stops as soon as `limit` distinct entries are found,
        // however many recipients each has or however many are leased to others.
        let mut stmt = c.prepare_cached(CLAIM_SQL)?;
        let mut found = stmt.query(params![now_unix, node])?;
        while ids.len() < limit
            && let Some(row) = found.next()?
        {
            let id = qid_from(row.get(0)?);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut lease =
        c.prepare_cached("UPDATE queue SET lease_node = ?2, lease_until = ?3 WHERE id = ?1")?;
    for id in &ids {
        lease.execute(params![qid(*id), node, lease_until])?;
    }
    Ok(ids)
}

/// Whether [`claim`] would find anything for `node` at `now_unix` (a read, for a
/// pooled reader).
pub(super) fn claimable(c: &Connection, node: &str, now_unix: i64) -> Result<bool> {
    Ok(c.prepare_cached(CLAIM_SQL)?
        .exists(params![now_unix, node])?)
}

/// The claimable due recipients' entries, longest due first: [`due_sql`]'s query
/// without its limit, minus the entries under another node's live lease.
const CLAIM_SQL: &str =
    "SELECT r.queue_id FROM queue_recipients r JOIN queue q ON q.id = r.queue_id
     WHERE r.status = 'pending' AND r.next_attempt <= ?1 AND q.held = 0
       AND (q.lease_node IS NULL OR q.lease_until <= ?1 OR q.lease_node = ?2)
     ORDER BY r.next_attempt";

/// Extends `node`'s leases among `ids`; returns the ids it still holds.
pub(super) fn renew(
    c: &Connection,
    node: &str,
    ids: &[QueueId],
    lease_until: i64,
) -> Result<Vec<QueueId>> {
    let mut stmt =
        c.prepare_cached("UPDATE queue SET lease_until = ?3 WHERE id = ?1 AND lease_node = ?2")?;
    let mut held = Vec::with_capacity(ids.len());
    for id in ids {
        if stmt.execute(params![qid(*id), node, lease_until])? == 1 {
            held.push(*id);
        }
    }
    Ok(held)
}

/// Drops `node`'s lease on `id`, if it holds one.
pub(super) fn release(c: &Connection, node: &str, id: QueueId) -> Result<()> {
    c.prepare_cached(
        "UPDATE queue SET lease_node = NULL, lease_until = NULL
         WHERE id = ?1 AND lease_node = ?2",
    )?
    .execute(params![qid(id), node])?;
    Ok(())
}

/// Every entry, oldest first.
pub(super) fn list(c: &Connection) -> Result<Vec<QueuedMessage>> {
    let sql = format!("SELECT {HEAD_COLUMNS} FROM queue q {ORDER_OLDEST_FIRST}");
    load(c, &sql, [])
}

/// One entry, `None` when there is none (or it is damaged, which is logged).
pub(super) fn get(c: &Connection, id: QueueId) -> Result<Option<QueuedMessage>> {
    let sql = format!("SELECT {HEAD_COLUMNS} FROM queue q WHERE q.id = ?1");
    Ok(load(c, &sql, [qid(id)])?.pop())
}

/// Sets or clears the hold flag; `NotFound` when there is no such entry.
pub(super) fn hold(c: &Connection, id: QueueId, held: bool) -> Result<()> {
    let changed = c
        .prepare_cached("UPDATE queue SET held = ?2 WHERE id = ?1")?
        .execute(params![qid(id), held])?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("queue entry {id}")));
    }
    Ok(())
}

/// Makes pending recipients due at `now_unix` (see `Store::queue_flush`).
pub(super) fn flush(
    c: &Connection,
    id: Option<QueueId>,
    domain: Option<&Domain>,
    now_unix: i64,
) -> Result<usize> {
    let changed = match (id, domain) {
        (Some(id), _) => c.execute(
            "UPDATE queue_recipients SET next_attempt = ?2
             WHERE queue_id = ?1 AND status = 'pending'",
            params![qid(id), now_unix],
        )?,
        // The address ends with "@domain"; compared lower-cased, as domains are. An
        // address keeps the spelling it was written in, so an IDN domain is matched in
        // its A-label and its U-label form (both lower case as `Address` writes them).
        (None, Some(domain)) => c.execute(
            "UPDATE queue_recipients SET next_attempt = ?2
             WHERE status = 'pending'
               AND (lower(substr(address, -length(?1) - 1)) = '@' || ?1
                    OR substr(address, -length(?3) - 1) = '@' || ?3)",
            params![domain.as_str(), now_unix, domain.unicode()],
        )?,
        (None, None) => c.execute(
            "UPDATE queue_recipients SET next_attempt = ?1 WHERE status = 'pending'",
            params![now_unix],
        )?,
    };
    Ok(changed)
}

/// Deletes one entry whatever its state; returns its body file when nothing else
/// references it. `NotFound` when there is no such entry.
pub(super) fn delete(c: &Connection, id: QueueId) -> Result<Vec<String>> {
    let Some((blob, _)) = blob_of(c, id)? else {
        return Err(StoreError::NotFound(format!("queue entry {id}")));
    };
    c.prepare_cached("DELETE FROM queue WHERE id = ?1")?
        .execute([qid(id)])?;
    unreferenced(c, vec![blob])
}

/// Records that the delay warning was sent.
pub(super) fn set_warned(c: &Connection, id: QueueId) -> Result<()> {
    c.prepare_cached("UPDATE queue SET warned = 1 WHERE id = ?1")?
        .execute([qid(id)])?;
    Ok(())
}

/// The body file and size of an entry, `None` when there is no such entry.
pub(super) fn blob_of(c: &Connection, id: QueueId) -> Result<Option<(String, u64)>> {
    let row: Option<(String, i64)> = c
        .prepare_cached("SELECT blob_id, size FROM queue WHERE id = ?1")?
        .query_row([qid(id)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(blob, size)| {
        let size = u64::try_from(size)
            .map_err(|_| StoreError::Damaged(format!("queue entry {id}: size {size}")))?;
        Ok((blob, size))
    })
    .transpose()
}

/// The stored status of one recipient; `NotFound` when entry or index is unknown.
pub(super) fn recipient_status(c: &Connection, id: QueueId, recipient: usize) -> Result<String> {
    c.prepare_cached("SELECT status FROM queue_recipients WHERE queue_id = ?1 AND idx = ?2")?
        .query_row(params![qid(id), idx(id, recipient)?], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("recipient {recipient} of queue entry {id}")))
}

/// Records a delivery outcome for a pending recipient. A recipient already delivered or
/// failed keeps its final state (the call is then a no-op).
pub(super) fn mark(
    c: &Connection,
    id: QueueId,
    recipient: usize,
    outcome: &RecipientOutcome,
) -> Result<()> {
    if recipient_status(c, id, recipient)? != "pending" {
        return Ok(());
    }
    let (id, recipient) = (qid(id), idx(id, recipient)?);
    match outcome {
        RecipientOutcome::Deferred {
            next_attempt,
            reason,
        } => c.execute(
            "UPDATE queue_recipients SET attempts = attempts + 1, next_attempt = ?3,
             last_error = ?4 WHERE queue_id = ?1 AND idx = ?2",
            params![id, recipient, next_attempt, reason],
        )?,
        RecipientOutcome::Failed { reason } => c.execute(
            "UPDATE queue_recipients SET attempts = attempts + 1, status = 'failed',
             last_error = ?3 WHERE queue_id = ?1 AND idx = ?2",
            params![id, recipient, reason],
        )?,
        RecipientOutcome::Delivered => c.execute(
            "UPDATE queue_recipients SET attempts = attempts + 1, status = 'delivered',
             last_error = NULL WHERE queue_id = ?1 AND idx = ?2",
            params![id, recipient],
        )?,
    };
    Ok(())
}

/// Deletes entries with no pending recipient. Returns how many, and the body files no
/// row references any more (for the caller to delete after the commit).
pub(super) fn collect(c: &Connection) -> Result<(usize, Vec<String>)> {
    let mut stmt = c.prepare_cached(COLLECT_SQL)?;
    let done = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut delete = c.prepare_cached("DELETE FROM queue WHERE id = ?1")?;
    let mut blobs = Vec::with_capacity(done.len());
    for (id, blob) in &done {
        // Recipients go with it (ON DELETE CASCADE).
        delete.execute([id])?;
        blobs.push(blob.clone());
    }
    Ok((done.len(), unreferenced(c, blobs)?))
}

/// Whether any entry is finished (what [`collect`] would remove).
pub(super) fn any_finished(c: &Connection) -> Result<bool> {
    Ok(c.prepare_cached(&format!("SELECT EXISTS ({COLLECT_SQL})"))?
        .query_row([], |r| r.get(0))?)
}

/// Finished entries. `+r.status` keeps SQLite from answering the subquery through the
/// (status, next_attempt) index (a walk over every pending recipient, per entry); the
/// primary key (queue_id, idx) finds an entry's recipients directly.
const COLLECT_SQL: &str = "SELECT id, blob_id FROM queue q WHERE NOT EXISTS
     (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND +r.status = 'pending')";

/// The ids among `candidates` that no mailbox message and no queue entry names.
pub(super) fn unreferenced(c: &Connection, mut candidates: Vec<String>) -> Result<Vec<String>> {
    candidates.sort();
    candidates.dedup();
    let mut in_messages = c.prepare_cached("SELECT 1 FROM messages WHERE blob_id = ?1")?;
    let mut in_queue = c.prepare_cached("SELECT 1 FROM queue WHERE blob_id = ?1")?;
    let mut free = Vec::with_capacity(candidates.len());
    for blob in candidates {
        if !in_messages.exists([&blob])? && !in_queue.exists([&blob])? {
            free.push(blob);
        }
    }
    Ok(free)
}

/// Every body file id some row names (for the orphan sweep).
pub(super) fn referenced_blobs(c: &Connection) -> Result<std::collections::HashSet<String>> {
    let mut stmt =
        c.prepare_cached("SELECT blob_id FROM messages UNION SELECT blob_id FROM queue")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use crate::sqlite::{SqliteStore, schema};
    use message::{Address, BodyType};
    use std::collections::BTreeSet;
    use std::sync::Arc;

    /// Claiming walks the due index like the due query, never the queue table.
    #[test]
    fn claim_query_uses_the_index_not_a_scan() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = schema::open_writer(&dir.path().join("t.db")).expect("open");
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {CLAIM_SQL}"))
            .expect("plan")
            .query_map(params![0, "n"], |r| r.get::<_, String>(3))
            .expect("rows")
            .collect::<std::result::Result<_, _>>()
            .expect("plan rows");
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "{plan:?}"
        );
        assert!(
            plan.iter()
                .any(|step| step.contains("queue_recipients_due")),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "no sort: rows stream in index order, so claiming stops early: {plan:?}"
        );
    }

    /// A pass that finds nothing to claim (an idle server, every second) writes
    /// nothing: no write transaction, no commit.
    #[tokio::test]
    async fn claiming_nothing_commits_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = SqliteStore::open(dir.path()).expect("open");
        let before = s.commit_count();
        for _ in 0..3 {
            assert!(
                s.queue_claim("node-a", 100, 400, 10)
                    .await
                    .expect("claim")
                    .is_empty()
            );
        }
        assert_eq!(s.commit_count(), before);
    }

    /// A version-10 database (before claims) migrates: its entries start unclaimed
    /// and can be claimed, renewed and released.
    #[tokio::test]
    async fn migrates_a_version_10_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let c = schema::create_at_version(&dir.path().join("postie.db"), 10).expect("v10");
            c.execute_batch(
                "INSERT INTO queue(id, sender, body_type, smtputf8, blob_id, size, queued_at)
                     VALUES (5, 's@example.net', '7BIT', 0, 'b5', 4, 100),
                            (6, 's@example.net', '7BIT', 0, 'b6', 4, 101);
                 INSERT INTO queue_recipients(queue_id, idx, address, status, next_attempt)
                     VALUES (5, 0, 'x@remote.example', 'pending', 100),
                            (6, 0, 'y@remote.example', 'delivered', 101);",
            )
            .expect("v10 rows");
        }
        let s = SqliteStore::open(dir.path()).expect("open migrates");
        let version: i64 = s
            .read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .await
            .expect("version");
        assert_eq!(version, schema::SCHEMA_VERSION);
        let unclaimed: i64 = s
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM queue WHERE lease_node IS NULL AND lease_until IS NULL",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .expect("count");
        assert_eq!(unclaimed, 2);
        let five = QueueId::from_u64(5);
        assert_eq!(
            s.queue_claim("node-a", 200, 500, 10).await.expect("claim"),
            [five],
            "the finished entry is not claimed"
        );
        assert!(
            s.queue_claim("node-b", 200, 500, 10)
                .await
                .expect("claim")
                .is_empty()
        );
        assert_eq!(
            s.queue_renew("node-a", &[five], 900).await.expect("renew"),
            [five]
        );
        s.queue_release("node-a", five).await.expect("release");
        assert_eq!(
            s.queue_claim("node-b", 200, 500, 10).await.expect("claim"),
            [five]
        );
    }

    /// Two stores on one database (two processes' writers, each with its own
    /// connection and write transactions) claiming at once: SQLite's write lock keeps
    /// each claim whole, so no entry goes to both.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_writers_on_one_database_never_share_an_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Arc::new(SqliteStore::open(dir.path()).expect("open a"));
        let b = Arc::new(SqliteStore::open(dir.path()).expect("open b"));
        let envelope = Envelope {
            sender: None,
            recipients: vec![Address::parse("x@remote.example").expect("address")],
            body_type: BodyType::SevenBit,
            smtputf8: false,
            require_tls: false,
            dsn: Default::default(),
        };
        for n in 1..=60u64 {
            a.enqueue(QueueId::from_u64(n), &envelope, b"body")
                .await
                .expect("enqueue");
        }
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let mut tasks = tokio::task::JoinSet::new();
        for (store, node) in [(a.clone(), "node-a"), (b.clone(), "node-b")] {
            for _ in 0..8 {
                let store = store.clone();
                tasks.spawn(async move {
                    // Each task claims two at a time beside what it already got, as
                    // a runner does, until nothing claimable is left.
                    let mut got = BTreeSet::new();
                    loop {
                        let limit = got.len() + 2;
                        let ids = store
                            .queue_claim(node, t, t + 3600, limit)
                            .await
                            .expect("claim");
                        let short = ids.len() < limit;
                        got.extend(ids);
                        if short {
                            return (node, got);
                        }
                    }
                });
            }
        }
        let (mut by_a, mut by_b) = (BTreeSet::new(), BTreeSet::new());
        while let Some(done) = tasks.join_next().await {
            let (node, got) = done.expect("task");
            if node == "node-a" {
                &mut by_a
            } else {
                &mut by_b
            }
            .extend(got);
        }
        assert!(by_a.is_disjoint(&by_b), "{:?}", by_a.intersection(&by_b));
        assert_eq!(by_a.len() + by_b.len(), 60);
    }

    /// Collection finds an entry's recipients by primary key, not by walking the
    /// pending-recipients index once per entry.
    #[test]
    fn collect_looks_up_recipients_by_primary_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = crate::sqlite::schema::open_writer(&dir.path().join("t.db")).expect("open");
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {COLLECT_SQL}"))
            .expect("plan")
            .query_map([], |r| r.get::<_, String>(3))
            .expect("rows")
            .collect::<std::result::Result<_, _>>()
            .expect("plan rows");
        assert!(
            plan.iter()
                .any(|step| step.contains("SEARCH r USING PRIMARY KEY")),
            "{plan:?}"
        );
        assert!(
            !plan
                .iter()
                .any(|step| step.contains("queue_recipients_due")),
            "{plan:?}"
        );
    }

    /// The due query must never scan the queue table: a queue full of deferred mail
    /// would make every pass slow.
    #[test]
    fn due_query_uses_the_index_not_a_scan() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = crate::sqlite::schema::open_writer(&dir.path().join("t.db")).expect("open");
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {}", due_sql()))
            .expect("plan")
            .query_map(params![0, 10], |r| r.get::<_, String>(3))
            .expect("rows")
            .collect::<std::result::Result<_, _>>()
            .expect("plan rows");
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "{plan:?}"
        );
        assert!(
            plan.iter()
                .any(|step| step.contains("queue_recipients_due")),
            "{plan:?}"
        );
    }
}
