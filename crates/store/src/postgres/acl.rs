//! PostgreSQL SQL for IMAP access control lists (RFC 4314): setting and listing a
//! mailbox's entries, and the mailboxes other accounts share with one account.
//!
//! Where it sits: [`super::PgStore`]'s `acl_*` trait methods delegate here. The table
//! is `mailbox_acl`: one row per (mailbox, grantee), `grantee_id` NULL for `anyone`
//! (the unique index on `coalesce(grantee_id, 0)` keeps one `anyone` row per
//! mailbox); the owner is never stored. Rows go with their mailbox and with either
//! account (ON DELETE CASCADE); a rename keeps them, as they are keyed by mailbox id.
//! The semantics (errors, ordering, the rights' merge order) are the embedded store's
//! (`crate::sqlite::acl`), whose [`union_rights`] both use.

use message::Address;

use super::mailboxes::{COLUMNS, mailbox_from_row};
use super::{PgStore, db_err};
use crate::sqlite::acl::union_rights;
use crate::*;

/// A column that did not read as its type: the row is damaged.
fn damaged(e: tokio_postgres::Error) -> StoreError {
    StoreError::Damaged(format!("access control row: {e}"))
}

/// The owner's account id of `mailbox`, or `NotFound`. With `lock`, holds the row with
/// `FOR KEY SHARE` until the transaction ends: the mailbox cannot be deleted meanwhile,
/// yet appends and flag changes (which update the row's counters, not its key) go on.
async fn owner_of(
    c: &impl deadpool_postgres::GenericClient,
    mailbox: MailboxId,
    lock: bool,
) -> Result<i64> {
    let sql = if lock {
        "SELECT account_id FROM mailboxes WHERE id = $1 FOR KEY SHARE"
    } else {
        "SELECT account_id FROM mailboxes WHERE id = $1"
    };
    let stmt = c.prepare_cached(sql).await.map_err(db_err)?;
    let row = c
        .query_opt(&stmt, &[&mailbox.0])
        .await
        .map_err(db_err)?
        .ok_or_else(StoreError::mailbox_gone)?;
    row.try_get(0).map_err(damaged)
}

/// `NotFound` unless the account exists.
async fn known_account(
    c: &impl deadpool_postgres::GenericClient,
    account: AccountId,
) -> Result<()> {
    let stmt = c
        .prepare_cached("SELECT 1 FROM accounts WHERE id = $1")
        .await
        .map_err(db_err)?;
    match c.query_opt(&stmt, &[&account.0]).await.map_err(db_err)? {
        Some(_) => Ok(()),
        None => Err(StoreError::account_gone()),
    }
}

/// Sets (or with empty `rights` removes) an entry; see [`crate::Store::acl_set`].
/// `Invalid` for the owner, who always has every right and is never stored.
pub(super) async fn acl_set(
    s: &PgStore,
    mailbox: MailboxId,
    grantee: Grantee,
    rights: &str,
) -> Result<()> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db_err)?;
    let owner = owner_of(&tx, mailbox, true).await?;
    let grantee_id = match grantee {
        Grantee::Anyone => None,
        Grantee::Account(account) => {
            known_account(&tx, account).await?;
            if account.0 == owner {
                return Err(StoreError::Invalid(
                    "the owner always has every right on a mailbox".into(),
                ));
            }
            Some(account.0)
        }
    };
    if rights.is_empty() {
        tx.execute(
            "DELETE FROM mailbox_acl
             WHERE mailbox_id = $1 AND grantee_id IS NOT DISTINCT FROM $2",
            &[&mailbox.0, &grantee_id],
        )
        .await
        .map_err(db_err)?;
    } else {
        // One upsert on the unique (mailbox, grantee) index: two nodes setting the same
        // entry at once leave one row, the later one's.
        tx.execute(
            "INSERT INTO mailbox_acl(mailbox_id, grantee_id, rights) VALUES ($1, $2, $3)
             ON CONFLICT (mailbox_id, coalesce(grantee_id, 0))
             DO UPDATE SET rights = EXCLUDED.rights",
            &[&mailbox.0, &grantee_id, &rights],
        )
        .await
        .map_err(|e| {
            if super::is_foreign_key_violation(&e) {
                // The grantee's account went between the check and the insert (the
                // mailbox's row is held).
                StoreError::account_gone()
            } else {
                db_err(e)
            }
        })?;
    }
    super::commit(tx).await
}

