//! The selected mailbox of one IMAP session: sequence numbers, UIDs, pending expunges,
//! MODSEQ, and the untagged updates the session owes its client.
//!
//! Where it sits: the IMAP driver creates a [`Selected`] on SELECT/EXAMINE from the
//! mailbox's current [`Snapshot`], resolves every sequence set through it
//! ([`Selected::resolve`]), hands it the newest snapshot whenever something may have
//! changed ([`Selected::sync`]: another session, a delivery, this session's own STORE,
//! EXPUNGE or COPY), and before each tagged reply (and during IDLE) writes what
//! [`Selected::take_updates`] returns. It is pure code: no store, no socket, no clock.
//!
//! Two lists are kept. The *view* is the mailbox as the client knows it: its sequence
//! numbers are the client's sequence numbers, its flags the last flags the client was
//! sent. The *latest* is the store's most recent [`Snapshot`], shared with every other
//! session of the mailbox. `sync` only replaces the snapshot (and notes which viewed
//! messages are gone); `take_updates` turns the difference into untagged responses and
//! moves the view forward. Once the client is up to date the view *is* the snapshot's
//! record list (one `Arc`, no copy), so an idle selected session costs a few hundred
//! bytes however large the mailbox; the view becomes a list of its own only while it
//! differs (expunges that may not be sent yet), and even then shares every chunk of
//! records ([`records`]) that did not change. Both `sync` and `take_updates` walk the
//! view and the snapshot chunk by chunk and skip the shared chunks, so they cost the
//! size of the change, not of the mailbox. All snapshots given to one `Selected`
//! must be of one lineage (see [`snapshot`]): the driver takes them from one
//! per-mailbox chain.
//!
//! The driver's calls per command:
//! - NOOP, CHECK, IDLE, the UID forms and EXPUNGE itself: `sync`, run the command,
//!   `sync` again if it changed the store, `take_updates(true)`.
//! - FETCH, STORE, SEARCH by sequence number: `resolve`, run it, `sync`, (after a STORE:
//!   `note_own_store`), `take_updates(false)`; the numbers resolved stay valid throughout.
//!

//! Rules and the choices made where the RFCs leave room:
//! - **EXPUNGE timing.** An EXPUNGE must not be sent while a FETCH, STORE or SEARCH (the
//!   sequence-number forms) is in progress, nor when no command is in progress (RFC 3501
//!   §7.4.1, §5.5; RFC 9051 §7.5.1); the caller says which case it is with
//!   `allow_expunge`. While expunges are pending the gone messages keep their sequence
//!   numbers: they still resolve, [`Selected::is_expunged`] says they are gone (the store
//!   would answer "no such message"; the caller answers per RFC 2180 §4.1, e.g. tagged
//!   `NO [EXPUNGEISSUED]` from RFC 5530), and EXISTS counts them, because EXISTS must be
//!   the size the client computes and must never shrink (RFC 3501 §7.3.1, §5.2).
//! - **EXPUNGE numbering.** Each EXPUNGE renumbers the messages after it at once
//!   (RFC 3501 §7.4.1). We send them from the highest sequence number down, so each
//!   number is the message's current number when sent and never needs adjusting.
//! - **VANISHED.** Once QRESYNC is enabled, expunges are reported as one
//!   `VANISHED uid-set` instead of EXPUNGEs (RFC 7162 §3.2.10); it renumbers just like
//!   EXPUNGE, so the same timing rule applies. A message appended and expunged before the
//!   client heard of it is reported neither way: the client never counted it.
//! - **EXISTS.** New messages (UIDs above every UID the client was told of) are
//!   announced by one EXISTS after the expunges, with the count the client will compute.
//!   They enter the view with their current flags, so their flag changes before they were
//!   announced are never sent as FETCH: the client fetches them when it wants them.
//! - **RECENT.** A message is `\Recent` (RFC 3501 §2.3.2) in the one session that was
//!   first told of it, as in Dovecot: the store keeps a per-mailbox mark that a SELECT,
//!   and every EXISTS afterwards, claims up to (see `selected/recent.rs`); EXAMINE
//!   claims nothing but sees what is above the mark. The driver sends `* n RECENT`
//!   after every EXISTS and in an IMAP4rev1 SELECT; IMAP4rev2 sessions never track it
//!   (RFC 9051 removed `\Recent`).
//! - **FETCH.** An unsolicited `FETCH (FLAGS ..)` goes out for every announced message
//!   whose flags differ, as a set, from what the client was sent (RFC 3501 §7.4.2;
//!   flag sets are interned, so a set compares by its id; the store keeps their
//!   spelling canonical).
//!   With CONDSTORE enabled each FETCH carries MODSEQ, and a MODSEQ change alone is
//!   reported too, so the client's cached mod-sequences stay right (RFC 7162 §3.1).
//! - **Own STORE.** A plain STORE is answered by a FETCH of the new flags for every
//!   message it touched, even if nothing changed (RFC 3501 §6.4.6); `.SILENT` suppresses
//!   that, except once CONDSTORE is enabled: RFC 7162 §3.1.3 wants the FETCH with MODSEQ
//!   even then. See [`Selected::note_own_store`].
//! - **Explicit FETCH.** A FETCH the client asked for that shows FLAGS (and MODSEQ, if
//!   it asked for it) tells the client as much as an unsolicited one would, so no
//!   unsolicited FETCH repeats it afterwards; a later change is still reported. See
//!   [`Selected::note_fetched`].
//! - **HIGHESTMODSEQ.** [`Selected::highest_modseq`] is the value the client may be told:
//!   it only advances when no expunge is pending, because a HIGHESTMODSEQ must stay below
//!   the mod-sequence of any EXPUNGE/VANISHED not yet sent (RFC 7162 §3.2).

