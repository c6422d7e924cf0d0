//! The delivery queue: takes messages the store holds durably and drives each pending
//! recipient to an outcome.
//!
//! Where it sits: after acceptance. The SMTP driver calls `Store::enqueue` (which returns
//! only once the message is on stable storage) and then [`QueueHandle::notify`]. The
//! [`QueueRunner`] wakes, claims due entries from the store, and hands each to a
//! [`Deliver`] implementation (plugged in by `server`: local mailboxes and the remote
//! relay). Outcomes go back to the store; retry times come from the pure
//! [`schedule::Schedule`]; reports to the sender (bounces, delay warnings, success
//! reports) from [`notify::Notifier`].
//!
//! The queue does not know SMTP or mailboxes. It never loses a message: an entry leaves
//! the store only when none of its recipients is pending any more.
//!
//! Several runners may share one store (several nodes on one database, issue 15): each
//! works only on entries it has claimed (`Store::queue_claim`) under its node name,
//! with a lease it renews while attempts are under way and releases after each
//! attempt, so two runners never attempt one entry at once. A runner that dies leaves
//! its leases to expire ([`QueueRunner::lease`] after the last renewal); then another
//! runner takes the entries over. A crash after the remote server's 250 but before the
//! outcome is recorded means the message is sent again (at-least-once, as Postfix).
//!
//! That window is one transaction, not one message: with the 250 the server took
//! responsibility for its recipients (RFC 5321 §6.1), so the deliverer hands each
//! transaction's outcomes over as it ends ([`Deliver::deliver_reporting`]), and
//! recipients a server took that need no report to the sender are marked delivered
//! then, while the message's other domains are still under way, rather than after the
//! slowest domain of the message (one that stalls at DATA for minutes). Failures, deferrals and
//! recipients with a report due are recorded at the end of the attempt, after the one
//! report of the attempt is queued; trying those again after a crash sends nothing
//! twice.

pub mod metrics;
pub mod notify;
pub mod schedule;

use dsn::Action;
use notify::{Event, Notifier};
use schedule::Schedule;

use async_trait::async_trait;
use message::QueueId;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use store::{QueuedMessage, RecipientOutcome, Store};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// The attempts under way: entry → the task attempting it.
type InFlight = HashMap<QueueId, tokio::task::Id>;

/// Delivers queued messages. Implementations record local filing themselves (atomically,
/// through the store) and report every recipient's outcome.
#[async_trait]
pub trait Deliver: Send + Sync + 'static {
    /// Attempts delivery to the recipients at `pending` (indexes into
    /// `message.recipients`); returns an outcome for each, in any order. A deliverer
    /// that needs the body reads it with `Store::queue_body` (local filing does not: the
    /// mailbox shares the queued body), and reports a damaged one as `Permanent`.
    async fn deliver(&self, message: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)>;

    /// Like [`Deliver::deliver`], but hands the outcomes to `outcomes` as they become
    /// known, each recipient's once. A deliverer that holds one transaction per
    /// destination reports each transaction's outcomes when it ends and before it
    /// starts the next, so that the queue records what a server took without waiting
    /// for a slow destination (see the module docs). The queue runner calls this one;
    /// the default reports everything when [`Deliver::deliver`] returns.
    async fn deliver_reporting(
        &self,
        message: &QueuedMessage,
        pending: &[usize],
        outcomes: &mut dyn Outcomes,
    ) {
        let all = self.deliver(message, pending).await;
        outcomes.report(all).await;
    }
}

/// Where a [`Deliver`] hands outcomes during an attempt
/// ([`Deliver::deliver_reporting`]).
#[async_trait]
pub trait Outcomes: Send {
    /// Takes the outcomes of some of the pending recipients (one transaction's, say);
    /// returns once those the queue records at once are recorded.
    async fn report(&mut self, outcomes: Vec<(usize, Attempt)>);
}

