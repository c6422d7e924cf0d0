//! SEARCHRES (RFC 5182): the saved search result and `$`, which names it in later
//! commands.
//!
//! Where it sits: `SEARCH RETURN (SAVE)` ([`super::esearch`]) stores its hits in the
//! session's [`Saved`]; selecting, examining, closing or unselecting a mailbox clears
//! it ([`super::prepare`], RFC 5182 §2.1). imap-codec has no `$` in its grammar, so a
//! command using it fails to parse and the driver offers it to
//! [`super::extended`], which calls [`Session::saved_result_command`]: `$` is replaced by
//! the saved messages as a sequence set (or, inside search keys, a `UID` key) and the
//! rewritten command is parsed again and run like any other. Commands taking `$`:
//! FETCH, STORE, COPY, MOVE, UID EXPUNGE (as their sequence set) and SEARCH, SORT,
//! THREAD (as a search key, also after `UID`, RFC 5182 §2.1, `$` in its §3 grammar).
//!
//! The result is kept as UIDs, so it means the same messages whichever form (UID or
//! not) saved or uses it; a message the client no longer has (its EXPUNGE was sent)
//! drops out when `$` is read (RFC 5182 §2.1). A `$` that names no message makes
//! FETCH, STORE, COPY, MOVE and UID EXPUNGE succeed without doing anything, and
//! matches nothing as a search key.

use super::{Session, Status};
use crate::sequence::SequenceSet;
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::Command;

/// The saved result: UIDs, ascending.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Saved(Vec<u32>);

impl Saved {
    /// Forgets the result (RFC 5182 §2.1: a new mailbox, or a failed SAVE).
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Saves `uids` (any order).
    pub fn set(&mut self, mut uids: Vec<u32>) {
        uids.sort_unstable();
        uids.dedup();
        self.0 = uids;
    }
}

/// What a command with `$` turned into.
pub enum Rewritten {
    /// The command with `$` replaced, parsed.
    Command(Command<'static>),
    /// Nothing to do (`$` is empty): answer with this at once.
    Answer(Status),
}

/// One token of a command line, as a byte span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Atom,
    Str,
    Open,
    Close,
}

impl Session<'_> {
    /// The messages of the saved result the client still has, as `(seq, uid)`.
    fn saved_messages(&self) -> Vec<(u32, u32)> {
        let Some(open) = &self.selected else {
            return Vec::new();
        };
        self.saved_search
            .0
            .iter()
            .filter_map(|&uid| open.view.seq_of(uid).map(|seq| (seq, uid)))
            .collect()
    }

    /// A command with `$` (RFC 5182 §2.1) as it should run; `None` when it has no `$`
    /// where one may stand (the driver's `BAD` follows).
    pub(super) fn saved_result_command(&self, bytes: &[u8]) -> Option<Result<Rewritten, Status>> {
        let tokens = tokenize(bytes)?;
        let word = |i: usize| {
            tokens
                .get(i)
                .filter(|t| t.0 == Tok::Atom)
                .map(|t| String::from_utf8_lossy(&bytes[t.1..t.2]).to_ascii_uppercase())
        };
        let mut at = 1;
        let uid = word(at).as_deref() == Some("UID");
        if uid {
            at += 1;
        }
        let name = word(at)?;
        at += 1;
        let replacements = match name.as_str() {
            "FETCH" | "STORE" | "COPY" | "MOVE" | "EXPUNGE" => {
                if name == "EXPUNGE" && !uid {
                    return None;
                }
                let token = tokens.get(at).filter(|t| &bytes[t.1..t.2] == b"$")?;
                let values: Vec<u32> = self
                    .saved_messages()
                    .iter()
                    .map(|&(seq, id)| if uid { id } else { seq })
                    .collect();
                if values.is_empty() {
                    return Some(Ok(Rewritten::Answer(Status::Ok(format!(
                        "{name} completed (no saved messages)"
                    )))));
                }
                vec![(
                    token.1,
                    token.2,
                    SequenceSet::from_values(&values).to_string(),
                )]
            }
            "SEARCH" | "SORT" | "THREAD" => {
                let keys = match name.as_str() {
                    "SEARCH" if word(at).as_deref() == Some("CHARSET") => at + 2,
                    "SEARCH" => at,
                    "SORT" => skip_group(&tokens, at)? + 2,
                    _ => at + 2,
                };
                let spans = dollar_keys(bytes, &tokens, keys)?;
                if spans.is_empty() {
                    return None;
                }
                self.key_replacements(spans)
            }
            _ => return None,
        };
        let out = replace(bytes, replacements);
        Some(match CommandCodec::default().decode(&out) {
            Ok((_, command)) => Ok(Rewritten::Command(command.into_static())),
            Err(_) => Err(Status::Bad("Syntax error".into())),
        })
    }
}

