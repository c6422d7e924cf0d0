//! Queue identifiers: what "250 2.0.0 Ok: queued as ID" names.
//!
//! An id is 16 lower-case hex digits: 40 bits of milliseconds since the epoch followed by
//! 24 random bits, so ids sort roughly by arrival and never need a counter shared
//! between processes.

use std::fmt;

/// The id of one queued message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(u64);

impl QueueId {
    /// A new id for a message arriving at `unix_millis`.
    pub fn generate(unix_millis: u64) -> Self {
        let random: u32 = rand::random::<u32>() & 0x00ff_ffff;
        QueueId(((unix_millis & 0xff_ffff_ffff) << 24) | u64::from(random))
    }

    /// Parses the 16-hex-digit form.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 16 {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(QueueId)
    }

    /// The numeric value, for storage.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Rebuilds an id from storage.
    pub fn from_u64(value: u64) -> Self {
        QueueId(value)
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sorts_by_time() {
        let a = QueueId::generate(1_000);
        let b = QueueId::generate(2_000);
        assert!(a < b);
        assert_eq!(QueueId::parse(&a.to_string()), Some(a));
        assert_eq!(a.to_string().len(), 16);
        assert_eq!(QueueId::parse("xyz"), None);
        assert_eq!(QueueId::parse("zzzzzzzzzzzzzzzz"), None);
    }
}
