//! Queue claims (leases) for [`super::MemoryStore`]: which node works on which entry,
//! as methods on the locked state.
//!
//! Where it sits: the `Store` impl in `memory.rs` calls these while holding the
//! state's lock, so choosing the claimable entries and leasing them is one atomic
//! step, as the SQLite backend's writer job is (`sqlite/queue.rs`); the behaviour
//! suite (`src/suite/queue_claims.rs`) holds the two to one contract.

use message::QueueId;

use super::{Entry, State};
use crate::RecipientStatus;

/// A lease on a queue entry: the node holding it and when it expires (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lease {
    pub(super) node: String,
    pub(super) until: i64,
}

impl Entry {
    /// Due as `Store::queue_due` counts it: not held, a pending recipient due by `now`.
    fn due_at(&self, now: i64) -> bool {
        !self.held
            && self.statuses.iter().any(|st| {
                matches!(st, RecipientStatus::Pending { next_attempt, .. } if *next_attempt <= now)
            })
    }

    /// Nobody but `node` holds a live lease on it at `now`.
    fn claimable_by(&self, node: &str, now: i64) -> bool {
        self.lease
            .as_ref()
            .is_none_or(|l| l.until <= now || l.node == node)
    }
}

impl State {
    /// See `Store::queue_claim`. Oldest first, as `queue_due` orders them here.
    pub(super) fn queue_claim(
        &mut self,
        node: &str,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Vec<QueueId> {
        let mut ids: Vec<(i64, QueueId)> = self
            .queue
            .iter()
            .filter(|(_, e)| e.due_at(now) && e.claimable_by(node, now))
            .map(|(id, e)| (e.queued_at, *id))
            .collect();
        ids.sort();
        ids.truncate(limit);
        ids.into_iter()
            .map(|(_, id)| {
                if let Some(e) = self.queue.get_mut(&id) {
                    e.lease = Some(Lease {
                        node: node.to_owned(),
                        until: lease_until,
                    });
                }
                id
            })
            .collect()
    }

    /// See `Store::queue_renew`.
    pub(super) fn queue_renew(
        &mut self,
        node: &str,
        ids: &[QueueId],
        lease_until: i64,
    ) -> Vec<QueueId> {
        ids.iter()
            .copied()
            .filter(|id| {
                match self
                    .queue
                    .get_mut(id)
                    .and_then(|e| e.lease.as_mut())
                    .filter(|l| l.node == node)
                {
                    Some(lease) => {
                        lease.until = lease_until;
                        true
                    }
                    None => false,
                }
            })
            .collect()
    }

    /// See `Store::queue_release`.
    pub(super) fn queue_release(&mut self, node: &str, id: QueueId) {
        if let Some(e) = self.queue.get_mut(&id)
            && e.lease.as_ref().is_some_and(|l| l.node == node)
        {
            e.lease = None;
        }
    }
}
