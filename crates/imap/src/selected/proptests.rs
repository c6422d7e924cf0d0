//! Property test: random histories of store changes (deliveries, expunges, flag changes
//! by others, this session's own STOREs) interleaved with `take_updates(random)`.
//!
//! A model client applies every update exactly as RFC 3501 says a client must (EXPUNGE n
//! removes the n-th message at once, EXISTS appends, FETCH replaces flags) and learns
//! nothing else except by fetching from the store. After each step the model's mailbox,
//! the `Selected` view and the store must agree as the RFCs require.
//!
//! Snapshots move forward by deltas, as the server's do: the messages whose
//! mod-sequence is above the last snapshot's and the UIDs expunged since, applied with
//! `Snapshot::apply`; each must equal a full re-read. A second session shares the
//! snapshots, syncing and taking its updates at every step: what one session is shown
//! or adopts never leaks into the other.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;

use super::{MessageState, Selected, Snapshot, Update};
use crate::sequence::SequenceSet;

const FLAGS: [&str; 4] = ["\\Seen", "\\Flagged", "\\Deleted", "$Junk"];

fn flags(mask: u8) -> Vec<String> {
    let set = FLAGS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0);
    let mut out: Vec<String> = set.map(|(_, f)| f.to_string()).collect();
    out.sort();
    out
}

#[derive(Debug, Clone)]
enum Op {
    /// A delivery.
    Append(u8),
    /// Another session expunges the store's messages whose bit is set.
    Expunge(u64),
    /// Another session sets one message's flags.
    Flags(Index, u8),
    /// This session's STORE on messages its client knows.
    OwnStore(Vec<Index>, u8, bool),
    /// The driver sends what may be sent now.
    Take(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<u8>().prop_map(Op::Append),
        2 => any::<u64>().prop_map(|m| Op::Expunge(m & m.rotate_left(17))), // ~1/4 each
        3 => (any::<Index>(), any::<u8>()).prop_map(|(i, f)| Op::Flags(i, f)),
        2 => (prop::collection::vec(any::<Index>(), 1..4), any::<u8>(), any::<bool>())
            .prop_map(|(i, f, s)| Op::OwnStore(i, f, s)),
        4 => any::<bool>().prop_map(Op::Take),
    ]
}

/// The store: the truth every snapshot is read from.
struct Store {
    messages: Vec<MessageState>,
    next_uid: u32,
    modseq: u64,
    /// The mod-sequence at which each expunged UID went (RFC 7162 §3.2).
    expunged_at: BTreeMap<u32, u64>,
}

impl Store {
    fn get(&self, uid: u32) -> Option<&MessageState> {
        self.messages.iter().find(|m| m.uid == uid)
    }

    fn set_flags(&mut self, uid: u32, mask: u8) {
        self.modseq += 1;
        let modseq = self.modseq;
        let m = self
            .messages
            .iter_mut()
            .find(|m| m.uid == uid)
            .expect("present");
        m.flags = flags(mask);
        m.modseq = modseq;
    }
}

/// The client as RFC 3501 describes it: only updates and its own fetches change it.
#[derive(Debug, Clone)]
struct Known {
    uid: u32,
    flags: Option<Vec<String>>,
    modseq: Option<u64>,
}

struct World {
    store: Store,
    /// The newest snapshot, moved forward by deltas.
    chain: Arc<Snapshot>,
    sel: Selected,
    /// Another session of the same mailbox, always up to date.
    other: Selected,
    client: Vec<Known>,
    condstore: bool,
    qresync: bool,
    /// UIDs whose FETCH echo this session's STORE is owed.
    echo: BTreeSet<u32>,
}

