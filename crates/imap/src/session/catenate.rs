//! CATENATE (RFC 4469): an APPEND whose message is built on the server from TEXT
//! literals and IMAP URLs of messages (or their sections) the user already has.
//!
//! Where it sits: imap-codec does not parse `APPEND mbox CATENATE (...)`, so the
//! driver hands the raw command to [`super::extended`], which gives it to
//! [`super::multiappend`]; that parser yields the [`Part`]s of each message and
//! [`Session::catenate`] here puts them together before anything is stored. The
//! framing gate has already bounded the command (lines and literals together) by
//! `imap.max_literal_size` plus one line, before any of it was buffered.
//!
//! URLs: only the relative form of RFC 5092 §5 that names a message on this server,
//! in one of the user's own mailboxes:
//! `/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]` (the mailbox and
//! section percent-encoded, the mailbox in UTF-8). Anything else — an absolute
//! `imap://` URL, URLAUTH, another user's mailbox, a UIDVALIDITY that is not the
//! mailbox's, a UID or section that does not exist — is `NO [BADURL url]` (RFC 4469
//! §5), and nothing is stored. A section is what `FETCH BODY[section]` returns
//! (imap-codec parses it, `crate::fetch::section` cuts it); one that gives no octets is
//! taken as missing.
//!
//! Limits: the message built is held to `imap.max_literal_size` like any APPEND: past
//! it, `NO [TOOBIG]` (RFC 4469 §5) before the next piece is added. A command may
//! carry at most [`MAX_URLS`] URLs, since each one reads a whole stored message.

use super::cpu;
use super::{Session, Status};
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Section};

/// The most URL parts one APPEND command may carry (over all its messages).
pub(super) const MAX_URLS: usize = 100;

/// One piece of a CATENATE message (RFC 4469 §5 `cat-part`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part<'b> {
    /// `TEXT literal`: the octets as sent.
    Text(&'b [u8]),
    /// `URL astring`: the URL's text.
    Url(Vec<u8>),
}

/// A parsed relative IMAP URL (RFC 5092) to one message or section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Url {
    /// The mailbox name in UTF-8 (`INBOX` in any case is `INBOX`).
    pub mailbox: String,
    pub uid_validity: Option<u32>,
    pub uid: u32,
    /// The section's text as FETCH takes it (`1.2`, `HEADER`, `1.MIME`, ...).
    pub section: Option<String>,
    /// `;PARTIAL=origin[.length]`.
    pub partial: Option<(u32, Option<u32>)>,
}

impl Url {
    /// Parses `/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]`;
    /// `None` for anything else. The `/` before `;SECTION` and `;PARTIAL` may be
    /// left out (the RFC 2192 form RFC 4469's own example uses).
    pub fn parse(url: &[u8]) -> Option<Url> {
        let path = url.strip_prefix(b"/")?;
        let mut fields = path.split(|&b| b == b';');
        let mailbox = fields.next()?;
        let mailbox = mailbox.strip_suffix(b"/").unwrap_or(mailbox);
        let mailbox = String::from_utf8(percent_decode(mailbox)?).ok()?;
        if mailbox.is_empty() {
            return None;
        }
        let mailbox = if mailbox.eq_ignore_ascii_case("INBOX") {
            "INBOX".to_owned()
        } else {
            mailbox
        };
        let mut parsed = Url {
            mailbox,
            uid_validity: None,
            uid: 0,
            section: None,
            partial: None,
        };
        // Each field in order; each at most once.
        let mut order = 0;
        for field in fields {
            let field = field.strip_suffix(b"/").unwrap_or(field);
            let eq = field.iter().position(|&b| b == b'=')?;
            let (name, value) = (&field[..eq], &field[eq + 1..]);
            let name = std::str::from_utf8(name).ok()?.to_ascii_uppercase();
            let rank = match name.as_str() {
                "UIDVALIDITY" => 1,
                "UID" => 2,
                "SECTION" => 3,
                "PARTIAL" => 4,
                _ => return None, // URLAUTH, EXPIRE and the like: not ours.
            };
            if rank <= order {
                return None;
            }
            order = rank;
            match rank {
                1 => parsed.uid_validity = Some(nz_number(value)?),
                2 => parsed.uid = nz_number(value)?,
                3 => {
                    let section = String::from_utf8(percent_decode(value)?).ok()?;
                    // Printable ASCII without `]`: it goes inside BODY[...].
                    if section.is_empty()
                        || !section.bytes().all(|b| (b' '..=b'~').contains(&b))
                        || section.contains(']')
                    {
                        return None;
                    }
                    parsed.section = Some(section);
                }
                _ => {
                    let text = std::str::from_utf8(value).ok()?;
                    parsed.partial = Some(match text.split_once('.') {
                        Some((origin, length)) => {
                            (number(origin)?, Some(nz_number(length.as_bytes())?))
                        }
                        None => (number(text)?, None),
                    });
                }
            }
        }
        (parsed.uid != 0).then_some(parsed)
    }
}

fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn nz_number(text: &[u8]) -> Option<u32> {
    number(std::str::from_utf8(text).ok()?).filter(|&n| n != 0)
}

/// `%XX` escapes undone (RFC 3986 §2.1); `None` for a broken escape.
fn percent_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' {
            let hex = std::str::from_utf8(text.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A FETCH section's text parsed as imap-codec parses `BODY[section]`.
fn section(text: &str) -> Option<Section<'static>> {
    let command = format!("x FETCH 1 BODY.PEEK[{text}]\r\n");
    let (rest, command) = CommandCodec::default().decode(command.as_bytes()).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let CommandBody::Fetch {
        macro_or_item_names: MacroOrMessageDataItemNames::MessageDataItemNames(items),
        ..
    } = command.body
    else {
        return None;
    };
    match items.as_slice() {
        [
            MessageDataItemName::BodyExt {
                section: Some(section),
                partial: None,
                ..
            },
        ] => Some(section.clone().into_static()),
        _ => None,
    }
}

/// The `NO [BADURL url]` for `url` (RFC 4469 §5); the URL is written back with
/// anything that cannot stand in a response code (`]`, controls, spaces, 8-bit)
/// percent-encoded.
pub(super) fn bad_url(url: &[u8]) -> Status {
    let mut shown = String::with_capacity(url.len());
    for &b in url {
        if (b'!'..=b'~').contains(&b) && b != b']' {
            shown.push(char::from(b));
        } else {
            shown.push_str(&format!("%{b:02X}"));
        }
    }
    Status::No(format!("[BADURL {shown}] CATENATE URL does not resolve"))
}

