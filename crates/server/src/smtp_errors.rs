//! SMTP errors per client address (`smtp.max_errors_per_ip` within
//! `smtp.error_window_secs`): a harvester or relay prober that reconnects after each
//! `421` still runs out of tries. Together with the per-connection `smtp.max_errors`
//! and its tarpit (in the SMTP driver), this is Postie's answer to address harvesting.
//!
//! Where it sits: the SMTP driver asks [`ErrorCounts::blocked`] before greeting a client
//! and after each batch of replies, and [`ErrorCounts::add`]s the errors its session
//! counted. State is in memory (lost at restart), one small entry per address with
//! recent errors; entries older than the window are dropped as the map is touched, so
//! it cannot grow past the addresses seen in one window. A reload (SIGHUP) gives new
//! limits with [`ErrorCounts::set_limits`] and keeps the counts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Errors per client address in a fixed window starting at the address's first error.
#[derive(Debug)]
pub(crate) struct ErrorCounts {
    inner: Mutex<Inner>,
}

/// The limits and the counts, under one lock so that each call sees one set of limits.
#[derive(Debug)]
struct Inner {
    max: u32,
    window: Duration,
    counts: HashMap<IpAddr, (Instant, u32)>,
}

impl ErrorCounts {
    /// At most `max` errors per address within `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        ErrorCounts {
            inner: Mutex::new(Inner {
                max,
                window,
                counts: HashMap::new(),
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain counters: still consistent if a holder panicked.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// New limits (a reload); the counts stay, each window still starting at its
    /// address's first error.
    pub fn set_limits(&self, max: u32, window: Duration) {
        let mut inner = self.inner();
        inner.max = max;
        inner.window = window;
    }

    /// Counts `n` more errors from `ip` at `now`.
    pub fn add(&self, ip: IpAddr, n: u32, now: Instant) {
        if n == 0 {
            return;
        }
        let mut inner = self.inner();
        let window = inner.window;
        if inner.counts.len() > 10_000 {
            inner
                .counts
                .retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = inner.counts.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(n);
    }

    /// Whether `ip` has used up its errors for the current window.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        let inner = self.inner();
        inner
            .counts
            .get(&ip)
            .is_some_and(|(start, n)| now.duration_since(*start) < inner.window && *n >= inner.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_address_and_per_window() {
        let counts = ErrorCounts::new(5, Duration::from_secs(60));
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let t0 = Instant::now();
        counts.add(a, 4, t0);
        assert!(!counts.blocked(a, t0));
        counts.add(a, 1, t0 + Duration::from_secs(1));
        assert!(counts.blocked(a, t0 + Duration::from_secs(2)));
        assert!(
            !counts.blocked(b, t0 + Duration::from_secs(2)),
            "others go on"
        );
        assert!(
            !counts.blocked(a, t0 + Duration::from_secs(61)),
            "the window moves on"
        );
        counts.add(a, 1, t0 + Duration::from_secs(61));
        assert!(!counts.blocked(a, t0 + Duration::from_secs(62)));
    }

    #[test]
    fn new_limits_keep_the_counts() {
        let counts = ErrorCounts::new(5, Duration::from_secs(60));
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        counts.add(a, 3, t0);
        counts.set_limits(3, Duration::from_secs(60));
        assert!(counts.blocked(a, t0), "three errors, three allowed now");
        counts.set_limits(10, Duration::from_secs(60));
        assert!(!counts.blocked(a, t0));
        // A shorter window: the address's window, begun at t0, ends sooner.
        counts.set_limits(3, Duration::from_secs(10));
        assert!(counts.blocked(a, t0 + Duration::from_secs(9)));
        assert!(!counts.blocked(a, t0 + Duration::from_secs(10)));
    }
}
