//! A mailbox's messages as one immutable snapshot that every session of the mailbox
//! shares: per message a 32-byte [`Record`] (UID, flags, MODSEQ, RFC822.SIZE,
//! INTERNALDATE), flags interned as whole sets.
//!
//! Where it sits: the server keeps the newest snapshot of each open mailbox and moves
//! it forward with the store's deltas ([`Snapshot::apply`]: messages changed since a
//! mod-sequence, UIDs expunged since it), never re-reading the whole mailbox. The
//! records are kept in chunks shared between a snapshot and the next
//! ([`super::records`]), so a delta costs its own size (and one pointer per chunk),
//! not a copy of the mailbox; each
//! session's [`super::Selected`] holds an `Arc` of the snapshot it last synced to, and
//! its view of the mailbox shares the snapshot's record list whenever the client is up
//! to date. FETCH of FLAGS/UID/RFC822.SIZE/INTERNALDATE/MODSEQ and SEARCH on flags,
//! sizes and dates are answered from here.
//!
//! Flags: each distinct set of flags a message has is stored once in the snapshot's
//! table and messages name it by a [`FlagSetId`]; the table only grows, and every
//! snapshot made from another by [`Snapshot::apply`] or [`Snapshot::replace`] extends
//! the same table (one *lineage*), so equal ids mean equal sets across all the
//! snapshots of a lineage. That is what lets [`super::Selected`] compare a view taken
//! from an older snapshot with a newer one by id alone. Sets are sorted and
//! deduplicated, so two lists are one set exactly when they hold the same flags.

use std::collections::HashMap;
use std::sync::Arc;
#[cfg(test)]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::records::Records;

/// One message as the store reports it (the input to a snapshot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageState {
    /// The message's UID (RFC 3501 §2.3.1.1): non-zero, unique, ascending with arrival.
    pub uid: u32,
    /// Its flags and keywords (never `\Recent`, which is per session: see
    /// `selected/recent.rs`).
    pub flags: Vec<String>,
    /// Its mod-sequence (RFC 7162 §3.1): grows whenever its metadata changes.
    pub modseq: u64,
    /// RFC822.SIZE in octets.
    pub size: u64,
    /// INTERNALDATE, unix seconds.
    pub received_at: i64,
}

/// Names one set of flags in a snapshot lineage's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlagSetId(u32);

#[cfg(test)]
impl FlagSetId {
    /// Any id, for tests of the record lists.
    pub(crate) fn for_tests(id: u32) -> FlagSetId {
        FlagSetId(id)
    }
}

/// One message in a snapshot (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Its mod-sequence (RFC 7162 §3.1).
    pub modseq: u64,
    /// INTERNALDATE, unix seconds.
    pub received_at: i64,
    /// The UID.
    pub uid: u32,
    /// Its flags, in the snapshot's table.
    pub flags: FlagSetId,
    /// RFC822.SIZE, saturated at `u32::MAX` (IMAP's `number`, RFC 3501 §9).
    pub size: u32,
}

/// The system flags (RFC 3501 §2.3.2) as bits, for quick SEARCH tests.
pub mod system {
    /// `\Seen`.
    pub const SEEN: u8 = 1;
    /// `\Answered`.
    pub const ANSWERED: u8 = 2;
    /// `\Flagged`.
    pub const FLAGGED: u8 = 4;
    /// `\Deleted`.
    pub const DELETED: u8 = 8;
    /// `\Draft`.
    pub const DRAFT: u8 = 16;

    /// The bit of a system flag (ASCII case-insensitive), 0 for anything else.
    pub fn bit(flag: &str) -> u8 {
        const NAMES: [(&str, u8); 5] = [
            ("\\Seen", SEEN),
            ("\\Answered", ANSWERED),
            ("\\Flagged", FLAGGED),
            ("\\Deleted", DELETED),
            ("\\Draft", DRAFT),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(flag))
            .map_or(0, |(_, b)| *b)
    }
}

