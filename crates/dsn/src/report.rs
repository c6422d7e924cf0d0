//! What the queue runner hands over to build one report: the message's facts
//! ([`Report`]) and one [`RecipientReport`] per recipient being reported on, plus the
//! two decisions made from them alone — the Subject line ([`subject`]) and whether the
//! report must take the internationalised form ([`needs_smtputf8`]).

use crate::Action;
use crate::address;
use message::dsn::Ret;

/// What happened to one recipient: becomes one per-recipient block of the
/// delivery-status part (RFC 3464 §2.3) and one entry in the human-readable part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReport {
    /// The address delivery was attempted to, e.g. `bob@example.net`
    /// (`Final-Recipient: rfc822;bob@example.net`, or `utf-8;` when not ASCII).
    pub final_recipient: String,
    /// The ORCPT the client gave, as given (`rfc822;` + xtext); rendered as
    /// `Original-Recipient` with the address xtext-decoded.
    pub original_recipient: Option<String>,
    /// What happened.
    pub action: Action,
    /// The RFC 3463 status code, e.g. `(5, 1, 1)`.
    pub status: (u8, u16, u16),
    /// The remote server's reply, e.g. `550 5.1.1 no such user`
    /// (`Diagnostic-Code: smtp; …`); other text (a local error) gets the `x-postie` type.
    pub diagnostic: Option<String>,
    /// The host that gave the reply, e.g. `mx.example.net` (`Remote-MTA: dns; …`).
    pub remote_mta: Option<String>,
    /// When delivery was last tried, unix seconds (`Last-Attempt-Date`).
    pub last_attempt: Option<i64>,
    /// For [`Action::Delayed`]: when the queue gives up, unix seconds
    /// (`Will-Retry-Until`; ignored for other actions, RFC 3464 §2.3.9).
    pub will_retry_until: Option<i64>,
}

/// One report about one message, to its sender.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// This server's host name (`Reporting-MTA: dns; host`).
    pub reporting_mta: &'a str,
    /// The report's From address, e.g. `MAILER-DAEMON@host`.
    pub postmaster: &'a str,
    /// The original sender (the envelope reverse-path): the report's `To`.
    pub to: &'a str,
    /// The ENVID the client gave, xtext as given (`Original-Envelope-Id`, decoded).
    pub envid: Option<&'a str>,
    /// When the message was received, unix seconds (`Arrival-Date`).
    pub arrival_date: i64,
    /// The queue id, mentioned in the human-readable part.
    pub queue_id: &'a str,
    /// The recipients reported on.
    pub recipients: Vec<RecipientReport>,
    /// The original message, header and body.
    pub original: &'a [u8],
    /// `RET=`: [`Ret::Headers`] returns only the header. Otherwise a report with a
    /// failed recipient returns the whole message unless it is larger than
    /// `max_returned_size`; reports of delays and successes return only the header.
    pub ret: Option<Ret>,
    /// Largest original returned whole, in octets.
    pub max_returned_size: usize,
    /// Now, unix seconds (`Date`).
    pub now: i64,
    /// The report's own `Message-ID`, with angle brackets.
    pub message_id: &'a str,
}

/// The Subject for a report on `recipients`: the most serious action wins — failed,
/// then delayed, then success (delivered, relayed or expanded).
pub fn subject(recipients: &[RecipientReport]) -> &'static str {
    if recipients.iter().any(|r| r.action == Action::Failed) {
        "Undelivered Mail Returned to Sender"
    } else if recipients.iter().any(|r| r.action == Action::Delayed) {
        "Delayed Mail (still being retried)"
    } else {
        "Successful Mail Delivery Report"
    }
}

/// Whether the report is internationalised: true when the sender's address, a
/// recipient's address (final or original) or the original header (RFC 6532 UTF-8
/// header) is not ASCII.
///
/// Such a report uses the RFC 6533 media types — `message/global-delivery-status`
/// with `utf-8` addresses, and `message/global` or `message/global-headers` for the
/// returned content — and must be queued with SMTPUTF8 (RFC 6531). Independently of
/// this, the rendered report needs `BODY=8BITMIME` whenever it is not all ASCII.
pub fn needs_smtputf8(report: &Report<'_>) -> bool {
    !report.to.is_ascii()
        || report.recipients.iter().any(|r| {
            !r.final_recipient.is_ascii()
                || r.original_recipient
                    .as_deref()
                    .is_some_and(address::original_is_utf8)
        })
        || utf8_header(report.original)
}

/// The original's header is UTF-8 and not plain ASCII (RFC 6532 §3). An 8-bit header
/// that is not UTF-8 is broken mail, not international mail: it is returned as 8-bit
/// data in the classic form.
fn utf8_header(original: &[u8]) -> bool {
    let header = message::headers::header_block(original);
    !header.is_ascii() && std::str::from_utf8(header).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipient(address: &str, action: Action) -> RecipientReport {
        RecipientReport {
            final_recipient: address.to_string(),
            original_recipient: None,
            action,
            status: (2, 0, 0),
            diagnostic: None,
            remote_mta: None,
            last_attempt: None,
            will_retry_until: None,
        }
    }

    fn report<'a>(to: &'a str, original: &'a [u8], rcpt: RecipientReport) -> Report<'a> {
        Report {
            reporting_mta: "mx.example.org",
            postmaster: "MAILER-DAEMON@mx.example.org",
            to,
            envid: None,
            arrival_date: 0,
            queue_id: "Q1",
            recipients: vec![rcpt],
            original,
            ret: None,
            max_returned_size: 1000,
            now: 0,
            message_id: "<r@mx.example.org>",
        }
    }

    #[test]
    fn subject_picks_the_worst_action() {
        let ok = recipient("a@x", Action::Delivered);
        let relayed = recipient("a@x", Action::Relayed);
        let late = recipient("b@x", Action::Delayed);
        let bad = recipient("c@x", Action::Failed);
        assert_eq!(
            subject(std::slice::from_ref(&ok)),
            "Successful Mail Delivery Report"
        );
        assert_eq!(subject(&[relayed]), "Successful Mail Delivery Report");
        assert_eq!(
            subject(&[ok.clone(), late.clone()]),
            "Delayed Mail (still being retried)"
        );
        assert_eq!(
            subject(&[ok, late, bad]),
            "Undelivered Mail Returned to Sender"
        );
    }

    #[test]
    fn international_when_any_address_or_the_header_is_utf8() {
        let ascii = b"Subject: hi\r\n\r\nb\xc3\xa9dy\r\n";
        let plain = recipient("bob@example.net", Action::Failed);
        assert!(!needs_smtputf8(&report(
            "a@example.org",
            ascii,
            plain.clone()
        )));
        assert!(needs_smtputf8(&report(
            "\u{e5}@example.org",
            ascii,
            plain.clone()
        )));
        let utf8 = recipient("b\u{f8}b@example.net", Action::Failed);
        assert!(needs_smtputf8(&report("a@example.org", ascii, utf8)));
        let mut orcpt = plain.clone();
        orcpt.original_recipient = Some("rfc822;b+C3+B8b@example.net".into());
        assert!(needs_smtputf8(&report("a@example.org", ascii, orcpt)));
        let utf8_header = "Subject: h\u{e9}\r\n\r\nbody\r\n".as_bytes();
        assert!(needs_smtputf8(&report(
            "a@example.org",
            utf8_header,
            plain.clone()
        )));
        let latin1_header = b"Subject: h\xe9\r\n\r\nbody\r\n";
        assert!(!needs_smtputf8(&report(
            "a@example.org",
            latin1_header,
            plain
        )));
    }
}
