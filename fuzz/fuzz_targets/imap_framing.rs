//! Fuzzes the IMAP driver's framing gate (`imap::framing`) and the LIST wildcard matcher
//! (`imap::wildcard`): the two pieces of hand-written code in front of every IMAP
//! command, which the `imap_command` target does not reach.
//!
//! The first byte picks the limits (before or after login, small line and literal
//! limits so refusals happen) and the chunk size; the rest, up to a NUL, is fed to the
//! gate in chunks, and what follows the NUL is a `name NUL pattern` pair for the
//! matcher. Checked:
//! - the gate never panics, uses every octet it is given, and hands on lines no longer
//!   than its line limit;
//! - until it refuses a command, what it hands on (lines and literal data) is exactly
//!   the input, in order, with nothing added or lost;
//! - `wildcard::matches` agrees with a plain dynamic-programming matcher.
//!
//! Run: `scripts/fuzz imap_framing`.
#![no_main]

use imap::framing::{Gate, Limits, Step};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (stream, wild) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    frame(first, stream);
    if let Some(i) = wild.iter().position(|&b| b == 0) {
        let (name, pattern) = (&wild[..i.min(64)], &wild[i + 1..]);
        let pattern = &pattern[..pattern.len().min(64)];
        assert_eq!(
            imap::wildcard::matches(name, pattern, b'/'),
            reference_match(name, pattern, b'/'),
            "name {name:?} pattern {pattern:?}"
        );
    }
});

fn frame(first: u8, stream: &[u8]) {
    let limits = if first & 1 == 0 {
        Limits::unauthenticated()
    } else {
        Limits::authenticated(
            1024 + usize::from(first >> 4) * 64,
            64 + u32::from(first >> 2),
        )
    };
    let mut gate = Gate::new(limits);
    let mut handed_on = Vec::new();
    let mut refused = false;
    for chunk in stream.chunks(1 + usize::from(first >> 3)) {
        let mut input = chunk;
        loop {
            let (used, step) = gate.next(input);
            assert!(used <= input.len());
            input = &input[used..];
            match step {
                Step::NeedMore => {
                    assert!(
                        input.is_empty(),
                        "NeedMore with {} octets left",
                        input.len()
                    );
                    break;
                }
                Step::Line(line) => {
                    assert!(line.len() <= limits.line, "a line of {} octets", line.len());
                    handed_on.extend_from_slice(&line);
                }
                Step::Literal { bytes, .. } => handed_on.extend_from_slice(bytes),
                Step::Refuse(_) => refused = true,
            }
        }
    }
    if !refused {
        assert!(
            stream.starts_with(&handed_on),
            "the gate changed what it handed on"
        );
    }
}

/// `*` any run, `%` any run without `delimiter`, other octets themselves: the
/// textbook O(n·m) table, to check the real matcher against.
fn reference_match(name: &[u8], pattern: &[u8], delimiter: u8) -> bool {
    let (n, m) = (name.len(), pattern.len());
    // at[i][j]: name[i..] matches pattern[j..]
    let mut at = vec![vec![false; m + 1]; n + 1];
    at[n][m] = true;
    for i in (0..=n).rev() {
        for j in (0..m).rev() {
            at[i][j] = match pattern[j] {
                b'*' => at[i][j + 1] || (i < n && at[i + 1][j]),
                b'%' => at[i][j + 1] || (i < n && name[i] != delimiter && at[i + 1][j]),
                c => i < n && name[i] == c && at[i + 1][j + 1],
            };
        }
    }
    at[0][0]
}
