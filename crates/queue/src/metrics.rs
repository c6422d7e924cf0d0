//! Delivery outcomes as metrics: `postie_deliveries_total{result, domain}`, counted
//! through the `metrics` facade, which the server renders for Prometheus
//! (`server::metrics`; without an installed recorder the counts go nowhere).
//!
//! Where it sits: the queue runner counts each recipient's outcome as it books it
//! ([`crate::Taken`]: delivered, deferred, failed), and the one door into the queue
//! (`delivery::accept`) counts the recipients it files at acceptance as delivered.
//! The domain is the recipient's (A-labels, lower case), for local deliveries too.
//!
//! Cardinality is bounded: the first [`MAX_DOMAINS`] distinct domains this process
//! counts get a series of their own; every later one is counted under
//! `domain="other"`, so mail to many domains (or hostile recipient lists) cannot grow
//! the metrics without bound. Domains are never forgotten while the process runs.

use message::{Address, QueueId};
use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, OnceLock};

/// The counter's name.
pub const DELIVERIES: &str = "postie_deliveries_total";

/// At most this many distinct `domain` label values (besides [`OTHER`]).
pub const MAX_DOMAINS: usize = 1000;

/// The `domain` label of every domain past [`MAX_DOMAINS`].
pub const OTHER: &str = "other";

/// What became of one recipient in one attempt: the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Filed into a local mailbox or taken by the next hop.
    Delivered,
    /// Failed temporarily; tried again later.
    Deferred,
    /// Failed for good (a permanent failure, or the message expired).
    Failed,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Deferred => "deferred",
            Outcome::Failed => "failed",
        }
    }
}

/// How many outcomes [`recent`] keeps.
pub const RECENT: usize = 50;

/// One recipient's outcome, as [`recent`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noted {
    /// When, unix seconds.
    pub at: i64,
    /// The message's queue id.
    pub queue_id: QueueId,
    /// The recipient.
    pub recipient: String,
    /// What became of it.
    pub outcome: Outcome,
    /// The reason of a deferral or failure (empty when delivered).
    pub detail: String,
}

/// Counts one recipient's `outcome` under its domain, and keeps it in the ring of
/// [`recent`] outcomes with `detail` (the reason of a deferral or failure).
pub fn delivery(outcome: Outcome, queue_id: QueueId, recipient: &Address, detail: &str) {
    let domain = domains().label(recipient.domain().as_str());
    ::metrics::counter!(DELIVERIES, "result" => outcome.as_str(), "domain" => domain).increment(1);
    let mut ring = ring().lock().unwrap_or_else(|e| e.into_inner());
    if ring.len() == RECENT {
        ring.pop_back();
    }
    ring.push_front(Noted {
        at: crate::now_unix(),
        queue_id,
        recipient: recipient.to_string(),
        outcome,
        detail: detail.chars().take(300).collect(),
    });
}

/// The last [`RECENT`] outcomes this process counted, newest first.
pub fn recent() -> Vec<Noted> {
    let ring = ring().lock().unwrap_or_else(|e| e.into_inner());
    ring.iter().cloned().collect()
}

fn ring() -> &'static Mutex<VecDeque<Noted>> {
    static RING: OnceLock<Mutex<VecDeque<Noted>>> = OnceLock::new();
    RING.get_or_init(|| Mutex::new(VecDeque::with_capacity(RECENT)))
}

/// The process's domain labels.
fn domains() -> &'static DomainLabels {
    static DOMAINS: OnceLock<DomainLabels> = OnceLock::new();
    DOMAINS.get_or_init(|| DomainLabels::new(MAX_DOMAINS))
}

/// The domains that have a label of their own, at most `cap` of them.
#[derive(Debug)]
struct DomainLabels {
    cap: usize,
    seen: Mutex<HashSet<String>>,
}

impl DomainLabels {
    fn new(cap: usize) -> Self {
        DomainLabels {
            cap,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// The label for `domain`: itself while it is among the first `cap` domains,
    /// else [`OTHER`].
    fn label(&self, domain: &str) -> String {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(domain) {
            return domain.to_owned();
        }
        if seen.len() < self.cap {
            seen.insert(domain.to_owned());
            return domain.to_owned();
        }
        OTHER.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_past_the_cap_are_other() {
        let labels = DomainLabels::new(2);
        assert_eq!(labels.label("a.example"), "a.example");
        assert_eq!(labels.label("b.example"), "b.example");
        assert_eq!(labels.label("c.example"), OTHER);
        // The first ones keep their own series.
        assert_eq!(labels.label("a.example"), "a.example");
        assert_eq!(labels.label("b.example"), "b.example");
        assert_eq!(labels.label("d.example"), OTHER);
    }

    #[test]
    fn the_ring_keeps_the_newest_outcomes() {
        let who = Address::parse("ring-test@ring.example").unwrap();
        for i in 0..RECENT + 10 {
            delivery(
                Outcome::Deferred,
                QueueId::from_u64(i as u64 + 1),
                &who,
                &format!("reason {i}"),
            );
        }
        let mine: Vec<Noted> = recent()
            .into_iter()
            .filter(|n| n.recipient == "ring-test@ring.example")
            .collect();
        assert!(mine.len() <= RECENT);
        assert_eq!(mine[0].detail, format!("reason {}", RECENT + 9));
        assert_eq!(mine[0].outcome, Outcome::Deferred);
    }

    #[test]
    fn many_domains_never_exceed_the_cap() {
        let labels = DomainLabels::new(MAX_DOMAINS);
        let distinct: HashSet<String> = (0..MAX_DOMAINS * 3)
            .map(|i| labels.label(&format!("d{i}.example")))
            .collect();
        assert_eq!(distinct.len(), MAX_DOMAINS + 1);
        assert!(distinct.contains(OTHER));
    }
}
