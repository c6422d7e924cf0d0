//! APPEND's UTF8 data extension (RFC 6855 §4):
//! `APPEND mailbox [flags] [date] UTF8 (~{n}\r\n<message>)`, for messages with UTF-8
//! header fields, once UTF8=ACCEPT is enabled.
//!
//! Where it sits: imap-codec does not know this form, so the command fails to parse
//! and the driver offers it to [`super::extended`], which calls
//! [`Session::append_utf8`]. The extension only wraps a `literal8`, which imap-codec
//! does parse in APPEND (RFC 3516 BINARY), so the command is rewritten without the
//! `UTF8 (` and `)` and parsed again; it then runs as any APPEND (see `append.rs`).
//! Without ENABLE UTF8=ACCEPT the form is refused with `NO` (RFC 6855 §4).
//!
//! The rest of UTF8=ACCEPT is elsewhere: the ENABLE itself in `condstore.rs`, names in
//! [`super::names`], the CHARSET rule in [`super::prepare`].

use super::extended::Line;
use super::multiappend::{append_options, append_verb};
use super::searchres::literal_len;
use super::{Session, Status};
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::Command;

impl Session<'_> {
    /// An APPEND with the UTF8 data extension as a plain APPEND of a `literal8`;
    /// `None` if `bytes` is not that form.
    pub(super) fn append_utf8(&self, bytes: &[u8]) -> Option<Result<Command<'static>, Status>> {
        let plain = without_utf8_wrapper(bytes)?;
        if !self.enabled.utf8 {
            return Some(Err(Status::No(
                "[CLIENTBUG] APPEND UTF8 needs ENABLE UTF8=ACCEPT (RFC 6855 section 4)".into(),
            )));
        }
        Some(match CommandCodec::default().decode(&plain) {
            Ok((_, command)) => Ok(command.into_static()),
            Err(_) => Err(Status::Bad("Invalid APPEND".into())),
        })
    }
}

/// `tag APPEND mailbox [flags] [date] UTF8 (literal8)` as
/// `tag APPEND mailbox [flags] [date] literal8`, or `None` for any other line.
fn without_utf8_wrapper(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut line = Line::new(bytes);
    append_verb(&mut line)?;
    line.astring_bytes()?;
    if !line.space() {
        return None;
    }
    append_options(&mut line)?;
    let keep = line.position();
    if !(line.atom()?.eq_ignore_ascii_case("UTF8") && line.space() && line.eat(b'(')) {
        return None;
    }
    let literal = line.position();
    if line.peek() != Some(b'~') {
        return None;
    }
    let (header, len) = literal_len(line.rest())?;
    if line.rest().len() < header + len {
        return None;
    }
    line.skip(header + len);
    let end = line.position();
    if !(line.eat(b')') && line.at_end()) {
        return None;
    }
    let mut plain = bytes[..keep].to_vec();
    plain.extend_from_slice(&bytes[literal..end]);
    plain.extend_from_slice(b"\r\n");
    Some(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapper_comes_off() {
        let line = b"a1 APPEND INBOX (\\Seen) \"01-Jan-2024 10:00:00 +0000\" UTF8 (~{5}\r\nh\xc3\xa9)\r)\r\n";
        let plain = without_utf8_wrapper(line).expect("the UTF8 form");
        assert_eq!(
            plain,
            b"a1 APPEND INBOX (\\Seen) \"01-Jan-2024 10:00:00 +0000\" ~{5}\r\nh\xc3\xa9)\r\r\n"
        );
        let (_, command) = CommandCodec::default().decode(&plain).expect("parses");
        assert_eq!(command.body.name(), "APPEND");
        let bare = without_utf8_wrapper(b"a1 APPEND x UTF8 (~{2+}\r\nhi)\r\n").expect("form");
        assert_eq!(bare, b"a1 APPEND x ~{2+}\r\nhi\r\n");
        // Not the form: no UTF8, a plain literal, or something after the ")".
        assert!(without_utf8_wrapper(b"a1 APPEND x {2}\r\nhi\r\n").is_none());
        assert!(without_utf8_wrapper(b"a1 APPEND x UTF8 ({2}\r\nhi)\r\n").is_none());
        assert!(without_utf8_wrapper(b"a1 APPEND x UTF8 (~{2}\r\nhi) x\r\n").is_none());
        assert!(without_utf8_wrapper(b"a1 APPEND x UTF8 (~{9}\r\nhi)\r\n").is_none());
    }
}
