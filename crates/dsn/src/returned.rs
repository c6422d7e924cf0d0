//! The third part of a report: the original message, whole or its header only
//! (RFC 3464 §2, RFC 3461 §4.3 `RET=`). [`choose`] decides which; [`part`] writes the
//! part's MIME header and content for [`crate::render()`], and [`crate::human`] explains
//! the choice to the reader.

use crate::{Action, Report};
use message::dsn::Ret;

/// How much of the original a report carries, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returned {
    /// The whole message.
    Full,
    /// The header only, because the sender asked for `RET=HDRS`.
    HeadersAsked,
    /// The header only, because nothing failed (delay and success reports).
    HeadersNotFailure,
    /// The header only, because the message is larger than `max_returned_size`.
    HeadersTooLarge,
    /// The header only, because the body has a NUL or a line longer than 998 octets,
    /// which `8bit` cannot carry (RFC 2045 §2.8) and the report is sent 8BITMIME at most.
    HeadersNotEightBitSafe,
}

/// What to return for `report`: RET=HDRS gets the header; otherwise a report with a
/// failed recipient gets the whole message if it fits, the others the header.
pub(crate) fn choose(report: &Report<'_>) -> Returned {
    let failed = report.recipients.iter().any(|r| r.action == Action::Failed);
    if report.ret == Some(Ret::Headers) {
        Returned::HeadersAsked
    } else if !failed {
        Returned::HeadersNotFailure
    } else if report.original.len() > report.max_returned_size {
        Returned::HeadersTooLarge
    } else if !eight_bit_safe(report.original) {
        Returned::HeadersNotEightBitSafe
    } else {
        Returned::Full
    }
}

/// The third part: MIME header, blank line, content (CRLF line endings, no trailing
/// delimiter). `global` picks the RFC 6533 / RFC 6532 media types for a UTF-8 original.
pub(crate) fn part(original: &[u8], returned: Returned, global: bool) -> Vec<u8> {
    let (content, media_type, description) = match (returned, global) {
        // RFC 2046 §5.2.1 (RFC 6532 §3.7 for message/global).
        (Returned::Full, false) => (original, "message/rfc822", "Undelivered Message"),
        (Returned::Full, true) => (original, "message/global", "Undelivered Message"),
        // RFC 6522 §4 (RFC 6533 §6.3 for message/global-headers).
        (_, false) => (
            header_of(original),
            "text/rfc822-headers",
            "Message Headers",
        ),
        (_, true) => (
            header_of(original),
            "message/global-headers",
            "Message Headers",
        ),
    };
    let content = to_crlf(content);
    // A message/rfc822 body may only be 7bit, 8bit or binary (RFC 2046 §5.2.1).
    let encoding = if content.is_ascii() { "7bit" } else { "8bit" };
    let mut out = format!(
        "Content-Type: {media_type}\r\nContent-Description: {description}\r\n\
         Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(&content);
    out
}

/// The header block with its last line's CRLF (a header-only message).
fn header_of(original: &[u8]) -> &[u8] {
    message::headers::header_block(original)
}

/// No NUL and no line over 998 octets (RFC 5322 §2.1.1, RFC 2045 §2.8).
fn eight_bit_safe(original: &[u8]) -> bool {
    !original.contains(&0)
        && original
            .split(|&b| b == b'\n')
            .all(|line| line.strip_suffix(b"\r").unwrap_or(line).len() <= 998)
}

/// `data` with every bare LF turned into CRLF, so the report is uniformly CRLF even
/// when the stored original is not.
fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut previous = 0u8;
    for &b in data {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_part_has_no_body() {
        let original = b"Subject: x\r\nFrom: a@b\r\n\r\nsecret body\r\n";
        let p = part(original, Returned::HeadersAsked, false);
        let text = String::from_utf8(p).unwrap();
        assert!(text.starts_with("Content-Type: text/rfc822-headers\r\n"));
        assert!(text.ends_with("\r\n\r\nSubject: x\r\nFrom: a@b\r\n"));
        assert!(!text.contains("secret"));
    }

    #[test]
    fn full_part_is_8bit_when_needed_and_crlf() {
        let p = part(b"Subject: x\n\nb\xc3\xa9\n", Returned::Full, false);
        let text = String::from_utf8(p).unwrap();
        assert!(text.contains("Content-Type: message/rfc822\r\n"));
        assert!(text.contains("Content-Transfer-Encoding: 8bit\r\n"));
        assert!(text.ends_with("\r\n\r\nSubject: x\r\n\r\nb\u{e9}\r\n"));
        let p = part(b"Subject: x\r\n\r\nb\r\n", Returned::Full, true);
        let text = String::from_utf8(p).unwrap();
        assert!(text.starts_with("Content-Type: message/global\r\n"));
        assert!(text.contains("Content-Transfer-Encoding: 7bit\r\n"));
    }

    #[test]
    fn eight_bit_safety() {
        assert!(eight_bit_safe(b"a\r\nb\r\n"));
        assert!(eight_bit_safe(&[b'x'; 998]));
        assert!(!eight_bit_safe(&[b'x'; 999]));
        assert!(!eight_bit_safe(b"a\0b"));
    }
}
