//! Mail addresses and domains (RFC 5321 §4.1.2, RFC 6531 for UTF-8).
//!
//! An [`Address`] is `local@domain`. The local part keeps its case (RFC 5321 §2.4 says it
//! may be case-sensitive), but Postie looks accounts up case-insensitively, as every
//! common server does, through [`Address::normalized`].
//!
//! Internationalised domains: one domain, two spellings. `li@例子.中国` and
//! `li@xn--fsqu00a.xn--fiqs8s` are the same mailbox (RFC 5890 §2.3.2.1, RFC 6531 §3.2).
//! The domain is normalised once, by [`Domain::parse`] (UTS #46): Postie **compares and
//! stores the A-label form** (ASCII, lower case: [`Domain::as_str`],
//! [`Address::normalized`]) and **shows people the U-label form** ([`Domain::unicode`],
//! `Display` of a [`Domain`], [`Address::to_unicode`]). See [`crate::domain`].
//!
//! An address also remembers which spelling its domain was written in, and its
//! `Display` (the form that goes back on the wire: envelopes in the queue, relayed
//! `RCPT TO`, `Return-Path:`) uses that spelling, so a message is not rewritten on its way
//! through. Equality and hashing ignore the spelling.

use std::fmt;
use std::hash::{Hash, Hasher};

pub use crate::domain::Domain;

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

/// A mail address `local@domain`. Equal when the local parts are equal as written and
/// the domains are the same domain, in whichever spelling.
#[derive(Debug, Clone)]
pub struct Address {
    local: String,
    domain: Domain,
    /// The domain was written with non-ASCII characters (a U-label): `Display` shows
    /// [`Domain::unicode`], else [`Domain::as_str`].
    written_utf8: bool,
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        self.local == other.local && self.domain == other.domain
    }
}

impl Eq for Address {}

impl Hash for Address {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.local.hash(state);
        self.domain.hash(state);
    }
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
            written_utf8: !domain.is_ascii(),
        })
    }

    /// The part before the `@`, as written.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain, in its canonical form.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The form used as an account key: local part lower case, domain in its canonical
    /// A-label form, so both spellings of an IDN domain find the same account.
    pub fn normalized(&self) -> String {
        format!("{}@{}", self.local.to_lowercase(), self.domain.as_str())
    }

    /// The address for people: local part as written, domain in U-labels.
    pub fn to_unicode(&self) -> String {
        format!("{}@{}", self.local, self.domain.unicode())
    }

    /// The address with its domain in A-labels, local part as written
    /// (`li@xn--fsqu00a.xn--fiqs8s`): the spelling for a message without SMTPUTF8, as
    /// RFC 6531 §3.2 allows a U-label to be replaced by its A-label.
    pub fn to_ascii_domain(&self) -> String {
        format!("{}@{}", self.local, self.domain.as_str())
    }

    /// True when the address, as written, needs SMTPUTF8 to travel (RFC 6531 §3.3):
    /// a UTF-8 local part, or a domain written in U-labels.
    pub fn is_utf8(&self) -> bool {
        !self.local.is_ascii() || self.written_utf8
    }
}

/// The address as written (local part as is, domain in the spelling it came in, lower
/// case): the form for the wire. RFC 6531 §3.2 lets a U-label be replaced by its
/// A-label, but nothing here does it behind the sender's back.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = if self.written_utf8 {
            self.domain.unicode()
        } else {
            self.domain.as_str()
        };
        write!(f, "{}@{}", self.local, domain)
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
            // The domain keeps its spelling (lower-cased, UTS #46 mapped) for the wire.
            ("li@例子.中国", Ok("li@例子.中国")),
            ("li@XN--FSQU00A.xn--fiqs8s", Ok("li@xn--fsqu00a.xn--fiqs8s")),
            ("Li@例子。中国", Ok("Li@例子.中国")),
            ("x@Mail.Bücher.EXAMPLE", Ok("x@mail.bücher.example")),
            ("user@xn--zz.example", Err(AddressError::BadDomain)),
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

    #[test]
    fn both_spellings_of_an_idn_domain_are_one_address() {
        for (a, b) in [
            ("li@例子.中国", "LI@xn--fsqu00a.xn--fiqs8s"),
            ("kunde@bücher.example", "Kunde@XN--BCHER-KVA.example"),
            ("a@Mail.Bücher.EXAMPLE", "a@mail.xn--bcher-kva.example"),
            ("li@例子。中国", "li@例子.中国"),
        ] {
            let (a, b) = (Address::parse(a).unwrap(), Address::parse(b).unwrap());
            assert_eq!(a.normalized(), b.normalized());
            assert!(a.normalized().is_ascii(), "{}", a.normalized());
            assert_eq!(a.domain(), b.domain());
            assert_eq!(a.to_unicode().to_lowercase(), b.to_unicode().to_lowercase());
        }
        let u = Address::parse("li@例子.中国").unwrap();
        let a = Address::parse("li@xn--fsqu00a.xn--fiqs8s").unwrap();
        assert_eq!(u, a);
        let state = std::collections::hash_map::RandomState::new();
        assert_eq!(
            std::hash::BuildHasher::hash_one(&state, &u),
            std::hash::BuildHasher::hash_one(&state, &a)
        );
        assert_eq!(u.normalized(), "li@xn--fsqu00a.xn--fiqs8s");
        assert_eq!(u.to_unicode(), "li@例子.中国");
        assert_eq!(a.to_unicode(), "li@例子.中国");
        assert_eq!(u.to_ascii_domain(), "li@xn--fsqu00a.xn--fiqs8s");
        // Only the U-label spelling needs SMTPUTF8 on the wire (RFC 6531 §3.3).
        assert!(u.is_utf8());
        assert!(!a.is_utf8());
        // Display round-trips through parse (the queue stores envelopes that way).
        for x in [&u, &a] {
            let again = Address::parse(&x.to_string()).unwrap();
            assert_eq!(again.to_string(), x.to_string());
            assert_eq!(again.is_utf8(), x.is_utf8());
        }
    }
}
