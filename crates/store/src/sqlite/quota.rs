//! SQL for per-account quotas (RFC 9208): the limits in `accounts.quota_storage` /
//! `accounts.quota_messages` (NULL is unlimited), the usage aggregate, and the checks
//! that filing mail runs before (or, for COPY, right after) it writes.
//!
//! Where it sits: [`super::SqliteStore`] runs [`set`] and the checks on the writer
//! thread, inside the same job (one savepoint of the group-committed transaction) as
//! the filing they guard. One writer thread per process, and `BEGIN IMMEDIATE` between
//! processes, make check-then-file atomic: two sessions filing at once cannot both
//! squeeze under the same limit. A refused job returns [`StoreError::OverQuota`], and
//! the writer rolls its savepoint back, so nothing is written.
//!
//! Cost: an account without limits costs one primary-key lookup per filing. With a
//! limit, usage is [`USAGE_SQL`]: the account's mailbox rows from the
//! `(account_id, name)` index, each carrying its messages' count and total size (kept
//! by triggers, schema 17), so the check does not grow with the mail an account holds;
//! no table scan, no read of `messages` (pinned by a query-plan test below).

use message::{Address, QueueId};
use rusqlite::{Connection, OptionalExtension, params};

use super::queue::{blob_of, recipient_status};
use crate::{AccountId, MailboxId, Quota, QuotaUsage, Result, StoreError};

/// The account's usage: message count and total RFC822.SIZE over all its mailboxes,
/// from each mailbox's running totals.
const USAGE_SQL: &str = "SELECT coalesce(sum(used_messages), 0), coalesce(sum(used_octets), 0)
     FROM mailboxes WHERE account_id = ?1";

/// A limit as stored: `Invalid` above `i64::MAX`.
fn sql_limit(limit: Option<u64>, what: &str) -> Result<Option<i64>> {
    limit
        .map(|l| {
            i64::try_from(l).map_err(|_| StoreError::Invalid(format!("{what} limit {l} too large")))
        })
        .transpose()
}

/// A limit read back; a negative one is damaged.
fn limit_from(value: Option<i64>, account: i64) -> Result<Option<u64>> {
    value
        .map(|v| {
            u64::try_from(v).map_err(|_| {
                StoreError::Damaged(format!("account {account} has a negative quota {v}"))
            })
        })
        .transpose()
}

/// Sets both limits of the account at `address`.
pub(super) fn set(c: &Connection, address: &Address, quota: Quota) -> Result<()> {
    let storage = sql_limit(quota.storage, "storage")?;
    let messages = sql_limit(quota.messages, "message")?;
    let changed = c
        .prepare_cached(
            "UPDATE accounts SET quota_storage = ?2, quota_messages = ?3
             WHERE address_key = ?1",
        )?
        .execute(params![address.normalized(), storage, messages])?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("account {address}")));
    }
    Ok(())
}

