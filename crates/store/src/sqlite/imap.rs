//! SQL for IMAP's view of messages: the listing, the delta sessions move their list
//! forward with ([`changes_since`]), flag changes with CONDSTORE mod-sequences
//! (RFC 7162), APPEND/COPY/MOVE, EXPUNGE and the tombstones QRESYNC reads back
//! (RFC 7162 §3.2.10), and the per-message summaries the IMAP layer parses once
//! (opaque bytes here).
//!
//! Where it sits: [`super::SqliteStore`] runs the writing functions on the writer
//! thread (inside its group-committed transaction, so each is atomic) and the reading
//! ones on a pooled reader. Local delivery (`messages::deliver`), POP3's
//! `messages::remove` and RENAME INBOX (`mailboxes`) use the same counters and
//! tombstones, so every change to a mailbox moves HIGHESTMODSEQ on.
//!
//! Mod-sequences: each new or changed message takes the next value of the mailbox's
//! `highest_modseq`; one expunge takes one value for all the UIDs it removes and
//! records them in `expunged`. The counters are read once per job ([`Counters`]),
//! advanced in memory and written back once.

use message::QueueId;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::mailboxes::{self, mailbox_exists, modseq_from, uid_from};
use super::queue::{qid, unreferenced};
use crate::flags;
use crate::{FlagChange, FlagsResult, ImapMessage, MailboxChanges, MailboxId, Result, StoreError};

/// Up to this many UIDs are looked up one by one; more are read in one range scan.
const POINT_LOOKUPS: usize = 64;

/// A mailbox's UIDNEXT and HIGHESTMODSEQ as one job reads, advances and saves them.
pub(super) struct Counters {
    /// The mailbox.
    pub(super) id: MailboxId,
    /// Its account's row id.
    pub(super) account: i64,
    /// Its name, for error messages.
    pub(super) name: String,
    /// UIDNEXT.
    pub(super) uid_next: u32,
    /// HIGHESTMODSEQ.
    pub(super) highest_modseq: u64,
}

impl Counters {
    /// Reads the counters; `NotFound` for an unknown mailbox.
    pub(super) fn load(c: &Connection, mailbox: MailboxId) -> Result<Counters> {
        let row: Option<(i64, i64, i64, String)> = c
            .prepare_cached(
                "SELECT account_id, uid_next, highest_modseq, name FROM mailboxes WHERE id = ?1",
            )?
            .query_row([mailbox.0], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let Some((account, uid_next, modseq, name)) = row else {
            return Err(StoreError::mailbox_gone());
        };
        Ok(Counters {
            id: mailbox,
            account,
            name,
            uid_next: uid_from(uid_next, "UIDNEXT")?,
            highest_modseq: modseq_from(modseq)?,
        })
    }

    /// `Invalid` unless `count` more UIDs fit (RFC 3501 §2.3.1.1: UIDs are 32-bit, and
    /// UIDNEXT itself must stay representable).
    pub(super) fn reserve(&self, count: usize) -> Result<()> {
        if u64::from(self.uid_next) + count as u64 > u64::from(u32::MAX) {
            return Err(StoreError::Invalid(format!(
                "mailbox {:?} has used up its UIDs",
                self.name
            )));
        }
        Ok(())
    }

    /// Takes the next UID.
    pub(super) fn next_uid(&mut self) -> Result<u32> {
        self.reserve(1)?;
        self.uid_next += 1;
        Ok(self.uid_next - 1)
    }

    /// Takes the next mod-sequence.
    pub(super) fn next_modseq(&mut self) -> u64 {
        self.highest_modseq += 1;
        self.highest_modseq
    }

    /// Writes the counters back.
    pub(super) fn save(&self, c: &Connection) -> Result<()> {
        c.prepare_cached("UPDATE mailboxes SET uid_next = ?2, highest_modseq = ?3 WHERE id = ?1")?
            .execute(params![
                self.id.0,
                i64::from(self.uid_next),
                sql_modseq(self.highest_modseq)?
            ])?;
        Ok(())
    }
}

/// A mod-sequence as stored.
fn sql_modseq(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::Invalid("mod-sequence overflow".into()))
}

