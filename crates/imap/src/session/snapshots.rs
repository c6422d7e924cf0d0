//! The newest [`Snapshot`] of every mailbox some IMAP session has selected, shared by
//! all of that mailbox's sessions and moved forward with the store's deltas.
//!
//! Where it sits: in the server's shared state. SELECT/EXAMINE opens the mailbox's
//! entry ([`Snapshots::open`]) and keeps it in the session's `Open`; before each tagged
//! reply, during IDLE and before FETCH/SEARCH/STORE answer from memory, the session
//! calls [`MailboxState::refresh`], which asks the store only for what changed after
//! the snapshot's mod-sequence ([`store_api::Store::message_changes_since`]: a few indexed
//! look-ups when nothing did) and applies it. So a 100,000-message mailbox is read in
//! full once, when its first session selects it, and every later command costs only
//! its own changes; and the sessions share one list instead of holding a copy each.
//!
//! The [`RETAINED`] most recently selected mailboxes stay in memory after their last
//! session closes, so a client that connects, selects and logs out again (a phone
//! polling) gets its next SELECT from a delta too; older ones are dropped.
//!
//! Invariants: one entry per mailbox id while any session holds it or it is retained
//! (the map keeps weak references), and every snapshot of an entry is made from the
//! one before by `apply`/`replace`, one at a time under the entry's lock, so all of
//! them are one lineage: flag set ids mean the same in all, which
//! [`crate::selected::Selected`] relies on.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};

use crate::selected::{MessageState, Snapshot};
use store_api::{ImapMessage, Mailbox, MailboxId, Store, StoreError};

/// A store message as a snapshot takes it.
pub fn state(m: ImapMessage) -> MessageState {
    MessageState {
        uid: m.uid,
        flags: m.flags,
        modseq: m.modseq,
        size: m.size,
        received_at: m.received_at,
    }
}

/// How many recently selected mailboxes stay in memory with no session open.
pub const RETAINED: usize = 16;

/// The open mailboxes (see the module docs).
pub struct Snapshots {
    inner: Mutex<Inner>,
    retain: usize,
}

struct Inner {
    /// Every entry some session or `recent` holds.
    open: HashMap<i64, Weak<MailboxState>>,
    /// The most recently opened entries, newest first, at most `retain`.
    recent: VecDeque<Arc<MailboxState>>,
}

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots::with_retention(RETAINED)
    }
}

impl Snapshots {
    /// Keeping `retain` recently selected mailboxes with no session open.
    pub fn with_retention(retain: usize) -> Self {
        Snapshots {
            inner: Mutex::new(Inner {
                open: HashMap::new(),
                recent: VecDeque::new(),
            }),
            retain,
        }
    }

    /// The shared state of mailbox `id`, created (empty, filled by the first
    /// [`MailboxState::refresh`]) when no session has it open and it is not retained.
    pub fn open(&self, id: MailboxId) -> Arc<MailboxState> {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = match inner.open.get(&id.0).and_then(Weak::upgrade) {
            Some(state) => state,
            None => {
                let state = Arc::new(MailboxState {
                    id,
                    current: futures_util::lock::Mutex::new(Arc::new(Snapshot::empty())),
                });
                inner.open.insert(id.0, Arc::downgrade(&state));
                state
            }
        };
        inner.recent.retain(|s| s.id != id);
        inner.recent.push_front(Arc::clone(&state));
        inner.recent.truncate(self.retain);
        inner.open.retain(|_, w| w.strong_count() > 0);
        state
    }

    /// How many mailboxes are in memory (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.open.values().filter(|w| w.strong_count() > 0).count()
    }
}

/// One open mailbox: its newest snapshot.
pub struct MailboxState {
    id: MailboxId,
    /// Locked across the store read, so snapshots are made one after the other.
    current: futures_util::lock::Mutex<Arc<Snapshot>>,
}

