//! SQL for domains and accounts: plain functions over a [`Connection`]. Mailboxes are
//! in the sibling module `mailboxes`.
//!
//! Where it sits: [`super::SqliteStore`] runs the writing functions here on the writer
//! thread (inside its group-committed transaction, so each is atomic) and the reading
//! ones on a pooled reader. Nothing here begins or ends a transaction.
//!
//! Rows read back are validated: an address or domain that no longer parses is
//! [`StoreError::Damaged`] for a single lookup, and is logged and left out of a listing
//! (one damaged row must not hide every other account).

use message::{Address, Domain};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::aliases::{alias_exists, count_in_domain};
use super::mailboxes;
use super::queue::unreferenced;
use crate::{Account, AccountId, Result, StoreError};

/// Adds a local domain.
pub(super) fn domain_add(c: &Connection, domain: &Domain) -> Result<()> {
    let added = c.execute(
        "INSERT OR IGNORE INTO domains(name) VALUES (?1)",
        [domain.as_str()],
    )?;
    if added == 0 {
        return Err(StoreError::Exists(format!("domain {domain}")));
    }
    Ok(())
}

/// Removes a local domain that has no accounts or aliases left.
pub(super) fn domain_remove(c: &Connection, domain: &Domain) -> Result<()> {
    if !domain_is_local(c, domain)? {
        return Err(StoreError::NotFound(format!("domain {domain}")));
    }
    let accounts: i64 = c.query_row(
        "SELECT COUNT(*) FROM accounts WHERE domain = ?1",
        [domain.as_str()],
        |r| r.get(0),
    )?;
    if accounts > 0 {
        return Err(StoreError::Invalid(format!(
            "domain {domain} still has {accounts} account(s)"
        )));
    }
    let aliases = count_in_domain(c, domain)?;
    if aliases > 0 {
        return Err(StoreError::Invalid(format!(
            "domain {domain} still has {aliases} alias(es)"
        )));
    }
    c.execute("DELETE FROM domains WHERE name = ?1", [domain.as_str()])?;
    Ok(())
}

/// All local domains, sorted.
pub(super) fn domain_list(c: &Connection) -> Result<Vec<Domain>> {
    let mut stmt = c.prepare_cached("SELECT name FROM domains ORDER BY name")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut domains: Vec<Domain> = names
        .into_iter()
        .filter_map(|name| match Domain::parse(&name) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::error!(domain = %name, error = %e, "damaged domain row left out");
                None
            }
        })
        .collect();
    domains.sort();
    Ok(domains)
}

/// True when `domain` is local.
pub(super) fn domain_is_local(c: &Connection, domain: &Domain) -> Result<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM domains WHERE name = ?1")?
        .exists([domain.as_str()])?)
}

/// Creates an account with its INBOX and special-use mailboxes.
pub(super) fn account_add(
    c: &Connection,
    address: &Address,
    password_hash: &str,
    now_unix: i64,
) -> Result<AccountId> {
    if !domain_is_local(c, address.domain())? {
        return Err(StoreError::Invalid(format!(
            "{} is not a local domain",
            address.domain()
        )));
    }
    let key = address.normalized();
    if account_id(c, &key)?.is_some() {
        return Err(StoreError::Exists(format!("account {address}")));
    }
    if alias_exists(c, &key)? {
        return Err(StoreError::Exists(format!("alias {address}")));
    }
    c.execute(
        "INSERT INTO accounts(address_key, address, domain, password_hash)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            key,
            address.to_string(),
            address.domain().as_str(),
            password_hash
        ],
    )?;
    let id = AccountId(c.last_insert_rowid());
    mailboxes::create_defaults(c, id, now_unix)?;
    Ok(id)
}

/// The row id of the account whose normalized address is `key`.
pub(super) fn account_id(c: &Connection, key: &str) -> Result<Option<i64>> {
    Ok(
        c.prepare_cached("SELECT id FROM accounts WHERE address_key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?,
    )
}

/// Replaces an account's password hash.
pub(super) fn account_set_password(
    c: &Connection,
    address: &Address,
    password_hash: &str,
) -> Result<()> {
    let changed = c.execute(
        "UPDATE accounts SET password_hash = ?2 WHERE address_key = ?1",
        params![address.normalized(), password_hash],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("account {address}")));
    }
    Ok(())
}

/// Deletes an account with its mailboxes, messages, subscriptions and the aliases
/// pointing to it. Returns the body files no row references any more, for the caller
/// to delete after the commit.
pub(super) fn account_remove(c: &Connection, address: &Address) -> Result<Vec<String>> {
    let Some(id) = account_id(c, &address.normalized())? else {
        return Err(StoreError::NotFound(format!("account {address}")));
    };
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT m.blob_id FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id
         WHERE b.account_id = ?1",
    )?;
    let blobs = stmt
        .query_map([id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // Mailboxes with their messages and tombstones, its subscriptions and its aliases
    // go with it (ON DELETE CASCADE).
    c.execute("DELETE FROM accounts WHERE id = ?1", [id])?;
    unreferenced(c, blobs)
}

/// The columns [`account_row`] reads, in its order.
pub(super) const ACCOUNT_COLUMNS: &str = "id, address, password_hash, display_name, admin";

/// An account row as read: id, address, password hash, display name, admin flag.
pub(super) type AccountRow = (i64, String, String, Option<String>, i64);

/// Reads a row of [`ACCOUNT_COLUMNS`].
pub(super) fn account_row(row: &Row<'_>) -> rusqlite::Result<AccountRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

/// Checks an account row read back from disk and builds the [`Account`].
pub(super) fn account_from(
    (id, address, password_hash, display_name, admin): AccountRow,
) -> Result<Account> {
    let parsed = Address::parse(&address).map_err(|e| {
        StoreError::Damaged(format!("account {id} has a bad address {address:?}: {e}"))
    })?;
    let admin = match admin {
        0 => false,
        1 => true,
        other => {
            return Err(StoreError::Damaged(format!(
                "account {id} has admin flag {other}"
            )));
        }
    };
    Ok(Account {
        id: AccountId(id),
        address: parsed,
        password_hash,
        display_name,
        admin,
    })
}

/// All accounts, sorted by (normalized) address.
pub(super) fn account_list(c: &Connection) -> Result<Vec<Account>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY address_key"
    ))?;
    let rows = stmt
        .query_map([], account_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match account_from(row) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!(error = %e, "damaged account row left out");
                None
            }
        })
        .collect())
}

/// Looks an account up by address, case-insensitively.
pub(super) fn account_get(c: &Connection, address: &Address) -> Result<Option<Account>> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE address_key = ?1"
        ))?
        .query_row([address.normalized()], account_row)
        .optional()?;
    row.map(account_from).transpose()
}

/// Sets or clears the account's administrator flag.
pub(super) fn account_set_admin(c: &Connection, address: &Address, admin: bool) -> Result<()> {
    let changed = c
        .prepare_cached("UPDATE accounts SET admin = ?2 WHERE address_key = ?1")?
        .execute(params![address.normalized(), i64::from(admin)])?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("account {address}")));
    }
    Ok(())
}

/// Sets or (with `None`) clears the account's display name, checked first
/// ([`crate::check_display_name`]).
pub(super) fn account_set_display_name(
    c: &Connection,
    address: &Address,
    name: Option<&str>,
) -> Result<()> {
    if let Some(name) = name {
        crate::check_display_name(name)?;
    }
    let changed = c
        .prepare_cached("UPDATE accounts SET display_name = ?2 WHERE address_key = ?1")?
        .execute(params![address.normalized(), name])?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("account {address}")));
    }
    Ok(())
}
