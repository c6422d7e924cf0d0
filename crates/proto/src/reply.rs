//! Typed SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 2034, RFC 3463).
//!
//! Every reply the server sends is built here, so the wording and codes live in one
//! place and the client never sees internal details.

use std::borrow::Cow;

/// An enhanced status code `class.subject.detail` (RFC 3463).
pub type Enhanced = (u8, u16, u16);

/// One SMTP reply: a three-digit code, an optional enhanced code and text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The basic reply code, e.g. 250.
    pub code: u16,
    /// The enhanced status code; `None` only for the greeting and EHLO/HELO replies,
    /// which RFC 2034 §3 exempts.
    pub enhanced: Option<Enhanced>,
    /// The text; several lines become a multi-line reply.
    pub lines: Vec<Cow<'static, str>>,
}

impl Reply {
    /// A one-line reply with an enhanced code.
    pub fn new(code: u16, enhanced: Enhanced, text: impl Into<Cow<'static, str>>) -> Self {
        Reply {
            code,
            enhanced: Some(enhanced),
            lines: vec![text.into()],
        }
    }

    /// A reply without an enhanced code (greeting, EHLO).
    pub fn plain(code: u16, lines: Vec<Cow<'static, str>>) -> Self {
        Reply {
            code,
            enhanced: None,
            lines,
        }
    }

    /// True for 2xx and 3xx replies.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// The reply as it goes on the wire, each line ending in CRLF.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.write_to(&mut out);
        out
    }

    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let count = self.lines.len().max(1);
        for i in 0..count {
            let text = self.lines.get(i).map(|l| l.as_ref()).unwrap_or("");
            let sep = if i + 1 == count { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{}", self.code, sep).as_bytes());
            if let Some((c, s, d)) = self.enhanced {
                out.extend_from_slice(format!("{c}.{s}.{d} ").as_bytes());
            }
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(String::from_utf8_lossy(&self.to_wire()).trim_end())
    }
}

