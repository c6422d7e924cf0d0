//! The message pipeline: what happens to a message between the end of DATA and the
//! queue.
//!
//! Where it sits: the SMTP driver calls [`prepare`] with the raw body the session
//! accepted and facts about the session; the result is what gets enqueued. Today the
//! stages are the modifiers every server needs: the `Received:` trace header
//! (RFC 5321 §4.4) and, on submission, the `Date:` and `Message-ID:` a client left out
//! (RFC 6409 §8.2, §8.3). Checks (SPF, DKIM, DMARC) and signing join here later.
//!
//! Invariant: the client's bytes are never rewritten, only prefixed.

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
