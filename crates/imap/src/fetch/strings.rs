//! Turning message bytes into imap-codec strings.
//!
//! Where it sits: the last step of every FETCH renderer ([`super::envelope`](mod@super::envelope),
//! [`super::structure`]) — header values cut out of the raw message become
//! [`IString`]/[`NString`] here. RFC 3501 §4.3 strings are quoted when the bytes allow
//! it (7-bit TEXT-CHARs, no CR/LF) and literals otherwise; imap-codec picks between the
//! two. A literal may carry any octet but NUL (RFC 3501 §4.3 CHAR8), so NULs — which
//! cannot be sent in a header value anyway — are dropped rather than failing the FETCH.

use imap_codec::imap_types::core::{IString, NString};

/// An IMAP string (quoted if possible, literal otherwise) holding `bytes`.
pub(crate) fn istring(bytes: impl Into<Vec<u8>>) -> IString<'static> {
    let mut bytes = bytes.into();
    bytes.retain(|&b| b != 0);
    // Without NULs every byte is a CHAR8, so the literal fallback always validates.
    IString::try_from(bytes).unwrap_or_else(|_| IString::try_from("").expect("empty quoted"))
}

/// `NIL` for `None`, otherwise [`istring`].
pub(crate) fn nstring(bytes: Option<impl Into<Vec<u8>>>) -> NString<'static> {
    NString(bytes.map(istring))
}

/// An atom-like protocol token (media type, encoding, parameter name) as a string,
/// upper-cased the way RFC 3501's own examples show them (`"TEXT" "PLAIN"`,
/// `("CHARSET" "US-ASCII")`, `"BASE64"`).
pub(crate) fn upper(bytes: &[u8]) -> IString<'static> {
    istring(bytes.to_ascii_uppercase())
}
