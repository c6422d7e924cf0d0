//! Shared counters (`Store::counter_add`, `counter_get`, `counter_clear`) on
//! PostgreSQL: the login-failure throttle's and the hourly sending limits' counts,
//! shared by every node on the database, so N nodes do not give an attacker N times
//! the guesses.
//!
//! Where it sits: called by [`super::PgStore`]'s `Store` impl; the server's
//! `login` module (failed logins, lockouts) and SMTP checks (hourly limits) call the
//! trait. The table is `counters`: one row per (key, part, bucket), a bucket being the
//! start (unix seconds) of a fixed slot of `max(1, window / 60)` seconds. An add is
//! one upsert (`INSERT … ON CONFLICT DO UPDATE SET count = count + n`, atomic however
//! many nodes add at once) followed by the sum over the window's buckets; a read is
//! one statement for several counters (`unnest`). A total counts the buckets that
//! overlap the window, so up to one bucket (1/60 of the window) before it: never
//! fewer than the events in the window, sometimes a few more.
//!
//! Clean-up: each row carries `expires_at`, the end of the last window it can count
//! in; at most once a minute per process an add deletes up to
//! [`CLEANUP_BATCH`] expired rows (any node's), so the table stays the size of the
//! live windows.

use std::sync::atomic::{AtomicI64, Ordering};

use super::{PgStore, db_err};
use crate::{COUNTER_KEY_MAX, Result, StoreError};

/// Most expired rows one clean-up deletes.
pub(super) const CLEANUP_BATCH: i64 = 1000;

/// Seconds between two clean-ups by one store instance.
const CLEANUP_EVERY: i64 = 60;

/// The width of a bucket for a window: 1/60 of it, at least a second.
fn bucket_width(window_secs: u64) -> i64 {
    i64::try_from(window_secs / 60).unwrap_or(i64::MAX).max(1)
}

/// The bucket `now_unix` falls in.
fn bucket_of(now_unix: i64, width: i64) -> i64 {
    now_unix - now_unix.rem_euclid(width)
}

/// The oldest bucket start still counted within `window_secs` at `now_unix`: every
/// bucket that shares a second with the window. A bucket holds the seconds
/// `start ..= start + width - 1`, the window `now - window + 1 ..= now` (as the
/// in-memory throttle counts: a failure exactly `window` old no longer counts).
fn first_counted(now_unix: i64, window_secs: u64) -> i64 {
    let window = i64::try_from(window_secs).unwrap_or(i64::MAX);
    now_unix
        .saturating_sub(window)
        .saturating_sub(bucket_width(window_secs))
        .saturating_add(2)
}

fn check_len(what: &str, s: &str) -> Result<()> {
    if s.len() > COUNTER_KEY_MAX {
        return Err(StoreError::Invalid(format!(
            "counter {what} longer than {COUNTER_KEY_MAX} bytes"
        )));
    }
    Ok(())
}

/// Unix seconds of this process's last clean-up (one clock for every store instance
/// of the process: a clean-up deletes every node's expired rows anyway).
static LAST_CLEANUP: AtomicI64 = AtomicI64::new(0);

