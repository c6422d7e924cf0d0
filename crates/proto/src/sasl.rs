//! SASL helpers for AUTH PLAIN (RFC 4616), AUTH LOGIN (draft-murchison-sasl-login) and
//! SCRAM-SHA-256(-PLUS) (RFC 5802, RFC 7677, RFC 9266; see [`scram`]), shared by SMTP
//! AUTH (RFC 4954), POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE.
//!
//! PLAIN and LOGIN end in [`Step::Done`] with a password for the driver to check.
//! SCRAM goes through the driver twice: [`Step::NeedKeys`] (answered with
//! [`Exchange::keys`]) and [`Step::Proved`] (answered with [`Exchange::accepted`], which
//! sends server-final; the client's empty answer gives [`Step::Finished`]).

pub mod scram;

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
    /// A SCRAM exchange failed (RFC 5802 §7's error names).
    #[error("SCRAM: {0}")]
    Scram(scram::ScramError),
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
    /// SCRAM-SHA-256 (RFC 7677): a salted challenge-response, no password on the wire.
    ScramSha256,
    /// SCRAM-SHA-256-PLUS: the same, bound to the TLS connection (`tls-exporter`,
    /// RFC 9266); offered only on TLS 1.3.
    ScramSha256Plus,
}

impl Mechanism {
    /// Every mechanism Postie knows.
    pub const ALL: [Mechanism; 4] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::ScramSha256,
        Mechanism::ScramSha256Plus,
    ];

    /// The mechanisms to advertise (EHLO, CAPA, CAPABILITY) wherever PLAIN is: SCRAM
    /// when `scram` (not in capture mode, which takes any password), -PLUS only when
    /// the connection also has a channel binding (`tls-exporter`, TLS 1.3; RFC 9266
    /// §3).
    pub fn offered(scram: bool, channel_binding: bool) -> Vec<Mechanism> {
        Self::ALL
            .into_iter()
            .filter(|m| match m {
                Mechanism::Plain | Mechanism::Login => true,
                Mechanism::ScramSha256 => scram,
                Mechanism::ScramSha256Plus => scram && channel_binding,
            })
            .collect()
    }

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
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
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
    /// SCRAM: look up this user's keys and feed them to [`Exchange::keys`] (or refuse,
    /// e.g. when the throttle locks the user out).
    NeedKeys(String),
    /// SCRAM: the proof was checked. With [`scram::Proved::matched`] and the driver's
    /// consent (throttle), call [`Exchange::accepted`]; otherwise the login failed.
    Proved(scram::Proved),
    /// SCRAM: the client took server-final; the login is complete.
    Finished,
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
    Scram(scram::Scram),
}

