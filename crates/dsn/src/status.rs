//! The second part of a report, the machine-readable one: a `message/delivery-status`
//! body (RFC 3464 §2.1) — the per-message fields, then one block of per-recipient
//! fields for each recipient, blocks separated by blank lines. [`crate::render()`] puts it
//! between the human-readable part and the returned message.
//!
//! The classic part is 7-bit (RFC 3464 §2.1.1), so non-ASCII in a remote reply is
//! replaced; the `global` part (`message/global-delivery-status`, RFC 6533 §6.4) is
//! UTF-8 and carries `utf-8` addresses and replies as they are.

use crate::field::field;
use crate::{Action, RecipientReport, Report, address};
use message::headers::rfc5322_date;

/// The part body (no MIME header), every line CRLF-terminated.
pub(crate) fn body(report: &Report<'_>, global: bool) -> String {
    let ascii_only = !global;
    // RFC 3464 §2.2: per-message fields.
    let mut out = field(
        "Reporting-MTA",
        &format!("dns; {}", report.reporting_mta),
        ascii_only,
    );
    if let Some(envid) = report.envid {
        // RFC 3461 §4.4: ENVID travels xtext-encoded; the report shows the identifier.
        let envid = message::dsn::xtext_decode(envid).unwrap_or_else(|| envid.to_string());
        out.push_str(&field("Original-Envelope-Id", &envid, true));
    }
    out.push_str(&field(
        "Arrival-Date",
        &rfc5322_date(report.arrival_date),
        true,
    ));
    for recipient in &report.recipients {
        out.push_str("\r\n");
        out.push_str(&recipient_block(recipient, ascii_only));
    }
    out
}

/// RFC 3464 §2.3: the fields about one recipient.
fn recipient_block(r: &RecipientReport, ascii_only: bool) -> String {
    let mut out = String::new();
    if let Some(orcpt) = &r.original_recipient {
        out.push_str(&field(
            "Original-Recipient",
            &address::original_recipient(orcpt),
            ascii_only,
        ));
    }
    out.push_str(&field(
        "Final-Recipient",
        &address::final_recipient(&r.final_recipient),
        ascii_only,
    ));
    out.push_str(&field("Action", r.action.as_str(), true));
    let (class, subject, detail) = r.status;
    out.push_str(&field(
        "Status",
        &format!("{class}.{subject}.{detail}"),
        true,
    ));
    if let Some(mta) = &r.remote_mta {
        out.push_str(&field("Remote-MTA", &format!("dns; {mta}"), ascii_only));
    }
    if let Some(text) = &r.diagnostic {
        out.push_str(&field(
            "Diagnostic-Code",
            &format!("{}; {text}", diagnostic_type(text)),
            ascii_only,
        ));
    }
    if let Some(at) = r.last_attempt {
        out.push_str(&field("Last-Attempt-Date", &rfc5322_date(at), true));
    }
    // RFC 3464 §2.3.9: only for delayed recipients.
    if let (Action::Delayed, Some(until)) = (r.action, r.will_retry_until) {
        out.push_str(&field("Will-Retry-Until", &rfc5322_date(until), true));
    }
    out
}

/// `smtp` when `text` is an SMTP reply (a 2xx–5xx code then a space, a hyphen or the
/// end, RFC 5321 §4.2), else Postie's own `x-postie` type (RFC 3464 §2.3.6 allows
/// `X-` diagnostic types for text that is not a reply, e.g. a connection error or a
/// refusal we decided ourselves; the type is case-insensitive).
fn diagnostic_type(text: &str) -> &'static str {
    let b = text.trim_start().as_bytes();
    let code = b.len() >= 3
        && (b'2'..=b'5').contains(&b[0])
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && matches!(b.get(3), None | Some(b' ') | Some(b'-'));
    if code { "smtp" } else { "x-postie" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_types() {
        assert_eq!(diagnostic_type("550 5.1.1 no such user"), "smtp");
        assert_eq!(diagnostic_type("421-busy"), "smtp");
        assert_eq!(diagnostic_type("554"), "smtp");
        assert_eq!(diagnostic_type("connection refused"), "x-postie");
        assert_eq!(diagnostic_type("5500 odd"), "x-postie");
        assert_eq!(diagnostic_type("650 no"), "x-postie");
    }

    #[test]
    fn block_order_and_retry_only_when_delayed() {
        let mut r = RecipientReport {
            final_recipient: "bob@example.net".into(),
            original_recipient: Some("rfc822;bob+2B1@example.net".into()),
            action: Action::Delayed,
            status: (4, 4, 1),
            diagnostic: Some("421 try later".into()),
            remote_mta: Some("mx.example.net".into()),
            last_attempt: Some(0),
            will_retry_until: Some(86_400),
        };
        assert_eq!(
            recipient_block(&r, true),
            "Original-Recipient: rfc822;bob+1@example.net\r\n\
             Final-Recipient: rfc822;bob@example.net\r\n\
             Action: delayed\r\n\
             Status: 4.4.1\r\n\
             Remote-MTA: dns; mx.example.net\r\n\
             Diagnostic-Code: smtp; 421 try later\r\n\
             Last-Attempt-Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n\
             Will-Retry-Until: Fri, 02 Jan 1970 00:00:00 +0000\r\n"
        );
        r.action = Action::Failed;
        assert!(!recipient_block(&r, true).contains("Will-Retry-Until"));
    }
}
