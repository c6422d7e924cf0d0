//! Hourly sending limits: messages and recipients per authenticated user, and per
//! client address for unauthenticated mail (config `smtp.max_messages_per_hour_per_user`
//! and friends). The SMTP driver asks [`SendingLimits::take_message`] at MAIL and
//! [`SendingLimits::take_recipient`] at each RCPT it is about to accept; over a limit the
//! client gets `451 4.7.1` (RFC 5321 §4.2.2 transient, RFC 3463 X.7.1), so a legitimate
//! sender's mail is only delayed: its server, or its mail client, tries again later.
//!
//! Counting is in memory, like Postfix's anvil: a restart forgets it. Each key has a
//! sliding-window counter: this hour-long window's count plus the previous window's,
//! weighted by how much of it still overlaps the last hour. That needs two numbers per
//! key rather than a timestamp per message, and has no burst at window boundaries.
//! What is counted is what was let through (a MAIL answered 250, an RCPT answered 250);
//! refused attempts do not count, so a sender that waits is let in again.
//!
//! A reload (SIGHUP) changes the limits with [`SendingLimits::set_limits`] and keeps
//! the counts: a sender that used 80 of its hour and sees the limit lowered to 50 waits
//! until its sliding count drops below 50. A limit of 0 counts nothing, so a limit
//! switched on by a reload counts from then on.
//!
//! Several nodes on one shared store (PostgreSQL): the counts live in the store's
//! shared counters instead (`crate::shared_counts`, keys from
//! [`SendingLimits::shared_key`]), fixed one-minute buckets summed over the last hour,
//! so a sender spread over N nodes gets the hour's limit once, not N times. With the
//! embedded store the counters here are the only ones.
//!
//! The clock is passed in, so the rules are tested without waiting.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The window the limits are per.
pub const WINDOW: Duration = Duration::from_secs(3600);

/// Most keys tracked per counter; past this, idle ones are dropped first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    current: u64,
    previous: u64,
}

impl Window {
    /// Moves the window forward to the one `now` falls in.
    fn roll(&mut self, now: Instant, window: Duration) {
        let elapsed = now.saturating_duration_since(self.start);
        if elapsed < window {
            return;
        }
        let windows = elapsed.as_nanos() / window.as_nanos();
        self.previous = if windows == 1 { self.current } else { 0 };
        self.current = 0;
        self.start += window * u32::try_from(windows).unwrap_or(u32::MAX);
    }

    /// The estimated count over the last `window`.
    fn estimate(&self, now: Instant, window: Duration) -> f64 {
        let into = now.saturating_duration_since(self.start).as_secs_f64() / window.as_secs_f64();
        self.previous as f64 * (1.0 - into).max(0.0) + self.current as f64
    }
}

/// A sliding-window counter per key with one limit.
#[derive(Debug)]
pub struct RateCounter<K> {
    /// Read on each call; a reload stores a new one.
    limit: AtomicU64,
    window: Duration,
    windows: Mutex<HashMap<K, Window>>,
}

impl<K: Hash + Eq + Clone> RateCounter<K> {
    /// At most `limit` per `window`; a limit of 0 means no limit.
    pub fn new(limit: u64, window: Duration) -> Self {
        RateCounter {
            limit: AtomicU64::new(limit),
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The limit in force (0: none).
    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// A new limit (0: none) for every call from now on; the counts stay.
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Counts `n` more for `key` unless that would pass the limit; true when counted.
    pub fn try_take(&self, key: &K, n: u64, now: Instant) -> bool {
        let limit = self.limit.load(Ordering::Relaxed);
        if limit == 0 {
            return true;
        }
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= MAX_TRACKED && !windows.contains_key(key) {
            let window = self.window;
            windows.retain(|_, w| now.saturating_duration_since(w.start) < window * 2);
            if windows.len() >= MAX_TRACKED
                && let Some(victim) = windows.keys().next().cloned()
            {
                windows.remove(&victim);
            }
        }
        let w = windows.entry(key.clone()).or_insert(Window {
            start: now,
            current: 0,
            previous: 0,
        });
        w.roll(now, self.window);
        if w.estimate(now, self.window) + n as f64 > limit as f64 {
            return false;
        }
        w.current += n;
        true
    }
}

/// Who a limit is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sender {
    /// An authenticated user (the normalized login name).
    User(String),
    /// An unauthenticated client, by address.
    Address(IpAddr),
}

/// Which limit refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// Messages per hour.
    Messages,
    /// Recipients per hour.
    Recipients,
}

