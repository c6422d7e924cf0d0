//! Client TLS configurations for outbound SMTP.
//!
//! Where it sits: the delivery router picks one of these per route and puts it into
//! [`crate::client::ClientConfig::tls_config`]; the SMTP client then uses it for
//! STARTTLS (RFC 3207) or implicit TLS (RFC 8314).
//!
//! - [`opportunistic_config`] is for delivery to MX hosts: opportunistic TLS (RFC 7435,
//!   the equivalent of Postfix's `may` level) encrypts the session but does not verify
//!   the certificate, since MX hosts commonly present self-signed or mismatched ones and
//!   plain text would be the only alternative. Handshake signatures are still checked,
//!   so the session keys really belong to the certificate that was presented.
//! - [`verified_config`] is for a configured smarthost: the certificate must chain to a
//!   web PKI root (webpki-roots) or to a CA from an extra PEM file, and match the name.
//!
//! Both use rustls with the `ring` provider explicitly (never aws-lc).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, ring};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// Why [`verified_config`] could not build a configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The extra CA file could not be read or is not valid PEM.
    #[error("cannot read CA certificates from {path}: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: rustls_pki_types::pem::Error,
    },
    /// The extra CA file holds no certificate rustls accepts as a trust anchor.
    #[error("no usable CA certificate in {path}")]
    NoCertificates {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// For MX delivery: opportunistic TLS (RFC 7435, like Postfix's `may` level): encrypts,
/// does not verify the certificate.
pub fn opportunistic_config() -> Arc<rustls::ClientConfig> {
    let provider = provider();
    let verifier = Arc::new(AcceptAnyCertificate {
        algorithms: provider.signature_verification_algorithms,
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Arc::new(config)
}

/// For a smarthost: verifies against webpki-roots plus, if given, the PEM CA/cert file
/// `extra_ca` (every certificate in it becomes a trust anchor).
pub fn verified_config(
    extra_ca: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_ca {
        let pem_error = |source| TlsSetupError::Pem {
            path: path.to_path_buf(),
            source,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(pem_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem_error)?;
        let (added, _ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(TlsSetupError::NoCertificates {
                path: path.to_path_buf(),
            });
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts any certificate chain (opportunistic TLS, RFC 7435 §4) but verifies the
/// handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