macro_rules! replies {
    ($($(#[$doc:meta])* $name:ident = $code:literal ($c:literal, $s:literal, $d:literal) $text:literal;)*) => {
        impl Reply {
            $(
                $(#[$doc])*
                pub fn $name() -> Reply {
                    Reply::new($code, ($c, $s, $d), $text)
                }
            )*
        }
    };
}

replies! {
    /// 250 2.0.0: generic success (NOOP, RSET).
    ok = 250 (2, 0, 0) "Ok";
    /// 250 2.1.0: sender accepted.
    sender_ok = 250 (2, 1, 0) "Sender ok";
    /// 250 2.1.5: recipient accepted.
    recipient_ok = 250 (2, 1, 5) "Recipient ok";
    /// 354: go ahead with DATA (RFC 5321 §4.3.2).
    start_data = 354 (2, 0, 0) "End data with <CR><LF>.<CR><LF>";
    /// 221: closing (QUIT).
    bye = 221 (2, 0, 0) "Bye";
    /// 220 2.0.0: STARTTLS accepted (RFC 3207 §4).
    ready_for_tls = 220 (2, 0, 0) "Ready to start TLS";
    /// 235: AUTH succeeded (RFC 4954 §6).
    auth_ok = 235 (2, 7, 0) "Authentication successful";
    /// 252: VRFY ambiguous by policy (RFC 5321 §3.5.3).
    vrfy_ambiguous = 252 (2, 5, 2) "Cannot VRFY user, but will accept message and attempt delivery";
    /// 500 5.5.2: unrecognised command.
    unknown_command = 500 (5, 5, 2) "Command unrecognized";
    /// 500 5.5.2: command line over 512 octets (RFC 5321 §4.5.3.1.4).
    line_too_long = 500 (5, 5, 2) "Line too long";
    /// 501 5.5.4: bad arguments.
    syntax_error = 501 (5, 5, 4) "Syntax error in parameters or arguments";
    /// 501 5.0.0: AUTH cancelled with `*` (RFC 4954 §4).
    auth_cancelled = 501 (5, 0, 0) "Authentication cancelled";
    /// 501 5.5.2: not valid base64 in an AUTH exchange (RFC 4954 §4).
    bad_base64 = 501 (5, 5, 2) "Invalid base64 data";
    /// 502 5.5.1: command not implemented / disabled by policy.
    not_implemented = 502 (5, 5, 1) "Command not implemented";
    /// 503 5.5.1: send EHLO/HELO first.
    need_helo = 503 (5, 5, 1) "Send EHLO or HELO first";
    /// 503 5.5.1: MAIL needed first.
    need_mail = 503 (5, 5, 1) "Need MAIL command first";
    /// 503 5.5.1: RCPT needed first.
    need_rcpt = 503 (5, 5, 1) "Need RCPT command first";
    /// 503 5.5.1: MAIL inside a transaction.
    nested_mail = 503 (5, 5, 1) "Sender already specified";
    /// 503 5.5.1: already authenticated (RFC 4954 §4).
    already_authenticated = 503 (5, 5, 1) "Already authenticated";
    /// 503 5.5.1: AUTH not allowed during a mail transaction (RFC 4954 §4).
    auth_in_transaction = 503 (5, 5, 1) "AUTH not allowed during a mail transaction";
    /// 503 5.5.1: TLS already active (RFC 3207 §4).
    tls_already_active = 503 (5, 5, 1) "TLS already active";
    /// 503 5.5.1: BINARYMIME needs BDAT (RFC 3030 §3).
    binarymime_needs_bdat = 503 (5, 5, 1) "BODY=BINARYMIME requires BDAT";
    /// 503 5.5.1: DATA after BDAT in one transaction (RFC 3030 §2).
    data_after_bdat = 503 (5, 5, 1) "DATA not allowed after BDAT";
    /// 504 5.5.4: unsupported SASL mechanism (RFC 4954 §6).
    unknown_mechanism = 504 (5, 5, 4) "Unrecognized authentication mechanism";
    /// 530 5.7.0: this listener requires authentication (RFC 4954 §6).
    auth_required = 530 (5, 7, 0) "Authentication required";
    /// 530 5.7.10: `MAIL FROM … REQUIRETLS` on a connection without TLS (RFC 8689 §4.1
    /// offers the extension only over TLS; RFC 5248 X.7.10 "encryption needed").
    requiretls_needs_tls = 530 (5, 7, 10) "REQUIRETLS needs TLS";
    /// 501 5.5.4: `REQUIRETLS` given a value (RFC 8689 §4: it has none).
    requiretls_with_value = 501 (5, 5, 4) "Syntax: REQUIRETLS takes no value";
    /// 501 5.5.4: `REQUIRETLS` given twice on one MAIL command.
    requiretls_twice = 501 (5, 5, 4) "Syntax: REQUIRETLS given twice";
    /// 535 5.7.8: wrong credentials (RFC 4954 §6).
    auth_failed = 535 (5, 7, 8) "Authentication credentials invalid";
    /// 538 5.7.11: AUTH needs an encrypted connection (RFC 4954 §6).
    encryption_required = 538 (5, 7, 11) "Encryption required for requested authentication mechanism";
    /// 454 4.7.0: temporary authentication failure (RFC 4954 §6).
    auth_temp_failure = 454 (4, 7, 0) "Temporary authentication failure";
    /// 454 4.7.0: TLS not available (RFC 3207 §4).
    tls_unavailable = 454 (4, 7, 0) "TLS not available";
    /// 550 5.1.1: no such local user.
    no_such_user = 550 (5, 1, 1) "Mailbox unavailable: no such user";
    /// 550 5.7.1: relaying denied.
    relay_denied = 550 (5, 7, 1) "Relay access denied";
    /// 452 4.2.2: the local mailbox is over its quota; try later (RFC 3463 X.2.2,
    /// temporary as Postfix and Dovecot answer it).
    mailbox_full = 452 (4, 2, 2) "Mailbox full";
    /// 452 4.5.3: too many recipients (RFC 5321 §4.5.3.1.10).
    too_many_recipients = 452 (4, 5, 3) "Too many recipients";
    /// 451 4.3.0: temporary local problem.
    local_error = 451 (4, 3, 0) "Temporary local problem, try again later";
    /// 552 5.3.4: message larger than the SIZE limit (RFC 1870 §6).
    message_too_big = 552 (5, 3, 4) "Message size exceeds fixed maximum message size";
    /// 554 5.6.0: bare CR or LF in DATA (RFC 5321 §2.3.8, SMTP smuggling).
    bare_line_ending = 554 (5, 6, 0) "Message rejected: bare CR or LF found, lines must end in CRLF";
    /// 554 5.6.0: NUL octet in DATA (RFC 5321 §4.5.2 text is 7/8-bit without NUL).
    nul_in_data = 554 (5, 6, 0) "Message rejected: NUL octet in message";
    /// 554 5.6.0: text line longer than 1000 octets (RFC 5321 §4.5.3.1.6).
    data_line_too_long = 554 (5, 6, 0) "Message rejected: line longer than 1000 octets";
    /// 553 5.6.7: UTF-8 address without SMTPUTF8 (RFC 6531 §3.5).
    utf8_needs_smtputf8 = 553 (5, 6, 7) "Non-ASCII address requires SMTPUTF8";
    /// 553 5.1.7: bad sender address.
    bad_sender = 553 (5, 1, 7) "Bad sender address syntax";
    /// 553 5.1.3: bad recipient address.
    bad_recipient = 553 (5, 1, 3) "Bad recipient address syntax";
    /// 555 5.5.4: unsupported MAIL/RCPT parameter (RFC 5321 §4.1.1.11).
    bad_parameter = 555 (5, 5, 4) "Unsupported or invalid parameter";
    /// 421 4.4.2: idle timeout (RFC 5321 §4.5.3.2).
    timeout = 421 (4, 4, 2) "Timeout exceeded, closing connection";
    /// 421 4.7.0: too many errors / failed logins.
    too_many_errors = 421 (4, 7, 0) "Too many errors, closing connection";
    /// 421 4.3.2: server shutting down.
    shutting_down = 421 (4, 3, 2) "Service shutting down, closing connection";
    /// 421 4.7.0: connection limit reached.
    too_many_connections = 421 (4, 7, 0) "Too many connections, try again later";
    /// 550 5.7.1: an authenticated user's message whose `From:` field names no address.
    from_without_address = 550 (5, 7, 1) "The From header field names no address";
    /// 503 5.5.1: any command but QUIT after a 554 greeting (RFC 5321 §3.1).
    bad_sequence = 503 (5, 5, 1) "Bad sequence of commands";
    /// 454 4.7.0: logins from this address, or to this account, are locked after too
    /// many failures (RFC 4954 §6: temporary, so clients keep their password).
    auth_locked = 454 (4, 7, 0) "Too many failed logins, try again later";
    /// 451 4.7.1: the hourly message limit is reached (transient: the client retries).
    too_many_messages_per_hour = 451 (4, 7, 1) "Too many messages in the last hour, try again later";
    /// 451 4.7.1: the hourly recipient limit is reached.
    too_many_recipients_per_hour = 451 (4, 7, 1) "Too many recipients in the last hour, try again later";
}

impl Reply {
    /// 550 5.7.1: an authenticated user sending as an address that is not theirs
    /// (RFC 6409 §6.1: the submission server may check the sender).
    pub fn sender_not_owned(address: &str) -> Reply {
        // The address may come from a header: no control characters on the wire.
        let shown: String = address.chars().filter(|c| !c.is_control()).collect();
        Reply::new(
            550,
            (5, 7, 1),
            format!("Sender address <{shown}> is not yours to use"),
        )
    }

    /// 554 5.7.1: the client's address is on the DNS blocklist `zone` (RFC 5782).
    pub fn dnsbl_listed(ip: std::net::IpAddr, zone: &str) -> Reply {
        Reply::new(
            554,
            (5, 7, 1),
            format!("Service unavailable; client [{ip}] listed by {zone}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        assert_eq!(Reply::ok().to_wire(), b"250 2.0.0 Ok\r\n");
        let multi = Reply::plain(250, vec!["a".into(), "b".into(), "c".into()]);
        assert_eq!(multi.to_wire(), b"250-a\r\n250-b\r\n250 c\r\n");
        let multi = Reply {
            code: 214,
            enhanced: Some((2, 0, 0)),
            lines: vec!["x".into(), "y".into()],
        };
        assert_eq!(multi.to_wire(), b"214-2.0.0 x\r\n214 2.0.0 y\r\n");
        assert!(Reply::start_data().is_positive());
        assert!(!Reply::auth_failed().is_positive());
        assert_eq!(
            Reply::auth_failed().to_string(),
            "535 5.7.8 Authentication credentials invalid"
        );
    }
}
