//! SELECT and EXAMINE once IMAP4rev2 is enabled (RFC 9051 §6.3.2–6.3.3).
//!
//! Where it sits: [`super::prepare`] sends an IMAP4rev2 session's SELECT/EXAMINE here
//! instead of to the shared code in `qresync.rs`/`select.rs`, which writes the
//! IMAP4rev1 responses. This runs that same code, then takes out of the command's own
//! output what IMAP4rev2 no longer has, the `* n RECENT` response and the
//! `OK [UNSEEN n]` code (neither is in RFC 9051's grammar: \Recent is gone), and adds
//! what it requires, a `* LIST` of the mailbox with accurate attributes. The rest of
//! the responses (FLAGS, EXISTS, PERMANENTFLAGS, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ,
//! QRESYNC's VANISHED and FETCH) are the same in both versions.
//!
//! The other IMAP4rev2 changes live with their features: names in UTF-8
//! ([`super::names`]), SEARCH answered with ESEARCH ([`super::esearch`]), `$`
//! ([`super::searchres`]).

use super::{Session, Status};
use imap_codec::imap_types::command::SelectParameter;

impl Session<'_> {
    /// SELECT (`read_only` false) or EXAMINE of `name` for an IMAP4rev2 session.
    pub(super) async fn select_rev2(
        &mut self,
        name: &str,
        read_only: bool,
        parameters: &[SelectParameter],
    ) -> Status {
        let start = self.out.len();
        let status = self.select_with(name, read_only, parameters).await;
        if !matches!(status, Status::Ok(_)) {
            return status;
        }
        drop_rev1_lines(&mut self.out, start);
        let Some(open) = &self.selected else {
            return status;
        };
        let name = open.name().to_owned();
        if let Some(line) = self.list_one(&name).await {
            self.untagged(&line);
        }
        status
    }
}

/// Removes from `out[start..]` the responses IMAP4rev2 does not have.
fn drop_rev1_lines(out: &mut Vec<u8>, start: usize) {
    let tail = out.split_off(start);
    for line in tail.split_inclusive(|&b| b == b'\n') {
        if !rev1_only(line) {
            out.extend_from_slice(line);
        }
    }
}

/// `* n RECENT` and `* OK [UNSEEN n] ...` (RFC 3501 §7.3.2, §7.1).
fn rev1_only(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"* ") else {
        return false;
    };
    if rest.starts_with(b"OK [UNSEEN ") {
        return true;
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && rest[digits..].starts_with(b" RECENT\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recent_and_unseen_go() {
        let mut out = b"* OK before\r\n".to_vec();
        let start = out.len();
        out.extend_from_slice(
            b"* FLAGS (\\Seen)\r\n* 3 EXISTS\r\n* 0 RECENT\r\n\
              * OK [UNSEEN 2] First unseen message\r\n* OK [UIDNEXT 4] Next\r\n\
              * 2 FETCH (UID 7 FLAGS (RECENT))\r\n",
        );
        drop_rev1_lines(&mut out, start);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "* OK before\r\n* FLAGS (\\Seen)\r\n* 3 EXISTS\r\n* OK [UIDNEXT 4] Next\r\n\
             * 2 FETCH (UID 7 FLAGS (RECENT))\r\n"
        );
    }
}
