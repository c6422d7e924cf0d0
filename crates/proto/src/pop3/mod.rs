//! The POP3 server session (RFC 1939, with CAPA / RESP-CODES / PIPELINING from
//! RFC 2449, STLS from RFC 2595, SASL AUTH from RFC 5034 and the response codes of
//! RFC 3206), as a pure state machine.
//!
//! Where it sits: the POP3 driver in the `server` crate owns the socket, the TLS stream,
//! the timers and the store. It feeds [`Input`]s into a [`Session`] and carries out the
//! [`Output`]s in order: write bytes, start TLS, answer a [`Query`] (by feeding an
//! [`Answer`]), close. The session does no I/O and reads no clock.
//!
//! The conversation with the driver:
//! - [`Query::Login`] → [`Answer::Login`]. The driver checks the password **and** takes
//!   the exclusive maildrop lock **and** loads the listing, then answers once with a
//!   [`LoginResult`]; [`LoginResult::Ok`] carries the listing, so there is no window in
//!   which the session is logged in without a maildrop.
//! - [`Query::Retrieve`] → [`Answer::Message`] (the raw message, CRLF line ends) or
//!   [`Answer::Failed`]. The session cuts TOP itself and byte-stuffs.
//! - [`Query::Commit`] (only at QUIT in TRANSACTION state, and only when something is
//!   marked deleted) → [`Answer::Committed`] or [`Answer::Failed`]; either way the session
//!   then closes.
//! - The maildrop lock lives as long as the connection: the driver releases it whenever
//!   the connection ends, whether after [`Output::Close`], a client drop, an I/O error or
//!   a timeout. Nothing is removed unless a `Commit` was answered `Committed`
//!   (RFC 1939 §6: only QUIT enters the UPDATE state).
//!
//! While a query is outstanding, further input is buffered, so pipelined commands
//! (RFC 2449 §6.6) are answered in order. The command table (which command in which
//! state) is `Verb::allowed` in `command.rs`; AUTHORIZATION commands live in `auth.rs`,
//! TRANSACTION commands in `transaction.rs`, every status line in `responses.rs`.
//!
//! Security stance: all input is untrusted. Command lines are capped at 255 octets,
//! SASL lines at 12288; bad commands and failed logins are counted and end the session;
//! login is refused on a clear-text connection unless the policy allows it; input
//! pipelined behind STLS is thrown away.

mod auth;
mod command;
mod policy;
mod responses;
mod transaction;

#[cfg(test)]
mod tests;

pub use policy::Pop3Policy;
pub use responses::{RespCode, Response};

use transaction::Maildrop;

/// RFC 2449 §4: a command line is at most 255 octets including the CRLF.
pub const MAX_COMMAND_LINE: usize = 255;

/// A line sent in answer to a SASL challenge may be longer than a command
/// (RFC 5034 §4); we accept up to 12288 octets, the figure RFC 4954 §4 sets for SMTP.
pub const MAX_AUTH_LINE: usize = 12288;

/// RFC 1939 §7: a unique-id is 1 to 70 characters in the range 0x21 to 0x7E.
pub const MAX_UID_LEN: usize = 70;

/// RFC 1939 §3: an autologout timer, if the server has one, is at least 10 minutes.
/// The driver runs the timer and feeds [`Input::Timeout`].
pub const MIN_AUTOLOGOUT_SECS: u64 = 600;

/// What the driver hands the session.
#[derive(Debug)]
pub enum Input<'a> {
    /// Bytes read from the client.
    Bytes(&'a [u8]),
    /// The TLS handshake requested by [`Output::StartTls`] finished.
    TlsStarted,
    /// The answer to the last [`Output::Query`].
    Answer(Answer),
    /// The client was idle too long (RFC 1939 §3: close without a response and
    /// without entering UPDATE).
    Timeout,
    /// The server is shutting down: finish the command in progress, then send
    /// `-ERR [SYS/TEMP]` and close. Nothing is committed.
    Shutdown,
}

/// One message of the maildrop, as the driver lists it at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// The exact size in octets of the message with CRLF line ends, before
    /// byte-stuffing (RFC 1939 §5, LIST).
    pub size: u64,
    /// The unique-id (RFC 1939 §7, UIDL): 1 to [`MAX_UID_LEN`] characters in 0x21..=0x7E,
    /// stable across sessions. The session replaces characters outside that range
    /// with `_` and cuts it to length, so bad data never breaks the protocol.
    pub uid: String,
}

