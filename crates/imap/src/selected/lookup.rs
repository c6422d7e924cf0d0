//! Reading the client's view: sequence number ↔ UID, sequence-set resolution, the flags
//! the client was shown. Everything here answers in the client's numbering, including
//! messages whose EXPUNGE is still pending (see [`Selected::is_expunged`]).

use super::{Selected, SeqError};
use crate::sequence::{SeqBound, SeqRange, SequenceSet};

impl Selected {
    /// The UID of the message with sequence number `seq`, if the client has such a message.
    pub fn uid_of(&self, seq: u32) -> Option<u32> {
        let index = (seq as usize).checked_sub(1)?;
        self.view.get(index).map(|m| m.uid)
    }

    /// The client's sequence number for `uid`, if the client knows that message.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.index_of(uid).map(|i| i as u32 + 1)
    }

    /// Resolves a sequence set (`uid` false) or UID set (`uid` true) against the client's
    /// view: `(sequence number, UID)` pairs, ascending, without duplicates.
    ///
    /// Sequence sets fail if they name a number beyond [`Selected::exists`], `*` in an
    /// empty mailbox included (RFC 3501 §9 `seq-number`: the caller answers BAD); UIDs that name no message are
    /// ignored and `n:*` always includes the last message (RFC 3501 §6.4.8). Messages
    /// whose EXPUNGE is pending are included; check [`Selected::is_expunged`]. Messages not
    /// yet announced by EXISTS are not: take the updates first to include them.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<(u32, u32)>, SeqError> {
        let seqs = if uid {
            // Each UID range becomes the range of sequence numbers it covers, and
            // those resolve (merged, ascending) like a sequence set.
            let Some(last) = self.view.last().map(|m| m.uid) else {
                return Ok(Vec::new());
            };
            let bound = |b: SeqBound| match b {
                SeqBound::Star => last,
                SeqBound::Value(v) => v,
            };
            let spans: Vec<SeqRange> = set
                .0
                .iter()
                .filter_map(|SeqRange(a, b)| {
                    let (a, b) = (bound(*a), bound(*b));
                    let lo = self.view.lower_bound(a.min(b));
                    let hi = self.view.upper_bound(a.max(b));
                    (lo < hi).then(|| {
                        SeqRange(SeqBound::Value(lo as u32 + 1), SeqBound::Value(hi as u32))
                    })
                })
                .collect();
            if spans.is_empty() {
                return Ok(Vec::new());
            }
            SequenceSet(spans).seqs(self.exists())?
        } else {
            set.seqs(self.exists())?
        };
        let indices = seqs.into_iter().map(|s| s as usize - 1);
        Ok(self
            .view
            .at_sorted(indices)
            .map(|(i, m)| (i as u32 + 1, m.uid))
            .collect())
    }

    /// Every message the client knows, as `(sequence number, UID)` (for `SEARCH ALL` and
    /// friends, which must not fail on an empty mailbox the way `1:*` does).
    pub fn messages(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.view
            .iter()
            .enumerate()
            .map(|(i, m)| (i as u32 + 1, m.uid))
    }

    /// True when the client still has `uid` (it has a sequence number) but the store no
    /// longer does: its EXPUNGE is pending. The store answers "no such message" for it;
    /// the driver answers per RFC 2180 §4.1 (e.g. `NO [EXPUNGEISSUED]`, RFC 5530 §3).
    pub fn is_expunged(&self, uid: u32) -> bool {
        self.gone.binary_search(&uid).is_ok()
    }

    /// The flags the client was last shown for `uid` (sorted). Once the updates are
    /// taken, these are the store's flags for every message that is not expunged.
    pub fn flags(&self, uid: u32) -> Option<&[String]> {
        self.shown(uid).map(|(flags, _)| self.latest.flags(flags))
    }

    /// The mod-sequence the client was last shown for `uid` (RFC 7162 §3.1).
    pub fn modseq(&self, uid: u32) -> Option<u64> {
        self.shown(uid).map(|(_, modseq)| modseq)
    }

    /// The flag set and mod-sequence the client was last shown for `uid`.
    pub(super) fn shown(&self, uid: u32) -> Option<(super::FlagSetId, u64)> {
        let i = self.index_of(uid)?;
        let shown = self.view.get(i)?;
        Some(
            self.adopted
                .get(&uid)
                .copied()
                .unwrap_or((shown.flags, shown.modseq)),
        )
    }

    /// Where `uid` sits in the view (the view is ascending by UID).
    pub(super) fn index_of(&self, uid: u32) -> Option<usize> {
        self.view.index_of(uid)
    }
}