/// `keys` (a search program, after ESEARCH's `RETURN (...)`) with every `$` key
/// replaced; `None` if the keys do not tokenize.
pub(super) fn keys_without_dollar(session: &Session<'_>, keys: &[u8]) -> Option<Vec<u8>> {
    let tokens = tokenize(keys)?;
    let charset = tokens
        .first()
        .is_some_and(|t| keys[t.1..t.2].eq_ignore_ascii_case(b"CHARSET"));
    let spans = dollar_keys(keys, &tokens, if charset { 2 } else { 0 })?;
    Some(replace(keys, session.key_replacements(spans)))
}

impl Session<'_> {
    /// The search key standing for the saved messages at each span.
    fn key_replacements(&self, spans: Vec<(usize, usize)>) -> Vec<(usize, usize, String)> {
        let uids: Vec<u32> = self.saved_messages().iter().map(|m| m.1).collect();
        let key = if uids.is_empty() {
            "NOT ALL".to_owned()
        } else {
            format!("UID {}", SequenceSet::from_values(&uids))
        };
        spans
            .into_iter()
            .map(|(a, b)| (a, b, key.clone()))
            .collect()
    }
}

/// `bytes` with each `(start, end)` span replaced by its text (spans ascending).
fn replace(bytes: &[u8], replacements: Vec<(usize, usize, String)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut from = 0;
    for (start, end, text) in replacements {
        out.extend_from_slice(&bytes[from..start]);
        out.extend_from_slice(text.as_bytes());
        from = end;
    }
    out.extend_from_slice(&bytes[from..]);
    out
}

/// `(kind, start, end)` for each token, up to the final CRLF; `None` if the line does
/// not tokenize (an unterminated string or literal).
fn tokenize(bytes: &[u8]) -> Option<Vec<(Tok, usize, usize)>> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        match bytes[i] {
            b' ' => {
                i += 1;
                continue;
            }
            b'\r' | b'\n' => break,
            b'(' => {
                i += 1;
                tokens.push((Tok::Open, start, i));
            }
            b')' => {
                i += 1;
                tokens.push((Tok::Close, start, i));
            }
            b'"' => {
                i += 1;
                loop {
                    match *bytes.get(i)? {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
                tokens.push((Tok::Str, start, i));
            }
            b'{' | b'~' if literal_len(&bytes[i..]).is_some() => {
                let (header, len) = literal_len(&bytes[i..])?;
                i += header + len;
                if i > bytes.len() {
                    return None;
                }
                tokens.push((Tok::Str, start, i));
            }
            _ => {
                while i < bytes.len() && !matches!(bytes[i], b' ' | b'(' | b')' | b'\r' | b'\n') {
                    i += 1;
                }
                tokens.push((Tok::Atom, start, i));
            }
        }
    }
    Some(tokens)
}

/// A literal's header length (through its CRLF) and data length: `{n}`, `{n+}`, `~{n}`.
pub(super) fn literal_len(bytes: &[u8]) -> Option<(usize, usize)> {
    let open = usize::from(bytes.first() == Some(&b'~'));
    if bytes.get(open) != Some(&b'{') {
        return None;
    }
    let close = bytes.iter().position(|&b| b == b'}')?;
    let digits = &bytes[open + 1..close];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    let len: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let crlf = if bytes[close + 1..].starts_with(b"\r\n") {
        2
    } else if bytes[close + 1..].starts_with(b"\n") {
        1
    } else {
        return None;
    };
    Some((close + 1 + crlf, len))
}

