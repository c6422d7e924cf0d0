//! POP3 maildrop locks for [`super::MemoryStore`]: who holds which maildrop, until
//! when, as methods on the locked state.
//!
//! Where it sits: the `Store` impl in `memory.rs` calls these while holding the
//! state's lock, so the check and the set are one atomic step, as the SQLite backend's
//! writer job is (`sqlite/maildrop.rs`); the behaviour suite (`src/suite/maildrop.rs`)
//! holds the two to one contract.

use super::State;
use crate::{MailboxId, Result, StoreError};

/// A maildrop lock: the session holding it and when its lease expires (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MaildropLock {
    holder: String,
    until: i64,
}

impl State {
    /// See `Store::maildrop_lock`.
    pub(super) fn maildrop_lock(
        &mut self,
        mailbox: MailboxId,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool> {
        self.maildrop_prune();
        if !self.folders.contains_key(&mailbox.0) {
            return Err(StoreError::mailbox_gone());
        }
        let free = self
            .maildrop_locks
            .get(&mailbox.0)
            .is_none_or(|l| l.until <= now || l.holder == holder);
        if free {
            self.maildrop_locks.insert(
                mailbox.0,
                MaildropLock {
                    holder: holder.to_owned(),
                    until,
                },
            );
        }
        Ok(free)
    }

    /// See `Store::maildrop_unlock`.
    pub(super) fn maildrop_unlock(&mut self, mailbox: MailboxId, holder: &str) {
        if self
            .maildrop_locks
            .get(&mailbox.0)
            .is_some_and(|l| l.holder == holder)
        {
            self.maildrop_locks.remove(&mailbox.0);
        }
        self.maildrop_prune();
    }

    /// Drops the locks of mailboxes that are gone (deleted, or their account removed),
    /// as the SQLite backend's ON DELETE CASCADE does.
    fn maildrop_prune(&mut self) {
        let folders = &self.folders;
        self.maildrop_locks.retain(|id, _| folders.contains_key(id));
    }
}
