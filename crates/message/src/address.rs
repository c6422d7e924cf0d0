//! Mail addresses and domains (RFC 5321 §4.1.2, RFC 6531 for UTF-8).
//!
//! An [`Address`] is `local@domain`. The local part keeps its case (RFC 5321 §2.4 says it
//! may be case-sensitive), but Postie looks accounts up case-insensitively, as every
//! common server does, through [`Address::normalized`]. Domains are compared in lower case.

use std::fmt;

/// Why a string is not a usable mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// No `@`, or nothing before or after it.
    #[error("address must have the form local@domain")]
    Shape,
    /// RFC 5321 §4.5.3.1.1: local part at most 64 octets.
    #[error("local part longer than 64 octets")]
    LocalTooLong,
    /// RFC 5321 §4.5.3.1.2: domain at most 255 octets.
    #[error("domain longer than 255 octets")]
    DomainTooLong,
    /// A character that is never allowed (control characters, spaces, brackets).
    #[error("address contains a character that is not allowed")]
    BadCharacter,
    /// The domain is not a dot-separated list of labels, nor an address literal.
    #[error("domain is not valid")]
    BadDomain,
}

/// A mail domain, stored in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    /// Parses and lower-cases a domain name or address literal (`[127.0.0.1]`).
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let input = input.trim_end_matches('.');
        if input.is_empty() {
            return Err(AddressError::BadDomain);
        }
        if input.len() > 255 {
            return Err(AddressError::DomainTooLong);
        }
        if input.starts_with('[') {
            // RFC 5321 §4.1.3 address literal.
            if !input.ends_with(']') || input.len() < 3 {
                return Err(AddressError::BadDomain);
            }
            let inner = &input[1..input.len() - 1];
            if inner
                .chars()
                .any(|c| c.is_whitespace() || c == '[' || c == ']')
            {
                return Err(AddressError::BadDomain);
            }
            return Ok(Domain(input.to_ascii_lowercase()));
        }
        for label in input.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(AddressError::BadDomain);
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(AddressError::BadDomain);
            }
            // Letters, digits, hyphen; non-ASCII is allowed for UTF-8 domains (RFC 6531).
            if !label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii())
            {
                return Err(AddressError::BadDomain);
            }
        }
        Ok(Domain(input.to_lowercase()))
    }

    /// The domain as text, lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mail address `local@domain`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    local: String,
    domain: Domain,
}

impl Address {
    /// Parses `local@domain` (no angle brackets). The local part may be quoted
    /// (`"a b"@example.org`) and may be UTF-8 (RFC 6531).
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let at = input.rfind('@').ok_or(AddressError::Shape)?;
        let (local, domain) = (&input[..at], &input[at + 1..]);
        if local.is_empty() || domain.is_empty() {
            return Err(AddressError::Shape);
        }
        if local.len() > 64 {
            return Err(AddressError::LocalTooLong);
        }
        let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
        let bad = |c: char| {
            c.is_control() || (!quoted && (c.is_whitespace() || "<>()[],;:\\\"".contains(c)))
        };
        if local.chars().any(bad) {
            return Err(AddressError::BadCharacter);
        }
        if !quoted && (local.starts_with('.') || local.ends_with('.') || local.contains("..")) {
            return Err(AddressError::BadCharacter);
        }
        Ok(Address {
            local: local.to_string(),
            domain: Domain::parse(domain)?,
        })
    }

    /// The part before the `@`, as written.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain, lower case.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The form used as an account key: local part and domain both lower case.
    pub fn normalized(&self) -> String {
        format!("{}@{}", self.local.to_lowercase(), self.domain)
    }

    /// True when the address needs SMTPUTF8 to travel (RFC 6531 §3.3).
    pub fn is_utf8(&self) -> bool {
        !self.local.is_ascii() || !self.domain.as_str().is_ascii()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_table() {
        let table: &[(&str, Result<&str, AddressError>)] = &[
            ("alice@example.org", Ok("alice@example.org")),
            ("Alice@EXAMPLE.org", Ok("Alice@example.org")),
            ("a.b+tag@sub.example.org", Ok("a.b+tag@sub.example.org")),
            ("\"a b\"@example.org", Ok("\"a b\"@example.org")),
            ("jösé@exämple.org", Ok("jösé@exämple.org")),
            ("user@[127.0.0.1]", Ok("user@[127.0.0.1]")),
            ("user@example.org.", Ok("user@example.org")),
            ("noatsign", Err(AddressError::Shape)),
            ("@example.org", Err(AddressError::Shape)),
            ("user@", Err(AddressError::Shape)),
            ("a b@example.org", Err(AddressError::BadCharacter)),
            (".a@example.org", Err(AddressError::BadCharacter)),
            ("a..b@example.org", Err(AddressError::BadCharacter)),
            ("a\0@example.org", Err(AddressError::BadCharacter)),
            ("user@exa mple.org", Err(AddressError::BadDomain)),
            ("user@-bad.org", Err(AddressError::BadDomain)),
            ("user@a..org", Err(AddressError::BadDomain)),
        ];
        for (input, want) in table {
            let got = Address::parse(input).map(|a| a.to_string());
            assert_eq!(
                got.as_deref().map_err(|e| e.clone()),
                want.clone(),
                "{input}"
            );
        }
        let long_local = format!("{}@example.org", "x".repeat(65));
        assert_eq!(Address::parse(&long_local), Err(AddressError::LocalTooLong));
    }

    #[test]
    fn normalized_is_case_insensitive() {
        let a = Address::parse("Alice@Example.ORG").unwrap();
        assert_eq!(a.normalized(), "alice@example.org");
        assert!(!a.is_utf8());
        assert!(Address::parse("jö@example.org").unwrap().is_utf8());
    }
}
