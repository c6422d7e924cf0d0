//! SASL helpers for AUTH PLAIN (RFC 4616) and AUTH LOGIN (draft-murchison-sasl-login),
//! shared by SMTP AUTH (RFC 4954), POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The first challenge of LOGIN, "Username:" (`334 VXNlcm5hbWU6` in SMTP, `+ VXNlcm5hbWU6`
/// in POP3 and IMAP). draft-murchison-sasl-login §2 leaves the prompt free, but the
/// colon form is what Cyrus SASL, Postfix and Exchange send, and clients such as NeoMutt
/// match it literally: without the colon they fall out of step. One table for every
/// protocol.
pub const LOGIN_USER_PROMPT: &[u8] = b"Username:";

/// The second challenge of LOGIN, "Password:" (`UGFzc3dvcmQ6`); see [`LOGIN_USER_PROMPT`].
pub const LOGIN_PASSWORD_PROMPT: &[u8] = b"Password:";

/// Why a SASL exchange failed before a password check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The client sent `*` (RFC 4954 §4).
    #[error("cancelled by client")]
    Cancelled,
    /// Not valid base64.
    #[error("invalid base64")]
    BadBase64,
    /// Decoded, but not the shape the mechanism needs.
    #[error("malformed SASL message")]
    Malformed,
}

/// Credentials a mechanism produced, to be checked against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Authorization identity; empty means the same as `username`.
    pub authzid: String,
    /// The login name.
    pub username: String,
    /// The password as given.
    pub password: String,
}

/// The mechanisms Postie offers, in the order they are advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// PLAIN (RFC 4616): one message with authzid, user and password.
    Plain,
    /// LOGIN (draft-murchison-sasl-login): the user name and the password, each in
    /// answer to a prompt.
    Login,
}

impl Mechanism {
    /// Every mechanism, for CAPA / EHLO / capability lists.
    pub const ALL: [Mechanism; 2] = [Mechanism::Plain, Mechanism::Login];

    /// Looks a mechanism up by its (case-insensitive) name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The registered name.
    pub const fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// What an [`Exchange`] needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge (raw bytes; the protocol base64-encodes it into its
    /// continuation line) and feed the client's next line to [`Exchange::respond`].
    Challenge(Vec<u8>),
    /// The exchange produced credentials to check.
    Done(Credentials),
    /// The exchange failed before any password check.
    Failed(SaslError),
}

/// One server-side SASL exchange, shared by SMTP AUTH, POP3 AUTH and IMAP
/// AUTHENTICATE, so the mechanisms behave the same everywhere. Pure: no I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    state: ExchangeState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ExchangeState {
    Plain,
    LoginUser,
    LoginPassword(String),
}

impl Exchange {
    /// Starts `mechanism`, with the initial response if the command carried one
    /// (RFC 4954 §4, RFC 5034 §4; `=` stands for an empty one). Returns the exchange to
    /// keep while the step is a challenge.
    pub fn start(mechanism: Mechanism, initial: Option<&str>) -> (Exchange, Step) {
        let state = match mechanism {
            Mechanism::Plain => ExchangeState::Plain,
            Mechanism::Login => ExchangeState::LoginUser,
        };
        let mut exchange = Exchange { state };
        let step = match initial {
            Some(line) => exchange.respond(line),
            None => exchange.challenge(),
        };
        (exchange, step)
    }

    /// The challenge for the current state: empty for PLAIN (RFC 4616 §2), the prompts
    /// [`LOGIN_USER_PROMPT`] / [`LOGIN_PASSWORD_PROMPT`] for LOGIN.
    fn challenge(&self) -> Step {
        Step::Challenge(match self.state {
            ExchangeState::Plain => Vec::new(),
            ExchangeState::LoginUser => LOGIN_USER_PROMPT.to_vec(),
            ExchangeState::LoginPassword(_) => LOGIN_PASSWORD_PROMPT.to_vec(),
        })
    }

    /// Takes the client's answer to the last challenge (one line, CRLF optional).
    pub fn respond(&mut self, line: &str) -> Step {
        let decoded = match decode_line(line) {
            Ok(d) => d,
            Err(e) => return Step::Failed(e),
        };
        match std::mem::replace(&mut self.state, ExchangeState::Plain) {
            ExchangeState::Plain => match parse_plain(&decoded) {
                // Acting for another user (a different authzid) is not supported.
                Ok(c) if !c.authzid.is_empty() && c.authzid != c.username => {
                    Step::Failed(SaslError::Malformed)
                }
                Ok(c) => Step::Done(c),
                Err(e) => Step::Failed(e),
            },
            ExchangeState::LoginUser => match login_field(decoded) {
                Ok(user) => {
                    self.state = ExchangeState::LoginPassword(user);
                    self.challenge()
                }
                Err(e) => Step::Failed(e),
            },
            ExchangeState::LoginPassword(username) => match login_field(decoded) {
                Ok(password) => Step::Done(Credentials {
                    authzid: String::new(),
                    username,
                    password,
                }),
                Err(e) => Step::Failed(e),
            },
        }
    }
}

