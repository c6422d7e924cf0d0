//! Taking in the store's view: a newer snapshot after anything may have changed, and
//! what this session's own STORE did. Nothing is sent from here; the difference between
//! the view and the snapshot becomes updates in [`Selected::take_updates`].

use std::sync::Arc;

use super::records::{Diff, diff};
use super::{FlagSetId, Selected, Snapshot};

impl Selected {
    /// The mailbox's newest snapshot (of the same lineage as every snapshot this
    /// session was given), after something may have changed: another session, a
    /// delivery, this session's own STORE/EXPUNGE/COPY. Replaces the snapshot and marks
    /// which messages the client knows are gone (their EXPUNGE is now pending); queues
    /// nothing yet.
    ///
    /// A correct store hands out UIDs in ascending order, so a UID the client has never
    /// seen is above every UID it has seen; one that is not (impossible with our store) is
    /// never announced.
    pub fn sync(&mut self, now: Arc<Snapshot>) {
        debug_assert!(
            now.same_lineage(&self.latest),
            "snapshot of another lineage"
        );
        self.store_modseq = self.store_modseq.max(now.highest_modseq());
        if let Some(last) = now.list().last() {
            self.max_uid_seen = self.max_uid_seen.max(last.uid);
        }
        self.latest = now;
        if self.shares_snapshot() {
            self.gone.clear();
            return;
        }
        // Both lists ascend by UID: walk them together, skipping shared chunks.
        let mut gone = Vec::new();
        diff(&self.view, self.latest.list(), |d| {
            if let Diff::Old(shown) = d {
                gone.push(shown.uid);
            }
        });
        self.gone = gone;
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
            if self.index_of(uid).is_none() || self.is_expunged(uid) {
                continue;
            }
            if !silent || self.condstore {
                self.echo.insert(uid);
            } else if let Some(now) = self.latest.get(uid) {
                self.adopted.insert(uid, (now.flags, now.modseq));
            }
        }
    }

    /// A FETCH response just showed the client `uid`'s flags as `flags` (and its
    /// mod-sequence as `modseq`, when the response had MODSEQ), taken from the latest
    /// snapshot. The client now knows them, so the next [`Selected::take_updates`]
    /// reports the message only if it changed again since, or (with CONDSTORE) for a
    /// mod-sequence it was not shown: RFC 3501 §7.4.2 wants a change reported, not
    /// repeated. Messages whose EXPUNGE is pending are left alone.
    pub fn note_fetched(&mut self, uid: u32, flags: FlagSetId, modseq: Option<u64>) {
        if self.is_expunged(uid) {
            return;
        }
        let Some((shown_flags, shown_modseq)) = self.shown(uid) else {
            return;
        };
        let modseq = modseq.unwrap_or(shown_modseq);
        // Nothing new for the client: leave the view alone (a FETCH 1:* of an
        // up-to-date mailbox records nothing).
        if (flags, modseq) != (shown_flags, shown_modseq) {
            self.adopted.insert(uid, (flags, modseq));
        }
    }
}
