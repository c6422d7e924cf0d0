//! MULTIAPPEND (RFC 3502): one APPEND carrying several messages, stored all or none;
//! and the raw APPEND parser CATENATE (RFC 4469, [`super::catenate`]) shares.
//!
//! Where it sits: imap-codec parses neither form, so imap-next reports the command
//! malformed and the driver offers its bytes (the whole command, literals included:
//! imap-next answers each synchronising literal with `+` without parsing the command,
//! and hands the command over once its last line arrives) to
//! [`super::extended`], which calls [`Session::append_extended`] first. A plain
//! one-message APPEND that imap-codec refused for another reason (a NUL in the
//! literal, RFC 6855's `UTF8 (...)`) is not ours: `None` sends it on to `append.rs`
//! and `utf8.rs`.
//!
//! Bounds: the framing gate (`crate::framing`) holds every command, lines and
//! literals together, to `imap.max_literal_size` plus one line (`imap.max_line_length`)
//! and answers `BAD [TOOBIG]` before reading more, so a MULTIAPPEND's messages
//! together are never more than the APPENDLIMIT the server advertises, each one
//! included; nothing is spooled. At most [`MAX_MESSAGES`] messages per command: more
//! is `NO [LIMIT]`.
//!
//! All or none (RFC 3502 §6.3.11): the messages are stored by one
//! [`store_api::Store::message_append_many`], a single atomic step that checks the
//! account's quota for all of them together (RFC 9208 §4.3.1, `NO [OVERQUOTA]`) and,
//! should it refuse (a delivery that filled the quota in between, a disk error),
//! leaves none of them behind; no other session ever sees a part of them. Before that
//! the session checks what it can, so a doomed command costs no summaries and no body
//! files: the mailbox exists, the arguments parse, no message is empty, every
//! flag is one the store keeps, every CATENATE URL resolves and every built message
//! fits, and the quota as it stands takes them all. On success the tagged OK carries
//! `APPENDUID uidvalidity uid-set` covering all of them (RFC 4315 §3); their UIDs are
//! consecutive.

use super::catenate::{MAX_URLS, Part};
use super::cpu;
use super::extended::Line;
use super::searchres::literal_len;
use super::{Session, Status, store_failed};
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::CommandBody;
use std::borrow::Cow;
use store_api::NewMessage;

/// The most messages one APPEND may carry.
pub(super) const MAX_MESSAGES: usize = 1000;

/// The system flags a message may be appended with (RFC 3501 §2.3.2).
const SYSTEM_FLAGS: [&str; 6] = [
    "\\Answered",
    "\\Deleted",
    "\\Draft",
    "\\Flagged",
    "\\Seen",
    "\\Recent",
];

/// One message of a raw APPEND: `[SP flag-list] [SP date-time] SP append-data`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Message<'b> {
    /// The flag list and date as sent, each with its leading space (or empty).
    pub options: &'b [u8],
    pub data: Data<'b>,
}

/// A message's `append-data`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Data<'b> {
    /// A literal or literal8: the message itself.
    Literal(&'b [u8]),
    /// `CATENATE (...)` (RFC 4469 §5).
    Catenate(Vec<Part<'b>>),
}

/// A raw APPEND command: its mailbox as sent and its messages.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct RawAppend<'b> {
    /// The mailbox astring as sent (quoted, literal or atom).
    pub mailbox: &'b [u8],
    pub messages: Vec<Message<'b>>,
}

/// Parses `tag APPEND mailbox 1*append-message` (RFC 3502 §6.3.11 with RFC 4469 §5's
/// `CATENATE`), the whole command with its literals; `None` when it is not that.
pub(super) fn parse(bytes: &[u8]) -> Option<RawAppend<'_>> {
    let mut line = Line::new(bytes);
    append_verb(&mut line)?;
    let start = line.position();
    line.astring_bytes()?;
    let mailbox = &bytes[start..line.position()];
    let mut messages = Vec::new();
    while !line.at_end() {
        let options_start = line.position();
        if !line.space() {
            return None;
        }
        append_options(&mut line)?;
        let options = &bytes[options_start..line.position() - 1];
        let data = if matches!(line.peek(), Some(b'{' | b'~')) {
            Data::Literal(literal(&mut line)?)
        } else if line.atom()?.eq_ignore_ascii_case("CATENATE") {
            Data::Catenate(cat_parts(&mut line)?)
        } else {
            return None;
        };
        messages.push(Message { options, data });
    }
    (!messages.is_empty()).then_some(RawAppend { mailbox, messages })
}

/// `tag SP "APPEND" SP` (RFC 3501 §6.3.11): leaves `line` at the mailbox; `None` for
/// any other command. Shared by every raw APPEND reader (this one, the literal8
/// re-read of `append.rs`, the `UTF8 (...)` form of `utf8.rs`).
pub(super) fn append_verb(line: &mut Line<'_>) -> Option<()> {
    line.atom()?;
    (line.space() && line.atom()?.eq_ignore_ascii_case("APPEND") && line.space()).then_some(())
}

