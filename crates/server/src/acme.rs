//! Certificates from an ACME CA (RFC 8555; Let's Encrypt by default), configured by
//! `[acme]`: ordered at start when the store has none for the wanted names, renewed
//! `acme.renew_before_days` before expiry, shared by every node through the store.
//!
//! Where it sits: [`crate::run_with_store`] starts [`task::start`] beside the
//! listeners when `[acme]` is set; it never blocks startup (the listeners start with
//! the stored or generated certificate). Every `acme.check_secs` each node reads
//! `acme/certificate` from the store and installs a newer one in
//! [`crate::tls::Certificates`] (every listener's handshakes pick it up); one node at
//! a time, under the store lease `acme-renew`, orders ([`order`]) when renewal is due,
//! with backoff on failure. `postie cert renew` runs the same [`renew_now`] from its
//! own process; the running servers pick its result up at their next check.
//!
//! What the store holds (keys under `acme/`, see [`stored`]): the account
//! (`acme/account`), the certificate with its key (`acme/certificate`), and while an
//! order runs, the challenge answers (`acme/http-01/TOKEN`, served by the web face,
//! and `acme/tls-alpn-01/NAME`, served by [`crate::tls::Acceptor`]).
//!
//! Security stance: talks to the CA over HTTPS with a deadline on every call and on
//! the order as a whole; the private keys never leave the store and the process.

pub mod challenge;
pub mod names;
pub mod order;
pub mod stored;
pub mod task;
pub mod timing;

pub use order::{AcmeError, renew_now};
