//! The TLS-ALPN-01 challenge certificate (RFC 8737 §3): self-signed, one dNSName (the
//! name being validated) and the critical `id-pe-acmeIdentifier` extension holding
//! the SHA-256 digest of the key authorization.
//!
//! Where it sits: [`crate::tls::Acceptor`] calls [`tls_alpn_certificate`] for a
//! handshake that offers ALPN `acme-tls/1`; the digest comes from the store, put
//! there by whoever orders ([`super::order`]), so any node can answer.

use super::stored;
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use store::Store;

/// The challenge certificate for `name` when an order is waiting for it, else
/// `None` (the handshake then goes on as a normal one).
pub async fn tls_alpn_certificate(store: &Arc<dyn Store>, name: &str) -> Option<Arc<CertifiedKey>> {
    if name.len() > 253 {
        return None;
    }
    let digest = store.value_get(&stored::tls_alpn_key(name)).await.ok()??;
    match certificate(name, &digest) {
        Ok(key) => Some(Arc::new(key)),
        Err(e) => {
            tracing::warn!(name, error = %e, "ACME TLS-ALPN-01: cannot make the certificate");
            None
        }
    }
}

/// Makes the RFC 8737 §3 certificate for `name` and the 32-byte `digest`.
pub fn certificate(name: &str, digest: &[u8]) -> Result<CertifiedKey, String> {
    if digest.len() != 32 {
        return Err(format!(
            "a SHA-256 digest has 32 bytes, not {}",
            digest.len()
        ));
    }
    let mut params =
        rcgen::CertificateParams::new(vec![name.to_owned()]).map_err(|e| e.to_string())?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = rustls::crypto::ring::default_provider();
    // Not `CertifiedKey::from_der`: its key check parses the certificate with webpki,
    // which refuses the critical acmeIdentifier extension it does not know.
    let signer = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| e.to_string())?;
    Ok(CertifiedKey::new(
        vec![CertificateDer::from(cert.der().to_vec())],
        signer,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{FromDer, X509Certificate};

    #[test]
    fn the_certificate_names_one_host_and_carries_the_digest_critically() {
        let digest = [7u8; 32];
        let key = certificate("mx.example.org", &digest).unwrap();
        let der = key.end_entity_cert().unwrap();
        let (_, cert) = X509Certificate::from_der(der.as_ref()).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(san.value.general_names.len(), 1);
        let oid = x509_parser::der_parser::oid!(1.3.6.1.5.5.7.1.31);
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid == oid)
            .expect("acmeIdentifier");
        assert!(ext.critical);
        // OCTET STRING (0x04), 32 bytes, the digest (RFC 8737 §3).
        assert_eq!(&ext.value[..2], &[0x04, 32]);
        assert_eq!(&ext.value[2..], &digest);
    }

    #[test]
    fn a_digest_of_the_wrong_size_is_refused() {
        assert!(certificate("mx.example.org", &[1, 2, 3]).is_err());
    }
}
