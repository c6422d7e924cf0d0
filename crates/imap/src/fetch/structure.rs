//! BODY and BODYSTRUCTURE (RFC 3501 §7.4.2, RFC 9051 §7.5.2).
//!
//! Where it sits: [`super::body_structure`] renders the part tree that
//! [`super::Parsed`] built, reading each part's MIME header fields as sent:
//!
//! - single parts: type, subtype, parameter list, Content-ID, Content-Description,
//!   Content-Transfer-Encoding (default `7BIT`) and the size in octets of the body as
//!   transmitted; text/* adds its line count, message/rfc822 its envelope, body
//!   structure and line count;
//! - multiparts: their body parts and subtype;
//! - with `extensible` (BODYSTRUCTURE), each part also carries its extension data:
//!   MD5 (single parts) or parameters (multiparts), then disposition, language and
//!   location (RFC 3501 §7.4.2 "extension data", RFC 2183, RFC 3282, RFC 2557).
//!
//! Case follows RFC 3501's own examples (`"TEXT" "PLAIN" ("CHARSET" "US-ASCII")`):
//! types, subtypes, encodings and parameter names upper-cased, values as sent.
//! imap-codec writes `"TEXT"` and `"MESSAGE" "RFC822"` itself, so the rest follows.
//!
//! Defaults (RFC 2045 §5.2, RFC 2046 §5.1.5): no or an invalid Content-Type is
//! text/plain; charset=us-ascii, or message/rfc822 inside multipart/digest; a text
//! part without a charset gets `("CHARSET" "US-ASCII")` (RFC 2046 §4.1.2).

use imap_codec::imap_types::{
    body::{
        BasicFields, Body, BodyStructure, Disposition, Language, Location, MultiPartExtensionData,
        SinglePartExtensionData, SpecificFields,
    },
    core::{IString, Vec1},
};

use super::{
    envelope,
    header::{self, Field},
    lexer::{Syntax, Token, tokens},
    params::{self, Media},
    strings::{istring, nstring, upper},
    tree::{Kind, Node},
};

type Params = Vec<(IString<'static>, IString<'static>)>;

/// The structure of `node` within `raw`. `in_digest`: the enclosing multipart is
/// multipart/digest, whose default part type is message/rfc822.
pub(crate) fn render(
    raw: &[u8],
    node: &Node,
    extensible: bool,
    in_digest: bool,
) -> BodyStructure<'static> {
    let fields = header::fields(&raw[node.header.clone()]);
    let declared = header::first(&fields, "Content-Type").and_then(params::content_type);
    match &node.kind {
        Kind::Multipart(children) => {
            let subtype = match &declared {
                Some(m) if m.kind == "multipart" => m.subtype.clone().unwrap_or_default(),
                _ => "mixed".to_owned(),
            };
            let digest = subtype == "digest";
            let bodies: Vec<_> = children
                .iter()
                .map(|c| render(raw, c, extensible, digest))
                .collect();
            BodyStructure::Multi {
                bodies: Vec1::try_from(bodies).unwrap_or_else(|_| empty_part(extensible).into()),
                subtype: upper(subtype.as_bytes()),
                extension_data: extensible.then(|| MultiPartExtensionData {
                    parameter_list: declared.map(|m| imap_params(&m.params)).unwrap_or_default(),
                    tail: Some(disposition_tail(&fields)),
                }),
            }
        }
        kind => {
            let media = declared.unwrap_or_else(|| default_media(in_digest));
            let body = &raw[node.body.clone()];
            let mut parameter_list = imap_params(&media.params);
            if media.kind == "text" && media.param("charset").is_none() {
                parameter_list.insert(0, (upper(b"charset"), istring("US-ASCII")));
            }
            let basic = BasicFields {
                parameter_list,
                id: nstring(header::first_unfolded(&fields, "Content-ID")),
                description: nstring(header::first_unfolded(&fields, "Content-Description")),
                content_transfer_encoding: upper(&transfer_encoding(&fields)),
                size: len32(body),
            };
            let subtype = upper(media.subtype.as_deref().unwrap_or_default().as_bytes());
            let specific = match kind {
                // imap-codec can only write "MESSAGE" "RFC822" with an envelope;
                // message/global (RFC 6532) is a basic part to IMAP4rev1 anyway.
                Kind::Message(inner) if !media.is("message", "global") => SpecificFields::Message {
                    envelope: Box::new(envelope::from_header(&raw[inner.header.clone()])),
                    body_structure: Box::new(render(raw, inner, extensible, false)),
                    number_of_lines: lines(body),
                },
                _ if media.kind == "text" => SpecificFields::Text {
                    subtype,
                    number_of_lines: lines(body),
                },
                _ => SpecificFields::Basic {
                    r#type: upper(media.kind.as_bytes()),
                    subtype,
                },
            };
            BodyStructure::Single {
                body: Body { basic, specific },
                extension_data: extensible.then(|| SinglePartExtensionData {
                    md5: nstring(header::first_unfolded(&fields, "Content-MD5")),
                    tail: Some(disposition_tail(&fields)),
                }),
            }
        }
    }
}

