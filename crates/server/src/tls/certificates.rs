//! The certificate in use, swappable: every TLS handshake (implicit TLS and STARTTLS)
//! asks [`Certificates`] for it, and a reload (SIGHUP) puts a new one in place, so
//! new handshakes use the new certificate while established sessions keep theirs.
//!
//! Where it sits: built once at start by [`crate::run_with_store`] from the config
//! (`tls.cert`/`tls.key`, or the generated certificate of [`super::generated`]),
//! handed to rustls as its certificate resolver, and reloaded by [`crate::reload`].

use super::generated::{self, Made};
use crate::ServerError;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

/// Where the certificate in use comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `tls.cert` and `tls.key` from the config, read as they are.
    Configured,
    /// The self-signed certificate in `data_dir/tls`.
    Generated(Made),
    /// From the ACME CA, read from the store (`acme/certificate`).
    Acme,
}

/// A certificate and key read from disk and checked to belong together, not yet in
/// use: [`Certificates::install`] puts it in place.
pub struct Loaded {
    key: Arc<CertifiedKey>,
    /// The certificate file.
    pub path: PathBuf,
    /// Where it came from.
    pub origin: Origin,
}

impl Loaded {
    /// A chain and key from elsewhere than a file (the store), checked to belong
    /// together.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        path: PathBuf,
        origin: Origin,
    ) -> Result<Self, ServerError> {
        let certified = CertifiedKey::from_der(chain, key, &provider())
            .map_err(|e| ServerError::Tls(format!("{}: {e}", path.display())))?;
        Ok(Loaded {
            key: Arc::new(certified),
            path,
            origin,
        })
    }

    /// The leaf certificate (DER).
    pub fn leaf(&self) -> &[u8] {
        self.key.cert.first().map_or(&[], |c| c.as_ref())
    }

    /// Reads the certificate `config` names, making (or making again) the generated one
    /// when needed.
    pub fn from_config(config: &config::Config) -> Result<Self, ServerError> {
        let (cert, key, origin) = match (&config.tls.cert, &config.tls.key) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone(), Origin::Configured),
            _ => {
                let made = generated::ensure(&config.data_dir, &generated::names(config))?;
                let (cert, key) = generated::paths(&config.data_dir);
                (cert, key, Origin::Generated(made))
            }
        };
        let chain = CertificateDer::pem_file_iter(&cert)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| ServerError::Tls(format!("{}: {e}", cert.display())))?;
        if chain.is_empty() {
            return Err(ServerError::Tls(format!(
                "{}: no certificate in the file",
                cert.display()
            )));
        }
        let private = PrivateKeyDer::from_pem_file(&key)
            .map_err(|e| ServerError::Tls(format!("{}: {e}", key.display())))?;
        // Checks that the key is the certificate's (RFC 5280 §4.1.2.7).
        let certified = CertifiedKey::from_der(chain, private, &provider()).map_err(|e| {
            ServerError::Tls(format!("{} with {}: {e}", cert.display(), key.display()))
        })?;
        Ok(Loaded {
            key: Arc::new(certified),
            path: cert,
            origin,
        })
    }

    /// Logs where the certificate is and how it came to be there.
    pub fn log(&self, when: &str) {
        let cert = self.path.display();
        match &self.origin {
            Origin::Configured => {
                tracing::info!(%cert, "{when}: TLS certificate from tls.cert (configured)")
            }
            Origin::Generated(Made::Existing) => {
                tracing::info!(%cert, "{when}: TLS certificate self-signed, generated earlier")
            }
            Origin::Generated(Made::Created) => {
                tracing::info!(%cert, "{when}: TLS certificate self-signed, created")
            }
            Origin::Generated(Made::Regenerated(was)) => tracing::info!(
                %cert,
                was = %was.join(","),
                "{when}: TLS certificate self-signed, regenerated for new names"
            ),
            Origin::Acme => tracing::info!(%cert, "{when}: TLS certificate from the ACME CA"),
        }
    }
}

/// The certificate every TLS handshake gets; replaced whole on reload. With
/// `[acme]`, the ACME certificate, once there is one, wins over the configured or
/// generated one (which a reload still replaces underneath).
pub struct Certificates {
    current: RwLock<Arc<CertifiedKey>>,
    acme: RwLock<Option<Arc<CertifiedKey>>>,
}

impl Certificates {
    /// Starts with `loaded`.
    pub fn new(loaded: Loaded) -> Self {
        Certificates {
            current: RwLock::new(loaded.key),
            acme: RwLock::new(None),
        }
    }

    /// Puts `loaded` in place for the handshakes that start from now on: an
    /// [`Origin::Acme`] certificate in the ACME slot, which wins, any other as the
    /// one under it.
    pub fn install(&self, loaded: Loaded) {
        if loaded.origin == Origin::Acme {
            *self.acme.write().unwrap_or_else(PoisonError::into_inner) = Some(loaded.key);
        } else {
            *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded.key;
        }
    }

    /// The leaf certificate (DER) new handshakes get now.
    pub fn serving_leaf(&self) -> Vec<u8> {
        self.serving()
            .cert
            .first()
            .map_or_else(Vec::new, |c| c.as_ref().to_vec())
    }

    fn serving(&self) -> Arc<CertifiedKey> {
        if let Some(acme) = &*self.acme.read().unwrap_or_else(PoisonError::into_inner) {
            return acme.clone();
        }
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The rustls server configuration for every TLS listener and STARTTLS: TLS 1.2
    /// and 1.3 (RFC 8314 §4.1), ring, certificates from `certificates`.
    pub fn server_config(
        certificates: Arc<Certificates>,
    ) -> Result<Arc<rustls::ServerConfig>, ServerError> {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(certificates);
        Ok(Arc::new(config))
    }
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates").finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Certificates {
    /// One certificate whatever the client asks for: a client that sends an IP
    /// address or no name at all (RFC 6066 §3 allows only host names) gets it too.
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.serving())
    }
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}
