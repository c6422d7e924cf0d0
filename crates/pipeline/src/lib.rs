//! The message pipeline: what happens to a message between the end of DATA and the
//! queue.
//!
//! Where it sits: the SMTP driver calls [`process`] with the raw body the session
//! accepted and facts about the session; the result says what to enqueue, or that the
//! message is refused. The stages, in order:
//!
//! 0. **structure** ([`check_structure`], run by the SMTP driver on a blocking thread
//!    before [`process`]): MIME nesting deeper than [`MAX_MIME_DEPTH`] is refused with
//!    `554 5.6.0`;
//! 1. **strip** ([`mailauth::strip::strip_ours`]): `Authentication-Results` fields that
//!    claim our host name are removed (RFC 8601 §5);
//! 2. **checks** ([`MailAuth::verify`], only for [`Trust::Inbound`]): SPF, DKIM and
//!    DMARC; a DMARC `p=reject` failure ends here ([`Disposition::Reject`]);
//! 3. **modifiers** ([`prepare`]): the `Received:` trace header (RFC 5321 §4.4) and, on
//!    submission, the `Date:` and `Message-ID:` a client left out (RFC 6409 §8.2, §8.3);
//!    then our `Authentication-Results:` on top;
//! 4. **signing** ([`MailAuth::sign`], only for [`Trust::Submitted`]): DKIM signatures
//!    over the finished header, put in front of it.
//!
//! Entry points for other submitters: a local submitter (`postie sendmail` / `postie
//! send` without `--server`) either calls [`process`] with [`Trust::Submitted`] and a
//! [`MailAuth::signing_only`] (the same `Received`/`Date`/`Message-ID` and DKIM
//! signatures as a submission over SMTP), or, keeping its own trace fields, passes its
//! finished message through [`MailAuth::signed`].
//!
//! Invariant: the client's bytes are never rewritten, only prefixed, with one
//! exception: the stripping of step 1, which deletes whole header fields and nothing
//! else.

mod auth;
mod structure;

pub use auth::MailAuth;
pub use mailauth::{Action, Checks, DmarcMode, KeyRecord, SharedKeys, Verdict};
pub use structure::{MAX_MIME_DEPTH, check_structure, mime_depth};

use std::net::IpAddr;

use message::headers::{self, ReceivedInfo};

/// What the pipeline needs to know about the session a message came from.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    /// Our host name.
    pub hostname: &'a str,
    /// The client's EHLO/HELO name.
    pub helo: &'a str,
    /// The client's IP address as text.
    pub peer_ip: &'a str,
    /// The `with` protocol for `Received:`.
    pub protocol: &'a str,
    /// The message came in on a submission listener (587/465).
    pub submission: bool,
    /// The queue id it will be stored under.
    pub queue_id: &'a str,
    /// The recipient when there is exactly one.
    pub single_recipient: Option<&'a str>,
    /// Time of arrival, unix seconds.
    pub unix_seconds: i64,
}

/// Returns the message to enqueue: added headers, then the client's bytes unchanged.
pub fn prepare(arrival: &Arrival<'_>, body: &[u8]) -> Vec<u8> {
    let mut added = headers::received_header(&ReceivedInfo {
        helo: arrival.helo,
        peer_ip: arrival.peer_ip,
        hostname: arrival.hostname,
        protocol: arrival.protocol,
        queue_id: arrival.queue_id,
        for_recipient: arrival.single_recipient,
        unix_seconds: arrival.unix_seconds,
    });
    if arrival.submission {
        // RFC 6409 §8.2 / §8.3: a submission server may add a missing Date/Message-ID.
        if !headers::has_header(body, "Date") {
            added.push_str(&format!(
                "Date: {}\r\n",
                headers::rfc5322_date(arrival.unix_seconds)
            ));
        }
        if !headers::has_header(body, "Message-ID") {
            let id = headers::new_message_id(arrival.hostname, arrival.unix_seconds);
            added.push_str(&format!("Message-ID: {id}\r\n"));
        }
    }
    let mut out = Vec::with_capacity(added.len() + body.len());
    out.extend_from_slice(added.as_bytes());
    out.extend_from_slice(body);
    out
}

