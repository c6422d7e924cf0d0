//! SELECT/EXAMINE parameters (RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC) and the
//! `VANISHED (EARLIER)` response (RFC 7162 §3.2.10) that QRESYNC's SELECT and
//! `UID FETCH .. (CHANGEDSINCE m VANISHED)` send.
//!
//! Where it sits: wraps [`super::Session::select`] (select.rs), which writes the
//! RFC 3501 responses; this file adds `OK [HIGHESTMODSEQ n]` (sent on every successful
//! SELECT/EXAMINE: every mailbox keeps mod-sequences, RFC 7162 §3.1.2) and, for a
//! QRESYNC parameter whose UIDVALIDITY matches, the UIDs expunged since the client's
//! mod-sequence (from [`store_api::Store::mailbox_expunged_since`]) and a FETCH of every
//! message changed since then. The store keeps the full expunge history, so the
//! optional seq-match-data is not needed and is ignored (RFC 7162 §3.2.5.2).

use super::wire::flag_list;
use super::{Session, Status, store_failed, wire};
use crate::sequence::SequenceSet;
use imap_codec::imap_types::command::SelectParameter;

/// A QRESYNC parameter's resynchronisation point.
struct Resync {
    uid_validity: u32,
    modseq: u64,
    known_uids: Option<SequenceSet>,
}

impl Session<'_> {
    /// SELECT or EXAMINE with RFC 7162 parameters.
    pub(super) async fn select_with(
        &mut self,
        name: &str,
        read_only: bool,
        parameters: &[SelectParameter],
    ) -> Status {
        let mut resync = None;
        for p in parameters {
            match p {
                SelectParameter::CondStore => self.enabled.condstore = true,
                SelectParameter::QResync {
                    uid_validity,
                    mod_sequence_value,
                    known_uids,
                    ..
                } => {
                    // RFC 7162 §3.2.5: BAD unless QRESYNC was enabled.
                    if !self.enabled.qresync {
                        return Status::Bad("[CLIENTBUG] ENABLE QRESYNC first".into());
                    }
                    resync = Some(Resync {
                        uid_validity: uid_validity.get(),
                        modseq: mod_sequence_value.get(),
                        known_uids: known_uids.as_ref().map(wire::sequence_set),
                    });
                }
            }
        }
        let status = self.select(name, read_only).await;
        if !matches!(status, Status::Ok(_)) {
            return status;
        }
        self.apply_enabled();
        let Some(open) = &self.selected else {
            return status;
        };
        let (highest, validity) = (open.view.highest_modseq(), open.view.uid_validity());
        self.untagged(&format!(
            "OK [HIGHESTMODSEQ {highest}] Highest mailbox mod-sequence"
        ));
        match resync {
            // RFC 7162 §3.2.5.2: a UIDVALIDITY mismatch means a full resync: nothing more.
            Some(r) if r.uid_validity == validity => {
                if let Err(status) = self.resync_since(&r).await {
                    return status;
                }
                status
            }
            _ => status,
        }
    }

    /// QRESYNC's SELECT answer: VANISHED (EARLIER) for the UIDs expunged since
    /// `r.modseq` (among `known_uids` when given), then a FETCH of each message whose
    /// mod-sequence is above it.
    async fn resync_since(&mut self, r: &Resync) -> Result<(), Status> {
        self.vanished_earlier(r.known_uids.as_ref(), r.modseq)
            .await?;
        let Some(open) = &self.selected else {
            return Ok(());
        };
        let mut lines = Vec::new();
        for (seq, uid) in open.view.messages() {
            let modseq = open.view.modseq(uid).unwrap_or_default();
            if modseq > r.modseq {
                let flags = open.view.flags(uid).unwrap_or_default().to_vec();
                let flags = super::select::with_recent(&open.view, uid, flags);
                lines.push(format!(
                    "{seq} FETCH (UID {uid} FLAGS {} MODSEQ ({modseq}))",
                    flag_list(&flags)
                ));
            }
        }
        for line in lines {
            self.untagged(&line);
        }
        Ok(())
    }

    /// Writes `* VANISHED (EARLIER) uids` for the UIDs expunged after `modseq`, limited
    /// to `within` (a UID set; `*` reaches the highest of them) when given. Also the
    /// first answer to `UID FETCH set (CHANGEDSINCE m VANISHED)` (RFC 7162 §3.2.6).
    pub(super) async fn vanished_earlier(
        &mut self,
        within: Option<&SequenceSet>,
        modseq: u64,
    ) -> Result<(), Status> {
        let Some(open) = &self.selected else {
            return Ok(());
        };
        let store = self.shared.store();
        let gone = match store.mailbox_expunged_since(open.mailbox.id, modseq).await {
            Ok(g) => g,
            Err(e) => return Err(store_failed("VANISHED", &e)),
        };
        let gone: Vec<u32> = match within {
            Some(set) => set
                .uid_positions(&gone)
                .into_iter()
                .map(|i| gone[i])
                .collect(),
            None => gone,
        };
        if !gone.is_empty() {
            self.untagged(&format!(
                "VANISHED (EARLIER) {}",
                SequenceSet::from_values(&gone)
            ));
        }
        Ok(())
    }
}
