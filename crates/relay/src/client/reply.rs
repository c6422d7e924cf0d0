//! Server replies: parsing the lines of one reply (RFC 5321 §4.2) and the enhanced
//! status code in front of the text (RFC 2034 §3, RFC 3463).
//!
//! Where it sits: `wire` collects the lines of a reply and hands them here; the
//! session and transaction code look at the resulting [`ServerReply`] (and, for EHLO,
//! the raw lines).

use std::fmt;

/// One reply from the server, or one the client made up for a decision it took itself
/// (such as refusing to send a message the server could not accept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReply {
    /// The three-digit reply code.
    pub code: u16,
    /// The enhanced status code of the first line, when present (RFC 2034).
    pub enhanced: Option<(u8, u16, u16)>,
    /// The text without codes; the lines of a multi-line reply joined with `"; "`.
    pub text: String,
    /// The client made it up ([`ServerReply::synthetic`]): the server never said it,
    /// so reports word it as our own finding, not as the server's reply.
    pub local: bool,
}

impl ServerReply {
    /// A reply the client made up, e.g. `synthetic(552, (5, 3, 4), "...")`, marked
    /// [`ServerReply::local`].
    pub fn synthetic(code: u16, enhanced: (u8, u16, u16), text: impl Into<String>) -> Self {
        ServerReply {
            code,
            enhanced: Some(enhanced),
            text: text.into(),
            local: true,
        }
    }

    /// The enhanced status code as `X.Y.Z`; without one, the code's class as
    /// `X.0.0` (RFC 3463 §3.1).
    pub fn status(&self) -> String {
        match self.enhanced {
            Some((class, subject, detail)) => format!("{class}.{subject}.{detail}"),
            None => format!("{}.0.0", self.class()),
        }
    }

    /// First digit of the code: 2 success, 3 intermediate, 4 transient, 5 permanent.
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        self.class() == 2
    }

    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        self.class() == 5
    }

    /// 421: the server is closing the connection (RFC 5321 §3.8).
    pub fn is_closing(&self) -> bool {
        self.code == 421
    }
}

impl fmt::Display for ServerReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some((class, subject, detail)) = self.enhanced {
            write!(f, " {class}.{subject}.{detail}")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

/// A reply as it arrived: the code and the text of each line (after `NNN-`/`NNN `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawReply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl RawReply {
    /// The reply with enhanced codes taken off every line that has one.
    pub fn to_server_reply(&self) -> ServerReply {
        let mut enhanced = None;
        let mut texts = Vec::with_capacity(self.lines.len());
        for (i, line) in self.lines.iter().enumerate() {
            let (code, text) = split_enhanced(line);
            if i == 0 {
                enhanced = code;
            }
            if !text.is_empty() {
                texts.push(text);
            }
        }
        ServerReply {
            code: self.code,
            enhanced,
            text: texts.join("; "),
            local: false,
        }
    }
}

/// What one reply line says (RFC 5321 §4.2: `Reply-code [ SP textstring ] CRLF`, with
/// `-` instead of SP on all but the last line).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ReplyLine<'a> {
    pub code: u16,
    pub last: bool,
    pub text: &'a str,
}

/// Parses one line without its line end. Servers that end the last line right after the
/// code (`250`) are tolerated.
pub(crate) fn parse_line(line: &str) -> Option<ReplyLine<'_>> {
    let bytes = line.as_bytes();
    if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = line[..3].parse().ok()?;
    if !(100..600).contains(&code) {
        return None;
    }
    match bytes.get(3) {
        None => Some(ReplyLine {
            code,
            last: true,
            text: "",
        }),
        Some(b' ') => Some(ReplyLine {
            code,
            last: true,
            text: &line[4..],
        }),
        Some(b'-') => Some(ReplyLine {
            code,
            last: false,
            text: &line[4..],
        }),
        _ => None,
    }
}

/// Splits `"5.1.1 text"` into the enhanced code and the rest (RFC 3463 §2:
/// `class.subject.detail`, class 2, 4 or 5, subject and detail 1 to 3 digits).
fn split_enhanced(text: &str) -> (Option<(u8, u16, u16)>, String) {
    let (word, rest) = match text.split_once(' ') {
        Some((word, rest)) => (word, rest),
        None => (text, ""),
    };
    let mut parts = word.split('.');
    let parsed = (|| {
        let class = parts.next()?;
        let subject = parts.next()?;
        let detail = parts.next()?;
        if parts.next().is_some() || !matches!(class, "2" | "4" | "5") {
            return None;
        }
        let number = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !number(subject) || !number(detail) {
            return None;
        }
        Some((
            class.parse().ok()?,
            subject.parse().ok()?,
            detail.parse().ok()?,
        ))
    })();
    match parsed {
        Some(code) => (Some(code), rest.trim().to_string()),
        None => (None, text.trim().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        assert_eq!(
            parse_line("250-mx.example.org"),
            Some(ReplyLine {
                code: 250,
                last: false,
                text: "mx.example.org"
            })
        );
        assert_eq!(parse_line("354").map(|l| l.last), Some(true));
        assert_eq!(parse_line("25 x"), None);
        assert_eq!(parse_line("250x"), None);
        assert_eq!(parse_line("999 x"), None);
    }

    #[test]
    fn enhanced_codes_on_every_line_are_removed() {
        let raw = RawReply {
            code: 550,
            lines: vec!["5.1.1 no such user".into(), "5.1.1 see the docs".into()],
        };
        let reply = raw.to_server_reply();
        assert_eq!(reply.enhanced, Some((5, 1, 1)));
        assert_eq!(reply.text, "no such user; see the docs");
        assert_eq!(reply.to_string(), "550 5.1.1 no such user; see the docs");
    }

    #[test]
    fn text_that_only_looks_like_a_code_stays() {
        let raw = RawReply {
            code: 250,
            lines: vec!["1.2.3 is a version".into()],
        };
        let reply = raw.to_server_reply();
        assert_eq!(reply.enhanced, None);
        assert_eq!(reply.to_string(), "250 1.2.3 is a version");
        let bare = RawReply {
            code: 250,
            lines: vec!["2.0.0".into()],
        };
        assert_eq!(bare.to_server_reply().to_string(), "250 2.0.0");
    }
}
