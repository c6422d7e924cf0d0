//! Address lists as ENVELOPE address structures (RFC 3501 §7.4.2).
//!
//! Where it sits: [`super::envelope`](mod@super::envelope) hands each unfolded From/Sender/Reply-To/To/
//! Cc/Bcc value to [`address_list`], which parses RFC 5322 §3.4 `address-list`
//! syntax (plus the obsolete forms of §4.4 that real mail still carries) into
//! `(name adl mailbox host)` structures:
//!
//! - the name is the display-name phrase with quoting removed — RFC 2047 encoded
//!   words are left encoded for the client — or, for `user@host (Comment)`, the
//!   comment, as Dovecot does;
//! - adl is the obsolete source route (`<@a,@b:user@host>` gives `"@a,@b"`);
//! - mailbox and host are the local part (quotes kept, so `mailbox@host` is still an
//!   address) and the domain;
//! - a group `name: a, b;` becomes a start marker `(NIL NIL "name" NIL)`, its
//!   members, and an end marker `(NIL NIL NIL NIL)`: RFC 3501's group syntax.
//!
//! Broken input never fails: a missing local part or domain becomes
//! `MISSING_MAILBOX` / `MISSING_DOMAIN` (Dovecot's placeholders), since a NIL host
//! would read as a group marker.

use imap_codec::imap_types::{core::NString, envelope::Address};

use super::{
    lexer::{Syntax, Token, tokens},
    strings::nstring,
};

/// Placeholder mailbox for an address without a local part.
pub(crate) const MISSING_MAILBOX: &str = "MISSING_MAILBOX";
/// Placeholder host for an address without a domain.
pub(crate) const MISSING_DOMAIN: &str = "MISSING_DOMAIN";

/// The address structures of an unfolded address-list header value.
pub(crate) fn address_list(value: &[u8]) -> Vec<Address<'static>> {
    let toks = tokens(value, Syntax::Address);
    let mut p = Parser {
        toks: &toks,
        i: 0,
        out: Vec::new(),
    };
    while p.i < toks.len() {
        p.address(false);
    }
    p.out
}

struct Parser<'t, 'a> {
    toks: &'t [Token<'a>],
    i: usize,
    out: Vec<Address<'static>>,
}

impl<'t, 'a> Parser<'t, 'a> {
    fn peek(&self) -> Option<&'t Token<'a>> {
        self.toks.get(self.i)
    }

    fn at(&self, special: u8) -> bool {
        self.peek() == Some(&Token::Special(special))
    }

    /// One mailbox or group. Consumes at least one token, except at a `;` that ends
    /// the enclosing group, which it leaves for [`Self::group`].
    fn address(&mut self, in_group: bool) {
        let mut phrase: Vec<&'t Token<'a>> = Vec::new();
        let mut comment: Option<&'t [u8]> = None;
        while let Some(t) = self.peek() {
            match t {
                Token::Word(_) | Token::Quoted { .. } | Token::Literal(_) => phrase.push(t),
                Token::Comment(c) => {
                    comment.get_or_insert(c);
                }
                Token::Special(b',') => {
                    self.i += 1;
                    break;
                }
                Token::Special(b';') if in_group => break,
                Token::Special(b':') if !in_group => {
                    self.i += 1;
                    self.group(&phrase);
                    return;
                }
                Token::Special(b'<') => {
                    self.i += 1;
                    self.angle_addr(&phrase, comment);
                    self.skip_rest(in_group);
                    return;
                }
                Token::Special(b'@') => {
                    self.i += 1;
                    self.addr_spec(&phrase, comment);
                    self.skip_rest(in_group);
                    return;
                }
                Token::Special(_) => {}
            }
            self.i += 1;
        }
        // A phrase with no address at all (`To: undisclosed-recipients`): keep it
        // visible as a mailbox rather than dropping the field.
        if !phrase.is_empty() {
            self.push(None, None, Some(raw_words(&phrase, b" ")), None);
        }
    }

