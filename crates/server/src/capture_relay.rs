//! The queue's deliverer in capture mode: capture never relays. SMTP files captured
//! mail straight into the capture inboxes ([`crate::capture`]), so the queue only ever
//! holds what the capture UI explicitly releases (enqueued by the web face), and the
//! reports the queue makes about those.
//!
//! - Without `relay.smarthost` there is no outbound relay at all: remote recipients
//!   stay queued (temporary failure) and nothing touches the network.
//! - With one, every remote recipient goes through the smarthost, whatever
//!   `relay.domains` says; never to an MX.
//! - Delivery status notifications (bounces, delay warnings, success reports: every
//!   message with the null sender) are never sent anywhere: they fail at once,
//!   permanently, and a failure with the null sender makes no further report.
//!
//! Where it sits: [`crate::run_with_store`] plugs [`router`] into the queue runner
//! instead of the normal router when `capture.enabled`.

use crate::ServerError;
use async_trait::async_trait;
use queue::{Attempt, Deliver, Outcomes};
use std::sync::Arc;
use store::{QueuedMessage, Store};
use tokio::sync::watch;

/// The queue's deliverer in capture mode (see the module docs).
pub(crate) fn router(
    config: &config::Config,
    store: Arc<dyn Store>,
    resolver: Arc<delivery::route::Resolver>,
    stop: watch::Receiver<bool>,
) -> Result<Arc<dyn Deliver>, ServerError> {
    let mut router = delivery::Router::new(store, resolver);
    if config.relay.smarthost.is_some() {
        let mut config = config.clone();
        // Everything through the smarthost, never an MX.
        config.relay.domains.clear();
        router = router.with_relay(crate::outbound::relay(&config, None, stop)?);
    }
    Ok(Arc::new(NoReports(router)))
}

/// Fails every message with the null sender (a report) permanently; hands the rest
/// to the inner deliverer.
struct NoReports<D>(D);

/// Why a report is not sent.
const NO_REPORTS: &str = "5.7.1 capture mode sends no delivery reports";

/// Whether `message` is a delivery report (the null sender).
fn is_report(message: &QueuedMessage) -> bool {
    message.envelope.sender.is_none()
}

#[async_trait]
impl<D: Deliver> Deliver for NoReports<D> {
    async fn deliver(&self, message: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        if is_report(message) {
            return refused(pending);
        }
        self.0.deliver(message, pending).await
    }

    async fn deliver_reporting(
        &self,
        message: &QueuedMessage,
        pending: &[usize],
        outcomes: &mut dyn Outcomes,
    ) {
        if is_report(message) {
            tracing::info!(queue_id = %message.id, "capture: delivery report dropped");
            return outcomes.report(refused(pending)).await;
        }
        self.0.deliver_reporting(message, pending, outcomes).await
    }
}

fn refused(pending: &[usize]) -> Vec<(usize, Attempt)> {
    pending
        .iter()
        .map(|&i| (i, Attempt::Permanent(NO_REPORTS.into())))
        .collect()
}
