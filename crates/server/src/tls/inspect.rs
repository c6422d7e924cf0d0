//! What a certificate says about itself, for `postie cert status`, the renewal task
//! (is it due? does it name what we want?) and the not-after metric: subject, issuer,
//! subject alternative names, not-after and serial, read with x509-parser.
//!
//! Where it sits: a pure function over DER bytes; no I/O.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The parts of a certificate the operator and the renewal task look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The subject's distinguished name (RFC 4514 form).
    pub subject: String,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// DNS names and IP addresses of the subjectAltName extension (RFC 5280 §4.2.1.6).
    pub names: Vec<String>,
    /// notBefore, unix seconds.
    pub not_before: i64,
    /// notAfter, unix seconds (RFC 5280 §4.1.2.5).
    pub not_after: i64,
    /// The serial number, lower-case hex.
    pub serial: String,
}

/// Reads `der`, one X.509 certificate.
pub fn summarize(der: &[u8]) -> Result<Summary, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("not a certificate: {e}"))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => names.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        names.push(std::net::Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        names.push(std::net::Ipv6Addr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(Summary {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        serial: cert.raw_serial_as_string().replace(':', ""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_reads_back() {
        let made = rcgen::generate_simple_self_signed(vec![
            "mx.example.org".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .unwrap();
        let s = summarize(made.cert.der()).unwrap();
        assert_eq!(s.names, vec!["mx.example.org", "127.0.0.1"]);
        assert!(s.not_after > s.not_before);
        assert!(!s.serial.is_empty() && !s.serial.contains(':'));
        assert!(s.issuer.contains("rcgen"), "{}", s.issuer);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(summarize(b"not DER").is_err());
    }
}
