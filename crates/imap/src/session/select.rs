//! SELECT, EXAMINE, UNSELECT and CLOSE (RFC 3501 §6.3.1–6.3.2, §6.4.2; RFC 3691), and
//! the untagged updates a selected session is owed (RFC 3501 §7.3–7.4).
//!
//! Where it sits: [`Session::send_updates`] runs before every tagged reply and during
//! IDLE: it brings the mailbox's shared snapshot up to date with what changed in the
//! store since ([`super::snapshots`]: a delta, not a re-read), gives it to
//! [`crate::selected::Selected`], and writes the EXPUNGE/EXISTS/FETCH responses that
//! come out (EXPUNGE only when `allow_expunge`, RFC 3501 §7.4.1).

use super::keywords::Shown;
use super::wire::flag_list;
use super::{Open, Session, Status, store_failed};
use crate::acl::Rights;
use crate::selected::snapshot::system;
use crate::selected::{Selected, Update};
use std::sync::Arc;

impl Session<'_> {
    pub(super) async fn select(&mut self, name: &str, read_only: bool) -> Status {
        // RFC 3501 §6.3.1: a SELECT, even a failing one, deselects first.
        self.keywords = Shown::default();
        // RFC 5267 §4.3: which ends the update contexts (`context.rs`).
        self.end_contexts();
        if self.selected.take().is_some() {
            // RFC 7162 §3.2.11 style: tell the client the old mailbox is closed.
            self.untagged("OK [CLOSED] Previous mailbox closed");
        }
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let store = self.shared.store();
        let (mailbox, access) = match self.resolve_mailbox(name).await {
            Ok(Some(target)) => (target.mailbox, target.access),
            Ok(None) => return Status::No("[NONEXISTENT] No such mailbox".into()),
            Err(e) => return store_failed(verb, &e),
        };
        // RFC 4314 §4: SELECT and EXAMINE need `r`; without any right to change
        // something the mailbox is read-only.
        if let Err(refused) = access.require(Rights::READ, verb) {
            return refused;
        }
        let read_only = read_only || !access.rights.may_write();
        // The mailbox's shared snapshot, brought up to date (read in full only when no
        // other session has it open).
        let state = self.shared.snapshots().open(mailbox.id);
        let (snapshot, mailbox) = match state.refresh(store.as_ref()).await {
            Ok(fresh) => fresh,
            Err(store_api::StoreError::NotFound(_)) => {
                return Status::No("[NONEXISTENT] No such mailbox".into());
            }
            Err(e) => return store_failed(verb, &e),
        };
        // The keywords FLAGS names, remembered for later announcements (`keywords.rs`).
        let shown = Shown::of(&snapshot);
        let flags = shown.flags();
        let mut view = Selected::new(mailbox.uid_validity, Arc::clone(&snapshot), read_only);
        // RFC 9051 has no \Recent: an IMAP4rev2 session neither shows nor claims it.
        if !self.enabled.rev2 {
            view.track_recent();
        }
        let mailbox_id = mailbox.id;
        self.selected = Some(Open {
            mailbox,
            view,
            state,
            access,
        });
        self.claim_recent().await;
        let Some(open) = &self.selected else {
            return Status::No("[SERVERBUG] Mailbox lost".into());
        };
        let (recent, validity, uid_next) = (
            open.view.recent_count(),
            open.mailbox.uid_validity,
            open.mailbox.uid_next,
        );
        debug_assert_eq!(open.mailbox.id, mailbox_id);
        self.keywords = shown;
        self.untagged(&format!("FLAGS {}", flag_list(&flags)));
        self.untagged(&format!("{} EXISTS", snapshot.len()));
        self.untagged(&format!("{recent} RECENT"));
        if let Some(i) = snapshot
            .list()
            .iter()
            .position(|m| snapshot.system_flags(m.flags) & system::SEEN == 0)
        {
            self.untagged(&format!("OK [UNSEEN {}] First unseen message", i + 1));
        }
        if read_only {
            self.untagged("OK [PERMANENTFLAGS ()] Read-only mailbox");
        } else if let Some(permanent) = self.limited_permanent_flags() {
            // Another account's mailbox without the `w` right (RFC 4314 §4).
            self.untagged(&format!(
                "OK [PERMANENTFLAGS ({permanent})] Flags permitted"
            ));
        } else {
            // The mailbox's keywords too, as later announcements list them.
            self.untagged(&format!(
                "OK [PERMANENTFLAGS ({} \\*)] Flags permitted",
                flags.join(" ")
            ));
        }
        self.untagged(&format!("OK [UIDVALIDITY {validity}] UIDs valid"));
        self.untagged(&format!("OK [UIDNEXT {uid_next}] Predicted next UID"));
        let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        Status::Ok(format!("[{mode}] {verb} completed"))
    }

    /// CLOSE (`expunge`: removes `\Deleted` messages silently if read-write) or
    /// UNSELECT (RFC 3691: leaves them).
    pub(super) async fn close_mailbox(&mut self, expunge: bool) -> Status {
        let Some(open) = self.selected.take() else {
            return Status::Bad("No mailbox selected".into());
        };
        // RFC 4314 §4: CLOSE expunges only with the `e` right (and never fails).
        if expunge && !open.view.read_only() && open.access.rights.contains(Rights::EXPUNGE) {
            let store = self.shared.store();
            match store.message_expunge(open.mailbox.id, None).await {
                Ok(gone) if !gone.is_empty() => self.publish_change(),
                Ok(_) => {}
                Err(e) => return store_failed("CLOSE", &e),
            }
            return Status::Ok("CLOSE completed".into());
        }
        Status::Ok(
            if expunge {
                "CLOSE completed"
            } else {
                "UNSELECT completed"
            }
            .into(),
        )
    }

    /// Brings the selected mailbox up to date and writes the updates the client is owed.
    pub async fn send_updates(&mut self, allow_expunge: bool) {
        self.resync().await;
        // RFC 5267 §4.3: the numbers the client knows, for update contexts (`context.rs`).
        let before = self.context_marks();
        // FLAGS before any FETCH with a new keyword (`keywords.rs`).
        self.announce_keywords();
        let Some(open) = &mut self.selected else {
            return;
        };
        // The newest message the client knew of, for NOTIFY's MessageNew (`notify.rs`).
        let known_uid = open.view.announced_uid();
        let updates = open.view.take_updates(allow_expunge);
        // New mail is announced: this session claims its \Recent if no other session
        // was told first (RFC 3501 §2.3.2).
        if updates.iter().any(|u| matches!(u, Update::Exists(_))) {
            self.claim_recent().await;
        }
        let Some(open) = &self.selected else {
            return;
        };
        let mut lines = Vec::with_capacity(updates.len());
        for update in updates {
            match update {
                Update::Expunge(n) => lines.push(format!("{n} EXPUNGE")),
                Update::Exists(n) => {
                    lines.push(format!("{n} EXISTS"));
                    // RFC 3501 §7.3.2: the new number of recent messages.
                    if open.view.tracks_recent() {
                        lines.push(format!("{} RECENT", open.view.recent_count()));
                    }
                }
                Update::Vanished(uids) => lines.push(format!(
                    "VANISHED {}",
                    crate::sequence::SequenceSet::from_values(&uids)
                )),
                Update::Fetch {
                    seq,
                    uid,
                    flags,
                    modseq,
                } => {
                    let modseq = modseq.map(|m| format!(" MODSEQ ({m})")).unwrap_or_default();
                    let flags = with_recent(&open.view, uid, flags);
                    lines.push(format!(
                        "{seq} FETCH (UID {uid} FLAGS {}{modseq})",
                        flag_list(&flags)
                    ));
                }
            }
        }
        // With each update context's REMOVEFROM before and ADDTO after (`context.rs`).
        self.write_updates(lines, before).await;
        // RFC 5465 §5.1: after EXISTS, MessageNew's attributes for the new messages.
        self.notify_fetch_new(known_uid).await;
    }

    /// Claims `\Recent` (RFC 3501 §2.3.2) for the messages announced to this session
    /// that no other session was told of first: the store's mark moves up to the
    /// highest announced UID in one atomic step, and what it was before says which of
    /// them are this session's. A read-only session (EXAMINE, RFC 3501 §6.3.2) claims
    /// nothing and sees the messages above the mark as recent, as Dovecot does. A
    /// failed claim is logged and leaves the messages not recent.
    async fn claim_recent(&mut self) {
        let Some(open) = &self.selected else { return };
        if !open.view.tracks_recent() {
            return;
        }
        let top = open.view.announced_uid();
        let mark = open.mailbox.recent_uid;
        let before = if open.view.read_only() || mark >= top {
            mark
        } else {
            let store = self.shared.store();
            match store.mailbox_recent_claim(open.mailbox.id, top).await {
                Ok(before) => before,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim \\Recent");
                    top
                }
            }
        };
        if let Some(open) = &mut self.selected {
            open.view.add_recent(before, top);
        }
    }

    /// STATUS's RECENT (RFC 3501 §6.3.10) for `mailbox`: this session's own count when
    /// it has the mailbox selected, else the messages above the mark, which the next
    /// SELECT would get.
    pub(super) fn status_recent(
        &self,
        mailbox: &store_api::Mailbox,
        messages: &[store_api::ImapMessage],
    ) -> usize {
        match &self.selected {
            Some(open) if open.mailbox.id == mailbox.id && open.view.tracks_recent() => {
                open.view.recent_count() as usize
            }
            _ => messages
                .iter()
                .filter(|m| m.uid > mailbox.recent_uid)
                .count(),
        }
    }

    /// Gives the selected-mailbox state the newest snapshot (no output): the store's
    /// changes since the shared snapshot, applied once for all of the mailbox's
    /// sessions.
    pub async fn resync(&mut self) {
        let Some(open) = &self.selected else { return };
        let store = self.shared.store();
        let state = std::sync::Arc::clone(&open.state);
        // By id, not name: a RENAME keeps the mailbox (RFC 3501 §6.3.5).
        let (snapshot, mailbox) = match state.refresh(store.as_ref()).await {
            Ok(fresh) => fresh,
            // Deleted by another session (or its account removed): RFC 2180 §3.1 lets
            // the server end this one; as Dovecot does, it says why and closes.
            Err(store_api::StoreError::NotFound(_)) => {
                self.selected = None;
                if !self.close {
                    self.untagged("BYE Selected mailbox was deleted, have to disconnect");
                    self.close = true;
                }
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot refresh the selected mailbox");
                return;
            }
        };
        let Some(open) = &mut self.selected else {
            return;
        };
        open.view.sync(snapshot);
        open.mailbox = mailbox;
    }
}

/// `flags` with `\Recent` added when `uid` is recent in this session (RFC 3501
/// §2.3.2: the store never holds it).
pub fn with_recent(view: &Selected, uid: u32, mut flags: Vec<String>) -> Vec<String> {
    if view.is_recent(uid) {
        // After the system flags, before the keywords, where Dovecot writes it.
        let at = flags.partition_point(|f| f.starts_with('\\'));
        flags.insert(at, "\\Recent".to_owned());
    }
    flags
}
