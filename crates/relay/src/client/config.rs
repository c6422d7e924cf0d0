//! What the caller tells the SMTP client: our name, the TLS policy, credentials and
//! the per-phase timeouts. Read by [`super::Connection::connect`] and kept by the
//! connection for later transactions.

use std::sync::Arc;
use std::time::Duration;

/// When to use TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS if the server offers it (RFC 3207); if the handshake fails, reconnect
    /// once without TLS (opportunistic TLS, RFC 7435).
    Opportunistic,
    /// STARTTLS must be offered and succeed, or the connection fails.
    Required,
    /// STARTTLS when the server offers it, and then it must succeed (no clear-text
    /// retry after a failed handshake or a refused STARTTLS); clear text only when it is
    /// not offered. For a submission client (`postie send`), where a certificate that
    /// does not verify must stop the session rather than downgrade it.
    WhenOffered,
    /// TLS from the first byte, "submissions" style (RFC 8314 §3.3).
    Implicit,
    /// Never use TLS.
    Disabled,
}

/// How long to wait in each phase. The defaults are the minimums of RFC 5321 §4.5.3.2
/// where it gives one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect.
    pub connect: Duration,
    /// The 220 greeting (RFC 5321 §4.5.3.2.1: 5 minutes).
    pub greeting: Duration,
    /// EHLO/HELO replies; also STARTTLS with its handshake, and AUTH.
    pub ehlo: Duration,
    /// The MAIL reply (§4.5.3.2.2: 5 minutes); also RSET.
    pub mail: Duration,
    /// Each RCPT reply (§4.5.3.2.3: 5 minutes).
    pub rcpt: Duration,
    /// The DATA reply, 354 (§4.5.3.2.4: 2 minutes).
    pub data_init: Duration,
    /// Each write of a block of the body, and replies to non-last BDAT chunks
    /// (§4.5.3.2.5: 3 minutes).
    pub data_block: Duration,
    /// The reply to the end of data or to BDAT LAST (§4.5.3.2.6: 10 minutes).
    pub data_end: Duration,
    /// The QUIT reply.
    pub quit: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: minutes(5),
            ehlo: minutes(5),
            mail: minutes(5),
            rcpt: minutes(5),
            data_init: minutes(2),
            data_block: minutes(3),
            data_end: minutes(10),
            quit: minutes(1),
        }
    }
}

impl Timeouts {
    /// Every phase with the same limit (handy in tests).
    pub fn all(limit: Duration) -> Self {
        Timeouts {
            connect: limit,
            greeting: limit,
            ehlo: limit,
            mail: limit,
            rcpt: limit,
            data_init: limit,
            data_block: limit,
            data_end: limit,
            quit: limit,
        }
    }
}

/// How to talk to one kind of next hop.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Our hostname for EHLO/HELO.
    pub helo_name: String,
    /// When to use TLS.
    pub tls: TlsMode,
    /// The rustls configuration (see [`crate::tls`]).
    pub tls_config: Arc<rustls::ClientConfig>,
    /// Username and password for AUTH PLAIN or LOGIN (RFC 4954), PLAIN preferred. Never
    /// sent without TLS unless `tls` is [`TlsMode::Disabled`].
    pub credentials: Option<(String, String)>,
    /// Per-phase timeouts.
    pub timeouts: Timeouts,
}

impl ClientConfig {
    /// MX delivery defaults: opportunistic TLS, no credentials, RFC 5321 timeouts.
    pub fn new(helo_name: impl Into<String>) -> Self {
        ClientConfig {
            helo_name: helo_name.into(),
            tls: TlsMode::Opportunistic,
            tls_config: crate::tls::opportunistic_config(),
            credentials: None,
            timeouts: Timeouts::default(),
        }
    }
}