/// The index of the `)` closing the group that opens at `at`.
fn skip_group(tokens: &[(Tok, usize, usize)], at: usize) -> Option<usize> {
    if tokens.get(at)?.0 != Tok::Open {
        return None;
    }
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(at) {
        match t.0 {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The byte spans of every `$` search key (or `UID $`) from token `at` on.
fn dollar_keys(
    bytes: &[u8],
    tokens: &[(Tok, usize, usize)],
    at: usize,
) -> Option<Vec<(usize, usize)>> {
    let mut spans = Vec::new();
    let mut i = at;
    while i < tokens.len() {
        i = key(bytes, tokens, i, &mut spans, 0)?;
    }
    Some(spans)
}

/// Walks one search key (RFC 3501 §6.4.4 and the extensions' keys) starting at token
/// `i`, noting `$` spans; returns the index after it. `None` past
/// [`crate::framing::MAX_NESTING`] levels of parentheses, NOT and OR (the gate refuses
/// deeper lines before they get here; this keeps the recursion bounded regardless).
fn key(
    bytes: &[u8],
    tokens: &[(Tok, usize, usize)],
    i: usize,
    spans: &mut Vec<(usize, usize)>,
    depth: usize,
) -> Option<usize> {
    if depth >= crate::framing::MAX_NESTING {
        return None;
    }
    let deeper = depth + 1;
    let (kind, start, end) = *tokens.get(i)?;
    match kind {
        Tok::Open => {
            let mut j = i + 1;
            while tokens.get(j)?.0 != Tok::Close {
                j = key(bytes, tokens, j, spans, deeper)?;
            }
            Some(j + 1)
        }
        Tok::Close | Tok::Str => None,
        Tok::Atom => {
            let word = String::from_utf8_lossy(&bytes[start..end]).to_ascii_uppercase();
            let arguments = match word.as_str() {
                "$" => {
                    spans.push((start, end));
                    0
                }
                "NOT" | "FUZZY" => return key(bytes, tokens, i + 1, spans, deeper),
                "OR" => {
                    let next = key(bytes, tokens, i + 1, spans, deeper)?;
                    return key(bytes, tokens, next, spans, deeper);
                }
                "UID" => {
                    let (_, a, b) = *tokens.get(i + 1)?;
                    if &bytes[a..b] == b"$" {
                        spans.push((start, b));
                    }
                    1
                }
                "BCC" | "BODY" | "CC" | "FROM" | "KEYWORD" | "SUBJECT" | "TEXT" | "TO"
                | "UNKEYWORD" | "LARGER" | "SMALLER" | "BEFORE" | "ON" | "SINCE" | "SENTBEFORE"
                | "SENTON" | "SENTSINCE" | "OLDER" | "YOUNGER" => 1,
                "HEADER" => 2,
                // RFC 7162 §3.1.5: MODSEQ [entry-name entry-type] value.
                "MODSEQ" if tokens.get(i + 1).is_some_and(|t| t.0 == Tok::Str) => 3,
                "MODSEQ" => 1,
                _ => 0,
            };
            let next = i + 1 + arguments;
            (next <= tokens.len()).then_some(next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans_of(line: &[u8], at: usize) -> Vec<String> {
        let tokens = tokenize(line).expect("tokenizes");
        dollar_keys(line, &tokens, at)
            .expect("keys")
            .into_iter()
            .map(|(a, b)| String::from_utf8_lossy(&line[a..b]).into_owned())
            .collect()
    }

    #[test]
    fn lines_tokenize_with_strings_and_literals() {
        // The literal is "$ x": a string, not a key.
        let line = b"a1 SEARCH SUBJECT \"a $ b\" BODY {3}\r\n$ x ($ UNSEEN)\r\n";
        let tokens = tokenize(line).expect("tokenizes");
        let kinds: Vec<Tok> = tokens.iter().map(|t| t.0).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Atom,
                Tok::Atom,
                Tok::Atom,
                Tok::Str,
                Tok::Atom,
                Tok::Str,
                Tok::Open,
                Tok::Atom,
                Tok::Atom,
                Tok::Close
            ]
        );
        assert!(tokenize(b"a1 SEARCH SUBJECT \"open\r\n").is_none());
        assert!(tokenize(b"a1 SEARCH BODY {9}\r\nab").is_none());
    }

    #[test]
    fn only_keys_named_dollar_are_found() {
        // "SUBJECT $" searches for a dollar sign; the lone "$" and "UID $" are keys.
        assert_eq!(
            spans_of(
                b"a1 SEARCH SUBJECT $ $ OR UID $ NOT $ (HEADER X $ $)\r\n",
                2
            ),
            vec!["$", "UID $", "$", "$"]
        );
        assert_eq!(spans_of(b"a1 SEARCH UNSEEN\r\n", 2), Vec::<String>::new());
        assert_eq!(
            spans_of(b"a1 SEARCH MODSEQ \"/flags/\\\\seen\" all 5 $\r\n", 2),
            vec!["$"]
        );
    }

    #[test]
    fn deep_keys_are_refused_on_a_small_stack() {
        // Issue 12, finding 2: these overflowed the stack here.
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                for unit in ["(", "NOT ", "OR ", "OR $ "] {
                    let line = format!("a1 SEARCH {}$\r\n", unit.repeat(20_000));
                    let tokens = tokenize(line.as_bytes()).expect("tokenizes");
                    assert!(dollar_keys(line.as_bytes(), &tokens, 2).is_none(), "{unit}");
                }
                assert_eq!(spans_of(b"a1 SEARCH NOT NOT OR $ (NOT $)\r\n", 2).len(), 2);
            })
            .expect("thread");
        handle.join().expect("no overflow");
    }

    #[test]
    fn saved_results_sort_and_clear() {
        let mut saved = Saved::default();
        saved.set(vec![9, 3, 3, 5]);
        assert_eq!(saved, Saved(vec![3, 5, 9]));
        saved.clear();
        assert_eq!(saved, Saved::default());
    }
}
