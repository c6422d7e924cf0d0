//! What a parsed command goes through before dispatch, given what the session has
//! enabled: the one hook between [`Session::command`] and the command files.
//!
//! In order, for an authenticated session:
//! 1. mailbox names and LIST patterns are decoded to UTF-8 ([`super::names`]);
//! 2. after ENABLE UTF8=ACCEPT, SEARCH with a CHARSET is a `BAD`, and so are SORT and
//!    THREAD with a charset other than UTF-8 (RFC 6855 §3 with its erratum 4029);
//! 3. SELECT, EXAMINE, CLOSE and UNSELECT forget the saved search result (RFC 5182
//!    §2.1, see [`super::searchres`]);
//! 4. after ENABLE IMAP4rev2, SEARCH is answered with ESEARCH ([`super::esearch`]) and
//!    SELECT/EXAMINE with IMAP4rev2's responses ([`super::rev2`]).
//!
//! Anything else runs unchanged.

use super::esearch::utf8_charset_refused;
use super::{Session, Status, wire};
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::core::Charset;

/// What to do with a command after [`Session::prepare`].
pub enum Prepared {
    /// Dispatch it (its names now in UTF-8).
    Run(CommandBody<'static>),
    /// Already answered: finish with this status.
    Done(Status),
}

impl Session<'_> {
    /// Readies `body` for dispatch, or answers it (see the module docs).
    pub async fn prepare(&mut self, tag: &str, body: CommandBody<'static>) -> Prepared {
        use CommandBody as C;
        if self.account.is_none() {
            // Only the not-authenticated commands work; dispatch says so.
            return Prepared::Run(body);
        }
        let body = match self.decode_names(body) {
            Ok(body) => body,
            Err(status) => return Prepared::Done(status),
        };
        if self.enabled.utf8
            && let Some(status) = charset_refused(&body)
        {
            return Prepared::Done(status);
        }
        if matches!(
            body,
            C::Select { .. } | C::Examine { .. } | C::Close | C::Unselect
        ) {
            self.saved_search.clear();
        }
        if !self.enabled.rev2 {
            return Prepared::Run(body);
        }
        Prepared::Done(match body {
            C::Search {
                charset,
                criteria,
                uid,
            } => self.search_rev2(tag, charset, criteria.as_ref(), uid).await,
            C::Select {
                mailbox,
                parameters,
            } => {
                self.select_rev2(&wire::mailbox_name(&mailbox), false, &parameters)
                    .await
            }
            C::Examine {
                mailbox,
                parameters,
            } => {
                self.select_rev2(&wire::mailbox_name(&mailbox), true, &parameters)
                    .await
            }
            body => return Prepared::Run(body),
        })
    }
}

/// RFC 6855 §3 (and erratum 4029) once UTF8=ACCEPT is enabled: no CHARSET on SEARCH,
/// only UTF-8 on SORT and THREAD.
fn charset_refused(body: &CommandBody<'_>) -> Option<Status> {
    let utf8 = |c: &Charset<'_>| {
        let name = match c {
            Charset::Atom(a) => a.inner(),
            Charset::Quoted(q) => q.inner(),
        };
        name.eq_ignore_ascii_case("UTF-8")
    };
    match body {
        CommandBody::Search {
            charset: Some(_), ..
        } => Some(utf8_charset_refused()),
        CommandBody::Sort { charset, .. } | CommandBody::Thread { charset, .. }
            if !utf8(charset) =>
        {
            Some(Status::Bad(
                "[BADCHARSET (UTF-8)] Only UTF-8 after ENABLE UTF8=ACCEPT (RFC 6855 section 3)"
                    .into(),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::CommandCodec;
    use imap_codec::decode::Decoder;

    fn body(line: &str) -> CommandBody<'static> {
        use imap_codec::imap_types::IntoStatic;
        let (_, command) = CommandCodec::default()
            .decode(line.as_bytes())
            .unwrap_or_else(|e| panic!("{line}: {e:?}"));
        command.body.into_static()
    }

    #[test]
    fn charsets_after_utf8_accept() {
        assert!(charset_refused(&body("a SEARCH CHARSET UTF-8 ALL\r\n")).is_some());
        assert!(charset_refused(&body("a SEARCH ALL\r\n")).is_none());
        assert!(charset_refused(&body("a SORT (DATE) UTF-8 ALL\r\n")).is_none());
        assert!(charset_refused(&body("a SORT (DATE) US-ASCII ALL\r\n")).is_some());
    }
}