/// Sorted, deduplicated UIDs.
fn sorted(uids: &[u32]) -> Vec<u32> {
    let mut v = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// Reads `columns` of the messages among `uids` (sorted, deduplicated), by ascending
/// UID; `map` sees the row with `uid` as column 0 and `columns` from 1. A few UIDs are
/// looked up one by one; many are read in one scan of their UID range.
fn rows_for<T>(
    c: &Connection,
    mailbox: MailboxId,
    uids: &[u32],
    columns: &str,
    mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<(u32, T)>> {
    let (Some(first), Some(last)) = (uids.first(), uids.last()) else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT uid, {columns} FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3
         ORDER BY uid"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let ranges: Vec<(u32, u32)> = if uids.len() <= POINT_LOOKUPS {
        uids.iter().map(|u| (*u, *u)).collect()
    } else {
        vec![(*first, *last)]
    };
    let mut out = Vec::with_capacity(uids.len());
    for (low, high) in ranges {
        let mut rows = stmt.query(params![mailbox.0, i64::from(low), i64::from(high)])?;
        while let Some(row) = rows.next()? {
            let uid = uid_from(row.get(0)?, "UID")?;
            if uids.binary_search(&uid).is_ok() {
                out.push((uid, map(row)?));
            }
        }
    }
    Ok(out)
}

/// The listing behind [`list`]: one walk of the primary key (mailbox_id, uid), which
/// is already in UID order, so no sort.
const LIST_SQL: &str = "SELECT uid, flags, modseq, size, received_at FROM messages
     WHERE mailbox_id = ?1 ORDER BY uid";

/// The messages changed after a mod-sequence: a range of the (mailbox_id, modseq)
/// index (schema v6), then sorted by UID, which for a handful of rows costs nothing.
const CHANGED_SQL: &str = "SELECT uid, flags, modseq, size, received_at FROM messages
     WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid";

/// The UIDs expunged after a mod-sequence: a range of the expunged_modseq index.
const EXPUNGED_SQL: &str =
    "SELECT uid FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid";

/// One [`LIST_SQL`] / [`CHANGED_SQL`] row.
fn message_from(r: &Row<'_>) -> Result<ImapMessage> {
    let flags: String = r.get(1)?;
    let size: i64 = r.get(3)?;
    Ok(ImapMessage {
        uid: uid_from(r.get(0)?, "UID")?,
        flags: flags::decode(&flags),
        modseq: modseq_from(r.get(2)?)?,
        size: u64::try_from(size)
            .map_err(|_| StoreError::Damaged(format!("message size {size}")))?,
        received_at: r.get(4)?,
    })
}

/// Runs `sql` (with the mailbox and maybe a mod-sequence) and reads message rows.
fn messages_of(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<ImapMessage>> {
    let mut stmt = c.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(message_from(r)?);
    }
    Ok(out)
}

/// Every message of the mailbox, by ascending UID, in one query.
pub(super) fn list(c: &Connection, mailbox: MailboxId) -> Result<Vec<ImapMessage>> {
    if !mailbox_exists(c, mailbox)? {
        return Err(StoreError::mailbox_gone());
    }
    messages_of(c, LIST_SQL, [mailbox.0])
}

/// What changed after `since`; see [`crate::Store::message_changes_since`]. One read
/// transaction, so the mailbox row, the changed messages and the tombstones agree.
pub(super) fn changes_since(
    c: &Connection,
    mailbox: MailboxId,
    since: u64,
) -> Result<MailboxChanges> {
    let tx = c.unchecked_transaction()?;
    let Some(current) = mailboxes::by_id(&tx, mailbox.0)? else {
        return Err(StoreError::mailbox_gone());
    };
    let changes = match i64::try_from(since) {
        Ok(since) if since > 0 && since as u64 <= current.highest_modseq => MailboxChanges {
            changed: messages_of(&tx, CHANGED_SQL, params![mailbox.0, since])?,
            expunged: tx
                .prepare_cached(EXPUNGED_SQL)?
                .query_map(params![mailbox.0, since], |r| r.get::<_, i64>(0))?
                .map(|u| uid_from(u?, "UID"))
                .collect::<Result<Vec<u32>>>()?,
            full: false,
            mailbox: current,
        },
        _ => MailboxChanges {
            changed: messages_of(&tx, LIST_SQL, [mailbox.0])?,
            expunged: Vec::new(),
            full: true,
            mailbox: current,
        },
    };
    tx.finish()?;
    Ok(changes)
}

/// The stored summaries of `uids` (any order), by ascending UID.
pub(super) fn summaries(
    c: &Connection,
    mailbox: MailboxId,
    uids: &[u32],
) -> Result<Vec<(u32, Option<Vec<u8>>)>> {
    rows_for(c, mailbox, &sorted(uids), "summary", |r| r.get(1))
}

/// Stores summaries computed after filing; unknown UIDs are skipped, no mod-sequence
/// moves (a summary is not IMAP-visible state).
pub(super) fn summaries_set(
    c: &Connection,
    mailbox: MailboxId,
    items: &[(u32, Vec<u8>)],
) -> Result<()> {
    let mut update =
        c.prepare_cached("UPDATE messages SET summary = ?3 WHERE mailbox_id = ?1 AND uid = ?2")?;
    for (uid, summary) in items {
        update.execute(params![mailbox.0, i64::from(*uid), summary])?;
    }
    Ok(())
}

/// STORE with CONDSTORE semantics; see [`crate::Store::message_flags_set`]. `given` is
/// canonical.
pub(super) fn flags_set(
    c: &Connection,
    mailbox: MailboxId,
    uids: &[u32],
    change: FlagChange,
    given: &[String],
    unchanged_since: Option<u64>,
) -> Result<FlagsResult> {
    let mut counters = Counters::load(c, mailbox)?;
    let rows = rows_for(
        c,
        mailbox,
        &sorted(uids),
        "flags, modseq, size, received_at",
        |r| {
            Ok((
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        },
    )?;
    let mut update = c.prepare_cached(
        "UPDATE messages SET flags = ?3, modseq = ?4 WHERE mailbox_id = ?1 AND uid = ?2",
    )?;
    let mut result = FlagsResult::default();
    for (uid, (text, modseq, size, received_at)) in rows {
        if unchanged_since.is_some_and(|since| modseq_from(modseq).is_ok_and(|m| m > since)) {
            result.modified.push(uid);
            continue;
        }
        let current = flags::decode(&text);
        let new = flags::apply(&current, change, given);
        if new == current {
            continue;
        }
        let modseq = counters.next_modseq();
        update.execute(params![
            mailbox.0,
            i64::from(uid),
            flags::encode(&new),
            sql_modseq(modseq)?
        ])?;
        result.changed.push(ImapMessage {
            uid,
            flags: new,
            modseq,
            size: u64::try_from(size)
                .map_err(|_| StoreError::Damaged(format!("message size {size}")))?,
            received_at,
        });
    }
    if !result.changed.is_empty() {
        counters.save(c)?;
    }
    Ok(result)
}

/// What APPEND files besides the body.
pub(super) struct Appended<'a> {
    /// Canonical flags.
    pub flags: &'a [String],
    /// INTERNALDATE.
    pub received_at: i64,
    /// The queue id it is listed under.
    pub arrival: QueueId,
    /// The IMAP layer's summary of it, if computed.
    pub summary: Option<&'a [u8]>,
}

/// Files an appended message whose body is already in blob `blob` (no prefix);
/// returns its UID.
pub(super) fn append(
    c: &Connection,
    mailbox: MailboxId,
    blob: &str,
    body_size: u64,
    m: &Appended<'_>,
) -> Result<u32> {
    let Appended {
        flags,
        received_at,
        arrival,
        summary,
    } = *m;
    let mut counters = Counters::load(c, mailbox)?;
    let size =
        i64::try_from(body_size).map_err(|_| StoreError::Invalid("message too large".into()))?;
    let uid = counters.next_uid()?;
    let modseq = counters.next_modseq();
    c.prepare_cached(
        "INSERT INTO messages(mailbox_id, uid, blob_id, prefix, body_size, size, received_at,
                              queue_id, recipient_index, flags, modseq, summary)
         VALUES (?1, ?2, ?3, x'', ?4, ?4, ?5, ?6, NULL, ?7, ?8, ?9)",
    )?
    .execute(params![
        mailbox.0,
        i64::from(uid),
        blob,
        size,
        received_at,
        qid(arrival),
        flags::encode(flags),
        sql_modseq(modseq)?,
        summary
    ])?;
    counters.save(c)?;
    Ok(uid)
}

/// One message as COPY carries it over.
struct Original {
    blob: String,
    prefix: Vec<u8>,
    body_size: i64,
    size: i64,
    received_at: i64,
    queue_id: i64,
    flags: String,
    summary: Option<Vec<u8>>,
}

/// (source UID, new UID) pairs, as UIDPLUS's COPYUID reports them.
type UidPairs = Vec<(u32, u32)>;

/// COPY, and MOVE when `remove`; see [`crate::Store::message_copy`]. Returns the
/// (source, new) UID pairs and the body files no row references any more.
pub(super) fn copy(
    c: &Connection,
    from: MailboxId,
    uids: &[u32],
    to: MailboxId,
    remove: bool,
) -> Result<(UidPairs, Vec<String>)> {
    let source = Counters::load(c, from)?;
    let mut target = Counters::load(c, to)?;
    let originals = rows_for(
        c,
        from,
        &sorted(uids),
        "blob_id, prefix, body_size, size, received_at, queue_id, flags, summary",
        |r| {
            Ok(Original {
                blob: r.get(1)?,
                prefix: r.get(2)?,
                body_size: r.get(3)?,
                size: r.get(4)?,
                received_at: r.get(5)?,
                queue_id: r.get(6)?,
                flags: r.get(7)?,
                summary: r.get(8)?,
            })
        },
    )?;
    target.reserve(originals.len())?;
    let mut insert = c.prepare_cached(
        "INSERT INTO messages(mailbox_id, uid, blob_id, prefix, body_size, size, received_at,
                              queue_id, recipient_index, flags, modseq, summary)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?10, ?11)",
    )?;
    let mut pairs = Vec::with_capacity(originals.len());
    for (uid, m) in &originals {
        let new_uid = target.next_uid()?;
        let modseq = target.next_modseq();
        insert.execute(params![
            to.0,
            i64::from(new_uid),
            m.blob,
            m.prefix,
            m.body_size,
            m.size,
            m.received_at,
            m.queue_id,
            m.flags,
            sql_modseq(modseq)?,
            m.summary
        ])?;
        pairs.push((*uid, new_uid));
    }
    target.save(c)?;
    if !remove {
        return Ok((pairs, Vec::new()));
    }
    // A move into another account's mailbox (one shared with ACL) adds to that
    // account: its quota, as for a copy (the caller checks copies).
    if source.account != target.account {
        super::quota::check_copied(c, to, pairs.len())?;
    }
    // Counters are read afresh: `from` may be `to`, just saved.
    let moved: Vec<u32> = pairs.iter().map(|(uid, _)| *uid).collect();
    let (_, blobs) = expunge_uids(c, from, &moved)?;
    Ok((pairs, unreferenced(c, blobs)?))
}

