//! TLS setup: loads the configured certificate and key, or creates a self-signed pair
//! for the host name in the data directory on first start (so `postie serve` works with
//! no configuration). rustls with the ring provider; TLS 1.2 and 1.3 (RFC 8314 §4.1).

use crate::ServerError;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The rustls server configuration for every TLS listener and STARTTLS.
pub fn server_config(config: &config::Config) -> Result<Arc<ServerConfig>, ServerError> {
    let (cert, key) = match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ => self_signed(&config.data_dir, &config.hostname)?,
    };
    let certs = CertificateDer::pem_file_iter(&cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    Ok(Arc::new(server))
}

/// Paths of the generated certificate and key; created when missing.
fn self_signed(data_dir: &Path, hostname: &str) -> Result<(PathBuf, PathBuf), ServerError> {
    let dir = data_dir.join("tls");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let io = |e: std::io::Error| ServerError::Tls(format!("{}: {e}", dir.display()));
    // Owner only, whatever the umask: the folder holds the private key.
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io)?;
    }
    let names = vec![hostname.to_string(), "localhost".to_string()];
    let generated =
        rcgen::generate_simple_self_signed(names).map_err(|e| ServerError::Tls(e.to_string()))?;
    write_private(&key_path, generated.signing_key.serialize_pem().as_bytes()).map_err(io)?;
    std::fs::write(&cert_path, generated.cert.pem()).map_err(io)?;
    tracing::info!(cert = %cert_path.display(), "created a self-signed certificate");
    Ok((cert_path, key_path))
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}
