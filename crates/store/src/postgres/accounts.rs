//! Domains and accounts on PostgreSQL (the trait methods `domain_*`, `account_*` and
//! `resolve_recipient` of [`super::PgStore`]), with the lookups `aliases` and
//! `app_passwords` share. Mailboxes are in the sibling module `mailboxes`.
//!
//! Where it sits: each trait method takes a pooled connection; writes run in one
//! transaction. The embedded store makes check-then-insert atomic with its single
//! writer; here several nodes write at once, so:
//! - an address is an account or an alias, never both: [`lock_address`] takes a
//!   transaction-level advisory lock on the normalized address before the check, in
//!   `account_add` and `alias_add` alike, and the unique key catches two accounts;
//! - a domain is removed only without accounts and aliases: `domain_remove` locks the
//!   domain's row first (`FOR UPDATE`), and `account_add` / `alias_add` hold it
//!   `FOR KEY SHARE` from their check to their commit ([`lock_domain`]), so either the
//!   removal sees the new row or the addition sees the domain gone;
//! - `account_remove` locks the account, then its mailboxes in id order (the order
//!   quota checks and COPY/MOVE take), so no filing slips a message in between reading
//!   the bodies to release and deleting the rows.
//!
//! Keys are normalized as the embedded store's (see `crate::sqlite::idn_keys`):
//! `domains.name` and `accounts.domain` are [`Domain::as_str`] (A-labels),
//! `accounts.address_key` is [`Address::normalized`]; `accounts.address` keeps the
//! address as added. Rows read back are validated: an address or domain that no longer
//! parses is [`StoreError::Damaged`] for a single lookup, and is logged and left out of
//! a listing (one damaged row must not hide every other account).

use deadpool_postgres::GenericClient;
use message::{Address, Domain};
use tokio_postgres::Row;

use super::aliases::count_in_domain;
use super::mailboxes;
use super::{PgStore, db_err, is_foreign_key_violation, is_unique_violation, now_unix};
use crate::{Account, AccountId, Result, StoreError};

/// The columns [`account_from_row`] reads.
pub(super) const ACCOUNT_COLUMNS: &str = "id, address, password_hash, display_name, admin";

/// Takes the transaction-level advisory lock of the normalized address `key`, held
/// until commit: account and alias additions of one address run one after the other.
pub(super) async fn lock_address(c: &impl GenericClient, key: &str) -> Result<()> {
    let stmt = c
        .prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended('address:' || $1::text, 0))")
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&key]).await.map_err(db_err)?;
    Ok(())
}

/// True when `domain` is local, holding its row `FOR KEY SHARE` until the transaction
/// ends, so a concurrent `domain_remove` waits and then sees what this one added.
pub(super) async fn lock_domain(c: &impl GenericClient, domain: &Domain) -> Result<bool> {
    let stmt = c
        .prepare_cached("SELECT 1 FROM domains WHERE name = $1 FOR KEY SHARE")
        .await
        .map_err(db_err)?;
    Ok(c.query_opt(&stmt, &[&domain.as_str()])
        .await
        .map_err(db_err)?
        .is_some())
}

/// The row id of the account whose normalized address is `key`.
pub(super) async fn account_id(c: &impl GenericClient, key: &str) -> Result<Option<i64>> {
    let stmt = c
        .prepare_cached("SELECT id FROM accounts WHERE address_key = $1")
        .await
        .map_err(db_err)?;
    let row = c.query_opt(&stmt, &[&key]).await.map_err(db_err)?;
    row.map(|r| r.try_get(0).map_err(db_err)).transpose()
}

/// Checks an account row read back and builds the [`Account`].
pub(super) fn account_from(
    id: i64,
    address: &str,
    password_hash: String,
    display_name: Option<String>,
    admin: bool,
) -> Result<Account> {
    let address = Address::parse(address).map_err(|e| {
        StoreError::Damaged(format!("account {id} has a bad address {address:?}: {e}"))
    })?;
    Ok(Account {
        id: AccountId(id),
        address,
        password_hash,
        display_name,
        admin,
    })
}

/// Builds an [`Account`] from a row of [`ACCOUNT_COLUMNS`].
pub(super) fn account_from_row(row: &Row) -> Result<Account> {
    let id: i64 = row.try_get(0).map_err(db_err)?;
    let address: String = row.try_get(1).map_err(db_err)?;
    let hash: String = row.try_get(2).map_err(db_err)?;
    let display_name: Option<String> = row.try_get(3).map_err(db_err)?;
    let admin: bool = row.try_get(4).map_err(db_err)?;
    account_from(id, &address, hash, display_name, admin)
}

