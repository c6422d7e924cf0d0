//! What the admin dashboard shows about the running server that the store does not
//! know: its listeners, when it started, and the last delivery outcomes
//! ([`ServerStatus`]). The `server` crate fills it ([`crate::WebState::status`]).

use std::net::SocketAddr;

/// A snapshot of the running server for the dashboard.
#[derive(Debug, Clone, Default)]
pub struct ServerStatus {
    /// The server's version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// When the server started, unix seconds.
    pub started_at: i64,
    /// Every bound listener: (kind, address), e.g. `("imaps", 127.0.0.1:993)`.
    pub listeners: Vec<(String, SocketAddr)>,
    /// The latest delivery outcomes, newest first (a bounded ring).
    pub recent: Vec<DeliveryNote>,
}

/// One delivery outcome: a recipient delivered, deferred or bounced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryNote {
    /// When, unix seconds.
    pub at: i64,
    /// The queue id of the message.
    pub queue_id: String,
    /// The recipient's address.
    pub recipient: String,
    /// `delivered`, `deferred` or `bounced`.
    pub result: String,
    /// The reply or reason, when there is one.
    pub detail: String,
}
