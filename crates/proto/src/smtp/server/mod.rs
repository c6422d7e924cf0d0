//! The SMTP server session (RFC 5321 with the extensions advertised in [`ehlo`]), as a
//! pure state machine.
//!
//! The driver feeds [`Input`]s and carries out the [`Output`]s in order: write a reply,
//! start TLS, answer a [`Query`] (by feeding an [`Answer`]), take an [`Accepted`]
//! message (and feed back the reply the queue gave), or close. While a query or a
//! message is outstanding the session buffers further input, so pipelined commands
//! (RFC 2920) are answered in order.
//!
//! The command table (which command in which state) is [`Session::command`]; each command
//! family lives in its own file.

mod auth;
mod data;
mod ehlo;
mod policy;
mod requiretls;
mod spool;
mod transaction;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_idn;
#[cfg(test)]
mod tests_requiretls;

pub use data::{DataFlaws, DataReader, LineChecker, MAX_TEXT_LINE};
pub use policy::{ListenerKind, Policy};
pub use spool::{Body, BodySpool, MemorySpool, SpoolFactory};

use crate::reply::Reply;
use message::{Address, BodyType};
use smtp_proto::Request;

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
pub const MAX_COMMAND_LINE: usize = 512;

/// RFC 4954 §4: an AUTH continuation line may be up to 12288 octets.
pub const MAX_AUTH_LINE: usize = 12288;

/// What the driver hands the session.
#[derive(Debug)]
pub enum Input<'a> {
    /// Bytes read from the client.
    Bytes(&'a [u8]),
    /// The TLS handshake requested by [`Output::StartTls`] finished.
    TlsStarted,
    /// The answer to the last [`Output::Query`] or [`Output::Message`].
    Answer(Answer),
    /// The client was idle too long.
    Timeout,
    /// The server is shutting down; close at the next command boundary.
    Shutdown,
}

/// What the session asks the driver to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Check a login.
    Login {
        /// The login name.
        username: String,
        /// The password.
        password: String,
    },
    /// SCRAM (RFC 5802): the stored keys of this user, answered with
    /// [`Answer::ScramKeys`] (or [`Answer::Refuse`] for a lockout).
    ScramKeys {
        /// The login name from client-first.
        username: String,
    },
    /// SCRAM: the proof was checked; count the outcome in the throttle and answer
    /// [`Answer::Login`] (or [`Answer::Refuse`]).
    ScramLogin {
        /// The login name.
        username: String,
        /// The credential the proof matched; `None` is a wrong password.
        matched: Option<String>,
        /// The account exists (from the keys' lookup).
        account_exists: bool,
    },
    /// Classify a recipient.
    Recipient(Address),
    /// MAIL FROM is about to be accepted with this reverse-path (`None` for `<>`): may
    /// this session send as it, and now? Answered with [`Answer::SenderOk`] or
    /// [`Answer::Refuse`] (the driver's sender check and sending limits).
    Sender(Option<Address>),
}

/// How a recipient relates to this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientVerdict {
    /// A local domain and an existing account.
    Local,
    /// A local domain but no such account.
    Unknown,
    /// Not a local domain: relaying, allowed only to authenticated clients.
    Remote,
    /// The lookup failed; try later.
    TempFail,
    /// A local account that is over its quota: refused for now (452 4.2.2).
    MailboxFull,
}

/// The driver's answer to a [`Query`] or an [`Output::Message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Login succeeded (true) or the credentials were wrong (false).
    Login(bool),
    /// The login check failed for a reason other than wrong credentials.
    LoginTempFail,
    /// The keys for [`Query::ScramKeys`].
    ScramKeys(crate::sasl::scram::Keys),
    /// The recipient lookup result.
    Recipient(RecipientVerdict),
    /// The reply for a finished message: "250 queued as …" or a failure.
    MessageResult(Reply),
    /// The sender of [`Query::Sender`] may be used.
    SenderOk,
    /// Refuse the command being asked about ([`Query::Sender`], [`Query::Recipient`],
    /// [`Query::Login`]) with this reply; the session goes on.
    Refuse(Reply),
}

/// A message the client finished sending, for the driver to queue.
#[derive(Debug)]
pub struct Accepted {
    /// Sender and recipients.
    pub envelope: message::Envelope,
    /// The body, un-stuffed, as the client sent it, in the policy's spool.
    pub body: Body,
    /// The EHLO/HELO name.
    pub helo: String,
    /// The client used EHLO.
    pub esmtp: bool,
    /// The connection was encrypted.
    pub tls: bool,
    /// The login name, when the client authenticated.
    pub authenticated_as: Option<String>,
}