impl MailboxState {
    /// Brings the snapshot up to date with the store and returns it with the
    /// mailbox's current record (name, UIDNEXT, HIGHESTMODSEQ). `NotFound` when the
    /// mailbox was deleted.
    pub async fn refresh(&self, store: &dyn Store) -> Result<(Arc<Snapshot>, Mailbox), StoreError> {
        let mut current = self.current.lock().await;
        let since = current.highest_modseq();
        let changes = store.message_changes_since(self.id, since).await?;
        let highest = changes.mailbox.highest_modseq;
        let changed: Vec<MessageState> = changes.changed.into_iter().map(state).collect();
        if changes.full {
            *current = Arc::new(current.replace(changed, highest));
        } else if !changed.is_empty() || !changes.expunged.is_empty() || highest != since {
            *current = Arc::new(current.apply(changed, &changes.expunged, highest));
        }
        Ok((Arc::clone(&current), changes.mailbox))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::memory::MemoryStore;

    async fn store_with_inbox() -> (MemoryStore, MailboxId) {
        let store = MemoryStore::new();
        let domain = message::Domain::parse("example.org").expect("domain");
        store.domain_add(&domain).await.expect("domain");
        let alice = message::Address::parse("alice@example.org").expect("address");
        let account = store.account_add(&alice, "x").await.expect("account");
        let inbox = store
            .mailbox_get(account, "INBOX")
            .await
            .expect("get")
            .expect("inbox");
        (store, inbox.id)
    }

    #[tokio::test]
    async fn sessions_share_one_snapshot_moved_by_deltas() {
        let (store, inbox) = store_with_inbox().await;
        for n in 0..3 {
            store
                .message_append(inbox, b"Subject: x\r\n\r\nbody", &[], n)
                .await
                .expect("append");
        }
        let snapshots = Snapshots::default();
        let a = snapshots.open(inbox);
        let b = snapshots.open(inbox);
        assert!(Arc::ptr_eq(&a, &b), "one entry per mailbox");
        let (first, mailbox) = a.refresh(&store).await.expect("refresh");
        assert_eq!(first.records().len(), 3);
        assert_eq!(mailbox.uid_next, 4);
        // Nothing changed: the very same snapshot, no copy.
        let (again, _) = b.refresh(&store).await.expect("refresh");
        assert!(Arc::ptr_eq(&first, &again));
        store
            .message_flags_set(
                inbox,
                &[2],
                store_api::FlagChange::Add,
                &["\\Seen".into()],
                None,
            )
            .await
            .expect("store");
        let (next, _) = b.refresh(&store).await.expect("refresh");
        assert!(next.same_lineage(&first));
        let seen = next.get(2).expect("2").flags;
        assert!(next.has_flag(seen, "\\Seen"));
        assert_eq!(next.highest_modseq(), first.highest_modseq() + 1);
        // The last session gone, the entry stays while it is among the recent ones.
        drop((a, b));
        assert_eq!(snapshots.len(), 1);
        let (kept, _) = snapshots
            .open(inbox)
            .refresh(&store)
            .await
            .expect("refresh");
        assert!(Arc::ptr_eq(&kept, &next), "a retained snapshot is reused");
    }

    #[tokio::test]
    async fn only_the_recent_mailboxes_outlive_their_sessions() {
        let (store, inbox) = store_with_inbox().await;
        let snapshots = Snapshots::with_retention(1);
        let (first, _) = snapshots
            .open(inbox)
            .refresh(&store)
            .await
            .expect("refresh");
        // Another mailbox opened since: INBOX's entry is dropped with its session.
        let other = MailboxId(inbox.0 + 1);
        drop(snapshots.open(other));
        assert_eq!(snapshots.len(), 1);
        let c = snapshots.open(inbox);
        let (fresh, _) = c.refresh(&store).await.expect("refresh");
        assert!(
            !fresh.same_lineage(&first),
            "a new entry starts a new lineage"
        );
        assert_eq!(fresh.states(), first.states());
    }

    #[tokio::test]
    async fn a_deleted_mailbox_is_not_found() {
        let (store, inbox) = store_with_inbox().await;
        let snapshots = Snapshots::default();
        let missing = snapshots.open(MailboxId(inbox.0 + 1000));
        assert!(matches!(
            missing.refresh(&store).await,
            Err(StoreError::NotFound(_))
        ));
    }
}
