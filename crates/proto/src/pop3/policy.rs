//! What a POP3 session is allowed to do, decided by the driver from the config and the
//! listener (110 with STLS, or 995 with implicit TLS) before the session starts.

/// Limits and switches for one POP3 session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Policy {
    /// Our host name, used in the greeting and the QUIT response.
    pub hostname: String,
    /// The connection is already encrypted (implicit TLS, port 995; RFC 8314).
    pub tls_active: bool,
    /// STLS can be offered (a certificate is loaded; RFC 2595 §4).
    pub stls_available: bool,
    /// USER/PASS and AUTH may be used without TLS (config and peer address). When
    /// false, login commands on a clear-text connection are refused (RFC 2595 §2.3).
    pub plaintext_auth: bool,
    /// Failed logins before the session closes.
    pub max_auth_failures: u32,
    /// Bad commands before the session closes.
    pub max_errors: u32,
    /// How many days messages are kept on the server, for CAPA's EXPIRE
    /// (RFC 2449 §6.7); `None` is `EXPIRE NEVER`.
    pub expire: Option<u32>,
}

impl Pop3Policy {
    /// Defaults for a port-110 listener: STLS offered, no login before TLS, 3 failed
    /// logins, 10 bad commands, messages never expire. Used by tests and as a base.
    pub fn new(hostname: &str) -> Self {
        Pop3Policy {
            hostname: hostname.to_string(),
            tls_active: false,
            stls_available: true,
            plaintext_auth: false,
            max_auth_failures: 3,
            max_errors: 10,
            expire: None,
        }
    }

    /// True when login commands are allowed on a connection in this TLS state.
    pub fn login_allowed(&self, tls: bool) -> bool {
        tls || self.plaintext_auth
    }
}
