//! SQL for the HTTP API's tokens (see [`crate::api_token`]): plain functions over a
//! [`Connection`], like `app_passwords`.
//!
//! Where it sits: [`super::SqliteStore`] runs the writing functions on the writer thread
//! (inside its group-committed transaction, so check-then-insert is atomic, also
//! against another process) and the reading ones on a pooled reader. The table is
//! `api_tokens` (schema migration 13 in `schema`), name and id each unique. Tokens are
//! server-wide: no account owns them, so removing an account leaves them alone.
//!
//! Rows read back are validated: a row with a negative time is `Damaged`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::api_token::{ApiToken, valid_name};
use crate::{Result, StoreError};

/// The columns [`row`] reads, in its order.
const COLUMNS: &str = "name, id, hash, created_at, last_used";

type TokenRow = (String, String, String, i64, Option<i64>);

fn row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn checked((name, id, hash, created_at, last_used): TokenRow) -> Result<ApiToken> {
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
pub(super) fn add(c: &Connection, token: &ApiToken) -> Result<()> {
    if !valid_name(&token.name) {
        return Err(StoreError::Invalid(format!(
            "API token name {:?}",
            token.name
        )));
    }
    let added = c
        .prepare_cached(
            "INSERT OR IGNORE INTO api_tokens(name, id, hash, created_at, last_used)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            token.name,
            token.id,
            token.hash,
            token.created_at,
            token.last_used
        ])?;
    if added == 0 {
        return Err(StoreError::Exists(format!("API token {}", token.name)));
    }
    Ok(())
}

/// Every token, by name.
pub(super) fn list(c: &Connection) -> Result<Vec<ApiToken>> {
    let rows = c
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY name"))?
        .query_map([], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(checked).collect()
}

/// The token with id `id`.
pub(super) fn get(c: &Connection, id: &str) -> Result<Option<ApiToken>> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = ?1"))?
        .query_row([id], row)
        .optional()?
        .map(checked)
        .transpose()
}

/// Removes the token named `name`.
pub(super) fn revoke(c: &Connection, name: &str) -> Result<()> {
    let removed = c
        .prepare_cached("DELETE FROM api_tokens WHERE name = ?1")?
        .execute([name])?;
    if removed == 0 {
        return Err(StoreError::NotFound(format!("API token {name}")));
    }
    Ok(())
}

/// Records a use of token `id`; an unknown id changes nothing.
pub(super) fn used(c: &Connection, id: &str, when: i64) -> Result<()> {
    c.prepare_cached("UPDATE api_tokens SET last_used = ?2 WHERE id = ?1")?
        .execute(params![id, when])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::sqlite::{SqliteStore, schema};
    use crate::{ApiToken, Store};

    /// A version-12 database (before display names, the admin flag and API tokens)
    /// migrates: its accounts keep their rows, with no display name and not admin,
    /// and take both; tokens can then be added.
    #[tokio::test]
    async fn migrates_a_version_12_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let c = schema::create_at_version(&dir.path().join("postie.db"), 12).expect("v12");
            c.execute_batch(
                "INSERT INTO domains(name) VALUES ('example.org');
                 INSERT INTO accounts(id, address_key, address, domain, password_hash)
                     VALUES (1, 'a@example.org', 'A@example.org', 'example.org', 'x');",
            )
            .expect("v12 rows");
        }
        let s = SqliteStore::open(dir.path()).expect("open migrates");
        let version: i64 = s
            .read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .await
            .expect("version");
        assert_eq!(version, schema::SCHEMA_VERSION);
        let address = message::Address::parse("a@example.org").expect("address");
        let account = s.account_get(&address).await.expect("get").expect("kept");
        assert_eq!(account.address.to_string(), "A@example.org");
        assert_eq!(account.password_hash, "x");
        assert_eq!(account.display_name, None);
        assert!(!account.admin);
        s.account_set_admin(&address, true).await.expect("admin");
        s.account_set_display_name(&address, Some("Ann"))
            .await
            .expect("name");
        let account = s.account_get(&address).await.expect("get").expect("kept");
        assert!(account.admin);
        assert_eq!(account.display_name.as_deref(), Some("Ann"));
        assert!(s.token_list().await.expect("list").is_empty());
        let token = ApiToken {
            name: "ci".into(),
            id: "abcdefgh".into(),
            hash: "h".into(),
            created_at: 1,
            last_used: None,
        };
        s.token_add(&token).await.expect("add");
        assert_eq!(s.token_list().await.expect("list"), vec![token]);
    }
}
