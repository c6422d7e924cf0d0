//! SQL for IMAP access control lists (RFC 4314): setting and listing a mailbox's
//! entries, and the mailboxes other accounts share with one account.
//!
//! Where it sits: [`super::SqliteStore`] runs [`set`] on the writer thread (inside its
//! group-committed transaction, so the checks and the change are one step) and the
//! lookups on a pooled reader. The table is `mailbox_acl` (schema version 10): one row
//! per (mailbox, grantee), `grantee_id` NULL for `anyone`; the owner is never stored.
//! Rows go with their mailbox and with either account (ON DELETE CASCADE); a rename
//! keeps them, as they are keyed by mailbox id.
//!
//! [`union_rights`] is shared with the memory backend, so both normalise the same way.

use message::Address;
use rusqlite::{Connection, OptionalExtension, params};

use super::mailboxes::{COLUMNS, RawMailbox, mailbox_from, raw_at};
use crate::{AccountId, AclEntry, Grantee, MailboxId, Result, SharedMailbox, StoreError};

/// RFC 4314 §2.1's rights, in the order it lists them.
const ORDER: &str = "lrswipkxtea";

/// The letters of every part together, each once: those of [`ORDER`] in that order,
/// then any other in the order first seen. See [`SharedMailbox::rights`].
pub(crate) fn union_rights(parts: &[&str]) -> String {
    let mut out: String = ORDER
        .chars()
        .filter(|r| parts.iter().any(|p| p.contains(*r)))
        .collect();
    for c in parts.iter().flat_map(|p| p.chars()) {
        if !out.contains(c) {
            out.push(c);
        }
    }
    out
}

/// The owner's account id of `mailbox`, or `NotFound`.
fn owner_of(c: &Connection, mailbox: MailboxId) -> Result<i64> {
    c.prepare_cached("SELECT account_id FROM mailboxes WHERE id = ?1")?
        .query_row([mailbox.0], |r| r.get(0))
        .optional()?
        .ok_or_else(StoreError::mailbox_gone)
}

/// `NotFound` unless the account exists.
fn known_account(c: &Connection, account: AccountId) -> Result<()> {
    let known = c
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([account.0])?;
    if known {
        Ok(())
    } else {
        Err(StoreError::account_gone())
    }
}