    /// `display-name ":" [mailbox-list] ";"`, the colon already consumed.
    fn group(&mut self, phrase: &[&Token<'a>]) {
        self.out.push(Address {
            name: NString::NIL,
            adl: NString::NIL,
            mailbox: nstring(Some(text_words(phrase))),
            host: NString::NIL,
        });
        while let Some(t) = self.peek() {
            if *t == Token::Special(b';') {
                self.i += 1;
                break;
            }
            self.address(true);
        }
        self.out.push(Address {
            name: NString::NIL,
            adl: NString::NIL,
            mailbox: NString::NIL,
            host: NString::NIL,
        });
        self.skip_rest(false);
    }

    /// `[obs-route] addr-spec ">"`, the `<` already consumed.
    fn angle_addr(&mut self, phrase: &[&Token<'a>], comment: Option<&[u8]>) {
        let mut adl = None;
        if self.at(b'@') {
            // obs-route = obs-domain-list ":" (RFC 5322 §4.4)
            let start = self.i;
            let mut route = Vec::new();
            while let Some(t) = self.peek() {
                match t {
                    Token::Special(b':') => {
                        self.i += 1;
                        adl = Some(route);
                        break;
                    }
                    Token::Special(b'>') => break,
                    Token::Special(c) => route.push(*c),
                    Token::Word(w) | Token::Literal(w) | Token::Quoted { raw: w, .. } => {
                        route.extend_from_slice(w)
                    }
                    Token::Comment(_) => {}
                }
                self.i += 1;
            }
            if adl.is_none() {
                self.i = start;
            }
        }
        let local = self.local_part();
        let domain = if self.at(b'@') {
            self.i += 1;
            self.domain().0
        } else {
            Vec::new()
        };
        if self.at(b'>') {
            self.i += 1;
        }
        let name = (!phrase.is_empty())
            .then(|| text_words(phrase))
            .or_else(|| comment.map(<[u8]>::to_vec));
        self.push(name, adl, Some(local), Some(domain));
    }

    /// `local-part "@" domain` without angle brackets: `phrase` was the local part
    /// and the `@` is consumed.
    fn addr_spec(&mut self, phrase: &[&Token<'a>], comment: Option<&[u8]>) {
        let local = raw_words(phrase, b"");
        let (domain, trailing) = self.domain();
        let name = comment.or(trailing).map(<[u8]>::to_vec);
        self.push(name, None, Some(local), Some(domain));
    }

    /// Words up to the next special, raw (quotes kept) and concatenated: the
    /// local part (obs-local-part may have CFWS around its dots).
    fn local_part(&mut self) -> Vec<u8> {
        let mut local = Vec::new();
        while let Some(t) = self.peek() {
            match t {
                Token::Word(w) | Token::Literal(w) | Token::Quoted { raw: w, .. } => {
                    local.extend_from_slice(w)
                }
                Token::Comment(_) => {}
                Token::Special(_) => break,
            }
            self.i += 1;
        }
        local
    }

    /// A domain up to the next special, and the first comment seen in it.
    fn domain(&mut self) -> (Vec<u8>, Option<&'t [u8]>) {
        let mut domain = Vec::new();
        let mut comment = None;
        while let Some(t) = self.peek() {
            match t {
                Token::Word(w) | Token::Literal(w) | Token::Quoted { raw: w, .. } => {
                    domain.extend_from_slice(w)
                }
                Token::Comment(c) => {
                    comment.get_or_insert(c.as_slice());
                }
                Token::Special(_) => break,
            }
            self.i += 1;
        }
        (domain, comment)
    }

    /// Skips what follows an address up to and including the next `,` (or up to a
    /// group-ending `;`).
    fn skip_rest(&mut self, in_group: bool) {
        while let Some(t) = self.peek() {
            match t {
                Token::Special(b';') if in_group => return,
                Token::Special(b',') => {
                    self.i += 1;
                    return;
                }
                _ => self.i += 1,
            }
        }
    }

    fn push(
        &mut self,
        name: Option<Vec<u8>>,
        adl: Option<Vec<u8>>,
        mailbox: Option<Vec<u8>>,
        host: Option<Vec<u8>>,
    ) {
        let or = |v: Option<Vec<u8>>, missing: &str| match v {
            Some(v) if !v.is_empty() => v,
            _ => missing.as_bytes().to_vec(),
        };
        self.out.push(Address {
            name: nstring(name.filter(|n| !n.is_empty())),
            adl: nstring(adl.filter(|a| !a.is_empty())),
            mailbox: nstring(Some(or(mailbox, MISSING_MAILBOX))),
            host: nstring(Some(or(host, MISSING_DOMAIN))),
        });
    }
}

/// A phrase as text: words joined by one space, quoted strings unquoted.
fn text_words(phrase: &[&Token<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, t) in phrase.iter().enumerate() {
        if n > 0 {
            out.push(b' ');
        }
        match t {
            Token::Quoted { text, .. } => out.extend_from_slice(text),
            Token::Word(w) | Token::Literal(w) => out.extend_from_slice(w),
            Token::Comment(_) | Token::Special(_) => {}
        }
    }
    out
}

/// A phrase as raw words (quotes kept) joined by `sep`.
fn raw_words(phrase: &[&Token<'_>], sep: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, t) in phrase.iter().enumerate() {
        if n > 0 {
            out.extend_from_slice(sep);
        }
        match t {
            Token::Quoted { raw, .. } => out.extend_from_slice(raw),
            Token::Word(w) | Token::Literal(w) => out.extend_from_slice(w),
            Token::Comment(_) | Token::Special(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Addresses as `name|adl|mailbox|host` with `-` for NIL, for compact asserts.
    fn show(value: &str) -> Vec<String> {
        let s = |n: &NString<'_>| match &n.0 {
            None => "-".to_string(),
            Some(v) => String::from_utf8_lossy(v.as_ref()).into_owned(),
        };
        address_list(value.as_bytes())
            .iter()
            .map(|a| {
                format!(
                    "{}|{}|{}|{}",
                    s(&a.name),
                    s(&a.adl),
                    s(&a.mailbox),
                    s(&a.host)
                )
            })
            .collect()
    }

    #[test]
    fn rfc5322_appendix_a_1_2() {
        // RFC 5322 Appendix A.1.2, the To and Cc of "Different Types of Mailboxes".
        assert_eq!(
            show("\"Mary Smith\" <mary@x.test>, jdoe@example.org, Who? <one@y.test>"),
            [
                "Mary Smith|-|mary|x.test",
                "-|-|jdoe|example.org",
                "Who?|-|one|y.test"
            ]
        );
        assert_eq!(
            show("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>"),
            [
                "-|-|boss|nil.test",
                "Giant; \"Big\" Box|-|sysservices|example.net"
            ]
        );
    }

    #[test]
    fn rfc5322_appendix_a_1_3_groups() {
        // RFC 5322 Appendix A.1.3 "Group Addresses".
        assert_eq!(
            show("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
            [
                "-|-|A Group|-",
                "Ed Jones|-|c|a.test",
                "-|-|joe|where.test",
                "John|-|jdoe|one.test",
                "-|-|-|-"
            ]
        );
        assert_eq!(
            show("Undisclosed recipients:;"),
            ["-|-|Undisclosed recipients|-", "-|-|-|-"]
        );
    }

    #[test]
    fn rfc5322_appendix_a_5_white_space_and_comments() {
        // RFC 5322 Appendix A.5: comments and folding white space everywhere.
        assert_eq!(
            show("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
            ["Pete|-|pete|silly.test"]
        );
        assert_eq!(
            show(
                "A Group(Some people)     :Chris Jones <c@(Chris's host.)public.example>,         joe@example.org,  John <jdoe@one.test> (my dear friend); (the end of the group)"
            ),
            [
                "-|-|A Group|-",
                "Chris Jones|-|c|public.example",
                "-|-|joe|example.org",
                "John|-|jdoe|one.test",
                "-|-|-|-"
            ]
        );
    }

    #[test]
    fn obsolete_route_and_comment_names() {
        assert_eq!(
            show("<@a.test,@b.test:joe@c.test>"),
            ["-|@a.test,@b.test|joe|c.test"]
        );
        assert_eq!(
            show("jdoe@example.org (John Doe)"),
            ["John Doe|-|jdoe|example.org"]
        );
        assert_eq!(
            show("\"quoted local\"@example.org"),
            ["-|-|\"quoted local\"|example.org"]
        );
    }

    #[test]
    fn encoded_words_stay_encoded() {
        assert_eq!(
            show("=?UTF-8?Q?Andr=C3=A9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
            ["=?UTF-8?Q?Andr=C3=A9?= Pirard|-|PIRARD|vm1.ulg.ac.be"]
        );
    }

    #[test]
    fn broken_input_still_gives_addresses() {
        assert_eq!(
            show("undisclosed-recipients"),
            ["-|-|undisclosed-recipients|MISSING_DOMAIN"]
        );
        assert_eq!(show("Joe <>"), ["Joe|-|MISSING_MAILBOX|MISSING_DOMAIN"]);
        assert_eq!(show(", ,a@b,,"), ["-|-|a|b"]);
        assert_eq!(show("Group: a@b"), ["-|-|Group|-", "-|-|a|b", "-|-|-|-"]);
        assert_eq!(show(""), Vec::<String>::new());
        assert_eq!(show("> ; @"), ["-|-|MISSING_MAILBOX|MISSING_DOMAIN"]);
    }
}
