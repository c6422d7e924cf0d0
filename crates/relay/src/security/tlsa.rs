//! DANE for SMTP (RFC 7672): which TLSA records (RFC 6698, updated by RFC 7671) are
//! usable, whether a presented certificate chain matches them, and the rustls
//! [`ServerCertVerifier`] that makes the handshake fail when it does not.
//!
//! Where it sits: [`crate::outbound`] looks up `_25._tcp.HOST` through
//! [`crate::dns::DnsResolver::tlsa`], [`super::decision`] decides that a host with
//! usable authenticated records must be reached under DANE, and [`dane_config`] builds
//! the client TLS configuration whose verifier is a [`DaneVerifier`] over them.
//!
//! Rules (RFC 7672 §3.1): only DANE-TA(2) and DANE-EE(3) are usable for SMTP; PKIX-TA(0)
//! and PKIX-EE(1) are not (§3.1.3), nor unknown selectors or matching types. DANE-EE
//! matches the end-entity certificate (selector 0) or its SubjectPublicKeyInfo
//! (selector 1), exactly (matching 0) or by SHA-256 (1) or SHA-512 (2), with no name and
//! no expiry check (§3.1.1). DANE-TA matches a certificate of the chain the server
//! presented, which then is the trust anchor the end-entity certificate must chain to,
//! with the name checked against the MX host name (§3.2.2, §3.2.3).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::Digest;

/// One TLSA record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlsa {
    /// Certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// 0 full certificate, 1 SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0 exact, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    /// The certificate association data.
    pub data: Vec<u8>,
}

impl Tlsa {
    /// Usable for SMTP (RFC 7672 §3.1): DANE-TA or DANE-EE, a known selector and
    /// matching type, and digest data of the digest's length.
    pub fn usable(&self) -> bool {
        let length_ok = match self.matching {
            0 => !self.data.is_empty(),
            1 => self.data.len() == 32,
            2 => self.data.len() == 64,
            _ => false,
        };
        matches!(self.usage, 2 | 3) && self.selector <= 1 && length_ok
    }

    /// The record in presentation form, for reports: `3 1 1 ABCD…`.
    pub fn presentation(&self) -> String {
        let hex: String = self.data.iter().map(|b| format!("{b:02X}")).collect();
        format!("{} {} {} {hex}", self.usage, self.selector, self.matching)
    }

    /// Whether `cert` (DER) matches this record's selector and matching type. A
    /// certificate that cannot be parsed matches nothing.
    pub fn matches(&self, cert: &[u8]) -> bool {
        let selected: Vec<u8> = match self.selector {
            0 => cert.to_vec(),
            1 => match x509_parser::parse_x509_certificate(cert) {
                Ok((_, parsed)) => parsed.tbs_certificate.subject_pki.raw.to_vec(),
                Err(_) => return false,
            },
            _ => return false,
        };
        match self.matching {
            0 => selected == self.data,
            1 => sha2::Sha256::digest(&selected).as_slice() == self.data.as_slice(),
            2 => sha2::Sha512::digest(&selected).as_slice() == self.data.as_slice(),
            _ => false,
        }
    }
}

