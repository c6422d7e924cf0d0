//! DNS for outbound mail: which hosts to connect to for a recipient domain.
//!
//! Where it sits: the delivery router asks [`DnsResolver::mail_hosts`] for a remote
//! domain's hosts (MX records ordered per RFC 5321 §5.1, the implicit MX, or the RFC 7505
//! null MX), then [`DnsResolver::addresses`] for each host in turn, and hands the
//! addresses to [`crate::client`]. A [`DnsError`] says whether a failure is permanent
//! (bounce) or temporary (retry later).
//!
//! - `mx`: the pure part: ordering MX records, recognising the null MX.
//! - `resolver`: the lookups, on hickory-resolver.
//! - `tlsa_query`: the TLSA query for DANE, with the AD bit asked for.
//! - `error`: [`DnsError`] and how resolver errors map onto it.
//! - `test_server` (cargo feature `test-dns`): an in-process authoritative DNS server on
//!   loopback for tests.

mod error;
mod mx;
mod resolver;
#[cfg(feature = "test-dns")]
pub mod test_server;
mod tlsa_query;

pub use error::DnsError;
pub use mx::{MailHosts, MxHost, order_mx};
pub use resolver::{DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT, DnsResolver};