/// What the session asks the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Check the password, take the exclusive maildrop lock and list the maildrop;
    /// answer [`Answer::Login`].
    Login {
        /// The login name.
        username: String,
        /// The password.
        password: String,
    },
    /// SCRAM (RFC 5802): the stored keys of this user; answer [`Answer::ScramKeys`],
    /// or [`Answer::Login`] with [`LoginResult::Locked`] / [`LoginResult::TempFail`].
    ScramKeys {
        /// The login name from client-first.
        username: String,
    },
    /// SCRAM: the proof was checked. Like [`Query::Login`] once the password is
    /// known right or wrong: count it in the throttle, and on a match take the lock
    /// and list the maildrop; answer [`Answer::Login`].
    ScramLogin {
        /// The login name.
        username: String,
        /// The credential the proof matched; `None` is a wrong password.
        matched: Option<String>,
        /// The account exists (from the keys' lookup).
        account_exists: bool,
    },
    /// Read one message; answer [`Answer::Message`] or [`Answer::Failed`].
    Retrieve {
        /// 0-based index into the listing given with [`LoginResult::Ok`].
        index: usize,
    },
    /// QUIT in TRANSACTION state (RFC 1939 §6, UPDATE): remove these messages; answer
    /// [`Answer::Committed`] or [`Answer::Failed`]. Never sent with an empty list: a
    /// QUIT with nothing deleted closes without asking.
    Commit {
        /// 0-based indexes into the listing, ascending.
        deleted: Vec<usize>,
    },
}

/// The outcome of a [`Query::Login`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginResult {
    /// Password right, lock taken, and this is the maildrop listing in the order
    /// message numbers follow (message 1 is index 0).
    Ok(Vec<MessageInfo>),
    /// Unknown user or wrong password (`-ERR [AUTH]`, counts as a failed login).
    BadCredentials,
    /// Password right but another session holds the lock (`-ERR [IN-USE]`).
    InUse,
    /// The check could not be made (`-ERR [SYS/TEMP]`).
    TempFail,
    /// Logins from this address, or to this account, are locked after too many failed
    /// ones (`-ERR [SYS/TEMP]`: temporary, so the client keeps the password, RFC 3206
    /// §4; not counted as a failure).
    Locked,
}

/// The driver's answer to the outstanding [`Query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The answer to [`Query::Login`] and [`Query::ScramLogin`].
    Login(LoginResult),
    /// The keys for [`Query::ScramKeys`].
    ScramKeys(crate::sasl::scram::Keys),
    /// The raw message for [`Query::Retrieve`], with CRLF line ends (bare LF is
    /// tolerated and sent as CRLF).
    Message(Vec<u8>),
    /// [`Query::Commit`] removed every message it named.
    Committed,
    /// The query failed (`-ERR [SYS/TEMP]`); for [`Query::Login`] the same as
    /// [`LoginResult::TempFail`].
    Failed,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes: one complete response, the status line and, for multi-line
    /// responses, the byte-stuffed lines and the terminating `.` line.
    Send(Vec<u8>),
    /// Write what is pending, then run the TLS handshake and feed
    /// [`Input::TlsStarted`]. Bytes already read are thrown away by the session; bytes
    /// read before the handshake must not be fed (RFC 2595 §4, command injection).
    StartTls,
    /// Carry this out and feed back an [`Answer`].
    Query(Query),
    /// Write what is pending and close the connection, releasing the maildrop lock.
    Close,
}

/// Which timer the driver should run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Waiting for the client: the autologout timer runs ([`MIN_AUTOLOGOUT_SECS`]).
    Command,
    /// Waiting on the driver (a query or the TLS handshake): no client timer.
    Driver,
    /// The session is over.
    Closed,
}

/// The RFC 1939 §3 state: only what is valid in that state.
#[derive(Debug)]
enum State {
    /// Before login; `user` is the name given with USER, waiting for PASS.
    Authorization { user: Option<String> },
    /// Logged in, with the maildrop listing and the deletion marks.
    Transaction { user: String, maildrop: Maildrop },
}

/// What the session is doing with incoming bytes.
#[derive(Debug)]
enum Mode {
    Command,
    /// Skipping the rest of an over-long line.
    DiscardLine,
    /// In a SASL exchange (RFC 5034 §4): the next line answers its challenge.
    Sasl(crate::sasl::Exchange),
    /// Waiting for [`Answer::Login`] for this user.
    AwaitLogin(String),
    /// A SCRAM exchange waiting for its keys or its login outcome.
    AwaitScram(crate::sasl::Exchange),
    /// SCRAM's server-final was sent; the client's empty line completes the login
    /// with this user and listing.
    ScramAck(crate::sasl::Exchange, String, Vec<MessageInfo>),
    /// Waiting for [`Answer::Message`]: the listed size, and the TOP line count.
    AwaitRetrieve {
        octets: u64,
        top: Option<usize>,
    },
    /// Waiting for the commit at QUIT; `left` messages stay in the maildrop.
    AwaitCommit {
        left: usize,
    },
    /// STLS said; bytes are ignored until [`Input::TlsStarted`].
    AwaitTls,
    Closed,
}

