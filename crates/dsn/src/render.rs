//! Assembling a report: the message header and the three-part `multipart/report` body
//! (RFC 6522 §3, RFC 3464 §2) — [`crate::human`]'s explanation, [`crate::status`]'s
//! delivery-status fields, [`crate::returned`]'s copy of the original. The queue runner
//! queues the result with a null reverse-path.
//!
//! The MIME is written by hand rather than with a builder crate: the structure is fixed
//! (one level, three parts), a builder would re-encode the returned original (which
//! must travel byte for byte) and would choose its own boundary, while this one must be
//! proven absent from everything it separates.

use crate::field::field;
use crate::report::{needs_smtputf8, subject};
use crate::{Report, human, returned, status};
use message::headers::rfc5322_date;

/// Renders the whole report message (header and `multipart/report` body), CRLF line
/// endings, ready to queue with a null reverse-path.
///
/// The report is internationalised (RFC 6533 `global-delivery-status`) exactly when
/// [`needs_smtputf8`] says so; it needs `BODY=8BITMIME` exactly when the result is not
/// all ASCII.
pub fn render(report: &Report<'_>) -> Vec<u8> {
    let global = needs_smtputf8(report);
    let what = returned::choose(report);

    let text = human::body(report, what);
    let text_encoding = if text.is_ascii() { "7bit" } else { "8bit" };
    let first = format!(
        "Content-Type: text/plain; charset=utf-8\r\n\
         Content-Description: Notification\r\n\
         Content-Transfer-Encoding: {text_encoding}\r\n\r\n{text}"
    );
    let (status_type, report_type, status_encoding) = if global {
        // RFC 6533 §6.4: the global part is UTF-8 and sent 8bit.
        (
            "message/global-delivery-status",
            "global-delivery-status",
            "8bit",
        )
    } else {
        ("message/delivery-status", "delivery-status", "7bit")
    };
    let second = format!(
        "Content-Type: {status_type}\r\n\
         Content-Description: Delivery report\r\n\
         Content-Transfer-Encoding: {status_encoding}\r\n\r\n{}",
        status::body(report, global)
    );
    let third = returned::part(report.original, what, global);
    let parts: [&[u8]; 3] = [first.as_bytes(), second.as_bytes(), &third];

    let boundary = boundary(report.queue_id, &parts);
    let mut out = header(report, global, report_type, &boundary).into_bytes();
    out.extend_from_slice(b"This is a MIME-encapsulated message.\r\n");
    for part in parts {
        // RFC 2046 §5.1.1: the CRLF before "--boundary" belongs to the delimiter.
        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        out.extend_from_slice(part);
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// The report's own header (RFC 5322 §3.6, RFC 2045 §4, RFC 6522 §3).
fn header(report: &Report<'_>, global: bool, report_type: &str, boundary: &str) -> String {
    let ascii_only = !global;
    let mut h = field(
        "From",
        &format!("Mail Delivery System <{}>", report.postmaster),
        ascii_only,
    );
    h.push_str(&field("To", &format!("<{}>", report.to), ascii_only));
    h.push_str(&field("Subject", subject(&report.recipients), true));
    h.push_str(&field("Date", &rfc5322_date(report.now), true));
    h.push_str(&field("Message-ID", report.message_id, true));
    // RFC 3834 §5: marks the report as automatic, so that responders do not answer it.
    h.push_str("Auto-Submitted: auto-replied\r\n");
    h.push_str("MIME-Version: 1.0\r\n");
    h.push_str(&format!(
        "Content-Type: multipart/report; report-type={report_type};\r\n\tboundary=\"{boundary}\"\r\n"
    ));
    h.push_str("\r\n");
    h
}

/// A boundary made of the queue id and a counter that occurs in none of `parts`
/// (RFC 2046 §5.1.1: it must not appear in the encapsulated content). Only the
/// characters RFC 2046 allows in a boundary are kept from the queue id.
fn boundary(queue_id: &str, parts: &[&[u8]]) -> String {
    let id: String = queue_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    (0u64..)
        .map(|n| format!("postie-report-{id}-{n}"))
        .find(|b| {
            !parts
                .iter()
                .any(|p| memchr::memmem::find(p, b.as_bytes()).is_some())
        })
        .expect("some counter value is absent from finite content")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_avoids_the_content() {
        let clean: &[u8] = b"nothing here";
        assert_eq!(boundary("AB-12", &[clean]), "postie-report-AB12-0");
        let tricky: &[u8] = b"--postie-report-AB12-0\r\n--postie-report-AB12-1";
        assert_eq!(boundary("AB-12", &[clean, tricky]), "postie-report-AB12-2");
        let hostile = "x\"\r\n;".repeat(30);
        let b = boundary(&hostile, &[clean]);
        assert!(b.len() <= 70 && b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
