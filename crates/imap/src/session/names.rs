//! Mailbox names on the wire: modified UTF-7 (RFC 3501 §5.1.3) for sessions that have
//! not enabled UTF-8, raw UTF-8 for those that have (UTF8=ACCEPT, RFC 6855 §3;
//! IMAP4rev2, RFC 9051 §5.1). The store always holds UTF-8.
//!
//! Where it sits: on the way in, [`Session::decode_names`] (called from
//! [`super::prepare`] before dispatch) rewrites every mailbox name and LIST pattern of
//! a parsed command into UTF-8, so the command files read names with
//! [`super::wire::mailbox_name`] and never see the wire form; commands read from the
//! raw line ([`super::extended`]) use [`Session::name_in`]. On the way out every
//! response that carries a name (LIST, LSUB, STATUS, LIST-STATUS, extended LIST, the
//! IMAP4rev2 SELECT's LIST) writes it with [`Session::name_out`].
//!
//! A name that is not canonical modified UTF-7 (or, with UTF-8 on, not UTF-8) is a
//! `NO [CLIENTBUG]`, never stored mangled: the command's syntax is fine (an astring),
//! only the name cannot be, and `BAD` is for syntax (RFC 3501 §7.1.3; Dovecot answers
//! `NO` too). Every name, in either mode, must also be
//! Net-Unicode as RFC 9051 §5.1 and RFC 6855 §3 ask (RFC 5198 §2: NFC, no control
//! characters U+0000–U+001F and U+007F–U+009F, no U+2028/U+2029): else `NO [CANNOT]`.

use super::wire::{quoted, string};
use super::{Session, Status};
use crate::mutf7;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox};
use unicode_normalization::{IsNormalized, is_nfc_quick};

impl Session<'_> {
    /// Whether names travel as UTF-8 on this connection.
    pub fn utf8_names(&self) -> bool {
        self.enabled.utf8 || self.enabled.rev2
    }

    /// A name (or LIST pattern) as the client sent it, in UTF-8.
    pub fn name_in(&self, wire: &[u8]) -> Result<String, Status> {
        name_from_wire(wire, self.utf8_names())
    }

    /// A stored name as an IMAP string for this connection.
    pub fn name_out(&self, name: &str) -> String {
        name_to_wire(name, self.utf8_names())
    }

    /// `body` with every mailbox name and LIST pattern in UTF-8.
    pub(super) fn decode_names(
        &self,
        body: CommandBody<'static>,
    ) -> Result<CommandBody<'static>, Status> {
        use CommandBody as C;
        let utf8 = self.utf8_names();
        let m = |mailbox: Mailbox<'static>| decode_mailbox(mailbox, utf8);
        let p = |pattern: ListMailbox<'static>| decode_pattern(pattern, utf8);
        Ok(match body {
            C::Select {
                mailbox,
                parameters,
            } => C::Select {
                mailbox: m(mailbox)?,
                parameters,
            },
            C::Examine {
                mailbox,
                parameters,
            } => C::Examine {
                mailbox: m(mailbox)?,
                parameters,
            },
            C::Create { mailbox } => C::Create {
                mailbox: m(mailbox)?,
            },
            C::Delete { mailbox } => C::Delete {
                mailbox: m(mailbox)?,
            },
            C::Rename { from, to } => C::Rename {
                from: m(from)?,
                to: m(to)?,
            },
            C::Subscribe { mailbox } => C::Subscribe {
                mailbox: m(mailbox)?,
            },
            C::Unsubscribe { mailbox } => C::Unsubscribe {
                mailbox: m(mailbox)?,
            },
            C::List {
                reference,
                mailbox_wildcard,
            } => C::List {
                reference: m(reference)?,
                mailbox_wildcard: p(mailbox_wildcard)?,
            },
            C::Lsub {
                reference,
                mailbox_wildcard,
            } => C::Lsub {
                reference: m(reference)?,
                mailbox_wildcard: p(mailbox_wildcard)?,
            },
            C::Status {
                mailbox,
                item_names,
            } => C::Status {
                mailbox: m(mailbox)?,
                item_names,
            },
            C::Append {
                mailbox,
                flags,
                date,
                message,
            } => C::Append {
                mailbox: m(mailbox)?,
                flags,
                date,
                message,
            },
            C::Copy {
                sequence_set,
                mailbox,
                uid,
            } => C::Copy {
                sequence_set,
                mailbox: m(mailbox)?,
                uid,
            },
            C::Move {
                sequence_set,
                mailbox,
                uid,
            } => C::Move {
                sequence_set,
                mailbox: m(mailbox)?,
                uid,
            },
            C::GetQuotaRoot { mailbox } => C::GetQuotaRoot {
                mailbox: m(mailbox)?,
            },
            other => other,
        })
    }
}

/// A name from the client in UTF-8: decoded from modified UTF-7 unless `utf8`.
pub fn name_from_wire(wire: &[u8], utf8: bool) -> Result<String, Status> {
    let name = if utf8 {
        String::from_utf8(wire.to_vec())
            .map_err(|_| Status::No("[CLIENTBUG] Mailbox name is not valid UTF-8".into()))?
    } else {
        // RFC 3501 §5.1.3, §7.1.2: a name the encoding cannot mean is a NO.
        mutf7::decode(wire).map_err(|e| {
            Status::No(format!(
                "[CLIENTBUG] Mailbox name is not valid modified UTF-7 ({e}; RFC 3501 \
                 section 5.1.3); ENABLE UTF8=ACCEPT to use UTF-8"
            ))
        })?
    };
    check_net_unicode(&name)?;
    Ok(name)
}

