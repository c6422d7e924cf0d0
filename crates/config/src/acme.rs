//! The `[acme]` section: certificates from an ACME CA (RFC 8555), Let's Encrypt by
//! default. Absent, the server uses `tls.cert`/`tls.key` or its generated certificate.
//!
//! Where it sits: read by the server's `acme` module (ordering, renewal, the store
//! poll) and by `postie cert renew`; checked by [`crate::Config::validate`] (not with
//! `tls.cert`, a listener for the challenge). Fixed at start: a reload keeps it.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Let's Encrypt's production directory, the default `acme.directory`.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// The `[acme]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Acme {
    /// The CA's directory URL (RFC 8555 §7.1.1). Default Let's Encrypt production.
    pub directory: String,
    /// The account's contact, `mailto:…` (RFC 8555 §7.3). Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// How the CA checks we hold the names. Default `tls-alpn-01`.
    pub challenge: Challenge,
    /// A root certificate (PEM, the first in the file) trusted for the directory's
    /// HTTPS instead of the system's roots, e.g. a test CA. Default: none (the
    /// system's roots).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Also name `autoconfig.DOMAIN` and `mta-sts.DOMAIN` for every local domain.
    /// Default `false`: the certificate names `hostname` only.
    pub include_service_names: bool,
    /// Renew when the certificate expires within this many days. Default 30; 1 to 365.
    pub renew_before_days: u32,
    /// How often every node looks at the store for a newer certificate and whether
    /// renewal is due, in seconds. Default 300; 1 to 86400.
    pub check_secs: u64,
}

/// The ACME challenge type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Challenge {
    /// RFC 8737: a TLS handshake on port 443 (the `https` listener) with ALPN
    /// `acme-tls/1`.
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
    /// RFC 8555 §8.3: `GET /.well-known/acme-challenge/TOKEN` on port 80 (the `http`
    /// listener).
    #[serde(rename = "http-01")]
    Http01,
}

impl Default for Acme {
    fn default() -> Self {
        Acme {
            directory: LETS_ENCRYPT.to_owned(),
            contact: None,
            challenge: Challenge::TlsAlpn01,
            ca_file: None,
            include_service_names: false,
            renew_before_days: 30,
            check_secs: 300,
        }
    }
}

impl Acme {
    /// The first problem with these values, as (key, message).
    pub(crate) fn problem(&self) -> Option<(&'static str, String)> {
        if !(self.directory.starts_with("https://") || self.directory.starts_with("http://")) {
            return Some(("acme.directory", "must be an http(s) URL".into()));
        }
        if let Some(contact) = &self.contact
            && !contact.starts_with("mailto:")
        {
            return Some(("acme.contact", "must start with mailto:".into()));
        }
        if !(1..=365).contains(&self.renew_before_days) {
            return Some(("acme.renew_before_days", "must be 1 to 365".into()));
        }
        if !(1..=86_400).contains(&self.check_secs) {
            return Some(("acme.check_secs", "must be 1 to 86400".into()));
        }
        None
    }
}
