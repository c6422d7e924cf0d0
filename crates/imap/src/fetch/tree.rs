//! The MIME part tree of a message, as byte ranges of the raw message.
//!
//! Where it sits: [`super::Parsed::new`] runs mail-parser once (again on an
//! encapsulated message only where mail-parser lost track of it) and keeps only this
//! tree — where each part's header block and body lie in the raw octets — so every
//! FETCH item is a slice of the message as stored (RFC 3501 §6.4.5: sections are
//! returned as they are, never re-encoded). [`find`] walks a section part number
//! (`1.2.3`) down the tree with RFC 3501 §6.4.5's numbering rules.

use std::ops::Range;

use mail_parser::{Encoding, Message, MessageParser, PartType};

/// Nesting deeper than this is rendered as an opaque leaf, so the recursive walks
/// here, in the renderers and in imap-codec's encoder stay within the stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// One MIME part.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The part's header block (RFC 2045 MIME header; for a message's top part, the
    /// whole RFC 5322 header), including the blank line that ends it.
    pub header: Range<usize>,
    /// The part's body in its transfer encoding; for a multipart part it spans the
    /// preamble to the epilogue, for message/rfc822 the whole encapsulated message.
    /// A part inside a multipart ends before the CRLF that precedes the next
    /// boundary, which belongs to the boundary (RFC 2046 §5.1.1).
    pub body: Range<usize>,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A single part whose body is content.
    Leaf,
    /// multipart/*: its body parts, in order (may be empty if the message is broken).
    Multipart(Vec<Node>),
    /// message/rfc822 (or message/global) in an identity transfer encoding: the top
    /// part of the encapsulated message, whose header block is the message header.
    Message(Box<Node>),
}

/// The tree of `raw`. A message mail-parser cannot make sense of (no header at all)
/// is a single leaf whose body is all of `raw`.
pub(crate) fn build(raw: &[u8]) -> Node {
    parse_message(raw, 0..raw.len(), 0)
}

/// [`build`], also handing back mail-parser's parse of the whole message (its
/// decoded Subject, Date and addresses go into a summary), so it is parsed once.
pub(crate) fn build_keeping(raw: &[u8]) -> (Node, Option<Message<'_>>) {
    let message = parse(raw);
    let node = match &message {
        Some(m) => part(raw, m, 0, 0, Extent::Message(0..raw.len()), 0),
        None => leaf(0..raw.len()),
    };
    (node, message)
}

/// mail-parser's parse of `raw`, `None` when it finds no part.
fn parse(raw: &[u8]) -> Option<Message<'_>> {
    // mail-parser has debug assertions that broken input can reach; a message must
    // never take the connection down, so a panic there means "no structure".
    std::panic::catch_unwind(|| MessageParser::default().parse(raw))
        .ok()
        .flatten()
        .filter(|m| !m.parts.is_empty())
}

/// A part with no header whose body is `span`.
fn leaf(span: Range<usize>) -> Node {
    Node {
        header: span.start..span.start,
        body: span,
        kind: Kind::Leaf,
    }
}

/// Parses `raw[span]` as a message of its own; offsets are shifted back into `raw`.
fn parse_message(raw: &[u8], span: Range<usize>, depth: usize) -> Node {
    match parse(&raw[span.clone()]) {
        Some(message) => part(raw, &message, 0, span.start, Extent::Message(span), depth),
        None => leaf(span),
    }
}

/// Where a part may lie.
enum Extent {
    /// The top part of a message that occupies exactly this span: its header
    /// starts and its body ends there, whatever mail-parser's offsets say (an
    /// encapsulated message starts and ends with its enclosing part's body).
    Message(Range<usize>),
    /// A body part of a multipart, which cannot reach past this offset.
    Within(usize),
}