/// One POP3 server session.
#[derive(Debug)]
pub struct Session {
    policy: Pop3Policy,
    state: State,
    mode: Mode,
    input: Vec<u8>,
    tls: bool,
    /// The connection's `tls-exporter` value (TLS 1.3 only; RFC 9266), for
    /// SCRAM-SHA-256-PLUS.
    exporter: Option<[u8; 32]>,
    /// SCRAM is offered (not in capture mode).
    scram: bool,
    errors: u32,
    auth_failures: u32,
    shutting_down: bool,
    /// Complete lines taken from the client so far (see [`Session::lines_received`]).
    lines: u64,
}

impl Session {
    /// A new session in AUTHORIZATION state; send [`Session::greeting`] first.
    pub fn new(policy: Pop3Policy) -> Self {
        let tls = policy.tls_active;
        Session {
            policy,
            state: State::Authorization { user: None },
            mode: Mode::Command,
            input: Vec::new(),
            tls,
            exporter: None,
            scram: true,
            errors: 0,
            auth_failures: 0,
            shutting_down: false,
            lines: 0,
        }
    }

    /// The greeting (RFC 1939 §4): `+OK <hostname> POP3 Postie ready`. No APOP
    /// timestamp, since APOP is not offered.
    pub fn greeting(&self) -> Vec<u8> {
        Response::ok(format!("{} POP3 Postie ready", self.policy.hostname)).to_wire()
    }

    /// Which timer the driver should run now.
    pub fn waiting(&self) -> Waiting {
        match self.mode {
            Mode::Closed => Waiting::Closed,
            Mode::AwaitLogin(_)
            | Mode::AwaitScram(_)
            | Mode::AwaitRetrieve { .. }
            | Mode::AwaitCommit { .. }
            | Mode::AwaitTls => Waiting::Driver,
            _ => Waiting::Command,
        }
    }

    /// The login name, once in TRANSACTION state.
    pub fn authenticated_as(&self) -> Option<&str> {
        match &self.state {
            State::Transaction { user, .. } => Some(user),
            State::Authorization { .. } => None,
        }
    }

    /// How many complete lines (commands, SASL answers, and over-long lines once
    /// their end arrived) the session has taken so far. The driver's command
    /// deadline moves only when this does, so bytes dripping in without a line end
    /// never extend it (issue 12, finding 8).
    pub fn lines_received(&self) -> u64 {
        self.lines
    }

    /// Octets of input held for a line not yet complete (at most the line limit
    /// plus what one read brought): over-long lines are dropped as they come, not
    /// buffered (RFC 2449 §4).
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// Sets the connection's `tls-exporter` value (RFC 9266 §2), which the driver
    /// computes after a TLS 1.3 handshake; with it SCRAM-SHA-256-PLUS is offered.
    pub fn set_tls_exporter(&mut self, exporter: Option<[u8; 32]>) {
        self.exporter = exporter;
    }

    /// Whether SCRAM is offered (default yes); capture mode, which takes any
    /// password, turns it off.
    pub fn set_scram(&mut self, offered: bool) {
        self.scram = offered;
    }

