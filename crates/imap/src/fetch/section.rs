//! `BODY[section]<partial>` octets (RFC 3501 §6.4.5, RFC 9051 §6.4.5).
//!
//! Where it sits: [`super::section()`] resolves the section with the part tree and
//! returns a slice of the raw message — never re-encoded, so what the client gets is
//! byte for byte what was stored:
//!
//! - no section: the whole message; `HEADER` / `TEXT`: the message header (with its
//!   blank line) / body; with a part number in front, those of the encapsulated
//!   message of a message/rfc822 part;
//! - `HEADER.FIELDS (list)` / `HEADER.FIELDS.NOT (list)`: the header fields whose
//!   names are (not) in the list, matched case-insensitively, each with its folded
//!   lines, followed by the blank line (RFC 3501: "the subset ... and the blank line");
//! - a part number: the part's body as transmitted; `N.MIME`: its MIME header.
//!
//! A section the message does not have is empty, not an error: RFC 3501 §6.4.5
//! lets the server answer with an empty string.

use imap_codec::imap_types::{
    core::{AString, Vec1},
    fetch::{Part, Section},
};

use super::{
    header,
    tree::{self, Kind, Node},
};

/// The octets `section` names, before any `<partial>`.
pub(crate) fn octets(root: &Node, raw: &[u8], section: Option<&Section<'_>>) -> Vec<u8> {
    let slice = |r: &std::ops::Range<usize>| get(raw, r).to_vec();
    let Some(section) = section else {
        return raw.to_vec();
    };
    match section {
        Section::Part(part) => find(root, Some(part)).map(|n| slice(&n.body)),
        Section::Mime(part) => find(root, Some(part)).map(|n| slice(&n.header)),
        Section::Header(part) => message(root, part.as_ref()).map(|m| slice(&m.header)),
        Section::Text(part) => message(root, part.as_ref()).map(|m| slice(&m.body)),
        Section::HeaderFields(part, names) => {
            message(root, part.as_ref()).map(|m| select(get(raw, &m.header), names, true))
        }
        Section::HeaderFieldsNot(part, names) => {
            message(root, part.as_ref()).map(|m| select(get(raw, &m.header), names, false))
        }
    }
    .unwrap_or_default()
}

/// `<origin.count>` (RFC 3501 §6.4.5): `count` octets from `origin`; fewer at the
/// end of the data, none when `origin` is past it.
pub(crate) fn partial(mut data: Vec<u8>, range: Option<(u32, u32)>) -> Vec<u8> {
    let Some((origin, count)) = range else {
        return data;
    };
    let start = (origin as usize).min(data.len());
    let end = start.saturating_add(count as usize).min(data.len());
    data.truncate(end);
    data.drain(..start);
    data
}

fn get<'r>(raw: &'r [u8], range: &std::ops::Range<usize>) -> &'r [u8] {
    raw.get(range.clone()).unwrap_or_default()
}

fn find<'n>(root: &'n Node, part: Option<&Part>) -> Option<&'n Node> {
    match part {
        None => Some(root),
        Some(Part(path)) => {
            let path: Vec<u32> = path.as_ref().iter().map(|n| n.get()).collect();
            tree::find(root, &path)
        }
    }
}

/// The message whose HEADER / TEXT a section means: the message itself without a
/// part number, otherwise the message/rfc822 part it names (RFC 3501 §6.4.5: these
/// specifiers may follow a part number only if it is a MESSAGE/RFC822 part).
fn message<'n>(root: &'n Node, part: Option<&Part>) -> Option<&'n Node> {
    match part {
        None => Some(root),
        Some(_) => match &find(root, part)?.kind {
            Kind::Message(inner) => Some(inner),
            _ => None,
        },
    }
}

/// The fields of `block` whose names are (`keep`) or are not (`!keep`) in `names`,
/// raw, then the blank line.
fn select(block: &[u8], names: &Vec1<AString<'_>>, keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for field in header::fields(block) {
        let listed = names
            .as_ref()
            .iter()
            .any(|n| n.as_ref().eq_ignore_ascii_case(field.name));
        if listed == keep {
            out.extend_from_slice(field.raw);
            if !field.raw.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_clamps() {
        let d = || b"0123456789".to_vec();
        assert_eq!(partial(d(), None), b"0123456789");
        assert_eq!(partial(d(), Some((2, 3))), b"234");
        assert_eq!(partial(d(), Some((8, 10))), b"89");
        assert_eq!(partial(d(), Some((10, 1))), b"");
        assert_eq!(partial(d(), Some((u32::MAX, u32::MAX))), b"");
        assert_eq!(partial(d(), Some((0, 0))), b"");
    }
}
