//! App passwords (see [`crate::app_password`]) for [`super::MemoryStore`], as methods on
//! the locked state.
//!
//! Where it sits: the `Store` impl in `memory.rs` calls these under the state's lock;
//! the behaviour suite (`src/suite/app_passwords.rs`) holds this and the SQLite backend
//! (`sqlite/app_passwords.rs`) to one contract. Entries are kept per account row id;
//! ids are never reused, so the entries of a removed account are unreachable, and they
//! are dropped with the first change after.

use super::State;
use crate::app_password::{AppPassword, valid_name};
use crate::{AccountId, Result, StoreError};

impl State {
    fn app_password_account(&self, account: AccountId) -> Result<()> {
        if self.accounts.contains_key(&account.0) {
            Ok(())
        } else {
            Err(StoreError::account_gone())
        }
    }

    /// Drops the entries of accounts that no longer exist.
    fn forget_removed_accounts(&mut self) {
        let accounts = &self.accounts;
        self.app_passwords.retain(|id, _| accounts.contains_key(id));
    }

    pub(super) fn app_password_add(
        &mut self,
        account: AccountId,
        name: &str,
        id: &str,
        hash: &str,
        created_at: i64,
    ) -> Result<()> {
        if !valid_name(name) {
            return Err(StoreError::Invalid(format!("app password name {name:?}")));
        }
        self.app_password_account(account)?;
        self.forget_removed_accounts();
        let taken = self.app_passwords.values().flatten().any(|p| p.id == id);
        let list = self.app_passwords.entry(account.0).or_default();
        if taken || list.iter().any(|p| p.name == name) {
            return Err(StoreError::Exists(format!("app password {name}")));
        }
        list.push(AppPassword {
            name: name.to_owned(),
            id: id.to_owned(),
            hash: hash.to_owned(),
            created_at,
            last_used: None,
        });
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    pub(super) fn app_password_list(&self, account: AccountId) -> Result<Vec<AppPassword>> {
        self.app_password_account(account)?;
        Ok(self
            .app_passwords
            .get(&account.0)
            .cloned()
            .unwrap_or_default())
    }

    pub(super) fn app_password_get(&self, account: AccountId, id: &str) -> Option<AppPassword> {
        self.app_password_account(account).ok()?;
        self.app_passwords
            .get(&account.0)?
            .iter()
            .find(|p| p.id == id)
            .cloned()
    }

    pub(super) fn app_password_revoke(&mut self, account: AccountId, name: &str) -> Result<()> {
        self.app_password_account(account)?;
        let list = self.app_passwords.entry(account.0).or_default();
        let before = list.len();
        list.retain(|p| p.name != name);
        if list.len() == before {
            return Err(StoreError::NotFound(format!("app password {name}")));
        }
        Ok(())
    }

    pub(super) fn app_password_used(&mut self, account: AccountId, id: &str, when: i64) {
        if let Some(p) = self
            .app_passwords
            .get_mut(&account.0)
            .and_then(|list| list.iter_mut().find(|p| p.id == id))
        {
            p.last_used = Some(when);
        }
    }
}
