//! SQL for app passwords (see [`crate::app_password`]): plain functions over a
//! [`Connection`], like `accounts` and `aliases`.
//!
//! Where it sits: [`super::SqliteStore`] runs the writing functions on the writer thread
//! (inside its group-committed transaction, so check-then-insert is atomic, also
//! against another process) and the reading ones on a pooled reader. The table is
//! `app_passwords` (schema migration in `schema`), keyed by (account, name), with the
//! id unique; rows go with their account (ON DELETE CASCADE).
//!
//! Rows read back are validated: a row with a negative time is `Damaged`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::app_password::{AppPassword, valid_name};
use crate::{AccountId, Result, StoreError};

const COLUMNS: &str = "name, id, hash, created_at, last_used";

fn known_account(c: &Connection, account: AccountId) -> Result<()> {
    let exists = c
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([account.0])?;
    if exists {
        Ok(())
    } else {
        Err(StoreError::account_gone())
    }
}

fn row(r: &Row<'_>) -> rusqlite::Result<(String, String, String, i64, Option<i64>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn checked(
    (name, id, hash, created_at, last_used): (String, String, String, i64, Option<i64>),
) -> Result<AppPassword> {
    if created_at < 0 || last_used.is_some_and(|t| t < 0) {
        return Err(StoreError::Damaged(format!(
            "app password {name:?} has a negative time"
        )));
    }
    Ok(AppPassword {
        name,
        id,
        hash,
        created_at,
        last_used,
    })
}

/// Adds an app password.
pub(super) fn add(
    c: &Connection,
    account: AccountId,
    name: &str,
    id: &str,
    hash: &str,
    created_at: i64,
) -> Result<()> {
    if !valid_name(name) {
        return Err(StoreError::Invalid(format!("app password name {name:?}")));
    }
    known_account(c, account)?;
    let added = c
        .prepare_cached(
            "INSERT OR IGNORE INTO app_passwords(account_id, name, id, hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![account.0, name, id, hash, created_at])?;
    if added == 0 {
        return Err(StoreError::Exists(format!("app password {name}")));
    }
    Ok(())
}

/// The account's app passwords by name.
pub(super) fn list(c: &Connection, account: AccountId) -> Result<Vec<AppPassword>> {
    known_account(c, account)?;
    let rows = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM app_passwords WHERE account_id = ?1 ORDER BY name"
        ))?
        .query_map([account.0], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(checked).collect()
}

/// The account's app password with id `id`.
pub(super) fn get(c: &Connection, account: AccountId, id: &str) -> Result<Option<AppPassword>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM app_passwords WHERE account_id = ?1 AND id = ?2"
    ))?
    .query_row(params![account.0, id], row)
    .optional()?
    .map(checked)
    .transpose()
}

/// Removes the account's app password named `name`.
pub(super) fn revoke(c: &Connection, account: AccountId, name: &str) -> Result<()> {
    known_account(c, account)?;
    let removed = c
        .prepare_cached("DELETE FROM app_passwords WHERE account_id = ?1 AND name = ?2")?
        .execute(params![account.0, name])?;
    if removed == 0 {
        return Err(StoreError::NotFound(format!("app password {name}")));
    }
    Ok(())
}

/// Records a login with app password `id`.
pub(super) fn used(c: &Connection, account: AccountId, id: &str, when: i64) -> Result<()> {
    c.prepare_cached("UPDATE app_passwords SET last_used = ?3 WHERE account_id = ?1 AND id = ?2")?
        .execute(params![account.0, id, when])?;
    Ok(())
}
