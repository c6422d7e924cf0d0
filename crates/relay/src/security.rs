//! Outbound transport security: the policies that make delivery to a recipient domain
//! refuse clear text or unverified certificates, and the reports about how it went.
//!
//! Where it sits: [`crate::outbound::Relay`] consults these for each recipient domain
//! when a [`Security`] is attached to it ([`crate::outbound::Relay::with_security`]).
//!
//! - [`sts_policy`] and [`sts`]: MTA-STS (RFC 8461), parsing and discovery with a cache.
//! - [`tlsa`]: DANE for SMTP (RFC 7672), TLSA matching and the certificate verifier.
//! - [`decision`]: which TLS each MX host must get (DANE, MTA-STS, REQUIRETLS, none).
//! - [`tlsrpt`]: TLS-RPT (RFC 8460) results and reports.
//! - [`https`]: the small bounded HTTPS client MTA-STS and TLS-RPT need.
//! - [`values`]: where cached policies and results are kept (the store, by the server).

pub mod decision;
pub mod https;
pub mod sts;
pub mod sts_policy;
pub mod tlsa;
pub mod tlsrpt;
pub mod values;

use std::sync::Arc;

/// What the relay needs to apply policies and record results.
pub struct Security {
    /// MTA-STS discovery; `None` when `relay.mta_sts` is off.
    pub sts: Option<sts::StsResolver>,
    /// Look up TLSA records and trust the resolver's AD bit (`relay.dane` and
    /// `dns.dnssec` both on).
    pub dane: bool,
    /// The TLS configuration verifying MX certificates (WebPKI + extra CAs).
    pub verified_tls: Arc<rustls::ClientConfig>,
    /// Where TLS-RPT results go; `None` when `tls_rpt.enabled` is off.
    pub recorder: Option<tlsrpt::Recorder>,
}

/// Whether the message's header has `TLS-Required: No` (RFC 8689 §5). Only the header
/// block is read, and at most its first 64 KiB.
pub fn tls_required_no(message: &[u8]) -> bool {
    let head = &message[..message.len().min(64 * 1024)];
    let end = memchr::memmem::find(head, b"\r\n\r\n")
        .or_else(|| memchr::memmem::find(head, b"\n\n"))
        .unwrap_or(head.len());
    let header = String::from_utf8_lossy(&head[..end]);
    let mut lines = header.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("TLS-Required") {
            continue;
        }
        let mut value = value.trim().to_owned();
        while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
            value.push_str(next.trim());
            lines.next();
        }
        return value.eq_ignore_ascii_case("no");
    }
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn tls_required_no_is_found_in_the_header_only() {
        assert!(super::tls_required_no(
            b"From: a\r\nTLS-Required: No\r\n\r\nbody"
        ));
        assert!(super::tls_required_no(b"tls-required:no\n\nbody"));
        assert!(!super::tls_required_no(
            b"From: a\r\n\r\nTLS-Required: No\r\n"
        ));
        assert!(!super::tls_required_no(b"TLS-Required: Yes\r\n\r\n"));
    }
}
