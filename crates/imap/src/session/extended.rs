//! Commands imap-codec cannot parse, read from the raw line: `SEARCH RETURN (...)`
//! (ESEARCH, RFC 4731; SAVE, RFC 5182; PARTIAL, RFC 9394; UPDATE, RFC 5267 §4.3),
//! `SORT RETURN (...)` (ESORT, RFC 5267 §3, [`super::sort`]), CANCELUPDATE (RFC 5267
//! §4.3.5, [`super::context`]), LIST with selection or
//! return options or several patterns (LIST-EXTENDED, RFC 5258; LIST-STATUS, RFC 5819),
//! FETCH with the PARTIAL modifier (RFC 9394 §3.3, [`super::fetch_partial`]),
//! the ACL commands (RFC 4314, [`super::acl`]),
//! APPEND with the UTF8 data extension (RFC 6855 §4, [`super::utf8`]) or with a NUL
//! in its message literal ([`super::append`]) and any command using `$`
//! (SEARCHRES, RFC 5182, [`super::searchres`]); the last two are rewritten into
//! commands imap-codec does parse and run as usual. (Plain SORT, RFC 5256, imap-codec
//! parses itself: see [`super::sort`].)
//!
//! Where it sits: when imap-next reports a malformed command, the driver
//! (the server's IMAP driver (`server/src/imap_driver.rs`)) offers its bytes here first ([`Session::extended_command`]);
//! a line that is none of the above goes back to the driver's plain `BAD`. The search
//! keys of ESEARCH are handed to imap-codec as an ordinary SEARCH ([`search_program`]),
//! so every key SEARCH knows works the same way in both.

use super::acl::AclCommand;
use super::fetch_partial;
use super::searchres::Rewritten;
use super::{Session, Status};
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::core::{Charset, Tag};
use imap_codec::imap_types::search::SearchKey;
use imap_next::server::Error as ServerError;

/// One word or parenthesised list of a raw command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    Word(String),
    List(Vec<Item>),
}

/// A cursor over one command line (RFC 3501 §9 syntax, loosely: atoms, quoted strings,
/// literals and parenthesised lists).
pub(super) struct Line<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Line<'b> {
    /// The line without its CRLF.
    pub fn new(bytes: &'b [u8]) -> Self {
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        Line { bytes, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// How far the line has been read, in bytes.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Skips `n` bytes (stops at the end).
    pub fn skip(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.bytes.len());
    }

    /// The unread rest of the line.
    pub fn rest(&self) -> &'b [u8] {
        &self.bytes[self.pos.min(self.bytes.len())..]
    }

    /// Consumes `c` if it comes next.
    pub fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes one space.
    pub fn space(&mut self) -> bool {
        self.eat(b' ')
    }

    /// Whether the next word is `word` (case-insensitive), without consuming it.
    pub fn next_is(&self, word: &str) -> bool {
        let mut probe = Line {
            bytes: self.bytes,
            pos: self.pos,
        };
        probe.atom().is_some_and(|a| a.eq_ignore_ascii_case(word))
    }

    /// An atom (list wildcards and `]` included).
    pub fn atom(&mut self) -> Option<String> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b <= b' ' || b >= 0x7f || matches!(b, b'(' | b')' | b'"' | b'{') {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start)
            .then(|| String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned())
    }

    /// An astring: atom, quoted string or literal (lossy for invalid UTF-8).
    pub fn astring(&mut self) -> Option<String> {
        self.astring_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// An astring's bytes: atom, quoted string or literal.
    pub fn astring_bytes(&mut self) -> Option<Vec<u8>> {
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.pos += 1;
                            return Some(out);
                        }
                        b'\\' => {
                            self.pos += 1;
                            out.push(self.peek()?);
                        }
                        b => out.push(b),
                    }
                    self.pos += 1;
                }
            }
            b'{' => {
                let close = self.bytes[self.pos..].iter().position(|&b| b == b'}')?;
                let digits = &self.bytes[self.pos + 1..self.pos + close];
                let digits = digits.strip_suffix(b"+").unwrap_or(digits);
                let len: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
                let mut at = self.pos + close + 1;
                at += if self.bytes[at..].starts_with(b"\r\n") {
                    2
                } else if self.bytes[at..].starts_with(b"\n") {
                    1
                } else {
                    return None;
                };
                let text = self.bytes.get(at..at + len)?;
                self.pos = at + len;
                Some(text.to_vec())
            }
            _ => self.atom().map(String::into_bytes),
        }
    }

    /// A parenthesised list of astrings and nested lists, separated by single spaces;
    /// `None` past [`crate::framing::MAX_NESTING`] levels (the gate refuses deeper
    /// lines before they get here; this keeps the recursion bounded regardless).
    pub fn list(&mut self) -> Option<Vec<Item>> {
        self.list_at(0)
    }

    fn list_at(&mut self, depth: usize) -> Option<Vec<Item>> {
        if depth >= crate::framing::MAX_NESTING || !self.eat(b'(') {
            return None;
        }
        let mut items = Vec::new();
        if self.eat(b')') {
            return Some(items);
        }
        loop {
            if self.peek() == Some(b'(') {
                items.push(Item::List(self.list_at(depth + 1)?));
            } else {
                items.push(Item::Word(self.astring()?));
            }
            if self.eat(b')') {
                return Some(items);
            }
            if !self.space() {
                return None;
            }
        }
    }
}

