//! SELECT, EXAMINE, UNSELECT and CLOSE (RFC 3501 §6.3.1–6.3.2, §6.4.2; RFC 3691), and
//! the untagged updates a selected session is owed (RFC 3501 §7.3–7.4).
//!
//! Where it sits: [`Session::send_updates`] runs before every tagged reply and during
//! IDLE: it brings the mailbox's shared snapshot up to date with what changed in the
//! store since ([`super::snapshots`]: a delta, not a re-read), gives it to
//! [`imap::selected::Selected`], and writes the EXPUNGE/EXISTS/FETCH responses that
//! come out (EXPUNGE only when `allow_expunge`, RFC 3501 §7.4.1).

use super::wire::flag_list;
use super::{Open, Session, Status, store_failed};
use imap::selected::snapshot::system;
use imap::selected::{Selected, Update};

/// The system flags (RFC 3501 §2.3.2), as FLAGS and PERMANENTFLAGS list them.
const SYSTEM_FLAGS: [&str; 5] = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

impl Session<'_> {
    pub(super) async fn select(&mut self, name: &str, read_only: bool) -> Status {
        // RFC 3501 §6.3.1: a SELECT, even a failing one, deselects first.
        if self.selected.take().is_some() {
            // RFC 7162 §3.2.11 style: tell the client the old mailbox is closed.
            self.untagged("OK [CLOSED] Previous mailbox closed");
        }
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let store = self.shared.store.clone();
        let mailbox = match store.mailbox_get(self.account_id(), name).await {
            Ok(Some(m)) => m,
            Ok(None) => return Status::No("[NONEXISTENT] No such mailbox".into()),
            Err(e) => return store_failed(verb, &e),
        };
        // The mailbox's shared snapshot, brought up to date (read in full only when no
        // other session has it open).
        let state = self.shared.snapshots.open(mailbox.id);
        let (snapshot, mailbox) = match state.refresh(store.as_ref()).await {
            Ok(fresh) => fresh,
            Err(store::StoreError::NotFound(_)) => {
                return Status::No("[NONEXISTENT] No such mailbox".into());
            }
            Err(e) => return store_failed(verb, &e),
        };
        let mut flags: Vec<String> = SYSTEM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        flags.extend(snapshot.keywords().into_iter().map(str::to_owned));
        let records = snapshot.records();
        self.untagged(&format!("FLAGS {}", flag_list(&flags)));
        self.untagged(&format!("{} EXISTS", records.len()));
        self.untagged("0 RECENT");
        if let Some(i) = records
            .iter()
            .position(|m| snapshot.system_flags(m.flags) & system::SEEN == 0)
        {
            self.untagged(&format!("OK [UNSEEN {}] First unseen message", i + 1));
        }
        if read_only {
            self.untagged("OK [PERMANENTFLAGS ()] Read-only mailbox");
        } else {
            self.untagged(&format!(
                "OK [PERMANENTFLAGS ({} \\*)] Flags permitted",
                SYSTEM_FLAGS.join(" ")
            ));
        }
        self.untagged(&format!(
            "OK [UIDVALIDITY {}] UIDs valid",
            mailbox.uid_validity
        ));
        self.untagged(&format!(
            "OK [UIDNEXT {}] Predicted next UID",
            mailbox.uid_next
        ));
        let view = Selected::new(mailbox.uid_validity, snapshot, read_only);
        self.selected = Some(Open {
            mailbox,
            view,
            state,
        });
        let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        Status::Ok(format!("[{mode}] {verb} completed"))
    }

    /// CLOSE (`expunge`: removes `\Deleted` messages silently if read-write) or
    /// UNSELECT (RFC 3691: leaves them).
    pub(super) async fn close_mailbox(&mut self, expunge: bool) -> Status {
        let Some(open) = self.selected.take() else {
            return Status::Bad("No mailbox selected".into());
        };
        if expunge && !open.view.read_only() {
            let store = self.shared.store.clone();
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
        // FLAGS before any FETCH with a new keyword (`keywords.rs`).
        self.announce_keywords();
        let Some(open) = &mut self.selected else {
            return;
        };
        let updates = open.view.take_updates(allow_expunge);
        for update in updates {
            let line = match update {
                Update::Expunge(n) => format!("{n} EXPUNGE"),
                Update::Exists(n) => format!("{n} EXISTS"),
                Update::Vanished(uids) => {
                    format!(
                        "VANISHED {}",
                        imap::sequence::SequenceSet::from_values(&uids)
                    )
                }
                Update::Fetch {
                    seq,
                    uid,
                    flags,
                    modseq,
                } => {
                    let modseq = modseq.map(|m| format!(" MODSEQ ({m})")).unwrap_or_default();
                    format!(
                        "{seq} FETCH (UID {uid} FLAGS {}{modseq})",
                        flag_list(&flags)
                    )
                }
            };
            self.untagged(&line);
        }
    }

    /// Gives the selected-mailbox state the newest snapshot (no output): the store's
    /// changes since the shared snapshot, applied once for all of the mailbox's
    /// sessions.
    pub async fn resync(&mut self) {
        let Some(open) = &self.selected else { return };
        let store = self.shared.store.clone();
        let state = std::sync::Arc::clone(&open.state);
        // By id, not name: a RENAME keeps the mailbox (RFC 3501 §6.3.5).
        let (snapshot, mailbox) = match state.refresh(store.as_ref()).await {
            Ok(fresh) => fresh,
            // Deleted under us: nothing left to report on.
            Err(store::StoreError::NotFound(_)) => return,
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
