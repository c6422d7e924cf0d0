//! The part tree a summary keeps: each MIME part's kept header fields, its body's size
//! and line count, and how the parts nest, flattened in pre-order.
//!
//! Where it sits: [`flatten`] turns the byte-range tree that `fetch::tree` builds into
//! [`Part`]s; the renderers (`fetch::envelope`, `fetch::structure`) read only these, so
//! a stored summary and a fresh parse render the same bytes.
//!
//! Nesting without recursion in the stored form: each part records `end`, one past
//! the last part of its subtree. A multipart's children are `i + 1`, then each next
//! child starts at the previous child's `end`, until the multipart's own `end`; a
//! message/rfc822 part has exactly one child, the encapsulated message's top part.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::Bytes;
use crate::fetch::{Kind as TreeKind, Node, header};

/// The header fields a summary keeps, by id (the index here). Ids are part of the
/// stored form: append only, and bump [`super::VERSION`] if one ever changes.
pub(crate) const NAMES: [&str; 22] = [
    // ENVELOPE (RFC 3501 §7.4.2), on a message's own header.
    "Date",
    "Subject",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "In-Reply-To",
    "Message-ID",
    // MIME (RFC 2045, 2183, 3282, 2557, 1864), on every part.
    "Content-Type",
    "Content-ID",
    "Content-Description",
    "Content-Transfer-Encoding",
    "Content-MD5",
    "Content-Disposition",
    "Content-Language",
    "Content-Location",
    // Common SEARCH HEADER targets, on a message's own header.
    "References",
    "List-Id",
    "Keywords",
    "Comments",
];

/// The first id of the MIME fields in [`NAMES`]; below it are the ENVELOPE fields,
/// from [`name::MESSAGE_ONLY`] on the other message-header fields.
const MIME_FIRST: u8 = 10;

/// Ids into [`NAMES`].
pub(crate) mod name {
    pub const DATE: u8 = 0;
    pub const SUBJECT: u8 = 1;
    pub const FROM: u8 = 2;
    pub const SENDER: u8 = 3;
    pub const REPLY_TO: u8 = 4;
    pub const TO: u8 = 5;
    pub const CC: u8 = 6;
    pub const BCC: u8 = 7;
    pub const IN_REPLY_TO: u8 = 8;
    pub const MESSAGE_ID: u8 = 9;
    pub const CONTENT_TYPE: u8 = 10;
    pub const CONTENT_ID: u8 = 11;
    pub const CONTENT_DESCRIPTION: u8 = 12;
    pub const CONTENT_TRANSFER_ENCODING: u8 = 13;
    pub const CONTENT_MD5: u8 = 14;
    pub const CONTENT_DISPOSITION: u8 = 15;
    pub const CONTENT_LANGUAGE: u8 = 16;
    pub const CONTENT_LOCATION: u8 = 17;
    /// Ids from here on are kept on a message's own header only.
    pub const MESSAGE_ONLY: u8 = 18;
}

/// The id of a kept field name (ASCII case-insensitive), `None` for one not kept.
pub(crate) fn id_of(name: &[u8]) -> Option<u8> {
    NAMES
        .iter()
        .position(|n| n.as_bytes().eq_ignore_ascii_case(name))
        .and_then(|i| u8::try_from(i).ok())
}

/// One kept header field: its name's id and its raw value (everything after the
/// colon, folding included, final line ending excluded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field<'a> {
    pub(crate) name: u8,
    #[serde(borrow)]
    pub(crate) value: Bytes<'a>,
}

/// What a part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A single part whose body is content.
    Leaf,
    /// multipart/*: its children follow it.
    Multipart,
    /// message/rfc822 in an identity encoding: the encapsulated message's top part
    /// follows it.
    Message,
}

/// One MIME part of a summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part<'a> {
    /// The kept fields of the part's header, in order.
    #[serde(borrow)]
    pub(crate) fields: Vec<Field<'a>>,
    /// Octets of the body as transmitted (RFC 3501 `body-fld-octets`); 0 for a
    /// multipart, which does not use it.
    pub(crate) size: u32,
    /// Lines of the body (RFC 3501 `body-fld-lines`); 0 for a multipart.
    pub(crate) lines: u32,
    pub(crate) kind: Kind,
    /// One past the last part of this part's subtree.
    pub(crate) end: u32,
}

