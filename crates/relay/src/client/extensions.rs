//! The service extensions a server advertised in its EHLO reply (RFC 5321 §4.1.1.1:
//! one keyword with optional parameters per line after the first).
//!
//! Where it sits: filled in by `session` after each EHLO (again after
//! STARTTLS, RFC 3207 §4.2), read by `send` to decide how to send a message.

/// What EHLO advertised. A HELO session has none of these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `SIZE` (RFC 1870): `Some(0)` when advertised without a fixed limit.
    pub size: Option<u64>,
    /// `PIPELINING` (RFC 2920).
    pub pipelining: bool,
    /// `8BITMIME` (RFC 6152).
    pub eight_bit_mime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `CHUNKING`, the BDAT command (RFC 3030).
    pub chunking: bool,
    /// `BINARYMIME` (RFC 3030).
    pub binarymime: bool,
    /// `DSN` (RFC 3461): the server passes delivery status requests on.
    pub dsn: bool,
    /// `STARTTLS` (RFC 3207).
    pub starttls: bool,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    pub enhanced_status_codes: bool,
    /// `REQUIRETLS` (RFC 8689 §3).
    pub requiretls: bool,
    /// `AUTH` mechanisms (RFC 4954), upper case, as offered.
    pub auth: Vec<String>,
}

impl Extensions {
    /// Reads the lines of a `250` EHLO reply; the first line is the server's greeting.
    pub(crate) fn from_ehlo(lines: &[String]) -> Self {
        let mut ext = Extensions::default();
        for line in lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            // Some old servers write `AUTH=LOGIN PLAIN`.
            let (keyword, first_param) = match keyword.split_once('=') {
                Some((k, p)) => (k, Some(p)),
                None => (keyword, None),
            };
            let params = first_param.into_iter().chain(words);
            match keyword.to_ascii_uppercase().as_str() {
                "SIZE" => {
                    let limit = params.into_iter().next().and_then(|n| n.parse().ok());
                    ext.size = Some(limit.unwrap_or(0));
                }
                "PIPELINING" => ext.pipelining = true,
                "8BITMIME" => ext.eight_bit_mime = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "CHUNKING" => ext.chunking = true,
                "BINARYMIME" => ext.binarymime = true,
                "DSN" => ext.dsn = true,
                "STARTTLS" => ext.starttls = true,
                "ENHANCEDSTATUSCODES" => ext.enhanced_status_codes = true,
                "REQUIRETLS" => ext.requiretls = true,
                "AUTH" => {
                    for mechanism in params {
                        let mechanism = mechanism.to_ascii_uppercase();
                        if !ext.auth.contains(&mechanism) {
                            ext.auth.push(mechanism);
                        }
                    }
                }
                _ => {}
            }
        }
        ext
    }

    /// The server offers this AUTH mechanism.
    pub fn offers_auth(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keywords() {
        let lines: Vec<String> = [
            "mx.example.org greets you",
            "SIZE 1000",
            "pipelining",
            "8BITMIME",
            "AUTH PLAIN login",
            "AUTH=CRAM-MD5",
            "DSN",
            "requiretls",
            "X-UNKNOWN 1 2",
        ]
        .map(String::from)
        .to_vec();
        let ext = Extensions::from_ehlo(&lines);
        assert_eq!(ext.size, Some(1000));
        assert!(ext.pipelining && ext.eight_bit_mime && ext.dsn && ext.requiretls);
        assert!(!ext.chunking && !ext.starttls && !ext.smtputf8);
        assert_eq!(ext.auth, ["PLAIN", "LOGIN", "CRAM-MD5"]);
        assert!(ext.offers_auth("login"));
    }

    #[test]
    fn size_without_limit() {
        let lines = ["x".to_string(), "SIZE".to_string()];
        assert_eq!(Extensions::from_ehlo(&lines).size, Some(0));
        assert_eq!(Extensions::from_ehlo(&lines[..1]).size, None);
    }
}
