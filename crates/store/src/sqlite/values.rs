//! SQL for the server's own values and named leases (`Store::value_put`,
//! `lease_take`): plain functions over a [`Connection`], like `maildrop`.
//!
//! Where it sits: [`super::SqliteStore`] runs the writing functions on the writer
//! thread, inside its write transaction (so taking a lease is one atomic step, also
//! against another process on the same database), and the reading ones on a pooled
//! reader. The tables are `server_values` and `leases` (schema migration 14 in
//! `schema`); keys compare byte-wise (SQLite's BINARY collation), so the keys with one
//! prefix are one contiguous range.

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;
use crate::values::{check_key, check_value};

/// The value under `key`.
pub(super) fn get(c: &Connection, key: &str) -> Result<Option<Vec<u8>>> {
    Ok(
        c.prepare_cached("SELECT value FROM server_values WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?,
    )
}

/// Puts `value` under `key`.
pub(super) fn put(c: &Connection, key: &str, value: &[u8]) -> Result<()> {
    check_key(key)?;
    check_value(value)?;
    c.prepare_cached(
        "INSERT INTO server_values(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// Removes the value under `key`.
pub(super) fn delete(c: &Connection, key: &str) -> Result<()> {
    c.prepare_cached("DELETE FROM server_values WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}

/// The values whose key starts with `prefix`, by key: the range from `prefix` on, read
/// until the first key without it.
pub(super) fn list(c: &Connection, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut stmt =
        c.prepare_cached("SELECT key, value FROM server_values WHERE key >= ?1 ORDER BY key")?;
    let mut rows = stmt.query([prefix])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        if !key.starts_with(prefix) {
            break;
        }
        found.push((key, row.get(1)?));
    }
    Ok(found)
}

/// Takes or extends the lease `name` (see `Store::lease_take`): one upsert whose
/// `WHERE` replaces only an expired lease or the holder's own.
pub(super) fn lease_take(
    c: &Connection,
    name: &str,
    holder: &str,
    now: i64,
    until: i64,
) -> Result<bool> {
    check_key(name)?;
    let changed = c
        .prepare_cached(
            "INSERT INTO leases(name, holder, lease_until) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE
                SET holder = excluded.holder, lease_until = excluded.lease_until
              WHERE leases.holder = excluded.holder OR leases.lease_until <= ?4",
        )?
        .execute(params![name, holder, until, now])?;
    Ok(changed == 1)
}

/// Drops the lease `name` if it is `holder`'s.
pub(super) fn lease_drop(c: &Connection, name: &str, holder: &str) -> Result<()> {
    c.prepare_cached("DELETE FROM leases WHERE name = ?1 AND holder = ?2")?
        .execute([name, holder])?;
    Ok(())
}
