//! Delivery status notifications the queue sends to a message's sender: bounces
//! (failed), delay warnings (delayed) and success reports (delivered, relayed), as
//! RFC 3464 reports rendered by the `dsn` crate and queued like any other message,
//! from the null reverse-path so that they are never bounced themselves (RFC 5321
//! §4.5.5, RFC 3461 §6.2).
//!
//! Where it sits: the [`crate::QueueRunner`] calls [`Notifier::send`] with what one
//! delivery pass decided, before it records those outcomes, so a crash in between can
//! repeat a report but never lose one (a recipient with nothing to report, [`wants`],
//! may be recorded earlier, as soon as the server took it). The SMTP driver calls it
//! for success reports of recipients filed at acceptance.

use std::sync::Arc;

use dsn::{Action, RecipientReport, Report};
use message::{BodyType, Envelope, QueueId};
use store::{QueuedMessage, Store};

/// The largest original returned whole in a bounce; above it only the header is.
const MAX_RETURNED_SIZE: usize = 1024 * 1024;

/// One recipient's event worth reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Index of the recipient in the envelope.
    pub recipient: usize,
    /// What happened.
    pub action: Action,
    /// The reason, for failures and delays (see [`parse_reason`]).
    pub reason: Option<String>,
}

/// Writes and queues reports.
pub struct Notifier {
    store: Arc<dyn Store>,
    hostname: String,
}

impl Notifier {
    /// A notifier writing reports as `hostname` (Reporting-MTA, MAILER-DAEMON@hostname).
    pub fn new(store: Arc<dyn Store>, hostname: &str) -> Self {
        Notifier {
            store,
            hostname: hostname.to_owned(),
        }
    }

    /// Queues one report to `message`'s sender for the `events` its DSN requests ask
    /// for (RFC 3461 §6.2); returns its queue id, or `None` when nothing was wanted.
    /// `retry_until` fills `Will-Retry-Until` of delayed recipients.
    pub async fn send(
        &self,
        message: &QueuedMessage,
        events: &[Event],
        now: i64,
        retry_until: Option<i64>,
    ) -> store::Result<Option<QueueId>> {
        let Some(sender) = &message.envelope.sender else {
            return Ok(None); // a bounce is never bounced
        };
        let wanted: Vec<&Event> = events.iter().filter(|e| wants(message, e)).collect();
        if wanted.is_empty() {
            return Ok(None);
        }
        let original = self.store.queue_body(message.id).await?;
        let recipients = wanted
            .iter()
            .map(|e| self.recipient_report(message, e, now, retry_until))
            .collect();
        let id = QueueId::generate(u64::try_from(now).unwrap_or(0) * 1000);
        let postmaster = format!("MAILER-DAEMON@{}", self.hostname);
        let queue_id = message.id.to_string();
        let message_id = format!("<{id}.dsn@{}>", self.hostname);
        let to = sender.to_string();
        let report = Report {
            reporting_mta: &self.hostname,
            postmaster: &postmaster,
            to: &to,
            envid: message.envelope.dsn.envid.as_deref(),
            arrival_date: message.queued_at,
            queue_id: &queue_id,
            recipients,
            original: &original,
            ret: message.envelope.dsn.ret,
            max_returned_size: MAX_RETURNED_SIZE,
            now,
            message_id: &message_id,
        };
        let body = dsn::render(&report);
        let envelope = Envelope {
            sender: None,
            recipients: vec![sender.clone()],
            body_type: BodyType::EightBitMime,
            smtputf8: dsn::needs_smtputf8(&report),
            // RFC 8689 §5: the report about a REQUIRETLS message travels under
            // REQUIRETLS too, since it may quote the message.
            require_tls: message.envelope.require_tls,
            dsn: Default::default(),
        };
        self.store.enqueue(id, &envelope, &body).await?;
        tracing::info!(queue_id = %message.id, report = %id, to = %sender, "delivery status notification queued");
        Ok(Some(id))
    }

    fn recipient_report(
        &self,
        message: &QueuedMessage,
        event: &Event,
        now: i64,
        retry_until: Option<i64>,
    ) -> RecipientReport {
        let parsed = event.reason.as_deref().map(parse_reason);
        let default_status = match event.action {
            Action::Failed => (5, 0, 0),
            Action::Delayed => (4, 0, 0),
            _ => (2, 0, 0),
        };
        let dsn = message.envelope.dsn.recipient(event.recipient);
        RecipientReport {
            final_recipient: message.envelope.recipients[event.recipient].to_string(),
            original_recipient: dsn.orcpt,
            action: event.action,
            status: parsed
                .as_ref()
                .and_then(|p| p.status)
                .unwrap_or(default_status),
            // A server's reply, else our own reason (rendered as an x-postie
            // diagnostic by the dsn crate); only the summary line, not the
            // per-host lines after it.
            diagnostic: parsed
                .as_ref()
                .and_then(|p| p.smtp_reply.clone())
                .or_else(|| event.reason.as_deref().map(|r| summary(r).to_owned())),
            remote_mta: parsed.as_ref().and_then(|p| p.remote_mta.clone()),
            last_attempt: Some(now),
            will_retry_until: match event.action {
                Action::Delayed => retry_until,
                _ => None,
            },
        }
    }
}

/// Whether [`Notifier::send`] would report `event` of `message` to its sender (RFC 3461
/// §6.2: as the recipient's NOTIFY asks; never to the null reverse-path).
pub fn wants(message: &QueuedMessage, event: &Event) -> bool {
    let notify = message.envelope.dsn.recipient(event.recipient).notify;
    dsn::wanted(event.action, notify, message.envelope.sender.is_none())
}

