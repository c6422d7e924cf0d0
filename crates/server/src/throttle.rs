//! Failed-login throttling, shared by every protocol that takes a password (SMTP AUTH,
//! POP3, IMAP): the pure bookkeeping behind [`crate::login`], which asks
//! [`LoginThrottle::before`] ahead of every password check and reports the outcome with
//! [`LoginThrottle::failed`] or [`LoginThrottle::succeeded`]. Password guessing is what
//! RFC 4954 §9, RFC 5034 §8 and RFC 9051 §11.1 warn about; this is the defence.
//!
//! Two kinds of record, each a sliding window of the last failures (at most the limit,
//! so memory per record is bounded):
//!
//! - **Per client address.** After `max_failures_per_ip` failed logins from one address
//!   within `window`, every login from it is refused for `lockout`, even with the right
//!   password. Catches one host guessing many passwords or many accounts.
//! - **Per account.** After `max_failures_per_account` failed logins against one
//!   existing account, from anywhere, within `window`, the account is locked for
//!   `lockout` — but only for addresses that are not *familiar*: an address from which
//!   the account logged in successfully recently (the last [`MAX_FAMILIAR`] such
//!   addresses, for [`FAMILIAR_FOR`]) still gets in. This is "smart lockout": a
//!   distributed guesser (one or two tries from each of many addresses) is stopped,
//!   while the owner, at home or on their phone's usual network, is not locked out by
//!   somebody else's failures. The price: the owner on a new network during an attack
//!   waits for the lockout to end, and familiarity is kept in memory only, so it is
//!   forgotten at restart.
//!
//! Before each check the caller waits a growing delay: `delay` after the first recent
//! failure, doubled for each further one, at most `max_delay`. The count is the
//! address's failures, or the account's when that is larger and the address is not
//! familiar. The delay comes before the check, whether the password then turns out
//! right or wrong, so its length tells a guesser nothing, and closing the connection
//! early does not skip it (Dovecot's `auth_penalty` works the same way).
//!
//! A success from an address forgets that address's failures against that account (a
//! mistyped password followed by the right one leaves no trace), but not its failures
//! against other accounts: a guesser cannot wipe its record by logging in to an account
//! of its own in between.
//!
//! A reload (SIGHUP) gives the throttle new limits with [`LoginThrottle::set_limits`]
//! and keeps its records: an address locked out stays locked until the time set when
//! it was locked, and recent failures count against the new limits.
//!
//! Several nodes on one shared store (PostgreSQL): the counts of failures and the
//! lockouts also live in the store's shared counters ([`SharedKeys`], driven by
//! `crate::shared_counts`), so N nodes do not give a guesser N times the tries:
//! [`LoginThrottle::judge_shared`] turns the cluster-wide counts into a verdict by the
//! same rules, and [`LoginThrottle::shared_lock`] says when a cluster-wide total locks.
//! Familiar addresses stay per node (each node learns them from the logins it sees),
//! so the owner's usual address may be locked out with the account on a node it never
//! logged in through. With the embedded store this file's records are the whole count.
//!
//! The clock is passed in, so the rules are tested without waiting.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Most records of each kind kept at once; past this, stale records are dropped and, if
/// that is not enough, an arbitrary one, so a flood of addresses cannot grow memory
/// without bound.
const MAX_TRACKED: usize = 100_000;

/// How many familiar addresses an account keeps (the most recent ones).
pub const MAX_FAMILIAR: usize = 16;

/// How long after its last successful login an address stays familiar to an account.
pub const FAMILIAR_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// The limits, from the `[auth]` config section.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    /// Failures from one address that lock it out.
    pub max_failures_per_ip: u32,
    /// Failures against one account that lock it for unfamiliar addresses.
    pub max_failures_per_account: u32,
    /// How far back failures count.
    pub window: Duration,
    /// How long a lock lasts.
    pub lockout: Duration,
    /// The wait before a check after one recent failure (doubles with each more).
    pub delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
}