/// A stored name as an IMAP string: quoted UTF-8 when `utf8` (RFC 6855 §3 allows
/// UTF-8 in quoted strings once enabled), else modified UTF-7 (always ASCII).
pub fn name_to_wire(name: &str, utf8: bool) -> String {
    if utf8 {
        quoted_utf8(name)
    } else {
        string(&mutf7::encode(name))
    }
}

/// A quoted string that may hold UTF-8; a literal only for CR or LF (which no stored
/// name has).
fn quoted_utf8(text: &str) -> String {
    if text.contains(['\r', '\n', '\0']) {
        return string(text);
    }
    quoted(text)
}

/// RFC 5198 §2 as RFC 9051 §5.1 and RFC 6855 §3 apply it to mailbox names.
fn check_net_unicode(name: &str) -> Result<(), Status> {
    let bad_char = name.chars().any(|c| {
        c.is_control() // U+0000–U+001F, U+007F–U+009F
            || c == '\u{2028}'
            || c == '\u{2029}'
    });
    let nfc = match is_nfc_quick(name.chars()) {
        IsNormalized::Yes => true,
        IsNormalized::No => false,
        IsNormalized::Maybe => unicode_normalization::is_nfc(name),
    };
    if bad_char || !nfc {
        return Err(Status::No(
            "[CANNOT] Mailbox names must be NFC Unicode without control characters \
             (RFC 9051 section 5.1)"
                .into(),
        ));
    }
    Ok(())
}

fn decode_mailbox(mailbox: Mailbox<'static>, utf8: bool) -> Result<Mailbox<'static>, Status> {
    let Mailbox::Other(other) = mailbox else {
        return Ok(Mailbox::Inbox);
    };
    let name = name_from_wire(other.inner().as_ref(), utf8)?;
    Mailbox::try_from(name).map_err(|_| Status::No("[CANNOT] Invalid mailbox name".into()))
}

fn decode_pattern(
    pattern: ListMailbox<'static>,
    utf8: bool,
) -> Result<ListMailbox<'static>, Status> {
    let wire: &[u8] = match &pattern {
        ListMailbox::Token(t) => t.as_ref(),
        ListMailbox::String(s) => s.as_ref(),
    };
    let text = name_from_wire(wire, utf8)?;
    ListMailbox::try_from(text).map_err(|_| Status::No("[CANNOT] Invalid mailbox pattern".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(status: Status) -> String {
        match status {
            Status::Ok(t) => format!("OK {t}"),
            Status::No(t) => format!("NO {t}"),
            Status::Bad(t) => format!("BAD {t}"),
        }
    }

    #[test]
    fn names_in_by_mode() {
        assert_eq!(
            name_from_wire(b"&AOk-t&AOk-", false).ok().as_deref(),
            Some("\u{e9}t\u{e9}")
        );
        // With UTF-8 on, the same bytes are a literal name.
        assert_eq!(
            name_from_wire(b"&AOk-t&AOk-", true).ok().as_deref(),
            Some("&AOk-t&AOk-")
        );
        assert_eq!(
            name_from_wire("\u{e9}t\u{e9}".as_bytes(), true)
                .ok()
                .as_deref(),
            Some("\u{e9}t\u{e9}")
        );
        // Raw UTF-8 without ENABLE, a non-canonical form, invalid UTF-8: NO.
        for (wire, utf8) in [
            ("\u{e9}t\u{e9}".as_bytes(), false),
            (b"&AGE-".as_slice(), false),
            (b"\xff".as_slice(), true),
        ] {
            let err = name_from_wire(wire, utf8).map(|_| ()).map_err(text);
            assert!(
                err.as_ref().is_err_and(|t| t.starts_with("NO [CLIENTBUG]")),
                "{wire:?}: {err:?}"
            );
        }
    }

    #[test]
    fn net_unicode_is_required() {
        // "e" + combining acute: not NFC.
        let err = name_from_wire("e\u{301}".as_bytes(), true).map_err(text);
        assert!(err.is_err_and(|t| t.starts_with("NO [CANNOT]")));
        // A control character, even when correctly encoded in mUTF-7.
        let err = name_from_wire(b"a&AAk-b", false).map_err(text);
        assert!(err.is_err_and(|t| t.starts_with("NO [CANNOT]")));
        assert!(name_from_wire("caf\u{e9}".as_bytes(), true).is_ok());
    }

    #[test]
    fn names_out_by_mode() {
        assert_eq!(name_to_wire("\u{e9}t\u{e9}", false), "\"&AOk-t&AOk-\"");
        assert_eq!(name_to_wire("a&b", false), "\"a&-b\"");
        assert_eq!(name_to_wire("\u{e9}t\u{e9}", true), "\"\u{e9}t\u{e9}\"");
        assert_eq!(name_to_wire("a\"b", true), "\"a\\\"b\"");
        assert_eq!(name_to_wire("INBOX", false), "\"INBOX\"");
    }
}
