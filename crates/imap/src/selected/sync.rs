//! Taking in the store's view: a fresh snapshot after anything may have changed, and
//! what this session's own STORE did. Nothing is sent from here; the difference between
//! the view and the snapshot becomes updates in [`Selected::take_updates`].

use super::{MessageState, Selected, normalize};

impl Selected {
    /// The store's current list of messages and HIGHESTMODSEQ, read together (one
    /// transaction), after something may have changed: another session, a delivery, this
    /// session's own STORE/EXPUNGE/COPY. Replaces the snapshot and marks which messages
    /// the client knows are gone (their EXPUNGE is now pending); queues nothing yet.
    ///
    /// A correct store hands out UIDs in ascending order, so a UID the client has never
    /// seen is above every UID it has seen; one that is not (impossible with our store) is
    /// never announced.
    pub fn sync(&mut self, now: Vec<MessageState>, highest_modseq: u64) {
        self.latest = normalize(now);
        self.store_modseq = self.store_modseq.max(highest_modseq);
        if let Some(last) = self.latest.last() {
            self.max_uid_seen = self.max_uid_seen.max(last.uid);
        }
        let mut pending = 0;
        let mut rest = self.latest.as_slice();
        for shown in &mut self.view {
            // Both lists ascend by UID: walk the snapshot once.
            let skip = rest.partition_point(|m| m.uid < shown.uid);
            rest = &rest[skip..];
            shown.gone = rest.first().is_none_or(|m| m.uid != shown.uid);
            pending += usize::from(shown.gone);
        }
        self.pending_expunges = pending;
    }

    /// This session's own STORE changed the flags of `uids` (those the store actually
    /// modified; with UNCHANGEDSINCE, not the ones that failed the test). Call it after
    /// the [`Selected::sync`] that read the result.
    ///
    /// Without `silent` each of them gets a FETCH with its new flags at the next
    /// [`Selected::take_updates`], even if they did not change (RFC 3501 §6.4.6). With
    /// `silent` (`FLAGS.SILENT` and friends) the client is assumed to know the new flags
    /// and the view simply adopts them, unless CONDSTORE is enabled: then the FETCH with
    /// MODSEQ is sent anyway (RFC 7162 §3.1.3). A change another session made to the same
    /// message inside the same snapshot is adopted silently too; one made after it is
    /// reported as usual.
    pub fn note_own_store(&mut self, uids: &[u32], silent: bool) {
        for &uid in uids {
            let Some(i) = self.index_of(uid) else {
                continue;
            };
            if self.view[i].gone {
                continue;
            }
            if !silent || self.condstore {
                self.echo.insert(uid);
            } else if let Ok(at) = self.latest.binary_search_by_key(&uid, |m| m.uid) {
                let now = &self.latest[at];
                self.view[i].flags.clone_from(&now.flags);
                self.view[i].modseq = now.modseq;
            }
        }
    }
}
