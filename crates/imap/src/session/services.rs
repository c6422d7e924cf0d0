//! What the IMAP session asks of the server around it, and nothing more: the store,
//! the settings in force, password checks, per-account session slots, change
//! notices for other sessions, and the shared mailbox snapshots.
//!
//! Where it sits: the session ([`super::Session`]) holds a `&dyn Services`; the
//! server implements it over its shared state (`server/src/imap_services.rs`), tests over
//! the same with the in-memory store. This is the boundary the session keeps to, so
//! it can live apart from sockets, TLS and timers (the driver's business).

use super::snapshots::Snapshots;
use std::net::IpAddr;
use std::sync::Arc;
use store_api::{Account, AccountId, Store};

/// The IMAP settings a session reads, as they are now (a reload may change them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The largest APPEND literal (and built CATENATE message), `imap.max_literal_size`.
    pub max_literal_size: u32,
    /// Failed logins before the session is closed, `imap.max_auth_failures`.
    pub max_auth_failures: u32,
    /// Mailboxes one account may have, `imap.max_mailboxes`.
    pub max_mailboxes: usize,
}

/// How a password check ended.
#[derive(Debug)]
pub enum Login {
    /// The credentials are right: this is the account.
    Ok(Account),
    /// Unknown user or wrong password (counted as a failure).
    Wrong,
    /// Refused without a check: the address or account is locked out.
    Locked,
    /// The check could not be made; try later.
    TempFail,
}

/// A logged-in session's place in its account's session count; dropping it frees it.
pub type UserSlot = Box<dyn Send + Sync>;

/// See the module docs.
#[async_trait::async_trait]
pub trait Services: Send + Sync {
    /// The store.
    fn store(&self) -> Arc<dyn Store>;
    /// The settings in force.
    fn settings(&self) -> Settings;
    /// Whether `peer` may send a password without TLS (`auth.allow_plaintext`).
    fn plaintext_permitted(&self, peer: IpAddr) -> bool;
    /// Checks a password from `peer`, with the server's login throttle.
    async fn login(&self, peer: IpAddr, user: &str, password: String) -> Login;
    /// SCRAM (RFC 5802): the stored keys of `user` for an exchange from `peer`, after
    /// the login throttle's verdict; `Err` is the refusal (lockout, store trouble).
    async fn scram_keys(&self, peer: IpAddr, user: &str)
    -> Result<proto::sasl::scram::Keys, Login>;
    /// SCRAM: the proof of `user` matched the credential `matched` (or none); counts
    /// the outcome in the throttle, like [`Services::login`].
    async fn scram_login(
        &self,
        peer: IpAddr,
        user: &str,
        matched: Option<String>,
        account_exists: bool,
    ) -> Login;
    /// A session slot of `account`, `None` when it has as many as allowed.
    fn user_slot(&self, account: AccountId) -> Option<UserSlot>;
    /// Tells the other sessions (and IDLE) that `account`'s mailboxes changed.
    fn publish_change(&self, account: AccountId);
    /// The newest snapshot of each selected mailbox, shared by its sessions.
    fn snapshots(&self) -> &Snapshots;
}