/// Which raw command a line is.
enum Kind {
    Search,
    /// SORT with return options (ESORT, RFC 5267 §3, see `sort.rs`).
    Sort,
    /// CANCELUPDATE (RFC 5267 §4.3.5, see `context.rs`).
    CancelUpdate,
    List,
    /// APPEND with the UTF8 data extension (see `utf8.rs`).
    AppendUtf8,
    /// A command using `$` (see `searchres.rs`).
    SavedResult,
    /// NOTIFY (RFC 5465, see `notify.rs`).
    Notify,
    /// FETCH with the PARTIAL modifier (RFC 9394 §3.3, see `fetch_partial.rs`).
    FetchPartial(fetch_partial::Split),
    /// SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS (RFC 4314, see `acl.rs`).
    Acl(AclCommand),
}

impl Session<'_> {
    /// Runs a command imap-codec rejected if it is one of this module's; `false` hands
    /// it back to the driver's `BAD`.
    pub async fn extended_command(&mut self, error: &ServerError) -> bool {
        let ServerError::MalformedMessage { discarded_bytes } = error else {
            return false;
        };
        let bytes = discarded_bytes.declassify().to_vec();
        let mut line = Line::new(&bytes);
        let Some(tag) = line.atom() else {
            return false;
        };
        if Tag::try_from(tag.as_str()).is_err() || !line.space() {
            return false;
        }
        let Some(mut name) = line.atom() else {
            return false;
        };
        let uid = name.eq_ignore_ascii_case("UID");
        if uid {
            match (line.space(), line.atom()) {
                (true, Some(next)) => name = next,
                _ => return false,
            }
        }
        let name = name.to_ascii_uppercase();
        let kind = match name.as_str() {
            "SEARCH" if line.space() && line.next_is("RETURN") => Kind::Search,
            "SORT" if line.space() && line.next_is("RETURN") => Kind::Sort,
            "CANCELUPDATE" if !uid => Kind::CancelUpdate,
            "NOTIFY" if !uid => Kind::Notify,
            _ if !uid && let Some(command) = AclCommand::named(&name) => Kind::Acl(command),
            "LIST" if !uid => Kind::List,
            "APPEND" if !uid => Kind::AppendUtf8,
            "FETCH" if let Some(split) = fetch_partial::split(&bytes) => Kind::FetchPartial(split),
            "FETCH" | "STORE" | "COPY" | "MOVE" | "EXPUNGE" | "SEARCH" | "SORT" | "THREAD" => {
                Kind::SavedResult
            }
            _ => return false,
        };
        tracing::debug!(tag = %tag, command = %name, "IMAP extended command");
        // RFC 3501 §7.4.1: no EXPUNGE during the sequence-number forms of FETCH, STORE
        // and SEARCH (and SORT, THREAD).
        let allow_expunge = uid
            || !matches!(
                name.as_str(),
                "FETCH" | "STORE" | "SEARCH" | "SORT" | "THREAD"
            );
        if self.account.is_none() {
            self.finish(&tag, Status::Bad("Log in first".into()), allow_expunge)
                .await;
            return true;
        }
        let status = match kind {
            Kind::Search => self.esearch(&tag, uid, &mut line).await,
            Kind::Sort => self.esort(&tag, uid, &mut line).await,
            Kind::CancelUpdate => self.cancel_update(&mut line),
            Kind::Notify => self.notify(&mut line).await,
            Kind::Acl(command) => self.acl_command(command, &mut line).await,
            Kind::List => self.list_extended(&mut line).await,
            // MULTIAPPEND and CATENATE first (see `multiappend.rs`).
            Kind::AppendUtf8 if let Some(status) = self.append_extended(&tag, &bytes).await => {
                status
            }
            Kind::AppendUtf8 => match self.append_utf8(&bytes) {
                // A NUL in a plain literal (see `append.rs`).
                None => match super::append::as_literal8(&bytes) {
                    Some(command) => {
                        self.command(command).await;
                        return true;
                    }
                    None => return false,
                },
                Some(Ok(command)) => {
                    self.command(command).await;
                    return true;
                }
                Some(Err(status)) => status,
            },
            Kind::FetchPartial(split) => self.fetch_partial(uid, split).await,
            Kind::SavedResult => match self.saved_result_command(&bytes) {
                None => return false,
                Some(Ok(Rewritten::Command(command))) => {
                    self.command(command).await;
                    return true;
                }
                Some(Ok(Rewritten::Answer(status)) | Err(status)) => status,
            },
        };
        self.finish(&tag, status, allow_expunge).await;
        true
    }
}