/// The optional `[flag-list SP] [date-time SP]` before one message (RFC 3501 §9
/// `append`, RFC 3502 §6.3.11); `line` stands just after the SP that precedes them,
/// and is left at the message data.
pub(super) fn append_options(line: &mut Line<'_>) -> Option<()> {
    if line.peek() == Some(b'(') {
        line.list()?;
        if !line.space() {
            return None;
        }
    }
    if line.peek() == Some(b'"') {
        line.astring_bytes()?;
        if !line.space() {
            return None;
        }
    }
    Some(())
}

/// A literal or literal8 at the cursor: its octets.
fn literal<'b>(line: &mut Line<'b>) -> Option<&'b [u8]> {
    let rest = line.rest();
    let (header, len) = literal_len(rest)?;
    let data = rest.get(header..header.checked_add(len)?)?;
    line.skip(header + len);
    Some(data)
}

/// `SP "(" cat-part *(SP cat-part) ")"` after CATENATE.
fn cat_parts<'b>(line: &mut Line<'b>) -> Option<Vec<Part<'b>>> {
    if !(line.space() && line.eat(b'(')) {
        return None;
    }
    let mut parts = Vec::new();
    loop {
        let kind = line.atom()?;
        if !line.space() {
            return None;
        }
        if kind.eq_ignore_ascii_case("TEXT") {
            if !matches!(line.peek(), Some(b'{' | b'~')) {
                return None;
            }
            parts.push(Part::Text(literal(line)?));
        } else if kind.eq_ignore_ascii_case("URL") {
            parts.push(Part::Url(line.astring_bytes()?));
        } else {
            return None;
        }
        if line.eat(b')') {
            return Some(parts);
        }
        if !line.space() {
            return None;
        }
    }
}

/// A UID set for APPENDUID: runs of consecutive UIDs as `a:b` (RFC 4315 §3).
pub(super) fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let mut j = i;
        while j + 1 < uids.len() && uids[j].checked_add(1) == Some(uids[j + 1]) {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j > i {
            out.push_str(&format!("{}:{}", uids[i], uids[j]));
        } else {
            out.push_str(&uids[i].to_string());
        }
        i = j + 1;
    }
    out
}

/// One message ready to store.
struct Ready<'b> {
    body: Cow<'b, [u8]>,
    flags: Vec<String>,
    received_at: i64,
}

