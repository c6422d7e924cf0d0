//! IMAP access control lists (RFC 4314) for [`super::MemoryStore`], as methods on the
//! locked state: the same contract as the SQLite backend's `sqlite/acl.rs`, held to it
//! by the behaviour suite (`src/suite/acl.rs`).
//!
//! Where it sits: entries live in `State::acl` by mailbox id, then grantee (`None` for
//! `anyone`); the owner is never stored. What SQLite's ON DELETE CASCADE does,
//! [`State::acl_prune`] does here: `memory.rs` calls it after a mailbox or an account
//! goes. A rename keeps the entries (they are by id).

use super::State;
use crate::sqlite::acl::union_rights;
use crate::{AccountId, AclEntry, Grantee, MailboxId, Result, SharedMailbox, StoreError};

impl State {
    /// Sets (or with empty `rights` removes) an entry; see [`crate::Store::acl_set`].
    pub(super) fn acl_set(
        &mut self,
        mailbox: MailboxId,
        grantee: Grantee,
        rights: &str,
    ) -> Result<()> {
        let owner = self.folder(mailbox)?.account;
        let key = match grantee {
            Grantee::Anyone => None,
            Grantee::Account(account) => {
                if !self.accounts.contains_key(&account.0) {
                    return Err(StoreError::account_gone());
                }
                if account == owner {
                    return Err(StoreError::Invalid(
                        "the owner always has every right on a mailbox".into(),
                    ));
                }
                Some(account.0)
            }
        };
        let entries = self.acl.entry(mailbox.0).or_default();
        if rights.is_empty() {
            entries.remove(&key);
            if entries.is_empty() {
                self.acl.remove(&mailbox.0);
            }
        } else {
            entries.insert(key, rights.to_owned());
        }
        Ok(())
    }

    /// The mailbox's entries, `anyone` first, then accounts by address.
    pub(super) fn acl_list(&self, mailbox: MailboxId) -> Result<Vec<AclEntry>> {
        self.folder(mailbox)?;
        let mut out: Vec<(String, AclEntry)> = Vec::new();
        for (grantee, rights) in self.acl.get(&mailbox.0).into_iter().flatten() {
            let (key, grantee, identifier) = match grantee {
                None => (String::new(), Grantee::Anyone, "anyone".to_owned()),
                Some(id) => {
                    let account = self.accounts.get(id).ok_or_else(|| {
                        StoreError::Damaged(format!(
                            "access control entry for missing account {id}"
                        ))
                    })?;
                    (
                        // Never empty, so after `anyone`.
                        account.address.normalized(),
                        Grantee::Account(AccountId(*id)),
                        account.address.to_string(),
                    )
                }
            };
            out.push((
                key,
                AclEntry {
                    grantee,
                    identifier,
                    rights: rights.clone(),
                },
            ));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out.into_iter().map(|(_, e)| e).collect())
    }

    /// Other accounts' mailboxes with an entry for `account` or `anyone`.
    pub(super) fn acl_shared_with(&self, account: AccountId) -> Result<Vec<SharedMailbox>> {
        if !self.accounts.contains_key(&account.0) {
            return Err(StoreError::account_gone());
        }
        let mut out: Vec<(String, i64, SharedMailbox)> = Vec::new();
        for (mailbox, entries) in &self.acl {
            let Some(folder) = self.folders.get(mailbox) else {
                continue;
            };
            if folder.account == account {
                continue;
            }
            let mine = entries.get(&Some(account.0));
            let anyone = entries.get(&None);
            let rights = union_rights(&[
                mine.map_or("", String::as_str),
                anyone.map_or("", String::as_str),
            ]);
            if rights.is_empty() {
                continue;
            }
            let Some(owner) = self.accounts.get(&folder.account.0) else {
                continue;
            };
            out.push((
                owner.address.normalized(),
                *mailbox,
                SharedMailbox {
                    owner: folder.account,
                    owner_address: owner.address.clone(),
                    mailbox: self.mailbox_view(*mailbox, folder),
                    rights,
                    anyone: anyone.is_some(),
                },
            ));
        }
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        Ok(out.into_iter().map(|(_, _, s)| s).collect())
    }

    /// Drops the entries of mailboxes and accounts that no longer exist (what the
    /// SQLite backend's ON DELETE CASCADE does).
    pub(super) fn acl_prune(&mut self) {
        let (folders, accounts) = (&self.folders, &self.accounts);
        self.acl.retain(|mailbox, entries| {
            entries.retain(|grantee, _| grantee.is_none_or(|id| accounts.contains_key(&id)));
            folders.contains_key(mailbox) && !entries.is_empty()
        });
    }
}
