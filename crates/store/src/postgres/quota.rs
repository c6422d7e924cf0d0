//! Per-account quotas (RFC 9208) on PostgreSQL: the limits in
//! `accounts.quota_storage` / `accounts.quota_messages` (NULL is unlimited), the usage
//! aggregate, and [`admit`], the check every filing path runs inside its transaction
//! before it writes.
//!
//! Where it sits: the trait methods `quota_set` / `quota_get` / `quota_usage` of
//! [`super::PgStore`] are here; [`admit`] is called by `messages` (APPEND, COPY) and
//! `queue` (local delivery) on their own transaction. The embedded store makes
//! check-then-file atomic with its single writer; here several nodes file at once, so
//! [`admit`] locks the account's row when it has a limit: two transactions filing for
//! one account check one after the other, the second seeing the first's committed
//! messages (READ COMMITTED takes a fresh snapshot per statement, and the usage is read
//! after the lock is granted). An account without limits costs one primary-key lookup
//! and takes no lock.
//!
//! The lock is `FOR NO KEY UPDATE`: it conflicts with itself and with `quota_set`'s
//! UPDATE (so a limit lowered meanwhile is seen), but not with the `FOR KEY SHARE`
//! lock a foreign-key check takes, so creating a mailbox for the account does not wait
//! for a filing to commit.
//!
//! Lock order: call [`admit`] before locking any mailbox row of the account (before
//! `messages::take_uids`), so every transaction takes the account's row first, then
//! mailbox rows (in id order), as `queue`, `messages` and `accounts::account_remove`
//! do. A filing that locked the mailbox first and the
//! account second would deadlock with a delivery doing the opposite (PostgreSQL aborts
//! one of them with "deadlock detected").

use deadpool_postgres::GenericClient;
use message::Address;

use super::{PgStore, db_err};
use crate::{AccountId, Quota, QuotaUsage, Result, StoreError};

/// The account's usage: message count and total RFC822.SIZE over all its mailboxes,
/// from each mailbox's running totals (schema 5; `sum` of bigint is numeric in
/// PostgreSQL, hence the casts).
const USAGE_SQL: &str = "SELECT coalesce(sum(used_messages), 0)::bigint AS messages,
     coalesce(sum(used_octets), 0)::bigint AS octets
     FROM mailboxes WHERE account_id = $1";

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

/// The account's limits from `sql` (which selects `quota_storage, quota_messages` of
/// the account `$1`); `None` when there is no such account.
async fn limits_with(
    c: &impl GenericClient,
    sql: &str,
    account: AccountId,
) -> Result<Option<Quota>> {
    let stmt = c.prepare_cached(sql).await.map_err(db_err)?;
    let row = c.query_opt(&stmt, &[&account.0]).await.map_err(db_err)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let storage: Option<i64> = row.try_get(0).map_err(db_err)?;
    let messages: Option<i64> = row.try_get(1).map_err(db_err)?;
    Ok(Some(Quota {
        storage: limit_from(storage, account.0)?,
        messages: limit_from(messages, account.0)?,
    }))
}

/// The account's limits; `None` when there is no such account.
async fn limits(c: &impl GenericClient, account: AccountId) -> Result<Option<Quota>> {
    limits_with(
        c,
        "SELECT quota_storage, quota_messages FROM accounts WHERE id = $1",
        account,
    )
    .await
}

/// What the account uses, whether or not it exists (an unknown one uses nothing).
async fn sum(c: &impl GenericClient, account: AccountId) -> Result<QuotaUsage> {
    let stmt = c.prepare_cached(USAGE_SQL).await.map_err(db_err)?;
    let row = c.query_one(&stmt, &[&account.0]).await.map_err(db_err)?;
    let count: i64 = row.try_get(0).map_err(db_err)?;
    let octets: i64 = row.try_get(1).map_err(db_err)?;
    let damaged = |v: i64| StoreError::Damaged(format!("account {}: usage {v}", account.0));
    Ok(QuotaUsage {
        storage: u64::try_from(octets).map_err(|_| damaged(octets))?,
        messages: u64::try_from(count).map_err(|_| damaged(count))?,
    })
}

/// Sets both limits of the account at `address`; `NotFound` for an unknown account.
pub(super) async fn quota_set(s: &PgStore, address: &Address, quota: Quota) -> Result<()> {
    let storage = sql_limit(quota.storage, "storage")?;
    let messages = sql_limit(quota.messages, "message")?;
    let c = s.client().await?;
    let changed = c
        .execute(
            "UPDATE accounts SET quota_storage = $2, quota_messages = $3
             WHERE address_key = $1",
            &[&address.normalized(), &storage, &messages],
        )
        .await
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("account {address}")));
    }
    Ok(())
}

/// The account's limits; `NotFound` for an unknown account.
pub(super) async fn quota_get(s: &PgStore, account: AccountId) -> Result<Quota> {
    let c = s.client().await?;
    limits(&c, account)
        .await?
        .ok_or_else(StoreError::account_gone)
}

