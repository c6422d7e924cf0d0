//! Content-Type and Content-Disposition values with their parameters.
//!
//! Where it sits: [`super::structure`] asks this module for a part's media type
//! (RFC 2045 §5.1), disposition (RFC 2183 §2) and their parameter lists, read from
//! the raw header value. Values are unquoted but not decoded: an RFC 2047 encoded
//! word in a `name="=?UTF-8?B?...?="` stays as sent. RFC 2231 continuations
//! (`filename*0*=...; filename*1*=...`) are joined into one parameter, `filename*`
//! with its `charset'language'%xx` value when any segment was encoded, so the client
//! can decode it (RFC 2231 §3, §4) and the response stays 7-bit.

use super::lexer::{Syntax, Token, tokens};

/// A parsed `type/subtype; params` (Content-Type) or `type; params`
/// (Content-Disposition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Media {
    /// The type, lower-cased (media types are case-insensitive, RFC 2045 §5.1).
    pub kind: String,
    /// The subtype, lower-cased; `None` for a disposition.
    pub subtype: Option<String>,
    /// Parameters in order of first appearance, continuations joined.
    pub params: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Media {
    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind == kind && self.subtype.as_deref() == Some(subtype)
    }

    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }
}

/// A Content-Type value; `None` when it has no `type/subtype` (RFC 2045 §5.2 then
/// says to assume the default, text/plain; charset=us-ascii).
pub(crate) fn content_type(value: &[u8]) -> Option<Media> {
    let toks = tokens(value, Syntax::Mime);
    let mut p = Cursor { toks: &toks, i: 0 };
    let kind = p.word()?;
    if p.next() != Some(&Token::Special(b'/')) {
        return None;
    }
    let subtype = p.word()?;
    Some(Media {
        kind: lower(kind),
        subtype: Some(lower(subtype)),
        params: p.params(),
    })
}

/// A Content-Disposition value; `None` when it has no type.
pub(crate) fn disposition(value: &[u8]) -> Option<Media> {
    let toks = tokens(value, Syntax::Mime);
    let mut p = Cursor { toks: &toks, i: 0 };
    let kind = p.word()?;
    Some(Media {
        kind: lower(kind),
        subtype: None,
        params: p.params(),
    })
}

fn lower(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_ascii_lowercase()
}

struct Cursor<'t, 'a> {
    toks: &'t [Token<'a>],
    i: usize,
}

impl<'t, 'a> Cursor<'t, 'a> {
    /// The next token that is not a comment.
    fn next(&mut self) -> Option<&'t Token<'a>> {
        while let Some(t) = self.toks.get(self.i) {
            self.i += 1;
            if !matches!(t, Token::Comment(_)) {
                return Some(t);
            }
        }
        None
    }

    fn peek(&mut self) -> Option<&'t Token<'a>> {
        let at = self.i;
        let t = self.next();
        self.i = at;
        t
    }

    fn word(&mut self) -> Option<&'a [u8]> {
        match self.next()? {
            Token::Word(w) => Some(w),
            _ => None,
        }
    }

    /// `*(";" attribute "=" value)`, skipping whatever does not parse up to the next
    /// `;`, then joining RFC 2231 continuations.
    fn params(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut raw = Vec::new();
        while let Some(t) = self.next() {
            if *t != Token::Special(b';') {
                continue;
            }
            let Some(Token::Word(name)) = self.peek() else {
                continue;
            };
            self.next();
            if self.peek() != Some(&Token::Special(b'=')) {
                continue;
            }
            self.next();
            let value = match self.peek() {
                Some(Token::Word(w)) => w.to_vec(),
                Some(Token::Quoted { text, .. }) => text.clone(),
                _ => continue,
            };
            self.next();
            raw.push((name.to_vec(), value));
        }
        join_continuations(raw)
    }
}

/// One piece of an RFC 2231 parameter: `name*N` or `name*N*`.
struct Segment {
    index: u32,
    encoded: bool,
    value: Vec<u8>,
}

