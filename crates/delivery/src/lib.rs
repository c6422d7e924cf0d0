//! Delivery: implements the queue's [`queue::Deliver`] seam.
//!
//! Where it sits: called by the queue runner for each due message. [`Router`] routes
//! each recipient through [`route::Resolver`]: local accounts (directly or by alias) go
//! to [`local`] (filed into the account's INBOX through the store, atomically with
//! marking the recipient done); the rest go to the outbound relay
//! ([`relay::outbound::Relay`]: MX or smarthost), each recipient domain its own job
//! (one transaction), run concurrently within the relay's connection limits. Outcomes
//! go to the queue as they are known ([`queue::Deliver::deliver_reporting`]): the local
//! ones first, then each domain's the moment its transaction ends, so that a slow or
//! silent server of one domain delays neither the other domains nor the recording of
//! what their servers took (RFC 5321 §6.1: responsibility passes at the 250). Without a
//! relay (tests), remote recipients stay queued.
//!
//! [`accept`] is the one door into the queue that every submitter (SMTP, the local
//! queue) goes through: pipeline, filing for local recipients, queueing for the rest.
//!
//! Security stance: writes only through the `Store` trait; the network only through the
//! relay, and only for recipients that passed the relay rules at acceptance.

pub mod accept;
pub mod local;
pub mod route;

use async_trait::async_trait;
use futures_util::StreamExt;
use queue::{Attempt, Deliver, Outcomes};
use relay::outbound::{Outcome, Relay};
use route::{Resolver, Route};
use std::sync::Arc;
use store::{QueuedMessage, Store};

/// Routes each recipient to local delivery or to the outbound relay.
pub struct Router {
    store: Arc<dyn Store>,
    resolver: Arc<Resolver>,
    relay: Option<Arc<Relay>>,
}

impl Router {
    /// A router over `store`, resolving recipients with `resolver`; without a relay
    /// (see [`Router::with_relay`]) remote recipients stay queued.
    pub fn new(store: Arc<dyn Store>, resolver: Arc<Resolver>) -> Self {
        Router {
            store,
            resolver,
            relay: None,
        }
    }

    /// Sends remote recipients through `relay`.
    pub fn with_relay(mut self, relay: Arc<Relay>) -> Self {
        self.relay = Some(relay);
        self
    }

    /// Delivers to the remote recipients at `remote` through the relay, the domains
    /// concurrently ([`Relay::deliver_each`]), handing each domain's outcomes to
    /// `outcomes` as its transaction ends.
    async fn relay(&self, message: &QueuedMessage, remote: &[usize], outcomes: &mut dyn Outcomes) {
        let everyone = |attempt: Attempt| remote.iter().map(|&i| (i, attempt.clone())).collect();
        let Some(relay) = &self.relay else {
            let attempt = Attempt::Temporary(
                "4.4.1 no outbound relay is configured; message kept in queue".into(),
            );
            return outcomes.report(everyone(attempt)).await;
        };
        let body = match self.store.queue_body(message.id).await {
            Ok(body) => body,
            Err(e) => {
                let attempt = Attempt::Temporary(format!("4.3.0 storage error: {e}"));
                return outcomes.report(everyone(attempt)).await;
            }
        };
        let envelope = &message.envelope;
        let outbound = relay::outbound::Message {
            sender: envelope.sender.as_ref(),
            recipients: &envelope.recipients,
            dsn: &envelope.dsn,
            body_type: envelope.body_type,
            smtputf8: envelope.smtputf8,
            body: &body,
            require_tls: envelope.require_tls,
        };
        let mut each = std::pin::pin!(relay.deliver_each(&outbound, remote));
        while let Some(done) = each.next().await {
            outcomes
                .report(done.into_iter().map(attempt_of).collect())
                .await;
        }
    }
}

/// The queue attempt a relay outcome is.
fn attempt_of((index, outcome): (usize, Outcome)) -> (usize, Attempt) {
    let attempt = match outcome {
        Outcome::Delivered { dsn_passed: true } => Attempt::Delivered,
        Outcome::Delivered { dsn_passed: false } => Attempt::Relayed,
        Outcome::Temporary(reason) => Attempt::Temporary(reason),
        Outcome::Permanent(reason) => Attempt::Permanent(reason),
    };
    (index, attempt)
}

#[async_trait]
impl Deliver for Router {
    async fn deliver(&self, message: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        let mut all = Vec::with_capacity(pending.len());
        self.deliver_reporting(message, pending, &mut all).await;
        all
    }

    async fn deliver_reporting(
        &self,
        message: &QueuedMessage,
        pending: &[usize],
        outcomes: &mut dyn Outcomes,
    ) {
        let mut results = Vec::with_capacity(pending.len());
        let mut remote = Vec::new();
        for &index in pending {
            let address = &message.envelope.recipients[index];
            let attempt = match self.resolver.route(address).await {
                Ok(Route::Local(account)) => {
                    local::deliver(self.store.as_ref(), message, index, &account).await
                }
                // The account went away after the message was accepted.
                Ok(Route::Unknown) => Attempt::Permanent("5.1.1 no such user".into()),
                Ok(Route::Remote) => {
                    remote.push(index);
                    continue;
                }
                Err(e) => Attempt::Temporary(format!("4.3.0 storage error: {e}")),
            };
            results.push((index, attempt));
        }
        if !results.is_empty() {
            outcomes.report(results).await;
        }
        if !remote.is_empty() {
            self.relay(message, &remote, outcomes).await;
        }
    }
}