/// The Content-Transfer-Encoding token (RFC 2045 §6.1), default `7bit`.
pub(crate) fn transfer_encoding(fields: &[Field<'_>]) -> Vec<u8> {
    header::first(fields, "Content-Transfer-Encoding")
        .and_then(|v| {
            tokens(v, Syntax::Mime).into_iter().find_map(|t| match t {
                Token::Word(w) => Some(w.to_vec()),
                _ => None,
            })
        })
        .unwrap_or_else(|| b"7bit".to_vec())
}

fn default_media(in_digest: bool) -> Media {
    let (kind, subtype) = if in_digest {
        ("message", "rfc822")
    } else {
        ("text", "plain")
    };
    Media {
        kind: kind.to_owned(),
        subtype: Some(subtype.to_owned()),
        params: Vec::new(),
    }
}

/// A multipart with no body parts cannot be written (RFC 3501 `body-type-mpart =
/// 1*body ...`); like Dovecot, show one empty text/plain part instead.
fn empty_part(extensible: bool) -> BodyStructure<'static> {
    BodyStructure::Single {
        body: Body {
            basic: BasicFields {
                parameter_list: vec![(upper(b"charset"), istring("US-ASCII"))],
                id: nstring(None::<Vec<u8>>),
                description: nstring(None::<Vec<u8>>),
                content_transfer_encoding: upper(b"7bit"),
                size: 0,
            },
            specific: SpecificFields::Text {
                subtype: upper(b"plain"),
                number_of_lines: 0,
            },
        },
        extension_data: extensible.then(|| SinglePartExtensionData {
            md5: nstring(None::<Vec<u8>>),
            tail: None,
        }),
    }
}

/// Disposition, language and location: the extension data every part shares.
fn disposition_tail(fields: &[Field<'_>]) -> Disposition<'static> {
    let disposition = header::first(fields, "Content-Disposition")
        .and_then(params::disposition)
        .map(|d| (upper(d.kind.as_bytes()), imap_params(&d.params)));
    Disposition {
        disposition,
        tail: Some(Language {
            language: languages(fields),
            tail: Some(Location {
                location: nstring(header::first_unfolded(fields, "Content-Location")),
                extensions: Vec::new(),
            }),
        }),
    }
}

/// Content-Language tags (RFC 3282 §2: a comma-separated list, comments allowed).
fn languages(fields: &[Field<'_>]) -> Vec<IString<'static>> {
    let Some(value) = header::first(fields, "Content-Language") else {
        return Vec::new();
    };
    tokens(value, Syntax::Mime)
        .into_iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some(istring(w)),
            _ => None,
        })
        .collect()
}

fn imap_params(params: &[(Vec<u8>, Vec<u8>)]) -> Params {
    params
        .iter()
        .map(|(n, v)| (upper(n), istring(v.clone())))
        .collect()
}

/// Lines of a body (RFC 3501 `body-fld-lines`): its line breaks, plus one for a last
/// line without one — a part's final CRLF belongs to the boundary that follows it
/// (RFC 2046 §5.1.1), and its last line still counts.
fn lines(body: &[u8]) -> u32 {
    let breaks = body.iter().filter(|&&b| b == b'\n').count();
    let partial = usize::from(body.last().is_some_and(|&b| b != b'\n'));
    u32::try_from(breaks + partial).unwrap_or(u32::MAX)
}

fn len32(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).unwrap_or(u32::MAX)
}
