//! Typed POP3 responses (RFC 1939 §3) with extended response codes (RFC 2449 §8,
//! RFC 3206), and the multi-line wire form with byte-stuffing.
//!
//! Every status line the POP3 session sends is built here, so the wording and the
//! response codes live in one place and the client never sees internal details.

use std::borrow::Cow;
use std::fmt;

/// An extended response code, sent in brackets right after `-ERR` (RFC 2449 §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespCode {
    /// `[AUTH]`: a problem with the user's credentials (RFC 3206).
    Auth,
    /// `[SYS/TEMP]`: a system error that is likely to go away (RFC 3206).
    SysTemp,
    /// `[SYS/PERM]`: a system error that needs an administrator (RFC 3206).
    SysPerm,
    /// `[IN-USE]`: the maildrop is locked by another session (RFC 2449 §8.1.2).
    InUse,
}

impl RespCode {
    /// The code as written inside the brackets.
    pub fn as_str(self) -> &'static str {
        match self {
            RespCode::Auth => "AUTH",
            RespCode::SysTemp => "SYS/TEMP",
            RespCode::SysPerm => "SYS/PERM",
            RespCode::InUse => "IN-USE",
        }
    }
}

impl fmt::Display for RespCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One POP3 status line: `+OK` or `-ERR`, an optional response code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `+OK` (true) or `-ERR` (false).
    pub ok: bool,
    /// The extended response code; only ever on `-ERR` lines here.
    pub code: Option<RespCode>,
    /// The text after the status (and code); may be empty.
    pub text: Cow<'static, str>,
}

impl Response {
    /// A `+OK` line.
    pub fn ok(text: impl Into<Cow<'static, str>>) -> Self {
        Response {
            ok: true,
            code: None,
            text: text.into(),
        }
    }

    /// A `-ERR` line without a response code.
    pub fn err(text: impl Into<Cow<'static, str>>) -> Self {
        Response {
            ok: false,
            code: None,
            text: text.into(),
        }
    }

    /// A `-ERR` line with a response code.
    pub fn err_code(code: RespCode, text: impl Into<Cow<'static, str>>) -> Self {
        Response {
            ok: false,
            code: Some(code),
            text: text.into(),
        }
    }

    /// The same response, with a note that the server closes the connection after it.
    pub fn closing(mut self, why: &str) -> Self {
        self.text = format!("{}; {why}, closing connection", self.text).into();
        self
    }