/// Sets or clears the account's administrator flag; `NotFound` for an unknown account.
pub(super) async fn account_set_admin(s: &PgStore, address: &Address, admin: bool) -> Result<()> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached("UPDATE accounts SET admin = $2 WHERE address_key = $1")
        .await
        .map_err(db_err)?;
    let changed = c
        .execute(&stmt, &[&address.normalized(), &admin])
        .await
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("account {address}")));
    }
    Ok(())
}

/// Sets or (with `None`) clears the account's display name, checked first
/// ([`crate::check_display_name`]); `NotFound` for an unknown account.
pub(super) async fn account_set_display_name(
    s: &PgStore,
    address: &Address,
    name: Option<&str>,
) -> Result<()> {
    if let Some(name) = name {
        crate::check_display_name(name)?;
    }
    let c = s.client().await?;
    let stmt = c
        .prepare_cached("UPDATE accounts SET display_name = $2 WHERE address_key = $1")
        .await
        .map_err(db_err)?;
    let changed = c
        .execute(&stmt, &[&address.normalized(), &name])
        .await
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("account {address}")));
    }
    Ok(())
}

/// Adds a local domain; `Exists` when it is one already.
pub(super) async fn domain_add(s: &PgStore, domain: &Domain) -> Result<()> {
    let c = s.client().await?;
    let added = c
        .execute(
            "INSERT INTO domains(name) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&domain.as_str()],
        )
        .await
        .map_err(db_err)?;
    if added == 0 {
        return Err(StoreError::Exists(format!("domain {domain}")));
    }
    Ok(())
}

/// Removes a local domain that has no accounts or aliases left.
pub(super) async fn domain_remove(s: &PgStore, domain: &Domain) -> Result<()> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    // The row lock first: an account_add or alias_add under way holds the row
    // FOR KEY SHARE, so this waits for it and the counts below see its row.
    let known = tx
        .query_opt(
            "SELECT 1 FROM domains WHERE name = $1 FOR UPDATE",
            &[&domain.as_str()],
        )
        .await
        .map_err(db_err)?
        .is_some();
    if !known {
        return Err(StoreError::NotFound(format!("domain {domain}")));
    }
    let accounts: i64 = tx
        .query_one(
            "SELECT count(*) FROM accounts WHERE domain = $1",
            &[&domain.as_str()],
        )
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)?;
    if accounts > 0 {
        return Err(StoreError::Invalid(format!(
            "domain {domain} still has {accounts} account(s)"
        )));
    }
    let aliases = count_in_domain(&tx, domain).await?;
    if aliases > 0 {
        return Err(StoreError::Invalid(format!(
            "domain {domain} still has {aliases} alias(es)"
        )));
    }
    tx.execute("DELETE FROM domains WHERE name = $1", &[&domain.as_str()])
        .await
        .map_err(db_err)?;
    super::commit(tx).await
}

/// All local domains, sorted.
pub(super) async fn domain_list(s: &PgStore) -> Result<Vec<Domain>> {
    let c = s.client().await?;
    let rows = c
        .query("SELECT name FROM domains ORDER BY name", &[])
        .await
        .map_err(db_err)?;
    let mut domains = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get(0).map_err(db_err)?;
        match Domain::parse(&name) {
            Ok(d) => domains.push(d),
            Err(e) => tracing::error!(domain = %name, error = %e, "damaged domain row left out"),
        }
    }
    domains.sort();
    Ok(domains)
}

/// True when `domain` is local.
pub(super) async fn domain_is_local(s: &PgStore, domain: &Domain) -> Result<bool> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached("SELECT 1 FROM domains WHERE name = $1")
        .await
        .map_err(db_err)?;
    Ok(c.query_opt(&stmt, &[&domain.as_str()])
        .await
        .map_err(db_err)?
        .is_some())
}

