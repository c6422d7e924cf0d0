//! The outbound side of the configuration: `[dns]` (how the relay finds other
//! servers), `[relay]` (MX delivery or a smarthost, and its connection limits) and
//! `[queue]` (retries, expiry and delay warnings). Read by `server`, which builds the
//! relay and the queue runner from them.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// DNS for outbound mail.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dns {
    /// The name servers to ask, as `"ip:port"`; empty means the system's resolver
    /// (`/etc/resolv.conf`). Default empty.
    #[serde(deserialize_with = "crate::serde_helpers::socket_addrs")]
    pub nameservers: Vec<SocketAddr>,
    /// The resolver validates DNSSEC, so the AD bit of its answers is trusted (RFC
    /// 7672 §2.1): DANE is applied to MX hosts with authenticated TLSA records. Default
    /// `false`: no DANE, since with a resolver that does not validate it would mean
    /// nothing (and with one that fails, nothing could be delivered).
    pub dnssec: bool,
}

/// How the smarthost connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmarthostTls {
    /// STARTTLS (RFC 3207), required: no mail goes out if it fails. The default.
    #[default]
    Starttls,
    /// TLS from the first byte (RFC 8314), as on port 465.
    Tls,
    /// No TLS at all: only for a smarthost on a trusted network.
    None,
}

/// Outbound delivery: straight to each domain's MX (RFC 5321 §5.1), or through a
/// smarthost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Relay {
    /// `"host:port"` of a server that takes all outbound mail (or that of
    /// `domains`) instead of the MX hosts. Default: not set (deliver via MX).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smarthost: Option<String>,
    /// TLS towards the smarthost. Default `"starttls"`; the certificate is verified.
    pub smarthost_tls: SmarthostTls,
    /// The user name for AUTH at the smarthost. Default: not set (no AUTH).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smarthost_user: Option<String>,
    /// The password for `smarthost_user`. Default: not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smarthost_password: Option<String>,
    /// A PEM file of certificates to trust for the smarthost besides the public
    /// roots (a private CA, or the smarthost's own self-signed certificate).
    /// Default: not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smarthost_ca: Option<PathBuf>,
    /// The recipient domains the smarthost takes; empty means every remote domain.
    /// Default empty.
    pub domains: Vec<String>,
    /// Whether mail to MX hosts must be encrypted: STARTTLS must be offered and
    /// succeed, or the mail stays queued. Default `false`: opportunistic STARTTLS
    /// (RFC 7435), as most MTAs do. Certificates of MX hosts are not verified either
    /// way (without DANE or MTA-STS there is nothing to verify them against).
    pub require_tls: bool,
    /// Simultaneous outbound SMTP connections in total. Default 100; at least 1.
    pub max_connections: usize,
    /// Simultaneous connections to one destination host. Default 10; at least 1.
    pub max_connections_per_host: usize,
    /// Seconds an idle outbound connection is kept for reuse by the next message to
    /// the same host. Default 5; 0 closes each connection after its messages.
    pub idle_secs: u64,
    /// Apply recipient domains' MTA-STS policies (RFC 8461). Default `true`.
    pub mta_sts: bool,
    /// Apply DANE (RFC 7672) to MX hosts with TLSA records, when `dns.dnssec` says the
    /// resolver validates. Default `true`.
    pub dane: bool,
    /// A PEM file of certificates trusted, besides the public roots, for MX hosts under
    /// an MTA-STS policy and for the MTA-STS policy and TLS-RPT HTTPS hosts. Default: not
    /// set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca_file: Option<PathBuf>,
}

/// The delivery queue: when to retry, when to give up, when to warn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Queue {
    /// Seconds to wait after the 1st, 2nd, … failed attempt; the last value repeats.
    /// Default `[60, 300, 900, 1800, 3600, 7200, 14400]` (1, 5, 15, 30 minutes, then
    /// 1, 2 and 4 hours); each at least 1.
    pub retry_schedule_secs: Vec<u64>,
    /// Seconds after which a message still undelivered fails and bounces (RFC 5321
    /// §4.5.4.1: give up after 4-5 days). Default 432000 (5 days); at least 1.
    pub max_age_secs: u64,
    /// Seconds after which the sender is told that a message is still undelivered
    /// (an RFC 3464 "delayed" report, sent once). Default 14400 (4 hours); 0 turns
    /// delay warnings off.
    pub delay_warning_secs: u64,
    /// Seconds a node's claim on a queue entry lasts without renewal (the runner renews
    /// every third of it while it works on the entry). With several nodes on one
    /// database, a dead node's entries wait this long before another node takes them
    /// over (docs/cluster.md). Default 300 (5 minutes); 3 to 86400.
    pub lease_secs: u64,
}

impl Default for Relay {
    /// Via MX, 100 connections, 10 per host, idle ones kept 5 seconds.
    fn default() -> Self {
        Self {
            smarthost: None,
            smarthost_tls: SmarthostTls::default(),
            smarthost_user: None,
            smarthost_password: None,
            smarthost_ca: None,
            domains: Vec::new(),
            require_tls: false,
            max_connections: 100,
            max_connections_per_host: 10,
            idle_secs: 5,
            mta_sts: true,
            dane: true,
            tls_ca_file: None,
        }
    }
}

impl Default for Queue {
    /// The schedule listed on each field.
    fn default() -> Self {
        Self {
            retry_schedule_secs: vec![60, 300, 900, 1800, 3600, 7200, 14400],
            max_age_secs: 5 * 24 * 3600,
            delay_warning_secs: 4 * 3600,
            lease_secs: 300,
        }
    }
}

impl Relay {
    /// The smarthost split into host and port, when set and well formed.
    pub fn smarthost_parts(&self) -> Option<(String, u16)> {
        let text = self.smarthost.as_deref()?;
        let (host, port) = text.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port.parse().ok().filter(|p| *p != 0)?;
        (!host.is_empty()).then(|| (host.to_owned(), port))
    }
}
