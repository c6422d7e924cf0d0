//! Recipient routing: decides, for one address, whether it is a local account (directly
//! or through an alias), an unknown local user, or a remote recipient. Used both at
//! RCPT time by the SMTP driver and at delivery time by [`crate::Router`], so the two
//! can never disagree.
//!
//! Postmaster (RFC 5321 §4.5.1): the local name `postmaster` (any case) is accepted in
//! every local domain and at this server's host name (where the domain-less
//! `RCPT TO:<Postmaster>` of §4.1.1.3 points). It goes, in this order, to
//! 1. the domain's own `postmaster` account or alias;
//! 2. the configured `smtp.postmaster`, when that names an account or alias;
//! 3. the **first administrator**: the oldest account on the server (the lowest
//!    account id, i.e. the first one created). There is no administrator flag on
//!    accounts yet, so "first created" is the rule; when such a flag exists, the
//!    oldest administrator should take this place.
//!
//! Only a server without any account refuses postmaster mail (`550 5.1.1`, as for an
//! unknown user).
//!
//! `smtp.postmaster` may change while the server runs (a reload,
//! [`Resolver::set_postmaster`]); the host name is fixed at start.

use message::{Address, Domain};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
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
    /// The configured fallback; a reload may replace it.
    postmaster: RwLock<Option<Address>>,
    /// The address of the first administrator found last time, so that a run of
    /// postmaster recipients costs one account look-up each rather than a scan of
    /// every account. Checked again on every use (the account may be gone).
    first_admin: Mutex<Option<Address>>,
}

impl Resolver {
    /// A resolver; `hostname` is this server's name (for the domain-less `postmaster`),
    /// `postmaster` the configured fallback account for postmaster mail.
    pub fn new(store: Arc<dyn Store>, hostname: &str, postmaster: Option<Address>) -> Self {
        Resolver {
            store,
            hostname: Domain::parse(hostname).ok(),
            postmaster: RwLock::new(postmaster),
            first_admin: Mutex::new(None),
        }
    }

    /// Replaces the configured fallback for postmaster mail (`smtp.postmaster`, on a
    /// reload); routes looked up from now on use it.
    pub fn set_postmaster(&self, postmaster: Option<Address>) {
        *self
            .postmaster
            .write()
            .unwrap_or_else(PoisonError::into_inner) = postmaster;
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
        if !is_postmaster {
            return Ok(Route::Unknown);
        }
        // RFC 5321 §4.5.1: postmaster must be accepted; see the module docs for the order.
        let fallback = self
            .postmaster
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(fallback) = &fallback {
            if let Some(account) = self.store.resolve_recipient(fallback).await? {
                return Ok(Route::Local(account));
            }
            tracing::warn!(postmaster = %fallback, "smtp.postmaster names no account or alias");
        }
        match self.first_admin().await? {
            Some(account) => Ok(Route::Local(account)),
            None => Ok(Route::Unknown),
        }
    }

