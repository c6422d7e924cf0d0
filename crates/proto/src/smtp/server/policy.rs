//! What a session is allowed to do, decided by the driver from the config and the
//! listener before the session starts.

/// Which listener a session came in on; it decides the relay and AUTH rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Port 25 role: mail from other servers, for local domains only unless authenticated.
    Mx,
    /// Port 587 role (RFC 6409): STARTTLS, AUTH required before MAIL.
    Submission,
    /// Port 465 role (RFC 8314): implicit TLS, AUTH required before MAIL.
    Submissions,
}

impl ListenerKind {
    /// True for the listeners where users submit mail (AUTH required).
    pub fn is_submission(self) -> bool {
        !matches!(self, ListenerKind::Mx)
    }
}

/// Limits and switches for one SMTP session.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Our host name, used in the greeting and EHLO reply.
    pub hostname: String,
    /// The listener this session came in on.
    pub listener: ListenerKind,
    /// The connection is already encrypted (implicit TLS).
    pub tls_active: bool,
    /// STARTTLS can be offered (a certificate is loaded).
    pub starttls_available: bool,
    /// AUTH may be used without TLS (config `auth.allow_plaintext` and the peer address).
    pub plaintext_auth: bool,
    /// SIZE limit in octets (RFC 1870).
    pub max_message_size: u64,
    /// Recipients per message (RFC 5321 §4.5.3.1.8).
    pub max_recipients: usize,
    /// Failed AUTH attempts before 421 and close.
    pub max_auth_failures: u32,
    /// Bad commands before 421 and close.
    pub max_errors: u32,
    /// NOOP, RSET, VRFY, EXPN and HELP allowed on one connection before each further
    /// one counts as an error.
    pub max_junk_commands: u32,
    /// VRFY answers 252 (true) or 502 (false).
    pub vrfy_enabled: bool,
    /// EXPN answers 252 (true) or 502 (false).
    pub expn_enabled: bool,
    /// Where message bodies go while they arrive (memory by default; the server
    /// spools large ones to disk).
    pub spool: super::SpoolFactory,
}

impl Policy {
    /// Defaults for an MX listener, used by tests and as a base.
    pub fn mx(hostname: &str) -> Self {
        Policy {
            hostname: hostname.to_string(),
            listener: ListenerKind::Mx,
            tls_active: false,
            starttls_available: true,
            plaintext_auth: false,
            max_message_size: 26_214_400,
            max_recipients: 100,
            max_auth_failures: 3,
            max_errors: 10,
            max_junk_commands: 100,
            vrfy_enabled: true,
            expn_enabled: false,
            spool: super::SpoolFactory::memory(),
        }
    }

    /// Defaults for a submission (587) listener.
    pub fn submission(hostname: &str) -> Self {
        Policy {
            listener: ListenerKind::Submission,
            ..Policy::mx(hostname)
        }
    }
}