/// RFC 2231 §3: `name*0`, `name*1`, ... are one parameter, in index order. Plain
/// and single encoded (`name*`) parameters pass through unchanged.
fn join_continuations(raw: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<(Vec<u8>, Vec<u8>)> {
    enum Slot {
        Plain(Vec<u8>, Vec<u8>),
        Continued(Vec<u8>, Vec<Segment>),
    }
    let mut slots: Vec<Slot> = Vec::new();
    for (name, value) in raw {
        let Some((base, index, encoded)) = split_continuation(&name) else {
            slots.push(Slot::Plain(name, value));
            continue;
        };
        let segment = Segment {
            index,
            encoded,
            value,
        };
        let existing = slots.iter_mut().find_map(|s| match s {
            Slot::Continued(b, segs) if b.eq_ignore_ascii_case(base) => Some(segs),
            _ => None,
        });
        match existing {
            Some(segs) => segs.push(segment),
            None => slots.push(Slot::Continued(base.to_vec(), vec![segment])),
        }
    }
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Plain(n, v) => (n, v),
            Slot::Continued(base, mut segs) => {
                segs.sort_by_key(|s| s.index);
                join_segments(base, &segs)
            }
        })
        .collect()
}

/// `name*N` or `name*N*` → (name, N, encoded).
fn split_continuation(name: &[u8]) -> Option<(&[u8], u32, bool)> {
    let star = name.iter().position(|&b| b == b'*')?;
    let rest = &name[star + 1..];
    let (digits, encoded) = match rest.strip_suffix(b"*") {
        Some(d) => (d, true),
        None => (rest, false),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let index = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((&name[..star], index, encoded))
}

fn join_segments(base: Vec<u8>, segs: &[Segment]) -> (Vec<u8>, Vec<u8>) {
    if !segs.iter().any(|s| s.encoded) {
        let value = segs.iter().flat_map(|s| s.value.iter().copied()).collect();
        return (base, value);
    }
    // Encoded: the result is `charset'language'%xx...`. The first segment carries
    // the charset and language only if it is itself encoded (RFC 2231 §4.1);
    // unencoded segments are percent-encoded so the whole value decodes as one.
    let mut value = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        if i == 0 && !s.encoded {
            value.extend_from_slice(b"''");
        }
        if s.encoded {
            value.extend_from_slice(&s.value);
        } else {
            percent_encode(&s.value, &mut value);
        }
    }
    let mut name = base;
    name.push(b'*');
    (name, value)
}

/// RFC 2231 §7 `attribute-char`s stay; every other byte becomes `%XX`.
fn percent_encode(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        let plain = b.is_ascii_graphic() && !b"*'%()<>@,;:\\\"/[]?=".contains(&b);
        if plain {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(m: &Media) -> Vec<(&str, &str)> {
        m.params
            .iter()
            .map(|(n, v)| {
                (
                    std::str::from_utf8(n).unwrap(),
                    std::str::from_utf8(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn type_subtype_and_quoted_params() {
        let m = content_type(b"Text/PLAIN (comment); charset=\"UTF-8\"; format=flowed").unwrap();
        assert!(m.is("text", "plain"));
        assert_eq!(params(&m), [("charset", "UTF-8"), ("format", "flowed")]);
        assert_eq!(m.param("CHARSET"), Some(&b"UTF-8"[..]));
    }

    #[test]
    fn invalid_content_type_is_none() {
        assert_eq!(content_type(b"text"), None);
        assert_eq!(content_type(b""), None);
        assert_eq!(content_type(b"/plain"), None);
    }

    #[test]
    fn junk_parameters_are_skipped() {
        let m = content_type(b"text/plain; junk; =x; a=1;; b=\"2\"").unwrap();
        assert_eq!(params(&m), [("a", "1"), ("b", "2")]);
    }

    #[test]
    fn rfc2231_single_encoded_parameter_is_kept() {
        // RFC 2231 §4's example.
        let m =
            disposition(b"attachment; filename*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A")
                .unwrap();
        assert_eq!(m.kind, "attachment");
        assert_eq!(
            params(&m),
            [(
                "filename*",
                "us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A"
            )]
        );
    }

    #[test]
    fn rfc2231_continuations_are_joined() {
        // RFC 2231 §3's example, out of order.
        let m = content_type(
            b"message/external-body; access-type=URL; URL*1=\"cow.com/pub/\"; URL*0=\"ftp://\"; URL*2=\"file\"",
        )
        .unwrap();
        assert_eq!(
            params(&m),
            [("access-type", "URL"), ("URL", "ftp://cow.com/pub/file")]
        );
        // RFC 2231 §4.1's example: encoded and plain segments mixed.
        let m = content_type(
            b"application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"",
        )
        .unwrap();
        assert_eq!(
            params(&m),
            [(
                "title*",
                "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn%27t%20it!"
            )]
        );
    }
}