    /// The status line as it goes on the wire, ending in CRLF.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 16);
        self.write_to(&mut out);
        out
    }

    /// Appends the status line to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.ok { b"+OK" } else { b"-ERR" });
        if let Some(code) = self.code {
            out.extend_from_slice(format!(" [{code}]").as_bytes());
        }
        if !self.text.is_empty() {
            out.push(b' ');
            // Text never carries line breaks: a CR or LF would end the line early.
            out.extend(
                self.text
                    .bytes()
                    .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
        }
        out.extend_from_slice(b"\r\n");
    }

    /// A multi-line response (RFC 1939 §3): this status line, then each line
    /// byte-stuffed, then the terminating `.` line.
    pub fn with_lines<I, S>(&self, lines: I) -> Vec<u8>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = self.to_wire();
        for line in lines {
            let line = line.as_ref();
            // RFC 1939 §3: a line starting with the termination octet gets another.
            if line.starts_with('.') {
                out.push(b'.');
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    /// A multi-line response whose body is message text: this status line, then the
    /// body with CRLF line ends (bare LF gets its CR), byte-stuffed, then the
    /// terminating `.` line.
    pub fn with_body(&self, body: &[u8]) -> Vec<u8> {
        let mut out = self.to_wire();
        message::stuffing::dot_stuff_into(body, &mut out);
        out
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(String::from_utf8_lossy(&self.to_wire()).trim_end())
    }
}

macro_rules! responses {
    ($($(#[$doc:meta])* $name:ident = $ok:ident $($code:ident)? $text:literal;)*) => {
        impl Response {
            $(
                $(#[$doc])*
                pub fn $name() -> Response {
                    Response {
                        ok: responses!(@ok $ok),
                        code: responses!(@code $($code)?),
                        text: Cow::Borrowed($text),
                    }
                }
            )*
        }
    };
    (@ok OK) => { true };
    (@ok ERR) => { false };
    (@code) => { None };
    (@code $code:ident) => { Some(RespCode::$code) };
}

responses! {
    /// `+OK` with no text (NOOP, TOP, UIDL listing; RFC 1939 §5).
    done = OK "";
    /// `+OK` to USER (RFC 1939 §7); says nothing about whether the user exists.
    send_pass = OK "Send PASS";
    /// `+OK` to STLS (RFC 2595 §4).
    begin_tls = OK "Begin TLS negotiation";
    /// `+OK` to CAPA (RFC 2449 §5).
    capa = OK "Capability list follows";
    /// `+OK` to a bare AUTH: the mechanism list follows.
    mechanisms = OK "Supported SASL mechanisms follow";
    /// `+OK` to QUIT in AUTHORIZATION state (RFC 1939 §4).
    bye = OK "Bye";
    /// Unknown command keyword.
    unknown_command = ERR "Unknown command";
    /// An empty command line.
    empty_command = ERR "Empty command line";
    /// A command line over 255 octets (RFC 2449 §4).
    line_too_long = ERR "Line too long";
    /// NUL or invalid UTF-8 in a command line.
    bad_characters = ERR "Invalid characters in command line";
    /// A TRANSACTION command before login (RFC 1939 §4).
    not_logged_in = ERR "Command not valid before login";
    /// An AUTHORIZATION command after login (RFC 1939 §5).
    already_logged_in = ERR "Command not valid after login";
    /// PASS without a USER before it (RFC 1939 §7).
    need_user = ERR "Send USER first";
    /// APOP is not offered (RFC 1939 §7 makes it optional).
    apop_unsupported = ERR "APOP not supported";
    /// Login refused on an unencrypted connection (RFC 2595 §2.3, RFC 3206).
    tls_required = ERR Auth "Plaintext authentication disallowed on unencrypted connections";
    /// Wrong user name or password (RFC 3206).
    auth_failed = ERR Auth "Invalid credentials";
    /// The maildrop is locked by another session (RFC 2449 §8.1.2, RFC 1939 §4).
    in_use = ERR InUse "Mailbox is in use";
    /// The login check failed for a reason other than the credentials (RFC 3206).
    login_temp_fail = ERR SysTemp "Temporary failure, try again later";
    /// Logins locked after too many failures: temporary, not a credentials problem
    /// (RFC 3206 §4 `[SYS/TEMP]`, so clients do not ask for a new password).
    login_locked = ERR SysTemp "Too many failed logins, try again later";
    /// SASL exchange cancelled with `*` (RFC 5034 §4).
    auth_cancelled = ERR "Authentication cancelled";
    /// Not valid base64 in a SASL exchange (RFC 5034 §4).
    bad_base64 = ERR "Invalid base64 data";
    /// An AUTH mechanism we do not offer (RFC 5034 §4).
    unknown_mechanism = ERR "Unsupported authentication mechanism";
    /// STLS while TLS is active (RFC 2595 §4).
    tls_active = ERR "Command not permitted when TLS active";
    /// STLS without a certificate.
    tls_unavailable = ERR "TLS not available";
    /// The driver could not read a message (RFC 3206).
    retrieve_failed = ERR SysTemp "Unable to read message, try again later";
    /// The driver could not remove the deleted messages at QUIT (RFC 1939 §6).
    commit_failed = ERR SysTemp "Some deleted messages not removed";
    /// The server is shutting down (RFC 3206).
    shutting_down = ERR SysTemp "Server shutting down";
    /// For the driver to send instead of the greeting when it refuses a connection
    /// (RFC 3206).
    too_many_connections = ERR SysTemp "Too many connections, try again later";
    /// A command needs a message number and has none.
    missing_number = ERR "Missing message number";
    /// A message number that is not a positive decimal number.
    bad_number = ERR "Invalid message number";
    /// Message number zero (RFC 1939 §5: numbering starts at 1).
    zero_number = ERR "Invalid message number 0, messages are numbered from 1";
    /// TOP without its line count (RFC 1939 §7).
    missing_lines = ERR "Missing line count";
    /// A TOP line count that is not a non-negative decimal number (RFC 1939 §7).
    bad_lines = ERR "Invalid line count";
    /// More arguments than the command takes.
    too_many_arguments = ERR "Too many arguments";
    /// USER, PASS or AUTH without its argument.
    missing_argument = ERR "Missing argument";
}

impl Response {
    /// A message number past the end of the maildrop (RFC 1939 §5).
    pub fn no_such_message(count: usize) -> Self {
        Response::err(format!(
            "No such message, only {count} {} in maildrop",
            plural(count)
        ))
    }

    /// A message number marked as deleted (RFC 1939 §5).
    pub fn already_deleted(number: usize) -> Self {
        Response::err(format!("Message {number} already deleted"))
    }

    /// `+OK` to DELE (RFC 1939 §5).
    pub fn deleted(number: usize) -> Self {
        Response::ok(format!("Message {number} deleted"))
    }

    /// `+OK` to STAT: exactly `count size` (RFC 1939 §5).
    pub fn stat(count: usize, octets: u64) -> Self {
        Response::ok(format!("{count} {octets}"))
    }

    /// `+OK` opening a LIST listing: `2 messages (320 octets)` (RFC 1939 §5).
    pub fn listing(count: usize, octets: u64) -> Self {
        Response::ok(format!("{count} {} ({octets} octets)", plural(count)))
    }

    /// `+OK` after a login or RSET: `maildrop has 2 messages (320 octets)` (RFC 1939 §5).
    pub fn maildrop(count: usize, octets: u64) -> Self {
        Response::ok(format!(
            "maildrop has {count} {} ({octets} octets)",
            plural(count)
        ))
    }

    /// `+OK` opening a RETR: `120 octets` (RFC 1939 §5).
    pub fn octets(octets: u64) -> Self {
        Response::ok(format!("{octets} octets"))
    }

    /// `+OK` to QUIT in TRANSACTION state, once UPDATE is done (RFC 1939 §6).
    pub fn signing_off(hostname: &str, left: usize) -> Self {
        if left == 0 {
            Response::ok(format!(
                "{hostname} POP3 Postie signing off (maildrop empty)"
            ))
        } else {
            Response::ok(format!(
                "{hostname} POP3 Postie signing off ({left} {} left)",
                plural(left)
            ))
        }
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "message" } else { "messages" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        assert_eq!(Response::done().to_wire(), b"+OK\r\n");
        assert_eq!(Response::stat(2, 320).to_wire(), b"+OK 2 320\r\n");
        assert_eq!(
            Response::in_use().to_wire(),
            b"-ERR [IN-USE] Mailbox is in use\r\n"
        );
        assert_eq!(
            Response::auth_failed()
                .closing("too many failures")
                .to_string(),
            "-ERR [AUTH] Invalid credentials; too many failures, closing connection"
        );
        assert_eq!(Response::err("a\r\nb").to_wire(), b"-ERR a  b\r\n");
        assert_eq!(
            Response::listing(1, 5).with_lines(["1 5", ".x"]),
            b"+OK 1 message (5 octets)\r\n1 5\r\n..x\r\n.\r\n"
        );
        assert_eq!(
            Response::done().with_body(b".a\r\nb"),
            b"+OK\r\n..a\r\nb\r\n.\r\n"
        );
    }
}
