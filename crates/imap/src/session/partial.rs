//! The PARTIAL search result option (RFC 9394 §3.1): which page of a SEARCH result
//! `RETURN (PARTIAL m:n)` asks for, and how that page is written back.
//!
//! Where it sits: [`super::esearch`] reads `PARTIAL` in a `RETURN (...)` list (of SEARCH,
//! or of SORT: ESORT, RFC 5267 §3) and hands its argument to [`Range::parse`]; once the
//! search has run, [`Range::window`] picks the hits (in mailbox order for SEARCH, RFC
//! 9394 §3.1; in the requested order for SORT, RFC 5267 §4.4) and [`Range::render`]
//! writes the `PARTIAL (range set-or-NIL)` return data. The PARTIAL FETCH modifier
//! (RFC 9394 §3.3, [`super::fetch_partial`]) reads its range with [`Range::parse`] too
//! and picks its messages with [`Range::window`]. Pure: no I/O; the range is read from
//! client input and bounded by the grammar (two 32-bit numbers).
//!
//! Rules, RFC 9394:
//! - §4: `partial-range = nz-number ":" nz-number / "-" nz-number ":" "-" nz-number`;
//!   no `*`, no 0, no mixed signs, each number a non-zero 32-bit value without leading
//!   zeros (RFC 9051 §9 `nz-number`); anything else is a syntax error (`BAD`).
//! - §4: `500:400` is the same as `400:500`, `-500:-400` as `-400:-500`.
//! - §3.1: the first result (lowest UID) is 1; `-1` is the last result, `-2` the one
//!   before it.
//! - §3.1: a range reaching past the results yields the results that are there; none
//!   at all yields `NIL`; the return data echoes the range as asked.

use crate::sequence::SequenceSet;

/// A PARTIAL range as the client sent it (RFC 9394 §4 `partial-range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Range {
    /// `partial-range-last`: counted from the newest result.
    from_end: bool,
    /// The two numbers as written (without the minus signs).
    first: u32,
    second: u32,
}

impl Range {
    /// Parses `m:n` or `-m:-n` (RFC 9394 §4); `Err` is the text of a `BAD`.
    pub fn parse(text: &str) -> Result<Range, String> {
        let bad = || format!("Invalid PARTIAL range {text} (RFC 9394 section 4)");
        let (a, b) = text.split_once(':').ok_or_else(bad)?;
        // RFC 9394 §4: both ends negative (partial-range-last) or neither
        // (partial-range-first); a mixed range such as -1:100 is no partial-range.
        let (from_end, a, b) = match (a.strip_prefix('-'), b.strip_prefix('-')) {
            (Some(a), Some(b)) => (true, a, b),
            (None, None) => (false, a, b),
            _ => return Err(bad()),
        };
        Ok(Range {
            from_end,
            first: nz_number(a).ok_or_else(bad)?,
            second: nz_number(b).ok_or_else(bad)?,
        })
    }

    /// The slice of `len` results (in mailbox order) this range names; empty when it
    /// names none of them (RFC 9394 §3.1).
    pub fn window(&self, len: usize) -> std::ops::Range<usize> {
        // RFC 9394 §4: the ends may come in either order.
        let low = self.first.min(self.second) as usize;
        let high = self.first.max(self.second) as usize;
        if low > len {
            return 0..0;
        }
        if self.from_end {
            // RFC 9394 §3.1: -1 is the last result, so -low..-high are the results
            // len-high+1 ..= len-low+1 counting from 1 (clipped at the first).
            len.saturating_sub(high)..len - low + 1
        } else {
            // RFC 9394 §3.1: the first result is 1 (clipped at the last).
            low - 1..high.min(len)
        }
    }

    /// The PARTIAL return data for `values` (all results, ascending, RFC 9394 §3.1):
    /// `PARTIAL (range set)`, or `PARTIAL (range NIL)` when the range holds none
    /// (RFC 9394 §4 `ret-data-partial`).
    pub fn render(&self, values: &[u32]) -> String {
        self.render_with(values, |page| SequenceSet::from_values(page).to_string())
    }

