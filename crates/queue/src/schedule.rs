//! When to try a deferred recipient again: a pure function of the attempt count, so it
//! is tested without a clock.
//!
//! The backoff follows common MTA practice (RFC 5321 §4.5.4.1 asks for at least 30
//! minutes between retries to one destination after the first failures, and for giving
//! up after 4-5 days): 1, 5, 15 and 30 minutes, then hourly doubling up to 4 hours,
//! and expiry 5 days after the message was queued.

/// How long a message may stay in the queue before it fails (RFC 5321 §4.5.4.1).
pub const MAX_QUEUE_LIFETIME_SECS: i64 = 5 * 24 * 3600;

/// Delay before attempt number `attempts + 1`, given `attempts` failures so far.
pub fn backoff_secs(attempts: u32) -> i64 {
    match attempts {
        0 | 1 => 60,
        2 => 5 * 60,
        3 => 15 * 60,
        4 => 30 * 60,
        n => (3600_i64 << (n - 5).min(2)).min(4 * 3600),
    }
}

/// The next attempt time after the `attempts`-th failure at `now`, or `None` when the
/// message has been queued too long and must fail.
pub fn next_attempt(queued_at: i64, attempts: u32, now: i64) -> Option<i64> {
    let next = now + backoff_secs(attempts);
    if next - queued_at > MAX_QUEUE_LIFETIME_SECS {
        None
    } else {
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
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
            assert_eq!(backoff_secs(attempts), secs, "attempt {attempts}");
        }
        let mut last = 0;
        for a in 1..30 {
            assert!(backoff_secs(a) >= last);
            last = backoff_secs(a);
        }
    }

    #[test]
    fn expires_after_five_days() {
        assert_eq!(next_attempt(0, 1, 100), Some(160));
        assert_eq!(next_attempt(0, 9, MAX_QUEUE_LIFETIME_SECS - 100), None);
    }
}
