//! COPY, MOVE and EXPUNGE with their UID forms (RFC 3501 §6.4.3, §6.4.7; MOVE RFC 6851;
//! UIDPLUS RFC 4315: `COPYUID`, UID EXPUNGE).
//!
//! Where it sits: called by [`super::Session::command`] in the selected state. The store
//! copies or moves in one atomic step and returns the (source, new) UID pairs that the
//! `COPYUID` code reports. The EXPUNGE responses of MOVE and EXPUNGE are written by
//! [`super::Session::send_updates`] before the tagged reply (RFC 6851 §3.3: the
//! `COPYUID` goes in an untagged OK before them).
//!
//! A COPY the account's quota cannot take is refused by the store in the same atomic
//! step, nothing copied: `NO [OVERQUOTA]` (RFC 9208 §4.3.1). A MOVE stays inside the
//! account, adds nothing to its usage, and is never refused for quota.

use super::{Session, Status, store_failed, wire};
use crate::acl::Rights;
use crate::sequence::SequenceSet as Set;
use imap_codec::imap_types::sequence::SequenceSet;
use store_api::StoreError;

impl Session<'_> {
    pub(super) async fn copy(
        &mut self,
        set: &SequenceSet,
        target: &str,
        uid: bool,
        moving: bool,
    ) -> Status {
        let verb = if moving { "MOVE" } else { "COPY" };
        let Some(open) = &self.selected else {
            return Status::Bad("No mailbox selected".into());
        };
        if moving && open.view.read_only() {
            return Status::No("[READ-ONLY] The mailbox is read-only".into());
        }
        // RFC 4314 §4 (and RFC 6851 §3.3: MOVE is COPY, STORE \Deleted, EXPUNGE).
        if moving
            && let Err(refused) = open
                .access
                .require(Rights::DELETE_MESSAGES.with(Rights::EXPUNGE), verb)
        {
            return refused;
        }
        let targets = match open.view.resolve(&wire::sequence_set(set), uid) {
            Ok(t) => t,
            Err(e) => return Status::Bad(format!("Invalid sequence set: {e}")),
        };
        if targets.iter().any(|&(_, u)| open.view.is_expunged(u)) {
            // RFC 2180 §4.4.1: refuse rather than copy part of the set.
            return Status::No("[EXPUNGEISSUED] Some messages were expunged".into());
        }
        let uids: Vec<u32> = targets.iter().map(|&(_, u)| u).collect();
        let from = open.mailbox.id;
        let store = self.shared.store();
        let (dest, dest_owner) = match self.insert_target(target, verb).await {
            Ok(target) => (target.mailbox, target.access.owner),
            Err(status) => return status,
        };
        let result = if moving {
            store.message_move(from, &uids, dest.id).await
        } else {
            store.message_copy(from, &uids, dest.id).await
        };
        let pairs = match result {
            Ok(p) => p,
            // RFC 9208 §4.3.1.
            Err(StoreError::OverQuota(_)) => {
                return Status::No(format!("[OVERQUOTA] {verb} would exceed the mailbox quota"));
            }
            Err(e) => return store_failed(verb, &e),
        };
        if !pairs.is_empty() {
            self.publish_change();
            self.publish_change_of(dest_owner);
        }
        let code = if pairs.is_empty() {
            String::new()
        } else {
            let src: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            let dst: Vec<u32> = pairs.iter().map(|p| p.1).collect();
            format!(
                "[COPYUID {} {} {}] ",
                dest.uid_validity,
                Set::from_values(&src),
                Set::from_values(&dst)
            )
        };
        if moving {
            if !code.is_empty() {
                self.untagged(&format!("OK {code}Moved"));
            }
            return Status::Ok("MOVE completed".into());
        }
        Status::Ok(format!("{code}COPY completed"))
    }

    /// EXPUNGE, or UID EXPUNGE with `set` (only those of the UIDs flagged `\Deleted`).
    pub(super) async fn expunge(&mut self, set: Option<&SequenceSet>) -> Status {
        let Some(open) = &self.selected else {
            return Status::Bad("No mailbox selected".into());
        };
        if open.view.read_only() {
            return Status::No("[READ-ONLY] The mailbox is read-only".into());
        }
        // RFC 4314 §4.
        if let Err(refused) = open.access.require(Rights::EXPUNGE, "EXPUNGE") {
            return refused;
        }
        let uids: Option<Vec<u32>> = match set {
            None => None,
            Some(set) => match open.view.resolve(&wire::sequence_set(set), true) {
                Ok(t) => Some(t.into_iter().map(|(_, u)| u).collect()),
                Err(e) => return Status::Bad(format!("Invalid UID set: {e}")),
            },
        };
        let mailbox = open.mailbox.id;
        let store = self.shared.store();
        match store.message_expunge(mailbox, uids.as_deref()).await {
            Ok(gone) => {
                if !gone.is_empty() {
                    self.publish_change();
                }
                Status::Ok("EXPUNGE completed".into())
            }
            Err(e) => store_failed("EXPUNGE", &e),
        }
    }
}
