//! [`PgOptions`] and the connection pool: from `[store] url` (with `password_file`,
//! `ca_file`, `pool_size`) to a [`deadpool_postgres::Pool`].
//!
//! Where it sits: [`super::PgStore::connect`] calls [`pool`] once.
//!
//! The URL is libpq's (`postgres://USER[:PASSWORD]@HOST:PORT/DB?sslmode=…`). The
//! password comes from the URL, else from `password_file` (its first line), else from
//! `PGPASSWORD`. `sslmode` (RFC-less, libpq's names):
//! - `disable`: no TLS;
//! - `prefer` (the default, as libpq's): TLS when the server offers it, certificate not
//!   checked, else plain;
//! - `require`: TLS or no connection; the certificate is checked against `ca_file` when
//!   one is given (as libpq does with a root certificate), else only encrypted;
//! - `verify-ca` / `verify-full`: TLS, the certificate checked against `ca_file` (or
//!   the URL's `sslrootcert`) and the host name against it (rustls always checks the
//!   name, so `verify-ca` is as strict as `verify-full`).
//!
//! Security stance: the password is never logged; [`shown`] hides it in every message.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;

use crate::{Result, StoreError};

/// How many connections a node keeps to the database when `pool_size` is not set.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// Where the database is and how to reach it.
#[derive(Clone, Default)]
pub struct PgOptions {
    /// libpq-style URL, `postgres://USER@HOST:PORT/DB?sslmode=…`.
    pub url: String,
    /// A file whose first line is the password (when the URL has none).
    pub password_file: Option<PathBuf>,
    /// PEM file of the certificate authorities the database's certificate must chain
    /// to (`sslmode=verify-full`, or `require` with a check).
    pub ca_file: Option<PathBuf>,
    /// Most connections this node opens; [`DEFAULT_POOL_SIZE`] when 0.
    pub pool_size: usize,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &shown(&self.url))
            .field("password_file", &self.password_file)
            .field("ca_file", &self.ca_file)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

impl PgOptions {
    /// Options with only a URL.
    pub fn from_url(url: &str) -> PgOptions {
        PgOptions {
            url: url.to_string(),
            ..PgOptions::default()
        }
    }
}

/// `url` with its password (if any) replaced by `***`, for messages and logs.
pub fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// What TLS the connection uses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tls {
    /// `sslmode=disable`.
    Off,
    /// TLS with the certificate unchecked: `prefer`, or `require` without a CA file.
    Unverified { required: bool },
    /// TLS with the certificate checked against these roots (PEM file).
    Verified(PathBuf),
}

/// Splits our own `sslmode` / `sslrootcert` out of the URL (tokio-postgres knows only
/// `disable|prefer|require`) and decides the TLS to use.
fn split_tls(options: &PgOptions) -> Result<(String, Tls)> {
    let (base, query) = match options.url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (options.url.as_str(), ""),
    };
    let mut mode = "prefer".to_string();
    let mut root: Option<PathBuf> = options.ca_file.clone();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", value)) => mode = value.to_string(),
            Some(("sslrootcert", value)) => root = Some(PathBuf::from(value)),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let tls = match (mode.as_str(), root) {
        ("disable", _) => Tls::Off,
        ("prefer" | "allow", _) => Tls::Unverified { required: false },
        ("require", None) => Tls::Unverified { required: true },
        ("require" | "verify-ca" | "verify-full", Some(ca)) => Tls::Verified(ca),
        ("verify-ca" | "verify-full", None) => {
            return Err(StoreError::Invalid(format!(
                "sslmode={mode} needs the database's certificate authority: set \
                 [store] ca_file (a PEM file) or sslrootcert= in the URL"
            )));
        }
        (other, _) => {
            return Err(StoreError::Invalid(format!(
                "unknown sslmode {other:?} in [store] url (use disable, prefer, require, \
                 verify-ca or verify-full)"
            )));
        }
    };
    Ok((url, tls))
}

/// The password when the URL has none: `password_file`'s first line, else `PGPASSWORD`.
fn fallback_password(options: &PgOptions) -> Result<Option<Vec<u8>>> {
    if let Some(path) = &options.password_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StoreError::Io(format!(
                "cannot read [store] password_file {}: {e}",
                path.display()
            ))
        })?;
        let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
        return Ok(Some(line.as_bytes().to_vec()));
    }
    Ok(std::env::var_os("PGPASSWORD").map(|p| p.into_encoded_bytes()))
}

