//! `--debug`: the SMTP dialogue as the user sees it, one line per line on the wire,
//! `2024-05-01T10:00:00.123Z CLIENT -> SERVER: EHLO host` and
//! `... SERVER -> CLIENT: 250-mx.example.org`, on standard error.
//!
//! Where it sits: [`crate::transport`] installs a hook from here on every connection
//! (the relay client's [`relay::client::Transcript`]); the lines arrive already with
//! AUTH credentials masked, so nothing secret is printed.

use std::io::Write;
use std::sync::Arc;

pub use relay::client::{Direction, Transcript};
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// RFC 3339 in UTC with exactly three fractional digits, so lines align.
const STAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The text of one transcript line: timestamp, optional connection label, direction,
/// the line.
pub fn format_line(
    at: OffsetDateTime,
    label: Option<&str>,
    direction: Direction,
    line: &str,
) -> String {
    let stamp = at
        .to_offset(time::UtcOffset::UTC)
        .format(STAMP)
        .unwrap_or_default();
    let arrow = match direction {
        Direction::ClientToServer => "CLIENT -> SERVER:",
        Direction::ServerToClient => "SERVER -> CLIENT:",
        Direction::Note => "***",
    };
    match label {
        Some(label) => format!("{stamp} [{label}] {arrow} {line}"),
        None => format!("{stamp} {arrow} {line}"),
    }
}

/// A hook that prints each line to standard error; `label` tells connections apart
/// when several run at once (bulk sending).
pub fn to_stderr(label: Option<String>) -> Transcript {
    Arc::new(move |direction, line| {
        let text = format_line(OffsetDateTime::now_utc(), label.as_deref(), direction, line);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_lines() {
        let at = datetime!(2024-05-01 10:00:00.123456 UTC);
        assert_eq!(
            format_line(at, None, Direction::ClientToServer, "EHLO me"),
            "2024-05-01T10:00:00.123Z CLIENT -> SERVER: EHLO me"
        );
        assert_eq!(
            format_line(at, Some("2"), Direction::ServerToClient, "250 ok"),
            "2024-05-01T10:00:00.123Z [2] SERVER -> CLIENT: 250 ok"
        );
        assert!(format_line(at, None, Direction::Note, "connected").ends_with("*** connected"));
        let round = datetime!(2024-05-01 10:00:00.1 UTC);
        assert!(
            format_line(round, None, Direction::Note, "x").starts_with("2024-05-01T10:00:00.100Z "),
            "three digits always"
        );
    }
}