impl Session<'_> {
    /// Runs a MULTIAPPEND or CATENATE APPEND from its raw bytes; `None` when the
    /// command is neither (see the module docs).
    pub async fn append_extended(&mut self, tag: &str, bytes: &[u8]) -> Option<Status> {
        let raw = parse(bytes)?;
        if let [
            Message {
                data: Data::Literal(_),
                ..
            },
        ] = raw.messages.as_slice()
        {
            return None;
        }
        tracing::debug!(
            tag = %tag,
            messages = raw.messages.len(),
            "IMAP MULTIAPPEND/CATENATE"
        );
        Some(self.append_all(tag, &raw).await)
    }

    async fn append_all(&mut self, tag: &str, raw: &RawAppend<'_>) -> Status {
        if raw.messages.len() > MAX_MESSAGES {
            return Status::No(format!(
                "[LIMIT] At most {MAX_MESSAGES} messages in one APPEND"
            ));
        }
        let urls = raw
            .messages
            .iter()
            .map(|m| match &m.data {
                Data::Catenate(parts) => parts.iter().filter(|p| matches!(p, Part::Url(_))).count(),
                Data::Literal(_) => 0,
            })
            .sum::<usize>();
        if urls > MAX_URLS {
            return Status::No(format!("[LIMIT] At most {MAX_URLS} URLs in one APPEND"));
        }
        // The mailbox, flags and date of each message, parsed (and the name decoded)
        // exactly as a one-message APPEND's are.
        let mut name = None;
        let mut options = Vec::with_capacity(raw.messages.len());
        for message in &raw.messages {
            let mut command = format!("{tag} APPEND ").into_bytes();
            command.extend_from_slice(raw.mailbox);
            command.extend_from_slice(message.options);
            command.extend_from_slice(b" {1}\r\nx\r\n");
            let body = match CommandCodec::default().decode(&command) {
                Ok((b"", command)) => command.body.into_static(),
                _ => return Status::Bad("Invalid APPEND arguments".into()),
            };
            match self.decode_names(body) {
                Ok(CommandBody::Append {
                    mailbox,
                    flags,
                    date,
                    ..
                }) => {
                    name.get_or_insert_with(|| super::wire::mailbox_name(&mailbox));
                    options.push((flags, date));
                }
                Ok(_) => return Status::Bad("Invalid APPEND arguments".into()),
                Err(status) => return status,
            }
        }
        let Some(name) = name else {
            return Status::Bad("Invalid APPEND arguments".into());
        };
        let store = self.shared.store();
        let target = match self.insert_target(&name, "APPEND").await {
            Ok(target) => target,
            Err(status) => return status,
        };
        let mailbox = &target.mailbox;
        // Every message built and checked before any is stored.
        let limit = self.shared.settings().max_literal_size as usize;
        let mut ready = Vec::with_capacity(raw.messages.len());
        for (message, (flags, date)) in raw.messages.iter().zip(options) {
            let body: Cow<'_, [u8]> = match &message.data {
                Data::Literal(data) => Cow::Borrowed(data),
                Data::Catenate(parts) => match self.catenate(parts, limit).await {
                    Ok(body) => Cow::Owned(body),
                    Err(status) => return status,
                },
            };
            if body.is_empty() {
                return Status::No("Empty message".into());
            }
            // The gate already holds a literal to this; a built message is held here.
            if body.len() > limit {
                return Status::No("[TOOBIG] Message too large".into());
            }
            let flags: Vec<String> = flags.iter().map(super::wire::flag_text).collect();
            // Only the flags the session may set there (RFC 4314 §4).
            let flags = target.access.permitted_flags(flags);
            // The store refuses these too (and stores none); refused here, before any
            // summary is computed or body file written.
            if let Some(bad) = flags.iter().find(|f| {
                f.starts_with('\\') && !SYSTEM_FLAGS.iter().any(|s| s.eq_ignore_ascii_case(f))
            }) {
                return super::flags::refused(&format!("unknown system flag {bad:?}"));
            }
            ready.push(Ready {
                body,
                flags,
                received_at: super::append::received_at(date),
            });
        }
        // RFC 9208 §4.3.1: the quota takes them all, or none is stored. The store checks
        // it again in the same step that stores them; this spares a doomed command the
        // work below. The mailbox's owner's quota: another account's may be shared.
        let account = target.access.owner;
        match store.quota_get(account).await {
            Ok(quota) if !quota.is_unlimited() => {
                let octets = ready.iter().map(|r| r.body.len() as u64).sum::<u64>();
                match store.quota_usage(account).await {
                    Ok(usage) if quota.admits(&usage, octets, ready.len() as u64) => {}
                    Ok(_) => return super::append::over_quota(),
                    Err(e) => return store_failed("APPEND", &e),
                }
            }
            Ok(_) => {}
            Err(e) => return store_failed("APPEND", &e),
        }
        let mut summaries = Vec::with_capacity(ready.len());
        for message in &ready {
            summaries.push(cpu::maybe_heavy(
                message.body.len() > cpu::HEAVY_BYTES,
                || crate::summary::Summary::compute(&message.body).encode(),
            ));
            // Up to MAX_MESSAGES of them: other tasks run in between.
            cpu::breathe().await;
        }
        let messages: Vec<NewMessage<'_>> = ready
            .iter()
            .zip(&summaries)
            .map(|(message, summary)| NewMessage {
                body: &message.body,
                flags: &message.flags,
                received_at: message.received_at,
                summary: Some(summary),
            })
            .collect();
        // RFC 3502 §6.3.11: one atomic step, all or none.
        let uids = match store.message_append_many(mailbox.id, &messages).await {
            Ok(uids) => uids,
            Err(e) => return super::append::append_failed(&e),
        };
        self.publish_change();
        self.publish_change_of(target.access.owner);
        Status::Ok(format!(
            "[APPENDUID {} {}] APPEND completed",
            mailbox.uid_validity,
            uid_set(&uids)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(data: &[u8]) -> Data<'_> {
        Data::Literal(data)
    }

    #[test]
    fn raw_appends_parse() {
        let cases: Vec<(&[u8], RawAppend<'_>)> = vec![
            (
                b"a APPEND INBOX (\\Seen) {3}\r\nabc {2+}\r\nde\r\n",
                RawAppend {
                    mailbox: b"INBOX",
                    messages: vec![
                        Message {
                            options: b" (\\Seen)",
                            data: literal(b"abc"),
                        },
                        Message {
                            options: b"",
                            data: literal(b"de"),
                        },
                    ],
                },
            ),
            (
                b"a APPEND \"x y\" \"01-Jan-2024 10:00:00 +0000\" ~{2}\r\na\0 () {1}\r\nz\r\n",
                RawAppend {
                    mailbox: b"\"x y\"",
                    messages: vec![
                        Message {
                            options: b" \"01-Jan-2024 10:00:00 +0000\"",
                            data: literal(b"a\0"),
                        },
                        Message {
                            options: b" ()",
                            data: literal(b"z"),
                        },
                    ],
                },
            ),
            (
                b"a APPEND {5}\r\nSent! CATENATE (TEXT {4}\r\nab\r\n URL \"/INBOX/;UID=1\" URL {5}\r\n/a;x) TEXT {0}\r\n)\r\n",
                RawAppend {
                    mailbox: b"{5}\r\nSent!",
                    messages: vec![Message {
                        options: b"",
                        data: Data::Catenate(vec![
                            Part::Text(b"ab\r\n"),
                            Part::Url(b"/INBOX/;UID=1".to_vec()),
                            Part::Url(b"/a;x)".to_vec()),
                            Part::Text(b""),
                        ]),
                    }],
                },
            ),
            (
                b"a append INBOX catenate (url /INBOX/;UID=1) (\\Flagged) {1}\r\n.\r\n",
                RawAppend {
                    mailbox: b"INBOX",
                    messages: vec![
                        Message {
                            options: b"",
                            data: Data::Catenate(vec![Part::Url(b"/INBOX/;UID=1".to_vec())]),
                        },
                        Message {
                            options: b" (\\Flagged)",
                            data: literal(b"."),
                        },
                    ],
                },
            ),
            // A one-message APPEND parses too (the session passes it on).
            (
                b"a APPEND INBOX {1}\r\nx\r\n",
                RawAppend {
                    mailbox: b"INBOX",
                    messages: vec![Message {
                        options: b"",
                        data: literal(b"x"),
                    }],
                },
            ),
        ];
        for (bytes, want) in &cases {
            assert_eq!(
                parse(bytes).as_ref(),
                Some(want),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn malformed_appends_are_not_ours() {
        for bytes in [
            b"a APPEND INBOX\r\n".as_slice(),
            b"a APPEND INBOX {3}\r\nabc x\r\n",
            b"a APPEND INBOX {3}\r\nabc {9}\r\nde\r\n",
            b"a APPEND INBOX {3}\r\nabc  {2}\r\nde\r\n",
            b"a APPEND INBOX {3}\r\nabc{2}\r\nde\r\n",
            b"a APPEND INBOX (\\Seen {3}\r\nabc\r\n",
            b"a APPEND INBOX UTF8 (~{3}\r\nabc)\r\n",
            b"a APPEND INBOX CATENATE ()\r\n",
            b"a APPEND INBOX CATENATE (TEXT \"abc\")\r\n",
            b"a APPEND INBOX CATENATE (FOO {1}\r\nx)\r\n",
            b"a APPEND INBOX CATENATE (URL /a/;UID=1\r\n",
            b"a APPEND INBOX CATENATE (URL /a/;UID=1 )\r\n",
            b"a APPEND INBOX CATENATE URL /a/;UID=1\r\n",
            b"a SEARCH INBOX {1}\r\nx {1}\r\ny\r\n",
            b"a APPEND INBOX {99999999999999999999}\r\nx\r\n",
        ] {
            assert!(
                parse(bytes).is_none(),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    /// The framing gate hands a MULTIAPPEND or CATENATE command on whole, however the
    /// client's bytes were cut, and what it hands on parses as the command did.
    #[test]
    fn commands_pass_the_gate_whole_in_any_chunks() {
        use crate::framing::{Gate, Limits, Step};
        let commands: [&[u8]; 3] = [
            b"a APPEND INBOX (\\Seen) {3}\r\nabc {2+}\r\nde\r\n",
            b"a APPEND INBOX CATENATE (TEXT {4}\r\nab\r\n URL \"/INBOX/;UID=1\" TEXT {0}\r\n)\r\n",
            b"a APPEND {3}\r\nBox {1}\r\nx CATENATE (URL {13}\r\n/INBOX/;UID=1) {2}\r\nyz\r\n",
        ];
        for command in commands {
            let want = parse(command);
            assert!(want.is_some(), "{command:?}");
            for size in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] {
                let mut gate = Gate::new(Limits::authenticated(1024, 1024));
                let mut got = Vec::new();
                for chunk in command.chunks(size) {
                    let mut input = chunk;
                    loop {
                        let (used, step) = gate.next(input);
                        input = &input[used..];
                        match step {
                            Step::NeedMore => break,
                            Step::Line(line) => got.extend_from_slice(&line),
                            Step::Literal { bytes, .. } => got.extend_from_slice(bytes),
                            Step::Refuse(r) => panic!("refused {r:?}"),
                        }
                    }
                }
                assert!(!gate.in_command(), "{command:?} in {size}");
                assert_eq!(got, command, "in chunks of {size}");
                assert_eq!(parse(&got), want, "in chunks of {size}");
            }
        }
    }

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[7]), "7");
        assert_eq!(uid_set(&[3, 4]), "3:4");
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), "4294967294:4294967295");
    }
}
