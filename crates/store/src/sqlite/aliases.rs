//! SQL for mail aliases: plain functions over a [`Connection`], like `accounts`.
//!
//! Where it sits: [`super::SqliteStore`] runs the writing functions here on the writer
//! thread (inside its group-committed transaction, so each check-then-insert is atomic,
//! also against another process) and the reading ones on a pooled reader. Nothing here
//! begins or ends a transaction. `accounts` calls [`alias_exists`] and
//! [`count_in_domain`] to keep an address from being both an account and an alias and to
//! refuse removing a domain that still has aliases.
//!
//! Rows read back are validated as in `accounts`: an alias whose address no longer
//! parses is logged and left out of a listing; its target is an account row, validated
//! (and reported `Damaged`) the way `account_get` does.

use message::{Address, Domain};
use rusqlite::{Connection, OptionalExtension, params};

use super::accounts::{ACCOUNT_COLUMNS, account_from, account_id, account_row, domain_is_local};
use crate::{Account, Result, StoreError};

/// True when the normalized address `key` is an alias.
pub(super) fn alias_exists(c: &Connection, key: &str) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT 1 FROM aliases WHERE address = ?1")?
            .exists([key])?,
    )
}

/// How many aliases are addresses in `domain`.
pub(super) fn count_in_domain(c: &Connection, domain: &Domain) -> Result<i64> {
    // `address` is normalized, `local@domain` with the domain in lower case as
    // `Domain::as_str` has it; the domain is what follows the last `@`, and a domain
    // never contains `@`, so an exact suffix match is an exact domain match. (LIKE
    // would treat `_` in a domain as a wildcard.) substr and length count characters.
    let suffix = format!("@{}", domain.as_str());
    Ok(c.query_row(
        "SELECT COUNT(*) FROM aliases
         WHERE length(address) > length(?1) AND substr(address, -length(?1)) = ?1",
        [suffix],
        |r| r.get(0),
    )?)
}

/// Adds an alias from `alias` to the account `target`.
pub(super) fn alias_add(c: &Connection, alias: &Address, target: &Address) -> Result<()> {
    if !domain_is_local(c, alias.domain())? {
        return Err(StoreError::Invalid(format!(
            "{} is not a local domain",
            alias.domain()
        )));
    }
    let Some(account) = account_id(c, &target.normalized())? else {
        return Err(StoreError::Invalid(format!(
            "alias target {target} is not an account"
        )));
    };
    let key = alias.normalized();
    if account_id(c, &key)?.is_some() {
        return Err(StoreError::Exists(format!("account {alias}")));
    }
    let added = c.execute(
        "INSERT OR IGNORE INTO aliases(address, display, account_id) VALUES (?1, ?2, ?3)",
        params![key, alias.to_string(), account],
    )?;
    if added == 0 {
        return Err(StoreError::Exists(format!("alias {alias}")));
    }
    Ok(())
}

/// Removes an alias.
pub(super) fn alias_remove(c: &Connection, alias: &Address) -> Result<()> {
    let removed = c.execute(
        "DELETE FROM aliases WHERE address = ?1",
        [alias.normalized()],
    )?;
    if removed == 0 {
        return Err(StoreError::NotFound(format!("alias {alias}")));
    }
    Ok(())
}

/// All aliases with their target account's address, sorted by normalized alias.
pub(super) fn alias_list(c: &Connection) -> Result<Vec<(Address, Address)>> {
    let mut stmt = c.prepare_cached(
        "SELECT l.display, a.address FROM aliases l JOIN accounts a ON a.id = l.account_id
         ORDER BY l.address",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(alias, target)| match (Address::parse(&alias), Address::parse(&target)) {
                (Ok(alias), Ok(target)) => Some((alias, target)),
                _ => {
                    tracing::error!(alias = %alias, target = %target, "damaged alias row left out");
                    None
                }
            },
        )
        .collect())
}

/// The account mail for `address` goes to: the account with that address, else the one
/// an alias with that address points to. One statement, so one consistent snapshot.
pub(super) fn resolve(c: &Connection, address: &Address) -> Result<Option<Account>> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts
             WHERE address_key = ?1
                OR id = (SELECT account_id FROM aliases WHERE address = ?1)
             ORDER BY address_key = ?1 DESC
             LIMIT 1"
        ))?
        .query_row([address.normalized()], account_row)
        .optional()?;
    row.map(account_from).transpose()
}
