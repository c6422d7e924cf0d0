//! The `[tls_rpt]` section: SMTP TLS reporting (RFC 8460). Postie records the outcome
//! of every outbound TLS session per recipient domain and, once a UTC day, sends each
//! domain that publishes a `_smtp._tls` record its report; `rua` is what Postie's own
//! `_smtp._tls` record (printed by `postie dns records`) asks others to send to.
//!
//! Where it sits: read by `server` (the relay's recorder and the daily sender) and by
//! `admin` (the DNS records).

use serde::{Deserialize, Serialize};

/// TLS reporting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsRpt {
    /// Record results and send the daily reports. Default `true`.
    pub enabled: bool,
    /// `organization-name` in the reports. Default empty: the hostname.
    pub organization: String,
    /// `contact-info` in the reports, and the sender of mailed reports. Default empty:
    /// `postmaster@` the hostname.
    pub contact: String,
    /// The `rua` URIs (`mailto:` or `https:`) our own `_smtp._tls` record publishes.
    /// Default empty: `mailto:postmaster@DOMAIN` for each domain.
    pub rua: Vec<String>,
}

impl Default for TlsRpt {
    fn default() -> Self {
        TlsRpt {
            enabled: true,
            organization: String::new(),
            contact: String::new(),
            rua: Vec::new(),
        }
    }
}

impl TlsRpt {
    /// The problem with the section, if any: each `rua` must be `mailto:` or `https:`.
    pub fn problem(&self) -> Option<String> {
        self.rua
            .iter()
            .find(|u| {
                !(u.starts_with("mailto:") && u.contains('@') || u.starts_with("https://"))
                    || u.contains([',', ';', '!', ' '])
            })
            .map(|u| format!("{u:?} is not a mailto: or https: URI"))
    }
}
