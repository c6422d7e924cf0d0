//! The data [`super::Selected`] works on: a message as the store reports it, a message as
//! the client was shown it, and the untagged updates handed to the driver to render.

/// One message in the store's view of the mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageState {
    /// The message's UID (RFC 3501 §2.3.1.1): non-zero, unique, ascending with arrival.
    pub uid: u32,
    /// Its flags and keywords (no `\Recent`: see the module docs).
    pub flags: Vec<String>,
    /// Its mod-sequence (RFC 7162 §3.1): grows whenever its metadata changes.
    pub modseq: u64,
}

/// An untagged response the session owes its client, in the order it must be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// `* n EXPUNGE` (RFC 3501 §7.4.1): `n` is valid when sent; later ones already count
    /// the renumbering done by earlier ones.
    Expunge(u32),
    /// `* VANISHED uid-set` (RFC 7162 §3.2.10), instead of EXPUNGEs once QRESYNC is on.
    /// Ascending UIDs; see [`crate::sequence::SequenceSet::from_values`] to render them.
    Vanished(Vec<u32>),
    /// `* n EXISTS` (RFC 3501 §7.3.1): the new number of messages.
    Exists(u32),
    /// `* seq FETCH (UID uid FLAGS (..) [MODSEQ (m)])` (RFC 3501 §7.4.2; MODSEQ only once
    /// CONDSTORE is enabled, RFC 7162 §3.1, which also wants the UID in it).
    Fetch {
        seq: u32,
        uid: u32,
        flags: Vec<String>,
        modseq: Option<u64>,
    },
}

/// A message as the client knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shown {
    pub uid: u32,
    /// The flags last sent to the client (or in force when it was announced).
    pub flags: Vec<String>,
    pub modseq: u64,
    /// Gone from the store; its EXPUNGE is pending.
    pub gone: bool,
}

impl From<&MessageState> for Shown {
    fn from(m: &MessageState) -> Self {
        Shown {
            uid: m.uid,
            flags: m.flags.clone(),
            modseq: m.modseq,
            gone: false,
        }
    }
}

/// Sorts a snapshot by UID (keeping the last of any duplicate UID) and each flag list
/// into one canonical order, so two lists are equal exactly when they hold the same set.
pub(super) fn normalize(mut messages: Vec<MessageState>) -> Vec<MessageState> {
    messages.reverse();
    messages.sort_by_key(|m| m.uid); // stable: the last duplicate now comes first
    messages.dedup_by_key(|m| m.uid);
    for m in &mut messages {
        m.flags.sort_unstable();
        m.flags.dedup();
    }
    messages
}
