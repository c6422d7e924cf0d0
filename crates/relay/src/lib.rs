//! Outbound SMTP: how Postie reaches other mail servers.
//!
//! Where it sits: the delivery crate's router hands this crate the remote recipients of
//! a queued message. [`dns`] finds the servers for a domain (MX, RFC 5321 §5.1),
//! [`client`] speaks SMTP to one of them and reports a result per recipient, and
//! [`tls`] builds the client TLS configurations (opportunistic for MX, verified for a
//! smarthost), and [`outbound`] puts them together: routes each domain, reuses
//! connections within the limits, and reports an outcome per recipient.
//! [`security`] holds the recipient domains' transport security policies the
//! outbound side applies (MTA-STS, DANE, REQUIRETLS) and the TLS-RPT results.

pub mod client;
pub mod dns;
pub mod outbound;
pub mod security;
pub mod tls;