/// The interned flag sets of one lineage (append-only).
#[derive(Debug, Clone)]
struct FlagTable {
    /// Which lineage this table (and every table cloned from it) belongs to.
    lineage: u64,
    /// The sets by id, each with its system-flag bits.
    sets: Vec<(Arc<[String]>, u8)>,
    index: HashMap<Arc<[String]>, u32>,
}

impl FlagTable {
    fn new() -> Self {
        static LINEAGES: AtomicU64 = AtomicU64::new(1);
        FlagTable {
            lineage: LINEAGES.fetch_add(1, Ordering::Relaxed),
            sets: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The id of `flags` (canonicalized here), if the table has it.
    fn find(&self, flags: &[String]) -> Option<FlagSetId> {
        self.index.get(flags).map(|&i| FlagSetId(i))
    }

    fn intern(&mut self, flags: Arc<[String]>) -> FlagSetId {
        if let Some(&i) = self.index.get(&flags) {
            return FlagSetId(i);
        }
        let id = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
        let bits = flags.iter().fold(0, |b, f| b | system::bit(f));
        self.sets.push((Arc::clone(&flags), bits));
        self.index.insert(flags, id);
        FlagSetId(id)
    }
}

/// Sorted and deduplicated: the one spelling of a set.
fn canonical(mut flags: Vec<String>) -> Vec<String> {
    flags.sort_unstable();
    flags.dedup();
    flags
}

/// An immutable list of a mailbox's messages, ascending by UID; see the module docs.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// In chunks shared with the snapshot this one was made from (see
    /// `selected/records.rs`), so [`Snapshot::apply`] copies only what changed.
    records: Arc<Records>,
    /// A flat copy for [`Snapshot::records`] (tests only), made on first use.
    #[cfg(test)]
    flat: OnceLock<Vec<Record>>,
    table: Arc<FlagTable>,
    /// How many messages have each flag set (by id), kept up to date by
    /// [`Snapshot::apply`], so [`Snapshot::keywords`] reads no record.
    used: Arc<Vec<u32>>,
    highest_modseq: u64,
}

impl Snapshot {
    /// A snapshot of `messages` (any order; of a repeated UID the last counts) with
    /// the store's HIGHESTMODSEQ, starting a new lineage.
    pub fn new(messages: Vec<MessageState>, highest_modseq: u64) -> Snapshot {
        Snapshot {
            records: Arc::new(Records::default()),
            #[cfg(test)]
            flat: OnceLock::new(),
            table: Arc::new(FlagTable::new()),
            used: Arc::new(Vec::new()),
            highest_modseq: 0,
        }
        .replace(messages, highest_modseq)
    }

    /// An empty snapshot at mod-sequence 0, the start of a lineage that the first
    /// [`Snapshot::apply`] or [`Snapshot::replace`] fills.
    pub fn empty() -> Snapshot {
        Snapshot::new(Vec::new(), 0)
    }

    /// The same mailbox holding exactly `messages` now (a full re-read), in this
    /// snapshot's lineage.
    pub fn replace(&self, messages: Vec<MessageState>, highest_modseq: u64) -> Snapshot {
        let mut table = Arc::clone(&self.table);
        let records = records_of(messages, &mut table);
        let mut used = vec![0u32; table.sets.len()];
        for r in &records {
            count(&mut used, r.flags, true);
        }
        Snapshot {
            records: Arc::new(Records::from_sorted(records)),
            #[cfg(test)]
            flat: OnceLock::new(),
            table,
            used: Arc::new(used),
            highest_modseq,
        }
    }

