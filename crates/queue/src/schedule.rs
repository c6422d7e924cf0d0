//! When to try a deferred recipient again, when to give up and when to warn: pure
//! functions of the attempt count and the message's age, so they are tested without a
//! clock.
//!
//! The default follows common MTA practice (RFC 5321 §4.5.4.1 asks for at least 30
//! minutes between retries to one destination after the first failures, and for giving
//! up after 4-5 days): 1, 5, 15 and 30 minutes, then 1, 2 and every 4 hours, expiry 5
//! days after the message was queued, and one delay warning after 4 hours. The
//! `[queue]` config section sets all of them.

/// The retry policy of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Seconds to wait after the 1st, 2nd, … failure; the last value repeats. Never
    /// empty.
    retry_secs: Vec<i64>,
    /// How long a message may stay in the queue before its recipients fail.
    pub max_age_secs: i64,
    /// When the sender is told that a message is delayed; `None`: never.
    pub delay_warning_secs: Option<i64>,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::new(
            &[60, 300, 900, 1800, 3600, 7200, 14400],
            5 * 24 * 3600,
            4 * 3600,
        )
    }
}

impl Schedule {
    /// A schedule from the config values (an empty retry list means one minute; a zero
    /// `delay_warning_secs` turns warnings off).
    pub fn new(retry_secs: &[u64], max_age_secs: u64, delay_warning_secs: u64) -> Self {
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let mut retry: Vec<i64> = retry_secs.iter().map(|&v| clamp(v).max(1)).collect();
        if retry.is_empty() {
            retry.push(60);
        }
        Schedule {
            retry_secs: retry,
            max_age_secs: clamp(max_age_secs),
            delay_warning_secs: (delay_warning_secs > 0).then(|| clamp(delay_warning_secs)),
        }
    }

    /// Delay before the next attempt, given `attempts` failures so far (at least 1).
    pub fn backoff_secs(&self, attempts: u32) -> i64 {
        let index = (attempts.max(1) - 1) as usize;
        self.retry_secs[index.min(self.retry_secs.len() - 1)]
    }

    /// The next attempt time after the `attempts`-th failure at `now`, or `None` when the
    /// message would then have been queued too long and must fail.
    pub fn next_attempt(&self, queued_at: i64, attempts: u32, now: i64) -> Option<i64> {
        let next = now.saturating_add(self.backoff_secs(attempts));
        if next.saturating_sub(queued_at) > self.max_age_secs {
            None
        } else {
            Some(next)
        }
    }

    /// The last moment a message queued at `queued_at` is still retried (for the
    /// `Will-Retry-Until` field of a delay report).
    pub fn retry_until(&self, queued_at: i64) -> i64 {
        queued_at.saturating_add(self.max_age_secs)
    }

    /// Whether a delay warning is due for a message queued at `queued_at`, at `now`.
    pub fn warning_due(&self, queued_at: i64, now: i64) -> bool {
        self.delay_warning_secs
            .is_some_and(|after| now.saturating_sub(queued_at) >= after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_backoff_grows_and_caps() {
        let s = Schedule::default();
        let table = [
            (1, 60),
            (2, 300),
            (3, 900),
            (4, 1800),
            (5, 3600),
            (6, 7200),
            (7, 14400),
            (20, 14400),
        ];
        for (attempts, secs) in table {
            assert_eq!(s.backoff_secs(attempts), secs, "attempt {attempts}");
        }
        let mut last = 0;
        for a in 1..30 {
            assert!(s.backoff_secs(a) >= last);
            last = s.backoff_secs(a);
        }
    }

    #[test]
    fn expires_after_max_age() {
        let s = Schedule::default();
        assert_eq!(s.next_attempt(0, 1, 100), Some(160));
        assert_eq!(s.next_attempt(0, 9, s.max_age_secs - 100), None);
        assert_eq!(s.retry_until(1000), 1000 + 5 * 24 * 3600);
    }

    #[test]
    fn configured_schedule_repeats_its_last_step() {
        let s = Schedule::new(&[2, 7], 100, 0);
        assert_eq!(
            (1..5).map(|a| s.backoff_secs(a)).collect::<Vec<_>>(),
            [2, 7, 7, 7]
        );
        assert_eq!(s.next_attempt(0, 3, 90), Some(97));
        assert_eq!(s.next_attempt(0, 3, 94), None);
        assert!(!s.warning_due(0, 1_000_000), "0 turns warnings off");
        assert_eq!(Schedule::new(&[], 10, 0).backoff_secs(1), 60);
    }

    #[test]
    fn delay_warning_after_its_time() {
        let s = Schedule::default();
        assert!(!s.warning_due(1000, 1000 + 4 * 3600 - 1));
        assert!(s.warning_due(1000, 1000 + 4 * 3600));
    }
}
