//! The TLS acceptor of every listener (implicit TLS, STARTTLS, the web face): it reads
//! the ClientHello first, and a handshake that offers only to prove a name to an ACME
//! CA (ALPN `acme-tls/1`, RFC 8737 §3) for a name with a pending TLS-ALPN-01
//! challenge gets the challenge certificate and then the connection ends. Every other
//! handshake — offering `acme-tls/1` or not — gets the normal configuration, which
//! negotiates no ALPN at all, so what normal clients negotiate does not change.
//!
//! Where it sits: made once at start by [`crate::run_with_store`] from the server
//! configuration of [`super::Certificates`] and the store; every driver calls
//! [`Acceptor::accept`] where it used to call tokio-rustls directly. The pending
//! challenges live in the store (`acme/tls-alpn-01/NAME`, written by whichever node
//! or command orders, [`crate::acme`]), so any node behind the address can answer.

use rustls::ServerConfig;
use rustls::server::{Acceptor as RustlsAcceptor, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;
use store::Store;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Accepts TLS on an accepted socket; cheap to clone.
#[derive(Clone)]
pub struct Acceptor {
    normal: Arc<ServerConfig>,
    /// Where pending TLS-ALPN-01 challenges are looked up; none in unit tests.
    store: Option<Arc<dyn Store>>,
}

impl Acceptor {
    /// Handshakes with `normal`; answers TLS-ALPN-01 challenges found in `store`.
    pub fn new(normal: Arc<ServerConfig>, store: Option<Arc<dyn Store>>) -> Self {
        Acceptor { normal, store }
    }

    /// Runs the server side of the handshake. A TLS-ALPN-01 validation is answered
    /// and then reported as an error (`challenge answered`): RFC 8737 §3 says the
    /// client sends nothing more, so the caller just drops the connection.
    pub async fn accept<IO>(&self, socket: IO) -> std::io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let start = LazyConfigAcceptor::new(RustlsAcceptor::default(), socket).await?;
        let hello = start.client_hello();
        let offers_acme = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if offers_acme
            && let Some(store) = &self.store
            && let Some(name) = hello.server_name().map(str::to_ascii_lowercase)
            && let Some(key) = crate::acme::challenge::tls_alpn_certificate(store, &name).await
        {
            let mut stream = start.into_stream(challenge_config(key)?).await?;
            tracing::info!(name, "ACME TLS-ALPN-01 validation answered");
            let _ = stream.shutdown().await;
            return Err(std::io::Error::other("TLS-ALPN-01 challenge answered"));
        }
        start.into_stream(self.normal.clone()).await
    }
}

/// A configuration for one validation handshake: only `acme-tls/1`, only `key`.
fn challenge_config(key: Arc<CertifiedKey>) -> std::io::Result<Arc<ServerConfig>> {
    #[derive(Debug)]
    struct One(Arc<CertifiedKey>);
    impl ResolvesServerCert for One {
        fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(self.0.clone())
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(One(key)));
    config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
    Ok(Arc::new(config))
}
