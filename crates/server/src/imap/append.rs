//! APPEND (RFC 3501 §6.3.11) with UIDPLUS's `APPENDUID` (RFC 4315 §3).
//!
//! Where it sits: called by [`super::Session::command`] in the authenticated and
//! selected states. imap-next has already read the literal (its size bounded by
//! `imap.max_literal_size`, RFC 7889 APPENDLIMIT); the store writes it durably before
//! the tagged OK. Appending to the selected mailbox shows up as EXISTS from
//! [`super::Session::send_updates`]. A message the account's quota cannot take is
//! refused by the store with nothing written: `NO [OVERQUOTA]` (RFC 9208 §4.3.1).

use super::{Session, Status, store_failed, wire};
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_codec::imap_types::flag::Flag;
use store::StoreError;

impl Session<'_> {
    pub(super) async fn append(
        &mut self,
        name: &str,
        flags: &[Flag<'static>],
        date: Option<DateTime>,
        message: LiteralOrLiteral8<'static>,
    ) -> Status {
        let store = self.shared.store.clone();
        let mailbox = match store.mailbox_get(self.account_id(), name).await {
            Ok(Some(m)) => m,
            Ok(None) => return Status::No("[TRYCREATE] No such mailbox".into()),
            Err(e) => return store_failed("APPEND", &e),
        };
        let body: &[u8] = match &message {
            LiteralOrLiteral8::Literal(l) => l.data(),
            LiteralOrLiteral8::Literal8(l) => &l.data,
        };
        if body.is_empty() {
            return Status::No("Empty message".into());
        }
        let received_at = date.map_or_else(
            || {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
            },
            |d| d.as_ref().timestamp(),
        );
        let flags: Vec<String> = flags.iter().map(wire::flag_text).collect();
        // Parsed once, here: FETCH ENVELOPE/BODYSTRUCTURE, SEARCH and SORT read the
        // summary the store keeps beside the message (`imap::summary`).
        let summary = imap::summary::Summary::compute(body).encode();
        match store
            .message_append_with(mailbox.id, body, &flags, received_at, Some(&summary))
            .await
        {
            Ok(uid) => {
                self.publish_change();
                Status::Ok(format!(
                    "[APPENDUID {} {uid}] APPEND completed",
                    mailbox.uid_validity
                ))
            }
            Err(StoreError::Invalid(why)) => Status::Bad(format!("Invalid flag: {why}")),
            // RFC 9208 §4.3.1.
            Err(StoreError::OverQuota(_)) => {
                Status::No("[OVERQUOTA] APPEND would exceed the mailbox quota".into())
            }
            Err(e) => store_failed("APPEND", &e),
        }
    }
}