    /// The next snapshot of this lineage: `changed` (new messages and messages whose
    /// flags changed, any order) replace or join the records, the `expunged` UIDs
    /// leave, and HIGHESTMODSEQ becomes `highest_modseq` (never lower than before).
    /// This is the store's delta since [`Snapshot::highest_modseq`].
    ///
    /// Costs O(n / CHUNK + changes · CHUNK): only the chunks of records a change
    /// touches are copied, the others are shared with `self`.
    pub fn apply(
        &self,
        changed: Vec<MessageState>,
        expunged: &[u32],
        highest_modseq: u64,
    ) -> Snapshot {
        let mut table = Arc::clone(&self.table);
        let changed = records_of(changed, &mut table);
        let mut gone = expunged.to_vec();
        gone.sort_unstable();
        gone.dedup();
        // A UID both changed and expunged in the same delta is gone.
        let mut used = Vec::with_capacity(table.sets.len());
        used.extend_from_slice(&self.used);
        used.resize(table.sets.len(), 0);
        let records = self.records.apply(&changed, &gone, |old, new| {
            if let Some(old) = old {
                count(&mut used, old.flags, false);
            }
            if let Some(new) = new {
                count(&mut used, new.flags, true);
            }
        });
        Snapshot {
            records: Arc::new(records),
            #[cfg(test)]
            flat: OnceLock::new(),
            table,
            used: Arc::new(used),
            highest_modseq: self.highest_modseq.max(highest_modseq),
        }
    }

    /// The messages, ascending by UID, as one slice: a flat copy of
    /// [`Snapshot::list`] made on the first call (O(n) once per snapshot, kept with
    /// it). For tests only: the session uses [`Snapshot::list`], [`Snapshot::get`]
    /// and [`Snapshot::len`], which copy nothing.
    #[cfg(test)]
    pub fn records(&self) -> &[Record] {
        self.flat.get_or_init(|| self.records.to_vec())
    }

    /// The messages, ascending by UID, in shared chunks (no copy).
    pub fn list(&self) -> &Records {
        &self.records
    }

    /// How many messages.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the mailbox is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record list itself (shared by the sessions that are up to date with it).
    pub(crate) fn shared_records(&self) -> &Arc<Records> {
        &self.records
    }

    /// The message with `uid`.
    pub fn get(&self, uid: u32) -> Option<&Record> {
        self.records.by_uid(uid)
    }

    /// The flags of set `id` (sorted). Empty for an id of another lineage.
    pub fn flags(&self, id: FlagSetId) -> &[String] {
        self.table
            .sets
            .get(id.0 as usize)
            .map_or(&[], |(set, _)| set)
    }

    /// The [`system`] bits of set `id`.
    pub fn system_flags(&self, id: FlagSetId) -> u8 {
        self.table.sets.get(id.0 as usize).map_or(0, |(_, b)| *b)
    }

    /// Whether set `id` holds `flag` (ASCII case-insensitive).
    pub fn has_flag(&self, id: FlagSetId, flag: &str) -> bool {
        match system::bit(flag) {
            0 => self.flags(id).iter().any(|f| f.eq_ignore_ascii_case(flag)),
            bit => self.system_flags(id) & bit != 0,
        }
    }

