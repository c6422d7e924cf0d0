//! Announcing keywords new to the selected mailbox: `* FLAGS (...)` and, when the
//! mailbox is writable, `* OK [PERMANENTFLAGS (...)]`, before any response that
//! carries the new keyword (RFC 3501 §7.2.6: FLAGS "MUST be recorded by the client";
//! §7.1: PERMANENTFLAGS). Dovecot does the same.
//!
//! Where it sits: SELECT and EXAMINE send the mailbox's FLAGS and record which
//! keywords those named ([`Shown::of`]). From then on, whenever the session takes in a
//! newer snapshot and is about to write updates or FETCH responses (in
//! [`Session::send_updates`] and in FETCH, after their resync), it calls
//! [`Session::announce_keywords`], which compares the snapshot's keywords with those
//! announced and writes the two responses if any is new (a STORE or an APPEND of this
//! session or of another session of the mailbox). The list only
//! grows while the mailbox is selected (a keyword no message has any more stays
//! permitted), so the client never sees a FLAGS that drops a keyword it may still
//! hold in its cache.
//!
//! Cost: the snapshot's keywords are gathered only when its HIGHESTMODSEQ moved since
//! the last look (a new keyword always comes with a new mod-sequence), so an idle
//! session's commands do not walk the mailbox.

use super::Session;
use super::wire::flag_list;
use std::collections::BTreeSet;

/// The system flags (RFC 3501 §2.3.2), first in FLAGS and PERMANENTFLAGS, in the
/// order SELECT lists them.
pub(super) const SYSTEM_FLAGS: [&str; 5] =
    ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

/// The keywords this session's client was told of for the selected mailbox.
#[derive(Debug, Default)]
pub struct Shown {
    /// Every keyword the last FLAGS named, sorted.
    names: BTreeSet<String>,
    /// The HIGHESTMODSEQ of the snapshot last compared.
    modseq: u64,
}

impl Shown {
    /// The keywords of `latest` not in `self`, if its mod-sequence moved since the
    /// last look; they join `self`.
    fn take_new(&mut self, latest: &crate::selected::Snapshot) -> Vec<String> {
        if latest.highest_modseq() == self.modseq {
            return Vec::new();
        }
        self.modseq = latest.highest_modseq();
        let new: Vec<String> = latest
            .keywords()
            .into_iter()
            .filter(|k| !self.names.contains(*k))
            .map(str::to_owned)
            .collect();
        self.names.extend(new.iter().cloned());
        new
    }

    /// What a SELECT or EXAMINE names in its FLAGS: the keywords of `snapshot`, the
    /// one the FLAGS response was built from (not a newer one, or a keyword added in
    /// between would never be announced).
    pub(super) fn of(snapshot: &crate::selected::Snapshot) -> Shown {
        Shown {
            names: snapshot.keywords().into_iter().map(str::to_owned).collect(),
            modseq: snapshot.highest_modseq(),
        }
    }

    /// The flags as FLAGS lists them: the system flags, then the keywords.
    pub(super) fn flags(&self) -> Vec<String> {
        SYSTEM_FLAGS
            .iter()
            .map(|f| (*f).to_owned())
            .chain(self.names.iter().cloned())
            .collect()
    }
}

impl Session<'_> {
    /// Writes FLAGS and PERMANENTFLAGS if the newest snapshot has a keyword the
    /// client was not told of (see the module docs).
    pub(super) fn announce_keywords(&mut self) {
        let Some(open) = &self.selected else { return };
        let read_only = open.view.read_only();
        if self.keywords.take_new(open.view.latest()).is_empty() {
            return;
        }
        let flags = self.keywords.flags();
        // RFC 3501 §7.2.6.
        self.untagged(&format!("FLAGS {}", flag_list(&flags)));
        // RFC 3501 §7.1 PERMANENTFLAGS: a read-only mailbox keeps its `()`.
        if !read_only {
            self.untagged(&format!(
                "OK [PERMANENTFLAGS ({} \\*)] Flags permitted",
                flags.join(" ")
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selected::{MessageState, Snapshot};

    fn snapshot(flags: &[&[&str]], modseq: u64) -> Snapshot {
        let messages = flags
            .iter()
            .zip(1..)
            .map(|(f, uid)| MessageState {
                uid,
                flags: f.iter().map(|s| (*s).to_owned()).collect(),
                modseq,
                size: 10,
                received_at: 0,
            })
            .collect();
        Snapshot::new(messages, modseq)
    }

    #[test]
    fn only_new_keywords_and_only_when_the_snapshot_moved() {
        let mut shown = Shown::default();
        let first = snapshot(&[&["\\Seen", "$Label1"]], 5);
        assert_eq!(shown.take_new(&first), vec!["$Label1".to_owned()]);
        assert!(shown.take_new(&first).is_empty(), "same snapshot");
        // A new keyword at the same mod-sequence cannot happen; at a new one it shows.
        let second = snapshot(&[&["$Label1"], &["Work", "$Junk"]], 6);
        assert_eq!(
            shown.take_new(&second),
            vec!["$Junk".to_owned(), "Work".to_owned()]
        );
        // A keyword no message has any more stays listed.
        let third = snapshot(&[&[], &["Work"]], 7);
        assert!(shown.take_new(&third).is_empty());
        assert_eq!(
            shown.flags().join(" "),
            "\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk $Label1 Work"
        );
    }
}
