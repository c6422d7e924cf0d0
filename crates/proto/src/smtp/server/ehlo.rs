//! EHLO / HELO (RFC 5321 §4.1.1.1) and HELP (§4.1.1.8): the greeting exchange and the
//! list of extensions. Only what really works is advertised.

use super::{Output, Session};
use crate::reply::Reply;
use std::borrow::Cow;

impl Session {
    pub(super) fn ehlo(&mut self, host: &str, esmtp: bool, out: &mut Vec<Output>) {
        if host.is_empty() || host.contains(|c: char| c.is_control()) {
            return self.error(Reply::syntax_error(), out);
        }
        // RFC 5321 §4.1.4: EHLO/HELO resets any transaction in progress.
        self.transaction = None;
        self.helo = Some((host.to_string(), esmtp));
        let first: Cow<'static, str> = format!("{} Hello {}", self.policy.hostname, host).into();
        if !esmtp {
            return out.push(Output::Reply(Reply::plain(250, vec![first])));
        }
        let mut lines = vec![
            first,
            "PIPELINING".into(),                                     // RFC 2920
            format!("SIZE {}", self.policy.max_message_size).into(), // RFC 1870
            "8BITMIME".into(),                                       // RFC 6152
            "BINARYMIME".into(),                                     // RFC 3030
            "CHUNKING".into(),                                       // RFC 3030
            "SMTPUTF8".into(),                                       // RFC 6531
            "ENHANCEDSTATUSCODES".into(),                            // RFC 2034
            "DSN".into(),                                            // RFC 3461
        ];
        if !self.tls && self.policy.starttls_available {
            lines.push("STARTTLS".into()); // RFC 3207
        }
        if self.tls {
            // RFC 8689 §4.1: offered only on a connection protected by TLS.
            lines.push("REQUIRETLS".into());
        }
        if self.auth_allowed() && self.authenticated_as.is_none() {
            // RFC 4954 §3: the mechanisms the shared SASL exchange runs; -PLUS only with
            // a channel binding (RFC 9266 §3).
            let names: Vec<&str> =
                crate::sasl::Mechanism::offered(self.scram, self.exporter.is_some())
                    .iter()
                    .map(|m| m.name())
                    .collect();
            lines.push(format!("AUTH {}", names.join(" ")).into());
        }
        lines.push("HELP".into());
        out.push(Output::Reply(Reply::plain(250, lines)));
    }

    /// AUTH is offered over TLS, or in clear where the policy allows it.
    pub(super) fn auth_allowed(&self) -> bool {
        self.tls || self.policy.plaintext_auth
    }
}

/// The HELP reply (RFC 5321 §4.1.1.8).
pub(super) fn help() -> Reply {
    Reply {
        code: 214,
        enhanced: Some((2, 0, 0)),
        lines: vec![
            "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT".into(),
            "VRFY EXPN HELP STARTTLS AUTH".into(),
        ],
    }
}
