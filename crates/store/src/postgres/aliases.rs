//! Mail aliases on PostgreSQL (the trait methods `alias_*` of [`super::PgStore`]),
//! and the two lookups `accounts` shares: [`alias_exists`] (an address is an account
//! or an alias, never both) and [`count_in_domain`] (a domain with aliases is not
//! removed).
//!
//! Where it sits: like `accounts`, each method takes a pooled connection and writes in
//! one transaction. `alias_add` holds the alias's domain row `FOR KEY SHARE` and the
//! address's advisory lock (see `accounts`) from its checks to its commit, so a
//! concurrent `domain_remove` or `account_add` of the same address cannot slip in
//! between. Resolution (`resolve_recipient`) is in `accounts`.
//!
//! `aliases.address` is [`Address::normalized`] (the key), `aliases.display` the alias
//! as added. Rows read back are validated: an alias whose address (or its target's)
//! no longer parses is logged and left out of a listing.

use deadpool_postgres::GenericClient;
use message::{Address, Domain};

use super::accounts::{account_id, lock_address, lock_domain};
use super::{PgStore, db_err, is_foreign_key_violation};
use crate::{Result, StoreError};

/// True when the normalized address `key` is an alias.
pub(super) async fn alias_exists(c: &impl GenericClient, key: &str) -> Result<bool> {
    let stmt = c
        .prepare_cached("SELECT 1 FROM aliases WHERE address = $1")
        .await
        .map_err(db_err)?;
    Ok(c.query_opt(&stmt, &[&key]).await.map_err(db_err)?.is_some())
}

/// How many aliases are addresses in `domain`.
pub(super) async fn count_in_domain(c: &impl GenericClient, domain: &Domain) -> Result<i64> {
    // `address` is normalized, `local@domain` with the domain as `Domain::as_str` has
    // it; the domain is what follows the last `@`, and a domain never contains `@`, so
    // an exact suffix match is an exact domain match. (LIKE would treat `_` in a
    // domain as a wildcard.) right() and length() count characters.
    let suffix = format!("@{}", domain.as_str());
    c.query_one(
        "SELECT count(*) FROM aliases
         WHERE length(address) > length($1::text) AND right(address, length($1::text)) = $1",
        &[&suffix],
    )
    .await
    .map_err(db_err)?
    .try_get(0)
    .map_err(db_err)
}

/// Adds an alias from `alias` to the account `target`.
pub(super) async fn alias_add(s: &PgStore, alias: &Address, target: &Address) -> Result<()> {
    let not_account = || StoreError::Invalid(format!("alias target {target} is not an account"));
    let key = alias.normalized();
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    if !lock_domain(&tx, alias.domain()).await? {
        return Err(StoreError::Invalid(format!(
            "{} is not a local domain",
            alias.domain()
        )));
    }
    lock_address(&tx, &key).await?;
    let Some(account) = account_id(&tx, &target.normalized()).await? else {
        return Err(not_account());
    };
    if account_id(&tx, &key).await?.is_some() {
        return Err(StoreError::Exists(format!("account {alias}")));
    }
    let added = tx
        .execute(
            "INSERT INTO aliases(address, display, account_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&key, &alias.to_string(), &account],
        )
        .await
        .map_err(|e| {
            // The target was removed since we looked it up.
            if is_foreign_key_violation(&e) {
                not_account()
            } else {
                db_err(e)
            }
        })?;
    if added == 0 {
        return Err(StoreError::Exists(format!("alias {alias}")));
    }
    super::commit(tx).await
}

/// Removes an alias.
pub(super) async fn alias_remove(s: &PgStore, alias: &Address) -> Result<()> {
    let c = s.client().await?;
    let removed = c
        .execute(
            "DELETE FROM aliases WHERE address = $1",
            &[&alias.normalized()],
        )
        .await
        .map_err(db_err)?;
    if removed == 0 {
        return Err(StoreError::NotFound(format!("alias {alias}")));
    }
    Ok(())
}

/// All aliases with their target account's address, sorted by normalized alias.
pub(super) async fn alias_list(s: &PgStore) -> Result<Vec<(Address, Address)>> {
    let c = s.client().await?;
    let rows = c
        .query(
            "SELECT l.display, a.address FROM aliases l JOIN accounts a ON a.id = l.account_id
             ORDER BY l.address",
            &[],
        )
        .await
        .map_err(db_err)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let alias: String = row.try_get(0).map_err(db_err)?;
        let target: String = row.try_get(1).map_err(db_err)?;
        match (Address::parse(&alias), Address::parse(&target)) {
            (Ok(a), Ok(t)) => out.push((a, t)),
            _ => {
                tracing::error!(alias = %alias, target = %target, "damaged alias row left out")
            }
        }
    }
    Ok(out)
}
