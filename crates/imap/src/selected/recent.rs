//! The `\Recent` flag of one session (RFC 3501 §2.3.2): which messages this session was
//! the first to be told about.
//!
//! Where it sits: the store keeps, per mailbox, the highest UID whose `\Recent` some
//! session has claimed (`store::Mailbox::recent_uid`); the driver claims up to the
//! highest UID it announces (on SELECT, and whenever an EXISTS announces new mail)
//! and hands what the claim returned to [`Selected::add_recent`]. A read-only session
//! (EXAMINE) claims nothing but still sees the messages above the mark as recent, as
//! Dovecot does (RFC 3501 §6.3.2: EXAMINE must not make messages lose `\Recent`). An
//! IMAP4rev2 session never turns this on, and ENABLE IMAP4rev2 turns it off at once
//! ([`Selected::stop_recent`]): RFC 9051 removed `\Recent`.
//!
//! The claimed UIDs are a few ascending ranges (one per claim that got anything), so a
//! first SELECT of a 100,000-message mailbox costs one range, not 100,000 entries.

use super::Selected;

/// This session's recent UIDs: disjoint ascending inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recent {
    ranges: Vec<(u32, u32)>,
    /// Every UID up to here has had its recency decided for this session.
    decided: u32,
}

impl Recent {
    /// Whether `uid` is recent in this session.
    pub fn contains(&self, uid: u32) -> bool {
        let i = self.ranges.partition_point(|&(_, hi)| hi < uid);
        self.ranges.get(i).is_some_and(|&(lo, _)| lo <= uid)
    }

    /// The UIDs above `above` and up to `up_to` become recent, except those already
    /// decided (a UID's recency is decided once, when it is first announced).
    fn add(&mut self, above: u32, up_to: u32) {
        let lo = above.max(self.decided).saturating_add(1);
        if lo <= up_to {
            match self.ranges.last_mut() {
                Some(last) if last.1.saturating_add(1) == lo => last.1 = up_to,
                _ => self.ranges.push((lo, up_to)),
            }
        }
        self.decided = self.decided.max(up_to);
    }
}

impl Selected {
    /// Turns `\Recent` on for this session (an IMAP4rev1 SELECT or EXAMINE); until
    /// then no message is recent and [`Selected::recent_count`] is 0.
    pub fn track_recent(&mut self) {
        self.recent.get_or_insert_with(Recent::default);
    }

    /// Turns `\Recent` off for the rest of this selection (ENABLE IMAP4rev2 while the
    /// mailbox is selected: RFC 9051 has no `\Recent`). The messages this session
    /// claimed stay claimed: no other session gets them.
    pub fn stop_recent(&mut self) {
        self.recent = None;
    }

    /// Whether this session shows `\Recent` (see [`Selected::track_recent`]).
    pub fn tracks_recent(&self) -> bool {
        self.recent.is_some()
    }

    /// The highest UID announced to the client: what a claim of `\Recent` reaches.
    pub fn announced_uid(&self) -> u32 {
        self.announced_uid
    }

    /// Records a claim: the messages with UIDs above `above` (the store's mark before
    /// the claim) up to `up_to` are recent in this session. UIDs decided by an earlier
    /// call keep their answer. No effect unless [`Selected::track_recent`] was called.
    pub fn add_recent(&mut self, above: u32, up_to: u32) {
        if let Some(recent) = &mut self.recent {
            recent.add(above, up_to);
        }
    }

    /// Whether `uid` has `\Recent` in this session.
    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent.as_ref().is_some_and(|r| r.contains(uid))
    }

    /// This session's recent UIDs (for SEARCH), `None` when it does not track them.
    pub fn recent(&self) -> Option<&Recent> {
        self.recent.as_ref()
    }

    /// How many of the messages the client knows are recent (`* n RECENT`, RFC 3501
    /// §7.3.2).
    pub fn recent_count(&self) -> u32 {
        let Some(recent) = &self.recent else { return 0 };
        let mut count = 0u32;
        for &(lo, hi) in &recent.ranges {
            let start = self.view.lower_bound(lo);
            let end = self.view.upper_bound(hi);
            count = count.saturating_add((end - start) as u32);
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::Recent;

    #[test]
    fn ranges_merge_and_each_uid_is_decided_once() {
        let mut r = Recent::default();
        r.add(0, 3);
        assert!(r.contains(1) && r.contains(3) && !r.contains(4));
        // Another session claimed 4..=5 first: nothing here.
        r.add(5, 5);
        assert!(!r.contains(4) && !r.contains(5));
        r.add(5, 7);
        assert_eq!(r.ranges, vec![(1, 3), (6, 7)]);
        // Already decided: a later claim that reports a lower mark changes nothing.
        r.add(0, 7);
        assert_eq!(r.ranges, vec![(1, 3), (6, 7)]);
        r.add(7, 9);
        assert_eq!(r.ranges, vec![(1, 3), (6, 9)]);
        assert!(!r.contains(0) && !r.contains(5) && r.contains(9) && !r.contains(10));
    }
}
