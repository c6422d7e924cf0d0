//! DKIM signing (RFC 6376 §5, RFC 8463): the `DKIM-Signature` fields for a message.
//!
//! Where it sits: the last modifier of the pipeline, after every other header was
//! added, for mail our own users submit. [`sign`] returns the fields to put in front of
//! the message; the message itself is not changed.
//!
//! Choices: relaxed/relaxed canonicalization (RFC 6376 §3.4.2, §3.4.4), which survives
//! the re-folding and whitespace changes of ordinary relays; the fields of
//! [`SIGNED_FIELDS`] that the message has, each instance (RFC 6376 §5.4.2); and `From`
//! once more than it occurs ("oversigned"), so nobody can add a second `From` later
//! without breaking the signature (RFC 6376 §8.15). No `l=` (body length) tag: it would
//! let content be appended (RFC 6376 §8.2).

use mail_auth::common::crypto::{Algorithm, DkimKey, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter as _, Writable};
use mail_auth::dkim::{Canonicalization, DkimSigner};

use crate::fields::fields;
use crate::keys::LoadedKey;

/// The header fields signed when present (RFC 6376 §5.4.1's recommended set, plus the
/// MIME and list fields that change how a message is shown or answered).
pub const SIGNED_FIELDS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "To",
    "Cc",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-ID",
    "Content-Description",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Help",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
];

/// Why a message could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The message has no `From` field (RFC 6376 §5.4: From must be signed).
    #[error("no From header field to sign")]
    NoFrom,
    /// The crypto layer failed.
    #[error("signing with {selector}: {reason}")]
    Crypto {
        /// The selector of the failing key.
        selector: String,
        /// What went wrong.
        reason: String,
    },
}

/// One `DKIM-Signature` field per key in `keys`, concatenated, each ending in CRLF.
/// The signatures have `d=` the key's domain and `s=` its selector.
pub fn sign(keys: &[LoadedKey], message: &[u8]) -> Result<String, SignError> {
    let present = signed_names(message);
    if !present.iter().any(|n| n.eq_ignore_ascii_case("From")) {
        return Err(SignError::NoFrom);
    }
    let mut names = present;
    // Listed twice: the second entry is never matched, so mail-auth appends it to h=
    // as a field that must stay absent (oversigning).
    names.push("From".to_owned());
    let mut out = String::new();
    for key in keys {
        let signature = DkimSigner::from_key(Borrowed(&key.key))
            .domain(key.info.domain.as_str())
            .selector(key.info.selector.as_str())
            .headers(names.iter().map(String::as_str))
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed)
            .sign(message)
            .map_err(|e| SignError::Crypto {
                selector: key.info.selector.clone(),
                reason: e.to_string(),
            })?;
        out.push_str(&signature.to_header());
    }
    Ok(out)
}

/// A key lent to mail-auth's signer, which wants to own one (the loaded keys are kept
/// for the next message).
struct Borrowed<'a>(&'a DkimKey);

impl SigningKey for Borrowed<'_> {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }

    fn algorithm(&self) -> Algorithm {
        self.0.algorithm()
    }
}

/// The names from [`SIGNED_FIELDS`] the message has, once each, in list order.
fn signed_names(message: &[u8]) -> Vec<String> {
    let present = fields(message);
    SIGNED_FIELDS
        .iter()
        .filter(|wanted| {
            present
                .iter()
                .any(|f| f.name.eq_ignore_ascii_case(wanted.as_bytes()))
        })
        .map(|s| (*s).to_owned())
        .collect()
}

/// The domain of the first address in the message's `From` field, in its canonical
/// A-label form ([`message::Domain::as_str`]): `From: a@Bücher.example` gives
/// `xn--bcher-kva.example`, the name its keys are kept under and the `d=` it is signed
/// with (A-labels are valid in every message, RFC 8616 §4; RFC 6376 §3.5 `d=`). `None`
/// when there is no `From` address or its domain does not parse.
pub fn from_domain(message: &[u8]) -> Option<String> {
    let parsed = mail_auth::AuthenticatedMessage::parse(message)?;
    let from = parsed.from.first()?;
    let (_, domain) = from.rsplit_once('@')?;
    let domain = message::Domain::parse(domain.trim()).ok()?;
    Some(domain.as_str().to_owned())
}