/// A parsed search program: the charset and the keys.
pub(super) type Program = (Option<Charset<'static>>, Vec<SearchKey<'static>>);

/// Parses `keys` (with an optional leading `CHARSET x`) as imap-codec parses SEARCH;
/// `charset`, if given, is put in front as `CHARSET`.
pub(super) fn search_program(
    tag: &str,
    charset: Option<&str>,
    keys: &[u8],
) -> Result<Program, Status> {
    let mut command = format!("{tag} SEARCH ").into_bytes();
    if let Some(charset) = charset {
        command.extend_from_slice(format!("CHARSET {} ", super::wire::string(charset)).as_bytes());
    }
    command.extend_from_slice(keys);
    command.extend_from_slice(b"\r\n");
    match CommandCodec::default().decode(&command) {
        Ok((
            _,
            imap_codec::imap_types::command::Command {
                body:
                    CommandBody::Search {
                        charset, criteria, ..
                    },
                ..
            },
        )) => Ok((
            charset.map(IntoStatic::into_static),
            criteria
                .as_ref()
                .iter()
                .map(|k| k.clone().into_static())
                .collect(),
        )),
        _ => Err(Status::Bad("Invalid search criteria".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_tokenize() {
        let mut line = Line::new(b"(SUBSCRIBED \"a b\" {3}\r\nx\"y (MESSAGES)) rest\r\n");
        let items = line.list().expect("list");
        assert_eq!(
            items,
            vec![
                Item::Word("SUBSCRIBED".into()),
                Item::Word("a b".into()),
                Item::Word("x\"y".into()),
                Item::List(vec![Item::Word("MESSAGES".into())]),
            ]
        );
        assert!(line.space());
        assert!(line.next_is("REST"));
        assert_eq!(line.rest(), b"rest");
        assert!(Line::new(b"(a b").list().is_none());
    }

    #[test]
    fn deep_lists_are_refused_on_a_small_stack() {
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let deep = "(".repeat(100_000) + &")".repeat(100_000);
                assert!(Line::new(deep.as_bytes()).list().is_none());
                let fine = "(".repeat(10) + &")".repeat(10);
                assert!(Line::new(fine.as_bytes()).list().is_some());
            })
            .expect("thread");
        handle.join().expect("no overflow");
    }

    #[test]
    fn search_programs_parse_like_search() {
        let (charset, keys) = search_program("a1", Some("UTF-8"), b"UNSEEN SUBJECT x")
            .unwrap_or_else(|_| panic!("parses"));
        assert!(charset.is_some());
        assert_eq!(keys.len(), 2);
        assert!(search_program("a1", None, b"").is_err());
        assert!(search_program("a1", None, b"FROB").is_err());
    }
}
