//! When to renew and how long to wait after a failure: pure functions of the
//! certificate's not-after, the clock and the count of failures in a row.
//!
//! Where it sits: [`super::task`] asks [`due`] at every check and [`backoff`] after
//! each failed order.

use std::time::Duration;

/// The longest wait between two attempts after failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// The first wait after a failure, at most.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(60);

/// Whether a certificate valid until `not_after` (unix seconds) must be renewed at
/// `now`: it expires within `renew_before_days`.
pub fn due(not_after: i64, now: i64, renew_before_days: u32) -> bool {
    not_after.saturating_sub(now) <= i64::from(renew_before_days) * 86_400
}

/// How long to wait after `failures` failed orders in a row (1 or more): the first
/// wait, doubling each time, at most [`MAX_BACKOFF`]. The first wait is
/// [`FIRST_BACKOFF`], or `check` when that is shorter (a test's fast clock).
pub fn backoff(failures: u32, check: Duration) -> Duration {
    let first = FIRST_BACKOFF.min(check).max(Duration::from_secs(1));
    let doublings = failures.saturating_sub(1).min(20);
    first.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn renewal_is_due_inside_the_window_only() {
        let now = 1_000_000_000;
        assert!(!due(now + 31 * DAY, now, 30));
        assert!(due(now + 30 * DAY, now, 30));
        assert!(due(now + DAY, now, 30));
        assert!(due(now - DAY, now, 30), "expired");
    }

    #[test]
    fn backoff_doubles_from_a_minute_to_six_hours() {
        let check = Duration::from_secs(300);
        assert_eq!(backoff(1, check), Duration::from_secs(60));
        assert_eq!(backoff(2, check), Duration::from_secs(120));
        assert_eq!(backoff(3, check), Duration::from_secs(240));
        assert_eq!(backoff(9, check), Duration::from_secs(60 << 8));
        assert_eq!(backoff(10, check), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX, check), MAX_BACKOFF);
    }

    #[test]
    fn a_fast_check_starts_the_backoff_sooner() {
        let check = Duration::from_secs(2);
        assert_eq!(backoff(1, check), Duration::from_secs(2));
        assert_eq!(backoff(3, check), Duration::from_secs(8));
    }
}