impl Accepted {
    /// The `with` protocol name for `Received:` (RFC 3848, RFC 6531 §3.7.3).
    pub fn protocol(&self) -> &'static str {
        match (
            self.envelope.smtputf8,
            self.esmtp,
            self.tls,
            self.authenticated_as.is_some(),
        ) {
            (true, _, true, true) => "UTF8SMTPSA",
            (true, _, true, false) => "UTF8SMTPS",
            (true, _, false, true) => "UTF8SMTPA",
            (true, _, false, false) => "UTF8SMTP",
            (false, false, _, _) => "SMTP",
            (false, true, false, false) => "ESMTP",
            (false, true, true, false) => "ESMTPS",
            (false, true, false, true) => "ESMTPA",
            (false, true, true, true) => "ESMTPSA",
        }
    }
}

/// What the driver must do.
#[derive(Debug)]
pub enum Output {
    /// Write this reply.
    Reply(Reply),
    /// Write the replies so far, then run the TLS handshake and feed
    /// [`Input::TlsStarted`]. Any bytes already read must be thrown away (RFC 3207 §6).
    StartTls,
    /// Look this up and feed back an [`Answer`].
    Query(Query),
    /// Queue this message and feed back [`Answer::MessageResult`].
    Message(Box<Accepted>),
    /// Write what is pending and close the connection.
    Close,
}

/// Which timeout applies now (RFC 5321 §4.5.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// Waiting for a command.
    Command,
    /// Inside DATA or BDAT, waiting for the next block.
    Data,
    /// Waiting on the driver (a query or the queue): no client timeout.
    Driver,
    /// The session is over.
    Closed,
}

/// The mail transaction between MAIL and the end of DATA/BDAT.
struct Transaction {
    sender: Option<Address>,
    body_type: BodyType,
    smtputf8: bool,
    /// MAIL FROM said REQUIRETLS (RFC 8689 §4.1), over TLS.
    require_tls: bool,
    /// RET/ENVID from MAIL and NOTIFY/ORCPT from each accepted RCPT (RFC 3461).
    dsn: message::Dsn,
    recipients: Vec<Address>,
    /// BDAT chunks received so far (RFC 3030), and their line checks (not for
    /// BINARYMIME).
    bdat: Option<(Box<dyn BodySpool>, Option<LineChecker>)>,
    /// A BDAT chunk pushed the message over the size limit.
    bdat_too_big: bool,
    /// The spool could not take a BDAT chunk (a local error).
    bdat_spool_failed: bool,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("sender", &self.sender)
            .field("recipients", &self.recipients)
            .field("bdat_octets", &self.bdat.as_ref().map(|(b, _)| b.len()))
            .finish_non_exhaustive()
    }
}

/// What the session is doing with incoming bytes.
#[derive(Debug)]
enum Mode {
    Command,
    /// Skipping the rest of an over-long command line.
    DiscardLine,
    Data(Box<DataReader>),
    /// Reading `remaining` octets of a BDAT chunk.
    Bdat {
        remaining: usize,
        last: bool,
        /// The chunk is consumed but refused with this reply.
        refuse: Option<Reply>,
    },
    /// In a SASL exchange, waiting for the client's next line (RFC 4954 §4).
    Sasl(crate::sasl::Exchange),
    /// Waiting for an [`Answer`] to a query.
    AwaitLogin,
    /// A SCRAM exchange waiting for [`Answer::ScramKeys`] or the login outcome.
    AwaitScram(crate::sasl::Exchange),
    /// MAIL asked [`Query::Sender`]; the transaction starts when the answer allows it.
    AwaitSender(Box<Transaction>),
    AwaitRecipient(Address, message::RecipientDsn),
    AwaitMessage,
    /// STARTTLS said; bytes are ignored until [`Input::TlsStarted`].
    AwaitTls,
    Closed,
}

/// One SMTP server session.
#[derive(Debug)]
pub struct Session {
    policy: Policy,
    mode: Mode,
    input: Vec<u8>,
    helo: Option<(String, bool)>,
    tls: bool,
    /// The connection's `tls-exporter` value (TLS 1.3 only; RFC 9266), for
    /// SCRAM-SHA-256-PLUS.
    exporter: Option<[u8; 32]>,
    /// SCRAM is offered (not in capture mode).
    scram: bool,
    authenticated_as: Option<String>,
    /// The user name of a login being checked.
    pending_login: Option<String>,
    transaction: Option<Transaction>,
    errors: u32,
    /// NOOP, RSET, VRFY, EXPN and HELP since the last message was accepted: past the
    /// policy's limit each counts as an error too, so a client cannot hold a connection
    /// forever with commands that do nothing (Postfix's `smtpd_junk_command_limit`,
    /// also reset by each delivered message, so a server reusing its connection for
    /// many messages, with RSET between them, is never counted).
    junk_commands: u32,
    auth_failures: u32,
    shutting_down: bool,
    /// Set by [`Session::refuse`]: the greeting refused service.
    refused: Option<Reply>,
}

