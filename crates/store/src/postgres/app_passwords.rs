//! App passwords (see [`crate::app_password`]) on PostgreSQL: the trait methods
//! `app_password_*` of [`super::PgStore`].
//!
//! Where it sits: each method takes a pooled connection; every write is one statement
//! (atomic on its own), its account checked first. The table `app_passwords` is keyed
//! by (account, name), with the id unique; rows go with their account (ON DELETE
//! CASCADE), and an account removed between the check and the insert is the foreign
//! key's violation, reported as the account being gone.
//!
//! Rows read back are validated: a row with a negative time is `Damaged`.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{PgStore, db_err, is_foreign_key_violation};
use crate::app_password::{AppPassword, valid_name};
use crate::{AccountId, Result, StoreError};

/// The columns [`checked`] reads.
const COLUMNS: &str = "name, id, hash, created_at, last_used";

/// `NotFound` unless the account exists.
async fn known_account(c: &impl GenericClient, account: AccountId) -> Result<()> {
    let stmt = c
        .prepare_cached("SELECT 1 FROM accounts WHERE id = $1")
        .await
        .map_err(db_err)?;
    match c.query_opt(&stmt, &[&account.0]).await.map_err(db_err)? {
        Some(_) => Ok(()),
        None => Err(StoreError::account_gone()),
    }
}

/// Checks a row of [`COLUMNS`] and builds the [`AppPassword`].
fn checked(r: &Row) -> Result<AppPassword> {
    let name: String = r.try_get(0).map_err(db_err)?;
    let id: String = r.try_get(1).map_err(db_err)?;
    let hash: String = r.try_get(2).map_err(db_err)?;
    let created_at: i64 = r.try_get(3).map_err(db_err)?;
    let last_used: Option<i64> = r.try_get(4).map_err(db_err)?;
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

/// Adds an app password; `Exists` when the account has one of that name (or the id is
/// taken).
pub(super) async fn app_password_add(
    s: &PgStore,
    account: AccountId,
    name: &str,
    id: &str,
    hash: &str,
    created_at: i64,
) -> Result<()> {
    if !valid_name(name) {
        return Err(StoreError::Invalid(format!("app password name {name:?}")));
    }
    let c = s.client().await?;
    known_account(&c, account).await?;
    let stmt = c
        .prepare_cached(
            "INSERT INTO app_passwords(account_id, name, id, hash, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(db_err)?;
    let added = c
        .execute(&stmt, &[&account.0, &name, &id, &hash, &created_at])
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                StoreError::account_gone()
            } else {
                db_err(e)
            }
        })?;
    if added == 0 {
        return Err(StoreError::Exists(format!("app password {name}")));
    }
    Ok(())
}

/// The account's app passwords by name.
pub(super) async fn app_password_list(s: &PgStore, account: AccountId) -> Result<Vec<AppPassword>> {
    let c = s.client().await?;
    known_account(&c, account).await?;
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM app_passwords WHERE account_id = $1 ORDER BY name"
        ))
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[&account.0]).await.map_err(db_err)?;
    rows.iter().map(checked).collect()
}

/// The account's app password with id `id`.
pub(super) async fn app_password_get(
    s: &PgStore,
    account: AccountId,
    id: &str,
) -> Result<Option<AppPassword>> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM app_passwords WHERE account_id = $1 AND id = $2"
        ))
        .await
        .map_err(db_err)?;
    let row = c
        .query_opt(&stmt, &[&account.0, &id])
        .await
        .map_err(db_err)?;
    row.as_ref().map(checked).transpose()
}

/// Removes the account's app password named `name`.
pub(super) async fn app_password_revoke(s: &PgStore, account: AccountId, name: &str) -> Result<()> {
    let c = s.client().await?;
    known_account(&c, account).await?;
    let removed = c
        .execute(
            "DELETE FROM app_passwords WHERE account_id = $1 AND name = $2",
            &[&account.0, &name],
        )
        .await
        .map_err(db_err)?;
    if removed == 0 {
        return Err(StoreError::NotFound(format!("app password {name}")));
    }
    Ok(())
}

/// Records a login with app password `id`.
pub(super) async fn app_password_used(
    s: &PgStore,
    account: AccountId,
    id: &str,
    when: i64,
) -> Result<()> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached("UPDATE app_passwords SET last_used = $3 WHERE account_id = $1 AND id = $2")
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&account.0, &id, &when])
        .await
        .map_err(db_err)?;
    Ok(())
}
