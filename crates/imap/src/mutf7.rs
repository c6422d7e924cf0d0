//! Modified UTF-7, the IMAP4rev1 mailbox-name encoding (RFC 3501 §5.1.3).
//!
//! Where it sits: the server stores mailbox names as UTF-8. A session that has not
//! enabled UTF8=ACCEPT (RFC 6855) or IMAP4rev2 (RFC 9051) sends and receives names in
//! modified UTF-7; the server's IMAP name layer calls [`decode`] on every name a
//! command carries and [`encode`] on every name a response carries. Pure code, no I/O.
//!
//! The rules (RFC 3501 §5.1.3):
//! - printable US-ASCII (0x20–0x7e) stands for itself, except `&`, which is `&-`;
//! - any other character is written as `&`, the modified BASE64 (RFC 2152 with `,`
//!   instead of `/`, no `=` padding) of its UTF-16BE code units, then `-`;
//! - there is no implicit shift back: every BASE64 run ends with `-`;
//! - modified BASE64 MUST NOT be used for a character that can represent itself, and
//!   superfluous shifts (`-&` between two runs) are not permitted.
//!
//! [`decode`] accepts only the canonical encoding: it decodes, then checks that
//! [`encode`] gives back exactly the input. That one test rejects every non-canonical
//! spelling at once (`&AGE-` for `a`, `&ACY-` for `&`, two adjacent runs, non-zero
//! trailing bits), so each name has exactly one spelling on the wire and the mapping
//! is a bijection between valid UTF-8 names and canonical mUTF-7 names.
//!
//! Hand-written over the `base64` crate (custom alphabet) rather than taken from a
//! crate: `utf7-imap` (last release 2022, pulls in regex and encoding_rs) decodes
//! `String -> String` with no error to report, so it cannot reject a malformed or
//! non-canonical name, and strict rejection is the point here.

use base64::Engine;
use base64::alphabet::Alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use std::fmt;

/// RFC 3501 §5.1.3: RFC 2152's BASE64 with `,` in place of `/`.
const ALPHABET: Alphabet =
    match Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,") {
        Ok(alphabet) => alphabet,
        Err(_) => panic!("the modified BASE64 alphabet is valid"),
    };

/// No `=` padding either way; leftover bits must be zero (RFC 2152 §"Rule 2").
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &ALPHABET,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Why a name is not canonical modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutf7Error {
    /// A byte outside printable US-ASCII (0x20–0x7e) appears unencoded.
    NotPrintable(u8),
    /// A `&` run has no closing `-`.
    Unterminated,
    /// A run is not modified BASE64 (bad character, bad length or non-zero padding bits).
    BadBase64,
    /// A run does not decode to whole UTF-16 code units, or holds an unpaired surrogate.
    BadUtf16,
    /// Valid, but not the one spelling [`encode`] gives (e.g. `&AGE-` for `a`).
    NotCanonical,
}

impl fmt::Display for Mutf7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutf7Error::NotPrintable(b) => write!(f, "byte 0x{b:02x} must be encoded"),
            Mutf7Error::Unterminated => f.write_str("a \"&\" run has no closing \"-\""),
            Mutf7Error::BadBase64 => f.write_str("invalid modified BASE64"),
            Mutf7Error::BadUtf16 => f.write_str("the BASE64 is not valid UTF-16"),
            Mutf7Error::NotCanonical => f.write_str("not the canonical encoding"),
        }
    }
}

impl std::error::Error for Mutf7Error {}

/// A UTF-8 name in modified UTF-7. Always printable US-ASCII.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u8> = Vec::new();
    let mut units = [0u16; 2];
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut run);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            for unit in c.encode_utf16(&mut units) {
                run.extend_from_slice(&unit.to_be_bytes());
            }
        }
    }
    flush(&mut out, &mut run);
    out
}

/// Ends a BASE64 run, if one is open.
fn flush(out: &mut String, run: &mut Vec<u8>) {
    if run.is_empty() {
        return;
    }
    out.push('&');
    BASE64.encode_string(run.as_slice(), out);
    out.push('-');
    run.clear();
}

