//! `--rate N/min`: a limit on how many messages start per unit of time, shared by all
//! of a bulk run's connections.
//!
//! Where it sits: each worker of [`crate::bulk`] waits for its turn here before sending
//! a row. Hand-written rather than a crate (governor and the like) because it is one
//! evenly spaced schedule of a dozen lines: each start is `interval` after the previous
//! one, never earlier than now, so there are no bursts after an idle moment.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A rate: `count` messages per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many.
    pub count: u32,
    /// Per how long.
    pub per: Duration,
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// `600/min`, `10/s`, `5000/h` (also `/sec`, `/second`, `/minute`, `/hour`).
    fn from_str(text: &str) -> Result<Rate, String> {
        let bad = || format!("{text:?} is not a rate like 600/min, 10/s or 5000/h");
        let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(bad());
        }
        Ok(Rate { count, per })
    }
}

/// The shared schedule.
#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Limiter {
    /// A limiter for `rate`.
    pub fn new(rate: Rate) -> Limiter {
        Limiter {
            interval: rate.per / rate.count,
            next: Mutex::new(None),
        }
    }

    /// Waits until the caller may start the next message.
    pub async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!(
            "600/min".parse::<Rate>().unwrap(),
            Rate {
                count: 600,
                per: Duration::from_secs(60)
            }
        );
        assert_eq!("10/s".parse::<Rate>().unwrap().per, Duration::from_secs(1));
        assert_eq!(
            "5/hour".parse::<Rate>().unwrap().per,
            Duration::from_secs(3600)
        );
        for bad in ["", "10", "0/s", "x/min", "10/day", "-1/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn spaces_starts_evenly() {
        let limiter = std::sync::Arc::new(Limiter::new("120/min".parse().unwrap()));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let l = limiter.clone();
            tasks.push(tokio::spawn(async move {
                l.wait().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap() - start);
        }
        times.sort();
        let expected: Vec<Duration> = (0..5).map(|i| Duration::from_millis(500 * i)).collect();
        assert_eq!(times, expected);
        // After a pause, no burst: the next start is now, the one after that 0.5 s on.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let t0 = Instant::now();
        limiter.wait().await;
        limiter.wait().await;
        assert_eq!(Instant::now() - t0, Duration::from_millis(500));
    }
}
