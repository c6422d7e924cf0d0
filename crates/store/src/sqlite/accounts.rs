//! SQL for domains, accounts and mailboxes: plain functions over a [`Connection`].
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
use super::queue::unreferenced;
use crate::{Account, AccountId, Mailbox, MailboxId, Result, StoreError};

/// The name of the mailbox every account starts with (RFC 3501 §5.1: case-insensitive,
/// always spelled this way here).
pub(crate) const INBOX: &str = "INBOX";

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

/// The UIDVALIDITY for a new mailbox: the current time in seconds, but always above
/// every value handed out before, so a mailbox deleted and re-created with the same
/// name never reuses one (RFC 3501 §2.3.1.1). Never zero (it is an nz-number).
fn next_uid_validity(c: &Connection, now_unix: i64) -> Result<u32> {
    let last: i64 = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'last_uid_validity'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    let now = u32::try_from(now_unix.max(1)).unwrap_or(u32::MAX);
    let after_last = u32::try_from(last.saturating_add(1)).unwrap_or(u32::MAX);
    let value = now.max(after_last).max(1);
    c.execute(
        "INSERT INTO meta(key, value) VALUES ('last_uid_validity', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [i64::from(value)],
    )?;
    Ok(value)
}

/// Creates an account and its INBOX.
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
    let id = c.last_insert_rowid();
    let uid_validity = next_uid_validity(c, now_unix)?;
    // UIDs start at 1 (RFC 3501 §2.3.1.1: UIDs are non-zero).
    c.execute(
        "INSERT INTO mailboxes(account_id, name, uid_validity, uid_next) VALUES (?1, ?2, ?3, 1)",
        params![id, INBOX, i64::from(uid_validity)],
    )?;
    Ok(AccountId(id))
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

/// Deletes an account with its mailboxes, messages and the aliases pointing to it.
/// Returns the body files no row
/// references any more, for the caller to delete after the commit.
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
    // Mailboxes, their messages and its aliases go with it (ON DELETE CASCADE).
    c.execute("DELETE FROM accounts WHERE id = ?1", [id])?;
    unreferenced(c, blobs)
}

/// Builds an [`Account`] from `SELECT id, address, password_hash`.
pub(super) fn account_row(row: &Row<'_>) -> rusqlite::Result<(i64, String, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}

/// Checks an account row read back from disk.
pub(super) fn account_from(id: i64, address: &str, password_hash: String) -> Result<Account> {
    let address = Address::parse(address).map_err(|e| {
        StoreError::Damaged(format!("account {id} has a bad address {address:?}: {e}"))
    })?;
    Ok(Account {
        id: AccountId(id),
        address,
        password_hash,
    })
}

/// All accounts, sorted by (normalized) address.
pub(super) fn account_list(c: &Connection) -> Result<Vec<Account>> {
    let mut stmt =
        c.prepare_cached("SELECT id, address, password_hash FROM accounts ORDER BY address_key")?;
    let rows = stmt
        .query_map([], account_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(id, address, hash)| match account_from(id, &address, hash) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::error!(error = %e, "damaged account row left out");
                    None
                }
            },
        )
        .collect())
}

/// Looks an account up by address, case-insensitively.
pub(super) fn account_get(c: &Connection, address: &Address) -> Result<Option<Account>> {
    let row = c
        .prepare_cached("SELECT id, address, password_hash FROM accounts WHERE address_key = ?1")?
        .query_row([address.normalized()], account_row)
        .optional()?;
    row.map(|(id, address, hash)| account_from(id, &address, hash))
        .transpose()
}

/// Reads a stored UID counter, which must fit IMAP's 32 bits.
pub(super) fn uid_from(value: i64, what: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| StoreError::Damaged(format!("{what} {value} out of range")))
}

/// The account's mailboxes in creation order; `NotFound` for an unknown account.
pub(super) fn mailbox_list(c: &Connection, account: AccountId) -> Result<Vec<Mailbox>> {
    let known = c
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([account.0])?;
    if !known {
        return Err(StoreError::NotFound(format!("account {}", account.0)));
    }
    let mut stmt = c.prepare_cached(
        "SELECT id, name, uid_validity, uid_next FROM mailboxes WHERE account_id = ?1
         ORDER BY id",
    )?;
    let rows = stmt
        .query_map([account.0], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, name, validity, next)| {
            Ok(Mailbox {
                id: MailboxId(id),
                name,
                uid_validity: uid_from(validity, "UIDVALIDITY")?,
                uid_next: uid_from(next, "UIDNEXT")?,
            })
        })
        .collect()
}

/// True when the mailbox exists.
pub(super) fn mailbox_exists(c: &Connection, mailbox: MailboxId) -> Result<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM mailboxes WHERE id = ?1")?
        .exists([mailbox.0])?)
}