/// Collects the outcomes, e.g. for a [`Deliver::deliver`] written over
/// [`Deliver::deliver_reporting`].
#[async_trait]
impl Outcomes for Vec<(usize, Attempt)> {
    async fn report(&mut self, outcomes: Vec<(usize, Attempt)>) {
        self.extend(outcomes);
    }
}

/// The result of one delivery attempt for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered and already recorded by the deliverer (local filing).
    Recorded,
    /// Handed to a next hop that takes over DSN duties (it offered DSN, RFC 3461
    /// §4); the queue records it.
    Delivered,
    /// Handed to a next hop that does not support DSN: a sender who asked for success
    /// reports gets a "relayed" one (RFC 3461 §6.2.2, RFC 3464 §2.3.3).
    Relayed,
    /// Temporary failure: retry later. The reason is written as
    /// [`notify::parse_reason`] reads it.
    Temporary(String),
    /// Temporary failure like `Temporary(reason)`, except that when the message
    /// expires the recipient fails with `on_expiry` (a permanent reason) rather than
    /// with the last temporary one: a full mailbox is retried as 4.2.2, and bounced
    /// as 5.2.2 once `max_age` has passed (RFC 3463 X.2.2).
    TemporaryUntilExpiry {
        /// Why this attempt failed (a 4.X.X status).
        reason: String,
        /// The final reason if it is still failing at expiry (a 5.X.X status).
        on_expiry: String,
    },
    /// Permanent failure, with a reason as for `Temporary`.
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
    /// Retries, expiry and delay warnings.
    pub schedule: Arc<Schedule>,
    /// Writes reports to senders.
    notifier: Arc<Notifier>,
    /// How often to look for due retries when nothing wakes the runner.
    pub poll_interval: Duration,
    /// How many messages to work on at once.
    pub batch: usize,
    /// How long attempts under way may go on after shutdown is asked for.
    pub shutdown_grace: Duration,
    /// How long a claim lasts without renewal (whole seconds, at least one). The runner
    /// renews its leases every third of it while attempts are under way; when a runner
    /// dies, its entries wait this long before another runner takes them over.
    pub lease: Duration,
    /// This runner's name in the store's leases: unique among the runners sharing
    /// the store (see [`QueueRunner::with_node`]).
    node: String,
    /// Whether `node` was made up here (and follows [`QueueRunner::with_hostname`]).
    node_generated: bool,
    /// Finished entries are removed at most this often: removal is a write (and a
    /// commit) of its own, so doing it after every pass would add a commit per message
    /// when mail arrives one at a time.
    pub collect_interval: Duration,
    /// Finished entries this runner was not told of (filed by `postie sendmail` in
    /// another process, or by another node) are looked for at least this often.
    pub sweep_interval: Duration,
    /// When finished entries were last removed, and whether passes since then may have
    /// finished some.
    collect: std::sync::Mutex<(Option<std::time::Instant>, bool)>,
}

impl QueueRunner {
    /// A runner over `store` that delivers through `deliver`, with the default
    /// schedule, writing reports as `localhost` (see [`QueueRunner::with_hostname`]).
    pub fn new(store: Arc<dyn Store>, deliver: Arc<dyn Deliver>) -> Self {
        QueueRunner {
            node: node_name("localhost"),
            node_generated: true,
            lease: Duration::from_secs(300),
            notifier: Arc::new(Notifier::new(store.clone(), "localhost")),
            store,
            deliver,
            handle: QueueHandle::default(),
            schedule: Arc::new(Schedule::default()),
            poll_interval: Duration::from_secs(5),
            batch: 64,
            shutdown_grace: Duration::from_secs(5),
            collect_interval: Duration::from_secs(1),
            sweep_interval: Duration::from_secs(10),
            // Dirty at start: a previous run may have left finished entries behind.
            collect: std::sync::Mutex::new((None, true)),
        }
    }