    /// The keywords (not `\` flags) some message has, sorted, for SELECT's FLAGS.
    pub fn keywords(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .used
            .iter()
            .zip(&self.table.sets)
            .filter(|(u, _)| **u > 0)
            .flat_map(|(_, (set, _))| set.iter())
            .filter(|f| !f.starts_with('\\'))
            .map(String::as_str)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The store's HIGHESTMODSEQ when this snapshot was taken.
    pub fn highest_modseq(&self) -> u64 {
        self.highest_modseq
    }

    /// Whether `other` is of this snapshot's lineage (flag set ids mean the same).
    pub fn same_lineage(&self, other: &Snapshot) -> bool {
        self.table.lineage == other.table.lineage
    }

    /// The messages as plain values (for comparing snapshots of different lineages).
    pub fn states(&self) -> Vec<MessageState> {
        self.records
            .iter()
            .map(|r| MessageState {
                uid: r.uid,
                flags: self.flags(r.flags).to_vec(),
                modseq: r.modseq,
                size: u64::from(r.size),
                received_at: r.received_at,
            })
            .collect()
    }
}

/// One more (`add`) or one fewer message with flag set `id`.
fn count(used: &mut [u32], id: FlagSetId, add: bool) {
    if let Some(n) = used.get_mut(id.0 as usize) {
        *n = if add {
            n.saturating_add(1)
        } else {
            n.saturating_sub(1)
        };
    }
}

/// Records for `messages`, ascending by UID (last of a repeated UID), interning
/// their flag sets into `table` (cloned the first time a set is new).
fn records_of(mut messages: Vec<MessageState>, table: &mut Arc<FlagTable>) -> Vec<Record> {
    messages.reverse();
    messages.sort_by_key(|m| m.uid); // stable: the last duplicate now comes first
    messages.dedup_by_key(|m| m.uid);
    messages
        .into_iter()
        .map(|m| {
            let flags = canonical(m.flags);
            let id = match table.find(&flags) {
                Some(id) => id,
                None => Arc::make_mut(table).intern(flags.into()),
            };
            Record {
                modseq: m.modseq,
                received_at: m.received_at,
                uid: m.uid,
                flags: id,
                size: u32::try_from(m.size).unwrap_or(u32::MAX),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FLAGS: [&str; 5] = ["\\Seen", "\\Deleted", "$Junk", "$Work", "Later"];

    fn flags(mask: u8) -> Vec<String> {
        let set = FLAGS
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0);
        set.map(|(_, f)| f.to_string()).collect()
    }

    fn message(uid: u32, mask: u8, modseq: u64) -> MessageState {
        MessageState {
            uid,
            flags: flags(mask),
            modseq,
            size: u64::from(uid) * 7,
            received_at: i64::from(uid),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A chain of deltas (appends, flag changes, expunges, some of them in one
        /// delta) equals a full re-read after every step: the messages, the flat
        /// slice, look-ups by UID and the keywords in use.
        #[test]
        fn deltas_equal_a_re_read(
            initial in prop::collection::vec(any::<u8>(), 0..20),
            steps in prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..6),
                 prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
                 any::<u32>()),
                0..15),
        ) {
            let mut modseq = 1;
            let mut store: Vec<MessageState> = initial
                .iter()
                .enumerate()
                .map(|(i, &f)| message(i as u32 + 1, f, 1))
                .collect();
            let mut next_uid = store.len() as u32 + 1;
            let mut snap = Snapshot::new(store.clone(), modseq);
            for (appends, changes, expunge) in steps {
                let since = modseq;
                let mut expunged = Vec::new();
                for f in appends {
                    modseq += 1;
                    store.push(message(next_uid, f, modseq));
                    next_uid += 1;
                }
                for (i, f) in changes {
                    if !store.is_empty() {
                        modseq += 1;
                        let k = i.index(store.len());
                        store[k] = message(store[k].uid, f, modseq);
                    }
                }
                let mut k = 0u32;
                store.retain(|m| {
                    k += 1;
                    let go = expunge & (1 << (k % 32)) != 0 && k.is_multiple_of(3);
                    if go {
                        expunged.push(m.uid);
                    }
                    !go
                });
                if !expunged.is_empty() {
                    modseq += 1;
                }
                let changed: Vec<MessageState> =
                    store.iter().filter(|m| m.modseq > since).cloned().collect();
                // A message changed and then expunged in the same delta: both lists.
                let mut changed_too = changed.clone();
                if let Some(&uid) = expunged.first() {
                    changed_too.push(message(uid, 1, modseq));
                }
                snap = snap.apply(changed_too, &expunged, modseq);
                let full = Snapshot::new(store.clone(), modseq);
                prop_assert_eq!(snap.states(), full.states());
                prop_assert_eq!(snap.keywords(), full.keywords());
                prop_assert_eq!(snap.len(), store.len());
                prop_assert_eq!(snap.records().len(), store.len());
                prop_assert!(snap.records().iter().eq(snap.list().iter()));
                for m in &store {
                    let r = snap.get(m.uid).expect("present");
                    let want = canonical(m.flags.clone());
                    prop_assert_eq!(snap.flags(r.flags), want.as_slice());
                }
                for uid in &expunged {
                    prop_assert!(snap.get(*uid).is_none());
                }
                prop_assert_eq!(snap.highest_modseq(), modseq);
            }
        }
    }
}
