//! How failures are worded for the queue, and the reason a domain's recipients keep
//! when no host took the mail: the last error first, then what each host said.
//!
//! Where it sits: [`super::Relay::deliver_domain`] (and `deliver_secure`) note each
//! host's failure in a [`Tried`] as they go through a domain's hosts; its
//! [`Tried::reason`] becomes the queue reason of the recipients nobody decided on.
//!
//! The wording says who said it. A server's reply is quoted as `host[ip] said: 451
//! 4.3.0 text`, and only then: `queue::notify::parse_reason` turns exactly that form
//! into a report's `Remote-MTA` and `Diagnostic-Code: smtp;`. Everything we found
//! ourselves (a timeout, a closed connection, a failed TLS handshake, a message too big
//! for the server's declared SIZE) reads `X.Y.Z host[ip]: text`, which reports carry as
//! `Diagnostic-Code: x-postie;` with no Remote-MTA (RFC 3464 §2.3.6).
//!
//! The reason's first line is the summary (the last error), which is all reports and
//! status codes are taken from; when several hosts or addresses were tried, one more
//! line per host follows, `  host[ip]: error`, in the order they were tried, for
//! `postie queue show`.

use crate::client::{ClientError, ServerReply};

/// Longest summary or per-host error kept, in bytes: a server's reply may run to
/// hundreds of 16 KiB lines, and the reason is stored with every recipient it concerns.
pub const MAX_ERROR_BYTES: usize = 1024;
/// Most hosts listed under the summary (the last ones tried): a domain may publish any
/// number of MX hosts, each with several addresses.
pub const MAX_HOSTS_LISTED: usize = 16;

