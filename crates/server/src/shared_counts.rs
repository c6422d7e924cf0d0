//! The cluster-wide side of the login throttle and the hourly sending limits: the
//! round trips to the store's shared counters (`Store::counter_add`, `counter_get`,
//! `counter_clear`), so that with several nodes on one database (PostgreSQL) an
//! attacker does not get N times the password guesses, nor a sender N times its
//! hourly limit, by spreading over N nodes.
//!
//! Where it sits: [`crate::login`] calls [`login_counts`] next to
//! `LoginThrottle::before`, [`login_failed`] next to `failed` and [`login_succeeded`]
//! next to `succeeded`; [`crate::smtp_policy`] calls [`take`] at MAIL and RCPT instead
//! of the in-memory `SendingLimits::take_*` when the counters are shared. The rules
//! stay in the pure, clock-injected [`crate::throttle`] and [`crate::rate`]; only the
//! I/O is here.
//!
//! Embedded store (memory, SQLite): `Store::counters_shared` is false, every function
//! here returns at once without building a key or touching the store, and the
//! in-memory counts are the whole count, as before.
//!
//! Store trouble never locks anybody out and never lets a lockout slip: an error is
//! logged and the node's own in-memory verdict stands (the password check needs the
//! same database anyway).
//!
//! What stays per node: the throttle's familiar addresses (smart lockout), and the
//! in-memory records, which still lock on their own (a node may lock an address
//! before the cluster-wide count does, never after).

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::rate::{Exceeded, Sender, SendingLimits, WINDOW};
use crate::throttle::{LoginThrottle, SharedCounts, SharedKeys, Verdict};

/// The shared-counter methods of the store; a trait of its own so the rules can be
/// tested with two "nodes" on an in-memory fake (the store's fakes share nothing).
#[async_trait]
pub(crate) trait Counters: Send + Sync {
    /// `Store::counters_shared`.
    fn shared(&self) -> bool;
    /// `Store::counter_add`.
    async fn add(
        &self,
        key: &str,
        part: &str,
        amount: u64,
        window_secs: u64,
        now_unix: i64,
    ) -> store::Result<Option<u64>>;
    /// `Store::counter_get`.
    async fn get(&self, keys: &[(&str, u64)], now_unix: i64) -> store::Result<Option<Vec<u64>>>;
    /// `Store::counter_clear`.
    async fn clear(&self, key: &str, part: Option<&str>) -> store::Result<()>;
}

#[async_trait]
impl Counters for dyn store::Store {
    fn shared(&self) -> bool {
        self.counters_shared()
    }

    async fn add(
        &self,
        key: &str,
        part: &str,
        amount: u64,
        window_secs: u64,
        now_unix: i64,
    ) -> store::Result<Option<u64>> {
        self.counter_add(key, part, amount, window_secs, now_unix)
            .await
    }

    async fn get(&self, keys: &[(&str, u64)], now_unix: i64) -> store::Result<Option<Vec<u64>>> {
        self.counter_get(keys, now_unix).await
    }

    async fn clear(&self, key: &str, part: Option<&str>) -> store::Result<()> {
        self.counter_clear(key, part).await
    }
}

/// The current time in unix seconds (the shared counters' clock).
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A duration in whole seconds, at least 1 (a counter window).
fn secs(d: std::time::Duration) -> u64 {
    d.as_secs().max(1)
}