/// Creates an account with its INBOX and special-use mailboxes (RFC 6154), all
/// subscribed.
pub(super) async fn account_add(
    s: &PgStore,
    address: &Address,
    password_hash: &str,
) -> Result<AccountId> {
    let not_local = || StoreError::Invalid(format!("{} is not a local domain", address.domain()));
    let key = address.normalized();
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    if !lock_domain(&tx, address.domain()).await? {
        return Err(not_local());
    }
    lock_address(&tx, &key).await?;
    if account_id(&tx, &key).await?.is_some() {
        return Err(StoreError::Exists(format!("account {address}")));
    }
    if super::aliases::alias_exists(&tx, &key).await? {
        return Err(StoreError::Exists(format!("alias {address}")));
    }
    let row = tx
        .query_one(
            "INSERT INTO accounts(address_key, address, domain, password_hash)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[
                &key,
                &address.to_string(),
                &address.domain().as_str(),
                &password_hash,
            ],
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Exists(format!("account {address}"))
            } else if is_foreign_key_violation(&e) {
                not_local()
            } else {
                db_err(e)
            }
        })?;
    let id = AccountId(row.try_get(0).map_err(db_err)?);
    mailboxes::create_defaults(&tx, id, now_unix()).await?;
    super::commit(tx).await?;
    Ok(id)
}

/// Replaces an account's password hash.
pub(super) async fn account_set_password(
    s: &PgStore,
    address: &Address,
    password_hash: &str,
) -> Result<()> {
    let c = s.client().await?;
    let changed = c
        .execute(
            "UPDATE accounts SET password_hash = $2 WHERE address_key = $1",
            &[&address.normalized(), &password_hash],
        )
        .await
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("account {address}")));
    }
    Ok(())
}

/// Deletes an account with its mailboxes, messages, subscriptions, app passwords and
/// the aliases pointing to it; after the commit, releases the bodies no row names any
/// more.
pub(super) async fn account_remove(s: &PgStore, address: &Address) -> Result<()> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let Some(row) = tx
        .query_opt(
            "SELECT id FROM accounts WHERE address_key = $1 FOR UPDATE",
            &[&address.normalized()],
        )
        .await
        .map_err(db_err)?
    else {
        return Err(StoreError::NotFound(format!("account {address}")));
    };
    let id: i64 = row.try_get(0).map_err(db_err)?;
    // Its mailboxes' rows, in id order: a filing under way finishes first, and none
    // starts until the rows are gone.
    tx.execute(
        "SELECT id FROM mailboxes WHERE account_id = $1 ORDER BY id FOR UPDATE",
        &[&id],
    )
    .await
    .map_err(db_err)?;
    let blobs: Vec<String> = tx
        .query(
            "SELECT DISTINCT m.blob_id FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id
             WHERE b.account_id = $1",
            &[&id],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| r.try_get(0).map_err(db_err))
        .collect::<Result<_>>()?;
    // Mailboxes with their messages and tombstones, its subscriptions, app passwords
    // and aliases go with it (ON DELETE CASCADE).
    tx.execute("DELETE FROM accounts WHERE id = $1", &[&id])
        .await
        .map_err(db_err)?;
    let freed = super::unreferenced(&tx, &blobs).await?;
    super::commit(tx).await?;
    s.release(freed).await;
    Ok(())
}

/// Builds the accounts of `rows`, logging and leaving out damaged ones.
fn accounts_from(rows: &[Row]) -> Vec<Account> {
    rows.iter()
        .filter_map(|row| match account_from_row(row) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!(error = %e, "damaged account row left out");
                None
            }
        })
        .collect()
}

/// All accounts, sorted by (normalized) address.
pub(super) async fn account_list(s: &PgStore) -> Result<Vec<Account>> {
    let c = s.client().await?;
    let rows = c
        .query(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY address_key"),
            &[],
        )
        .await
        .map_err(db_err)?;
    Ok(accounts_from(&rows))
}

/// Looks an account up by address, case-insensitively.
pub(super) async fn account_get(s: &PgStore, address: &Address) -> Result<Option<Account>> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE address_key = $1"
        ))
        .await
        .map_err(db_err)?;
    let row = c
        .query_opt(&stmt, &[&address.normalized()])
        .await
        .map_err(db_err)?;
    row.as_ref().map(account_from_row).transpose()
}

/// The account mail for `address` goes to: the account with that address, else the one
/// an alias with that address points to. One statement, so one consistent snapshot.
pub(super) async fn resolve_recipient(s: &PgStore, address: &Address) -> Result<Option<Account>> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts
             WHERE address_key = $1
                OR id = (SELECT account_id FROM aliases WHERE address = $1)
             ORDER BY address_key = $1 DESC
             LIMIT 1"
        ))
        .await
        .map_err(db_err)?;
    let row = c
        .query_opt(&stmt, &[&address.normalized()])
        .await
        .map_err(db_err)?;
    row.as_ref().map(account_from_row).transpose()
}
