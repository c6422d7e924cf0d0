//! Mail domains and their one canonical form (RFC 5321 §2.3.5, RFC 5890, RFC 5891,
//! UTS #46).
//!
//! Where it sits: [`Domain::parse`] is the only door from text to a domain. The SMTP
//! session parses envelope addresses with it, the CLI parses what an administrator
//! types, the store parses what it reads back, DKIM parses the signing domain. Every
//! later comparison (local domain? relay? which account? which DKIM key?) compares
//! [`Domain`] values or their [`Domain::as_str`], so a domain is normalised once, here.
//!
//! The canonical form is the **A-label** form: ASCII, lower case, each non-ASCII label
//! as `xn--` Punycode (RFC 5890 §2.3.2.1). `例子.中国`, `xn--fsqu00a.xn--fiqs8s`,
//! `XN--FSQU00A.xn--fiqs8s` and `例子。中国` (ideographic full stop) are one domain: a
//! U-label and its A-label name the same domain (RFC 5890 §2.3.2.1, RFC 6531 §3.2),
//! and DNS, DKIM `d=` (RFC 8616 §4) and our database keys all take the A-label. The
//! **U-label** form ([`Domain::unicode`], also what `Display` shows) is for people.
//!
//! Processing is UTS #46 (the `idna` crate: mapping, NFC, IDNA2008 validity, Bidi and
//! ContextJ rules, Punycode), nontransitional, so `ß` stays `ß` as IDNA2008 wants
//! (RFC 5891 §5). ASCII labels keep the rules mail always had: letters, digits,
//! hyphen and `_` (seen in real host names), no hyphen first or last, at most 63 octets
//! a label (RFC 1035 §2.3.4) and 255 a domain (RFC 5321 §4.5.3.1.2), both measured on
//! the A-label form. Address literals (`[192.0.2.1]`, RFC 5321 §4.1.3) are not names
//! and are kept as written, in lower case.
//!
//! Security stance: input is hostile. Its length is capped before the `idna` crate sees
//! it; any IDNA failure (a label UTS #46 does not allow, a malformed `xn--` label, a
//! label that maps to a forbidden character) is [`AddressError::BadDomain`], never a
//! panic.

use std::fmt;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use crate::address::AddressError;

/// RFC 5321 §4.5.3.1.2: a domain is at most 255 octets.
const MAX_DOMAIN: usize = 255;

/// RFC 1035 §2.3.4: a label is at most 63 octets (of its A-label, RFC 5890 §2.3.2.1).
const MAX_LABEL: usize = 63;

/// Longest input handed to the `idna` crate. Mapping can shorten text (full-width
/// letters are three octets each and map to one), so a little more than
/// [`MAX_DOMAIN`] is read, but never an unbounded amount.
const MAX_INPUT: usize = MAX_DOMAIN * 4;

/// ASCII that may not appear in a domain after UTS #46 mapping: everything except
/// letters, digits, hyphen, dot and `_` (UseSTD3ASCIIRules, less the underscore), and
/// the space and control characters.
const DENY: AsciiDenyList = AsciiDenyList::new(true, "!\"#$%&'()*+,/:;<=>?@[\\]^`{|}~");

/// A mail domain in its canonical (A-label, lower case) form, with its U-label form
/// kept for display. Two `Domain`s are equal exactly when they name the same domain,
/// whichever spelling they were parsed from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain {
    /// A-labels, lower case: the comparison key.
    ascii: String,
    /// The same domain with U-labels, derived from `ascii` (so equal when it is).
    unicode: String,
}