/// What a failure reason says, taken apart for a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReason {
    /// The enhanced status code (RFC 3463) in it, if any.
    pub status: Option<(u8, u16, u16)>,
    /// The remote server's reply (`550 5.1.1 ...`), when the reason quotes one.
    pub smtp_reply: Option<String>,
    /// The host that gave that reply.
    pub remote_mta: Option<String>,
}

/// Takes apart a failure reason as deliverers write it: `host[ip] said: 550 5.1.1 text`
/// for a remote server's reply, or `5.1.1 text` / `4.4.2 host[ip]: text` / `gave up:
/// ...` for our own decisions. Only the first line counts: the relay lists each host it
/// tried on the lines after it (`  host[ip]: error`), which are for people.
pub fn parse_reason(reason: &str) -> ParsedReason {
    let reason = summary(reason);
    let (remote_mta, text) = match reason.split_once(" said: ") {
        Some((host, reply)) => {
            let host = host.rsplit(' ').next().unwrap_or(host);
            let name = host.split('[').next().unwrap_or(host);
            (Some(name.to_owned()).filter(|n| !n.is_empty()), reply)
        }
        None => (None, reason),
    };
    let is_reply = text.len() >= 4
        && text.as_bytes()[..3].iter().all(u8::is_ascii_digit)
        && text.as_bytes()[3] == b' ';
    let status = text.split_whitespace().find_map(enhanced_code);
    ParsedReason {
        status,
        smtp_reply: is_reply.then(|| text.to_owned()),
        remote_mta,
    }
}

/// The first line of a reason: the summary the report is made of.
pub fn summary(reason: &str) -> &str {
    reason.lines().next().unwrap_or("")
}

/// The lines after a reason's summary, one per host the relay tried (`  host[ip]:
/// error`), as `(host[ip], error)` pairs in the order tried; empty for a reason of one
/// line.
pub fn tried_hosts(reason: &str) -> Vec<(&str, &str)> {
    reason
        .lines()
        .skip(1)
        .filter_map(|line| {
            let line = line.trim();
            let (peer, error) = line.split_once(": ")?;
            Some((peer, error))
        })
        .collect()
}

/// An enhanced status code `class.subject.detail` (RFC 3463 §2), class 2, 4 or 5.
fn enhanced_code(word: &str) -> Option<(u8, u16, u16)> {
    let word = word.trim_end_matches([',', ';', ':']);
    let mut parts = word.split('.');
    let class: u8 = parts.next()?.parse().ok()?;
    let subject: u16 = parts.next()?.parse().ok()?;
    let detail: u16 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !matches!(class, 2 | 4 | 5) || subject > 999 || detail > 999 {
        return None;
    }
    Some((class, subject, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_come_apart() {
        let p = parse_reason("mx.far.test[127.0.0.3] said: 550 5.1.1 <bob@far.test>: no such user");
        assert_eq!(p.status, Some((5, 1, 1)));
        assert_eq!(p.remote_mta.as_deref(), Some("mx.far.test"));
        assert_eq!(
            p.smtp_reply.as_deref(),
            Some("550 5.1.1 <bob@far.test>: no such user")
        );
        let p = parse_reason("gave up: 4.4.1 connection refused by mx.far.test[127.0.0.3]");
        assert_eq!(p.status, Some((4, 4, 1)));
        assert_eq!(p.smtp_reply, None);
        assert_eq!(p.remote_mta, None);
        let p = parse_reason("no code here 1.2");
        assert_eq!(p.status, None);
        assert_eq!(parse_reason("5.1.10 null MX").status, Some((5, 1, 10)));
        assert_eq!(parse_reason("9.1.1 x").status, None);
    }

    #[test]
    fn our_own_failures_name_no_remote_mta() {
        let p = parse_reason(
            "5.3.4 mx.far.test[127.0.0.3]: message size 900 exceeds the limit of 500 at 127.0.0.3:25",
        );
        assert_eq!(p.status, Some((5, 3, 4)));
        assert_eq!(p.smtp_reply, None);
        assert_eq!(p.remote_mta, None);
    }

    #[test]
    fn only_the_first_line_of_a_reason_counts() {
        let reason = "4.4.1 mx2.far.test[127.0.0.4]: cannot connect\n  \
                      mx1.far.test[127.0.0.3]: 550 5.7.1 go away\n  \
                      mx2.far.test[127.0.0.4]: 4.4.1 cannot connect";
        let p = parse_reason(reason);
        assert_eq!(p.status, Some((4, 4, 1)));
        assert_eq!(p.smtp_reply, None);
        assert_eq!(p.remote_mta, None);
        assert_eq!(
            summary(reason),
            "4.4.1 mx2.far.test[127.0.0.4]: cannot connect"
        );
        assert_eq!(
            tried_hosts(reason),
            [
                ("mx1.far.test[127.0.0.3]", "550 5.7.1 go away"),
                ("mx2.far.test[127.0.0.4]", "4.4.1 cannot connect")
            ]
        );
        assert!(tried_hosts("5.1.1 one line").is_empty());
        let p =
            parse_reason("mx1.far.test[127.0.0.3] said: 421 4.3.2 busy\n  x[1.2.3.4]: 5.1.1 no");
        assert_eq!(p.smtp_reply.as_deref(), Some("421 4.3.2 busy"));
        assert_eq!(p.status, Some((4, 3, 2)));
    }
}