/// The cluster-wide counts of a login attempt, in one round trip; `None` when the
/// counters are not shared (no I/O then) or could not be read (logged).
pub(crate) async fn login_counts<C: Counters + ?Sized>(
    c: &C,
    throttle: &LoginThrottle,
    keys: &SharedKeys,
    now_unix: i64,
) -> Option<SharedCounts> {
    if !c.shared() {
        return None;
    }
    let limits = throttle.limits();
    let (window, lockout) = (secs(limits.window), secs(limits.lockout));
    let asked = [
        (keys.ip_failures.as_str(), window),
        (keys.ip_lock.as_str(), lockout),
        (keys.account_failures.as_str(), window),
        (keys.account_lock.as_str(), lockout),
    ];
    match c.get(&asked, now_unix).await {
        Ok(Some(totals)) => match totals[..] {
            [ip_failures, ip_lock, account_failures, account_lock] => Some(SharedCounts {
                ip_failures,
                ip_locked: ip_lock > 0,
                account_failures,
                account_locked: account_lock > 0,
            }),
            _ => {
                tracing::warn!(answers = totals.len(), "shared login counts: wrong answer");
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the shared login counts; this node's own count decides");
            None
        }
    }
}

/// The verdict from this node's own and the cluster's: a lock from either locks (the
/// address first), else the longer delay.
pub(crate) fn combine(local: Verdict, shared: Option<Verdict>) -> Verdict {
    match (local, shared) {
        (Verdict::Check(_), Some(Verdict::AddressLocked)) => Verdict::AddressLocked,
        (Verdict::Check(_), Some(Verdict::AccountLocked)) => Verdict::AccountLocked,
        (Verdict::Check(a), Some(Verdict::Check(b))) => Verdict::Check(a.max(b)),
        (local, _) => local,
    }
}

/// Records a failed login in the shared counters (the address's, and the account's
/// when `account_exists`); when a cluster-wide total reaches its limit, sets the
/// lockout for every node and starts that count afresh. True when this failure
/// locked something. No I/O when the counters are not shared.
pub(crate) async fn login_failed<C: Counters + ?Sized>(
    c: &C,
    throttle: &LoginThrottle,
    keys: &SharedKeys,
    account_exists: bool,
    now_unix: i64,
) -> bool {
    if !c.shared() {
        return false;
    }
    let limits = throttle.limits();
    let (window, lockout) = (secs(limits.window), secs(limits.lockout));
    let ip_total = match c
        .add(&keys.ip_failures, &keys.login_part, 1, window, now_unix)
        .await
    {
        Ok(total) => total,
        Err(e) => {
            tracing::warn!(error = %e, "cannot count a failed login in the shared counters");
            None
        }
    };
    let account_total = if account_exists {
        match c
            .add(&keys.account_failures, &keys.ip_part, 1, window, now_unix)
            .await
        {
            Ok(total) => total,
            Err(e) => {
                tracing::warn!(error = %e, "cannot count a failed login in the shared counters");
                None
            }
        }
    } else {
        None
    };
    let (lock_ip, lock_account) = throttle.shared_lock(ip_total.unwrap_or(0), account_total);
    for (lock, lock_key, count_key) in [
        (lock_ip, &keys.ip_lock, &keys.ip_failures),
        (lock_account, &keys.account_lock, &keys.account_failures),
    ] {
        if !lock {
            continue;
        }
        if let Err(e) = c.add(lock_key, "", 1, lockout, now_unix).await {
            tracing::warn!(error = %e, "cannot set a shared lockout");
            continue;
        }
        // Counting starts afresh when the lockout ends.
        if let Err(e) = c.clear(count_key, None).await {
            tracing::warn!(error = %e, "cannot reset a shared failure count");
        }
    }
    lock_ip || lock_account
}

/// After a successful login: forgets this address's failures against this account in
/// the shared counters (on both), when `counts` (read before the check) showed any.
/// No I/O otherwise.
pub(crate) async fn login_succeeded<C: Counters + ?Sized>(
    c: &C,
    keys: &SharedKeys,
    counts: Option<SharedCounts>,
) {
    let Some(counts) = counts else { return };
    if counts.ip_failures == 0 && counts.account_failures == 0 {
        return;
    }
    for (key, part) in [
        (&keys.ip_failures, &keys.login_part),
        (&keys.account_failures, &keys.ip_part),
    ] {
        if let Err(e) = c.clear(key, Some(part)).await {
            tracing::warn!(error = %e, "cannot forget failures in the shared counters");
        }
    }
}

/// Takes one message or recipient (`which`) for `sender` from the shared hourly
/// count: `Ok` (counted) or `Err` (over the limit, not counted). `None` when the
/// counters are not shared or could not be used (logged): the caller uses
/// [`SendingLimits`]' own count. The read and the add are two steps, so senders
/// racing on several nodes may pass the limit by the number of their concurrent
/// commands; a refused one is not counted.
pub(crate) async fn take<C: Counters + ?Sized>(
    c: &C,
    limits: &SendingLimits,
    which: Exceeded,
    sender: &Sender,
    now_unix: i64,
) -> Option<Result<(), Exceeded>> {
    if !c.shared() {
        return None;
    }
    let Some((key, limit)) = limits.shared_key(which, sender) else {
        return Some(Ok(()));
    };
    let window = WINDOW.as_secs();
    let used = match c.get(&[(&key, window)], now_unix).await {
        Ok(Some(totals)) => totals.first().copied().unwrap_or(0),
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the shared sending count; this node's own count decides");
            return None;
        }
    };
    if used.saturating_add(1) > limit {
        return Some(Err(which));
    }
    match c.add(&key, "", 1, window, now_unix).await {
        Ok(Some(_)) => Some(Ok(())),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot count in the shared sending count; this node's own count decides");
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! Shared counters in memory, for tests: several throttles ("nodes") on one
    //! [`FakeCounters`] share their counts as nodes on one PostgreSQL database do
    //! (exact windows instead of buckets).

    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// The additions (time, amount) to one (key, part).
    type Adds = Vec<(i64, u64)>;

    /// (key, part) → its additions.
    #[derive(Debug, Default)]
    pub(crate) struct FakeCounters {
        counts: Mutex<HashMap<(String, String), Adds>>,
    }

    impl FakeCounters {
        fn total(&self, key: &str, window_secs: u64, now_unix: i64) -> u64 {
            let window = i64::try_from(window_secs).unwrap_or(i64::MAX);
            self.counts
                .lock()
                .expect("fake counters")
                .iter()
                .filter(|((k, _), _)| k == key)
                .flat_map(|(_, adds)| adds.iter())
                .filter(|(t, _)| now_unix - t < window)
                .map(|(_, n)| n)
                .sum()
        }
    }

    #[async_trait]
    impl Counters for FakeCounters {
        fn shared(&self) -> bool {
            true
        }

        async fn add(
            &self,
            key: &str,
            part: &str,
            amount: u64,
            window_secs: u64,
            now_unix: i64,
        ) -> store::Result<Option<u64>> {
            self.counts
                .lock()
                .expect("fake counters")
                .entry((key.to_owned(), part.to_owned()))
                .or_default()
                .push((now_unix, amount));
            Ok(Some(self.total(key, window_secs, now_unix)))
        }

        async fn get(
            &self,
            keys: &[(&str, u64)],
            now_unix: i64,
        ) -> store::Result<Option<Vec<u64>>> {
            Ok(Some(
                keys.iter()
                    .map(|(k, w)| self.total(k, *w, now_unix))
                    .collect(),
            ))
        }

        async fn clear(&self, key: &str, part: Option<&str>) -> store::Result<()> {
            self.counts
                .lock()
                .expect("fake counters")
                .retain(|(k, p), _| !(k == key && part.is_none_or(|part| part == p)));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeCounters;
    use super::*;
    use crate::throttle::ThrottleLimits;
    use std::net::IpAddr;
    use std::time::{Duration, Instant};

    fn limits() -> ThrottleLimits {
        ThrottleLimits {
            max_failures_per_ip: 4,
            max_failures_per_account: 6,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
            delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    /// One node's view of an attempt: its own verdict combined with the cluster's,
    /// as `login::login` does it.
    async fn verdict(
        node: &LoginThrottle,
        c: &FakeCounters,
        ip: IpAddr,
        login: &str,
        now: Instant,
        t: i64,
    ) -> Verdict {
        let keys = SharedKeys::new(ip, login);
        let counts = login_counts(c, node, &keys, t).await;
        let shared = counts.map(|counts| node.judge_shared(ip, login, &counts, now));
        combine(node.before(ip, login, now), shared)
    }

    /// One failed login on `node`, recorded as `login::login` records it.
    async fn fail(node: &LoginThrottle, c: &FakeCounters, ip: IpAddr, login: &str, t: i64) -> bool {
        let keys = SharedKeys::new(ip, login);
        let local = node.failed(ip, login, true, Instant::now());
        login_failed(c, node, &keys, true, t).await || local
    }

    #[tokio::test]
    async fn two_nodes_lock_an_address_after_the_total_not_per_node() {
        let shared = FakeCounters::default();
        let (a, b) = (LoginThrottle::new(limits()), LoginThrottle::new(limits()));
        let now = Instant::now();
        let t = 1_000;
        // Four failures, alternating nodes (two each, under the per-node limit of 4),
        // each against a different account so no account lock gets in the way.
        assert!(!fail(&a, &shared, ip(1), "u1@x", t).await);
        assert!(!fail(&b, &shared, ip(1), "u2@x", t).await);
        assert!(!fail(&a, &shared, ip(1), "u3@x", t).await);
        assert!(
            fail(&b, &shared, ip(1), "u4@x", t).await,
            "the fourth in total locks"
        );
        for node in [&a, &b] {
            assert_eq!(
                verdict(node, &shared, ip(1), "u5@x", now, t + 1).await,
                Verdict::AddressLocked,
                "locked on every node"
            );
            assert_eq!(
                verdict(node, &shared, ip(2), "u5@x", now, t + 1).await,
                Verdict::Check(Duration::ZERO),
                "another address is not"
            );
        }
        // Without the shared counters neither node alone would have locked.
        assert_eq!(a.before(ip(1), "u5@x", now), Verdict::Check(Duration::ZERO));
        // The lockout ends after `lockout`, everywhere, and counting starts afresh.
        assert_eq!(
            verdict(&a, &shared, ip(1), "u5@x", now, t + 301).await,
            Verdict::Check(Duration::ZERO)
        );
    }

    #[tokio::test]
    async fn an_account_attacked_through_two_nodes_is_locked_for_strangers() {
        let shared = FakeCounters::default();
        let (a, b) = (LoginThrottle::new(limits()), LoginThrottle::new(limits()));
        let now = Instant::now();
        let t = 1_000;
        a.succeeded(ip(100), "alice@x", now);
        for n in 1..=6u8 {
            let node = if n % 2 == 0 { &a } else { &b };
            fail(node, &shared, ip(n), "alice@x", t).await;
        }
        assert_eq!(
            verdict(&b, &shared, ip(50), "alice@x", now, t + 1).await,
            Verdict::AccountLocked
        );
        assert_eq!(
            verdict(&a, &shared, ip(100), "alice@x", now, t + 1).await,
            Verdict::Check(Duration::ZERO),
            "the owner's address is familiar on the node it logged in through"
        );
        assert_eq!(
            verdict(&b, &shared, ip(100), "alice@x", now, t + 1).await,
            Verdict::AccountLocked,
            "familiarity is per node"
        );
    }

    #[tokio::test]
    async fn success_forgets_only_its_own_failures_across_nodes() {
        let shared = FakeCounters::default();
        let (a, b) = (LoginThrottle::new(limits()), LoginThrottle::new(limits()));
        let t = 1_000;
        fail(&a, &shared, ip(1), "alice@x", t).await;
        fail(&b, &shared, ip(1), "victim@x", t).await;
        let keys = SharedKeys::new(ip(1), "alice@x");
        let counts = login_counts(&shared, &b, &keys, t).await;
        assert_eq!(counts.map(|c| c.ip_failures), Some(2));
        login_succeeded(&shared, &keys, counts).await;
        let after = login_counts(&shared, &a, &keys, t).await.expect("shared");
        assert_eq!(after.ip_failures, 1, "the failure against victim@x stays");
        assert_eq!(after.account_failures, 0);
    }

    #[tokio::test]
    async fn the_hourly_limit_is_shared_and_refusals_do_not_count() {
        let shared = FakeCounters::default();
        let smtp = config::Smtp {
            max_messages_per_hour_per_ip: 3,
            max_recipients_per_hour_per_user: 0,
            ..config::Smtp::default()
        };
        let (a, b) = (SendingLimits::new(&smtp), SendingLimits::new(&smtp));
        let sender = Sender::Address(ip(1));
        let t = 10_000;
        for node in [&a, &b, &a] {
            assert_eq!(
                take(&shared, node, Exceeded::Messages, &sender, t).await,
                Some(Ok(()))
            );
        }
        for node in [&b, &a] {
            assert_eq!(
                take(&shared, node, Exceeded::Messages, &sender, t).await,
                Some(Err(Exceeded::Messages)),
                "three in total, whichever node"
            );
        }
        assert_eq!(
            take(&shared, &a, Exceeded::Messages, &sender, t + 3600).await,
            Some(Ok(())),
            "an hour later (the refusals were not counted)"
        );
        // A limit that is off counts nothing.
        let user = Sender::User("alice@x".into());
        assert_eq!(
            take(&shared, &a, Exceeded::Recipients, &user, t).await,
            Some(Ok(()))
        );
        assert!(
            shared
                .get(&[("send-user-rcpt:alice@x", 3600)], t)
                .await
                .is_ok_and(|v| v == Some(vec![0]))
        );
    }

    #[tokio::test]
    async fn an_unshared_store_is_left_alone() {
        let store = store::memory::MemoryStore::new();
        let store: &dyn store::Store = &store;
        let throttle = LoginThrottle::new(limits());
        let keys = SharedKeys::new(ip(1), "a@x");
        assert_eq!(login_counts(store, &throttle, &keys, 1).await, None);
        assert!(!login_failed(store, &throttle, &keys, true, 1).await);
        let limits = SendingLimits::new(&config::Smtp::default());
        assert_eq!(
            take(
                store,
                &limits,
                Exceeded::Messages,
                &Sender::Address(ip(1)),
                1
            )
            .await,
            None
        );
    }
}
