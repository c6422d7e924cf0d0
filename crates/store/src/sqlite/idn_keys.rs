//! Schema version 8: re-keys domains, accounts and aliases to the canonical A-label form
//! of their domain.
//!
//! Where it sits: a migration step of [`super::schema`], run once, inside the migration
//! transaction, when a database older than version 8 is opened.
//!
//! Why: up to version 7, [`message::Domain::parse`] kept a domain as typed, so
//! `postie domain add 例子.中国` stored the key `例子.中国` and an account
//! `li@例子.中国` the key `li@例子.中国`. Since then every lookup uses the A-label form
//! (`xn--fsqu00a.xn--fiqs8s`, RFC 5890 §2.3.2.1), so such rows would no longer be found.
//! This step rewrites the keys: `domains.name`, `accounts.domain` and
//! `accounts.address_key`, `aliases.address`. The display columns (`accounts.address`,
//! `aliases.display`) keep what the administrator typed.
//!
//! A row that no longer parses, or whose new key is already taken (the same domain was
//! added in both spellings, which the old code allowed), is left as it was and logged:
//! the migration must never make a data directory unopenable. Queue rows need nothing:
//! they keep addresses as written, and reading them back normalises.

use message::{Address, Domain};
use rusqlite::{Connection, params};

use crate::Result;

/// Rewrites every key of version 7 to its canonical form (see the module docs).
pub(super) fn migrate(c: &Connection) -> Result<()> {
    domains(c)?;
    accounts(c)?;
    aliases(c)
}

/// `domains.name` and the `accounts.domain` references to it.
fn domains(c: &Connection) -> Result<()> {
    let names = c
        .prepare("SELECT name FROM domains")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for name in names {
        let key = match Domain::parse(&name) {
            Ok(d) if d.as_str() == name => continue,
            Ok(d) => d.as_str().to_owned(),
            Err(e) => {
                tracing::warn!(domain = %name, error = %e, "domain row left as it was");
                continue;
            }
        };
        // The canonical row may exist already (the domain was added in both spellings):
        // then the two merge. Child rows move before the old parent row goes.
        c.execute("INSERT OR IGNORE INTO domains(name) VALUES (?1)", [&key])?;
        c.execute(
            "UPDATE accounts SET domain = ?1 WHERE domain = ?2",
            [&key, &name],
        )?;
        c.execute("DELETE FROM domains WHERE name = ?1", [&name])?;
        tracing::info!(from = %name, to = %key, "domain re-keyed to its A-label form");
    }
    Ok(())
}

/// True when `key` is an account's or an alias's key already.
fn taken(c: &Connection, key: &str) -> Result<bool> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM accounts WHERE address_key = ?1
             UNION ALL SELECT 1 FROM aliases WHERE address = ?1",
    )?
    .exists([key])?)
}

/// `accounts.address_key`, from the address as added.
fn accounts(c: &Connection) -> Result<()> {
    let rows = c
        .prepare("SELECT id, address_key, address FROM accounts")?
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (id, old, address) in rows {
        let key = match Address::parse(&address) {
            Ok(a) if a.normalized() == old => continue,
            Ok(a) => a.normalized(),
            Err(e) => {
                tracing::warn!(id, %address, error = %e, "account row left as it was");
                continue;
            }
        };
        if taken(c, &key)? {
            tracing::warn!(id, %address, %key, "account key taken by another row; left as it was");
            continue;
        }
        c.execute(
            "UPDATE accounts SET address_key = ?1 WHERE id = ?2",
            params![key, id],
        )?;
    }
    Ok(())
}

/// `aliases.address`, from the alias as added.
fn aliases(c: &Connection) -> Result<()> {
    let rows = c
        .prepare("SELECT address, display FROM aliases")?
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (old, written) in rows {
        let key = match Address::parse(&written) {
            Ok(a) if a.normalized() == old => continue,
            Ok(a) => a.normalized(),
            Err(e) => {
                tracing::warn!(alias = %written, error = %e, "alias row left as it was");
                continue;
            }
        };
        if taken(c, &key)? {
            tracing::warn!(alias = %written, %key, "alias key taken by another row; left as it was");
            continue;
        }
        c.execute(
            "UPDATE aliases SET address = ?1 WHERE address = ?2",
            [&key, &old],
        )?;
    }
    Ok(())
}
