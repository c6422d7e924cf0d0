//! AUTHORIZATION state: USER/PASS (RFC 1939 §7), AUTH with the PLAIN (RFC 4616) and
//! LOGIN mechanisms (RFC 5034 §4), STLS (RFC 2595 §4), and the login answer that moves
//! the session to TRANSACTION state.
//!
//! Login commands are refused on a clear-text connection unless the policy allows it
//! (RFC 2595 §2.3); then they are not announced in CAPA either.

use super::transaction::Maildrop;
use super::{LoginResult, Mode, Output, Query, Response, SASL_MECHANISMS, Session, State};
use crate::sasl::{self, SaslError};

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
                let list = Response::mechanisms().with_lines(SASL_MECHANISMS);
                return out.push(Output::Send(list));
            }
            [mechanism] => (mechanism, None),
            [mechanism, initial] => (mechanism, Some(initial)),
            _ => return self.error(Response::too_many_arguments(), out),
        };
        if mechanism.eq_ignore_ascii_case("PLAIN") {
            match initial {
                None => {
                    // RFC 5034 §4: "+" and a space, then the (empty) challenge.
                    out.push(Output::Send(challenge(b"")));
                    self.mode = Mode::AuthPlain;
                }
                Some(initial) => self.plain_response(initial, out),
            }
        } else if mechanism.eq_ignore_ascii_case("LOGIN") {
            match initial {
                None => {
                    out.push(Output::Send(challenge(b"Username:")));
                    self.mode = Mode::AuthLoginUser;
                }
                Some(initial) => self.login_user(initial, out),
            }
        } else {
            self.error(Response::unknown_mechanism(), out)
        }
    }

    /// A line sent in answer to a `+` challenge (RFC 5034 §4).
    pub(super) fn auth_continuation(&mut self, line: &[u8], out: &mut Vec<Output>) {
        let mode = std::mem::replace(&mut self.mode, Mode::Command);
        let Ok(text) = std::str::from_utf8(line) else {
            return self.error(Response::bad_base64(), out);
        };
        match mode {
            Mode::AuthPlain => self.plain_response(text, out),
            Mode::AuthLoginUser => self.login_user(text, out),
            Mode::AuthLoginPassword(username) => {
                match sasl::decode_line(text).and_then(sasl::login_field) {
                    Ok(password) => self.ask_login(username, password, out),
                    Err(e) => self.sasl_error(e, out),
                }
            }
            other => self.mode = other,
        }
    }

    fn plain_response(&mut self, text: &str, out: &mut Vec<Output>) {
        match sasl::decode_line(text).and_then(|d| sasl::parse_plain(&d)) {
            Ok(creds) if !creds.authzid.is_empty() && creds.authzid != creds.username => {
                // Acting as another user is not supported.
                self.auth_failure(out)
            }
            Ok(creds) => self.ask_login(creds.username, creds.password, out),
            Err(e) => self.sasl_error(e, out),
        }
    }

    fn login_user(&mut self, text: &str, out: &mut Vec<Output>) {
        match sasl::decode_line(text).and_then(sasl::login_field) {
            Ok(user) => {
                out.push(Output::Send(challenge(b"Password:")));
                self.mode = Mode::AuthLoginPassword(user);
            }
            Err(e) => self.sasl_error(e, out),
        }
    }

    fn sasl_error(&mut self, error: SaslError, out: &mut Vec<Output>) {
        let response = match error {
            // RFC 5034 §4: a `*` line cancels, and the server answers -ERR.
            SaslError::Cancelled => Response::auth_cancelled(),
            SaslError::BadBase64 => Response::bad_base64(),
            SaslError::Malformed => return self.auth_failure(out),
        };
        self.error(response, out)
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

/// A SASL challenge line: `+`, a space, the base64 text (RFC 5034 §4).
fn challenge(data: &[u8]) -> Vec<u8> {
    format!("+ {}\r\n", sasl::encode(data)).into_bytes()
}
