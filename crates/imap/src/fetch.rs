//! FETCH data items rendered from a message (RFC 3501 §6.4.5, §7.4.2; RFC 9051
//! §6.4.5, §7.5.2; RFC 3516 for BINARY).
//!
//! Where it sits: the IMAP driver answers a FETCH by loading a message's raw octets
//! from the store, parsing them once into a [`Parsed`], and rendering each requested
//! item with the functions here into imap-codec's own types, which go straight into
//! a `Data::Fetch` response:
//!
//! | item | rendered by |
//! | --- | --- |
//! | `ENVELOPE` | [`envelope()`] → `MessageDataItem::Envelope` |
//! | `BODYSTRUCTURE` / `BODY` | [`body_structure`] with `extensible` true / false |
//! | `BODY[section]<partial>`, `BODY.PEEK[...]` | [`section()`] → `MessageDataItem::BodyExt` |
//! | `BINARY[part]<partial>`, `BINARY.SIZE[part]` | [`binary()`], [`binary_size`] |
//! | `RFC822` | [`section()`] with no section (the whole message) |
//! | `RFC822.HEADER` / `RFC822.TEXT` | [`section()`] with `HEADER` / `TEXT` |
//! | `RFC822.SIZE` | the raw message's length |
//!
//! [`response::encode`] writes the response itself (imap-codec, except for what its
//! types cannot say: a partial BINARY's origin).
//!
//! (FLAGS, UID, INTERNALDATE and MODSEQ come from the store, not the message.)
//!
//! Everything is byte-exact: sections are slices of the raw message (mail-parser's
//! part offsets), header values are taken as sent (only unfolded), and nothing is
//! decoded except by BINARY.
//!
//! Inside, in the order a FETCH flows through them: `tree` (the part tree of byte
//! ranges, built once by [`Parsed::new`]); `header` and `lexer` (raw header fields
//! and tokens); the renderers `envelope` (with `address`), `structure` (with
//! `params`), `section` and `binary` (with `decode`); `strings` (bytes to
//! imap-codec strings). ENVELOPE and BODYSTRUCTURE render from a
//! [`crate::summary::Summary`]'s part tree, which the store keeps so those two need
//! no message bytes at all; the functions here build it from a [`Parsed`] first.

mod address;
mod binary;
mod decode;
mod envelope;
pub(crate) mod header;
mod lexer;
mod params;
pub mod response;
mod section;
mod strings;
mod structure;
mod tree;

use imap_codec::imap_types::{body::BodyStructure, envelope::Envelope, fetch::Section};

use crate::summary::{self, Part};

pub use binary::SectionError;
pub(crate) use header::unfold;
pub(crate) use tree::{Kind, MAX_DEPTH, Node};

/// A message parsed once (mail-parser), from which every FETCH item is rendered.
///
/// Only the MIME part tree — where each header block and body lies in the raw
/// octets — is kept; the renderers read the raw bytes themselves.
#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    raw: &'a [u8],
    root: tree::Node,
}

impl<'a> Parsed<'a> {
    /// Parses `raw`, a message as stored (RFC 5322, CRLF or bare LF line ends).
    /// Never fails: a message without a recognisable header is one text part.
    pub fn new(raw: &'a [u8]) -> Self {
        Self {
            raw,
            root: tree::build(raw),
        }
    }

    /// The octets this was parsed from.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The part tree.
    pub(crate) fn root(&self) -> &Node {
        &self.root
    }
}

/// The part tree of `raw` and mail-parser's parse of it, from one parse (for
/// [`crate::summary::Summary::compute`]).
pub(crate) fn tree_and_message(raw: &[u8]) -> (Node, Option<mail_parser::Message<'_>>) {
    tree::build_keeping(raw)
}

/// ENVELOPE of a summary part holding a message's header.
pub(crate) fn envelope_of(part: &Part<'_>) -> Envelope<'static> {
    envelope::from_part(part)
}

/// BODYSTRUCTURE / BODY of a summary's part tree.
pub(crate) fn structure_of(parts: &[Part<'_>], extensible: bool) -> BodyStructure<'static> {
    structure::render(parts, 0, extensible, false)
}

/// ENVELOPE (RFC 3501 §7.4.2): date, subject, from, sender, reply-to, to, cc, bcc,
/// in-reply-to and message-id of the message, as sent (RFC 2047 encoded words stay
/// encoded). Sender and reply-to default to from.
pub fn envelope(parsed: &Parsed<'_>) -> Envelope<'static> {
    envelope::from_part(&summary::parts_of(parsed)[0])
}

/// BODYSTRUCTURE (`extensible`: with MD5, disposition, language and location
/// extension data) or BODY (without), RFC 3501 §7.4.2.
pub fn body_structure(parsed: &Parsed<'_>, extensible: bool) -> BodyStructure<'static> {
    structure_of(&summary::parts_of(parsed), extensible)
}

/// `BODY[section]<partial>` and `BODY.PEEK` (RFC 3501 §6.4.5): the octets of a section —
/// none (the whole message), `HEADER`, `HEADER.FIELDS (list)`,
/// `HEADER.FIELDS.NOT (list)`, `TEXT`, part numbers `1.2.3`, `part.MIME`, and
/// `part.HEADER`/`.TEXT`/... of message/rfc822 parts — cut to `partial =
/// (origin, count)` if given. A section the message does not have is empty.
///
/// `raw` must be the octets `parsed` was made from.
pub fn section(
    parsed: &Parsed<'_>,
    raw: &[u8],
    section: Option<&Section<'_>>,
    partial: Option<(u32, u32)>,
) -> Vec<u8> {
    debug_assert_eq!(raw.len(), parsed.raw.len(), "raw is not the parsed message");
    section::partial(section::octets(&parsed.root, raw, section), partial)
}

/// `BODY[]<partial>` and `RFC822`: the whole message, cut to `partial`, as
/// [`section()`] with no section gives it, without parsing the message at all.
pub fn whole(raw: &[u8], partial: Option<(u32, u32)>) -> Vec<u8> {
    section::partial(raw.to_vec(), partial)
}

/// `BINARY[part]<partial>` (RFC 3516): the content of a part with its
/// Content-Transfer-Encoding undone, cut to `partial = (origin, count)`. An empty
/// `part` is the whole message; a missing part is empty.
/// [`SectionError::UnknownCte`] → the caller answers `NO [UNKNOWN-CTE]`.
///
/// `raw` must be the octets `parsed` was made from.
pub fn binary(
    parsed: &Parsed<'_>,
    raw: &[u8],
    part: &[u32],
    partial: Option<(u32, u32)>,
) -> Result<Vec<u8>, SectionError> {
    debug_assert_eq!(raw.len(), parsed.raw.len(), "raw is not the parsed message");
    binary::decoded(&parsed.root, raw, part).map(|data| section::partial(data, partial))
}

/// `BINARY.SIZE[part]` (RFC 3516 §4.2): the length [`binary()`] would return without a
/// partial.
pub fn binary_size(parsed: &Parsed<'_>, raw: &[u8], part: &[u32]) -> Result<u32, SectionError> {
    binary(parsed, raw, part, None).map(|data| u32::try_from(data.len()).unwrap_or(u32::MAX))
}
