//! TLS setup: the certificate for every TLS listener and STARTTLS, from `tls.cert` and
//! `tls.key`, or a self-signed one Postie makes in the data directory (so `postie
//! serve` works with no configuration). rustls with the ring provider; TLS 1.2 and 1.3
//! (RFC 8314 §4.1).
//!
//! Where it sits: [`crate::run_with_store`] loads the certificate before the listeners
//! bind; the drivers' handshakes ask [`Certificates`] for it; a reload (SIGHUP,
//! [`crate::reload`]) reads it again (a renewed certificate: certbot, logrotate) and
//! swaps it in for new handshakes.

mod acceptor;
mod certificates;
mod generated;
pub mod inspect;
pub mod status;

pub use acceptor::{ACME_TLS_ALPN, Acceptor};
pub use certificates::{Certificates, Loaded, Origin};
pub use generated::Made;

use std::path::PathBuf;

/// The certificate file the server presents under `config`: `tls.cert` when set, else
/// the generated `data_dir/tls/cert.pem` (a client can trust this file, as with
/// `postie send --ca`).
pub fn certificate_path(config: &config::Config) -> PathBuf {
    match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(_)) => cert.clone(),
        _ => generated::paths(&config.data_dir).0,
    }
}