/// True (once per [`CLEANUP_EVERY`] in this process) when this caller should clean up.
fn cleanup_due(now_unix: i64) -> bool {
    let last = LAST_CLEANUP.load(Ordering::Relaxed);
    now_unix >= last.saturating_add(CLEANUP_EVERY)
        && LAST_CLEANUP
            .compare_exchange(last, now_unix, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// Adds `amount` to (key, part) in the bucket of `now_unix`; returns the key's total
/// within the window after the add (see `Store::counter_add`).
pub(super) async fn counter_add(
    s: &PgStore,
    key: &str,
    part: &str,
    amount: u64,
    window_secs: u64,
    now_unix: i64,
) -> Result<Option<u64>> {
    check_len("key", key)?;
    check_len("part", part)?;
    let amount = i64::try_from(amount)
        .map_err(|_| StoreError::Invalid("counter amount too large".into()))?;
    let width = bucket_width(window_secs);
    let bucket = bucket_of(now_unix, width);
    let expires_at = bucket
        .saturating_add(width)
        .saturating_add(i64::try_from(window_secs).unwrap_or(i64::MAX));
    let c = s.client().await?;
    let add = c
        .prepare_cached(
            "INSERT INTO counters(key, part, bucket, count, expires_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (key, part, bucket) DO UPDATE
                SET count = counters.count + EXCLUDED.count,
                    expires_at = greatest(counters.expires_at, EXCLUDED.expires_at)",
        )
        .await
        .map_err(db_err)?;
    c.execute(&add, &[&key, &part, &bucket, &amount, &expires_at])
        .await
        .map_err(db_err)?;
    let sum = c
        .prepare_cached(
            "SELECT coalesce(sum(count), 0)::bigint FROM counters WHERE key = $1 AND bucket >= $2",
        )
        .await
        .map_err(db_err)?;
    let row = c
        .query_one(&sum, &[&key, &first_counted(now_unix, window_secs)])
        .await
        .map_err(db_err)?;
    let total: i64 = row.try_get(0).map_err(db_err)?;
    if cleanup_due(now_unix) {
        cleanup(&c, now_unix).await;
    }
    Ok(Some(u64::try_from(total).unwrap_or(0)))
}

/// The totals of several counters, each within its window, in one statement.
pub(super) async fn counter_get(
    s: &PgStore,
    keys: &[(&str, u64)],
    now_unix: i64,
) -> Result<Option<Vec<u64>>> {
    if keys.is_empty() {
        return Ok(Some(Vec::new()));
    }
    for (key, _) in keys {
        check_len("key", key)?;
    }
    let names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
    let firsts: Vec<i64> = keys
        .iter()
        .map(|(_, w)| first_counted(now_unix, *w))
        .collect();
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(
            "SELECT k.i, coalesce(sum(c.count), 0)::bigint
               FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS k(key, first, i)
               LEFT JOIN counters c ON c.key = k.key AND c.bucket >= k.first
              GROUP BY k.i ORDER BY k.i",
        )
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[&names, &firsts]).await.map_err(db_err)?;
    let mut totals = vec![0; keys.len()];
    for row in rows {
        let i: i64 = row.try_get(0).map_err(db_err)?;
        let total: i64 = row.try_get(1).map_err(db_err)?;
        let slot = usize::try_from(i - 1)
            .ok()
            .and_then(|i| totals.get_mut(i))
            .ok_or_else(|| StoreError::Damaged(format!("counter row {i} out of range")))?;
        *slot = u64::try_from(total).unwrap_or(0);
    }
    Ok(Some(totals))
}

/// Forgets one part of a counter, or all of it.
pub(super) async fn counter_clear(s: &PgStore, key: &str, part: Option<&str>) -> Result<()> {
    let c = s.client().await?;
    match part {
        Some(part) => {
            let stmt = c
                .prepare_cached("DELETE FROM counters WHERE key = $1 AND part = $2")
                .await
                .map_err(db_err)?;
            c.execute(&stmt, &[&key, &part]).await.map_err(db_err)?;
        }
        None => {
            let stmt = c
                .prepare_cached("DELETE FROM counters WHERE key = $1")
                .await
                .map_err(db_err)?;
            c.execute(&stmt, &[&key]).await.map_err(db_err)?;
        }
    }
    Ok(())
}

/// Deletes up to [`CLEANUP_BATCH`] rows whose window has passed; a failure is only
/// logged (the next clean-up tries again).
async fn cleanup(c: &deadpool_postgres::Client, now_unix: i64) {
    let deleted = c
        .execute(
            "DELETE FROM counters WHERE ctid IN (
                 SELECT ctid FROM counters WHERE expires_at < $1 LIMIT $2)",
            &[&now_unix, &CLEANUP_BATCH],
        )
        .await;
    match deleted {
        Ok(0) => {}
        Ok(n) => tracing::debug!(rows = n, "deleted expired counter buckets"),
        Err(e) => tracing::warn!(error = %e, "could not delete expired counter buckets"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_a_sixtieth_of_the_window_and_cover_it() {
        assert_eq!(bucket_width(3600), 60);
        assert_eq!(bucket_width(30), 1);
        assert_eq!(bucket_of(125, 60), 120);
        assert_eq!(bucket_of(-5, 60), -60);
        // At 125 with an hour's window: the bucket starting at 120 - 3600 ends at
        // 180 - 3600 = after 125 - 3600, so it overlaps the window and counts.
        let first = first_counted(125, 3600);
        assert!(first <= 120 - 3600 && 60 - 3600 < first, "{first}");
        // A one-second bucket: exactly the last `window` seconds.
        assert_eq!(first_counted(100, 10), 91);
    }
}

#[cfg(test)]
mod across_nodes {
    use crate::postgres::{PgOptions, PgStore};
    use crate::{COUNTER_KEY_MAX, Store, StoreError};

    #[tokio::test]
    async fn two_nodes_count_into_one_total() {
        let Some(a) = crate::postgres::testing::fresh_store().await else {
            return;
        };
        let b = PgStore::connect(&PgOptions::from_url(a.url_for_tests()))
            .await
            .expect("second node");
        assert!(a.counters_shared() && b.counters_shared());
        let t = 1_000_000;
        let key = "login-ip:192.0.2.1";
        assert_eq!(
            a.counter_add(key, "a@x", 1, 900, t).await.expect("add"),
            Some(1)
        );
        assert_eq!(
            b.counter_add(key, "b@x", 1, 900, t + 1).await.expect("add"),
            Some(2)
        );
        assert_eq!(
            a.counter_add(key, "a@x", 2, 900, t + 2).await.expect("add"),
            Some(4)
        );
        let totals = b
            .counter_get(&[(key, 900), ("never", 900), (key, 1)], t + 3)
            .await
            .expect("get");
        assert_eq!(totals, Some(vec![4, 0, 0]), "a 1 s window sees none of it");
        // Forgetting one part leaves the others.
        b.counter_clear(key, Some("a@x")).await.expect("clear part");
        assert_eq!(
            a.counter_get(&[(key, 900)], t + 3).await.expect("get"),
            Some(vec![1])
        );
        // Past the window (and its last bucket) nothing counts.
        assert_eq!(
            a.counter_get(&[(key, 900)], t + 1 + 900 + 15)
                .await
                .expect("get"),
            Some(vec![0])
        );
        a.counter_clear(key, None).await.expect("clear all");
        assert_eq!(
            b.counter_get(&[(key, 900)], t + 3).await.expect("get"),
            Some(vec![0])
        );
        let long = "k".repeat(COUNTER_KEY_MAX + 1);
        assert!(matches!(
            a.counter_add(&long, "", 1, 60, t).await,
            Err(StoreError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn concurrent_adds_from_two_nodes_lose_nothing() {
        let Some(a) = crate::postgres::testing::fresh_store().await else {
            return;
        };
        let b = PgStore::connect(&PgOptions::from_url(a.url_for_tests()))
            .await
            .expect("second node");
        let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
        let t = 2_000_000;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20 {
            let node = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.spawn(async move {
                node.counter_add("send-user-msg:alice@x", "", 1, 3600, t)
                    .await
                    .expect("add")
            });
        }
        let mut highest = 0;
        while let Some(total) = tasks.join_next().await {
            highest = highest.max(total.expect("task").expect("shared"));
        }
        assert_eq!(highest, 20, "the last add saw every other");
        assert_eq!(
            a.counter_get(&[("send-user-msg:alice@x", 3600)], t)
                .await
                .expect("get"),
            Some(vec![20])
        );
    }
}
