//! AUTHORIZATION state: USER/PASS (RFC 1939 §7), AUTH with the PLAIN (RFC 4616),
//! LOGIN and SCRAM-SHA-256(-PLUS) (RFC 7677, RFC 9266) mechanisms (RFC 5034 §4), STLS
//! (RFC 2595 §4), and the login answer that moves the session to TRANSACTION state.
//! SCRAM's server-final goes out as a last `+` challenge; the client's empty line gets
//! the `+OK` (RFC 5034 §4).
//!
//! Login commands are refused on a clear-text connection unless the policy allows it
//! (RFC 2595 §2.3); then they are not announced in CAPA either.

use super::transaction::Maildrop;
use super::{Answer, LoginResult, Mode, Output, Query, Response, Session, State};
use crate::sasl::{self, Exchange, Mechanism, SaslError, Step};

impl Session {
    /// USER name (RFC 1939 §7). The answer does not say whether the user exists.
    pub(super) fn user(&mut self, rest: &str, out: &mut Vec<Output>) {
        if !self.policy.login_allowed(self.tls) {
            return self.error(Response::tls_required(), out);
        }
        let name = match rest
            .split(' ')
            .filter(|a| !a.is_empty())
            .collect::<Vec<_>>()[..]
        {
            [] => return self.error(Response::missing_argument(), out),
            [name] => name.to_string(),
            _ => return self.error(Response::too_many_arguments(), out),
        };
        self.state = State::Authorization { user: Some(name) };
        self.send(Response::send_pass(), out);
    }

    /// PASS string (RFC 1939 §7): the rest of the line is the password, spaces and all.
    pub(super) fn pass(&mut self, rest: &str, out: &mut Vec<Output>) {
        if !self.policy.login_allowed(self.tls) {
            return self.error(Response::tls_required(), out);
        }
        let has_user = matches!(self.state, State::Authorization { user: Some(_) });
        if !has_user {
            return self.error(Response::need_user(), out);
        }
        if rest.is_empty() {
            return self.error(Response::missing_argument(), out);
        }
        // The USER name is used up (RFC 1939 §7: after a failed PASS the client starts
        // again with USER or AUTH).
        if let State::Authorization { user: Some(user) } =
            std::mem::replace(&mut self.state, State::Authorization { user: None })
        {
            self.ask_login(user, rest.to_string(), out);
        }
    }

    /// AUTH [mechanism [initial-response]] (RFC 5034 §4). Without an argument, lists
    /// the mechanisms (the form many clients probe with).
    pub(super) fn auth(&mut self, rest: &str, out: &mut Vec<Output>) {
        self.state = State::Authorization { user: None };
        if !self.policy.login_allowed(self.tls) {
            return self.error(Response::tls_required(), out);
        }
        let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
        let (mechanism, initial) = match args[..] {
            [] => {
                let list = Response::mechanisms().with_lines(self.sasl_mechanisms());
                return out.push(Output::Send(list));
            }
            [mechanism] => (mechanism, None),
            [mechanism, initial] => (mechanism, Some(initial)),
            _ => return self.error(Response::too_many_arguments(), out),
        };
        // -PLUS only with a channel binding (TLS 1.3, RFC 9266 §3).
        let offered = Mechanism::offered(self.scram, self.exporter.is_some());
        let Some(mechanism) = Mechanism::from_name(mechanism).filter(|m| offered.contains(m))
        else {
            return self.error(Response::unknown_mechanism(), out);
        };
        let (exchange, step) = Exchange::start(mechanism, initial, self.exporter);
        self.sasl_step(exchange, step, out);
    }

    /// A line sent in answer to a `+` challenge (RFC 5034 §4).
    pub(super) fn auth_continuation(&mut self, line: &[u8], out: &mut Vec<Output>) {
        let mut exchange = match std::mem::replace(&mut self.mode, Mode::Command) {
            Mode::Sasl(exchange) => exchange,
            Mode::ScramAck(mut exchange, user, listing) => {
                let finished = std::str::from_utf8(line)
                    .is_ok_and(|text| exchange.respond(text) == Step::Finished);
                if finished {
                    return self.login_answer(user, LoginResult::Ok(listing), out);
                }
                // The driver holds the maildrop lock for this login: closing releases
                // it (RFC 1939 §8).
                return self.close_with(Response::auth_cancelled().closing("login abandoned"), out);
            }
            _ => return,
        };
        let Ok(text) = std::str::from_utf8(line) else {
            return self.error(Response::bad_base64(), out);
        };
        let step = exchange.respond(text);
        self.sasl_step(exchange, step, out);
    }

