//! A message's summary: everything FETCH ENVELOPE / BODYSTRUCTURE / BODY, the SEARCH
//! header keys and SORT need, parsed once when the message is filed and stored beside
//! it, so those commands never re-read or re-parse the message file.
//!
//! Where it sits: whoever files a message (SMTP acceptance's local delivery, IMAP
//! APPEND) calls [`Summary::compute`] on the full message and hands
//! [`Summary::encode`]'s bytes to the store, which keeps them as an opaque blob (COPY
//! and MOVE copy it). The IMAP driver reads the blobs back, [`Summary::decode`]s them
//! (borrowing from the blob: no copies of the header values) and renders from them:
//! [`Summary::envelope`], [`Summary::body_structure`], and the SEARCH/SORT accessors in
//! `summary/search.rs`. A message without a summary (filed by an older Postie, or by
//! the queue's retries) or with one that fails [`Summary::decode`] gets it computed
//! from the message bytes, which the caller writes back.
//!
//! What is kept (see `summary/parts.rs`): the MIME part tree in pre-order, each part
//! with its body's size and line count and the raw values of the header fields the
//! renderers read (the ENVELOPE fields and a few more on a message's own header, the
//! MIME fields everywhere; every occurrence, as sent, still folded); the Date header as
//! mail-parser reads it; the RFC 2047-decoded Subject when it differs from the raw one;
//! the first From/To/Cc address as ENVELOPE parses it, its name decoded (SORT, RFC
//! 5256/5957; `summary/address.rs`).
//! FETCH of the same message renders the same bytes from a stored summary as from a
//! fresh parse: the renderers only ever see a summary.
//!
//! Encoding: one version byte ([`VERSION`]) then the fields with postcard (serde),
//! compact varints and length-prefixed byte strings. The store's bytes are validated
//! like network input (`summary/check.rs`): a wrong version, a truncated or trailing
//! byte, a part tree that does not nest, a field id we do not know, is a
//! [`SummaryError`] and the caller recomputes, never a panic. Changing what is kept
//! or how it is rendered means a new [`VERSION`].

mod address;
mod check;
pub(crate) mod parts;
mod search;

use std::borrow::Cow;

use imap_codec::imap_types::{body::BodyStructure, envelope::Envelope};
use serde::{Deserialize, Serialize};

use crate::fetch::{self, Parsed};

pub use parts::{Kind, Part};
pub use search::{AddressField, NameAndAddress, contains_ignore_case, raw_header_contains};

/// The encoding version written as the first byte. Bump it whenever the kept fields,
/// their meaning or the renderers change: summaries of another version are recomputed.
/// Version 2: the first addresses are read as ENVELOPE reads them (groups, comments
/// inside an addr-spec; `summary/address.rs`), no longer by mail-parser.
pub const VERSION: u8 = 2;

/// Why stored summary bytes were not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SummaryError {
    /// Written by another version of this code (or not a summary at all).
    #[error("unknown summary version {0}")]
    Version(u8),
    /// The bytes do not decode, or decode to something inconsistent.
    #[error("damaged summary: {0}")]
    Damaged(String),
}

/// A byte string that borrows from the decoded blob (or the message it was computed
/// from) and is written as one length-prefixed run of bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bytes<'a>(#[serde(borrow, with = "serde_bytes")] pub Cow<'a, [u8]>);

impl Bytes<'_> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// As text (invalid UTF-8 replaced).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

impl<'a> From<&'a [u8]> for Bytes<'a> {
    fn from(b: &'a [u8]) -> Self {
        Bytes(Cow::Borrowed(b))
    }
}

/// The Date header as mail-parser reads it (RFC 5322 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The instant, unix seconds (SORT's DATE, RFC 5256 §3).
    pub timestamp: i64,
    /// The calendar day in the sender's own zone (SEARCH's SENT*, RFC 3501 §6.4.4).
    pub year: u16,
    /// 1-12 when valid.
    pub month: u8,
    /// 1-31 when valid.
    pub day: u8,
}

/// The subject as mail-parser decodes it (RFC 2047), relative to the raw field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject<'a> {
    /// No Subject field.
    Absent,
    /// Decoding changes nothing: the first raw Subject field, unfolded, is it.
    AsSent,
    /// The decoded text.
    Decoded(#[serde(borrow)] Bytes<'a>),
}

/// The first address of an address field, decoded (SORT, RFC 5256 §3, RFC 5957 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstAddress<'a> {
    /// The display name, if any.
    #[serde(borrow)]
    pub name: Option<Bytes<'a>>,
    /// The addr-spec, if any.
    #[serde(borrow)]
    pub address: Option<Bytes<'a>>,
}

/// A message's summary; see the module docs. `'a` is the blob it was decoded from or
/// the message it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary<'a> {
    /// The MIME parts in pre-order; `parts[0]` is the message itself.
    #[serde(borrow)]
    pub(crate) parts: Vec<Part<'a>>,
    /// The Date header, when mail-parser could read one.
    pub(crate) sent: Option<Sent>,
    /// The decoded Subject.
    #[serde(borrow)]
    pub(crate) subject: Subject<'a>,
    /// First From, To and Cc addresses.
    #[serde(borrow)]
    pub(crate) from: Option<FirstAddress<'a>>,
    #[serde(borrow)]
    pub(crate) to: Option<FirstAddress<'a>>,
    #[serde(borrow)]
    pub(crate) cc: Option<FirstAddress<'a>>,
}