impl World {
    fn new(initial: Vec<u8>, condstore: bool, qresync: bool) -> Self {
        let messages: Vec<MessageState> = initial
            .iter()
            .enumerate()
            .map(|(i, &f)| MessageState {
                uid: 2 * i as u32 + 1,
                flags: flags(f),
                modseq: 1,
                size: u64::from(f) * 100,
                received_at: i as i64,
            })
            .collect();
        let client = messages
            .iter()
            .map(|m| Known {
                uid: m.uid,
                flags: Some(m.flags.clone()),
                modseq: Some(m.modseq),
            })
            .collect();
        let next_uid = 2 * messages.len() as u32 + 1;
        let chain = Arc::new(Snapshot::new(messages.clone(), 1));
        let mut sel = Selected::new(42, Arc::clone(&chain), false);
        let other = Selected::new(42, Arc::clone(&chain), false);
        if qresync {
            sel.enable_qresync();
        } else if condstore {
            sel.enable_condstore();
        }
        World {
            store: Store {
                messages,
                next_uid,
                modseq: 1,
                expunged_at: BTreeMap::new(),
            },
            chain,
            sel,
            other,
            client,
            condstore: condstore || qresync,
            qresync,
            echo: BTreeSet::new(),
        }
    }

    /// Moves the snapshot forward by the store's delta since it, checks it against a
    /// full re-read, and gives it to both sessions.
    fn sync(&mut self) -> Result<(), TestCaseError> {
        let since = self.chain.highest_modseq();
        let changed: Vec<MessageState> = self
            .store
            .messages
            .iter()
            .filter(|m| m.modseq > since)
            .cloned()
            .collect();
        let expunged: Vec<u32> = self
            .store
            .expunged_at
            .iter()
            .filter(|(_, m)| **m > since)
            .map(|(uid, _)| *uid)
            .collect();
        let next = self.chain.apply(changed, &expunged, self.store.modseq);
        let full = self
            .chain
            .replace(self.store.messages.clone(), self.store.modseq);
        prop_assert_eq!(next.states(), full.states(), "delta differs from a re-read");
        prop_assert_eq!(next.highest_modseq(), self.store.modseq);
        self.chain = Arc::new(next);
        self.sel.sync(Arc::clone(&self.chain));
        self.other.sync(Arc::clone(&self.chain));
        let _ = self.other.take_updates(true);
        prop_assert!(
            self.other.shares_snapshot(),
            "an up-to-date view has no copy"
        );
        let other: Vec<u32> = self.other.messages().map(|(_, uid)| uid).collect();
        let store: Vec<u32> = self.store.messages.iter().map(|m| m.uid).collect();
        prop_assert_eq!(other, store);
        for m in &self.store.messages {
            prop_assert_eq!(self.other.flags(m.uid), Some(m.flags.as_slice()));
        }
        Ok(())
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Append(mask) => {
                self.store.modseq += 1;
                let uid = self.store.next_uid;
                // Skip a UID now and then, as expunged-before-seen deliveries would.
                self.store.next_uid += 1 + u32::from(mask & 0x80 != 0);
                let m = MessageState {
                    uid,
                    flags: flags(mask),
                    modseq: self.store.modseq,
                    size: u64::from(mask),
                    received_at: i64::from(uid),
                };
                self.store.messages.push(m);
                self.sync()?;
            }
            Op::Expunge(bits) => {
                let modseq = self.store.modseq + 1;
                let mut i = 0;
                let expunged_at = &mut self.store.expunged_at;
                self.store.messages.retain(|m| {
                    let keep = bits & (1 << (i % 64)) == 0;
                    i += 1;
                    if !keep {
                        expunged_at.insert(m.uid, modseq);
                    }
                    keep
                });
                self.store.modseq = modseq;
                self.sync()?;
            }
            Op::Flags(pick, mask) => {
                if !self.store.messages.is_empty() {
                    let uid = self.store.messages[pick.index(self.store.messages.len())].uid;
                    self.store.set_flags(uid, mask);
                    self.sync()?;
                }
            }
            Op::OwnStore(picks, mask, silent) => self.own_store(&picks, mask, silent)?,
            Op::Take(allow) => {
                let updates = self.sel.take_updates(allow);
                self.apply(&updates, allow)?;
                self.check_after_take(allow)?;
            }
        }
        self.check_always()
    }

    /// STORE on messages the client can name that still exist; the client computes the
    /// result itself when it asked for .SILENT.
    fn own_store(&mut self, picks: &[Index], mask: u8, silent: bool) -> Result<(), TestCaseError> {
        let live: Vec<u32> = self
            .client
            .iter()
            .map(|k| k.uid)
            .filter(|&u| self.store.get(u).is_some())
            .collect();
        if live.is_empty() {
            return Ok(());
        }
        let uids: BTreeSet<u32> = picks.iter().map(|p| live[p.index(live.len())]).collect();
        for &uid in &uids {
            self.store.set_flags(uid, mask);
        }
        self.sync()?;
        let uids: Vec<u32> = uids.into_iter().collect();
        self.sel.note_own_store(&uids, silent);
        if silent && !self.condstore {
            for k in self.client.iter_mut().filter(|k| uids.contains(&k.uid)) {
                k.flags = Some(flags(mask));
            }
        } else {
            self.echo.extend(uids);
        }
        Ok(())
    }

    /// Applies one batch as a client would, checking each update is valid when it
    /// arrives: numbers in range, UIDs matching, nothing about unannounced messages.
    fn apply(&mut self, updates: &[Update], allow: bool) -> Result<(), TestCaseError> {
        let before: BTreeSet<u32> = self.client.iter().map(|k| k.uid).collect();
        let mut fetched = BTreeSet::new();
        for update in updates {
            match update {
                Update::Expunge(n) => {
                    prop_assert!(allow && !self.qresync, "EXPUNGE not allowed now");
                    prop_assert!(
                        (1..=self.client.len() as u32).contains(n),
                        "EXPUNGE {n} out of range"
                    );
                    let gone = self.client.remove(*n as usize - 1);
                    prop_assert!(
                        self.store.get(gone.uid).is_none(),
                        "expunged a live message"
                    );
                }
                Update::Vanished(uids) => {
                    prop_assert!(allow && self.qresync, "VANISHED not allowed now");
                    prop_assert!(!uids.is_empty() && uids.windows(2).all(|w| w[0] < w[1]));
                    for uid in uids {
                        let at = self.client.iter().position(|k| k.uid == *uid);
                        prop_assert!(at.is_some(), "VANISHED names unknown UID {uid}");
                        self.client.remove(at.unwrap_or_default());
                        prop_assert!(self.store.get(*uid).is_none(), "vanished a live message");
                    }
                }
                Update::Exists(n) => {
                    let len = self.client.len() as u32;
                    prop_assert!(*n > len, "EXISTS {n} does not grow {len}");
                    let known_max = self.client.iter().map(|k| k.uid).max().unwrap_or(0);
                    let new: Vec<u32> = self
                        .store
                        .messages
                        .iter()
                        .map(|m| m.uid)
                        .filter(|&u| u > known_max)
                        .collect();
                    prop_assert_eq!(
                        new.len() as u32,
                        n - len,
                        "EXISTS does not count the new messages"
                    );
                    self.client.extend(new.into_iter().map(|uid| Known {
                        uid,
                        flags: None,
                        modseq: None,
                    }));
                }
                Update::Fetch {
                    seq,
                    uid,
                    flags,
                    modseq,
                } => {
                    prop_assert!(
                        (1..=self.client.len() as u32).contains(seq),
                        "FETCH {seq} out of range"
                    );
                    prop_assert!(before.contains(uid), "FETCH for unannounced UID {uid}");
                    prop_assert!(fetched.insert(*uid), "two FETCHes for UID {uid}");
                    let k = &mut self.client[*seq as usize - 1];
                    prop_assert_eq!(k.uid, *uid, "FETCH {} names the wrong UID", seq);
                    let m = self.store.get(*uid);
                    prop_assert!(m.is_some(), "FETCH for expunged UID {uid}");
                    let m = m.cloned().unwrap_or_else(|| unreachable!());
                    prop_assert_eq!(flags, &m.flags);
                    prop_assert_eq!(*modseq, self.condstore.then_some(m.modseq));
                    k.flags = Some(flags.clone());
                    if let Some(ms) = modseq {
                        k.modseq = Some(*ms);
                    }
                }
            }
        }
        for uid in std::mem::take(&mut self.echo) {
            let owed = before.contains(&uid) && self.store.get(uid).is_some();
            prop_assert!(
                !owed || fetched.contains(&uid),
                "own STORE on {uid} not echoed"
            );
        }
        Ok(())
    }

    /// After a batch: the client has been told everything it may be told.
    fn check_after_take(&mut self, allow: bool) -> Result<(), TestCaseError> {
        let client: BTreeSet<u32> = self.client.iter().map(|k| k.uid).collect();
        for m in &self.store.messages {
            prop_assert!(client.contains(&m.uid), "UID {} never announced", m.uid);
        }
        let pending: Vec<u32> = client
            .iter()
            .copied()
            .filter(|&u| self.store.get(u).is_none())
            .collect();
        if allow {
            prop_assert!(pending.is_empty(), "expunges left pending: {:?}", pending);
        }
        prop_assert_eq!(self.sel.pending_expunges(), pending.len());
        for uid in &pending {
            prop_assert!(self.sel.is_expunged(*uid));
            prop_assert!(self.sel.highest_modseq() < self.store.expunged_at[uid]);
        }
        if pending.is_empty() {
            prop_assert_eq!(self.sel.highest_modseq(), self.store.modseq);
        }
        for k in &mut self.client {
            let Some(m) = self.store.get(k.uid) else {
                continue;
            };
            prop_assert!(!self.sel.is_expunged(k.uid));
            prop_assert_eq!(self.sel.flags(k.uid), Some(m.flags.as_slice()));
            match &k.flags {
                Some(f) => prop_assert_eq!(f, &m.flags, "client missed a flag change on {}", k.uid),
                // The client fetches what it has not seen yet.
                None => k.flags = Some(m.flags.clone()),
            }
            if self.condstore {
                match k.modseq {
                    Some(ms) => {
                        prop_assert_eq!(ms, m.modseq, "client missed a MODSEQ change on {}", k.uid)
                    }
                    None => k.modseq = Some(m.modseq),
                }
            }
        }
        Ok(())
    }

    /// After every step, synced or not: the server numbers messages as the client does.
    fn check_always(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(self.sel.exists() as usize, self.client.len());
        let uids: Vec<u32> = self.client.iter().map(|k| k.uid).collect();
        prop_assert!(uids.windows(2).all(|w| w[0] < w[1]), "UIDs not ascending");
        for (i, &uid) in uids.iter().enumerate() {
            let seq = i as u32 + 1;
            prop_assert_eq!(self.sel.uid_of(seq), Some(uid));
            prop_assert_eq!(self.sel.seq_of(uid), Some(seq));
        }
        let pairs: Vec<(u32, u32)> = uids
            .iter()
            .enumerate()
            .map(|(i, &u)| (i as u32 + 1, u))
            .collect();
        let all = SequenceSet::parse("1:*").expect("valid");
        if !uids.is_empty() {
            prop_assert_eq!(self.sel.resolve(&all, false), Ok(pairs.clone()));
        }
        prop_assert_eq!(self.sel.resolve(&all, true), Ok(pairs));
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn client_and_server_stay_in_step(
        initial in prop::collection::vec(any::<u8>(), 0..8),
        ops in prop::collection::vec(op(), 0..40),
        condstore in any::<bool>(),
        qresync in any::<bool>(),
    ) {
        let mut world = World::new(initial, condstore, qresync);
        world.check_always()?;
        for op in ops {
            world.step(op)?;
        }
        // A final NOOP brings the client fully up to date.
        world.step(Op::Take(true))?;
        let client: Vec<u32> = world.client.iter().map(|k| k.uid).collect();
        let store: Vec<u32> = world.store.messages.iter().map(|m| m.uid).collect();
        prop_assert_eq!(client, store);
    }
}