/// What the account uses; `NotFound` for an unknown account, `Damaged` for one with a
/// negative limit (as `quota_get`). One statement for the account's row and its usage,
/// so one snapshot.
pub(super) async fn quota_usage(s: &PgStore, account: AccountId) -> Result<QuotaUsage> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(&format!(
            "SELECT a.quota_storage, a.quota_messages, u.*
             FROM accounts a, ({USAGE_SQL}) u WHERE a.id = $1"
        ))
        .await
        .map_err(db_err)?;
    let Some(row) = c.query_opt(&stmt, &[&account.0]).await.map_err(db_err)? else {
        return Err(StoreError::account_gone());
    };
    limit_from(row.try_get(0).map_err(db_err)?, account.0)?;
    limit_from(row.try_get(1).map_err(db_err)?, account.0)?;
    let count: i64 = row.try_get(2).map_err(db_err)?;
    let octets: i64 = row.try_get(3).map_err(db_err)?;
    let damaged = |v: i64| StoreError::Damaged(format!("account {}: usage {v}", account.0));
    Ok(QuotaUsage {
        storage: u64::try_from(octets).map_err(|_| damaged(octets))?,
        messages: u64::try_from(count).map_err(|_| damaged(count))?,
    })
}

/// `OverQuota` unless `account` can take `count` more messages of `octets` octets in
/// all; an unknown account passes (the filing itself reports it). Shared by every
/// filing path (append, copy, delivery). When the account has a limit, it locks the
/// account's row (`FOR NO KEY UPDATE`, see the module docs) before reading the usage,
/// so two transactions filing for one account (on any node) check one after the other
/// and cannot both squeeze under the limit; without limits it only reads the row.
/// Call it before locking the account's mailbox rows (lock order: account, then
/// mailboxes).
pub(super) async fn admit(
    tx: &deadpool_postgres::Transaction<'_>,
    account: AccountId,
    octets: u64,
    count: u64,
) -> Result<()> {
    // The cheap look first: most accounts have no limits and need no lock.
    match limits(tx, account).await? {
        None => return Ok(()),
        Some(quota) if quota.is_unlimited() => return Ok(()),
        Some(_) => {}
    }
    // Lock, then re-read the limits (a quota_set may have committed meanwhile) and
    // the usage (another filing may have committed while we waited for the lock).
    let Some(quota) = limits_with(
        tx,
        "SELECT quota_storage, quota_messages FROM accounts WHERE id = $1
         FOR NO KEY UPDATE",
        account,
    )
    .await?
    else {
        return Ok(());
    };
    if quota.is_unlimited() {
        return Ok(());
    }
    let used = sum(tx, account).await?;
    if quota.admits(&used, octets, count) {
        return Ok(());
    }
    Err(StoreError::OverQuota(format!(
        "account {} uses {} octets in {} messages of {:?}; {count} more of {octets} octets \
         do not fit",
        account.0, used.storage, used.messages, quota
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::testing::fresh_store;

    /// Each mailbox's running totals against a recount of its rows.
    async fn totals_match_the_rows(c: &impl GenericClient) {
        let rows = c
            .query(
                "SELECT b.id, b.used_messages, b.used_octets,
                        (SELECT count(*) FROM messages WHERE mailbox_id = b.id),
                        (SELECT coalesce(sum(size), 0)::bigint FROM messages
                         WHERE mailbox_id = b.id)
                 FROM mailboxes b",
                &[],
            )
            .await
            .expect("totals");
        for row in rows {
            let mailbox: i64 = row.get(0);
            let kept: (i64, i64) = (row.get(1), row.get(2));
            let counted: (i64, i64) = (row.get(3), row.get(4));
            assert_eq!(kept, counted, "mailbox {mailbox}");
        }
    }

    /// The trigger keeps each mailbox's totals through inserts, deletes, moves between
    /// mailboxes, size changes and a mailbox deleted with its messages; the usage the
    /// quota check reads is their sum.
    #[tokio::test]
    async fn mailbox_totals_follow_every_change_to_messages() {
        let Some(store) = fresh_store().await else {
            return;
        };
        let c = store.client().await.expect("client");
        c.batch_execute(
            "INSERT INTO domains(name) VALUES ('example.org');
             INSERT INTO accounts(id, address_key, address, domain, password_hash)
                 VALUES (7, 'a@example.org', 'a@example.org', 'example.org', 'x');
             INSERT INTO mailboxes(id, account_id, name, uid_validity, uid_next)
                 VALUES (1, 7, 'INBOX', 1, 1), (2, 7, 'Archive', 1, 1), (3, 7, 'Trash', 1, 1);
             INSERT INTO messages(mailbox_id, uid, blob_id, prefix, body_size, size,
                                  received_at, queue_id, recipient_index)
                 SELECT 1, n, 'b', '', 100 * n, 100 * n, 0, n, 0 FROM generate_series(1, 5) n;
             INSERT INTO messages(mailbox_id, uid, blob_id, prefix, body_size, size,
                                  received_at, queue_id, recipient_index)
                 VALUES (3, 1, 'b', '', 7, 7, 0, 9, 0);",
        )
        .await
        .expect("rows");
        totals_match_the_rows(&c).await;
        assert_eq!(
            sum(&c, AccountId(7)).await.expect("usage"),
            QuotaUsage {
                storage: 1_507,
                messages: 6
            }
        );
        c.batch_execute(
            "DELETE FROM messages WHERE mailbox_id = 1 AND uid = 2;
             UPDATE messages SET mailbox_id = 2 WHERE mailbox_id = 1 AND uid >= 4;
             UPDATE messages SET size = 5 WHERE mailbox_id = 1 AND uid = 1;",
        )
        .await
        .expect("changes");
        totals_match_the_rows(&c).await;
        c.batch_execute("DELETE FROM mailboxes WHERE id = 3")
            .await
            .expect("delete mailbox");
        totals_match_the_rows(&c).await;
        assert_eq!(
            sum(&c, AccountId(7)).await.expect("usage"),
            QuotaUsage {
                storage: 5 + 300 + 400 + 500,
                messages: 4
            }
        );
    }
}
