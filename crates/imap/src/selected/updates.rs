//! Turning the difference between the client's view and the store's snapshot into
//! untagged responses, in the order they must be sent: expunges (EXPUNGE or VANISHED),
//! then EXISTS, then FETCH for changed flags. See the module docs of [`super`] for the
//! RFC rules each step follows.

use std::sync::Arc;

use super::records::{Builder, Diff, diff, keep};
use super::{Selected, Update};

impl Selected {
    /// The untagged responses this session may send now, in order, and the view moved
    /// forward to match: after it, the client and this `Selected` agree on every sequence
    /// number, UID and flag.
    ///
    /// `allow_expunge` is false while a sequence-number FETCH, STORE or SEARCH is in
    /// progress (RFC 3501 §7.4.1): expunges stay pending, gone messages keep their
    /// sequence numbers, and EXISTS and FETCH are still sent (numbered accordingly).
    pub fn take_updates(&mut self, allow_expunge: bool) -> Vec<Update> {
        let mut out = Vec::new();
        if self.echo.is_empty() && self.shares_snapshot() {
            // Up to date already: the adopted flags are the snapshot's own.
            self.adopted.clear();
            self.shown_modseq = self.store_modseq;
            return out;
        }
        let expunging = allow_expunge && !self.gone.is_empty();
        if expunging {
            self.send_expunges(&mut out);
        }
        let fetches = self.move_view(expunging);
        self.send_new_messages(&mut out);
        out.extend(fetches);
        self.echo.clear();
        self.adopted.clear();
        if self.gone.is_empty() {
            // RFC 7162 §3.2: never claim a HIGHESTMODSEQ past an unsent expunge.
            self.shown_modseq = self.store_modseq;
        }
        out
    }

    /// EXPUNGE from the highest sequence number down (each number is current when sent:
    /// removing a later message does not renumber an earlier one), or one VANISHED.
    fn send_expunges(&self, out: &mut Vec<Update>) {
        if self.qresync {
            out.push(Update::Vanished(self.gone.clone()));
        } else {
            let seqs = self.gone.iter().rev().filter_map(|&uid| self.index_of(uid));
            out.extend(seqs.map(|i| Update::Expunge(i as u32 + 1)));
        }
    }

    /// The view's messages take their records from the snapshot (dropping the gone
    /// ones when `expunged`, keeping them as they were otherwise); returns a FETCH for
    /// every message whose flags (or, with CONDSTORE, mod-sequence) differ from what
    /// the client was shown, or that this session's non-silent STORE touched.
    ///
    /// Chunks the view shares with the snapshot are taken over whole, unread: only
    /// the records of the chunks that differ are compared, and the messages this
    /// session adopted or owes an echo are looked up by UID.
    fn move_view(&mut self, expunged: bool) -> Vec<Update> {
        let condstore = self.condstore;
        let latest = Arc::clone(&self.latest);
        let old = Arc::clone(&self.view);
        let mut view = Builder::default();
        let mut candidates: Vec<u32> = Vec::new();
        diff(&old, latest.list(), |d| match d {
            Diff::Old(_) if expunged => {}
            // Not announced yet: `send_new_messages` decides.
            Diff::New(_) => {}
            Diff::Changed(shown, _) => {
                candidates.push(shown.uid);
                keep(&mut view, d);
            }
            _ => keep(&mut view, d),
        });
        candidates.extend(self.echo.iter().copied());
        candidates.extend(self.adopted.keys().copied());
        candidates.sort_unstable();
        candidates.dedup();
        if expunged {
            self.gone.clear();
        }
        self.view = Arc::new(view.finish());
        let mut fetches = Vec::new();
        for uid in candidates {
            let (Some(shown), Some(now)) = (old.by_uid(uid), latest.get(uid)) else {
                continue; // not the client's, or gone
            };
            let (flags, modseq) = self
                .adopted
                .get(&uid)
                .copied()
                .unwrap_or((shown.flags, shown.modseq));
            let changed = flags != now.flags || (condstore && modseq != now.modseq);
            if changed || self.echo.contains(&uid) {
                let Some(index) = self.view.index_of(uid) else {
                    continue;
                };
                fetches.push(Update::Fetch {
                    seq: index as u32 + 1,
                    uid,
                    flags: latest.flags(now.flags).to_vec(),
                    modseq: condstore.then_some(now.modseq),
                });
            }
        }
        fetches
    }

    /// Messages above every UID the client was told of join the view with their current
    /// flags; one EXISTS gives the new count (pending expunges included). A view that
    /// then holds exactly the snapshot's records shares its list.
    fn send_new_messages(&mut self, out: &mut Vec<Update>) {
        let latest = Arc::clone(&self.latest);
        let records = latest.list();
        let start = records.upper_bound(self.announced_uid);
        if let Some(last) = records.last().filter(|_| start < records.len()) {
            self.announced_uid = last.uid;
            Arc::make_mut(&mut self.view).extend(records.iter_from(start).copied());
            out.push(Update::Exists(self.view.len() as u32));
        }
        // Every entry came from the snapshot and none is gone: equal lengths mean the
        // same list.
        if self.gone.is_empty() && self.view.len() == records.len() {
            self.view = Arc::clone(latest.shared_records());
        }
    }
}