impl ThrottleLimits {
    /// The limits of the `[auth]` config section.
    pub fn from_config(auth: &config::Auth) -> Self {
        ThrottleLimits {
            max_failures_per_ip: auth.max_failures_per_ip,
            max_failures_per_account: auth.max_failures_per_account,
            window: Duration::from_secs(auth.failure_window_secs),
            lockout: Duration::from_secs(auth.lockout_secs),
            delay: Duration::from_millis(auth.failure_delay_ms),
            max_delay: Duration::from_millis(auth.max_failure_delay_ms),
        }
    }

    /// Each failure limit at least 1 (0 would lock at once, with no failure at all).
    fn sane(self) -> Self {
        ThrottleLimits {
            max_failures_per_ip: self.max_failures_per_ip.max(1),
            max_failures_per_account: self.max_failures_per_account.max(1),
            ..self
        }
    }
}

/// What [`LoginThrottle::before`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password, after waiting this long.
    Check(Duration),
    /// The client address is locked out.
    AddressLocked,
    /// The account is locked for addresses it does not know.
    AccountLocked,
}

#[derive(Debug, Default)]
struct AddressRecord {
    /// Time and login name of each recent failure, oldest first.
    failures: VecDeque<(Instant, String)>,
    locked_until: Option<Instant>,
}

#[derive(Debug, Default)]
struct AccountRecord {
    /// Time and client address of each recent failure, oldest first.
    failures: VecDeque<(Instant, IpAddr)>,
    locked_until: Option<Instant>,
    /// Addresses of recent successful logins, with the time of the last one.
    familiar: Vec<(IpAddr, Instant)>,
}

#[derive(Debug, Default)]
struct Records {
    addresses: HashMap<IpAddr, AddressRecord>,
    accounts: HashMap<String, AccountRecord>,
}

/// Counts failed logins per client address and per account.
#[derive(Debug)]
pub struct LoginThrottle {
    /// Replaced whole by a reload; each call works with one copy of it.
    limits: RwLock<ThrottleLimits>,
    records: Mutex<Records>,
}

impl LoginThrottle {
    /// A throttle with the configured limits (each failure limit at least 1).
    pub fn new(limits: ThrottleLimits) -> Self {
        LoginThrottle {
            limits: RwLock::new(limits.sane()),
            records: Mutex::new(Records::default()),
        }
    }

    /// New limits (a reload), for every call from now on. The records stay: lockouts
    /// keep their end time, and recent failures count against the new limits (lowered
    /// below what an address has, its next failure locks it).
    pub fn set_limits(&self, limits: ThrottleLimits) {
        *self.limits.write().unwrap_or_else(PoisonError::into_inner) = limits.sane();
    }

