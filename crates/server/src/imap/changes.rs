//! Process-wide "an account's mailboxes changed" notifications, so that IMAP IDLE
//! (RFC 2177) reports new mail and other sessions' flag changes and expunges at once.
//!
//! Where it sits: in [`crate::listen::Shared`]. The SMTP driver publishes after it
//! files a message into local INBOXes, every IMAP session after it changes a mailbox
//! (SUBSCRIBE and UNSUBSCRIBE included, for NOTIFY's SubscriptionChange); idling
//! sessions, and sessions with a NOTIFY (RFC 5465) in force between commands, re-read
//! the store when their account is named. The feed names only the account: what
//! changed is found by comparing with the store ([`super::notify`]).
//! Deliveries this process does not see (the queue's retries, another process) are
//! caught by the idle loop's one-second poll of the store.

use store::AccountId;
use tokio::sync::broadcast;

/// How many notifications may wait for a slow subscriber; beyond that it just learns
/// that it lagged, and re-reads the store anyway.
const CAPACITY: usize = 1024;

/// The publisher side; cheap to share.
pub(crate) struct MailChanges {
    tx: broadcast::Sender<i64>,
}

impl Default for MailChanges {
    fn default() -> Self {
        MailChanges {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl MailChanges {
    /// Says that `account`'s mailboxes changed.
    pub fn publish(&self, account: AccountId) {
        // No subscriber is not an error: nobody is idling.
        let _ = self.tx.send(account.0);
    }

    /// A receiver for the notifications published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_hear_published_accounts() {
        let changes = MailChanges::default();
        changes.publish(AccountId(1)); // before anyone listens: dropped
        let mut rx = changes.subscribe();
        changes.publish(AccountId(7));
        assert_eq!(rx.recv().await.unwrap(), 7);
        assert!(rx.try_recv().is_err());
    }
}
