//! Process-wide "an account's mailboxes changed" notifications, so that IMAP IDLE
//! (RFC 2177) reports new mail and other sessions' flag changes and expunges at once.
//!
//! Where it sits: in [`crate::listen::Shared`]. The SMTP driver publishes after it
//! files a message into local INBOXes, every IMAP session after it changes a mailbox
//! (SUBSCRIBE and UNSUBSCRIBE included, for NOTIFY's SubscriptionChange); idling
//! sessions, and sessions with a NOTIFY (RFC 5465) in force between commands, re-read
//! the store when their account is named. The feed names only the account: what
//! changed is found by comparing with the store ([`super::notify`]).
//! With several nodes on one database (PostgreSQL), each publication is also announced
//! to the other nodes through the store's change feed (`Store::change_announce`), and
//! what the other nodes announce comes back in through [`MailChanges::hear_from_store`]
//! (`Store::change_listen`), so IDLE on one node hears a delivery or a STORE on another
//! at once. Deliveries nobody announces (a notice lost while the feed reconnects) are
//! caught by the idle loop's one-second poll of the store.

use std::sync::Arc;

use store::{AccountId, Change, Store};
use tokio::sync::broadcast;

/// How many notifications may wait for a slow subscriber; beyond that it just learns
/// that it lagged, and re-reads the store anyway.
const CAPACITY: usize = 1024;

/// The publisher side; cheap to share.
pub(crate) struct MailChanges {
    tx: broadcast::Sender<i64>,
    /// The store whose other nodes hear of each change; `None` in tests.
    store: Option<Arc<dyn Store>>,
}

impl Default for MailChanges {
    fn default() -> Self {
        MailChanges {
            tx: broadcast::channel(CAPACITY).0,
            store: None,
        }
    }
}

impl MailChanges {
    /// Changes published here are also announced to the other nodes of `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        MailChanges {
            store: Some(store),
            ..MailChanges::default()
        }
    }

    /// Says that `account`'s mailboxes changed: to this process's sessions at once, and
    /// to the other nodes' through the store (in the background; a failure is logged,
    /// their polls catch up).
    pub fn publish(&self, account: AccountId) {
        // No subscriber is not an error: nobody is idling.
        let _ = self.tx.send(account.0);
        if let Some(store) = &self.store {
            let store = store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.change_announce(Change::Mailboxes(account)).await {
                    tracing::debug!(error = %e, "could not announce a mailbox change");
                }
            });
        }
    }

    /// Starts hearing the other nodes' changes (when the store has other nodes):
    /// mailbox changes reach this process's sessions as if published here, queue
    /// notices wake `queue`'s runner.
    pub fn hear_from_store(&self, queue: queue::QueueHandle) {
        let Some(store) = &self.store else {
            return;
        };
        let tx = self.tx.clone();
        let listening = store.change_listen(Arc::new(move |change| match change {
            Change::Mailboxes(account) => {
                let _ = tx.send(account.0);
            }
            Change::Queue => queue.notify(),
        }));
        if listening {
            tracing::info!("hearing other nodes' changes through the store");
        }
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