/// A modified UTF-7 name (as the client sent it) in UTF-8; only the canonical
/// encoding is accepted (see the module docs).
pub fn decode(wire: &[u8]) -> Result<String, Mutf7Error> {
    if let Some(&b) = wire.iter().find(|b| !(0x20..=0x7e).contains(*b)) {
        return Err(Mutf7Error::NotPrintable(b));
    }
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some((&b, tail)) = rest.split_first() {
        if b != b'&' {
            out.push(char::from(b));
            rest = tail;
            continue;
        }
        let end = tail
            .iter()
            .position(|&b| b == b'-')
            .ok_or(Mutf7Error::Unterminated)?;
        let (run, after) = (&tail[..end], &tail[end + 1..]);
        rest = after;
        if run.is_empty() {
            out.push('&');
            continue;
        }
        let bytes = BASE64.decode(run).map_err(|_| Mutf7Error::BadBase64)?;
        if bytes.len() % 2 != 0 {
            return Err(Mutf7Error::BadUtf16);
        }
        let units = bytes
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]));
        for c in char::decode_utf16(units) {
            out.push(c.map_err(|_| Mutf7Error::BadUtf16)?);
        }
    }
    if encode(&out).as_bytes() != wire {
        return Err(Mutf7Error::NotCanonical);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_3501_examples() {
        // RFC 3501 §5.1.3: English, Chinese and Japanese in one name.
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(
            decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Ok(name)
        );
        // No implicit shift back to US-ASCII; the correct form is "&Jjo-!".
        assert_eq!(decode(b"&Jjo!"), Err(Mutf7Error::Unterminated));
        assert_eq!(decode(b"&Jjo-!").as_deref(), Ok("\u{263a}!"));
        // A superfluous shift; the correct form is "&U,BTF2XlZyyKng-".
        assert_eq!(decode(b"&U,BTFw-&ZeVnLIqe-"), Err(Mutf7Error::NotCanonical));
        assert_eq!(
            decode(b"&U,BTF2XlZyyKng-").as_deref(),
            Ok("\u{53f0}\u{5317}\u{65e5}\u{672c}\u{8a9e}")
        );
    }

    #[test]
    fn ampersand_and_accents() {
        assert_eq!(encode("&"), "&-");
        assert_eq!(encode("a&b"), "a&-b");
        assert_eq!(decode(b"a&-b").as_deref(), Ok("a&b"));
        assert_eq!(encode("\u{e9}t\u{e9}"), "&AOk-t&AOk-");
        assert_eq!(decode(b"&AOk-t&AOk-").as_deref(), Ok("\u{e9}t\u{e9}"));
        assert_eq!(encode("Entw\u{fc}rfe"), "Entw&APw-rfe");
        assert_eq!(encode("INBOX"), "INBOX");
        assert_eq!(encode(""), "");
        // Outside the BMP: a surrogate pair.
        assert_eq!(encode("\u{1f600}"), "&2D3eAA-");
        assert_eq!(decode(b"&2D3eAA-").as_deref(), Ok("\u{1f600}"));
    }

    #[test]
    fn non_canonical_and_broken_input_is_rejected() {
        // RFC 3501 §5.1.3: BASE64 MUST NOT represent printable US-ASCII.
        assert_eq!(decode(b"&AGE-"), Err(Mutf7Error::NotCanonical));
        assert_eq!(decode(b"&ACY-"), Err(Mutf7Error::NotCanonical));
        // Non-zero trailing bits ("&AOk-" with its last bits set).
        assert_eq!(decode(b"&AOl-"), Err(Mutf7Error::BadBase64));
        // Padding, and "/" instead of ",".
        assert_eq!(decode(b"&AOk=-"), Err(Mutf7Error::BadBase64));
        assert_eq!(decode(b"&U/BTFw-"), Err(Mutf7Error::BadBase64));
        // An odd number of bytes, and an unpaired surrogate.
        assert_eq!(decode(b"&AOkA-"), Err(Mutf7Error::BadUtf16));
        assert_eq!(decode(b"&2D0-"), Err(Mutf7Error::BadUtf16));
        // Raw 8-bit and control bytes.
        assert_eq!(
            decode("\u{e9}t\u{e9}".as_bytes()),
            Err(Mutf7Error::NotPrintable(0xc3))
        );
        assert_eq!(decode(b"a\tb"), Err(Mutf7Error::NotPrintable(b'\t')));
        assert_eq!(decode(b"a&"), Err(Mutf7Error::Unterminated));
    }

    proptest! {
        #[test]
        fn round_trip(name in any::<String>()) {
            let wire = encode(&name);
            prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(wire.as_bytes()), Ok(name));
        }

        #[test]
        fn printable_ascii_without_ampersand_is_itself(name in "[ -%'-~]*") {
            prop_assert_eq!(&encode(&name), &name);
            prop_assert_eq!(decode(name.as_bytes()), Ok(name.clone()));
        }

        #[test]
        fn decoding_is_canonical(wire in "[ -~]{0,24}") {
            // Whatever decodes, encodes back to exactly the same bytes.
            if let Ok(name) = decode(wire.as_bytes()) {
                prop_assert_eq!(encode(&name), wire);
            }
        }
    }
}