impl<'a> Summary<'a> {
    /// Parses `raw` (a whole message as stored: prefix lines and body) once and keeps
    /// what the summary holds. Never fails: a message mail-parser cannot read is one
    /// text part with no header fields.
    pub fn compute(raw: &'a [u8]) -> Summary<'a> {
        let (root, message) = fetch::tree_and_message(raw);
        let parts = parts::flatten(raw, &root);
        let Some(message) = message else {
            return Summary {
                parts,
                sent: None,
                subject: Subject::Absent,
                from: None,
                to: None,
                cc: None,
            };
        };
        let as_sent = parts[0]
            .first(parts::name::SUBJECT)
            .map(crate::fetch::unfold);
        let subject = match (message.subject(), as_sent) {
            (None, _) => Subject::Absent,
            (Some(decoded), Some(raw)) if decoded.as_bytes() == raw.as_slice() => Subject::AsSent,
            (Some(decoded), _) => Subject::Decoded(Bytes(Cow::Owned(decoded.as_bytes().to_vec()))),
        };
        let sent = message.date().map(|d| Sent {
            timestamp: d.to_timestamp(),
            year: d.year,
            month: d.month,
            day: d.day,
        });
        // SORT's first addresses, parsed as ENVELOPE parses them.
        let envelope = fetch::envelope_of(&parts[0]);
        Summary {
            sent,
            subject,
            from: address::first(&envelope.from),
            to: address::first(&envelope.to),
            cc: address::first(&envelope.cc),
            parts,
        }
    }

    /// The stored form: [`VERSION`], then the postcard encoding.
    pub fn encode(&self) -> Vec<u8> {
        let out = vec![VERSION];
        // Serializing plain data into a Vec cannot fail; an empty body would only
        // make the reader recompute.
        match postcard::to_extend(self, out) {
            Ok(bytes) => bytes,
            Err(_) => vec![VERSION],
        }
    }

    /// Reads stored bytes back, borrowing from them, and checks them (see
    /// `summary/check.rs`): anything but a well-formed summary of this [`VERSION`]
    /// is an error, and the caller recomputes.
    pub fn decode(bytes: &'a [u8]) -> Result<Summary<'a>, SummaryError> {
        let Some((&version, rest)) = bytes.split_first() else {
            return Err(SummaryError::Damaged("empty".into()));
        };
        if version != VERSION {
            return Err(SummaryError::Version(version));
        }
        let (summary, trailing): (Summary<'a>, &[u8]) = postcard::take_from_bytes(rest)
            .map_err(|e| SummaryError::Damaged(format!("does not decode: {e}")))?;
        if !trailing.is_empty() {
            return Err(SummaryError::Damaged(format!(
                "{} trailing bytes",
                trailing.len()
            )));
        }
        check::valid(&summary)?;
        Ok(summary)
    }

    /// A summary that owns its bytes (for keeping it past the blob or message).
    pub fn into_owned(self) -> Summary<'static> {
        let own = |b: Bytes<'_>| Bytes(Cow::Owned(b.0.into_owned()));
        let addr = |a: Option<FirstAddress<'_>>| {
            a.map(|a| FirstAddress {
                name: a.name.map(own),
                address: a.address.map(own),
            })
        };
        Summary {
            parts: self.parts.into_iter().map(Part::into_owned).collect(),
            sent: self.sent,
            subject: match self.subject {
                Subject::Absent => Subject::Absent,
                Subject::AsSent => Subject::AsSent,
                Subject::Decoded(b) => Subject::Decoded(own(b)),
            },
            from: addr(self.from),
            to: addr(self.to),
            cc: addr(self.cc),
        }
    }

    /// ENVELOPE (RFC 3501 §7.4.2), exactly as [`crate::fetch::envelope`] renders it.
    pub fn envelope(&self) -> Envelope<'static> {
        fetch::envelope_of(&self.parts[0])
    }

    /// BODYSTRUCTURE (`extensible`) or BODY (RFC 3501 §7.4.2), exactly as
    /// [`crate::fetch::body_structure`] renders it.
    pub fn body_structure(&self, extensible: bool) -> BodyStructure<'static> {
        fetch::structure_of(&self.parts, extensible)
    }

    /// The part tree (pre-order; `[0]` is the message).
    pub fn parts(&self) -> &[Part<'a>] {
        &self.parts
    }
}

/// The summary of an already parsed message's part tree only (no Date, Subject or
/// address extraction): what ENVELOPE and BODYSTRUCTURE need.
pub(crate) fn parts_of<'a>(parsed: &Parsed<'a>) -> Vec<Part<'a>> {
    parts::flatten(parsed.raw(), parsed.root())
}

#[cfg(test)]
mod tests;