    /// The first administrator: the oldest account (lowest id), or `None` when the
    /// server has no account.
    async fn first_admin(&self) -> store::Result<Option<Account>> {
        let cached = self
            .first_admin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(address) = cached
            && let Some(account) = self.store.account_get(&address).await?
        {
            // Ids only grow, so an account that still exists is still the oldest.
            return Ok(Some(account));
        }
        let oldest = self
            .store
            .account_list()
            .await?
            .into_iter()
            .min_by_key(|a| a.id.0);
        *self
            .first_admin
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = oldest.as_ref().map(|a| a.address.clone());
        Ok(oldest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::memory::MemoryStore;

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    async fn store_with(domains: &[&str], accounts: &[&str]) -> Arc<MemoryStore> {
        let store = Arc::new(MemoryStore::new());
        for d in domains {
            store.domain_add(&Domain::parse(d).unwrap()).await.unwrap();
        }
        for a in accounts {
            store.account_add(&addr(a), "x").await.unwrap();
        }
        store
    }

    async fn route(r: &Resolver, a: &str) -> Route {
        r.route(&addr(a)).await.unwrap()
    }

    fn local_to(route: Route) -> String {
        match route {
            Route::Local(a) => a.address.to_string(),
            other => panic!("expected a local route, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_fresh_server_sends_postmaster_to_its_first_account() {
        // zed was created first, so it is the first administrator even though
        // "alice" sorts before it.
        let store = store_with(
            &["example.org", "other.example"],
            &["zed@example.org", "alice@example.org"],
        )
        .await;
        let r = Resolver::new(store.clone(), "mx.example.org", None);
        for pm in [
            "postmaster@example.org",
            "PostMaster@other.example",
            "postmaster@mx.example.org",
        ] {
            assert_eq!(local_to(route(&r, pm).await), "zed@example.org", "{pm}");
        }
        // Other unknown names are still unknown, and remote postmasters remote.
        assert_eq!(route(&r, "nobody@example.org").await, Route::Unknown);
        assert_eq!(route(&r, "postmaster@remote.example").await, Route::Remote);
    }

    #[tokio::test]
    async fn the_domains_own_postmaster_comes_first_then_the_configured_one() {
        let store = store_with(
            &["example.org", "other.example"],
            &["first@example.org", "pm@example.org", "boss@other.example"],
        )
        .await;
        store
            .alias_add(
                &addr("postmaster@other.example"),
                &addr("boss@other.example"),
            )
            .await
            .unwrap();
        let r = Resolver::new(
            store.clone(),
            "mx.example.org",
            Some(addr("pm@example.org")),
        );
        assert_eq!(
            local_to(route(&r, "postmaster@other.example").await),
            "boss@other.example"
        );
        assert_eq!(
            local_to(route(&r, "postmaster@example.org").await),
            "pm@example.org"
        );
        // A configured postmaster that names nobody falls through to the first account.
        let r = Resolver::new(store, "mx.example.org", Some(addr("ghost@example.org")));
        assert_eq!(
            local_to(route(&r, "postmaster@example.org").await),
            "first@example.org"
        );
    }

    #[tokio::test]
    async fn a_new_configured_postmaster_takes_effect() {
        let store = store_with(&["example.org"], &["first@example.org", "pm@example.org"]).await;
        let r = Resolver::new(store, "mx.example.org", None);
        assert_eq!(
            local_to(route(&r, "postmaster@example.org").await),
            "first@example.org"
        );
        r.set_postmaster(Some(addr("pm@example.org")));
        assert_eq!(
            local_to(route(&r, "postmaster@example.org").await),
            "pm@example.org"
        );
        r.set_postmaster(None);
        assert_eq!(
            local_to(route(&r, "postmaster@example.org").await),
            "first@example.org"
        );
    }

    #[tokio::test]
    async fn the_first_administrator_follows_account_removal() {
        let store = store_with(&["example.org"], &["a@example.org", "b@example.org"]).await;
        let r = Resolver::new(store.clone(), "mx.example.org", None);
        assert_eq!(
            local_to(route(&r, "postmaster@example.org").await),
            "a@example.org"
        );
        store.account_remove(&addr("a@example.org")).await.unwrap();
        assert_eq!(
            local_to(route(&r, "postmaster@example.org").await),
            "b@example.org"
        );
        store.account_remove(&addr("b@example.org")).await.unwrap();
        // No account at all: the only case postmaster is refused.
        assert_eq!(route(&r, "postmaster@example.org").await, Route::Unknown);
        assert_eq!(route(&r, "postmaster@mx.example.org").await, Route::Unknown);
    }

    #[tokio::test]
    async fn an_idn_domain_routes_the_same_in_both_spellings() {
        // Added as a U-label, addressed as an A-label, and the other way round
        // (RFC 5890 §2.3.2.1: the same domain).
        let store = store_with(
            &["例子.中国", "xn--bcher-kva.example"],
            &["li@xn--fsqu00a.xn--fiqs8s", "kunde@bücher.example"],
        )
        .await;
        store
            .alias_add(&addr("info@例子.中国"), &addr("li@例子.中国"))
            .await
            .unwrap();
        // The server's own host name may be an IDN too (postmaster@ it is local).
        let r = Resolver::new(store, "mx.bücher.example", None);
        for (rcpt, account) in [
            ("li@例子.中国", "li@xn--fsqu00a.xn--fiqs8s"),
            ("LI@XN--FSQU00A.xn--fiqs8s", "li@xn--fsqu00a.xn--fiqs8s"),
            ("info@xn--fsqu00a.xn--fiqs8s", "li@xn--fsqu00a.xn--fiqs8s"),
            ("kunde@xn--bcher-kva.example", "kunde@bücher.example"),
            ("Kunde@BÜCHER.example", "kunde@bücher.example"),
            (
                "postmaster@mx.xn--bcher-kva.example",
                "li@xn--fsqu00a.xn--fiqs8s",
            ),
        ] {
            assert_eq!(local_to(route(&r, rcpt).await), account, "{rcpt}");
        }
        assert_eq!(route(&r, "nobody@例子.中国").await, Route::Unknown);
        assert_eq!(route(&r, "li@xn--fiqs8s").await, Route::Remote);
    }
}
