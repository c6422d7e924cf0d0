//! API tokens (see [`crate::api_token`]) and the account fields set after creation
//! (administrator flag, display name) for [`super::MemoryStore`], as methods on the
//! locked state.
//!
//! Where it sits: the `Store` impl in `memory.rs` calls these under the state's lock;
//! the behaviour suite (`src/suite/accounts_admin.rs`) holds this, the SQLite backend
//! (`sqlite/api_tokens.rs`) and PostgreSQL (`postgres/api_tokens.rs`) to one
//! contract. Tokens are server-wide, kept sorted by name, and owe nothing to accounts.

use message::Address;

use super::State;
use crate::api_token::{ApiToken, valid_name};
use crate::{Account, Result, StoreError};

impl State {
    /// The account with this address, for a change; `NotFound` if there is none.
    fn account_mut(&mut self, address: &Address) -> Result<&mut Account> {
        self.by_address
            .get(&address.normalized())
            .and_then(|id| self.accounts.get_mut(id))
            .ok_or_else(|| StoreError::NotFound(format!("account {address}")))
    }

    pub(super) fn account_set_admin(&mut self, address: &Address, admin: bool) -> Result<()> {
        self.account_mut(address)?.admin = admin;
        Ok(())
    }

    pub(super) fn account_set_display_name(
        &mut self,
        address: &Address,
        name: Option<&str>,
    ) -> Result<()> {
        if let Some(name) = name {
            crate::check_display_name(name)?;
        }
        self.account_mut(address)?.display_name = name.map(str::to_owned);
        Ok(())
    }

    pub(super) fn token_add(&mut self, token: &ApiToken) -> Result<()> {
        if !valid_name(&token.name) {
            return Err(StoreError::Invalid(format!(
                "API token name {:?}",
                token.name
            )));
        }
        if self
            .api_tokens
            .iter()
            .any(|t| t.name == token.name || t.id == token.id)
        {
            return Err(StoreError::Exists(format!("API token {}", token.name)));
        }
        self.api_tokens.push(token.clone());
        self.api_tokens.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    pub(super) fn token_get(&self, id: &str) -> Option<ApiToken> {
        self.api_tokens.iter().find(|t| t.id == id).cloned()
    }

    pub(super) fn token_revoke(&mut self, name: &str) -> Result<()> {
        let before = self.api_tokens.len();
        self.api_tokens.retain(|t| t.name != name);
        if self.api_tokens.len() == before {
            return Err(StoreError::NotFound(format!("API token {name}")));
        }
        Ok(())
    }

    pub(super) fn token_used(&mut self, id: &str, when: i64) {
        if let Some(t) = self.api_tokens.iter_mut().find(|t| t.id == id) {
            t.last_used = Some(when);
        }
    }
}
