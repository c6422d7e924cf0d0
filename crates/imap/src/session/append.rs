//! APPEND (RFC 3501 §6.3.11) with UIDPLUS's `APPENDUID` (RFC 4315 §3).
//!
//! Where it sits: called by [`super::Session::command`] in the authenticated and
//! selected states. imap-next has already read the literal (its size bounded by
//! `imap.max_literal_size`, RFC 7889 APPENDLIMIT); the store writes it durably before
//! the tagged OK. Appending to the selected mailbox shows up as EXISTS from
//! [`super::Session::send_updates`]. A message the account's quota cannot take is
//! refused by the store with nothing written: `NO [OVERQUOTA]` (RFC 9208 §4.3.1).
//!
//! A message with a NUL octet is stored as sent, as Dovecot does: a client's message
//! is never refused with `BAD`. A plain literal cannot carry NUL (RFC 3501 §4.3
//! `CHAR8`), so imap-codec refuses the command and the driver offers it to
//! [`super::extended`], which hands it to [`as_literal8`]: the message literal
//! `{n}` becomes the `~{n}` (RFC 3516 §4.2 `literal8`, which APPEND accepts with
//! BINARY) that the client could have sent, and the command runs as usual. FETCH
//! BINARY returns the NUL; BODY[] sends it as 0x80 (see `fetch.rs`).
//!
//! Several messages in one APPEND (MULTIAPPEND, RFC 3502) and messages built from
//! parts (CATENATE, RFC 4469) are read from the raw command too: see
//! [`super::multiappend`] and [`super::catenate`], which share the helpers below.

use super::extended::Line;
use super::multiappend::{append_options, append_verb};
use super::searchres::literal_len;
use super::{Session, Status, store_failed, wire};
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::Command;
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_codec::imap_types::flag::Flag;
use store_api::StoreError;

impl Session<'_> {
    pub(super) async fn append(
        &mut self,
        name: &str,
        flags: &[Flag<'static>],
        date: Option<DateTime>,
        message: LiteralOrLiteral8<'static>,
    ) -> Status {
        let store = self.shared.store();
        let target = match self.insert_target(name, "APPEND").await {
            Ok(target) => target,
            Err(status) => return status,
        };
        let mailbox = &target.mailbox;
        let body: &[u8] = match &message {
            LiteralOrLiteral8::Literal(l) => l.data(),
            LiteralOrLiteral8::Literal8(l) => &l.data,
        };
        if body.is_empty() {
            return Status::No("Empty message".into());
        }
        let received_at = received_at(date);
        let flags: Vec<String> = flags.iter().map(wire::flag_text).collect();
        // Only the flags the session may set there (RFC 4314 §4).
        let flags = target.access.permitted_flags(flags);
        // Parsed once, here: FETCH ENVELOPE/BODYSTRUCTURE, SEARCH and SORT read the
        // summary the store keeps beside the message (`crate::summary`).
        let summary = crate::summary::Summary::compute(body).encode();
        match store
            .message_append_with(mailbox.id, body, &flags, received_at, Some(&summary))
            .await
        {
            Ok(uid) => {
                self.publish_change();
                self.publish_change_of(target.access.owner);
                Status::Ok(format!(
                    "[APPENDUID {} {uid}] APPEND completed",
                    mailbox.uid_validity
                ))
            }
            Err(e) => append_failed(&e),
        }
    }
}

/// INTERNALDATE for an APPEND: the date the client gave, else now.
pub(super) fn received_at(date: Option<DateTime>) -> i64 {
    date.map_or_else(
        || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        },
        |d| d.as_ref().timestamp(),
    )
}

/// The tagged reply for a store that refused an APPEND.
pub(super) fn append_failed(e: &StoreError) -> Status {
    match e {
        StoreError::Invalid(why) => super::flags::refused(why),
        StoreError::OverQuota(_) => over_quota(),
        e => store_failed("APPEND", e),
    }
}

/// RFC 9208 §4.3.1.
pub(super) fn over_quota() -> Status {
    Status::No("[OVERQUOTA] APPEND would exceed the mailbox quota".into())
}

/// An APPEND whose message literal `{n}` holds NUL, parsed as if it were the
/// `~{n}` literal8 it must be; `None` for any other command (see the module docs).
pub(super) fn as_literal8(bytes: &[u8]) -> Option<Command<'static>> {
    let rewritten = literal8_form(bytes)?;
    CommandCodec::default()
        .decode(&rewritten)
        .ok()
        .map(|(_, command)| command.into_static())
}

/// `tag APPEND mailbox [flags] [date] {n}<octets with a NUL>` with `~{n}` in place
/// of `{n}`; `None` for any other line.
fn literal8_form(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut line = Line::new(bytes);
    append_verb(&mut line)?;
    line.astring_bytes()?;
    if !line.space() {
        return None;
    }
    append_options(&mut line)?;
    let at = line.position();
    if line.peek() != Some(b'{') {
        return None;
    }
    let (header, len) = literal_len(line.rest())?;
    let data = line.rest().get(header..header.checked_add(len)?)?;
    if !data.contains(&0) {
        return None;
    }
    line.skip(header + len);
    if !line.at_end() {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.extend_from_slice(&bytes[..at]);
    out.push(b'~');
    out.extend_from_slice(&bytes[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::imap_types::command::CommandBody;
    use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;

    #[test]
    fn a_nul_in_the_message_literal_makes_it_a_literal8() {
        for line in [
            b"a1 APPEND INBOX {3}\r\na\0b\r\n".as_slice(),
            b"a1 APPEND INBOX {3+}\r\na\0b\r\n",
            b"a1 APPEND \"x y\" (\\Seen $Work) \"01-Jan-2024 10:00:00 +0000\" {3}\r\na\0b\r\n",
            b"a1 APPEND {1}\r\nx {3}\r\na\0b\r\n",
        ] {
            let command = as_literal8(line).unwrap_or_else(|| panic!("{line:?}"));
            let CommandBody::Append { message, .. } = command.body else {
                panic!("not an APPEND: {line:?}");
            };
            let LiteralOrLiteral8::Literal8(literal) = message else {
                panic!("not a literal8: {line:?}");
            };
            assert_eq!(literal.data.as_ref(), b"a\0b");
        }
        // Imap-codec's own refusals stay refusals: no NUL, something after the
        // literal, another command, a literal8 already.
        for line in [
            b"a1 APPEND INBOX {3}\r\nabc\r\n".as_slice(),
            b"a1 APPEND INBOX {3}\r\na\0b x\r\n",
            b"a1 APPEND INBOX {9}\r\na\0b\r\n",
            b"a1 SEARCH {3}\r\na\0b\r\n",
            b"a1 APPEND INBOX ~{3}\r\na\0b\r\n",
        ] {
            assert!(literal8_form(line).is_none(), "{line:?}");
        }
    }
}