/// The four hourly limits of `[smtp]`.
#[derive(Debug)]
pub struct SendingLimits {
    user_messages: RateCounter<String>,
    user_recipients: RateCounter<String>,
    ip_messages: RateCounter<IpAddr>,
    ip_recipients: RateCounter<IpAddr>,
}

impl SendingLimits {
    /// The limits of `config` (0 is no limit), per [`WINDOW`].
    pub fn new(smtp: &config::Smtp) -> Self {
        SendingLimits {
            user_messages: RateCounter::new(smtp.max_messages_per_hour_per_user, WINDOW),
            user_recipients: RateCounter::new(smtp.max_recipients_per_hour_per_user, WINDOW),
            ip_messages: RateCounter::new(smtp.max_messages_per_hour_per_ip, WINDOW),
            ip_recipients: RateCounter::new(smtp.max_recipients_per_hour_per_ip, WINDOW),
        }
    }

    /// The limits of a reloaded `config`, keeping every count.
    pub fn set_limits(&self, smtp: &config::Smtp) {
        self.user_messages
            .set_limit(smtp.max_messages_per_hour_per_user);
        self.user_recipients
            .set_limit(smtp.max_recipients_per_hour_per_user);
        self.ip_messages
            .set_limit(smtp.max_messages_per_hour_per_ip);
        self.ip_recipients
            .set_limit(smtp.max_recipients_per_hour_per_ip);
    }

    /// The shared-counter key (`Store::counter_add`) and limit of `which` for
    /// `sender`: `send-user-msg:LOGIN`, `send-user-rcpt:LOGIN`, `send-ip-msg:ADDRESS`
    /// or `send-ip-rcpt:ADDRESS`; `None` when that limit is off (0). A login name too
    /// long for a key is cut (names sharing the first 200 bytes share a count).
    pub fn shared_key(&self, which: Exceeded, sender: &Sender) -> Option<(String, u64)> {
        let (limit, kind, who) = match (which, sender) {
            (Exceeded::Messages, Sender::User(u)) => {
                (self.user_messages.limit(), "user-msg", cut(u))
            }
            (Exceeded::Recipients, Sender::User(u)) => {
                (self.user_recipients.limit(), "user-rcpt", cut(u))
            }
            (Exceeded::Messages, Sender::Address(ip)) => {
                (self.ip_messages.limit(), "ip-msg", ip.to_string())
            }
            (Exceeded::Recipients, Sender::Address(ip)) => {
                (self.ip_recipients.limit(), "ip-rcpt", ip.to_string())
            }
        };
        (limit > 0).then(|| (format!("send-{kind}:{who}"), limit))
    }

    /// Counts one message (a MAIL command about to be accepted).
    pub fn take_message(&self, sender: &Sender, now: Instant) -> Result<(), Exceeded> {
        let ok = match sender {
            Sender::User(user) => self.user_messages.try_take(user, 1, now),
            Sender::Address(ip) => self.ip_messages.try_take(ip, 1, now),
        };
        if ok { Ok(()) } else { Err(Exceeded::Messages) }
    }

    /// Counts one recipient (an RCPT command about to be accepted).
    pub fn take_recipient(&self, sender: &Sender, now: Instant) -> Result<(), Exceeded> {
        let ok = match sender {
            Sender::User(user) => self.user_recipients.try_take(user, 1, now),
            Sender::Address(ip) => self.ip_recipients.try_take(ip, 1, now),
        };
        if ok {
            Ok(())
        } else {
            Err(Exceeded::Recipients)
        }
    }
}

/// A login name cut to 200 bytes (at a character boundary), to fit a counter key.
fn cut(login: &str) -> String {
    let mut end = login.len().min(200);
    while !login.is_char_boundary(end) {
        end -= 1;
    }
    login[..end].to_owned()
}

