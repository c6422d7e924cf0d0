//! Turning the difference between the client's view and the store's snapshot into
//! untagged responses, in the order they must be sent: expunges (EXPUNGE or VANISHED),
//! then EXISTS, then FETCH for changed flags. See the module docs of [`super`] for the
//! RFC rules each step follows.

use super::{Selected, Shown, Update};

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
        if allow_expunge && self.pending_expunges > 0 {
            self.send_expunges(&mut out);
        }
        let announced = self.view.len();
        self.send_new_messages(&mut out);
        self.send_flag_changes(announced, &mut out);
        self.echo.clear();
        if self.pending_expunges == 0 {
            // RFC 7162 §3.2: never claim a HIGHESTMODSEQ past an unsent expunge.
            self.shown_modseq = self.store_modseq;
        }
        out
    }

    /// EXPUNGE from the highest sequence number down (each number is current when sent:
    /// removing a later message does not renumber an earlier one), or one VANISHED.
    fn send_expunges(&mut self, out: &mut Vec<Update>) {
        if self.qresync {
            let uids = self.view.iter().filter(|m| m.gone).map(|m| m.uid).collect();
            out.push(Update::Vanished(uids));
        } else {
            let gone = self.view.iter().enumerate().rev().filter(|(_, m)| m.gone);
            out.extend(gone.map(|(i, _)| Update::Expunge(i as u32 + 1)));
        }
        self.view.retain(|m| !m.gone);
        self.pending_expunges = 0;
    }

    /// Messages above every UID the client was told of join the view with their current
    /// flags; one EXISTS gives the new count (pending expunges included).
    fn send_new_messages(&mut self, out: &mut Vec<Update>) {
        let start = self.latest.partition_point(|m| m.uid <= self.announced_uid);
        let new = &self.latest[start..];
        let Some(last) = new.last() else { return };
        self.announced_uid = last.uid;
        self.view.extend(new.iter().map(Shown::from));
        out.push(Update::Exists(self.view.len() as u32));
    }

    /// FETCH for every message announced before this call whose flags (or, with
    /// CONDSTORE, mod-sequence) differ from what the client was shown, or that this
    /// session's non-silent STORE touched.
    fn send_flag_changes(&mut self, announced: usize, out: &mut Vec<Update>) {
        let condstore = self.condstore;
        let mut rest = self.latest.as_slice();
        for (i, shown) in self.view[..announced].iter_mut().enumerate() {
            if shown.gone {
                continue;
            }
            let skip = rest.partition_point(|m| m.uid < shown.uid);
            rest = &rest[skip..];
            let Some(now) = rest.first().filter(|m| m.uid == shown.uid) else {
                continue;
            };
            let changed = shown.flags != now.flags || (condstore && shown.modseq != now.modseq);
            if changed || self.echo.contains(&shown.uid) {
                shown.flags.clone_from(&now.flags);
                out.push(Update::Fetch {
                    seq: i as u32 + 1,
                    uid: shown.uid,
                    flags: now.flags.clone(),
                    modseq: condstore.then_some(now.modseq),
                });
            }
            shown.modseq = now.modseq;
        }
    }
}