    /// The SASL mechanisms offered now (RFC 5034 §4, CAPA's SASL line).
    pub fn sasl_mechanisms(&self) -> Vec<&'static str> {
        crate::sasl::Mechanism::offered(self.scram, self.exporter.is_some())
            .iter()
            .map(|m| m.name())
            .collect()
    }

    /// True once the connection is encrypted (implicit TLS or after STLS).
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// Feeds one input; returns what the driver must do, in order.
    pub fn feed(&mut self, input: Input<'_>) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Bytes(bytes) => {
                if matches!(self.mode, Mode::Closed | Mode::AwaitTls) {
                    return out;
                }
                self.input.extend_from_slice(bytes);
            }
            Input::TlsStarted => {
                if !matches!(self.mode, Mode::AwaitTls) {
                    return out;
                }
                // RFC 2595 §4: forget what the client said before TLS (e.g. USER).
                self.tls = true;
                self.input.clear();
                self.state = State::Authorization { user: None };
                self.mode = Mode::Command;
            }
            Input::Answer(answer) => self.answer(answer, &mut out),
            Input::Timeout => {
                // RFC 1939 §3: on autologout, close without a response and without
                // entering UPDATE, so nothing marked deleted is removed.
                if !matches!(self.mode, Mode::Closed) {
                    self.close(&mut out);
                }
                return out;
            }
            Input::Shutdown => self.shutting_down = true,
        }
        self.run(&mut out);
        out
    }

    fn close(&mut self, out: &mut Vec<Output>) {
        out.push(Output::Close);
        self.mode = Mode::Closed;
        self.input.clear();
    }

    fn close_with(&mut self, response: Response, out: &mut Vec<Output>) {
        out.push(Output::Send(response.to_wire()));
        self.close(out);
    }

    fn send(&mut self, response: Response, out: &mut Vec<Output>) {
        out.push(Output::Send(response.to_wire()));
    }

    /// Processes buffered input until more bytes or an answer are needed.
    fn run(&mut self, out: &mut Vec<Output>) {
        loop {
            match &self.mode {
                Mode::Closed
                | Mode::AwaitTls
                | Mode::AwaitLogin(_)
                | Mode::AwaitScram(_)
                | Mode::AwaitRetrieve { .. }
                | Mode::AwaitCommit { .. } => return,
                // Shutdown takes effect between commands; a pending SASL exchange ends
                // with this -ERR too (RFC 5034 §4).
                _ if self.shutting_down => {
                    self.close_with(Response::shutting_down(), out);
                    return;
                }
                Mode::DiscardLine => {
                    let Some(pos) = self.input.iter().position(|&b| b == b'\n') else {
                        self.input.clear();
                        return;
                    };
                    self.input.drain(..=pos);
                    self.lines += 1;
                    self.mode = Mode::Command;
                }
                Mode::Command | Mode::Sasl(_) | Mode::ScramAck(..) => {
                    let command = matches!(self.mode, Mode::Command);
                    let limit = if command {
                        MAX_COMMAND_LINE
                    } else {
                        MAX_AUTH_LINE
                    };
                    let Some(pos) = self.input.iter().position(|&b| b == b'\n') else {
                        if self.input.len() > limit && matches!(self.mode, Mode::ScramAck(..)) {
                            // The driver holds the maildrop lock for that login:
                            // closing releases it.
                            self.close_with(Response::line_too_long(), out);
                            return;
                        }
                        if self.input.len() > limit {
                            // RFC 2449 §4: refuse, and skip to the line's end.
                            self.input.clear();
                            self.mode = Mode::DiscardLine;
                            self.error(Response::line_too_long(), out);
                        }
                        return;
                    };
                    let line: Vec<u8> = self.input.drain(..=pos).collect();
                    self.lines += 1;
                    if line.len() > limit && matches!(self.mode, Mode::ScramAck(..)) {
                        self.close_with(Response::line_too_long(), out);
                        return;
                    }
                    if line.len() > limit {
                        self.mode = Mode::Command;
                        self.error(Response::line_too_long(), out);
                        continue;
                    }
                    // Lines end in CRLF; a bare LF is accepted too.
                    let line = line.strip_suffix(b"\n").unwrap_or(&line);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if command {
                        self.command(line, out);
                    } else {
                        self.auth_continuation(line, out);
                    }
                }
            }
        }
    }

    /// Counts a client error; after `max_errors` the session ends.
    fn error(&mut self, response: Response, out: &mut Vec<Output>) {
        self.errors += 1;
        if self.errors >= self.policy.max_errors {
            self.close_with(response.closing("too many errors"), out);
        } else {
            self.send(response, out);
        }
    }

    fn answer(&mut self, answer: Answer, out: &mut Vec<Output>) {
        let mode = std::mem::replace(&mut self.mode, Mode::Command);
        match (mode, answer) {
            (Mode::AwaitLogin(user), Answer::Login(result)) => self.login_answer(user, result, out),
            (Mode::AwaitLogin(user), Answer::Failed) => {
                self.login_answer(user, LoginResult::TempFail, out)
            }
            (Mode::AwaitScram(exchange), answer) => self.scram_answer(exchange, answer, out),
            (Mode::AwaitRetrieve { octets, top }, Answer::Message(message)) => {
                out.push(Output::Send(transaction::retrieved(octets, top, &message)))
            }
            (Mode::AwaitRetrieve { .. }, Answer::Failed) => {
                self.send(Response::retrieve_failed(), out)
            }
            (Mode::AwaitCommit { left }, Answer::Committed) => {
                let bye = Response::signing_off(&self.policy.hostname, left);
                self.close_with(bye, out)
            }
            (Mode::AwaitCommit { .. }, Answer::Failed) => {
                self.close_with(Response::commit_failed(), out)
            }
            (mode, _) => {
                // An answer nobody asked for is a driver bug; ignore it, keep state.
                self.mode = mode;
            }
        }
    }
}
