//! Delivery: implements the queue's [`queue::Deliver`] seam.
//!
//! Where it sits: called by the queue runner for each due message. [`Router`] splits the
//! recipients: those in a local domain go to [`local`] (filed into the account's INBOX
//! through the store, atomically with marking the recipient done); the rest wait for the
//! outbound relay, which a later part of Postie adds, and stay queued with a temporary
//! failure.
//!
//! Security stance: writes only through the `Store` trait; no network yet.

pub mod local;

use async_trait::async_trait;
use queue::{Attempt, Deliver};
use std::sync::Arc;
use store::{QueuedMessage, Store};

/// Routes each recipient to local delivery or keeps it queued for relay.
pub struct Router {
    store: Arc<dyn Store>,
}

impl Router {
    /// A router over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Router { store }
    }
}

#[async_trait]
impl Deliver for Router {
    async fn deliver(
        &self,
        message: &QueuedMessage,
        _body: &[u8],
        pending: &[usize],
    ) -> Vec<(usize, Attempt)> {
        let mut results = Vec::with_capacity(pending.len());
        for &index in pending {
            let address = &message.envelope.recipients[index];
            let attempt = match self.store.domain_is_local(address.domain()).await {
                Ok(true) => local::deliver(self.store.as_ref(), message, index).await,
                Ok(false) => Attempt::Temporary(
                    "4.4.1 outbound relay is not available yet; message kept in queue".into(),
                ),
                Err(e) => Attempt::Temporary(format!("4.3.0 storage error: {e}")),
            };
            results.push((index, attempt));
        }
        results
    }
}