/// Whether the chain (`end_entity` then `intermediates`, as presented) satisfies one of
/// the usable `records` for `server_name` at `now` (see the module rules).
pub fn chain_matches(
    records: &[Tlsa],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> bool {
    let usable = records.iter().filter(|r| r.usable());
    if usable
        .clone()
        .any(|r| r.usage == 3 && r.matches(end_entity.as_ref()))
    {
        return true;
    }
    let ta_records: Vec<&Tlsa> = usable.filter(|r| r.usage == 2).collect();
    if ta_records.is_empty() {
        return false;
    }
    for anchor in intermediates {
        if !ta_records.iter().any(|r| r.matches(anchor.as_ref())) {
            continue;
        }
        let mut roots = RootCertStore::empty();
        if roots.add(anchor.clone()).is_err() {
            continue;
        }
        let Ok(verifier) =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider()).build()
        else {
            continue;
        };
        if verifier
            .verify_server_cert(end_entity, intermediates, server_name, &[], now)
            .is_ok()
        {
            return true;
        }
    }
    false
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// Verifies the server's chain against TLSA records; handshake signatures as usual.
#[derive(Debug)]
pub struct DaneVerifier {
    records: Vec<Tlsa>,
    provider: Arc<CryptoProvider>,
}

impl DaneVerifier {
    /// A verifier for `records` (unusable ones are ignored).
    pub fn new(records: Vec<Tlsa>) -> Self {
        DaneVerifier {
            records,
            provider: provider(),
        }
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if chain_matches(&self.records, end_entity, intermediates, server_name, now) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client TLS configuration that accepts only chains matching `records`.
pub fn dane_config(records: Vec<Tlsa>) -> Arc<rustls::ClientConfig> {
    let verifier = Arc::new(DaneVerifier::new(records));
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    struct Chain {
        ca: CertificateDer<'static>,
        leaf: CertificateDer<'static>,
        leaf_spki: Vec<u8>,
    }

    fn chain(name: &str) -> Chain {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        Chain {
            ca: ca.der().clone(),
            leaf: leaf.der().clone(),
            leaf_spki: spki(leaf.der()),
        }
    }

    fn spki(cert: &[u8]) -> Vec<u8> {
        x509_parser::parse_x509_certificate(cert)
            .unwrap()
            .1
            .tbs_certificate
            .subject_pki
            .raw
            .to_vec()
    }

    fn rec(usage: u8, selector: u8, matching: u8, selected: &[u8]) -> Tlsa {
        let data = match matching {
            0 => selected.to_vec(),
            1 => sha2::Sha256::digest(selected).to_vec(),
            _ => sha2::Sha512::digest(selected).to_vec(),
        };
        Tlsa {
            usage,
            selector,
            matching,
            data,
        }
    }

    fn name(n: &str) -> ServerName<'static> {
        ServerName::try_from(n.to_string()).unwrap()
    }

    fn ok(records: &[Tlsa], c: &Chain, host: &str) -> bool {
        chain_matches(
            records,
            &c.leaf,
            std::slice::from_ref(&c.ca),
            &name(host),
            UnixTime::now(),
        )
    }

    #[test]
    fn dane_ee_every_selector_and_matching_type() {
        let c = chain("mx.example.test");
        for matching in 0..=2 {
            assert!(
                ok(&[rec(3, 0, matching, &c.leaf)], &c, "mx.example.test"),
                "3 0 {matching}"
            );
            assert!(
                ok(&[rec(3, 1, matching, &c.leaf_spki)], &c, "mx.example.test"),
                "3 1 {matching}"
            );
            // DANE-EE: no name check (RFC 7672 §3.1.1).
            assert!(ok(&[rec(3, 1, matching, &c.leaf_spki)], &c, "other.test"));
            // Another certificate's data does not match.
            let other = chain("mx.example.test");
            assert!(!ok(
                &[rec(3, 0, matching, &other.leaf)],
                &c,
                "mx.example.test"
            ));
            assert!(!ok(
                &[rec(3, 1, matching, &other.leaf_spki)],
                &c,
                "mx.example.test"
            ));
        }
    }

    #[test]
    fn dane_ta_chains_and_checks_the_name() {
        let c = chain("mx.example.test");
        let ca_spki = x509_parser::parse_x509_certificate(&c.ca)
            .unwrap()
            .1
            .tbs_certificate
            .subject_pki
            .raw
            .to_vec();
        for matching in 0..=2 {
            assert!(ok(&[rec(2, 0, matching, &c.ca)], &c, "mx.example.test"));
            assert!(ok(&[rec(2, 1, matching, &ca_spki)], &c, "mx.example.test"));
            // §3.2.2: with DANE-TA the name must match.
            assert!(!ok(&[rec(2, 0, matching, &c.ca)], &c, "wrong.example.test"));
        }
        // A TA record naming a CA that did not issue the leaf.
        let other = chain("mx.example.test");
        assert!(!ok(&[rec(2, 0, 1, &other.ca)], &c, "mx.example.test"));
        // The leaf as a "trust anchor" under DANE-TA is not in the intermediates: no.
        assert!(!ok(&[rec(2, 0, 1, &c.leaf)], &c, "mx.example.test"));
    }

    #[test]
    fn pkix_usages_and_unknown_types_are_unusable() {
        let c = chain("mx.example.test");
        for r in [
            rec(0, 0, 1, &c.ca),
            rec(1, 0, 1, &c.leaf),
            Tlsa {
                selector: 2,
                ..rec(3, 0, 1, &c.leaf)
            },
            Tlsa {
                matching: 3,
                ..rec(3, 0, 1, &c.leaf)
            },
            Tlsa {
                data: vec![1, 2, 3],
                ..rec(3, 0, 1, &c.leaf)
            },
        ] {
            assert!(!r.usable(), "{}", r.presentation());
            assert!(!ok(&[r], &c, "mx.example.test"));
        }
        assert!(rec(3, 1, 1, &c.leaf_spki).usable());
        // One usable matching record among unusable ones suffices.
        assert!(ok(
            &[rec(1, 0, 1, &c.leaf), rec(3, 0, 1, &c.leaf)],
            &c,
            "mx.example.test"
        ));
    }
}
