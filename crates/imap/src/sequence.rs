//! IMAP sequence sets (`1:3,5,7:*`) and how they resolve against a mailbox.
//!
//! Where it sits: the driver converts imap-codec's sequence sets into [`SequenceSet`]
//! (our own small type, so this crate's pure core does not follow imap-codec's API), and
//! [`crate::selected::Selected::resolve`] resolves them against the session's view of the
//! selected mailbox. Nothing here knows about a store.
//!
//! Rules (RFC 3501 §9 `sequence-set`, RFC 9051 §9, RFC 3501 §6.4.8):
//! - `a:b` means the same as `b:a`; a single number `x` is the range `x:x`.
//! - `*` is the largest number in use: the sequence number of the last message, or for
//!   UID sets the largest UID. A UID range `559:*` therefore always includes the last
//!   message's UID, even when every UID is below 559 (RFC 3501 §6.4.8).
//! - A message sequence number beyond the mailbox size, or `*` in an empty mailbox, is an
//!   error ([`SeqError`]); RFC 3501 §9 (`seq-number`) says the server should answer a
//!   tagged BAD, the caller decides. UIDs that name no message are ignored without error
//!   (RFC 3501 §6.4.8), so a UID set never fails.
//! - Resolution yields a sorted list without duplicates, whatever the order and overlap
//!   of the ranges (`5,1:3,2` is `1,2,3,5`).

use std::fmt;

/// One end of a range: a number, or `*` ("the largest number in use").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqBound {
    Value(u32),
    Star,
}

/// `a:b` in either order; a single number `x` is `SeqRange(x, x)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange(pub SeqBound, pub SeqBound);

/// A comma-separated list of ranges, as the client sent it (not normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet(pub Vec<SeqRange>);

/// Why a message sequence set does not fit the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SeqError {
    /// A sequence number is 0 or larger than the number of messages.
    #[error("no message with sequence number {value} (mailbox has {exists})")]
    OutOfRange { value: u32, exists: u32 },
    /// The mailbox is empty, so no sequence number, `*` included, names a message.
    #[error("the mailbox is empty")]
    Empty,
}

/// Text that is not an RFC 3501 `sequence-set`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a sequence set: {0:?}")]
pub struct ParseSetError(pub String);

impl SequenceSet {
    /// Parses `1:3,5,7:*` (RFC 3501 §9: `nz-number` has no leading zero and fits 32 bits).
    /// For tests and debugging; the driver converts imap-codec's parsed type instead.
    pub fn parse(text: &str) -> Result<Self, ParseSetError> {
        let bad = || ParseSetError(text.to_string());
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let range = match part.split_once(':') {
                Some((a, b)) => SeqRange(
                    parse_bound(a).ok_or_else(bad)?,
                    parse_bound(b).ok_or_else(bad)?,
                ),
                None => {
                    let x = parse_bound(part).ok_or_else(bad)?;
                    SeqRange(x, x)
                }
            };
            ranges.push(range);
        }
        Ok(SequenceSet(ranges))
    }

    /// The shortest set naming exactly `values` (any order, duplicates allowed), e.g. for
    /// a VANISHED response (RFC 7162 §3.2.10). Empty input gives an empty set.
    pub fn from_values(values: &[u32]) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for v in sorted {
            match ranges.last_mut() {
                Some((_, hi)) if hi.checked_add(1) == Some(v) => *hi = v,
                _ => ranges.push((v, v)),
            }
        }
        SequenceSet(
            ranges
                .into_iter()
                .map(|(lo, hi)| SeqRange(SeqBound::Value(lo), SeqBound::Value(hi)))
                .collect(),
        )
    }

    /// Resolves a message sequence set in a mailbox of `exists` messages: sorted, unique
    /// sequence numbers. Any number outside `1..=exists` is an error, and so is every set
    /// when the mailbox is empty.
    pub fn seqs(&self, exists: u32) -> Result<Vec<u32>, SeqError> {
        if exists == 0 {
            return Err(SeqError::Empty);
        }
        let bound = |b: SeqBound| match b {
            SeqBound::Star => Ok(exists),
            SeqBound::Value(v) if v == 0 || v > exists => {
                Err(SeqError::OutOfRange { value: v, exists })
            }
            SeqBound::Value(v) => Ok(v),
        };
        let mut spans = Vec::with_capacity(self.0.len());
        for SeqRange(a, b) in &self.0 {
            let (a, b) = (bound(*a)?, bound(*b)?);
            // Sequence number n sits at index n - 1.
            spans.push((a.min(b) as usize - 1, a.max(b) as usize));
        }
        Ok(expand(spans).map(|i| i as u32 + 1).collect())
    }

    /// Resolves a UID set against `uids` (strictly ascending, the mailbox's UIDs in
    /// sequence order): the sorted, unique indices of the UIDs it names. UIDs that name no
    /// message are ignored; `*` is the last UID, so `n:*` always includes it.
    pub fn uid_positions(&self, uids: &[u32]) -> Vec<usize> {
        self.uid_positions_by(uids, |&u| u)
    }

    /// [`SequenceSet::uid_positions`] over any list kept in ascending UID order.
    pub fn uid_positions_by<T>(&self, items: &[T], uid: impl Fn(&T) -> u32) -> Vec<usize> {
        let Some(last) = items.last().map(&uid) else {
            return Vec::new();
        };
        let bound = |b: SeqBound| match b {
            SeqBound::Star => last,
            SeqBound::Value(v) => v,
        };
        let spans = self.0.iter().map(|SeqRange(a, b)| {
            let (a, b) = (bound(*a), bound(*b));
            let (lo, hi) = (a.min(b), a.max(b));
            (
                items.partition_point(|m| uid(m) < lo),
                items.partition_point(|m| uid(m) <= hi),
            )
        });
        expand(spans.collect()).collect()
    }
}

