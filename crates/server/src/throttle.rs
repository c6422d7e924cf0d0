//! Login throttling per client address, shared by every protocol that takes a password
//! (SMTP AUTH, POP3, later IMAP): after `max_failures` failed logins from one IP address
//! within `window`, logins from that address are refused for `lockout`, even with the
//! right password (RFC 4954 §9 and RFC 5034 §8 on password guessing).
//!
//! The clock is passed in, so the rules are tested without waiting.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most addresses tracked at once; the oldest entries are dropped past this, so a flood
/// of addresses cannot grow memory without bound.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

/// Counts failed logins per IP address.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    lockout: Duration,
    records: Mutex<HashMap<IpAddr, Record>>,
}

impl LoginThrottle {
    /// A throttle with the configured limits.
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> Self {
        LoginThrottle {
            max_failures: max_failures.max(1),
            window,
            lockout,
            records: Mutex::new(HashMap::new()),
        }
    }

    /// True while `ip` is locked out.
    pub fn is_locked(&self, ip: IpAddr, now: Instant) -> bool {
        let records = self.records.lock().expect("throttle lock");
        records
            .get(&ip)
            .and_then(|r| r.locked_until)
            .is_some_and(|until| now < until)
    }

    /// Records a failed login; returns true when this failure locked the address out.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> bool {
        let mut records = self.records.lock().expect("throttle lock");
        if records.len() >= MAX_TRACKED && !records.contains_key(&ip) {
            let stale = self.window.max(self.lockout);
            records.retain(|_, r| now.duration_since(r.window_start) < stale);
        }
        let record = records.entry(ip).or_insert(Record {
            failures: 0,
            window_start: now,
            locked_until: None,
        });
        if now.duration_since(record.window_start) >= self.window {
            *record = Record {
                failures: 0,
                window_start: now,
                locked_until: None,
            };
        }
        record.failures += 1;
        if record.failures >= self.max_failures && record.locked_until.is_none() {
            record.locked_until = Some(now + self.lockout);
            return true;
        }
        false
    }

    /// Forgets the failures of `ip` after a successful login.
    pub fn succeeded(&self, ip: IpAddr) {
        self.records.lock().expect("throttle lock").remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_unlocks_after_the_lockout() {
        let t = LoginThrottle::new(3, Duration::from_secs(60), Duration::from_secs(300));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        assert!(!t.failed(ip, t0));
        assert!(!t.failed(ip, t0 + Duration::from_secs(1)));
        assert!(!t.is_locked(ip, t0 + Duration::from_secs(2)));
        assert!(t.failed(ip, t0 + Duration::from_secs(2)));
        assert!(t.is_locked(ip, t0 + Duration::from_secs(3)));
        assert!(
            !t.is_locked(other, t0 + Duration::from_secs(3)),
            "per address"
        );
        assert!(t.is_locked(ip, t0 + Duration::from_secs(301)));
        assert!(!t.is_locked(ip, t0 + Duration::from_secs(303)));
    }

    #[test]
    fn failures_outside_the_window_and_successes_reset() {
        let t = LoginThrottle::new(2, Duration::from_secs(60), Duration::from_secs(300));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        t.failed(ip, t0);
        assert!(
            !t.failed(ip, t0 + Duration::from_secs(61)),
            "old failure expired"
        );
        t.succeeded(ip);
        assert!(
            !t.failed(ip, t0 + Duration::from_secs(62)),
            "success forgot the count"
        );
        assert!(t.failed(ip, t0 + Duration::from_secs(63)));
    }
}
