//! STORE and UID STORE (RFC 3501 §6.4.6): `FLAGS`, `+FLAGS`, `-FLAGS`, each with
//! `.SILENT`.
//!
//! Where it sits: called by [`super::Session::command`] in the selected state. The
//! store changes the flags in one atomic step; the FETCH responses with the new flags
//! (none for `.SILENT`) are written by [`super::Session::send_updates`] before the
//! tagged reply, from [`crate::selected::Selected::note_own_store`].
//!
//! `UNCHANGEDSINCE m` (CONDSTORE, RFC 7162 §3.1.3) leaves alone the messages changed
//! after `m` and names them in the tagged `OK [MODIFIED set]`. Messages another session
//! expunged, of which this one was not told yet, are skipped: the STORE is `OK`.

use super::access::Access;
use super::{Session, Status, store_failed, wire};
use crate::acl::Rights;
use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_codec::imap_types::sequence::SequenceSet;
use store_api::{FlagChange, StoreError};

impl Session<'_> {
    pub(super) async fn store_flags(
        &mut self,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[Flag<'static>],
        uid: bool,
        unchanged_since: Option<u64>,
    ) -> Status {
        let Some(open) = &self.selected else {
            return Status::Bad("No mailbox selected".into());
        };
        if open.view.read_only() {
            return Status::No("[READ-ONLY] The mailbox is read-only".into());
        }
        let targets = match open.view.resolve(&wire::sequence_set(set), uid) {
            Ok(t) => t,
            Err(e) => return Status::Bad(format!("Invalid sequence set: {e}")),
        };
        let uids: Vec<u32> = targets
            .iter()
            .map(|&(_, u)| u)
            .filter(|&u| !open.view.is_expunged(u))
            .collect();
        let mailbox = open.mailbox.id;
        let flags: Vec<String> = flags.iter().map(wire::flag_text).collect();
        let flags = match permitted(&open.access, kind, flags) {
            Ok(flags) => flags,
            Err(refused) => return refused,
        };
        let change = match kind {
            StoreType::Add => FlagChange::Add,
            StoreType::Remove => FlagChange::Remove,
            StoreType::Replace => FlagChange::Replace,
        };
        let store = self.shared.store();
        let modified = match store
            .message_flags_set(mailbox, &uids, change, &flags, unchanged_since)
            .await
        {
            Ok(result) => {
                if !result.changed.is_empty() {
                    self.publish_change();
                }
                result.modified
            }
            // A well-formed flag the store does not keep (`\Frob`): not a syntax
            // error, so NO (RFC 3501 §6.4.6, §7.1.3).
            Err(StoreError::Invalid(why)) => return refused(&why),
            Err(e) => return store_failed("STORE", &e),
        };
        // `note_own_store` wants the snapshot that holds the change.
        self.resync().await;
        if let Some(open) = &mut self.selected {
            let stored: Vec<u32> = uids
                .iter()
                .copied()
                .filter(|u| !modified.contains(u))
                .collect();
            open.view
                .note_own_store(&stored, response == StoreResponse::Silent);
        }
        if !modified.is_empty() {
            // RFC 7162 §3.1.3: UIDs for UID STORE, sequence numbers for STORE.
            let names: Vec<u32> = match &self.selected {
                Some(open) if !uid => modified
                    .iter()
                    .filter_map(|&u| open.view.seq_of(u))
                    .collect(),
                _ => modified,
            };
            let set = crate::sequence::SequenceSet::from_values(&names);
            return Status::Ok(format!("[MODIFIED {set}] Conditional STORE failed"));
        }
        // Messages another session expunged (this one not told yet) were skipped:
        // there is nothing left to change, so the STORE succeeded for all that exist
        // (RFC 2180 §4.2.1 leaves the choice; Dovecot answers OK too).
        Status::Ok("STORE completed".into())
    }
}

/// The flags of a STORE the session may change on another account's mailbox
/// (RFC 4314 §4): the others are left out silently, as long as it has one of `s`, `w`
/// and `t`; replacing every flag (`FLAGS`) needs all three.
fn permitted(access: &Access, kind: StoreType, flags: Vec<String>) -> Result<Vec<String>, Status> {
    let all = Rights::SEEN
        .with(Rights::WRITE)
        .with(Rights::DELETE_MESSAGES);
    if access.rights.contains(all) {
        return Ok(flags);
    }
    let any = [Rights::SEEN, Rights::WRITE, Rights::DELETE_MESSAGES]
        .iter()
        .any(|r| access.rights.contains(*r));
    if !any || kind == StoreType::Replace {
        access.require(all, "STORE")?;
    }
    Ok(access.permitted_flags(flags))
}

/// The tagged NO for what the store refuses as invalid (an unknown `\` flag; for
/// APPEND also a mailbox out of UIDs): `CANNOT` (RFC 5530), not a syntax error.
pub(super) fn refused(why: &str) -> Status {
    Status::No(format!("[CANNOT] {why}"))
}