/// The node for `message.parts[id]`, whose offsets are relative to `base`.
fn part(
    raw: &[u8],
    message: &Message<'_>,
    id: usize,
    base: usize,
    extent: Extent,
    depth: usize,
) -> Node {
    let p = &message.parts[id];
    let at = |offset: u32| base + offset as usize;
    let (header, body) = match extent {
        Extent::Message(span) => {
            let header_end = at(p.offset_body).clamp(span.start, span.end);
            (span.start..header_end, header_end..span.end)
        }
        Extent::Within(limit) => {
            let start = at(p.offset_header).min(limit);
            let header_end = at(p.offset_body).clamp(start, limit);
            let body_end = at(p.offset_end).clamp(header_end, limit);
            (start..header_end, header_end..body_end)
        }
    };
    let kind = if depth >= MAX_DEPTH {
        Kind::Leaf
    } else {
        match &p.body {
            PartType::Multipart(children) => Kind::Multipart(
                children
                    .iter()
                    .map(|&c| c as usize)
                    // Children come after their parent in mail-parser's flat list;
                    // anything else would be a cycle.
                    .filter(|&c| c > id && c < message.parts.len())
                    .map(|c| part(raw, message, c, base, Extent::Within(body.end), depth + 1))
                    .collect(),
            ),
            // A base64 or quoted-printable message/rfc822 (not allowed by RFC 2046
            // §5.2.1) was parsed by mail-parser from decoded bytes, whose offsets are
            // not offsets into the raw message: keep it an opaque leaf.
            PartType::Message(inner) if p.encoding == Encoding::None => {
                // mail-parser parses an encapsulated message inline, in the same
                // stream; in broken messages it can lose the encapsulated header
                // (its top part then starts elsewhere). Parse the part's body on its
                // own in that case.
                let root = match inner.parts.first() {
                    Some(top) if at(top.offset_header) == body.start => part(
                        raw,
                        inner,
                        0,
                        base,
                        Extent::Message(body.clone()),
                        depth + 1,
                    ),
                    _ => parse_message(raw, body.clone(), depth + 1),
                };
                Kind::Message(Box::new(root))
            }
            _ => Kind::Leaf,
        }
    };
    Node { header, body, kind }
}

/// The part a section part number names (RFC 3501 §6.4.5), or `None` if the
/// message has no such part.
///
/// Every message and every multipart numbers its body parts from 1; a message that
/// is not multipart has a single part, 1, which is its body. A part number after a
/// message/rfc822 part numbers the parts of the encapsulated message.
pub(crate) fn find<'n>(root: &'n Node, path: &[u32]) -> Option<&'n Node> {
    let mut node = root;
    for (i, &n) in path.iter().enumerate() {
        if i > 0
            && let Kind::Message(inner) = &node.kind
        {
            node = inner;
        }
        node = match &node.kind {
            Kind::Multipart(children) => children.get((n as usize).checked_sub(1)?)?,
            _ if n == 1 => node,
            _ => return None,
        };
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &[u8] = b"Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n\r\none\r\n--X\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner\r\n--X--\r\n";

    fn text<'a>(raw: &'a [u8], r: &Range<usize>) -> &'a [u8] {
        &raw[r.clone()]
    }

    #[test]
    fn finds_parts_and_descends_into_messages() {
        let root = build(NESTED);
        let one = find(&root, &[1]).unwrap();
        assert_eq!(text(NESTED, &one.body), b"one");
        let two = find(&root, &[2]).unwrap();
        assert_eq!(text(NESTED, &two.body), b"Subject: in\r\n\r\ninner");
        let two_one = find(&root, &[2, 1]).unwrap();
        assert_eq!(text(NESTED, &two_one.body), b"inner");
        assert_eq!(text(NESTED, &two_one.header), b"Subject: in\r\n\r\n");
        assert!(find(&root, &[3]).is_none());
        assert!(find(&root, &[2, 2]).is_none());
        assert!(find(&root, &[0]).is_none());
    }

    #[test]
    fn headerless_garbage_is_one_leaf() {
        let root = build(b"");
        assert!(matches!(root.kind, Kind::Leaf));
        assert_eq!(root.body, 0..0);
    }
}