/// The reply for a limit reached: `451 4.7.1`, temporary, so nothing is lost.
pub fn refusal(exceeded: Exceeded) -> proto::Reply {
    match exceeded {
        Exceeded::Messages => proto::Reply::too_many_messages_per_hour(),
        Exceeded::Recipients => proto::Reply::too_many_recipients_per_hour(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn mins(n: u64) -> Duration {
        Duration::from_secs(60 * n)
    }

    #[test]
    fn counts_up_to_the_limit_per_key() {
        let c = RateCounter::new(3, HOUR);
        let t0 = Instant::now();
        assert!(c.try_take(&"a", 1, t0));
        assert!(c.try_take(&"a", 2, t0 + mins(1)));
        assert!(!c.try_take(&"a", 1, t0 + mins(2)), "fourth is over");
        assert!(
            c.try_take(&"b", 3, t0 + mins(2)),
            "other keys have their own count"
        );
        assert!(!c.try_take(&"b", 1, t0 + mins(2)));
    }

    #[test]
    fn a_refused_attempt_is_not_counted() {
        let c = RateCounter::new(2, HOUR);
        let t0 = Instant::now();
        assert!(!c.try_take(&"a", 3, t0), "more than the limit at once");
        assert!(c.try_take(&"a", 2, t0), "the refusal did not use any of it");
    }

    #[test]
    fn the_window_slides() {
        let c = RateCounter::new(10, HOUR);
        let t0 = Instant::now();
        assert!(c.try_take(&"a", 10, t0));
        assert!(!c.try_take(&"a", 1, t0 + mins(59)));
        // Half-way through the next window half of the old count still weighs.
        assert!(c.try_take(&"a", 5, t0 + mins(90)));
        assert!(!c.try_take(&"a", 1, t0 + mins(90)));
        // Two windows later the old count is gone entirely.
        assert!(c.try_take(&"a", 10, t0 + mins(181)));
    }

    #[test]
    fn no_limit_when_zero() {
        let c = RateCounter::new(0, HOUR);
        let t0 = Instant::now();
        assert!(c.try_take(&"a", 1_000_000, t0));
        assert!(c.try_take(&"a", 1_000_000, t0));
    }

    #[test]
    fn users_and_addresses_are_counted_apart() {
        let limits = SendingLimits::new(&config::Smtp {
            max_messages_per_hour_per_user: 1,
            max_recipients_per_hour_per_user: 2,
            max_messages_per_hour_per_ip: 2,
            max_recipients_per_hour_per_ip: 1,
            ..config::Smtp::default()
        });
        let t0 = Instant::now();
        let user = Sender::User("alice@example.org".into());
        let ip = Sender::Address(IpAddr::from([192, 0, 2, 1]));
        assert_eq!(limits.take_message(&user, t0), Ok(()));
        assert_eq!(limits.take_message(&user, t0), Err(Exceeded::Messages));
        assert_eq!(limits.take_message(&ip, t0), Ok(()));
        assert_eq!(limits.take_message(&ip, t0), Ok(()));
        assert_eq!(limits.take_message(&ip, t0), Err(Exceeded::Messages));
        assert_eq!(limits.take_recipient(&user, t0), Ok(()));
        assert_eq!(limits.take_recipient(&user, t0), Ok(()));
        assert_eq!(limits.take_recipient(&user, t0), Err(Exceeded::Recipients));
        assert_eq!(limits.take_recipient(&ip, t0), Ok(()));
        assert_eq!(limits.take_recipient(&ip, t0), Err(Exceeded::Recipients));
    }

    #[test]
    fn new_limits_keep_the_counts() {
        let c = RateCounter::new(10, HOUR);
        let t0 = Instant::now();
        assert!(c.try_take(&"a", 3, t0));
        c.set_limit(4);
        assert!(c.try_take(&"a", 1, t0), "three of four were used");
        assert!(!c.try_take(&"a", 1, t0));
        c.set_limit(6);
        assert!(c.try_take(&"a", 2, t0));
        assert!(!c.try_take(&"a", 1, t0));
        // Without a limit nothing is counted (no memory spent on it): a limit set
        // later counts from then on.
        c.set_limit(0);
        assert!(c.try_take(&"b", 100, t0));
        c.set_limit(1);
        assert!(c.try_take(&"b", 1, t0));
        assert!(!c.try_take(&"b", 1, t0));
    }

    #[test]
    fn a_reloaded_smtp_section_keeps_the_counts() {
        let mut smtp = config::Smtp {
            max_messages_per_hour_per_ip: 5,
            ..config::Smtp::default()
        };
        let limits = SendingLimits::new(&smtp);
        let t0 = Instant::now();
        let ip = Sender::Address(IpAddr::from([192, 0, 2, 1]));
        let user = Sender::User("alice@example.org".into());
        for _ in 0..2 {
            assert_eq!(limits.take_message(&ip, t0), Ok(()));
        }
        assert_eq!(limits.take_recipient(&user, t0), Ok(()));
        smtp.max_messages_per_hour_per_ip = 2;
        smtp.max_recipients_per_hour_per_user = 1;
        limits.set_limits(&smtp);
        assert_eq!(limits.take_message(&ip, t0), Err(Exceeded::Messages));
        assert_eq!(limits.take_recipient(&user, t0), Err(Exceeded::Recipients));
    }

    #[test]
    fn the_refusal_is_temporary() {
        let r = refusal(Exceeded::Messages).to_string();
        assert!(r.starts_with("451 4.7.1 "), "{r}");
    }
}
