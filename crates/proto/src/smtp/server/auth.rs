//! AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms.

use super::{Answer, Mode, Output, Query, Session};
use crate::reply::Reply;
use crate::sasl::{self, SaslError};

impl Session {
    pub(super) fn auth(&mut self, mechanism: u64, initial: &str, out: &mut Vec<Output>) {
        if self.helo.as_ref().is_none_or(|(_, esmtp)| !esmtp) {
            return self.error(Reply::need_helo(), out);
        }
        if self.authenticated_as.is_some() {
            return self.error(Reply::already_authenticated(), out);
        }
        if self.transaction.is_some() {
            return self.error(Reply::auth_in_transaction(), out);
        }
        if !self.auth_allowed() {
            // RFC 4954 §6: 538 when the mechanism needs an encrypted channel.
            return self.error(Reply::encryption_required(), out);
        }
        match mechanism {
            smtp_proto::AUTH_PLAIN if initial.is_empty() => {
                out.push(Output::Reply(Reply::plain(334, vec!["".into()])));
                self.mode = Mode::AuthPlain;
            }
            smtp_proto::AUTH_PLAIN => self.plain_response(initial, out),
            smtp_proto::AUTH_LOGIN if initial.is_empty() => {
                out.push(Output::Reply(login_prompt(b"Username")));
                self.mode = Mode::AuthLoginUser;
            }
            smtp_proto::AUTH_LOGIN => self.login_user(initial, out),
            _ => self.error(Reply::unknown_mechanism(), out),
        }
    }

    /// A line sent in answer to a `334` challenge.
    pub(super) fn auth_continuation(&mut self, line: &[u8], out: &mut Vec<Output>) {
        let mode = std::mem::replace(&mut self.mode, Mode::Command);
        let Ok(text) = std::str::from_utf8(line) else {
            return self.error(Reply::bad_base64(), out);
        };
        let text = text.trim_end_matches(['\r', '\n']);
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
                out.push(Output::Reply(login_prompt(b"Password")));
                self.mode = Mode::AuthLoginPassword(user);
            }
            Err(e) => self.sasl_error(e, out),
        }
    }

    fn sasl_error(&mut self, error: SaslError, out: &mut Vec<Output>) {
        let reply = match error {
            SaslError::Cancelled => Reply::auth_cancelled(),
            SaslError::BadBase64 => Reply::bad_base64(),
            SaslError::Malformed => return self.auth_failure(out),
        };
        self.error(reply, out)
    }

    fn ask_login(&mut self, username: String, password: String, out: &mut Vec<Output>) {
        out.push(Output::Query(Query::Login {
            username: username.clone(),
            password,
        }));
        self.mode = Mode::AwaitLogin;
        self.pending_login = Some(username);
    }

    pub(super) fn login_answer(&mut self, answer: Answer, out: &mut Vec<Output>) {
        let username = self.pending_login.take();
        match answer {
            Answer::Login(true) => {
                self.authenticated_as = username;
                out.push(Output::Reply(Reply::auth_ok()));
            }
            Answer::Login(false) => self.auth_failure(out),
            _ => out.push(Output::Reply(Reply::auth_temp_failure())),
        }
    }

    fn auth_failure(&mut self, out: &mut Vec<Output>) {
        self.auth_failures += 1;
        out.push(Output::Reply(Reply::auth_failed()));
        if self.auth_failures >= self.policy.max_auth_failures {
            self.close_with(Reply::too_many_errors(), out);
        }
    }
}

/// A `334` LOGIN prompt: base64 of "Username" / "Password".
fn login_prompt(word: &[u8]) -> Reply {
    Reply::plain(334, vec![sasl::encode(word).into()])
}