    fn sasl_step(&mut self, exchange: Exchange, step: Step, out: &mut Vec<Output>) {
        match step {
            Step::Challenge(data) => {
                // RFC 5034 §4: "+", a space, then the base64 challenge.
                out.push(Output::Send(
                    format!("+ {}\r\n", sasl::encode(&data)).into_bytes(),
                ));
                self.mode = Mode::Sasl(exchange);
            }
            Step::Done(creds) => self.ask_login(creds.username, creds.password, out),
            // RFC 5034 §4: a `*` line cancels, and the server answers -ERR.
            Step::Failed(SaslError::Cancelled) => self.error(Response::auth_cancelled(), out),
            Step::Failed(SaslError::BadBase64) => self.error(Response::bad_base64(), out),
            Step::Failed(SaslError::Malformed | SaslError::Scram(_)) => self.auth_failure(out),
            Step::NeedKeys(username) => {
                out.push(Output::Query(Query::ScramKeys { username }));
                self.mode = Mode::AwaitScram(exchange);
            }
            Step::Proved(proved) => {
                out.push(Output::Query(Query::ScramLogin {
                    username: proved.username,
                    matched: proved.matched,
                    account_exists: proved.account_exists,
                }));
                self.mode = Mode::AwaitScram(exchange);
            }
            // Finished is taken in `auth_continuation` (ScramAck); here it is a bug.
            Step::Finished => self.auth_failure(out),
        }
    }

    /// The driver's answer during a SCRAM exchange: the keys, then the login outcome.
    pub(super) fn scram_answer(
        &mut self,
        mut exchange: Exchange,
        answer: Answer,
        out: &mut Vec<Output>,
    ) {
        match answer {
            Answer::ScramKeys(keys) => {
                let step = exchange.keys(keys);
                self.sasl_step(exchange, step, out);
            }
            Answer::Login(LoginResult::Ok(listing)) => match exchange.accepted() {
                Step::Challenge(data) => {
                    // The last challenge: server-final (RFC 5802 §5).
                    out.push(Output::Send(
                        format!("+ {}\r\n", sasl::encode(&data)).into_bytes(),
                    ));
                    let user = exchange.username().unwrap_or_default().to_owned();
                    self.mode = Mode::ScramAck(exchange, user, listing);
                }
                _ => self.close_with(Response::login_temp_fail(), out),
            },
            Answer::Login(result) => self.login_answer(String::new(), result, out),
            _ => self.login_answer(String::new(), LoginResult::TempFail, out),
        }
    }

    fn ask_login(&mut self, username: String, password: String, out: &mut Vec<Output>) {
        out.push(Output::Query(Query::Login {
            username: username.clone(),
            password,
        }));
        self.mode = Mode::AwaitLogin(username);
    }

    /// The driver's answer to [`Query::Login`].
    pub(super) fn login_answer(
        &mut self,
        user: String,
        result: LoginResult,
        out: &mut Vec<Output>,
    ) {
        match result {
            LoginResult::Ok(listing) => {
                let maildrop = Maildrop::new(listing);
                let (count, octets) = maildrop.stat();
                self.state = State::Transaction { user, maildrop };
                self.send(Response::maildrop(count, octets), out);
            }
            LoginResult::BadCredentials => self.auth_failure(out),
            // RFC 2449 §8.1.2; the lock is not a failed login.
            LoginResult::InUse => self.send(Response::in_use(), out),
            LoginResult::TempFail => self.send(Response::login_temp_fail(), out),
            LoginResult::Locked => self.send(Response::login_locked(), out),
        }
    }

    /// A failed login; after `max_auth_failures` the session ends.
    fn auth_failure(&mut self, out: &mut Vec<Output>) {
        self.auth_failures += 1;
        if self.auth_failures >= self.policy.max_auth_failures {
            self.close_with(Response::auth_failed().closing("too many failures"), out);
        } else {
            self.send(Response::auth_failed(), out);
        }
    }

    /// STLS (RFC 2595 §4).
    pub(super) fn stls(&mut self, out: &mut Vec<Output>) {
        if self.tls {
            return self.error(Response::tls_active(), out);
        }
        if !self.policy.stls_available {
            return self.error(Response::tls_unavailable(), out);
        }
        self.send(Response::begin_tls(), out);
        out.push(Output::StartTls);
        // RFC 2595 §4 / CVE-2011-0411: anything pipelined after STLS is discarded.
        self.input.clear();
        self.state = State::Authorization { user: None };
        self.mode = Mode::AwaitTls;
    }
}