/// `text` cut to at most [`MAX_ERROR_BYTES`] bytes at a character boundary, with `…`
/// when something was cut.
fn bounded(mut text: String) -> String {
    if text.len() > MAX_ERROR_BYTES {
        let mut end = MAX_ERROR_BYTES - '…'.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// One host's (or address's) failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `host[ip]`, or the host name when it was not connected to.
    pub peer: String,
    /// The whole reason: `host[ip] said: reply`, or `X.Y.Z host[ip]: text`.
    pub summary: String,
    /// The error without the peer, for the per-host line: the reply, or `X.Y.Z text`.
    pub detail: String,
}

impl Failure {
    /// The server at `peer` replied `reply`; a reply the client made up
    /// ([`ServerReply::local`]) is worded as ours.
    pub fn reply(peer: &str, reply: &ServerReply) -> Self {
        if reply.local {
            return Failure::ours(peer, &reply.status(), &reply.text);
        }
        Failure {
            peer: peer.to_owned(),
            summary: bounded(format!("{peer} said: {reply}")),
            detail: bounded(reply.to_string()),
        }
    }

    /// Something we found at `peer` ourselves: `status` (`X.Y.Z`) and what.
    pub fn ours(peer: &str, status: &str, text: &str) -> Self {
        Failure {
            peer: peer.to_owned(),
            summary: bounded(format!("{status} {peer}: {text}")),
            detail: bounded(format!("{status} {text}")),
        }
    }

    /// A connection-level error at `peer`: the server's reply when it refused (a 421
    /// greeting), else ours (its message starts with an enhanced status code).
    pub fn client_error(peer: &str, e: &ClientError) -> Self {
        if let Some(reply) = &e.reply {
            return Failure::reply(peer, reply);
        }
        let (status, text) = match e.message.split_once(' ') {
            Some((word, rest)) if is_status(word) => (word.to_owned(), rest),
            _ => {
                let class = if e.permanent { 5 } else { 4 };
                (format!("{class}.0.0"), e.message.as_str())
            }
        };
        Failure::ours(peer, &status, text)
    }

    /// A host left out before connecting (a policy said so), with `reason` as it is.
    pub fn skipped(host: &str, reason: &str) -> Self {
        Failure {
            peer: host.to_owned(),
            summary: bounded(reason.to_owned()),
            detail: bounded(reason.to_owned()),
        }
    }
}

/// The failures of one domain's hosts in one attempt, in the order they were tried.
#[derive(Debug, Default)]
pub struct Tried {
    failures: Vec<Failure>,
}

impl Tried {
    /// Notes `failure`; a later failure at the same peer (a verified attempt, then an
    /// opportunistic one) replaces the earlier one, so each peer keeps its last error.
    pub fn push(&mut self, failure: Failure) {
        // It moves to the end: it was tried last, and the summary is the last error.
        self.failures.retain(|f| f.peer != failure.peer);
        self.failures.push(failure);
    }

    /// The reason for the queue: the last error, then (when more than one peer
    /// failed) a line `  peer: error` for each, in order; `None` when nothing failed.
    /// At most the last [`MAX_HOSTS_LISTED`] peers are listed, after a line saying how
    /// many earlier ones are not.
    pub fn reason(&self) -> Option<String> {
        let last = self.failures.last()?;
        let mut reason = last.summary.clone();
        if self.failures.len() > 1 {
            let left_out = self.failures.len().saturating_sub(MAX_HOSTS_LISTED);
            if left_out > 0 {
                reason.push_str(&format!("\n  ({left_out} hosts tried before these)"));
            }
            for f in &self.failures[left_out..] {
                reason.push_str(&format!("\n  {}: {}", f.peer, f.detail));
            }
        }
        Some(reason)
    }
}

/// `X.Y.Z` with class 2, 4 or 5 (RFC 3463 §2).
fn is_status(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(code: u16, enhanced: (u8, u16, u16), text: &str) -> ServerReply {
        ServerReply {
            code,
            enhanced: Some(enhanced),
            text: text.into(),
            local: false,
        }
    }

    #[test]
    fn a_hostile_domain_cannot_grow_a_reason_without_bound() {
        // A reply of 512 lines of 16 KiB (the client's limits) from each of 300 hosts.
        let huge = remote(451, (4, 3, 0), &"x".repeat(512 * 16 * 1024));
        let mut tried = Tried::default();
        for i in 0..300 {
            tried.push(Failure::reply(&format!("mx{i}.b.test[127.0.0.2]"), &huge));
        }
        let reason = tried.reason().unwrap();
        let lines: Vec<&str> = reason.lines().collect();
        assert_eq!(lines.len(), 1 + 1 + MAX_HOSTS_LISTED, "{}", lines.len());
        assert_eq!(lines[1], "  (284 hosts tried before these)");
        assert!(lines[2].starts_with("  mx284.b.test[127.0.0.2]: 451 4.3.0 xxx"));
        assert!(lines.iter().all(|l| l.len() <= MAX_ERROR_BYTES + 64));
        assert!(lines[0].ends_with('…') && lines[0].len() <= MAX_ERROR_BYTES);
        // `queue::notify::tried_hosts` takes `host: error` lines; the count is not one.
        assert!(!lines[1].contains(": "));
        // Multi-byte text is cut at a character boundary.
        let f = Failure::ours("h[1.2.3.4]", "4.4.2", &"é".repeat(MAX_ERROR_BYTES));
        assert!(f.summary.len() <= MAX_ERROR_BYTES && f.summary.ends_with('…'));
    }

    #[test]
    fn a_servers_reply_is_what_it_said() {
        let f = Failure::reply("mx.b.test[127.0.0.2]", &remote(451, (4, 3, 0), "busy"));
        assert_eq!(f.summary, "mx.b.test[127.0.0.2] said: 451 4.3.0 busy");
        assert_eq!(f.detail, "451 4.3.0 busy");
    }

    #[test]
    fn a_size_refusal_we_decided_is_ours_not_a_552() {
        let reply = ServerReply::synthetic(
            552,
            (5, 3, 4),
            "message size 900 exceeds the limit of 500 at 127.0.0.2:25",
        );
        let f = Failure::reply("mx.b.test[127.0.0.2]", &reply);
        assert_eq!(
            f.summary,
            "5.3.4 mx.b.test[127.0.0.2]: message size 900 exceeds the limit of 500 at 127.0.0.2:25"
        );
        assert!(!f.summary.contains("said"), "{}", f.summary);
        assert!(!f.summary.contains("552"), "{}", f.summary);
    }

    #[test]
    fn connection_errors_are_ours_with_their_code_first() {
        let e = ClientError {
            permanent: false,
            message: "4.4.2 timeout waiting for greeting from 127.0.0.2:25".into(),
            reply: None,
        };
        let f = Failure::client_error("mx.b.test[127.0.0.2]", &e);
        assert_eq!(
            f.summary,
            "4.4.2 mx.b.test[127.0.0.2]: timeout waiting for greeting from 127.0.0.2:25"
        );
        let odd = ClientError {
            permanent: true,
            message: "no code".into(),
            reply: None,
        };
        assert_eq!(
            Failure::client_error("h[1.2.3.4]", &odd).summary,
            "5.0.0 h[1.2.3.4]: no code"
        );
        let greeting = ClientError {
            permanent: false,
            message: "greeting from 127.0.0.2:25: 421 4.3.2 busy".into(),
            reply: Some(remote(421, (4, 3, 2), "busy")),
        };
        assert_eq!(
            Failure::client_error("h[127.0.0.2]", &greeting).summary,
            "h[127.0.0.2] said: 421 4.3.2 busy"
        );
    }

    #[test]
    fn the_reason_is_the_last_error_then_each_host() {
        let mut tried = Tried::default();
        assert_eq!(tried.reason(), None);
        tried.push(Failure::reply(
            "mx1.b.test[127.0.0.2]",
            &remote(421, (4, 3, 2), "busy"),
        ));
        assert_eq!(
            tried.reason().as_deref(),
            Some("mx1.b.test[127.0.0.2] said: 421 4.3.2 busy"),
            "one host: its error alone"
        );
        tried.push(Failure::ours(
            "mx2.b.test[127.0.0.3]",
            "4.4.1",
            "cannot connect to 127.0.0.3:25: refused",
        ));
        assert_eq!(
            tried.reason().as_deref(),
            Some(
                "4.4.1 mx2.b.test[127.0.0.3]: cannot connect to 127.0.0.3:25: refused\n  \
                 mx1.b.test[127.0.0.2]: 421 4.3.2 busy\n  \
                 mx2.b.test[127.0.0.3]: 4.4.1 cannot connect to 127.0.0.3:25: refused"
            )
        );
    }

    #[test]
    fn a_peer_keeps_only_its_last_error() {
        let mut tried = Tried::default();
        tried.push(Failure::ours(
            "a[127.0.0.2]",
            "4.7.5",
            "verified TLS failed",
        ));
        tried.push(Failure::ours("b[127.0.0.3]", "4.4.1", "refused"));
        tried.push(Failure::ours("a[127.0.0.2]", "4.4.2", "closed"));
        let reason = tried.reason().unwrap();
        assert_eq!(
            reason,
            "4.4.2 a[127.0.0.2]: closed\n  b[127.0.0.3]: 4.4.1 refused\n  a[127.0.0.2]: 4.4.2 closed"
        );
    }
}
