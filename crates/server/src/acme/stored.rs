//! How the ACME state is kept in the store (`Store::value_*`, keys under `acme/`):
//! the account credentials as instant-acme's JSON, the certificate as one PEM text
//! (the private key, then the chain leaf first), the TLS-ALPN-01 answers as the
//! 32-byte SHA-256 digest of the key authorization (RFC 8737 §3).
//!
//! Where it sits: written by [`super::order`], read by [`super::task`], `postie cert
//! status` and [`super::challenge`]. A damaged value is reported as an error, never a
//! panic: it is data read back like network input.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The account: instant-acme `AccountCredentials`, JSON.
pub const ACCOUNT: &str = "acme/account";
/// The certificate in use and its key.
pub const CERTIFICATE: &str = "acme/certificate";
/// The lease only one node holds while it orders.
pub const LEASE: &str = "acme-renew";

/// The store key of the TLS-ALPN-01 answer for `name`.
pub fn tls_alpn_key(name: &str) -> String {
    format!("acme/tls-alpn-01/{name}")
}

/// A certificate chain with its private key, as PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The chain, leaf first (PEM).
    pub chain_pem: String,
    /// The private key (PKCS#8 PEM).
    pub key_pem: String,
}

impl Issued {
    /// The store value: the key, then the chain.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.key_pem.trim_end().to_owned();
        out.push('\n');
        out.push_str(self.chain_pem.trim_end());
        out.push('\n');
        out.into_bytes()
    }

    /// Reads a store value back: the chain (at least one certificate) and the key.
    pub fn decode(
        bytes: &[u8],
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
        let chain = CertificateDer::pem_slice_iter(bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{CERTIFICATE}: {e}"))?;
        if chain.is_empty() {
            return Err(format!("{CERTIFICATE}: no certificate"));
        }
        let key =
            PrivateKeyDer::from_pem_slice(bytes).map_err(|e| format!("{CERTIFICATE}: {e}"))?;
        Ok((chain, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_and_key_survive_the_store() {
        let made = rcgen::generate_simple_self_signed(vec!["mx.example.org".to_owned()]).unwrap();
        let issued = Issued {
            chain_pem: made.cert.pem(),
            key_pem: made.signing_key.serialize_pem(),
        };
        let (chain, key) = Issued::decode(&issued.encode()).unwrap();
        assert_eq!(chain.len(), 1);
        assert_eq!(chain[0].as_ref(), made.cert.der().as_ref());
        assert_eq!(
            key.secret_der(),
            made.signing_key.serialize_der().as_slice()
        );
    }

    #[test]
    fn damaged_values_are_errors() {
        assert!(Issued::decode(b"").is_err());
        assert!(
            Issued::decode(
                b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
            )
            .is_err()
        );
        let made = rcgen::generate_simple_self_signed(vec!["a.example".to_owned()]).unwrap();
        assert!(
            Issued::decode(made.cert.pem().as_bytes()).is_err(),
            "no key"
        );
    }
}