mod lookup;
mod recent;
pub mod records;
pub mod snapshot;
mod state;
mod sync;
mod updates;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use crate::sequence::SeqError;
pub use recent::Recent;
pub use records::Records;
pub use snapshot::{FlagSetId, MessageState, Record, Snapshot};
pub use state::Update;

/// One session's selected mailbox (see the module docs for the flow).
///
/// Invariants: `view` is strictly ascending by UID, so sequence number `n` is
/// `view[n - 1]` and UIDs grow with sequence numbers; `gone` holds, ascending, the
/// UIDs of `view` that `latest` no longer has (their EXPUNGE is pending); `view`'s
/// flag ids and `latest`'s are of one lineage.
#[derive(Debug, Clone)]
pub struct Selected {
    uid_validity: u32,
    read_only: bool,
    condstore: bool,
    qresync: bool,
    /// The mailbox as the client knows it, in sequence-number order: the records as
    /// last shown. Shares `latest`'s list when the client is up to date, and its
    /// chunks otherwise, except the ones that differ (see `selected/records.rs`).
    view: Arc<Records>,
    /// The store's most recent snapshot.
    latest: Arc<Snapshot>,
    /// UIDs in `view` gone from `latest` (EXPUNGE not yet sent), ascending.
    gone: Vec<u32>,
    /// The highest UID ever announced to the client; larger UIDs in `latest` are new.
    announced_uid: u32,
    /// The highest UID seen in any snapshot (for the UIDNEXT hint).
    max_uid_seen: u32,
    /// The store's HIGHESTMODSEQ as of `latest`.
    store_modseq: u64,
    /// The HIGHESTMODSEQ the client is fully up to date with.
    shown_modseq: u64,
    /// This session's non-silent STOREs: echo a FETCH even if the flags did not change.
    echo: BTreeSet<u32>,
    /// The flags and mod-sequence the client now knows from this session's own
    /// `.SILENT` STOREs and from FETCH responses it asked for, standing in for the
    /// `view` entry until the next `take_updates`.
    adopted: BTreeMap<u32, (FlagSetId, u64)>,
    /// This session's `\Recent` messages, when it shows them (`recent.rs`).
    recent: Option<Recent>,
}

impl Selected {
    /// A freshly selected mailbox: the client is about to be told about every message
    /// of `snapshot` (in the SELECT/EXAMINE response), so it is the view and the
    /// latest snapshot at once. `read_only` is EXAMINE (or a mailbox the user may not
    /// change).
    pub fn new(uid_validity: u32, snapshot: Arc<Snapshot>, read_only: bool) -> Self {
        let view = Arc::clone(snapshot.shared_records());
        let max_uid = view.last().map_or(0, |m| m.uid);
        let highest_modseq = snapshot.highest_modseq();
        Selected {
            uid_validity,
            read_only,
            condstore: false,
            qresync: false,
            view,
            latest: snapshot,
            gone: Vec::new(),
            announced_uid: max_uid,
            max_uid_seen: max_uid,
            store_modseq: highest_modseq,
            shown_modseq: highest_modseq,
            echo: BTreeSet::new(),
            adopted: BTreeMap::new(),
            recent: None,
        }
    }

    /// The mailbox's UIDVALIDITY (RFC 3501 §2.3.1.1), as given on selection.
    pub fn uid_validity(&self) -> u32 {
        self.uid_validity
    }

    /// EXAMINE, or otherwise not writable: the driver refuses STORE/EXPUNGE.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The number of messages as the client counts them: the last EXISTS minus the
    /// EXPUNGEs sent since. Messages whose EXPUNGE is pending are still counted.
    pub fn exists(&self) -> u32 {
        self.view.len() as u32
    }

    /// One past the highest UID this session has seen in any snapshot: a lower bound for
    /// the mailbox's UIDNEXT (the store's own UIDNEXT is authoritative for SELECT).
    pub fn uid_next_hint(&self) -> u32 {
        self.max_uid_seen.saturating_add(1)
    }

    /// The HIGHESTMODSEQ the client may be told (e.g. in `OK [HIGHESTMODSEQ n]`): every
    /// change up to it has been sent. It lags the store while an expunge is pending.
    pub fn highest_modseq(&self) -> u64 {
        self.shown_modseq
    }

    /// How many messages are gone from the store but still have sequence numbers here.
    pub fn pending_expunges(&self) -> usize {
        self.gone.len()
    }

    /// The store's most recent snapshot as this session last synced it: the current
    /// flags, mod-sequences, sizes and dates that FETCH and SEARCH answer from.
    pub fn latest(&self) -> &Arc<Snapshot> {
        &self.latest
    }

    /// Whether the view shares the latest snapshot's record list (the client is up to
    /// date; no memory of its own).
    pub fn shares_snapshot(&self) -> bool {
        Arc::ptr_eq(&self.view, self.latest.shared_records())
    }

    /// ENABLE CONDSTORE, or any CONDSTORE enabling command (RFC 7162 §3.1): from now on
    /// every FETCH update carries MODSEQ.
    pub fn enable_condstore(&mut self) {
        self.condstore = true;
    }

    /// ENABLE QRESYNC (RFC 7162 §3.2.3): implies CONDSTORE; expunges become VANISHED.
    pub fn enable_qresync(&mut self) {
        self.condstore = true;
        self.qresync = true;
    }

    /// Whether CONDSTORE (or QRESYNC) is enabled.
    pub fn condstore(&self) -> bool {
        self.condstore
    }

    /// Whether QRESYNC is enabled.
    pub fn qresync(&self) -> bool {
        self.qresync
    }
}