impl Domain {
    /// Parses a domain name (either spelling, any case, trailing dots ignored) or an
    /// address literal (`[127.0.0.1]`) into its canonical form.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        if input.len() > MAX_INPUT {
            return Err(AddressError::DomainTooLong);
        }
        let trimmed = input.trim_end_matches('.');
        if trimmed.is_empty() {
            return Err(AddressError::BadDomain);
        }
        if trimmed.starts_with('[') {
            return literal(trimmed);
        }
        if trimmed.len() > MAX_DOMAIN {
            return Err(AddressError::DomainTooLong);
        }
        let ascii = to_ascii(trimmed)?;
        let unicode = to_unicode(&ascii);
        Ok(Domain { ascii, unicode })
    }

    /// The canonical form: A-labels, lower case (`xn--bcher-kva.example`). This is the
    /// form to compare, to store as a key, to look up in DNS and to sign with.
    pub fn as_str(&self) -> &str {
        &self.ascii
    }

    /// The form for people: U-labels (`bücher.example`). The same as [`Domain::as_str`]
    /// for an all-ASCII domain.
    pub fn unicode(&self) -> &str {
        &self.unicode
    }

    /// True when the domain has an internationalised (`xn--`) label.
    pub fn is_idn(&self) -> bool {
        self.ascii != self.unicode
    }
}

/// Shows the U-label form, for people; protocol code uses [`Domain::as_str`] or the
/// form the address was written in ([`crate::Address`]'s `Display`).
impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.unicode)
    }
}

/// RFC 5321 §4.1.3 address literal, kept as written in lower case.
fn literal(input: &str) -> Result<Domain, AddressError> {
    if input.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong);
    }
    if !input.ends_with(']') || input.len() < 3 {
        return Err(AddressError::BadDomain);
    }
    let inner = &input[1..input.len() - 1];
    if inner
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '[' || c == ']')
    {
        return Err(AddressError::BadDomain);
    }
    let text = input.to_ascii_lowercase();
    Ok(Domain {
        ascii: text.clone(),
        unicode: text,
    })
}

/// UTS #46 ToASCII (RFC 5891 §5 lookup processing), then the label rules of the module
/// docs on the result.
fn to_ascii(input: &str) -> Result<String, AddressError> {
    let mapped = Uts46::new()
        // RFC 5891 §4.2.3.1: no hyphen at the start or end of a label. The §4.2.3.1
        // "--" in positions 3-4 rule is not applied to ASCII labels: real host names
        // break it, and `xn--` labels are checked by decoding them.
        .to_ascii(
            input.as_bytes(),
            DENY,
            Hyphens::CheckFirstLast,
            DnsLength::Ignore,
        )
        .map_err(|_| AddressError::BadDomain)?;
    // A full stop that mapping produced (`例子.中国。`) may end the name.
    let ascii = mapped.trim_end_matches('.');
    if ascii.is_empty() {
        return Err(AddressError::BadDomain);
    }
    if ascii.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong);
    }
    for label in ascii.split('.') {
        let ok = !label.is_empty()
            && label.len() <= MAX_LABEL
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok {
            return Err(AddressError::BadDomain);
        }
    }
    Ok(ascii.to_owned())
}

