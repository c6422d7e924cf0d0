//! AUTH (RFC 4954) with the mechanisms of [`crate::sasl`] (PLAIN, LOGIN,
//! SCRAM-SHA-256, SCRAM-SHA-256-PLUS). SCRAM's server-final goes out as a last `334`
//! challenge; the client's empty answer gets the `235` (RFC 4954 §4).

use super::{Answer, Mode, Output, Query, Session};
use crate::reply::Reply;
use crate::sasl::{self, Exchange, Mechanism, SaslError, Step};

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
        let mechanism = match mechanism {
            smtp_proto::AUTH_PLAIN => Mechanism::Plain,
            smtp_proto::AUTH_LOGIN => Mechanism::Login,
            smtp_proto::AUTH_SCRAM_SHA_256 if self.scram => Mechanism::ScramSha256,
            // Offered only with a channel binding (TLS 1.3, RFC 9266 §3).
            smtp_proto::AUTH_SCRAM_SHA_256_PLUS if self.scram && self.exporter.is_some() => {
                Mechanism::ScramSha256Plus
            }
            _ => return self.error(Reply::unknown_mechanism(), out),
        };
        let initial = (!initial.is_empty()).then_some(initial);
        let (exchange, step) = Exchange::start(mechanism, initial, self.exporter);
        self.sasl_step(exchange, step, out);
    }

    /// A line sent in answer to a `334` challenge.
    pub(super) fn auth_continuation(&mut self, line: &[u8], out: &mut Vec<Output>) {
        let Mode::Sasl(mut exchange) = std::mem::replace(&mut self.mode, Mode::Command) else {
            return;
        };
        let Ok(text) = std::str::from_utf8(line) else {
            return self.error(Reply::bad_base64(), out);
        };
        let step = exchange.respond(text);
        self.sasl_step(exchange, step, out);
    }

    fn sasl_step(&mut self, exchange: Exchange, step: Step, out: &mut Vec<Output>) {
        match step {
            Step::Challenge(data) => {
                // RFC 4954 §4: "334 " and the base64 challenge, no enhanced code.
                out.push(Output::Reply(Reply::plain(
                    334,
                    vec![sasl::encode(&data).into()],
                )));
                self.mode = Mode::Sasl(exchange);
            }
            Step::Done(creds) => {
                out.push(Output::Query(Query::Login {
                    username: creds.username.clone(),
                    password: creds.password,
                }));
                self.mode = Mode::AwaitLogin;
                self.pending_login = Some(creds.username);
            }
            Step::Failed(SaslError::Cancelled) => self.error(Reply::auth_cancelled(), out),
            Step::Failed(SaslError::BadBase64) => self.error(Reply::bad_base64(), out),
            Step::Failed(SaslError::Malformed | SaslError::Scram(_)) => self.auth_failure(out),
            Step::NeedKeys(username) => {
                out.push(Output::Query(Query::ScramKeys {
                    username: username.clone(),
                }));
                self.pending_login = Some(username);
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
            Step::Finished => {
                self.authenticated_as = self.pending_login.take();
                out.push(Output::Reply(Reply::auth_ok()));
            }
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
            Answer::Login(true) => {
                let step = exchange.accepted();
                self.sasl_step(exchange, step, out);
            }
            Answer::Login(false) => {
                self.pending_login = None;
                self.auth_failure(out);
            }
            Answer::Refuse(reply) => {
                self.pending_login = None;
                out.push(Output::Reply(reply));
            }
            _ => {
                self.pending_login = None;
                out.push(Output::Reply(Reply::auth_temp_failure()));
            }
        }
    }

    pub(super) fn login_answer(&mut self, answer: Answer, out: &mut Vec<Output>) {
        let username = self.pending_login.take();
        match answer {
            Answer::Login(true) => {
                self.authenticated_as = username;
                out.push(Output::Reply(Reply::auth_ok()));
            }
            Answer::Login(false) => self.auth_failure(out),
            // A refusal that is not a wrong password (a lockout): not counted here.
            Answer::Refuse(reply) => out.push(Output::Reply(reply)),
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