/// Where a message came from, which decides the stages it goes through.
#[derive(Debug, Clone, Copy)]
pub enum Trust {
    /// One of our users submitted it (an authenticated SMTP session, or a local
    /// submitter): no inbound checks; signed with the domain's DKIM keys.
    Submitted,
    /// Another server sent it, unauthenticated, from `ip`: checked, never signed.
    Inbound {
        /// The client's address.
        ip: IpAddr,
    },
}

/// What becomes of a processed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Queue and deliver it as usual.
    Deliver,
    /// Queue it; local recipients get it in their Junk mailbox (DMARC quarantine).
    Quarantine,
    /// Refuse it with 550 5.7.1 and this text (DMARC reject, RFC 7489 §6.6.4).
    Reject(String),
}

/// The outcome of [`process`].
#[derive(Debug, Clone)]
pub struct Processed {
    /// The message to enqueue (empty when rejected).
    pub message: Vec<u8>,
    /// What to do with it.
    pub disposition: Disposition,
    /// The checks' one-line summary for the log (`spf=pass dkim=none dmarc=pass`), when
    /// checks ran.
    pub checks: Option<String>,
}

/// Runs every stage (see the module doc) on `body`, which `envelope` brought in.
pub async fn process(
    auth: &MailAuth,
    arrival: &Arrival<'_>,
    trust: Trust,
    envelope: &message::Envelope,
    body: &[u8],
) -> Processed {
    let stripped = mailauth::strip::strip_ours(body, auth.hostname());
    let sender = envelope.sender.as_ref().map(ToString::to_string);
    let verdict = match trust {
        Trust::Inbound { ip } => {
            let origin = mailauth::Origin {
                ip,
                helo: arrival.helo,
                mail_from: sender.as_deref(),
            };
            auth.verify(&origin, &stripped).await
        }
        Trust::Submitted => None,
    };
    let disposition = match &verdict {
        Some(v) if v.action == Action::Reject => Disposition::Reject(format!(
            "Message rejected by the DMARC policy of {}",
            v.dmarc_domain.as_deref().unwrap_or("the sender's domain")
        )),
        Some(v) if v.action == Action::Quarantine => Disposition::Quarantine,
        _ => Disposition::Deliver,
    };
    let checks = verdict.as_ref().map(|v| v.summary.clone());
    if matches!(disposition, Disposition::Reject(_)) {
        return Processed {
            message: Vec::new(),
            disposition,
            checks,
        };
    }
    let prepared = prepare(arrival, &stripped);
    let mut message = Vec::with_capacity(prepared.len() + 1024);
    if let Some(v) = &verdict {
        // RFC 8601 §5: added at the top, above the trace field of this hop.
        message.extend_from_slice(v.header.as_bytes());
    }
    message.extend_from_slice(&prepared);
    if let Trust::Submitted = trust {
        // Signing comes last, over the finished header (RFC 6376 §5).
        message = auth.signed(envelope.sender.as_ref(), message);
    }
    Processed {
        message,
        disposition,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(submission: bool) -> Arrival<'static> {
        Arrival {
            hostname: "mx.example.org",
            helo: "client",
            peer_ip: "127.0.0.1",
            protocol: "ESMTPSA",
            submission,
            queue_id: "00000000000000aa",
            single_recipient: None,
            unix_seconds: 0,
        }
    }

    #[test]
    fn submission_adds_missing_date_and_message_id() {
        let out = prepare(&arrival(true), b"Subject: x\r\n\r\nbody\r\n");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("Received: from client ([127.0.0.1])"));
        assert!(text.contains("\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
        assert!(text.contains("\r\nMessage-ID: <"));
        assert!(text.ends_with("Subject: x\r\n\r\nbody\r\n"));
    }

    #[test]
    fn present_headers_are_kept_and_mx_adds_nothing_else() {
        let body = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nx\r\n";
        let text = String::from_utf8(prepare(&arrival(true), body)).unwrap();
        assert_eq!(text.matches("Date:").count(), 1);
        assert_eq!(text.matches("Message-ID:").count(), 1);
        let text = String::from_utf8(prepare(&arrival(false), b"Subject: x\r\n\r\n")).unwrap();
        assert!(!text.contains("Message-ID:"));
        assert!(!text.contains("\r\nDate:"));
    }
}
