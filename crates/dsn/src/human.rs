//! The first part of a report: a plain-text explanation for the person who sent the
//! message (RFC 6522 §3 — the human-readable part of a `multipart/report`). It lists
//! the recipients by outcome, with the remote server's reply, says until when a delayed
//! message is retried, and what of the original is attached. [`crate::render()`] puts it
//! first; the facts are the same as in [`crate::status`].

use crate::field::{clean, lay_out};
use crate::returned::Returned;
use crate::{Action, RecipientReport, Report};
use message::headers::rfc5322_date;

/// The outcome groups in the order they are listed, with their headings.
const SECTIONS: [(Action, &str); 5] = [
    (
        Action::Failed,
        "Delivery to these recipients failed permanently:",
    ),
    (
        Action::Delayed,
        "Delivery to these recipients is delayed; the mail system is still trying:",
    ),
    (Action::Delivered, "Your message was delivered to:"),
    (
        Action::Relayed,
        "Your message was passed on to these recipients' mail systems, which do not \
         report delivery themselves:",
    ),
    (
        Action::Expanded,
        "Your message was delivered to these lists or aliases, which forward it to \
         their members:",
    ),
];

/// The text, CRLF line endings, UTF-8.
pub(crate) fn body(report: &Report<'_>, returned: Returned) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut paragraph = |text: &str| {
        lines.extend(lay_out("", "", text));
        lines.push(String::new());
    };
    paragraph(&format!(
        "This is the mail system at {}.",
        clean(report.reporting_mta, false)
    ));
    paragraph(intro(&report.recipients));
    paragraph(&format!(
        "Your message was received on {} and has the queue id {}.",
        rfc5322_date(report.arrival_date),
        clean(report.queue_id, false)
    ));
    for (action, heading) in SECTIONS {
        let group: Vec<_> = report
            .recipients
            .iter()
            .filter(|r| r.action == action)
            .collect();
        if group.is_empty() {
            continue;
        }
        lines.extend(lay_out("", "", heading));
        lines.push(String::new());
        for r in group {
            lines.extend(recipient(r));
            lines.push(String::new());
        }
    }
    lines.extend(lay_out("", "", attachment_note(returned)));
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out
}

/// The opening sentence, by the most serious outcome.
fn intro(recipients: &[RecipientReport]) -> &'static str {
    let any = |a: Action| recipients.iter().any(|r| r.action == a);
    if any(Action::Failed) {
        "Your message could not be delivered to one or more of its recipients. \
         The details are below."
    } else if any(Action::Delayed) {
        "Your message has not yet been delivered to one or more of its recipients. \
         This is only a warning: the mail system keeps trying, and you do not need to \
         send the message again."
    } else {
        "Your message was delivered as requested. You receive this report because \
         delivery notification was asked for when the message was sent."
    }
}

/// One recipient's entry: the address, the status, the reply, the retry deadline.
fn recipient(r: &RecipientReport) -> Vec<String> {
    let mut lines = lay_out(
        "  ",
        "    ",
        &format!("<{}>", clean(&r.final_recipient, false)),
    );
    let (class, subject, detail) = r.status;
    let said = match &r.remote_mta {
        Some(mta) => format!(
            "Status {class}.{subject}.{detail}. The server {} said:",
            clean(mta, false)
        ),
        None => format!("Status {class}.{subject}.{detail}."),
    };
    lines.extend(lay_out("    ", "    ", &said));
    if let Some(text) = &r.diagnostic {
        lines.extend(lay_out("      ", "      ", &clean(text, false)));
    }
    if let (Action::Delayed, Some(until)) = (r.action, r.will_retry_until) {
        lines.extend(lay_out(
            "    ",
            "    ",
            &format!(
                "The mail system will keep trying until {}.",
                rfc5322_date(until)
            ),
        ));
    }
    lines
}

/// What of the original message is attached, and why not all of it.
fn attachment_note(returned: Returned) -> &'static str {
    match returned {
        Returned::Full => "A copy of your message is attached.",
        Returned::HeadersAsked | Returned::HeadersNotFailure => {
            "The header of your message is attached."
        }
        Returned::HeadersTooLarge => {
            "Your message was too large to return in full; only its header is attached."
        }
        Returned::HeadersNotEightBitSafe => {
            "Your message could not be returned intact (it has very long lines or binary \
             data); only its header is attached."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_entry_mentions_reply_and_deadline() {
        let r = RecipientReport {
            final_recipient: "bob@example.net".into(),
            original_recipient: None,
            action: Action::Delayed,
            status: (4, 4, 1),
            diagnostic: Some("421 4.4.1 busy\r\nX-Evil: 1".into()),
            remote_mta: Some("mx.example.net".into()),
            last_attempt: None,
            will_retry_until: Some(0),
        };
        let text = recipient(&r).join("\n");
        assert_eq!(
            text,
            "  <bob@example.net>\n    Status 4.4.1. The server mx.example.net said:\n      \
             421 4.4.1 busy X-Evil: 1\n    The mail system will keep trying until Thu, 01 \
             Jan 1970 00:00:00 +0000."
        );
    }
}