    /// The limits in force.
    pub fn limits(&self) -> ThrottleLimits {
        *self.limits.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn records(&self) -> std::sync::MutexGuard<'_, Records> {
        // The maps stay consistent even if a holder panicked: take them back.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a login from `ip` as `login` (a normalized login name) may be checked
    /// now, and after what wait.
    pub fn before(&self, ip: IpAddr, login: &str, now: Instant) -> Verdict {
        let limits = self.limits();
        let window = limits.window;
        let mut records = self.records();
        let mut ip_failures = 0;
        if let Some(r) = records.addresses.get_mut(&ip) {
            if r.locked_until.is_some_and(|until| now < until) {
                return Verdict::AddressLocked;
            }
            prune(&mut r.failures, now, window);
            ip_failures = r.failures.len();
        }
        let mut account_failures = 0;
        if let Some(r) = records.accounts.get_mut(login) {
            let familiar = r.is_familiar(ip, now);
            if !familiar && r.locked_until.is_some_and(|until| now < until) {
                return Verdict::AccountLocked;
            }
            prune(&mut r.failures, now, window);
            if !familiar {
                account_failures = r.failures.len();
            }
        }
        Verdict::Check(delay_for(&limits, ip_failures.max(account_failures)))
    }

    /// Records a failed login from `ip` as `login`; `account_exists` says whether the
    /// name is an account (only those get an account record, so made-up names cannot
    /// fill memory). Returns true when this failure locked the address or the account.
    pub fn failed(&self, ip: IpAddr, login: &str, account_exists: bool, now: Instant) -> bool {
        let limits = self.limits();
        let mut records = self.records();
        let mut locked = false;

        make_room(&mut records.addresses, &ip, |r| {
            r.locked_until.is_none_or(|until| until <= now)
                && r.failures
                    .back()
                    .is_none_or(|(t, _)| now.duration_since(*t) >= limits.window)
        });
        let r = records.addresses.entry(ip).or_default();
        prune(&mut r.failures, now, limits.window);
        r.failures.push_back((now, login.to_owned()));
        if r.failures.len() >= limits.max_failures_per_ip as usize {
            // Counting starts afresh when the lockout ends.
            r.failures.clear();
            r.locked_until = Some(now + limits.lockout);
            locked = true;
        }

        if account_exists {
            let key = login.to_owned();
            make_room(&mut records.accounts, &key, |r| {
                r.locked_until.is_none_or(|until| until <= now)
                    && r.failures
                        .back()
                        .is_none_or(|(t, _)| now.duration_since(*t) >= limits.window)
                    && r.familiar
                        .iter()
                        .all(|(_, t)| now.duration_since(*t) >= FAMILIAR_FOR)
            });
            let r = records.accounts.entry(key).or_default();
            prune(&mut r.failures, now, limits.window);
            r.failures.push_back((now, ip));
            if r.failures.len() >= limits.max_failures_per_account as usize {
                r.failures.clear();
                r.locked_until = Some(now + limits.lockout);
                locked = true;
            }
        }
        locked
    }

    /// Records a successful login from `ip` as `login`: the address becomes familiar
    /// to the account, and its failures against this account are forgotten (on both
    /// records); its failures against other names stay.
    pub fn succeeded(&self, ip: IpAddr, login: &str, now: Instant) {
        let mut records = self.records();
        if let Some(r) = records.addresses.get_mut(&ip) {
            r.failures.retain(|(_, name)| name != login);
            if r.failures.is_empty() && r.locked_until.is_none_or(|until| until <= now) {
                records.addresses.remove(&ip);
            }
        }
        let key = login.to_owned();
        make_room(&mut records.accounts, &key, |r| {
            r.locked_until.is_none_or(|until| until <= now)
                && r.failures.is_empty()
                && r.familiar
                    .iter()
                    .all(|(_, t)| now.duration_since(*t) >= FAMILIAR_FOR)
        });
        let r = records.accounts.entry(key).or_default();
        r.failures.retain(|(_, from)| *from != ip);
        r.familiar
            .retain(|(a, t)| *a != ip && now.duration_since(*t) < FAMILIAR_FOR);
        if r.familiar.len() >= MAX_FAMILIAR {
            // The oldest goes (the list is kept in order of last success).
            r.familiar.remove(0);
        }
        r.familiar.push((ip, now));
    }
}

/// The shared-counter keys of a login attempt (`Store::counter_add`): failures from
/// the address (a part per login name, so a success forgets only its own), failures
/// against the account (a part per address), and the two lockouts. Login names are cut
/// to fit the store's key length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedKeys {
    /// `login-ip:ADDRESS`, parts by login name, counted over `window`.
    pub ip_failures: String,
    /// `login-ip-lock:ADDRESS`, counted over `lockout`: non-zero while locked.
    pub ip_lock: String,
    /// `login-acct:LOGIN`, parts by address, counted over `window`.
    pub account_failures: String,
    /// `login-acct-lock:LOGIN`, counted over `lockout`.
    pub account_lock: String,
    /// The part this attempt adds to `ip_failures`: the login name (cut to fit).
    pub login_part: String,
    /// The part this attempt adds to `account_failures`: the address.
    pub ip_part: String,
}

