//! The server's side of the IMAP session's boundary (`imap::session::services`): the
//! store, settings, login throttle, session slots, change notices and snapshots of
//! the server's shared state.

use crate::listen::Shared;
use crate::login::Outcome;
use imap::session::services::{Login, Services, Settings, UserSlot};
use imap::session::snapshots::Snapshots;
use std::net::IpAddr;
use std::sync::Arc;
use store::{AccountId, Store};

#[async_trait::async_trait]
impl Services for Shared {
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    fn settings(&self) -> Settings {
        Settings {
            max_literal_size: self.config.imap.max_literal_size,
            max_auth_failures: self.config.imap.max_auth_failures,
            max_mailboxes: self.config.imap.max_mailboxes,
        }
    }

    fn plaintext_permitted(&self, peer: IpAddr) -> bool {
        // Capture mode: any login on a plain connection (a developer's machine).
        self.capture.is_some() || self.config.auth.allow_plaintext.permits(peer)
    }

    async fn login(&self, peer: IpAddr, user: &str, password: String) -> Login {
        login_of(crate::login::login(self, peer, "imap", user, password).await)
    }

    async fn scram_keys(
        &self,
        peer: IpAddr,
        user: &str,
    ) -> Result<proto::sasl::scram::Keys, Login> {
        crate::scram::keys(self, peer, "imap", user)
            .await
            .map_err(login_of)
    }

    async fn scram_login(
        &self,
        peer: IpAddr,
        user: &str,
        matched: Option<String>,
        account_exists: bool,
    ) -> Login {
        login_of(crate::scram::finish(self, peer, "imap", user, matched, account_exists).await)
    }

    fn user_slot(&self, account: AccountId) -> Option<UserSlot> {
        let slot = self.imap_user_sessions.acquire(account.0)?;
        Some(Box::new(slot))
    }

    fn publish_change(&self, account: AccountId) {
        self.mail_changes.publish(account);
    }

    fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }
}

/// The session's view of a login outcome.
fn login_of(outcome: Outcome) -> Login {
    match outcome {
        Outcome::Ok(account) => Login::Ok(account),
        Outcome::Wrong => Login::Wrong,
        Outcome::Locked => Login::Locked,
        Outcome::TempFail => Login::TempFail,
    }
}
