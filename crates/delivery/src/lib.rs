//! Delivery: implements the queue's [`queue::Deliver`] seam.
//!
//! Where it sits: called by the queue runner for each due message. [`Router`] routes
//! each recipient through [`route::Resolver`]: local accounts (directly or by alias) go
//! to [`local`] (filed into the account's INBOX through the store, atomically with
//! marking the recipient done); the rest wait for the outbound relay, which a later part
//! of Postie adds, and stay queued with a temporary failure.
//!
//! Security stance: writes only through the `Store` trait; no network yet.

pub mod local;
pub mod route;

use async_trait::async_trait;
use queue::{Attempt, Deliver};
use route::{Resolver, Route};
use std::sync::Arc;
use store::{QueuedMessage, Store};

/// Routes each recipient to local delivery or keeps it queued for relay.
pub struct Router {
    store: Arc<dyn Store>,
    resolver: Arc<Resolver>,
}

impl Router {
    /// A router over `store`, resolving recipients with `resolver`.
    pub fn new(store: Arc<dyn Store>, resolver: Arc<Resolver>) -> Self {
        Router { store, resolver }
    }
}

#[async_trait]
impl Deliver for Router {
    async fn deliver(&self, message: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        let mut results = Vec::with_capacity(pending.len());
        for &index in pending {
            let address = &message.envelope.recipients[index];
            let attempt = match self.resolver.route(address).await {
                Ok(Route::Local(account)) => {
                    local::deliver(self.store.as_ref(), message, index, &account).await
                }
                // The account went away after the message was accepted.
                Ok(Route::Unknown) => Attempt::Permanent("5.1.1 no such user".into()),
                Ok(Route::Remote) => Attempt::Temporary(
                    "4.4.1 outbound relay is not available yet; message kept in queue".into(),
                ),
                Err(e) => Attempt::Temporary(format!("4.3.0 storage error: {e}")),
            };
            results.push((index, attempt));
        }
        results
    }
}
