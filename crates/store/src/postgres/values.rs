//! The server's own values and named leases (`Store::value_put`, `lease_take`) on
//! PostgreSQL, shared by every node on the database.
//!
//! Where it sits: called by [`super::PgStore`]'s `Store` impl; the tables are
//! `server_values` and `leases` (schema migration 3). Taking a lease is a single
//! upsert whose `WHERE` replaces only an expired lease or the holder's own, atomic as
//! the maildrop lock's is (`super::maildrop`). Keys use the "C" collation, as in the
//! embedded store, and a prefix scan is `starts_with`.

use super::{PgStore, db_err};
use crate::Result;
use crate::values::{check_key, check_value};

/// The value under `key`.
pub(super) async fn get(s: &PgStore, key: &str) -> Result<Option<Vec<u8>>> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached("SELECT value FROM server_values WHERE key = $1")
        .await
        .map_err(db_err)?;
    let row = c.query_opt(&stmt, &[&key]).await.map_err(db_err)?;
    Ok(row.map(|r| r.get(0)))
}

/// Puts `value` under `key`.
pub(super) async fn put(s: &PgStore, key: &str, value: &[u8]) -> Result<()> {
    check_key(key)?;
    check_value(value)?;
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(
            "INSERT INTO server_values(key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&key, &value]).await.map_err(db_err)?;
    Ok(())
}

/// Removes the value under `key`.
pub(super) async fn delete(s: &PgStore, key: &str) -> Result<()> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached("DELETE FROM server_values WHERE key = $1")
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&key]).await.map_err(db_err)?;
    Ok(())
}

/// The values whose key starts with `prefix`, by key.
pub(super) async fn list(s: &PgStore, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(
            "SELECT key, value FROM server_values WHERE starts_with(key, $1) ORDER BY key",
        )
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[&prefix]).await.map_err(db_err)?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Takes or extends the lease `name` (see `Store::lease_take`).
pub(super) async fn lease_take(
    s: &PgStore,
    name: &str,
    holder: &str,
    now: i64,
    until: i64,
) -> Result<bool> {
    check_key(name)?;
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(
            "INSERT INTO leases(name, holder, lease_until) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE
                SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
              WHERE leases.holder = EXCLUDED.holder OR leases.lease_until <= $4",
        )
        .await
        .map_err(db_err)?;
    let changed = c
        .execute(&stmt, &[&name, &holder, &until, &now])
        .await
        .map_err(db_err)?;
    Ok(changed == 1)
}

/// Drops the lease `name` if it is `holder`'s.
pub(super) async fn lease_drop(s: &PgStore, name: &str, holder: &str) -> Result<()> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&name, &holder]).await.map_err(db_err)?;
    Ok(())
}