/// The pool `options` describe, a dialer for the change feed's own connection, and the
/// URL as shown in messages. Connects lazily.
pub(super) fn pool(
    options: &PgOptions,
) -> Result<(deadpool_postgres::Pool, super::feed::Dial, String)> {
    let shown_url = shown(&options.url);
    if !(options.url.starts_with("postgres://") || options.url.starts_with("postgresql://")) {
        return Err(StoreError::Invalid(format!(
            "[store] url must start with postgres:// (got {shown_url})"
        )));
    }
    let (url, tls) = split_tls(options)?;
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
        StoreError::Invalid(format!("cannot understand [store] url {shown_url}: {e}"))
    })?;
    if config.get_password().is_none()
        && let Some(password) = fallback_password(options)?
    {
        config.password(password);
    }
    config.application_name("postie");
    let manager_config = deadpool_postgres::ManagerConfig {
        recycling_method: deadpool_postgres::RecyclingMethod::Fast,
    };
    let (manager, dial) = match tls {
        Tls::Off => {
            config.ssl_mode(SslMode::Disable);
            let dial = super::feed::dial(config.clone(), tokio_postgres::NoTls);
            let manager = deadpool_postgres::Manager::from_config(
                config,
                tokio_postgres::NoTls,
                manager_config,
            );
            (manager, dial)
        }
        Tls::Unverified { required } => {
            config.ssl_mode(if required {
                SslMode::Require
            } else {
                SslMode::Prefer
            });
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(unverified_client()?);
            let dial = super::feed::dial(config.clone(), tls.clone());
            (
                deadpool_postgres::Manager::from_config(config, tls, manager_config),
                dial,
            )
        }
        Tls::Verified(ca) => {
            config.ssl_mode(SslMode::Require);
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(verified_client(&ca)?);
            let dial = super::feed::dial(config.clone(), tls.clone());
            (
                deadpool_postgres::Manager::from_config(config, tls, manager_config),
                dial,
            )
        }
    };
    let size = if options.pool_size == 0 {
        DEFAULT_POOL_SIZE
    } else {
        options.pool_size
    };
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Invalid(format!("database pool: {e}")))?;
    Ok((pool, dial, shown_url))
}

/// rustls with the ring provider (the one the rest of Postie uses).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client that checks the server's certificate against the PEM roots in `ca`.
fn verified_client(ca: &std::path::Path) -> Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| {
            StoreError::Io(format!("cannot read [store] ca_file {}: {e}", ca.display()))
        })?;
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(StoreError::Invalid(format!(
            "[store] ca_file {} holds no usable certificate",
            ca.display()
        )));
    }
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Invalid(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A client that encrypts without checking the certificate (`prefer`, `require`
/// without a CA file: libpq's meaning of those modes).
fn unverified_client() -> Result<ClientConfig> {
    let provider = provider();
    Ok(ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Invalid(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth())
}

/// Accepts any certificate, but still checks the handshake's signatures (so the
/// session is at least with the holder of the certificate's key).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_hidden() {
        assert_eq!(
            shown("postgres://postie:s3cret@db.example:5432/mail?sslmode=require"),
            "postgres://postie:***@db.example:5432/mail?sslmode=require"
        );
        assert_eq!(
            shown("postgres://postie@127.0.0.1:5432/mail"),
            "postgres://postie@127.0.0.1:5432/mail"
        );
        let options = PgOptions::from_url("postgres://u:hunter2@h/d");
        assert!(!format!("{options:?}").contains("hunter2"));
    }

    #[test]
    fn sslmode_is_ours_to_read() {
        let tls = |url: &str| split_tls(&PgOptions::from_url(url));
        assert_eq!(
            tls("postgres://u@h/d").unwrap(),
            (
                "postgres://u@h/d".into(),
                Tls::Unverified { required: false }
            )
        );
        assert_eq!(
            tls("postgres://u@h/d?sslmode=disable&connect_timeout=5").unwrap(),
            ("postgres://u@h/d?connect_timeout=5".into(), Tls::Off)
        );
        assert_eq!(
            tls("postgres://u@h/d?sslmode=require").unwrap().1,
            Tls::Unverified { required: true }
        );
        assert_eq!(
            tls("postgres://u@h/d?sslmode=verify-full&sslrootcert=/ca.pem")
                .unwrap()
                .1,
            Tls::Verified("/ca.pem".into())
        );
        assert!(matches!(
            tls("postgres://u@h/d?sslmode=verify-full"),
            Err(StoreError::Invalid(m)) if m.contains("ca_file")
        ));
        assert!(matches!(
            tls("postgres://u@h/d?sslmode=bogus"),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn a_password_file_supplies_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\nignored\n").unwrap();
        let options = PgOptions {
            url: "postgres://u@h/d".into(),
            password_file: Some(file),
            ..PgOptions::default()
        };
        assert_eq!(
            fallback_password(&options).unwrap(),
            Some(b"from-file".to_vec())
        );
    }
}
