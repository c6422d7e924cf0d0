//! The HTTP API's tokens (see [`crate::api_token`]) on PostgreSQL: the trait methods
//! `token_*` of [`super::PgStore`].
//!
//! Where it sits: each method takes a pooled connection; every write is one statement,
//! atomic on its own. The table `api_tokens` (schema version 2) has name and id each
//! unique, so two nodes adding the same name at once get one row and one `Exists`
//! (`ON CONFLICT DO NOTHING` covers both keys). Tokens are server-wide: no account
//! owns them.
//!
//! Rows read back are validated: a row with a negative time is `Damaged`.

use tokio_postgres::Row;

use super::{PgStore, db_err};
use crate::api_token::{ApiToken, valid_name};
use crate::{Result, StoreError};

/// The columns [`checked`] reads.
const COLUMNS: &str = "name, id, hash, created_at, last_used";

/// Checks a row of [`COLUMNS`] and builds the [`ApiToken`].
fn checked(r: &Row) -> Result<ApiToken> {
    let name: String = r.try_get(0).map_err(db_err)?;
    let id: String = r.try_get(1).map_err(db_err)?;
    let hash: String = r.try_get(2).map_err(db_err)?;
    let created_at: i64 = r.try_get(3).map_err(db_err)?;
    let last_used: Option<i64> = r.try_get(4).map_err(db_err)?;
    if created_at < 0 || last_used.is_some_and(|t| t < 0) {
        return Err(StoreError::Damaged(format!(
            "API token {name:?} has a negative time"
        )));
    }
    Ok(ApiToken {
        name,
        id,
        hash,
        created_at,
        last_used,
    })
}

/// Adds a token; `Exists` when its name or id is taken.
pub(super) async fn token_add(s: &PgStore, token: &ApiToken) -> Result<()> {
    if !valid_name(&token.name) {
        return Err(StoreError::Invalid(format!(
            "API token name {:?}",
            token.name
        )));
    }
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(
            "INSERT INTO api_tokens(name, id, hash, created_at, last_used)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(db_err)?;
    let added = c
        .execute(
            &stmt,
            &[
                &token.name,
                &token.id,
                &token.hash,
                &token.created_at,
                &token.last_used,
            ],
        )
        .await
        .map_err(db_err)?;
    if added == 0 {
        return Err(StoreError::Exists(format!("API token {}", token.name)));
    }
    Ok(())
}

/// Every token, by name.
pub(super) async fn token_list(s: &PgStore) -> Result<Vec<ApiToken>> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY name"))
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[]).await.map_err(db_err)?;
    rows.iter().map(checked).collect()
}

/// The token with id `id`.
pub(super) async fn token_get(s: &PgStore, id: &str) -> Result<Option<ApiToken>> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1"))
        .await
        .map_err(db_err)?;
    let row = c.query_opt(&stmt, &[&id]).await.map_err(db_err)?;
    row.as_ref().map(checked).transpose()
}

/// Removes the token named `name`; `NotFound` if there is none.
pub(super) async fn token_revoke(s: &PgStore, name: &str) -> Result<()> {
    let c = s.client().await?;
    let removed = c
        .execute("DELETE FROM api_tokens WHERE name = $1", &[&name])
        .await
        .map_err(db_err)?;
    if removed == 0 {
        return Err(StoreError::NotFound(format!("API token {name}")));
    }
    Ok(())
}

/// Records a use of token `id`; an unknown id changes nothing.
pub(super) async fn token_used(s: &PgStore, id: &str, when: i64) -> Result<()> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached("UPDATE api_tokens SET last_used = $2 WHERE id = $1")
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&id, &when]).await.map_err(db_err)?;
    Ok(())
}