/// Removes the given messages (unknown UIDs skipped) and leaves tombstones sharing one
/// new mod-sequence. Returns the removed UIDs ascending, and the body files they named
/// (still to be checked with `unreferenced`).
pub(super) fn expunge_uids(
    c: &Connection,
    mailbox: MailboxId,
    uids: &[u32],
) -> Result<(Vec<u32>, Vec<String>)> {
    let mut counters = Counters::load(c, mailbox)?;
    let mut delete = c.prepare_cached(
        "DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2 RETURNING blob_id",
    )?;
    let mut removed = Vec::new();
    let mut blobs = Vec::new();
    for uid in sorted(uids) {
        let blob: Option<String> = delete
            .query_row(params![mailbox.0, i64::from(uid)], |r| r.get(0))
            .optional()?;
        if let Some(blob) = blob {
            removed.push(uid);
            blobs.push(blob);
        }
    }
    if removed.is_empty() {
        return Ok((removed, blobs));
    }
    let modseq = sql_modseq(counters.next_modseq())?;
    let mut tombstone = c.prepare_cached(
        "INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)",
    )?;
    for uid in &removed {
        tombstone.execute(params![mailbox.0, i64::from(*uid), modseq])?;
    }
    counters.save(c)?;
    Ok((removed, blobs))
}

