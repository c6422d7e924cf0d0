//! Exclusive mailbox locks for POP3 (RFC 1939 §8: one session per maildrop). Held by the
//! session's driver and released when the guard drops, however the connection ends.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use store::MailboxId;

/// The set of mailboxes locked in this process.
#[derive(Debug, Default)]
pub struct MailboxLocks {
    held: Arc<Mutex<HashSet<i64>>>,
}

/// A held lock; dropping it releases the mailbox.
#[derive(Debug)]
pub struct MailboxLock {
    held: Arc<Mutex<HashSet<i64>>>,
    id: i64,
}

impl MailboxLocks {
    /// Takes the lock on `mailbox`, or `None` when another session holds it.
    pub fn try_lock(&self, mailbox: MailboxId) -> Option<MailboxLock> {
        let mut held = self.held.lock().expect("mailbox locks");
        held.insert(mailbox.0).then(|| MailboxLock {
            held: self.held.clone(),
            id: mailbox.0,
        })
    }
}

impl Drop for MailboxLock {
    fn drop(&mut self) {
        self.held.lock().expect("mailbox locks").remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let locks = MailboxLocks::default();
        let first = locks.try_lock(MailboxId(7)).unwrap();
        assert!(locks.try_lock(MailboxId(7)).is_none());
        assert!(locks.try_lock(MailboxId(8)).is_some());
        drop(first);
        assert!(locks.try_lock(MailboxId(7)).is_some());
    }
}