impl Session<'_> {
    /// The message the `parts` make, at most `limit` octets: `NO [BADURL]` for a URL
    /// that does not resolve, `NO [TOOBIG]` past the limit (see the module docs).
    pub(super) async fn catenate(
        &self,
        parts: &[Part<'_>],
        limit: usize,
    ) -> Result<Vec<u8>, Status> {
        let too_big = || Status::No("[TOOBIG] CATENATE message too large".into());
        let mut out = Vec::new();
        for part in parts {
            match part {
                Part::Text(text) => {
                    if out.len().saturating_add(text.len()) > limit {
                        return Err(too_big());
                    }
                    out.extend_from_slice(text);
                }
                Part::Url(url) => {
                    let Some(data) = self.resolve(url).await else {
                        return Err(bad_url(url));
                    };
                    if out.len().saturating_add(data.len()) > limit {
                        return Err(too_big());
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
        Ok(out)
    }

    /// The octets a URL names, if it names some in this user's mailboxes.
    async fn resolve(&self, url: &[u8]) -> Option<Vec<u8>> {
        let url = Url::parse(url)?;
        let section = match &url.section {
            Some(text) => Some(section(text)?),
            None => None,
        };
        let store = self.shared.store();
        // Any mailbox this session may read, its own or one shared with it (`r`).
        let target = self.resolve_mailbox(&url.mailbox).await.ok()??;
        if !target.access.rights.contains(crate::acl::Rights::READ) {
            return None;
        }
        let mailbox = target.mailbox;
        if url.uid_validity.is_some_and(|v| v != mailbox.uid_validity) {
            return None;
        }
        let raw = store.message_read(mailbox.id, url.uid).await.ok()?;
        let data = match &section {
            None => raw,
            Some(section) => cpu::maybe_heavy(raw.len() > cpu::HEAVY_BYTES, || {
                let parsed = crate::fetch::Parsed::new(&raw);
                crate::fetch::section(&parsed, &raw, Some(section), None)
            }),
        };
        if data.is_empty() {
            return None;
        }
        // RFC 5092 §5: PARTIAL counts from the start of what the rest names.
        Some(match url.partial {
            None => data,
            Some((origin, length)) => {
                let start = (origin as usize).min(data.len());
                let end = match length {
                    Some(l) => start.saturating_add(l as usize).min(data.len()),
                    None => data.len(),
                };
                data[start..end].to_vec()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Option<Url> {
        Url::parse(text.as_bytes())
    }

    #[test]
    fn relative_urls_parse() {
        let u = url("/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9").expect("url");
        assert_eq!(
            u,
            Url {
                mailbox: "INBOX".into(),
                uid_validity: Some(785799047),
                uid: 113330,
                section: Some("1.5.9".into()),
                partial: None,
            }
        );
        let u = url("/inbox/;UID=3").expect("url");
        assert_eq!(
            (u.mailbox.as_str(), u.uid, u.uid_validity),
            ("INBOX", 3, None)
        );
        // RFC 2192's form, as in RFC 4469's example: no `/` before ;SECTION.
        let u = url("/INBOX;UIDVALIDITY=1/;UID=2;section=HEADER").expect("url");
        assert_eq!(u.section.as_deref(), Some("HEADER"));
        let u = url("/Work%2FPl%C3%A4ne;UIDVALIDITY=9/;UID=7/;SECTION=HEADER.FIELDS%20(SUBJECT)/;PARTIAL=0.10")
            .expect("url");
        assert_eq!(u.mailbox, "Work/Pläne");
        assert_eq!(u.section.as_deref(), Some("HEADER.FIELDS (SUBJECT)"));
        assert_eq!(u.partial, Some((0, Some(10))));
        assert_eq!(
            url("/a/b/;UID=1/;PARTIAL=5").expect("url").partial,
            Some((5, None))
        );
        assert_eq!(url("/a/b/;UID=1").expect("url").mailbox, "a/b");
    }

    #[test]
    fn other_urls_are_refused() {
        for bad in [
            "",
            "INBOX;UID=1",
            "imap://alice@example.org/INBOX;UID=1",
            "/INBOX",
            "/INBOX;UIDVALIDITY=5",
            "/;UID=1",
            "/INBOX/;UID=0",
            "/INBOX/;UID=x",
            "/INBOX/;UID=1/;SECTION=",
            "/INBOX/;UID=1/;SECTION=1]",
            "/INBOX/;UID=1/;PARTIAL=1.0",
            "/INBOX/;UID=1/;PARTIAL=a",
            "/INBOX/;UID=1/;URLAUTH=anonymous",
            "/INBOX/;UID=1/;UID=2",
            "/INBOX/;SECTION=1/;UID=2",
            "/IN%ZZBOX/;UID=1",
            "/IN%FFBOX/;UID=1",
            "/INBOX/;UID=99999999999",
        ] {
            assert!(url(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn sections_parse_as_fetch_does() {
        for good in [
            "1",
            "1.2.MIME",
            "HEADER",
            "TEXT",
            "HEADER.FIELDS (Subject From)",
            "2.TEXT",
        ] {
            assert!(section(good).is_some(), "{good:?}");
        }
        for bad in ["FOO", "1..2", "HEADER.FIELDS", "1]x", "0"] {
            assert!(section(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn bad_urls_are_echoed_safely() {
        let Status::No(text) = bad_url(b"/a b]\r\n/;UID=1") else {
            panic!("not a NO");
        };
        assert_eq!(
            text,
            "[BADURL /a%20b%5D%0D%0A/;UID=1] CATENATE URL does not resolve"
        );
    }
}
