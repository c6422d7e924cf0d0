//! BODY and BODYSTRUCTURE (RFC 3501 §7.4.2, RFC 9051 §7.5.2).
//!
//! Where it sits: [`super::body_structure`] and [`crate::summary::Summary`] render a
//! summary's part tree (built from the tree [`super::Parsed`] holds, or decoded from
//! the store), reading each part's MIME header fields as sent:
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
    header::{self, Field, unfold},
    lexer::{Syntax, Token, tokens},
    params::{self, Media},
    strings::{istring, nstring, upper},
};
use crate::summary::parts::{Kind, Part, children, name};

type Params = Vec<(IString<'static>, IString<'static>)>;

/// The structure of summary part `parts[i]` (`crate::summary`: the part tree with each
/// part's kept MIME fields, body size and line count). `in_digest`: the enclosing
/// multipart is multipart/digest, whose default part type is message/rfc822.
pub(crate) fn render(
    parts: &[Part<'_>],
    i: usize,
    extensible: bool,
    in_digest: bool,
) -> BodyStructure<'static> {
    let part = &parts[i];
    let declared = part
        .first(name::CONTENT_TYPE)
        .and_then(params::content_type);
    match part.kind {
        Kind::Multipart => {
            let subtype = match &declared {
                Some(m) if m.kind == "multipart" => m.subtype.clone().unwrap_or_default(),
                _ => "mixed".to_owned(),
            };
            let digest = subtype == "digest";
            let bodies: Vec<_> = children(parts, i)
                .map(|c| render(parts, c, extensible, digest))
                .collect();
            BodyStructure::Multi {
                bodies: Vec1::try_from(bodies).unwrap_or_else(|_| empty_part(extensible).into()),
                subtype: upper(subtype.as_bytes()),
                extension_data: extensible.then(|| MultiPartExtensionData {
                    parameter_list: declared.map(|m| imap_params(&m.params)).unwrap_or_default(),
                    tail: Some(disposition_tail(part)),
                }),
            }
        }
        kind => {
            let media = declared.unwrap_or_else(|| default_media(in_digest));
            let mut parameter_list = imap_params(&media.params);
            if media.kind == "text" && media.param("charset").is_none() {
                parameter_list.insert(0, (upper(b"charset"), istring("US-ASCII")));
            }
            let basic = BasicFields {
                parameter_list,
                id: nstring(part.first(name::CONTENT_ID).map(unfold)),
                description: nstring(part.first(name::CONTENT_DESCRIPTION).map(unfold)),
                content_transfer_encoding: upper(&encoding_token(
                    part.first(name::CONTENT_TRANSFER_ENCODING),
                )),
                size: part.size,
            };
            let subtype = upper(media.subtype.as_deref().unwrap_or_default().as_bytes());
            let specific = match kind {
                // imap-codec can only write "MESSAGE" "RFC822" with an envelope;
                // message/global (RFC 6532) is a basic part to IMAP4rev1 anyway.
                Kind::Message if !media.is("message", "global") => SpecificFields::Message {
                    envelope: Box::new(envelope::from_part(&parts[i + 1])),
                    body_structure: Box::new(render(parts, i + 1, extensible, false)),
                    number_of_lines: part.lines,
                },
                _ if media.kind == "text" => SpecificFields::Text {
                    subtype,
                    number_of_lines: part.lines,
                },
                _ => SpecificFields::Basic {
                    r#type: upper(media.kind.as_bytes()),
                    subtype,
                },
            };
            BodyStructure::Single {
                body: Body { basic, specific },
                extension_data: extensible.then(|| SinglePartExtensionData {
                    md5: nstring(part.first(name::CONTENT_MD5).map(unfold)),
                    tail: Some(disposition_tail(part)),
                }),
            }
        }
    }
}

/// The Content-Transfer-Encoding token (RFC 2045 §6.1), default `7bit`.
pub(crate) fn transfer_encoding(fields: &[Field<'_>]) -> Vec<u8> {
    encoding_token(header::first(fields, "Content-Transfer-Encoding"))
}

/// The token of a Content-Transfer-Encoding value, default `7bit`.
fn encoding_token(value: Option<&[u8]>) -> Vec<u8> {
    value
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
fn disposition_tail(part: &Part<'_>) -> Disposition<'static> {
    let disposition = part
        .first(name::CONTENT_DISPOSITION)
        .and_then(params::disposition)
        .map(|d| (upper(d.kind.as_bytes()), imap_params(&d.params)));
    Disposition {
        disposition,
        tail: Some(Language {
            language: languages(part),
            tail: Some(Location {
                location: nstring(part.first(name::CONTENT_LOCATION).map(unfold)),
                extensions: Vec::new(),
            }),
        }),
    }
}

/// Content-Language tags (RFC 3282 §2: a comma-separated list, comments allowed).
fn languages(part: &Part<'_>) -> Vec<IString<'static>> {
    let Some(value) = part.first(name::CONTENT_LANGUAGE) else {
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