impl SharedKeys {
    /// The keys for a login from `ip` as `login` (a normalized login name).
    pub fn new(ip: IpAddr, login: &str) -> SharedKeys {
        let login = cut(login, store::COUNTER_KEY_MAX - "login-acct-lock:".len());
        SharedKeys {
            ip_failures: format!("login-ip:{ip}"),
            ip_lock: format!("login-ip-lock:{ip}"),
            account_failures: format!("login-acct:{login}"),
            account_lock: format!("login-acct-lock:{login}"),
            login_part: login.to_owned(),
            ip_part: ip.to_string(),
        }
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What the shared counters say about a login attempt (see [`SharedKeys`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedCounts {
    /// Failures from the address within the window, on every node.
    pub ip_failures: u64,
    /// The address is locked out (by any node).
    pub ip_locked: bool,
    /// Failures against the account within the window, on every node.
    pub account_failures: u64,
    /// The account is locked for unfamiliar addresses (by any node).
    pub account_locked: bool,
}

impl LoginThrottle {
    /// Whether `ip` is familiar to `login` on this node (a recent success from it).
    pub fn is_familiar(&self, ip: IpAddr, login: &str, now: Instant) -> bool {
        self.records()
            .accounts
            .get(login)
            .is_some_and(|r| r.is_familiar(ip, now))
    }

    /// The verdict of [`LoginThrottle::before`]'s rules on the cluster-wide `counts`:
    /// the address locked, the account locked for an address not familiar here, else
    /// the delay for the larger of the address's and (unfamiliar) account's failures.
    pub fn judge_shared(
        &self,
        ip: IpAddr,
        login: &str,
        counts: &SharedCounts,
        now: Instant,
    ) -> Verdict {
        if counts.ip_locked {
            return Verdict::AddressLocked;
        }
        let familiar = self.is_familiar(ip, login, now);
        if !familiar && counts.account_locked {
            return Verdict::AccountLocked;
        }
        let account = if familiar { 0 } else { counts.account_failures };
        let failures = usize::try_from(counts.ip_failures.max(account)).unwrap_or(usize::MAX);
        Verdict::Check(delay_for(&self.limits(), failures))
    }

    /// Whether cluster-wide totals after a failure lock the address and the account:
    /// (address, account); an account total of `None` is an unknown name (no record).
    pub fn shared_lock(&self, ip_total: u64, account_total: Option<u64>) -> (bool, bool) {
        let limits = self.limits();
        (
            ip_total >= u64::from(limits.max_failures_per_ip),
            account_total.is_some_and(|t| t >= u64::from(limits.max_failures_per_account)),
        )
    }
}

impl AccountRecord {
    fn is_familiar(&self, ip: IpAddr, now: Instant) -> bool {
        self.familiar
            .iter()
            .any(|(a, t)| *a == ip && now.duration_since(*t) < FAMILIAR_FOR)
    }
}

/// The wait after `failures` recent failures: none, then `delay`, doubling, capped.
fn delay_for(limits: &ThrottleLimits, failures: usize) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(failures - 1).unwrap_or(u32::MAX).min(20);
    limits
        .delay
        .saturating_mul(1 << doublings)
        .min(limits.max_delay)
}

/// Drops the entries older than `window` from the front of a failure list.
fn prune<T>(failures: &mut VecDeque<(Instant, T)>, now: Instant, window: Duration) {
    while failures
        .front()
        .is_some_and(|(t, _)| now.duration_since(*t) >= window)
    {
        failures.pop_front();
    }
}

/// Before a new key goes into a full map: drops the stale records, and if none is
/// stale, one arbitrary record.
fn make_room<K, V>(map: &mut HashMap<K, V>, key: &K, stale: impl Fn(&V) -> bool)
where
    K: std::hash::Hash + Eq + Clone,
{
    if map.len() < MAX_TRACKED || map.contains_key(key) {
        return;
    }
    map.retain(|_, v| !stale(v));
    if map.len() >= MAX_TRACKED
        && let Some(victim) = map.keys().next().cloned()
    {
        map.remove(&victim);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ThrottleLimits {
        ThrottleLimits {
            max_failures_per_ip: 3,
            max_failures_per_account: 4,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
            delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn the_delay_grows_then_the_address_is_locked_until_the_lockout_ends() {
        let t = LoginThrottle::new(limits());
        let t0 = Instant::now();
        assert_eq!(t.before(ip(1), "a@x", t0), Verdict::Check(Duration::ZERO));
        assert!(!t.failed(ip(1), "a@x", false, t0));
        assert_eq!(t.before(ip(1), "a@x", t0), Verdict::Check(secs(1)));
        assert!(!t.failed(ip(1), "b@x", false, t0 + secs(1)));
        assert_eq!(
            t.before(ip(1), "c@x", t0 + secs(2)),
            Verdict::Check(secs(2))
        );
        assert!(
            t.failed(ip(1), "c@x", false, t0 + secs(2)),
            "third failure locks"
        );
        assert_eq!(t.before(ip(1), "a@x", t0 + secs(3)), Verdict::AddressLocked);
        assert_eq!(
            t.before(ip(2), "a@x", t0 + secs(3)),
            Verdict::Check(Duration::ZERO),
            "another address is not affected"
        );
        assert_eq!(
            t.before(ip(1), "a@x", t0 + secs(301)),
            Verdict::AddressLocked
        );
        assert_eq!(
            t.before(ip(1), "a@x", t0 + secs(303)),
            Verdict::Check(Duration::ZERO),
            "the count starts afresh after the lockout"
        );
    }

    #[test]
    fn the_delay_is_capped() {
        let t = LoginThrottle::new(ThrottleLimits {
            max_failures_per_ip: 100,
            ..limits()
        });
        let t0 = Instant::now();
        let mut seen = Vec::new();
        for _ in 0..6 {
            t.failed(ip(1), "a@x", false, t0);
            let Verdict::Check(d) = t.before(ip(1), "a@x", t0) else {
                panic!("not locked yet")
            };
            seen.push(d.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 5, 5, 5]);
    }

    #[test]
    fn old_failures_leave_the_window() {
        let t = LoginThrottle::new(limits());
        let t0 = Instant::now();
        t.failed(ip(1), "a@x", false, t0);
        t.failed(ip(1), "a@x", false, t0 + secs(30));
        assert_eq!(
            t.before(ip(1), "a@x", t0 + secs(61)),
            Verdict::Check(secs(1))
        );
        assert!(
            !t.failed(ip(1), "a@x", false, t0 + secs(61)),
            "only two failures in the last minute"
        );
    }

    #[test]
    fn success_forgets_the_failures_against_that_account_only() {
        let t = LoginThrottle::new(limits());
        let t0 = Instant::now();
        t.failed(ip(1), "a@x", true, t0);
        t.succeeded(ip(1), "a@x", t0);
        assert_eq!(t.before(ip(1), "a@x", t0), Verdict::Check(Duration::ZERO));

        // A guesser logging in to its own account in between keeps its record.
        t.failed(ip(1), "victim@x", true, t0);
        t.failed(ip(1), "victim@x", true, t0);
        t.succeeded(ip(1), "mine@x", t0);
        assert!(
            t.failed(ip(1), "victim@x", true, t0),
            "still locks at the third"
        );
    }

    #[test]
    fn an_attacked_account_is_locked_for_strangers_but_not_for_familiar_addresses() {
        let t = LoginThrottle::new(limits());
        let t0 = Instant::now();
        let home = ip(100);
        t.succeeded(home, "alice@x", t0);
        // Four addresses, one guess each: no address is locked, the account is.
        for n in 1..=3 {
            assert!(!t.failed(ip(n), "alice@x", true, t0 + secs(1)));
        }
        assert!(t.failed(ip(4), "alice@x", true, t0 + secs(1)));
        assert_eq!(
            t.before(ip(5), "alice@x", t0 + secs(2)),
            Verdict::AccountLocked
        );
        assert_eq!(
            t.before(home, "alice@x", t0 + secs(2)),
            Verdict::Check(Duration::ZERO),
            "the owner's usual address still gets in, without a delay"
        );
        assert_eq!(
            t.before(ip(5), "bob@x", t0 + secs(2)),
            Verdict::Check(Duration::ZERO),
            "other accounts are not affected"
        );
        assert_eq!(
            t.before(ip(5), "alice@x", t0 + secs(302)),
            Verdict::Check(Duration::ZERO)
        );
    }

    #[test]
    fn account_failures_delay_strangers() {
        let t = LoginThrottle::new(limits());
        let t0 = Instant::now();
        t.succeeded(ip(100), "alice@x", t0);
        t.failed(ip(1), "alice@x", true, t0);
        t.failed(ip(2), "alice@x", true, t0);
        assert_eq!(t.before(ip(3), "alice@x", t0), Verdict::Check(secs(2)));
        assert_eq!(
            t.before(ip(100), "alice@x", t0),
            Verdict::Check(Duration::ZERO)
        );
    }

    #[test]
    fn unknown_names_get_no_account_record() {
        let t = LoginThrottle::new(limits());
        let t0 = Instant::now();
        for n in 1..=5 {
            t.failed(ip(n), "ghost@x", false, t0);
        }
        assert_eq!(
            t.before(ip(9), "ghost@x", t0),
            Verdict::Check(Duration::ZERO)
        );
        assert!(t.records().accounts.is_empty());
    }

    #[test]
    fn new_limits_keep_the_records() {
        let t = LoginThrottle::new(limits());
        let t0 = Instant::now();
        // Two failures of three allowed; a reload allows five.
        t.failed(ip(1), "a@x", false, t0);
        t.failed(ip(1), "a@x", false, t0);
        t.set_limits(ThrottleLimits {
            max_failures_per_ip: 5,
            delay: secs(2),
            max_delay: secs(10),
            ..limits()
        });
        assert_eq!(
            t.before(ip(1), "a@x", t0),
            Verdict::Check(secs(4)),
            "the two failures still count, with the new delay"
        );
        assert!(!t.failed(ip(1), "a@x", false, t0), "third of five");
        assert!(!t.failed(ip(1), "a@x", false, t0), "fourth of five");
        assert!(t.failed(ip(1), "a@x", false, t0), "the fifth locks");

        // Lowered below what an address already has: its next failure locks it.
        t.failed(ip(2), "b@x", false, t0);
        t.failed(ip(2), "b@x", false, t0);
        t.set_limits(ThrottleLimits {
            max_failures_per_ip: 2,
            lockout: secs(10),
            ..limits()
        });
        assert!(t.failed(ip(2), "b@x", false, t0));
        // A lockout keeps the end set when it began (300 s), not the new 10 s.
        assert_eq!(
            t.before(ip(1), "a@x", t0 + secs(20)),
            Verdict::AddressLocked
        );
        assert_eq!(
            t.before(ip(2), "b@x", t0 + secs(20)),
            Verdict::Check(Duration::ZERO)
        );
    }

    #[test]
    fn limits_come_from_the_auth_section() {
        let auth = config::Auth {
            max_failures_per_ip: 0,
            failure_window_secs: 7,
            failure_delay_ms: 30,
            ..config::Auth::default()
        };
        let t = LoginThrottle::new(ThrottleLimits::from_config(&auth));
        let l = t.limits();
        assert_eq!(l.max_failures_per_ip, 1, "0 would lock without a failure");
        assert_eq!(l.window, secs(7));
        assert_eq!(l.delay, Duration::from_millis(30));
    }

    #[test]
    fn familiarity_expires_and_is_bounded() {
        let t = LoginThrottle::new(limits());
        let t0 = Instant::now();
        for n in 0..=MAX_FAMILIAR as u8 {
            t.succeeded(ip(n), "alice@x", t0 + secs(u64::from(n)));
        }
        let records = t.records();
        let r = &records.accounts["alice@x"];
        assert_eq!(r.familiar.len(), MAX_FAMILIAR);
        assert!(!r.is_familiar(ip(0), t0 + secs(100)), "the oldest went");
        assert!(r.is_familiar(ip(1), t0 + secs(100)));
        assert!(!r.is_familiar(ip(1), t0 + secs(1) + FAMILIAR_FOR));
    }
}
