//! The delivery queue: takes messages the store holds durably and drives each pending
//! recipient to an outcome.
//!
//! Where it sits: after acceptance. The SMTP driver calls `Store::enqueue` (which returns
//! only once the message is on stable storage) and then [`QueueHandle::notify`]. The
//! [`QueueRunner`] wakes, asks the store for due entries, and hands each to a
//! [`Deliver`] implementation (plugged in by `server`: local mailboxes now, remote MX
//! relay later). Outcomes go back to the store; retry times come from the pure
//! [`schedule::next_attempt`].
//!
//! The queue does not know SMTP or mailboxes. It never loses a message: an entry leaves
//! the store only when none of its recipients is pending any more.

pub mod schedule;

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use store::{QueuedMessage, RecipientOutcome, Store};
use tokio::sync::{Notify, watch};

/// Delivers queued messages. Implementations record local filing themselves (atomically,
/// through the store) and report every recipient's outcome.
#[async_trait]
pub trait Deliver: Send + Sync + 'static {
    /// Attempts delivery to the recipients at `pending` (indexes into
    /// `message.recipients`); returns an outcome for each, in any order. A deliverer
    /// that needs the body reads it with `Store::queue_body` (local filing does not: the
    /// mailbox shares the queued body), and reports a damaged one as `Permanent`.
    async fn deliver(&self, message: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)>;
}

/// The result of one delivery attempt for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered and already recorded by the deliverer (local filing).
    Recorded,
    /// Delivered elsewhere; the queue records it.
    Delivered,
    /// Temporary failure: retry later.
    Temporary(String),
    /// Permanent failure.
    Permanent(String),
}

/// Lets other parts wake the queue when new mail arrives.
#[derive(Clone, Default)]
pub struct QueueHandle {
    notify: Arc<Notify>,
    finished_elsewhere: Arc<std::sync::atomic::AtomicBool>,
}

impl QueueHandle {
    /// Wakes the runner now instead of at its next periodic check.
    pub fn notify(&self) {
        self.notify.notify_one();
    }

    /// Says that an entry was finished without the runner (its recipients were all
    /// filed when it was queued), so the runner removes it at its next pass.
    pub fn finished_elsewhere(&self) {
        self.finished_elsewhere
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The loop that delivers due queue entries.
pub struct QueueRunner {
    store: Arc<dyn Store>,
    deliver: Arc<dyn Deliver>,
    handle: QueueHandle,
    /// How often to look for due retries when nothing wakes the runner.
    pub poll_interval: Duration,
    /// How many messages to work on at once.
    pub batch: usize,
    /// Finished entries are removed at most this often: removal is a write (and a
    /// commit) of its own, so doing it after every pass would add a commit per message
    /// when mail arrives one at a time.
    pub collect_interval: Duration,
    /// When finished entries were last removed, and whether passes since then may have
    /// finished some.
    collect: std::sync::Mutex<(Option<std::time::Instant>, bool)>,
}

impl QueueRunner {
    /// A runner over `store` that delivers through `deliver`.
    pub fn new(store: Arc<dyn Store>, deliver: Arc<dyn Deliver>) -> Self {
        QueueRunner {
            store,
            deliver,
            handle: QueueHandle::default(),
            poll_interval: Duration::from_secs(5),
            batch: 64,
            collect_interval: Duration::from_secs(1),
            // Dirty at start: a previous run may have left finished entries behind.
            collect: std::sync::Mutex::new((None, true)),
        }
    }

    /// A handle for waking this runner.
    pub fn handle(&self) -> QueueHandle {
        self.handle.clone()
    }

    /// Runs until `shutdown` turns true. Work already started finishes first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let worked = match self.run_once(now_unix()).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "queue pass failed");
                    0
                }
            };
            if worked > 0 {
                continue; // more may be due; go again before sleeping
            }
            tokio::select! {
                _ = self.handle.notify.notified() => {}
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One pass: delivers every entry due at `now`; returns how many were worked on.
    pub async fn run_once(&self, now: i64) -> store::Result<usize> {
        let due = self.store.queue_due(now, self.batch).await?;
        if due.is_empty() {
            self.collect_finished(false).await?;
            return Ok(0);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for message in due {
            let store = self.store.clone();
            let deliver = self.deliver.clone();
            tasks.spawn(async move { attempt_message(store, deliver, message, now).await });
        }
        let mut worked = 0;
        while let Some(result) = tasks.join_next().await {
            match result {
                Ok(Ok(())) => worked += 1,
                Ok(Err(e)) => tracing::error!(error = %e, "delivery bookkeeping failed"),
                Err(e) => tracing::error!(error = %e, "delivery task panicked"),
            }
        }
        self.collect_finished(true).await?;
        Ok(worked)
    }

    /// Removes finished entries if some may exist and the last removal is older than
    /// `collect_interval`. Entries with nothing pending are never due, so leaving them
    /// a moment longer changes nothing but what `postie queue list` shows.
    async fn collect_finished(&self, worked: bool) -> store::Result<()> {
        let due = {
            let mut state = self.collect.lock().expect("collect state");
            let elsewhere = self
                .handle
                .finished_elsewhere
                .swap(false, std::sync::atomic::Ordering::Relaxed);
            state.1 |= worked || elsewhere;
            let stale = state
                .0
                .is_none_or(|at| at.elapsed() >= self.collect_interval);
            if state.1 && stale {
                *state = (Some(std::time::Instant::now()), false);
                true
            } else {
                false
            }
        };
        if due && let Err(e) = self.store.queue_collect().await {
            self.collect.lock().expect("collect state").1 = true; // try again next time
            return Err(e);
        }
        Ok(())
    }
}

async fn attempt_message(
    store: Arc<dyn Store>,
    deliver: Arc<dyn Deliver>,
    message: QueuedMessage,
    now: i64,
) -> store::Result<()> {
    let pending: Vec<usize> = message
        .recipients
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.status, store::RecipientStatus::Pending { next_attempt, .. } if next_attempt <= now))
        .map(|(i, _)| i)
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    for (index, attempt) in deliver.deliver(&message, &pending).await {
        let attempts = match &message.recipients[index].status {
            store::RecipientStatus::Pending { attempts, .. } => *attempts,
            _ => 0,
        };
        let recipient = &message.recipients[index].address;
        let outcome = match attempt {
            Attempt::Recorded => {
                tracing::info!(queue_id = %message.id, %recipient, "delivered");
                continue;
            }
            Attempt::Delivered => RecipientOutcome::Delivered,
            Attempt::Temporary(reason) => {
                match schedule::next_attempt(message.queued_at, attempts + 1, now) {
                    Some(next_attempt) => {
                        tracing::info!(queue_id = %message.id, %recipient, %reason, next_attempt, "deferred");
                        RecipientOutcome::Deferred {
                            next_attempt,
                            reason,
                        }
                    }
                    None => RecipientOutcome::Failed {
                        reason: format!("gave up: {reason}"),
                    },
                }
            }
            Attempt::Permanent(reason) => {
                tracing::warn!(queue_id = %message.id, %recipient, %reason, "failed");
                RecipientOutcome::Failed { reason }
            }
        };
        store.queue_mark(message.id, index, &outcome).await?;
    }
    Ok(())
}

/// Seconds since the epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