    /// The PARTIAL return data for `values` in a SORT's order (RFC 5267 §4.4: the page
    /// is taken from the sorted results), written by `set` (for ESORT an order-keeping
    /// set, RFC 5267 §3.2: see `sort::ordered_set`).
    pub fn render_with(&self, values: &[u32], set: impl Fn(&[u32]) -> String) -> String {
        let page = &values[self.window(values.len())];
        let set = if page.is_empty() {
            "NIL".to_owned()
        } else {
            set(page)
        };
        format!("PARTIAL ({self} {set})")
    }
}

impl std::fmt::Display for Range {
    /// The range as asked (RFC 9394 §3.1: the return data echoes it).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.from_end { "-" } else { "" };
        write!(f, "{sign}{}:{sign}{}", self.first, self.second)
    }
}

/// RFC 9051 §9 `nz-number = digit-nz *DIGIT`, a non-zero unsigned 32-bit value.
fn nz_number(text: &str) -> Option<u32> {
    let first = *text.as_bytes().first()?;
    if !(b'1'..=b'9').contains(&first) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_rfc_9394_section_4_says() {
        let ok = |from_end, first, second| {
            Ok(Range {
                from_end,
                first,
                second,
            })
        };
        let table: &[(&str, Result<Range, String>)] = &[
            ("1:100", ok(false, 1, 100)),
            ("500:400", ok(false, 500, 400)),
            ("7:7", ok(false, 7, 7)),
            ("-1:-100", ok(true, 1, 100)),
            ("-500:-400", ok(true, 500, 400)),
            ("4294967295:1", ok(false, u32::MAX, 1)),
            ("-4294967295:-4294967295", ok(true, u32::MAX, u32::MAX)),
        ];
        for (text, want) in table {
            assert_eq!(&Range::parse(text), want, "{text}");
            assert_eq!(
                Range::parse(text).map(|r| r.to_string()).as_deref(),
                Ok(*text)
            );
        }
        for bad in [
            "",
            "1",
            "-1",
            "0:10",
            "1:0",
            "-0:-5",
            "-1:100",
            "1:-100",
            "1:*",
            "*:1",
            "01:10",
            "1:4294967296",
            "-4294967296:-1",
            "1:2:3",
            "+1:2",
            "1 :2",
            "a:b",
            "--1:-2",
            ":",
        ] {
            assert!(Range::parse(bad).is_err(), "{bad:?} should be a BAD");
        }
    }

    #[test]
    fn windows_pick_the_asked_page_and_stop_at_the_results() {
        // (range, number of results, the 0-based slice chosen)
        let table: &[(&str, usize, std::ops::Range<usize>)] = &[
            ("1:3", 10, 0..3),
            ("3:1", 10, 0..3),
            ("4:6", 10, 3..6),
            ("1:1", 10, 0..1),
            ("10:10", 10, 9..10),
            ("8:20", 10, 7..10),
            ("11:20", 10, 0..0),
            ("1:100", 0, 0..0),
            ("1:4294967295", 10, 0..10),
            ("4294967295:4294967295", 10, 0..0),
            ("-1:-1", 10, 9..10),
            ("-1:-3", 10, 7..10),
            ("-3:-1", 10, 7..10),
            ("-4:-6", 10, 4..7),
            ("-10:-10", 10, 0..1),
            ("-8:-20", 10, 0..3),
            ("-1:-100", 10, 0..10),
            ("-11:-20", 10, 0..0),
            ("-1:-100", 0, 0..0),
            ("-1:-4294967295", 3, 0..3),
        ];
        for (text, len, want) in table {
            let range = Range::parse(text).expect("parses");
            assert_eq!(&range.window(*len), want, "{text} of {len}");
        }
    }

    #[test]
    fn return_data_echoes_the_range_and_says_nil_for_an_empty_page() {
        let values = [2, 3, 4, 9, 10, 20];
        let render =
            |text: &str, values: &[u32]| Range::parse(text).expect("parses").render(values);
        assert_eq!(render("1:3", &values), "PARTIAL (1:3 2:4)");
        assert_eq!(render("-1:-3", &values), "PARTIAL (-1:-3 9:10,20)");
        assert_eq!(render("5:100", &values), "PARTIAL (5:100 10,20)");
        assert_eq!(render("100:7", &values), "PARTIAL (100:7 NIL)");
        assert_eq!(render("-7:-9", &values), "PARTIAL (-7:-9 NIL)");
        assert_eq!(render("1:100", &[]), "PARTIAL (1:100 NIL)");
    }
}