/// Merges half-open index spans and walks the union in order, each index once.
fn expand(mut spans: Vec<(usize, usize)>) -> impl Iterator<Item = usize> {
    spans.retain(|(lo, hi)| lo < hi);
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (lo, hi) in spans {
        match merged.last_mut() {
            Some((_, end)) if lo <= *end => *end = (*end).max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged.into_iter().flat_map(|(lo, hi)| lo..hi)
}

/// `nz-number / "*"` (RFC 3501 §9).
fn parse_bound(text: &str) -> Option<SeqBound> {
    if text == "*" {
        return Some(SeqBound::Star);
    }
    let first = text.bytes().next()?;
    if !(b'1'..=b'9').contains(&first) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().map(SeqBound::Value)
}

impl fmt::Display for SeqBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqBound::Value(v) => write!(f, "{v}"),
            SeqBound::Star => f.write_str("*"),
        }
    }
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == self.1 {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{}:{}", self.0, self.1)
        }
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, range) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{range}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(text: &str) -> SequenceSet {
        SequenceSet::parse(text).expect("valid set")
    }

    #[test]
    fn parses_and_prints() {
        let s = set("1:3,5,7:*");
        assert_eq!(
            s.0,
            vec![
                SeqRange(SeqBound::Value(1), SeqBound::Value(3)),
                SeqRange(SeqBound::Value(5), SeqBound::Value(5)),
                SeqRange(SeqBound::Value(7), SeqBound::Star),
            ]
        );
        assert_eq!(s.to_string(), "1:3,5,7:*");
        assert_eq!(set("*").0, vec![SeqRange(SeqBound::Star, SeqBound::Star)]);
        assert_eq!(set("4294967295").to_string(), "4294967295");
    }

    #[test]
    fn rejects_what_the_grammar_rejects() {
        for bad in [
            "",
            "0",
            "01",
            "1:",
            ":2",
            "1,,2",
            "1:2:3",
            "a",
            "-1",
            "4294967296",
            " 1",
            "1 ",
            "$",
        ] {
            assert!(SequenceSet::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn sequence_numbers_sorted_unique_any_order() {
        assert_eq!(set("5,3:1,2,*").seqs(6), Ok(vec![1, 2, 3, 5, 6]));
        assert_eq!(set("4:*").seqs(4), Ok(vec![4]));
        assert_eq!(set("*:2").seqs(3), Ok(vec![2, 3]));
    }

    #[test]
    fn sequence_numbers_beyond_the_mailbox_are_errors() {
        assert_eq!(
            set("1:5").seqs(4),
            Err(SeqError::OutOfRange {
                value: 5,
                exists: 4
            })
        );
        assert_eq!(
            set("5:*").seqs(4),
            Err(SeqError::OutOfRange {
                value: 5,
                exists: 4
            })
        );
        assert_eq!(set("1:*").seqs(0), Err(SeqError::Empty));
        assert_eq!(set("1").seqs(0), Err(SeqError::Empty));
        let zero = SequenceSet(vec![SeqRange(SeqBound::Value(0), SeqBound::Value(1))]);
        assert_eq!(
            zero.seqs(3),
            Err(SeqError::OutOfRange {
                value: 0,
                exists: 3
            })
        );
    }

    #[test]
    fn uid_star_range_always_includes_the_last_uid() {
        // RFC 3501 §6.4.8: "a UID range of 559:* always includes the UID of the last
        // message in the mailbox, even if 559 is higher than any assigned UID value".
        let uids = [3, 7, 9];
        assert_eq!(set("559:*").uid_positions(&uids), vec![2]);
        assert_eq!(set("8:*").uid_positions(&uids), vec![2]);
        assert_eq!(set("*").uid_positions(&uids), vec![2]);
        assert_eq!(set("1:*").uid_positions(&uids), vec![0, 1, 2]);
    }

    #[test]
    fn missing_uids_are_ignored() {
        let uids = [3, 7, 9];
        assert_eq!(set("1,2,4:6,100").uid_positions(&uids), Vec::<usize>::new());
        assert_eq!(set("9,1:7,3").uid_positions(&uids), vec![0, 1, 2]);
        assert_eq!(set("1:*").uid_positions(&[]), Vec::<usize>::new());
    }

    #[test]
    fn from_values_compresses_runs() {
        assert_eq!(
            SequenceSet::from_values(&[9, 1, 2, 3, 5, 2, 10]).to_string(),
            "1:3,5,9:10"
        );
        assert_eq!(
            SequenceSet::from_values(&[u32::MAX, u32::MAX - 1]).to_string(),
            "4294967294:4294967295"
        );
        assert!(SequenceSet::from_values(&[]).0.is_empty());
    }

    fn bound() -> impl Strategy<Value = SeqBound> {
        prop_oneof![1 => Just(SeqBound::Star), 6 => (1u32..40).prop_map(SeqBound::Value)]
    }

    fn any_set() -> impl Strategy<Value = SequenceSet> {
        prop::collection::vec((bound(), bound()).prop_map(|(a, b)| SeqRange(a, b)), 1..6)
            .prop_map(SequenceSet)
    }

    /// The obvious definition, one candidate at a time: `n` is in `a:b` when it lies
    /// between the two ends, `*` standing for `star`.
    fn naive_contains(s: &SequenceSet, n: u32, star: u32) -> bool {
        let v = |b: SeqBound| match b {
            SeqBound::Value(v) => v,
            SeqBound::Star => star,
        };
        s.0.iter()
            .any(|SeqRange(a, b)| v(*a).min(v(*b)) <= n && n <= v(*a).max(v(*b)))
    }

    proptest! {
        #[test]
        fn display_round_trips(s in any_set()) {
            prop_assert_eq!(SequenceSet::parse(&s.to_string()), Ok(s));
        }

        #[test]
        fn seqs_match_the_naive_definition(s in any_set(), exists in 0u32..40) {
            let mentioned = s.0.iter().flat_map(|r| [r.0, r.1]);
            let fits = mentioned.clone().all(|b| match b {
                SeqBound::Star => exists > 0,
                SeqBound::Value(v) => v <= exists,
            });
            match s.seqs(exists) {
                Ok(got) => {
                    prop_assert!(fits);
                    let want: Vec<u32> = (1..=exists).filter(|&n| naive_contains(&s, n, exists)).collect();
                    prop_assert_eq!(got, want);
                }
                Err(_) => prop_assert!(!fits),
            }
        }

        #[test]
        fn uid_positions_match_the_naive_definition(
            s in any_set(),
            uids in prop::collection::btree_set(1u32..60, 0..20),
        ) {
            let uids: Vec<u32> = uids.into_iter().collect();
            let got = s.uid_positions(&uids);
            let star = uids.last().copied().unwrap_or(0);
            let want: Vec<usize> = if uids.is_empty() {
                Vec::new()
            } else {
                (0..uids.len()).filter(|&i| naive_contains(&s, uids[i], star)).collect()
            };
            prop_assert_eq!(got, want);
        }

        #[test]
        fn from_values_names_exactly_the_values(values in prop::collection::vec(1u32..80, 0..30)) {
            let s = SequenceSet::from_values(&values);
            for n in 1..90 {
                prop_assert_eq!(naive_contains(&s, n, 0), values.contains(&n));
            }
            // Adjacent ranges are merged, so no two ranges touch.
            for pair in s.0.windows(2) {
                let (SeqRange(_, SeqBound::Value(hi)), SeqRange(SeqBound::Value(lo), _)) = (pair[0], pair[1]) else {
                    unreachable!("from_values never writes *");
                };
                prop_assert!(lo > hi + 1);
            }
        }
    }
}