impl<'a> Part<'a> {
    /// The raw value of the first field with id `name`.
    pub(crate) fn first(&self, name: u8) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_slice())
    }

    /// Every raw value of the fields with id `name`, in order.
    pub(crate) fn all(&self, name: u8) -> impl Iterator<Item = &[u8]> {
        self.fields
            .iter()
            .filter(move |f| f.name == name)
            .map(|f| f.value.as_slice())
    }

    /// What the part is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The part with owned bytes.
    pub(crate) fn into_owned(self) -> Part<'static> {
        Part {
            fields: self
                .fields
                .into_iter()
                .map(|f| Field {
                    name: f.name,
                    value: Bytes(Cow::Owned(f.value.0.into_owned())),
                })
                .collect(),
            size: self.size,
            lines: self.lines,
            kind: self.kind,
            end: self.end,
        }
    }
}

/// The children of multipart `parts[i]` (or the one part a message part encloses),
/// as indexes. The tree must be valid (built here or checked by `check`).
pub(crate) fn children<'p>(parts: &'p [Part<'_>], i: usize) -> impl Iterator<Item = usize> + 'p {
    let end = parts[i].end as usize;
    let mut next = i + 1;
    std::iter::from_fn(move || {
        if next >= end {
            return None;
        }
        let child = next;
        next = parts[child].end as usize;
        Some(child)
    })
}

/// Which fields a header keeps.
#[derive(Clone, Copy)]
enum Role {
    /// A message's own header (the top part, or an encapsulated message's): all.
    Message,
    /// A body part's MIME header: the MIME fields.
    Body,
}

/// The tree of `raw` (built by `fetch::tree`) as pre-order parts.
pub(crate) fn flatten<'a>(raw: &'a [u8], root: &Node) -> Vec<Part<'a>> {
    let mut out = Vec::new();
    push(raw, root, Role::Message, &mut out);
    out
}

fn push<'a>(raw: &'a [u8], node: &Node, role: Role, out: &mut Vec<Part<'a>>) {
    let block = raw.get(node.header.clone()).unwrap_or_default();
    let fields = header::fields(block)
        .into_iter()
        .filter_map(|f| {
            let id = id_of(f.name)?;
            let kept = match role {
                Role::Message => true,
                Role::Body => (MIME_FIRST..name::MESSAGE_ONLY).contains(&id),
            };
            kept.then(|| Field {
                name: id,
                value: Bytes::from(f.value),
            })
        })
        .collect();
    let body = raw.get(node.body.clone()).unwrap_or_default();
    let (kind, size, lines) = match &node.kind {
        TreeKind::Multipart(_) => (Kind::Multipart, 0, 0),
        TreeKind::Message(_) => (Kind::Message, len32(body), count_lines(body)),
        TreeKind::Leaf => (Kind::Leaf, len32(body), count_lines(body)),
    };
    let at = out.len();
    out.push(Part {
        fields,
        size,
        lines,
        kind,
        end: 0,
    });
    match &node.kind {
        TreeKind::Multipart(children) => {
            for child in children {
                push(raw, child, Role::Body, out);
            }
        }
        TreeKind::Message(inner) => push(raw, inner, Role::Message, out),
        TreeKind::Leaf => {}
    }
    out[at].end = u32::try_from(out.len()).unwrap_or(u32::MAX);
}

/// Lines of a body (RFC 3501 `body-fld-lines`): its line breaks, plus one for a last
/// line without one — a part's final CRLF belongs to the boundary that follows it
/// (RFC 2046 §5.1.1), and its last line still counts.
fn count_lines(body: &[u8]) -> u32 {
    let breaks = memchr_count(body);
    let partial = usize::from(body.last().is_some_and(|&b| b != b'\n'));
    u32::try_from(breaks + partial).unwrap_or(u32::MAX)
}

fn memchr_count(body: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', body).count()
}

fn len32(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).unwrap_or(u32::MAX)
}