/// Sets (or with empty `rights` removes) an entry; see [`crate::Store::acl_set`].
/// `Invalid` for the owner, who always has every right and is never stored.
pub(super) fn set(
    c: &Connection,
    mailbox: MailboxId,
    grantee: Grantee,
    rights: &str,
) -> Result<()> {
    let owner = owner_of(c, mailbox)?;
    let grantee_id = match grantee {
        Grantee::Anyone => None,
        Grantee::Account(account) => {
            known_account(c, account)?;
            if account.0 == owner {
                return Err(StoreError::Invalid(
                    "the owner always has every right on a mailbox".into(),
                ));
            }
            Some(account.0)
        }
    };
    c.prepare_cached("DELETE FROM mailbox_acl WHERE mailbox_id = ?1 AND grantee_id IS ?2")?
        .execute(params![mailbox.0, grantee_id])?;
    if !rights.is_empty() {
        c.prepare_cached(
            "INSERT INTO mailbox_acl(mailbox_id, grantee_id, rights) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![mailbox.0, grantee_id, rights])?;
    }
    Ok(())
}

/// The mailbox's entries, `anyone` first, then accounts by address; see
/// [`crate::Store::acl_list`].
pub(super) fn list(c: &Connection, mailbox: MailboxId) -> Result<Vec<AclEntry>> {
    owner_of(c, mailbox)?;
    let rows = c
        .prepare_cached(
            "SELECT e.grantee_id, a.address, e.rights
             FROM mailbox_acl e LEFT JOIN accounts a ON a.id = e.grantee_id
             WHERE e.mailbox_id = ?1
             ORDER BY e.grantee_id IS NOT NULL, a.address_key",
        )?
        .query_map([mailbox.0], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(grantee, address, rights)| {
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

/// One row of [`shared_with`]'s query.
type RawShared = (i64, String, RawMailbox, Option<String>, Option<String>);

/// Other accounts' mailboxes with an entry for `account` or `anyone`, in one query;
/// see [`crate::Store::acl_shared_with`].
pub(super) fn shared_with(c: &Connection, account: AccountId) -> Result<Vec<SharedMailbox>> {
    known_account(c, account)?;
    // Driven by the entries (index `mailbox_acl_grantee`), one group per mailbox; the
    // mailbox columns are those `mailboxes::list` reads, subscription the owner's.
    let sql = format!(
        "SELECT o.id, o.address, {COLUMNS},
                max(CASE WHEN e.grantee_id = ?1 THEN e.rights END),
                max(CASE WHEN e.grantee_id IS NULL THEN e.rights END)
         FROM mailbox_acl e
         JOIN mailboxes m ON m.id = e.mailbox_id
         JOIN accounts o ON o.id = m.account_id
         WHERE (e.grantee_id = ?1 OR e.grantee_id IS NULL) AND m.account_id <> ?1
         GROUP BY m.id
         ORDER BY o.address_key, m.id"
    );
    let rows = c
        .prepare_cached(&sql)?
        .query_map([account.0], |r| {
            Ok((r.get(0)?, r.get(1)?, raw_at(r, 2)?, r.get(10)?, r.get(11)?))
        })?
        .collect::<rusqlite::Result<Vec<RawShared>>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (owner, address, mailbox, mine, anyone) in rows {
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
            mailbox: mailbox_from(mailbox)?,
            rights,
            anyone: anyone.is_some(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{SqliteStore, schema};
    use super::*;
    use crate::Store;

    #[test]
    fn union_is_ordered_and_deduplicated() {
        assert_eq!(union_rights(&["lr", "rl"]), "lr");
        assert_eq!(union_rights(&["aetl", "rsw"]), "lrswtea");
        assert_eq!(union_rights(&["z1l", "yz"]), "lz1y");
        assert_eq!(union_rights(&["", ""]), "");
    }

    /// A version-9 database (before access control lists) migrates: the table is
    /// there, empty, and works, with its cascades.
    #[tokio::test]
    async fn migrates_a_version_9_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let c = schema::create_at_version(&dir.path().join("postie.db"), 9).expect("v9");
            c.execute_batch(
                "INSERT INTO domains(name) VALUES ('example.org');
                 INSERT INTO accounts(id, address_key, address, domain, password_hash)
                     VALUES (7, 'alice@example.org', 'Alice@example.org', 'example.org', 'h'),
                            (8, 'bob@example.org', 'bob@example.org', 'example.org', 'h');
                 INSERT INTO mailboxes(id, account_id, name, uid_validity, uid_next)
                     VALUES (9, 7, 'INBOX', 999, 1), (10, 7, 'Team', 1000, 1),
                            (11, 8, 'INBOX', 1001, 1);",
            )
            .expect("v9 rows");
        }
        let s = SqliteStore::open(dir.path()).expect("open migrates");
        let version: i64 = s
            .read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .await
            .expect("version");
        assert_eq!(version, schema::SCHEMA_VERSION);
        let (alice, bob, team) = (AccountId(7), AccountId(8), MailboxId(10));
        assert!(s.acl_list(team).await.expect("list").is_empty());
        assert!(s.acl_shared_with(bob).await.expect("shared").is_empty());
        s.acl_set(team, Grantee::Account(bob), "lr")
            .await
            .expect("set");
        s.acl_set(team, Grantee::Anyone, "l").await.expect("anyone");
        let shared = s.acl_shared_with(bob).await.expect("shared");
        assert_eq!(shared.len(), 1);
        assert_eq!(shared[0].owner, alice);
        assert_eq!(shared[0].owner_address.to_string(), "Alice@example.org");
        assert_eq!(shared[0].mailbox.name, "Team");
        assert_eq!(shared[0].rights, "lr");
        assert!(shared[0].anyone);
        // One `anyone` row per mailbox, enforced by the index, not just by `set`.
        let again = s
            .write(|c| {
                c.execute(
                    "INSERT INTO mailbox_acl(mailbox_id, grantee_id, rights) VALUES (10, NULL, 'r')",
                    [],
                )?;
                Ok(())
            })
            .await;
        assert!(again.is_err(), "{again:?}");
        s.account_remove(&Address::parse("bob@example.org").expect("address"))
            .await
            .expect("remove bob");
        let rows: i64 = s
            .read(|c| Ok(c.query_row("SELECT count(*) FROM mailbox_acl", [], |r| r.get(0))?))
            .await
            .expect("count");
        assert_eq!(
            rows, 1,
            "bob's entry went with his account, anyone's stayed"
        );
    }
}