/// Decodes one client line of a SASL exchange (without CRLF). `*` is a cancel;
/// `=` is an empty initial response (RFC 4954 §4).
pub fn decode_line(line: &str) -> Result<Vec<u8>, SaslError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line == "*" {
        return Err(SaslError::Cancelled);
    }
    if line == "=" {
        return Ok(Vec::new());
    }
    STANDARD
        .decode(line.trim())
        .map_err(|_| SaslError::BadBase64)
}

/// Encodes a server challenge for a `334` line.
pub fn encode(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Parses a decoded PLAIN message: `authzid NUL authcid NUL passwd` (RFC 4616 §2).
pub fn parse_plain(decoded: &[u8]) -> Result<Credentials, SaslError> {
    let mut parts = decoded.split(|&b| b == 0);
    let (Some(authzid), Some(user), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::Malformed);
    let creds = Credentials {
        authzid: text(authzid)?,
        username: text(user)?,
        password: text(pass)?,
    };
    if creds.username.is_empty() {
        return Err(SaslError::Malformed);
    }
    Ok(creds)
}

/// Turns a decoded LOGIN field (user name or password) into text.
pub fn login_field(decoded: Vec<u8>) -> Result<String, SaslError> {
    String::from_utf8(decoded).map_err(|_| SaslError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_table() {
        type Expected = Result<(&'static str, &'static str, &'static str), SaslError>;
        let cases: &[(&[u8], Expected)] = &[
            (b"\0alice\0secret", Ok(("", "alice", "secret"))),
            (b"admin\0alice\0secret", Ok(("admin", "alice", "secret"))),
            (b"\0alice\0", Ok(("", "alice", ""))),
            (b"alice\0secret", Err(SaslError::Malformed)),
            (b"\0\0secret", Err(SaslError::Malformed)),
            (b"\0a\0b\0c", Err(SaslError::Malformed)),
            (b"\0\xff\0x", Err(SaslError::Malformed)),
        ];
        for (input, want) in cases {
            let got = parse_plain(input);
            match want {
                Ok((z, u, p)) => {
                    let c = got.unwrap();
                    assert_eq!(
                        (c.authzid.as_str(), c.username.as_str(), c.password.as_str()),
                        (*z, *u, *p)
                    );
                }
                Err(e) => assert_eq!(got.unwrap_err(), *e),
            }
        }
    }

    #[test]
    fn exchanges() {
        let creds = |u: &str, p: &str| Credentials {
            authzid: String::new(),
            username: u.into(),
            password: p.into(),
        };
        // PLAIN with and without an initial response.
        let (_, step) = Exchange::start(Mechanism::Plain, Some("AGFsaWNlAHNlY3JldA=="));
        assert_eq!(step, Step::Done(creds("alice", "secret")));
        let (mut x, step) = Exchange::start(Mechanism::Plain, None);
        assert_eq!(step, Step::Challenge(vec![]));
        assert_eq!(
            x.respond("AGFsaWNlAHNlY3JldA==\r\n"),
            Step::Done(creds("alice", "secret"))
        );
        // Acting as someone else is refused.
        let (_, step) = Exchange::start(Mechanism::Plain, Some(&encode(b"bob\0alice\0pw")));
        assert_eq!(step, Step::Failed(SaslError::Malformed));
        // LOGIN with its two prompts, or the user name up front.
        let (mut x, step) = Exchange::start(Mechanism::Login, None);
        assert_eq!(step, Step::Challenge(b"Username:".to_vec()));
        assert_eq!(
            x.respond("YWxpY2U="),
            Step::Challenge(b"Password:".to_vec())
        );
        assert_eq!(x.respond("c2VjcmV0"), Step::Done(creds("alice", "secret")));
        let (mut x, step) = Exchange::start(Mechanism::Login, Some("YWxpY2U="));
        assert_eq!(step, Step::Challenge(b"Password:".to_vec()));
        assert_eq!(x.respond("*"), Step::Failed(SaslError::Cancelled));
        assert_eq!(Mechanism::from_name("login"), Some(Mechanism::Login));
        assert_eq!(Mechanism::from_name("CRAM-MD5"), None);
    }

    #[test]
    fn decode_lines() {
        assert_eq!(decode_line("*"), Err(SaslError::Cancelled));
        assert_eq!(decode_line("="), Ok(vec![]));
        assert_eq!(decode_line("YWxpY2U=\r\n"), Ok(b"alice".to_vec()));
        assert_eq!(decode_line("!!!"), Err(SaslError::BadBase64));
        assert_eq!(encode(b"Username:"), "VXNlcm5hbWU6");
    }
}