impl Exchange {
    /// Starts `mechanism`, with the initial response if the command carried one
    /// (RFC 4954 §4, RFC 5034 §4; `=` stands for an empty one). Returns the exchange to
    /// keep while the step is a challenge.
    ///
    /// `exporter` is the connection's `tls-exporter` value (RFC 9266), present on TLS
    /// 1.3 only; SCRAM-SHA-256-PLUS needs it.
    pub fn start(
        mechanism: Mechanism,
        initial: Option<&str>,
        exporter: Option<[u8; 32]>,
    ) -> (Exchange, Step) {
        let scram = |plus| {
            ExchangeState::Scram(scram::Scram::ClientFirst(scram::Binding { plus, exporter }))
        };
        let state = match mechanism {
            Mechanism::Plain => ExchangeState::Plain,
            Mechanism::Login => ExchangeState::LoginUser,
            Mechanism::ScramSha256 => scram(false),
            Mechanism::ScramSha256Plus if exporter.is_none() => {
                let failed = SaslError::Scram(scram::ScramError::ChannelBindingNotSupported);
                return (
                    Exchange {
                        state: ExchangeState::Plain,
                    },
                    Step::Failed(failed),
                );
            }
            Mechanism::ScramSha256Plus => scram(true),
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
            // RFC 5802 §5: the client speaks first; an empty challenge asks for it.
            ExchangeState::Plain | ExchangeState::Scram(_) => Vec::new(),
            ExchangeState::LoginUser => LOGIN_USER_PROMPT.to_vec(),
            ExchangeState::LoginPassword(_) => LOGIN_PASSWORD_PROMPT.to_vec(),
        })
    }

    /// Takes the client's answer to the last challenge (one line, CRLF optional).
    pub fn respond(&mut self, line: &str) -> Step {
        if let ExchangeState::Scram(_) = self.state {
            return self.scram_respond(line);
        }
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
            // Handled by `scram_respond`.
            ExchangeState::Scram(_) => Step::Failed(SaslError::Malformed),
        }
    }

    /// A client message of a SCRAM exchange, capped at [`scram::MAX_MESSAGE`] before
    /// it is decoded.
    fn scram_respond(&mut self, line: &str) -> Step {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.len() > scram::MAX_MESSAGE {
            self.state = ExchangeState::Plain;
            return Step::Failed(SaslError::Scram(scram::ScramError::InvalidEncoding));
        }
        let decoded = match decode_line(line) {
            Ok(d) => d,
            Err(e) => {
                self.state = ExchangeState::Plain;
                return Step::Failed(e);
            }
        };
        let ExchangeState::Scram(state) = std::mem::replace(&mut self.state, ExchangeState::Plain)
        else {
            return Step::Failed(SaslError::Malformed);
        };
        let failed = |e| Step::Failed(SaslError::Scram(e));
        match state {
            scram::Scram::ClientFirst(binding) => match scram::client_first(binding, &decoded) {
                Ok(first) => {
                    let user = first.username().to_owned();
                    self.state = ExchangeState::Scram(scram::Scram::Keys(Box::new(first)));
                    Step::NeedKeys(user)
                }
                Err(e) => failed(e),
            },
            scram::Scram::ClientFinal(pending) => match pending.client_final(&decoded) {
                Ok((proved, signature)) => {
                    if proved.matched.is_some() {
                        let user = proved.username.clone();
                        self.state = ExchangeState::Scram(scram::Scram::Outcome(signature, user));
                    }
                    Step::Proved(proved)
                }
                Err(e) => failed(e),
            },
            // RFC 5802 §5: after server-final the client has nothing more to say.
            scram::Scram::Ack(_) if decoded.is_empty() => Step::Finished,
            scram::Scram::Ack(_) => failed(scram::ScramError::InvalidEncoding),
            // Not waiting for the client.
            scram::Scram::Keys(_) | scram::Scram::Outcome(..) => {
                failed(scram::ScramError::OtherError)
            }
        }
    }

    /// SCRAM: the driver's answer to [`Step::NeedKeys`]; gives the server-first
    /// challenge.
    pub fn keys(&mut self, keys: scram::Keys) -> Step {
        let ExchangeState::Scram(scram::Scram::Keys(first)) =
            std::mem::replace(&mut self.state, ExchangeState::Plain)
        else {
            return Step::Failed(SaslError::Scram(scram::ScramError::OtherError));
        };
        match first.server_first(keys) {
            Ok((pending, challenge)) => {
                self.state = ExchangeState::Scram(scram::Scram::ClientFinal(Box::new(pending)));
                Step::Challenge(challenge)
            }
            Err(e) => Step::Failed(SaslError::Scram(e)),
        }
    }

    /// SCRAM: the driver accepted the login after [`Step::Proved`] matched; gives the
    /// server-final challenge (`v=`, RFC 5802 §5) the client must take with an empty
    /// answer before the protocol says OK.
    pub fn accepted(&mut self) -> Step {
        let ExchangeState::Scram(scram::Scram::Outcome(signature, user)) =
            std::mem::replace(&mut self.state, ExchangeState::Plain)
        else {
            return Step::Failed(SaslError::Scram(scram::ScramError::OtherError));
        };
        self.state = ExchangeState::Scram(scram::Scram::Ack(user));
        Step::Challenge(scram::server_final(&signature))
    }

    /// SCRAM: the user whose proof matched, once it has (for the protocol's login).
    pub fn username(&self) -> Option<&str> {
        match &self.state {
            ExchangeState::Scram(scram::Scram::Outcome(_, user) | scram::Scram::Ack(user)) => {
                Some(user)
            }
            _ => None,
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
        let (_, step) = Exchange::start(Mechanism::Plain, Some("AGFsaWNlAHNlY3JldA=="), None);
        assert_eq!(step, Step::Done(creds("alice", "secret")));
        let (mut x, step) = Exchange::start(Mechanism::Plain, None, None);
        assert_eq!(step, Step::Challenge(vec![]));
        assert_eq!(
            x.respond("AGFsaWNlAHNlY3JldA==\r\n"),
            Step::Done(creds("alice", "secret"))
        );
        // Acting as someone else is refused.
        let (_, step) = Exchange::start(Mechanism::Plain, Some(&encode(b"bob\0alice\0pw")), None);
        assert_eq!(step, Step::Failed(SaslError::Malformed));
        // LOGIN with its two prompts, or the user name up front.
        let (mut x, step) = Exchange::start(Mechanism::Login, None, None);
        assert_eq!(step, Step::Challenge(b"Username:".to_vec()));
        assert_eq!(
            x.respond("YWxpY2U="),
            Step::Challenge(b"Password:".to_vec())
        );
        assert_eq!(x.respond("c2VjcmV0"), Step::Done(creds("alice", "secret")));
        let (mut x, step) = Exchange::start(Mechanism::Login, Some("YWxpY2U="), None);
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
