//! The untagged updates [`super::Selected`] hands the driver to render.

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
