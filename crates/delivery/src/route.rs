//! Recipient routing: decides, for one address, whether it is a local account (directly
//! or through an alias), an unknown local user, or a remote recipient. Used both at
//! RCPT time by the SMTP driver and at delivery time by [`crate::Router`], so the two
//! can never disagree.
//!
//! Postmaster (RFC 5321 §4.5.1): the local name `postmaster` is accepted in any local
//! domain and at this server's host name; it goes to the domain's own postmaster account
//! or alias, else to the configured `smtp.postmaster`.

use message::{Address, Domain};
use std::sync::Arc;
use store::{Account, Store};

/// Where mail for one address goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Into this local account.
    Local(Account),
    /// A local domain, but no such user.
    Unknown,
    /// Another domain: relay.
    Remote,
}

/// Resolves recipients against the store.
pub struct Resolver {
    store: Arc<dyn Store>,
    hostname: Option<Domain>,
    postmaster: Option<Address>,
}

impl Resolver {
    /// A resolver; `hostname` is this server's name (for the domain-less `postmaster`),
    /// `postmaster` the configured fallback account for postmaster mail.
    pub fn new(store: Arc<dyn Store>, hostname: &str, postmaster: Option<Address>) -> Self {
        Resolver {
            store,
            hostname: Domain::parse(hostname).ok(),
            postmaster,
        }
    }

    /// Where mail for `address` goes.
    pub async fn route(&self, address: &Address) -> store::Result<Route> {
        let is_postmaster = address.local().eq_ignore_ascii_case("postmaster");
        let at_hostname = self.hostname.as_ref() == Some(address.domain());
        let local =
            (is_postmaster && at_hostname) || self.store.domain_is_local(address.domain()).await?;
        if !local {
            return Ok(Route::Remote);
        }
        if let Some(account) = self.store.resolve_recipient(address).await? {
            return Ok(Route::Local(account));
        }
        if is_postmaster && let Some(fallback) = &self.postmaster {
            if let Some(account) = self.store.resolve_recipient(fallback).await? {
                return Ok(Route::Local(account));
            }
            tracing::warn!(postmaster = %fallback, "smtp.postmaster names no account or alias");
        }
        Ok(Route::Unknown)
    }
}