/// UTS #46 ToUnicode of a name [`to_ascii`] accepted. That cannot fail; if it ever
/// did, the A-label form is shown rather than text with replacement characters.
fn to_unicode(ascii: &str) -> String {
    let (unicode, result) =
        Uts46::new().to_unicode(ascii.as_bytes(), DENY, Hyphens::CheckFirstLast);
    match result {
        Ok(()) => unicode.into_owned(),
        Err(_) => ascii.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input → (A-label form, U-label form), or the error.
    #[allow(clippy::type_complexity)]
    const TABLE: &[(&str, Result<(&str, &str), AddressError>)] = &[
        ("example.org", Ok(("example.org", "example.org"))),
        ("Example.ORG.", Ok(("example.org", "example.org"))),
        (
            "_dmarc.example.org",
            Ok(("_dmarc.example.org", "_dmarc.example.org")),
        ),
        ("例子.中国", Ok(("xn--fsqu00a.xn--fiqs8s", "例子.中国"))),
        (
            "xn--fsqu00a.xn--fiqs8s",
            Ok(("xn--fsqu00a.xn--fiqs8s", "例子.中国")),
        ),
        (
            "XN--FSQU00A.XN--FIQS8S",
            Ok(("xn--fsqu00a.xn--fiqs8s", "例子.中国")),
        ),
        // U+3002 IDEOGRAPHIC FULL STOP is a label separator (UTS #46 mapping).
        ("例子。中国", Ok(("xn--fsqu00a.xn--fiqs8s", "例子.中国"))),
        ("例子.中国。", Ok(("xn--fsqu00a.xn--fiqs8s", "例子.中国"))),
        (
            "bücher.example",
            Ok(("xn--bcher-kva.example", "bücher.example")),
        ),
        (
            "xn--bcher-kva.example",
            Ok(("xn--bcher-kva.example", "bücher.example")),
        ),
        (
            "XN--BCHER-KVA.example",
            Ok(("xn--bcher-kva.example", "bücher.example")),
        ),
        (
            "Mail.Bücher.EXAMPLE",
            Ok(("mail.xn--bcher-kva.example", "mail.bücher.example")),
        ),
        (
            "BÜCHER.example",
            Ok(("xn--bcher-kva.example", "bücher.example")),
        ),
        // Mixed spellings in one name.
        (
            "xn--bcher-kva.中国",
            Ok(("xn--bcher-kva.xn--fiqs8s", "bücher.中国")),
        ),
        // Full-width Latin letters map to ASCII.
        ("ｅｘａｍｐｌｅ.org", Ok(("example.org", "example.org"))),
        // Nontransitional: ß stays (IDNA2008), it does not become "ss".
        (
            "straße.example",
            Ok(("xn--strae-oqa.example", "straße.example")),
        ),
        ("[127.0.0.1]", Ok(("[127.0.0.1]", "[127.0.0.1]"))),
        ("[IPv6:::1]", Ok(("[ipv6:::1]", "[ipv6:::1]"))),
        // Malformed Punycode, and A-labels that do not decode to a valid U-label.
        ("xn--zz.example", Err(AddressError::BadDomain)),
        ("xn--.example", Err(AddressError::BadDomain)),
        ("xn--abc-.example", Err(AddressError::BadDomain)),
        ("xn--a.example", Err(AddressError::BadDomain)),
        // A label UTS #46 disallows, and a mapping to a forbidden ASCII character.
        ("a\u{2028}b.example", Err(AddressError::BadDomain)),
        ("a＠b.example", Err(AddressError::BadDomain)),
        ("a／b.example", Err(AddressError::BadDomain)),
        ("-bücher.example", Err(AddressError::BadDomain)),
        ("exa mple.org", Err(AddressError::BadDomain)),
        ("-bad.org", Err(AddressError::BadDomain)),
        ("bad-.org", Err(AddressError::BadDomain)),
        ("a..org", Err(AddressError::BadDomain)),
        ("", Err(AddressError::BadDomain)),
        (".", Err(AddressError::BadDomain)),
        ("。", Err(AddressError::BadDomain)),
        ("[127.0.0.1", Err(AddressError::BadDomain)),
    ];

    #[test]
    fn canonical_forms_table() {
        for (input, want) in TABLE {
            let got = Domain::parse(input);
            let got = got
                .as_ref()
                .map(|d| (d.as_str(), d.unicode()))
                .map_err(Clone::clone);
            assert_eq!(got, *want, "{input:?}");
        }
    }

    #[test]
    fn both_spellings_are_one_domain() {
        for (a, b) in [
            ("例子.中国", "xn--fsqu00a.xn--fiqs8s"),
            ("bücher.example", "XN--BCHER-KVA.EXAMPLE"),
            ("Mail.Bücher.EXAMPLE", "mail.xn--bcher-kva.example"),
            ("例子。中国", "例子.中国"),
        ] {
            let (a, b) = (Domain::parse(a).unwrap(), Domain::parse(b).unwrap());
            assert_eq!(a, b);
            assert_eq!(a.to_string(), b.to_string());
            assert!(a.is_idn());
        }
        assert!(!Domain::parse("example.org").unwrap().is_idn());
    }

    #[test]
    fn lengths_are_measured_on_the_a_label() {
        let label63 = "a".repeat(63);
        assert!(Domain::parse(&format!("{label63}.org")).is_ok());
        assert_eq!(
            Domain::parse(&format!("{}.org", "a".repeat(64))),
            Err(AddressError::BadDomain)
        );
        // 21 three-octet characters are 63 octets of UTF-8 but a 66-octet A-label.
        assert_eq!(
            Domain::parse("例子中国汉字测试邮件服务器域名国际化标签长.org"),
            Err(AddressError::BadDomain)
        );
        // 255 octets in all is the most (RFC 5321 §4.5.3.1.2).
        let name = |n: usize| vec!["a".repeat(63); n].join(".");
        let at_limit = format!("{}.{}", name(3), "b".repeat(63));
        assert_eq!(at_limit.len(), 255);
        assert!(Domain::parse(&at_limit).is_ok());
        assert_eq!(
            Domain::parse(&format!("{at_limit}.c")),
            Err(AddressError::DomainTooLong)
        );
        // Unicode text under the cap whose A-label form is over 255 octets.
        // ("例." is 4 octets, its A-label "xn--fsq." 8.)
        let wide = vec!["例"; 60].join(".");
        assert!(wide.len() <= MAX_DOMAIN);
        assert_eq!(Domain::parse(&wide), Err(AddressError::DomainTooLong));
        // Hostile lengths stop before the idna crate sees them.
        let huge = "例".repeat(100_000);
        assert_eq!(Domain::parse(&huge), Err(AddressError::DomainTooLong));
        let huge_literal = format!("[{}]", "1".repeat(300));
        assert_eq!(
            Domain::parse(&huge_literal),
            Err(AddressError::DomainTooLong)
        );
    }

    #[test]
    fn arbitrary_text_never_panics() {
        // A crude sweep over short strings of awkward characters; the fuzz target
        // (smtp_session) covers the rest.
        let alphabet = [
            "a", "-", ".", "xn--", "ß", "例", "。", "\u{200d}", "\u{0627}", "1", "_", "\u{301}",
            "@", " ",
        ];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    let input = format!("{a}{b}{c}");
                    if let Ok(d) = Domain::parse(&input) {
                        // The canonical form is a fixed point.
                        assert_eq!(Domain::parse(d.as_str()).as_ref(), Ok(&d), "{input:?}");
                        assert_eq!(Domain::parse(d.unicode()).as_ref(), Ok(&d), "{input:?}");
                    }
                }
            }
        }
    }
}

/// Whether `name` is a host name in the LDH form DNS and certificates use: dot-separated
/// labels of letters, digits and hyphens, none empty, none starting or ending with a
/// hyphen, at most 63 octets each and 253 in all (RFC 1123 §2.1, RFC 1035 §2.3.4). No
/// trailing dot; IDNs in their A-label form pass.
pub fn is_ldh_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod ldh_tests {
    use super::is_ldh_name;

    #[test]
    fn ldh_names() {
        assert!(is_ldh_name("mta-sts.example.org"));
        assert!(is_ldh_name("xn--bcher-kva.example"));
        assert!(is_ldh_name("localhost"));
        assert!(!is_ldh_name(""));
        assert!(!is_ldh_name("a..b"));
        assert!(!is_ldh_name("-a.example"));
        assert!(!is_ldh_name("a-.example"));
        assert!(!is_ldh_name("a_b.example"));
        assert!(!is_ldh_name(&format!("{}.example", "a".repeat(64))));
        assert!(!is_ldh_name(&"a.".repeat(127)));
    }
}