/// EXPUNGE / UID EXPUNGE: removes the messages flagged `\Deleted` (among `only` when
/// given). Returns the removed UIDs and the body files no row references any more.
pub(super) fn expunge_deleted(
    c: &Connection,
    mailbox: MailboxId,
    only: Option<&[u32]>,
) -> Result<(Vec<u32>, Vec<String>)> {
    if !mailbox_exists(c, mailbox)? {
        return Err(StoreError::mailbox_gone());
    }
    // Flags are stored canonical and space-separated, and no keyword has a backslash.
    let deleted = |flags: &str| flags.split(' ').any(|f| f == flags::DELETED);
    let doomed: Vec<u32> = match only {
        // UID EXPUNGE: only those rows, by primary key (a few point look-ups or one
        // range), never a walk of the whole mailbox.
        Some(uids) => rows_for(c, mailbox, &sorted(uids), "flags", |r| {
            r.get::<_, String>(1)
        })?
        .into_iter()
        .filter(|(_, flags)| deleted(flags))
        .map(|(uid, _)| uid)
        .collect(),
        None => {
            let marked = c
                .prepare_cached(
                    "SELECT uid FROM messages WHERE mailbox_id = ?1
                     AND instr(' ' || flags || ' ', ' ' || ?2 || ' ') > 0 ORDER BY uid",
                )?
                .query_map(params![mailbox.0, flags::DELETED], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            marked
                .into_iter()
                .map(|uid| uid_from(uid, "UID"))
                .collect::<Result<_>>()?
        }
    };
    let (removed, blobs) = expunge_uids(c, mailbox, &doomed)?;
    Ok((removed, unreferenced(c, blobs)?))
}

/// Records every message of the mailbox as expunged under one new mod-sequence (for
/// RENAME INBOX, which then moves them away). The caller saves `counters`.
pub(super) fn tombstone_all(c: &Connection, counters: &mut Counters) -> Result<()> {
    let any = c
        .prepare_cached("SELECT 1 FROM messages WHERE mailbox_id = ?1")?
        .exists([counters.id.0])?;
    if !any {
        return Ok(());
    }
    let modseq = sql_modseq(counters.next_modseq())?;
    c.prepare_cached(
        "INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq)
         SELECT mailbox_id, uid, ?2 FROM messages WHERE mailbox_id = ?1",
    )?
    .execute(params![counters.id.0, modseq])?;
    Ok(())
}

/// UIDs expunged by changes above `modseq`, ascending.
pub(super) fn expunged_since(c: &Connection, mailbox: MailboxId, modseq: u64) -> Result<Vec<u32>> {
    if !mailbox_exists(c, mailbox)? {
        return Err(StoreError::mailbox_gone());
    }
    // Above any stored value: nothing expunged after it.
    let Ok(since) = i64::try_from(modseq) else {
        return Ok(Vec::new());
    };
    let uids = c
        .prepare_cached(EXPUNGED_SQL)?
        .query_map(params![mailbox.0, since], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    uids.into_iter().map(|u| uid_from(u, "UID")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The steps SQLite plans for `sql`.
    fn plan(c: &Connection, sql: &str, params: impl rusqlite::Params) -> Vec<String> {
        c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan")
            .query_map(params, |r| r.get::<_, String>(3))
            .expect("rows")
            .collect::<std::result::Result<_, _>>()
            .expect("plan rows")
    }

    /// SELECT's listing reads one mailbox's stretch of the primary key in UID order:
    /// no scan of other mailboxes, no sort, however large the mailbox.
    #[test]
    fn listing_walks_the_primary_key_in_uid_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = crate::sqlite::schema::open_writer(&dir.path().join("t.db")).expect("open");
        let steps = plan(&c, LIST_SQL, [1]);
        assert!(
            steps
                .iter()
                .any(|s| s.contains("SEARCH messages USING PRIMARY KEY")),
            "{steps:?}"
        );
        assert!(
            !steps.iter().any(|s| s.contains("TEMP B-TREE")),
            "{steps:?}"
        );
        let expunge = "SELECT uid FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2";
        let steps = plan(&c, expunge, [1, 1]);
        assert!(steps.iter().all(|s| !s.starts_with("SCAN")), "{steps:?}");
    }

    /// The delta a session reads before each command finds the changed messages and
    /// tombstones through their (mailbox_id, modseq) indexes: never a scan of the
    /// mailbox, so "nothing changed" costs the same for 10 messages or 100,000. STORE's
    /// and the summaries' reads go by primary key.
    #[test]
    fn deltas_and_summaries_use_indexes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = crate::sqlite::schema::open_writer(&dir.path().join("t.db")).expect("open");
        let steps = plan(&c, CHANGED_SQL, [1, 1]);
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX messages_modseq")),
            "{steps:?}"
        );
        assert!(steps.iter().all(|s| !s.starts_with("SCAN")), "{steps:?}");
        let steps = plan(&c, EXPUNGED_SQL, [1, 1]);
        assert!(
            steps.iter().any(|s| s.contains("expunged_modseq")),
            "{steps:?}"
        );
        let range =
            "SELECT uid, summary FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3
             ORDER BY uid";
        let steps = plan(&c, range, [1, 1, 9]);
        assert!(
            steps.iter().any(|s| s.contains("USING PRIMARY KEY")),
            "{steps:?}"
        );
        assert!(
            !steps.iter().any(|s| s.contains("TEMP B-TREE")),
            "{steps:?}"
        );
        let filing =
            "UPDATE messages SET summary = ?3 WHERE queue_id = ?1 AND recipient_index = ?2";
        let steps = plan(&c, filing, [1, 1, 1]);
        assert!(
            steps.iter().any(|s| s.contains("messages_filed")),
            "{steps:?}"
        );
    }

    /// A version-5 database gains the delta index, keeping its rows.
    #[test]
    fn migration_6_adds_the_modseq_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db");
        drop(crate::sqlite::schema::create_at_version(&path, 5).expect("v5"));
        let c = crate::sqlite::schema::open_writer(&path).expect("migrate");
        let index: String = c
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'messages_modseq'",
                [],
                |r| r.get(0),
            )
            .expect("index exists");
        assert!(index.contains("(mailbox_id, modseq)"), "{index}");
    }
}
