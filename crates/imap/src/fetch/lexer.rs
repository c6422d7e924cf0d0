//! A tolerant lexer for structured header values (RFC 5322 §3.2, RFC 2045 §5.1).
//!
//! Where it sits: under [`super::address`] (From, To, ... lists) and
//! [`super::params`] (Content-Type and Content-Disposition). It splits an unfolded
//! header value into words, quoted strings, domain literals, comments and single
//! special characters, and never fails: bytes that fit nowhere come out as specials
//! for the parsers above to skip. Eight-bit bytes count as word characters (RFC 6532
//! allows UTF-8 in headers).

/// One lexical token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// An atom or token (RFC 5322 atext plus `.`, or an RFC 2045 token, depending on
    /// the [`Syntax`]); `raw` is the word itself.
    Word(&'a [u8]),
    /// A quoted string: `raw` with its quotes and escapes, `text` unescaped.
    Quoted { raw: &'a [u8], text: Vec<u8> },
    /// A domain literal `[...]`, raw (RFC 5322 §3.4.1).
    Literal(&'a [u8]),
    /// A comment's content without the outer parentheses (RFC 5322 §3.2.2).
    Comment(Vec<u8>),
    /// Any other single byte: `<`, `>`, `@`, `,`, `;`, `:`, `/`, `=`, ...
    Special(u8),
}

/// Which bytes end a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// RFC 5322 addresses: specials are `()<>[]:;@\,"`; `.` stays inside words so
    /// dot-atoms and obsolete phrases (RFC 5322 §4.1) come out whole.
    Address,
    /// RFC 2045 §5.1 MIME parameters: tspecials are `()<>@,;:\"/[]?=`.
    Mime,
}

impl Syntax {
    fn is_special(self, b: u8) -> bool {
        match self {
            Syntax::Address => b"()<>[]:;@\\,\"".contains(&b),
            Syntax::Mime => b"()<>@,;:\\\"/[]?=".contains(&b),
        }
    }
}

/// The tokens of `value`; white space separates tokens and is otherwise dropped.
pub(crate) fn tokens(value: &[u8], syntax: Syntax) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let (end, text) = quoted(value, i);
                out.push(Token::Quoted {
                    raw: &value[i..end],
                    text,
                });
                i = end;
            }
            b'(' => {
                let (end, text) = comment(value, i);
                out.push(Token::Comment(text));
                i = end;
            }
            b'[' if syntax == Syntax::Address => {
                let end = value[i..]
                    .iter()
                    .position(|&c| c == b']')
                    .map_or(value.len(), |p| i + p + 1);
                out.push(Token::Literal(&value[i..end]));
                i = end;
            }
            _ if syntax.is_special(b) || b.is_ascii_control() => {
                out.push(Token::Special(b));
                i += 1;
            }
            _ => {
                let end = value[i..]
                    .iter()
                    .position(|&c| {
                        matches!(c, b' ' | b'\t' | b'\r' | b'\n')
                            || c.is_ascii_control()
                            || syntax.is_special(c)
                    })
                    .map_or(value.len(), |p| i + p);
                out.push(Token::Word(&value[i..end]));
                i = end;
            }
        }
    }
    out
}

/// A quoted string starting at `value[start] == '"'`: (index after it, content).
/// An unterminated string runs to the end of the value.
fn quoted(value: &[u8], start: usize) -> (usize, Vec<u8>) {
    let mut text = Vec::new();
    let mut i = start + 1;
    while i < value.len() {
        match value[i] {
            b'"' => return (i + 1, text),
            b'\\' if i + 1 < value.len() => {
                text.push(value[i + 1]);
                i += 2;
            }
            b'\r' | b'\n' => i += 1,
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    (i, text)
}

/// A comment starting at `value[start] == '('`: (index after it, content with
/// nested comments kept and quoted-pairs unescaped).
fn comment(value: &[u8], start: usize) -> (usize, Vec<u8>) {
    let mut text = Vec::new();
    let mut depth = 0usize;
    let mut i = start;
    while i < value.len() {
        match value[i] {
            b'(' => {
                if depth > 0 {
                    text.push(b'(');
                }
                depth += 1;
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return (i + 1, text);
                }
                text.push(b')');
            }
            b'\\' if i + 1 < value.len() => {
                i += 1;
                text.push(value[i]);
            }
            c => text.push(c),
        }
        i += 1;
    }
    (i, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_tokens() {
        let t = tokens(br#""Joe \"Q\"" (c (n)) <j.q@[1.2.3.4]>"#, Syntax::Address);
        assert_eq!(
            t,
            vec![
                Token::Quoted {
                    raw: br#""Joe \"Q\"""#,
                    text: br#"Joe "Q""#.to_vec()
                },
                Token::Comment(b"c (n)".to_vec()),
                Token::Special(b'<'),
                Token::Word(b"j.q"),
                Token::Special(b'@'),
                Token::Literal(b"[1.2.3.4]"),
                Token::Special(b'>'),
            ]
        );
    }

    #[test]
    fn mime_tokens_split_on_tspecials() {
        let t = tokens(b"text/plain;charset=utf-8", Syntax::Mime);
        assert_eq!(
            t,
            vec![
                Token::Word(b"text"),
                Token::Special(b'/'),
                Token::Word(b"plain"),
                Token::Special(b';'),
                Token::Word(b"charset"),
                Token::Special(b'='),
                Token::Word(b"utf-8"),
            ]
        );
    }

    #[test]
    fn unterminated_quotes_and_comments_run_to_the_end() {
        assert_eq!(
            tokens(b"\"abc", Syntax::Address),
            vec![Token::Quoted {
                raw: b"\"abc",
                text: b"abc".to_vec()
            }]
        );
        assert_eq!(
            tokens(b"(a(b)", Syntax::Address),
            vec![Token::Comment(b"a(b)".to_vec())]
        );
    }
}