/// The mailbox's entries, `anyone` first, then accounts by address; see
/// [`crate::Store::acl_list`].
pub(super) async fn acl_list(s: &PgStore, mailbox: MailboxId) -> Result<Vec<AclEntry>> {
    let c = s.client().await?;
    owner_of(&c, mailbox, false).await?;
    let stmt = c
        .prepare_cached(
            "SELECT e.grantee_id, a.address, e.rights
             FROM mailbox_acl e LEFT JOIN accounts a ON a.id = e.grantee_id
             WHERE e.mailbox_id = $1
             ORDER BY e.grantee_id IS NOT NULL, a.address_key",
        )
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[&mailbox.0]).await.map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let grantee: Option<i64> = r.try_get(0).map_err(damaged)?;
            let address: Option<String> = r.try_get(1).map_err(damaged)?;
            let rights: String = r.try_get(2).map_err(damaged)?;
            let (grantee, identifier) = match (grantee, address) {
                (None, _) => (Grantee::Anyone, "anyone".to_owned()),
                (Some(id), Some(address)) => (Grantee::Account(AccountId(id)), address),
                (Some(id), None) => {
                    return Err(StoreError::Damaged(format!(
                        "access control entry for missing account {id}"
                    )));
                }
            };
            Ok(AclEntry {
                grantee,
                identifier,
                rights,
            })
        })
        .collect()
}

/// Other accounts' mailboxes with an entry for `account` or `anyone`, in one query;
/// see [`crate::Store::acl_shared_with`].
pub(super) async fn acl_shared_with(s: &PgStore, account: AccountId) -> Result<Vec<SharedMailbox>> {
    let c = s.client().await?;
    known_account(&c, account).await?;
    // Driven by the entries (index `mailbox_acl_grantee`), one group per mailbox; the
    // mailbox columns are those the mailbox listing reads, subscription the owner's.
    let sql = format!(
        "SELECT o.id, o.address, {COLUMNS},
                max(CASE WHEN e.grantee_id = $1 THEN e.rights END),
                max(CASE WHEN e.grantee_id IS NULL THEN e.rights END)
         FROM mailbox_acl e
         JOIN mailboxes m ON m.id = e.mailbox_id
         JOIN accounts o ON o.id = m.account_id
         WHERE (e.grantee_id = $1 OR e.grantee_id IS NULL) AND m.account_id <> $1
         GROUP BY m.id, o.id
         ORDER BY o.address_key, m.id"
    );
    let stmt = c.prepare_cached(&sql).await.map_err(db_err)?;
    let rows = c.query(&stmt, &[&account.0]).await.map_err(db_err)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let owner: i64 = r.try_get(0).map_err(damaged)?;
        let address: String = r.try_get(1).map_err(damaged)?;
        let mine: Option<String> = r.try_get(10).map_err(damaged)?;
        let anyone: Option<String> = r.try_get(11).map_err(damaged)?;
        let rights = union_rights(&[
            mine.as_deref().unwrap_or(""),
            anyone.as_deref().unwrap_or(""),
        ]);
        if rights.is_empty() {
            continue;
        }
        let owner_address = Address::parse(&address).map_err(|e| {
            StoreError::Damaged(format!(
                "account {owner} has a bad address {address:?}: {e}"
            ))
        })?;
        out.push(SharedMailbox {
            owner: AccountId(owner),
            owner_address,
            mailbox: mailbox_from_row(r, 2)?,
            rights,
            anyone: anyone.is_some(),
        });
    }
    Ok(out)
}