impl Session {
    /// A new session; send [`Session::greeting`] first.
    pub fn new(policy: Policy) -> Self {
        let tls = policy.tls_active;
        Session {
            policy,
            mode: Mode::Command,
            input: Vec::new(),
            helo: None,
            tls,
            exporter: None,
            scram: true,
            authenticated_as: None,
            pending_login: None,
            transaction: None,
            errors: 0,
            junk_commands: 0,
            auth_failures: 0,
            shutting_down: false,
            refused: None,
        }
    }

    /// Refuses service before the greeting (a DNS blocklist hit, say): [`Session::greeting`]
    /// then returns `reply` (a 554), and every command but QUIT gets 503 (RFC 5321 §3.1:
    /// the server waits for QUIT rather than closing at once).
    pub fn refuse(&mut self, reply: Reply) {
        self.refused = Some(reply);
    }

    /// The 220 greeting (RFC 5321 §4.3.1), without an enhanced code (RFC 2034 §3).
    pub fn greeting(&self) -> Reply {
        if let Some(reply) = &self.refused {
            return reply.clone();
        }
        Reply::plain(
            220,
            vec![format!("{} ESMTP Postie", self.policy.hostname).into()],
        )
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

    /// Which timeout the driver should run now.
    pub fn waiting(&self) -> Waiting {
        match self.mode {
            Mode::Closed => Waiting::Closed,
            Mode::Data(_) | Mode::Bdat { .. } => Waiting::Data,
            Mode::AwaitLogin
            | Mode::AwaitScram(_)
            | Mode::AwaitSender(_)
            | Mode::AwaitRecipient(..)
            | Mode::AwaitMessage
            | Mode::AwaitTls => Waiting::Driver,
            _ => Waiting::Command,
        }
    }

    /// Octets of message data received in the current DATA or BDAT transfer, for the
    /// driver's per-block deadline (RFC 5321 §4.5.3.2.5).
    pub fn data_received(&self) -> u64 {
        match &self.mode {
            Mode::Data(reader) => reader.received(),
            _ => self
                .transaction
                .as_ref()
                .and_then(|tx| tx.bdat.as_ref())
                .map_or(0, |(body, _)| body.len()),
        }
    }

    /// Client errors so far on this connection (bad commands, unknown recipients,
    /// relay attempts): the driver delays its replies past a threshold (a tarpit) and
    /// counts them per client address.
    pub fn errors(&self) -> u32 {
        self.errors
    }

    /// The login name, once AUTH succeeded.
    pub fn authenticated_as(&self) -> Option<&str> {
        self.authenticated_as.as_deref()
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
                // RFC 3207 §4.2: forget everything learnt before TLS.
                self.tls = true;
                self.helo = None;
                self.authenticated_as = None;
                self.transaction = None;
                self.input.clear();
                self.mode = Mode::Command;
            }
            Input::Answer(answer) => self.answer(answer, &mut out),
            Input::Timeout => {
                self.close_with(Reply::timeout(), &mut out);
                return out;
            }
            Input::Shutdown => {
                self.shutting_down = true;
                if matches!(self.mode, Mode::Command | Mode::DiscardLine) && self.input.is_empty() {
                    self.close_with(Reply::shutting_down(), &mut out);
                    return out;
                }
            }
        }
        self.run(&mut out);
        out
    }

    fn close_with(&mut self, reply: Reply, out: &mut Vec<Output>) {
        out.push(Output::Reply(reply));
        out.push(Output::Close);
        self.mode = Mode::Closed;
        self.input.clear();
    }

    /// Processes buffered input until more bytes or an answer are needed.
    fn run(&mut self, out: &mut Vec<Output>) {
        loop {
            match &mut self.mode {
                Mode::Closed
                | Mode::AwaitTls
                | Mode::AwaitLogin
                | Mode::AwaitScram(_)
                | Mode::AwaitSender(_)
                | Mode::AwaitRecipient(..)
                | Mode::AwaitMessage => return,
                Mode::Data(reader) => {
                    let Some(used) = reader.feed(&self.input) else {
                        self.input.clear();
                        return;
                    };
                    self.input.drain(..used);
                    let Mode::Data(reader) = std::mem::replace(&mut self.mode, Mode::Command)
                    else {
                        unreachable!("mode was Data")
                    };
                    self.finish_data(*reader, out);
                }
                Mode::Bdat { remaining, .. } => {
                    let take = (*remaining).min(self.input.len());
                    *remaining -= take;
                    let chunk: Vec<u8> = self.input.drain(..take).collect();
                    self.bdat_chunk(&chunk, out);
                    if matches!(self.mode, Mode::Bdat { .. }) {
                        return;
                    }
                }
                Mode::DiscardLine => {
                    let Some(pos) = self.input.iter().position(|&b| b == b'\n') else {
                        // Nothing of an over-long line is kept, not even the buffer.
                        self.input = Vec::new();
                        return;
                    };
                    self.input.drain(..=pos);
                    self.mode = Mode::Command;
                }
                Mode::Command | Mode::Sasl(_) => {
                    let limit = if matches!(self.mode, Mode::Command) {
                        MAX_COMMAND_LINE
                    } else {
                        MAX_AUTH_LINE
                    };
                    let Some(pos) = self.input.iter().position(|&b| b == b'\n') else {
                        if self.input.len() > limit {
                            // RFC 5321 §4.5.3.1.4: refuse, and skip to the line's end.
                            // A new buffer: the grown one would stay allocated.
                            self.input = Vec::new();
                            self.mode = Mode::DiscardLine;
                            self.error(Reply::line_too_long(), out);
                        } else if self.shutting_down && self.input.is_empty() {
                            self.close_with(Reply::shutting_down(), out);
                        }
                        return;
                    };
                    let line: Vec<u8> = self.input.drain(..=pos).collect();
                    if line.len() > limit {
                        self.mode = Mode::Command;
                        self.error(Reply::line_too_long(), out);
                        continue;
                    }
                    if matches!(self.mode, Mode::Command) {
                        if self.shutting_down {
                            self.close_with(Reply::shutting_down(), out);
                            return;
                        }
                        self.command(&line, out);
                    } else {
                        self.auth_continuation(&line, out);
                    }
                }
            }
        }
    }

    /// Counts a client error; after `max_errors` the session ends (RFC 5321 §4.1.4 lets
    /// a server close on abuse).
    fn error(&mut self, reply: Reply, out: &mut Vec<Output>) {
        self.errors += 1;
        if self.errors >= self.policy.max_errors {
            out.push(Output::Reply(reply));
            self.close_with(Reply::too_many_errors(), out);
        } else {
            out.push(Output::Reply(reply));
        }
    }

    /// The command table: parses one line and dispatches it.
    fn command(&mut self, line: &[u8], out: &mut Vec<Output>) {
        if line.contains(&0) {
            return self.error(Reply::syntax_error(), out);
        }
        let rewritten = postmaster_with_domain(line, &self.policy.hostname);
        let line = rewritten.as_deref().unwrap_or(line);
        if self.refused.is_none()
            && let Some(reply) = requiretls::misuse(line)
        {
            return self.error(reply, out);
        }
        let request = match Request::parse(&mut line.iter()) {
            Ok(request) => request,
            Err(e) => return self.parse_error(e, out),
        };
        if self.refused.is_some() && !matches!(request, Request::Quit) {
            // RFC 5321 §3.1: after a 554 greeting, 503 to everything until QUIT.
            return self.error(Reply::bad_sequence(), out);
        }
        if matches!(
            request,
            Request::Noop { .. }
                | Request::Rset
                | Request::Vrfy { .. }
                | Request::Expn { .. }
                | Request::Help { .. }
        ) {
            self.junk_commands = self.junk_commands.saturating_add(1);
            if self.junk_commands > self.policy.max_junk_commands {
                // Answered as usual, but counted (and tarpitted) as an error.
                self.errors += 1;
                if self.errors >= self.policy.max_errors {
                    return self.close_with(Reply::too_many_errors(), out);
                }
            }
        }
        match request {
            Request::Ehlo { host } => self.ehlo(&host, true, out),
            Request::Helo { host } => self.ehlo(&host, false, out),
            Request::Lhlo { .. } => self.error(Reply::unknown_command(), out),
            Request::Mail { from } => self.mail(from, out),
            Request::Rcpt { to } => self.rcpt(to, out),
            Request::Data => self.data(out),
            Request::Bdat {
                chunk_size,
                is_last,
            } => self.bdat(chunk_size, is_last, out),
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, &initial_response, out),
            Request::StartTls => self.starttls(out),
            Request::Rset => {
                self.transaction = None;
                out.push(Output::Reply(Reply::ok()));
            }
            Request::Noop { .. } => out.push(Output::Reply(Reply::ok())),
            Request::Quit => self.close_with(Reply::bye(), out),
            Request::Vrfy { .. } => out.push(Output::Reply(if self.policy.vrfy_enabled {
                Reply::vrfy_ambiguous()
            } else {
                Reply::not_implemented()
            })),
            Request::Expn { .. } => out.push(Output::Reply(if self.policy.expn_enabled {
                Reply::vrfy_ambiguous()
            } else {
                Reply::not_implemented()
            })),
            Request::Help { .. } => out.push(Output::Reply(ehlo::help())),
            Request::Etrn { .. } | Request::Atrn { .. } | Request::Burl { .. } => {
                self.error(Reply::not_implemented(), out)
            }
        }
    }

    fn parse_error(&mut self, error: smtp_proto::Error, out: &mut Vec<Output>) {
        use smtp_proto::Error as E;
        let reply = match error {
            E::UnknownCommand => Reply::unknown_command(),
            E::InvalidSenderAddress => Reply::bad_sender(),
            E::InvalidRecipientAddress => Reply::bad_recipient(),
            E::SyntaxError { syntax } => Reply::new(501, (5, 5, 4), format!("Syntax: {syntax}")),
            E::InvalidParameter { param } => {
                Reply::new(501, (5, 5, 4), format!("Invalid parameter {param}"))
            }
            E::UnsupportedParameter { .. } => Reply::bad_parameter(),
            E::ResponseTooLong => Reply::line_too_long(),
            E::NeedsMoreData { .. } | E::InvalidResponse { .. } => Reply::syntax_error(),
        };
        self.error(reply, out)
    }

    fn starttls(&mut self, out: &mut Vec<Output>) {
        if self.tls {
            return self.error(Reply::tls_already_active(), out);
        }
        if !self.policy.starttls_available {
            return out.push(Output::Reply(Reply::tls_unavailable()));
        }
        out.push(Output::Reply(Reply::ready_for_tls()));
        out.push(Output::StartTls);
        // RFC 3207 §6 / CVE-2011-0411: anything pipelined after STARTTLS is discarded.
        self.input.clear();
        self.mode = Mode::AwaitTls;
    }

    fn answer(&mut self, answer: Answer, out: &mut Vec<Output>) {
        let mode = std::mem::replace(&mut self.mode, Mode::Command);
        match (mode, answer) {
            (Mode::AwaitLogin, answer) => self.login_answer(answer, out),
            (Mode::AwaitScram(exchange), answer) => self.scram_answer(exchange, answer, out),
            (Mode::AwaitSender(tx), answer) => self.sender_answer(*tx, answer, out),
            (Mode::AwaitRecipient(..), Answer::Refuse(reply)) => out.push(Output::Reply(reply)),
            (Mode::AwaitRecipient(address, dsn), Answer::Recipient(verdict)) => {
                self.recipient_answer(address, dsn, verdict, out)
            }
            (Mode::AwaitMessage, Answer::MessageResult(reply)) => {
                self.transaction = None;
                if reply.code == 250 {
                    self.junk_commands = 0;
                }
                out.push(Output::Reply(reply));
            }
            (mode, _) => {
                // An answer nobody asked for is a driver bug; ignore it, keep state.
                self.mode = mode;
            }
        }
    }
}

/// RFC 5321 §4.1.1.3: `RCPT TO:<Postmaster>` (any case) without a domain must be
/// accepted; it names this host's postmaster. Returns the line with the domain added,
/// or `None` for any other line. (The command parser wants a domain in every path.)
fn postmaster_with_domain(line: &[u8], hostname: &str) -> Option<Vec<u8>> {
    const BARE: &[u8] = b"<postmaster>";
    if line.len() < 4 || !line[..4].eq_ignore_ascii_case(b"RCPT") {
        return None;
    }
    let at = line
        .windows(BARE.len())
        .position(|w| w.eq_ignore_ascii_case(BARE))?;
    let mut out = Vec::with_capacity(line.len() + hostname.len() + 1);
    out.extend_from_slice(&line[..at + BARE.len() - 1]);
    out.push(b'@');
    out.extend_from_slice(hostname.as_bytes());
    out.extend_from_slice(&line[at + BARE.len() - 1..]);
    Some(out)
}
