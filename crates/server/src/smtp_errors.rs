//! SMTP errors per client address (`smtp.max_errors_per_ip` within
//! `smtp.error_window_secs`): a harvester or relay prober that reconnects after each
//! `421` still runs out of tries. Together with the per-connection `smtp.max_errors`
//! and its tarpit (in the SMTP driver), this is Postie's answer to address harvesting.
//!
//! Where it sits: the SMTP driver asks [`ErrorCounts::blocked`] before greeting a client
//! and after each batch of replies, and [`ErrorCounts::add`]s the errors its session
//! counted. State is in memory (lost at restart), one small entry per address with
//! recent errors; entries older than the window are dropped as the map is touched, so
//! it cannot grow past the addresses seen in one window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Errors per client address in a fixed window starting at the address's first error.
#[derive(Debug)]
pub(crate) struct ErrorCounts {
    max: u32,
    window: Duration,
    counts: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl ErrorCounts {
    pub fn new(max: u32, window: Duration) -> Self {
        ErrorCounts {
            max,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts `n` more errors from `ip` at `now`.
    pub fn add(&self, ip: IpAddr, n: u32, now: Instant) {
        if n == 0 {
            return;
        }
        let mut counts = self.counts.lock().expect("error counts lock");
        if counts.len() > 10_000 {
            counts.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = counts.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(n);
    }

    /// Whether `ip` has used up its errors for the current window.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        let counts = self.counts.lock().expect("error counts lock");
        counts
            .get(&ip)
            .is_some_and(|(start, n)| now.duration_since(*start) < self.window && *n >= self.max)
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
}