/// The account's limits; `None` when there is no such account.
fn limits(c: &Connection, account: AccountId) -> Result<Option<Quota>> {
    let row: Option<(Option<i64>, Option<i64>)> = c
        .prepare_cached("SELECT quota_storage, quota_messages FROM accounts WHERE id = ?1")?
        .query_row([account.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(storage, messages)| {
        Ok(Quota {
            storage: limit_from(storage, account.0)?,
            messages: limit_from(messages, account.0)?,
        })
    })
    .transpose()
}

/// The account's limits; `NotFound` for an unknown account.
pub(super) fn get(c: &Connection, account: AccountId) -> Result<Quota> {
    limits(c, account)?.ok_or_else(StoreError::account_gone)
}

/// What the account uses, whether or not it exists (an unknown one uses nothing).
fn sum(c: &Connection, account: AccountId) -> Result<QuotaUsage> {
    let (count, octets): (i64, i64) = c
        .prepare_cached(USAGE_SQL)?
        .query_row([account.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let damaged = |v: i64| StoreError::Damaged(format!("account {}: usage {v}", account.0));
    Ok(QuotaUsage {
        storage: u64::try_from(octets).map_err(|_| damaged(octets))?,
        messages: u64::try_from(count).map_err(|_| damaged(count))?,
    })
}

/// What the account uses; `NotFound` for an unknown account.
pub(super) fn usage(c: &Connection, account: AccountId) -> Result<QuotaUsage> {
    get(c, account)?;
    sum(c, account)
}

/// `OverQuota` unless the account can take `count` more messages of `octets` in all.
/// An unknown account passes: the filing itself reports it.
pub(super) fn admit(c: &Connection, account: AccountId, octets: u64, count: u64) -> Result<()> {
    let Some(quota) = limits(c, account)? else {
        return Ok(());
    };
    if quota.is_unlimited() {
        return Ok(());
    }
    let used = sum(c, account)?;
    if quota.admits(&used, octets, count) {
        return Ok(());
    }
    Err(StoreError::OverQuota(format!(
        "account {} uses {} octets in {} messages of {:?}; {count} more of {octets} octets \
         do not fit",
        account.0, used.storage, used.messages, quota
    )))
}

/// The account a mailbox belongs to; `None` for an unknown mailbox.
fn owner(c: &Connection, mailbox: MailboxId) -> Result<Option<AccountId>> {
    Ok(
        c.prepare_cached("SELECT account_id FROM mailboxes WHERE id = ?1")?
            .query_row([mailbox.0], |r| r.get(0))
            .optional()?
            .map(AccountId),
    )
}

/// Before APPEND files `octets` into `mailbox`. An unknown mailbox passes (APPEND
/// reports it).
pub(super) fn admit_append(c: &Connection, mailbox: MailboxId, octets: u64) -> Result<()> {
    admit_appends(c, mailbox, octets, 1)
}

/// Before MULTIAPPEND files `count` messages of `octets` in all into `mailbox`, in
/// the same job: the quota takes them together. An unknown mailbox passes (APPEND
/// reports it).
pub(super) fn admit_appends(
    c: &Connection,
    mailbox: MailboxId,
    octets: u64,
    count: u64,
) -> Result<()> {
    match owner(c, mailbox)? {
        Some(account) => admit(c, account, octets, count),
        None => Ok(()),
    }
}

/// Before local delivery files queue entry `id` for `recipient` into `account`'s INBOX
/// with `prefix_len` octets of trace lines. A recipient already done (delivery will
/// do nothing) or an unknown entry (delivery reports it) passes.
pub(super) fn admit_delivery(
    c: &Connection,
    id: QueueId,
    recipient: usize,
    account: AccountId,
    prefix_len: usize,
) -> Result<()> {
    let Some((_, body_size)) = blob_of(c, id)? else {
        return Ok(());
    };
    if recipient_status(c, id, recipient)? != "pending" {
        return Ok(());
    }
    admit(c, account, body_size.saturating_add(prefix_len as u64), 1)
}

/// Right after COPY filed `copies` new messages into `to`, in the same job: `OverQuota`
/// (which rolls the copy back) when the account's usage is now past a limit. Checking
/// after is the same as checking usage-before plus the copies, and needs no second
/// read of the copied messages' sizes.
pub(super) fn check_copied(c: &Connection, to: MailboxId, copies: usize) -> Result<()> {
    if copies == 0 {
        return Ok(());
    }
    match owner(c, to)? {
        Some(account) => admit(c, account, 0, 0),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The steps SQLite plans for `sql`.
    fn plan(c: &Connection, sql: &str) -> Vec<String> {
        c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan")
            .query_map([1], |r| r.get::<_, String>(3))
            .expect("rows")
            .collect::<std::result::Result<_, _>>()
            .expect("plan rows")
    }

    /// Usage reads the account's mailbox rows through the `(account_id, name)` index
    /// and nothing of `messages`: its cost does not grow with the mail the account
    /// holds, nor with the size of the database.
    #[test]
    fn usage_reads_only_the_accounts_mailbox_rows() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = crate::sqlite::schema::open_writer(&dir.path().join("t.db")).expect("open");
        let steps = plan(&c, USAGE_SQL);
        assert!(steps.iter().all(|s| !s.starts_with("SCAN")), "{steps:?}");
        assert!(
            steps
                .iter()
                .any(|s| s.contains("SEARCH mailboxes USING INDEX")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.contains("messages")), "{steps:?}");
        assert!(
            !steps.iter().any(|s| s.contains("TEMP B-TREE")),
            "{steps:?}"
        );
    }

    /// What the running totals say, against a count of the rows themselves, for every
    /// mailbox.
    fn totals_match_the_rows(c: &Connection) {
        let mut stmt = c
            .prepare(
                "SELECT b.id, b.used_messages, b.used_octets,
                        (SELECT count(*) FROM messages WHERE mailbox_id = b.id),
                        (SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = b.id)
                 FROM mailboxes b",
            )
            .expect("select");
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    (r.get::<_, i64>(1)?, r.get::<_, i64>(2)?),
                    (r.get::<_, i64>(3)?, r.get::<_, i64>(4)?),
                ))
            })
            .expect("rows")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("values");
        for (mailbox, kept, counted) in rows {
            assert_eq!(kept, counted, "mailbox {mailbox}");
        }
    }

    /// The triggers keep each mailbox's totals through inserts, deletes, moves between
    /// mailboxes, size changes and a mailbox deleted with its messages.
    #[test]
    fn mailbox_totals_follow_every_change_to_messages() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = crate::sqlite::schema::open_writer(&dir.path().join("t.db")).expect("open");
        c.execute_batch(
            "INSERT INTO domains(name) VALUES ('example.org');
             INSERT INTO accounts(id, address_key, address, domain, password_hash)
             VALUES (7, 'a@example.org', 'a@example.org', 'example.org', 'x');",
        )
        .expect("account");
        for (id, name) in [(1, "INBOX"), (2, "Archive"), (3, "Trash")] {
            c.execute(
                "INSERT INTO mailboxes(id, account_id, name, uid_validity, uid_next)
                 VALUES (?1, 7, ?2, 1, 1)",
                params![id, name],
            )
            .expect("mailbox");
        }
        let insert = |mailbox: i64, uid: i64, size: i64| {
            c.execute(
                "INSERT INTO messages(mailbox_id, uid, blob_id, prefix, body_size, size,
                     received_at, queue_id, recipient_index)
                 VALUES (?1, ?2, 'b', x'', ?3, ?3, 0, ?2, ?1)",
                params![mailbox, uid, size],
            )
            .expect("message");
        };
        for uid in 1..=5 {
            insert(1, uid, 100 * uid);
        }
        insert(3, 1, 7);
        totals_match_the_rows(&c);
        assert_eq!(
            sum(&c, AccountId(7)).expect("usage"),
            QuotaUsage {
                storage: 1_507,
                messages: 6
            }
        );
        c.execute("DELETE FROM messages WHERE mailbox_id = 1 AND uid = 2", [])
            .expect("delete");
        c.execute(
            "UPDATE messages SET mailbox_id = 2 WHERE mailbox_id = 1 AND uid >= 4",
            [],
        )
        .expect("move");
        c.execute(
            "UPDATE messages SET size = 5 WHERE mailbox_id = 1 AND uid = 1",
            [],
        )
        .expect("resize");
        totals_match_the_rows(&c);
        c.execute("DELETE FROM mailboxes WHERE id = 3", [])
            .expect("delete mailbox");
        totals_match_the_rows(&c);
        assert_eq!(
            sum(&c, AccountId(7)).expect("usage"),
            QuotaUsage {
                storage: 5 + 300 + 400 + 500,
                messages: 4
            }
        );
    }

    /// A data directory from before schema 17 opens with its mailboxes' totals counted.
    #[test]
    fn migration_counts_the_messages_already_there() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db");
        let old = crate::sqlite::schema::create_at_version(&path, 16).expect("version 16");
        old.execute_batch(
            "INSERT INTO domains(name) VALUES ('example.org');
             INSERT INTO accounts(id, address_key, address, domain, password_hash)
             VALUES (7, 'a@example.org', 'a@example.org', 'example.org', 'x');
             INSERT INTO mailboxes(id, account_id, name, uid_validity, uid_next)
             VALUES (1, 7, 'INBOX', 1, 1), (2, 7, 'Empty', 1, 1);
             INSERT INTO messages(mailbox_id, uid, blob_id, prefix, body_size, size,
                                  received_at, queue_id, recipient_index)
             VALUES (1, 1, 'b', x'', 10, 10, 0, 1, 0), (1, 2, 'b', x'', 32, 32, 0, 2, 0);",
        )
        .expect("rows");
        drop(old);
        let c = crate::sqlite::schema::open_writer(&path).expect("migrate");
        totals_match_the_rows(&c);
        assert_eq!(
            sum(&c, AccountId(7)).expect("usage"),
            QuotaUsage {
                storage: 42,
                messages: 2
            }
        );
    }

    /// A hand-damaged negative limit is reported, not taken for a huge one.
    #[test]
    fn negative_limit_is_damaged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = crate::sqlite::schema::open_writer(&dir.path().join("t.db")).expect("open");
        c.execute_batch(
            "INSERT INTO domains(name) VALUES ('example.org');
             INSERT INTO accounts(id, address_key, address, domain, password_hash,
                                  quota_storage)
             VALUES (7, 'a@example.org', 'a@example.org', 'example.org', 'x', -1);",
        )
        .expect("rows");
        assert!(matches!(get(&c, AccountId(7)), Err(StoreError::Damaged(_))));
        assert!(matches!(
            get(&c, AccountId(8)),
            Err(StoreError::NotFound(_))
        ));
        assert!(
            admit(&c, AccountId(8), 1, 1).is_ok(),
            "unknown account passes"
        );
    }
}