    /// Reports to senders name `hostname` as their reporting MTA.
    ///
    /// Unless a node name was given ([`QueueRunner::with_node`]), the runner's node name
    /// becomes `hostname:pid:random`.
    pub fn with_hostname(mut self, hostname: &str) -> Self {
        self.notifier = Arc::new(Notifier::new(self.store.clone(), hostname));
        if self.node_generated {
            self.node = node_name(hostname);
        }
        self
    }

    /// Claims queue entries as `node`, which must be unique among the runners sharing
    /// the store (by default `hostname:pid:random`, unique enough). A runner restarted
    /// under the same name takes its own unexpired claims back at once.
    pub fn with_node(mut self, node: &str) -> Self {
        self.node = node.to_owned();
        self.node_generated = false;
        self
    }

    /// The name this runner claims queue entries under.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Uses `schedule` for retries, expiry and delay warnings.
    pub fn with_schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = Arc::new(schedule);
        self
    }

    /// A handle for waking this runner.
    pub fn handle(&self) -> QueueHandle {
        self.handle.clone()
    }

    /// Runs until `shutdown` turns true. Work already started finishes first.
    ///
    /// Messages are attempted concurrently, up to `batch` at once; a new pass starts
    /// whenever one finishes or new mail arrives, so a slow destination holds up only
    /// its own messages.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tasks: tokio::task::JoinSet<(QueueId, store::Result<()>)> =
            tokio::task::JoinSet::new();
        // The entries this runner's attempts are under way for, with their tasks. The
        // store's leases keep other runners off them; this keeps this runner from
        // starting a second attempt at an entry its own (renewed) lease covers.
        let mut in_flight: InFlight = HashMap::new();
        // Entries claimed beyond the room there was, in due order: started as room
        // frees up, with no new claim and no release (see `start_due`).
        let mut reserved: VecDeque<QueueId> = VecDeque::new();
        let renew_every = (self.lease / 3).max(Duration::from_millis(500));
        let mut next_renewal = Instant::now() + renew_every;
        tracing::info!(node = %self.node, lease_secs = self.lease_secs(), "queue runner started");
        loop {
            if *shutdown.borrow() {
                // Hand the entries not started to the other runners now.
                for id in reserved.drain(..) {
                    self.release(id).await;
                }
                self.drain(&mut tasks, &mut in_flight).await;
                return;
            }
            let started = match self
                .start_due(now_unix(), &mut tasks, &mut in_flight, &mut reserved)
                .await
            {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "queue pass failed");
                    0
                }
            };
            if started == 0
                && tasks.is_empty()
                && let Err(e) = self.collect_finished(false).await
            {
                tracing::error!(error = %e, "removing finished entries failed");
            }
            if in_flight.is_empty() && reserved.is_empty() {
                // Nothing to renew: the first renewal comes a third of a lease after
                // work starts.
                next_renewal = Instant::now() + renew_every;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(next_renewal), if !in_flight.is_empty() || !reserved.is_empty() => {
                    self.renew(&in_flight, &reserved).await;
                    next_renewal = Instant::now() + renew_every;
                }
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    self.finished(done, &mut in_flight);
                    if let Err(e) = self.collect_finished(true).await {
                        tracing::error!(error = %e, "removing finished entries failed");
                    }
                }
                _ = self.handle.notify.notified() => {}
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// At shutdown: lets attempts under way finish for up to `shutdown_grace`, then
    /// abandons the rest. An abandoned recipient stays pending and is tried again after
    /// a restart (a remote server may then see the message twice: SMTP's at-least-once).
    async fn drain(
        &self,
        tasks: &mut tokio::task::JoinSet<(QueueId, store::Result<()>)>,
        in_flight: &mut InFlight,
    ) {
        let deadline = tokio::time::Instant::now() + self.shutdown_grace;
        while !tasks.is_empty() {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(done)) => self.finished(done, in_flight),
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        in_flight = tasks.len(),
                        "stopping with deliveries under way; they are retried after restart"
                    );
                    tasks.abort_all();
                    while let Some(done) = tasks.join_next().await {
                        if let Ok((id, _)) = done {
                            in_flight.remove(&id); // finished before the abort reached it
                        }
                    }
                    // Hand the abandoned entries to the other runners now rather than
                    // when the leases expire.
                    for (id, _) in in_flight.drain() {
                        self.release(id).await;
                    }
                    break;
                }
            }
        }
    }

    /// The lease length in whole seconds, as the store counts it.
    fn lease_secs(&self) -> i64 {
        i64::try_from(self.lease.as_secs().max(1)).unwrap_or(i64::MAX / 4)
    }

    /// Extends the leases of the entries under way and of those reserved; warns about
    /// any lost (renewal came too late and another runner claimed the entry: both may
    /// now attempt it).
    async fn renew(&self, in_flight: &InFlight, reserved: &VecDeque<QueueId>) {
        let ids: Vec<QueueId> = in_flight.keys().chain(reserved).copied().collect();
        let until = now_unix().saturating_add(self.lease_secs());
        match self.store.queue_renew(&self.node, &ids, until).await {
            Ok(held) => {
                for id in ids.iter().filter(|id| !held.contains(id)) {
                    tracing::warn!(queue_id = %id, node = %self.node,
                        "lost the claim on a queue entry while attempting it; another node may be attempting it too");
                }
            }
            Err(e) => tracing::error!(error = %e, "renewing queue claims failed"),
        }
    }

    /// Gives up this runner's claim on `id` (logged, not fatal: the lease expires).
    async fn release(&self, id: QueueId) {
        release(self.store.as_ref(), &self.node, id).await;
    }

    /// Starts attempts for due entries, within `batch`: first those `reserved` by an
    /// earlier claim, then, when none is left, claims due entries no other runner
    /// holds. A claim asks for a whole batch beyond those under way (this runner's own
    /// entries under way come back too, and are skipped), and what there is no room
    /// for yet is kept in
    /// `reserved`, under this runner's lease (renewed with the others), to be started
    /// as attempts finish. Releasing the surplus instead cost one write per entry and
    /// a claim per finished attempt: ~45 commits per relayed message with a backlog.
    async fn start_due(
        &self,
        now: i64,
        tasks: &mut tokio::task::JoinSet<(QueueId, store::Result<()>)>,
        in_flight: &mut InFlight,
        reserved: &mut VecDeque<QueueId>,
    ) -> store::Result<usize> {
        let room = self.batch.saturating_sub(in_flight.len());
        if room == 0 {
            return Ok(0);
        }
        if reserved.is_empty() {
            // Only ids first: loading every entry under way again, each time one
            // finishes, was most of the runner's work with a backlog.
            let until = now.saturating_add(self.lease_secs());
            let claimed = self
                .store
                .queue_claim(&self.node, now, until, in_flight.len() + self.batch)
                .await?;
            reserved.extend(claimed.into_iter().filter(|id| !in_flight.contains_key(id)));
        }
        let mut started = 0;
        while started < room
            && let Some(id) = reserved.pop_front()
        {
            let Some(message) = self.store.queue_get(id).await? else {
                continue; // finished or deleted meanwhile (its lease went with it)
            };
            if message.held {
                self.release(id).await; // held since it was claimed
                continue;
            }
            let attempt = self.attempt(now, message);
            let task = tasks.spawn(async move { (id, attempt.await) });
            in_flight.insert(id, task.id());
            started += 1;
        }
        Ok(started)
    }

    /// One claimed entry's attempt at `now`, then the release of its claim (unless
    /// nothing is left pending: a finished entry is never claimed again, so the
    /// release would be a write for nothing).
    fn attempt(
        &self,
        now: i64,
        message: QueuedMessage,
    ) -> impl std::future::Future<Output = store::Result<()>> + Send + 'static {
        let pass = self.pass(now);
        let store = self.store.clone();
        let node = self.node.clone();
        async move {
            let id = message.id;
            let result = pass.attempt(message).await;
            if !matches!(result, Ok(Left::Nothing)) {
                release(store.as_ref(), &node, id).await;
            }
            result.map(|_| ())
        }
    }

    /// Books a finished attempt.
    fn finished(
        &self,
        done: Result<(QueueId, store::Result<()>), tokio::task::JoinError>,
        in_flight: &mut InFlight,
    ) {
        match done {
            Ok((id, result)) => {
                in_flight.remove(&id);
                if let Err(e) = result {
                    tracing::error!(queue_id = %id, error = %e, "delivery bookkeeping failed");
                }
            }
            Err(e) => {
                // Forget the panicked task's entry (by its task id), so it is picked up
                // again: the claim is still this runner's, so the next pass takes it.
                tracing::error!(error = %e, "delivery task panicked");
                let task = e.id();
                in_flight.retain(|_, t| *t != task);
            }
        }
    }

    /// The context of one message's attempt at `now`.
    fn pass(&self, now: i64) -> Pass {
        Pass {
            store: self.store.clone(),
            deliver: self.deliver.clone(),
            schedule: self.schedule.clone(),
            notifier: self.notifier.clone(),
            now,
            started: Instant::now(),
        }
    }

    /// One pass: claims up to `batch` entries due at `now` (as [`QueueRunner::run`]
    /// does, so other runners on the store are respected), delivers them and waits for
    /// all of them; returns how many were worked on. (For tests and tools: it does not
    /// renew leases, and [`QueueRunner::run`] does not wait for slow entries.)
    pub async fn run_once(&self, now: i64) -> store::Result<usize> {
        let until = now.saturating_add(self.lease_secs());
        let claimed = self
            .store
            .queue_claim(&self.node, now, until, self.batch)
            .await?;
        if claimed.is_empty() {
            self.collect_finished(false).await?;
            return Ok(0);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for id in claimed {
            let Some(message) = self.store.queue_get(id).await? else {
                continue;
            };
            tasks.spawn(self.attempt(now, message));
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
    /// `collect_interval`, and in any case every `sweep_interval`: entries can also
    /// be finished where this runner cannot hear of it (`postie sendmail` and `postie
    /// send` file local mail themselves, in another process; another node). Entries
    /// with nothing pending are never due, so leaving them a moment longer changes
    /// nothing but what `postie queue list` shows. (A sweep that finds nothing costs
    /// the store a read, not a write.)
    async fn collect_finished(&self, worked: bool) -> store::Result<()> {
        let due = {
            let mut state = self.collect.lock().expect("collect state");
            let elsewhere = self
                .handle
                .finished_elsewhere
                .swap(false, std::sync::atomic::Ordering::Relaxed);
            let sweep = state.0.is_none_or(|at| at.elapsed() >= self.sweep_interval);
            state.1 |= worked || elsewhere || sweep;
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

/// What one delivery pass over one message needs.
struct Pass {
    store: Arc<dyn Store>,
    deliver: Arc<dyn Deliver>,
    schedule: Arc<Schedule>,
    notifier: Arc<Notifier>,
    /// When the attempt started (unix seconds, the runner's clock).
    now: i64,
    /// The same moment on the monotonic clock: a deferral is counted from the end of
    /// the attempt ([`Pass::elapsed_now`]), so a destination that took 300 s to time
    /// out is not retried the moment it gave up.
    started: Instant,
}

/// What an attempt left pending in its entry.
enum Left {
    /// Every recipient has its final outcome: the entry only waits for collection.
    Nothing,
    /// Recipients are still pending (deferred, not due yet, or without an answer).
    Some,
}

impl Pass {
    /// Now on the attempt's clock: its start plus the time it has taken so far.
    fn elapsed_now(&self) -> i64 {
        let elapsed = i64::try_from(self.started.elapsed().as_secs()).unwrap_or(i64::MAX);
        self.now.saturating_add(elapsed)
    }

    /// Delivers the due recipients of `message`, reports to the sender what it asked
    /// to hear of, then records the outcomes. The report is queued first: a crash in
    /// between may send it twice, but never loses it. (Recipients a server took with
    /// nothing to report are recorded earlier, as their transaction ends: [`Taken`].)
    async fn attempt(self, message: QueuedMessage) -> store::Result<Left> {
        let now = self.now;
        let pending: Vec<usize> = message
            .recipients
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.status, store::RecipientStatus::Pending { next_attempt, .. } if next_attempt <= now))
            .map(|(i, _)| i)
            .collect();
        if pending.is_empty() {
            return Ok(Left::Some);
        }
        let mut taken = Taken {
            pass: &self,
            message: &message,
            unreported: pending.iter().copied().collect(),
            settled: HashSet::new(),
            outcomes: Vec::new(),
            events: Vec::new(),
            deferred: Vec::new(),
        };
        self.deliver
            .deliver_reporting(&message, &pending, &mut taken)
            .await;
        let Taken {
            settled,
            outcomes,
            mut events,
            deferred,
            ..
        } = taken;
        let warn = !deferred.is_empty()
            && !message.warned
            && self.schedule.warning_due(message.queued_at, now);
        if warn {
            events.extend(deferred);
        }
        let retry_until = Some(self.schedule.retry_until(message.queued_at));
        self.notifier
            .send(&message, &events, now, retry_until)
            .await?;
        if warn {
            self.store.queue_set_warned(message.id).await?;
        }
        for (index, outcome) in outcomes {
            self.store.queue_mark(message.id, index, &outcome).await?;
        }
        let left = message.recipients.iter().enumerate().any(|(i, r)| {
            matches!(r.status, store::RecipientStatus::Pending { .. }) && !settled.contains(&i)
        });
        Ok(if left { Left::Some } else { Left::Nothing })
    }
}

/// One attempt's outcomes, taken as the deliverer reports them: recipients a server took
/// with nothing to report are marked at once; the rest wait for the end of the attempt.
struct Taken<'a> {
    pass: &'a Pass,
    message: &'a QueuedMessage,
    /// Due recipients without an outcome yet (still pending in the store).
    unreported: HashSet<usize>,
    /// The recipients this attempt gives a final outcome. (A temporary failure that
    /// expires ends final too but is not counted here: the entry is then released
    /// when it need not be, which is harmless.)
    settled: HashSet<usize>,
    /// Outcomes to record at the end, after the report.
    outcomes: Vec<(usize, RecipientOutcome)>,
    /// Events to report to the sender.
    events: Vec<Event>,
    /// Delays, reported if a delay warning is due.
    deferred: Vec<Event>,
}

#[async_trait]
impl Outcomes for Taken<'_> {
    async fn report(&mut self, outcomes: Vec<(usize, Attempt)>) {
        let mut now = Vec::new();
        for (index, attempt) in outcomes {
            self.unreported.remove(&index);
            if let Some((outcome, at_once)) = self.take(index, attempt) {
                if at_once {
                    now.push(index);
                } else {
                    self.outcomes.push((index, outcome));
                }
            }
        }
        if self.unreported.is_empty() {
            // The last outcomes: marked now, they could leave the entry with nothing
            // pending, and so to be collected (body and all) by any runner, before the
            // report of this attempt is queued. The end of the attempt is at hand.
            self.outcomes
                .extend(now.into_iter().map(|i| (i, RecipientOutcome::Delivered)));
            return;
        }
        let id = self.message.id;
        for index in now {
            match self
                .pass
                .store
                .queue_mark(id, index, &RecipientOutcome::Delivered)
                .await
            {
                Ok(()) => tracing::debug!(queue_id = %id, recipient = index,
                    "recorded as delivered while other recipients are under way"),
                Err(e) => {
                    tracing::warn!(queue_id = %id, recipient = index, error = %e,
                        "recording a delivery failed; trying again at the end of the attempt");
                    self.outcomes.push((index, RecipientOutcome::Delivered));
                }
            }
        }
    }
}

impl Taken<'_> {
    /// Books one recipient's attempt: its events, and the outcome to record with
    /// whether it may be recorded at once (taken by a server, nothing to report); no
    /// outcome when the deliverer recorded it.
    fn take(&mut self, index: usize, attempt: Attempt) -> Option<(RecipientOutcome, bool)> {
        // A retry waits its backoff from the moment this recipient's outcome is known,
        // not from the start of the attempt.
        let (message, now) = (self.message, self.pass.elapsed_now());
        if !matches!(
            attempt,
            Attempt::Temporary(_) | Attempt::TemporaryUntilExpiry { .. }
        ) {
            self.settled.insert(index);
        }
        let attempts = match &message.recipients[index].status {
            store::RecipientStatus::Pending { attempts, .. } => *attempts,
            _ => 0,
        };
        let recipient = &message.recipients[index].address;
        let event = |action, reason: Option<&str>| Event {
            recipient: index,
            action,
            reason: reason.map(str::to_owned),
        };
        // The reason to fail with should a temporary failure outlast the message.
        let on_expiry = match &attempt {
            Attempt::TemporaryUntilExpiry { on_expiry, .. } => Some(on_expiry.clone()),
            _ => None,
        };
        let id = message.id;
        let count = |outcome, detail: &str| metrics::delivery(outcome, id, recipient, detail);
        let outcome = match attempt {
            Attempt::Recorded => {
                count(metrics::Outcome::Delivered, "");
                tracing::info!(queue_id = %message.id, %recipient, "delivered");
                self.events.push(event(Action::Delivered, None));
                return None;
            }
            Attempt::Delivered => {
                count(metrics::Outcome::Delivered, "");
                return Some((RecipientOutcome::Delivered, true));
            }
            Attempt::Relayed => {
                count(metrics::Outcome::Delivered, "");
                let relayed = event(Action::Relayed, None);
                let at_once = !notify::wants(message, &relayed);
                self.events.push(relayed);
                return Some((RecipientOutcome::Delivered, at_once));
            }
            Attempt::Temporary(reason) | Attempt::TemporaryUntilExpiry { reason, .. } => match self
                .pass
                .schedule
                .next_attempt(message.queued_at, attempts + 1, now)
            {
                Some(next_attempt) => {
                    count(metrics::Outcome::Deferred, &reason);
                    tracing::info!(queue_id = %message.id, %recipient, %reason, next_attempt, "deferred");
                    self.deferred.push(event(Action::Delayed, Some(&reason)));
                    RecipientOutcome::Deferred {
                        next_attempt,
                        reason,
                    }
                }
                None => {
                    let reason = format!("gave up: {}", on_expiry.unwrap_or(reason));
                    count(metrics::Outcome::Failed, &reason);
                    tracing::warn!(queue_id = %message.id, %recipient, %reason, "expired");
                    self.events.push(event(Action::Failed, Some(&reason)));
                    RecipientOutcome::Failed { reason }
                }
            },
            Attempt::Permanent(reason) => {
                count(metrics::Outcome::Failed, &reason);
                tracing::warn!(queue_id = %message.id, %recipient, %reason, "failed");
                self.events.push(event(Action::Failed, Some(&reason)));
                RecipientOutcome::Failed { reason }
            }
        };
        Some((outcome, false))
    }
}

/// Gives up `node`'s claim on `id`; a failure is logged, not fatal (the lease
/// expires, then any runner may claim the entry).
async fn release(store: &dyn Store, node: &str, id: QueueId) {
    if let Err(e) = store.queue_release(node, id).await {
        tracing::warn!(queue_id = %id, error = %e, "releasing a queue claim failed; it expires");
    }
}

/// A node name unique among running runners: `hostname:pid:random` (the random part
/// tells apart two runners of one process, or a pid reused after a restart).
fn node_name(hostname: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    // RandomState's keys come from the operating system's randomness.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!(
        "{hostname}:{}:{:08x}",
        std::process::id(),
        hasher.finish() as u32
    )
}

/// Seconds since the epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
