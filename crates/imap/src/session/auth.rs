//! The not-authenticated state: CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE (PLAIN,
//! LOGIN, SCRAM-SHA-256 and, on TLS 1.3, SCRAM-SHA-256-PLUS, with SASL-IR), and ENABLE
//! (RFC 3501 §6.1–6.2, RFC 4959, RFC 5161, RFC 7677, RFC 9266). SCRAM runs the shared
//! exchange of `proto::sasl`; its server-final goes out as a last `+` continuation and
//! the client's empty answer gets the tagged OK (RFC 3501 §6.2.2 has no success data).
//!
//! Where it sits: called by [`super::Session::command`] for LOGIN/STARTTLS/CAPABILITY;
//! AUTHENTICATE is framed by imap-next, so the driver calls [`Session::authenticate`]
//! and [`Session::authenticate_data`] and hands the answer back to imap-next.
//!
//! Password rules are the other protocols': LOGIN and AUTHENTICATE only over TLS unless
//! `auth.allow_plaintext` permits the peer (`LOGINDISABLED` otherwise, RFC 3501
//! §6.2.3); the check is the server's ([`super::services::Services::login`]): every failure counts in the shared
//! login throttle, and a locked-out address or account gets `NO [UNAVAILABLE]` even
//! with the right password (RFC 5530 §3).

use super::{SaslWait, Session, Status};
use imap_codec::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_codec::imap_types::core::Tag;

/// What AUTHENTICATE answers next.
pub enum SaslStep {
    /// A `+ base64` challenge; the exchange goes on.
    Challenge(Vec<u8>),
    /// The tagged reply ending the exchange: kind (`OK`/`NO`/`BAD`), response code
    /// (without brackets) and text.
    Done(&'static str, Option<String>, String),
}

impl Session<'_> {
    /// Whether passwords may be sent now.
    pub fn login_allowed(&self) -> bool {
        self.tls || self.shared.plaintext_permitted(self.peer.ip())
    }

    /// The capability list for the current state (RFC 3501 §7.2.1): only what works.
    pub fn capabilities(&self) -> String {
        // RFC 9051 §6.3.1: both versions; a client asks for rev2 with ENABLE IMAP4rev2.
        let mut caps = vec!["IMAP4rev1", "IMAP4rev2"];
        if self.account.is_none() {
            if !self.tls {
                caps.push("STARTTLS");
            }
            if self.login_allowed() {
                caps.extend(["AUTH=PLAIN", "AUTH=LOGIN"]);
                if self.scram {
                    caps.push("AUTH=SCRAM-SHA-256");
                }
                if self.scram && self.tls_exporter.is_some() {
                    // RFC 9266 §3: only where tls-exporter is defined (TLS 1.3).
                    caps.push("AUTH=SCRAM-SHA-256-PLUS");
                }
                caps.push("SASL-IR");
            } else {
                caps.push("LOGINDISABLED");
            }
        }
        caps.extend([
            "LITERAL+",
            "ID",
            "IDLE",
            "NAMESPACE",
            "ENABLE",
            "UNSELECT",
            "UIDPLUS",
            "MULTIAPPEND", // RFC 3502: see `multiappend.rs`
            "CATENATE",    // RFC 4469: see `catenate.rs`
            "MOVE",
            "CHILDREN",
            "SPECIAL-USE",
            "BINARY",      // RFC 3516: FETCH BINARY[] and BINARY.SIZE
            "STATUS=SIZE", // RFC 8438
            // RFC 4731, RFC 5258, RFC 5819, RFC 5256, RFC 5957: see `extended.rs`.
            "ESEARCH",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "SORT",
            "SORT=DISPLAY",
            // RFC 5256 §3: see `thread.rs`.
            "THREAD=ORDEREDSUBJECT",
            "THREAD=REFERENCES",
            // RFC 5267: see `sort.rs` (ESORT) and `context.rs` (CONTEXT=).
            "ESORT",
            "CONTEXT=SEARCH",
            "CONTEXT=SORT",
            "SEARCHRES",   // RFC 5182: see `searchres.rs`
            "PARTIAL",     // RFC 9394: see `partial.rs`
            "UTF8=ACCEPT", // RFC 6855: see `names.rs` and `utf8.rs`
            "NOTIFY",      // RFC 5465: see `notify.rs`
        ]);
        if self.account.is_some() {
            // RFC 4978: only after login (see `compress.rs`).
            caps.push(super::compress::CAPABILITY);
        }
        // RFC 7162: see `condstore.rs` and `qresync.rs`.
        caps.extend(super::condstore::CAPABILITIES);
        // RFC 9208: see `quota.rs`.
        caps.extend(super::quota::CAPABILITIES);
        // RFC 4314 and RFC 2342: see `acl.rs` and `access.rs`.
        caps.extend(crate::acl::CAPABILITIES);
        let mut text = caps.join(" ");
        // RFC 7889: the largest APPEND we take.
        text.push_str(&format!(
            " APPENDLIMIT={}",
            self.shared.settings().max_literal_size
        ));
        text
    }

    pub(super) fn capability(&mut self) -> Status {
        let caps = self.capabilities();
        self.untagged(&format!("CAPABILITY {caps}"));
        Status::Ok("CAPABILITY completed".into())
    }

    pub(super) fn starttls(&mut self) -> Status {
        if self.tls {
            return Status::Bad("TLS is already active".into());
        }
        self.starttls = true;
        Status::Ok("Begin TLS negotiation now".into())
    }

    /// LOGIN (RFC 3501 §6.2.3).
    pub(super) async fn login(&mut self, user: &str, password: String) -> Status {
        if !self.login_allowed() {
            return Status::No("[PRIVACYREQUIRED] LOGIN is disabled until STARTTLS".into());
        }
        let (kind, code, text) = self.check(user, password).await;
        let code = code.map(|c| format!("[{c}] ")).unwrap_or_default();
        match kind {
            "OK" => Status::Ok(format!("{code}{text}")),
            _ => Status::No(format!("{code}{text}")),
        }
    }

    /// AUTHENTICATE's first step (RFC 3501 §6.2.2); an initial response (SASL-IR,
    /// RFC 4959 §3) is the first client message and is run at once.
    pub async fn authenticate(
        &mut self,
        tag: Tag<'static>,
        mechanism: &AuthMechanism<'_>,
        initial: Option<Vec<u8>>,
    ) -> SaslStep {
        if self.account.is_some() {
            return SaslStep::Done("BAD", None, "Already logged in".into());
        }
        if !self.login_allowed() {
            return SaslStep::Done(
                "NO",
                Some("PRIVACYREQUIRED".into()),
                "AUTHENTICATE is disabled until STARTTLS".into(),
            );
        }
        let (wait, challenge) = match mechanism {
            AuthMechanism::Plain => (SaslWait::Plain, Vec::new()),
            AuthMechanism::Login => (SaslWait::LoginUser, proto::sasl::LOGIN_USER_PROMPT.to_vec()),
            AuthMechanism::ScramSha256 if self.scram => {
                self.scram_start(proto::sasl::Mechanism::ScramSha256)
            }
            AuthMechanism::ScramSha256Plus if self.scram && self.tls_exporter.is_some() => {
                self.scram_start(proto::sasl::Mechanism::ScramSha256Plus)
            }
            _ => {
                return SaslStep::Done("NO", None, "Unsupported authentication mechanism".into());
            }
        };
        match initial {
            Some(data) => self.sasl_step(tag, wait, data).await,
            None => {
                self.sasl = Some((tag, wait));
                SaslStep::Challenge(challenge)
            }
        }
    }

    /// The next client line of an AUTHENTICATE exchange.
    pub async fn authenticate_data(&mut self, data: AuthenticateData<'static>) -> SaslStep {
        let Some((tag, wait)) = self.sasl.take() else {
            return SaslStep::Done("BAD", None, "No authentication in progress".into());
        };
        let bytes = match data {
            AuthenticateData::Cancel => {
                return SaslStep::Done("BAD", None, "Authentication cancelled".into());
            }
            AuthenticateData::Continue(bytes) => bytes.declassify().to_vec(),
        };
        self.sasl_step(tag, wait, bytes).await
    }

    /// Runs one decoded client message of an exchange.
    pub async fn sasl_step(
        &mut self,
        tag: Tag<'static>,
        wait: SaslWait,
        bytes: Vec<u8>,
    ) -> SaslStep {
        let malformed = || SaslStep::Done("BAD", None, "Malformed SASL message".into());
        let (user, password) = match wait {
            SaslWait::Scram(mut exchange) => {
                let line = proto::sasl::encode(&bytes);
                let step = exchange.respond(&line);
                return self.scram_step(tag, exchange, step).await;
            }
            SaslWait::ScramAck(mut exchange, account) => {
                let line = proto::sasl::encode(&bytes);
                if exchange.respond(&line) != proto::sasl::Step::Finished {
                    return malformed();
                }
                let (kind, code, text) = self.logged_in(*account);
                return SaslStep::Done(kind, code, text);
            }
            SaslWait::Plain => match proto::sasl::parse_plain(&bytes) {
                Ok(c) if c.authzid.is_empty() || c.authzid == c.username => {
                    (c.username, c.password)
                }
                Ok(_) => {
                    return SaslStep::Done(
                        "NO",
                        Some("AUTHORIZATIONFAILED".into()),
                        "Cannot act as another user".into(),
                    );
                }
                Err(_) => return malformed(),
            },
            SaslWait::LoginUser => match proto::sasl::login_field(bytes) {
                Ok(user) => {
                    self.sasl = Some((tag, SaslWait::LoginPassword(user)));
                    return SaslStep::Challenge(proto::sasl::LOGIN_PASSWORD_PROMPT.to_vec());
                }
                Err(_) => return malformed(),
            },
            SaslWait::LoginPassword(user) => match proto::sasl::login_field(bytes) {
                Ok(password) => (user, password),
                Err(_) => return malformed(),
            },
        };
        let (kind, code, text) = self.check(&user, password).await;
        SaslStep::Done(kind, code, text)
    }

    /// A new SCRAM exchange, waiting for client-first (RFC 5802 §5: the client speaks
    /// first; its message may come as the SASL-IR initial response).
    fn scram_start(&self, mechanism: proto::sasl::Mechanism) -> (SaslWait, Vec<u8>) {
        let (exchange, _) = proto::sasl::Exchange::start(mechanism, None, self.tls_exporter);
        (SaslWait::Scram(Box::new(exchange)), Vec::new())
    }

    /// Carries a SCRAM step through: keys and the login outcome come from the
    /// server's services, challenges go to the client.
    async fn scram_step(
        &mut self,
        tag: Tag<'static>,
        mut exchange: Box<proto::sasl::Exchange>,
        mut step: proto::sasl::Step,
    ) -> SaslStep {
        use super::services::Login as Outcome;
        use proto::sasl::{SaslError, Step};
        let ip = self.peer.ip();
        loop {
            step = match step {
                Step::Challenge(data) => {
                    self.sasl = Some((tag, SaslWait::Scram(exchange)));
                    return SaslStep::Challenge(data);
                }
                Step::NeedKeys(user) => match self.shared.scram_keys(ip, &user).await {
                    Ok(keys) => exchange.keys(keys),
                    Err(refused) => return self.outcome_reply(refused),
                },
                Step::Proved(p) => {
                    let outcome = self
                        .shared
                        .scram_login(ip, &p.username, p.matched, p.account_exists)
                        .await;
                    let Outcome::Ok(account) = outcome else {
                        return self.outcome_reply(outcome);
                    };
                    let Step::Challenge(last) = exchange.accepted() else {
                        return self.outcome_reply(Outcome::TempFail);
                    };
                    self.sasl = Some((tag, SaslWait::ScramAck(exchange, Box::new(account))));
                    return SaslStep::Challenge(last);
                }
                Step::Failed(SaslError::Cancelled) => {
                    return SaslStep::Done("BAD", None, "Authentication cancelled".into());
                }
                Step::Failed(SaslError::BadBase64) => {
                    return SaslStep::Done("BAD", None, "Malformed SASL message".into());
                }
                Step::Failed(e) => {
                    tracing::info!(error = %e, "SCRAM exchange failed");
                    return self.outcome_reply(Outcome::Wrong);
                }
                Step::Done(_) | Step::Finished => {
                    return self.outcome_reply(Outcome::TempFail);
                }
            };
        }
    }

    /// Checks a password against the store and the throttle; on success the session is
    /// authenticated. Returns the tagged reply's kind, code and text.
    async fn check(
        &mut self,
        user: &str,
        password: String,
    ) -> (&'static str, Option<String>, String) {
        let outcome = self.shared.login(self.peer.ip(), user, password).await;
        self.apply(outcome)
    }

    /// [`Session::apply`] as an AUTHENTICATE reply.
    fn outcome_reply(&mut self, outcome: super::services::Login) -> SaslStep {
        let (kind, code, text) = self.apply(outcome);
        SaslStep::Done(kind, code, text)
    }

    /// The reply for a login outcome; on success the session is authenticated.
    fn apply(&mut self, outcome: super::services::Login) -> (&'static str, Option<String>, String) {
        use super::services::Login as Outcome;
        match outcome {
            Outcome::Locked => (
                "NO",
                Some("UNAVAILABLE".into()),
                "Too many failed logins; try again later".into(),
            ),
            Outcome::TempFail => ("NO", Some("UNAVAILABLE".into()), "Try again later".into()),
            Outcome::Wrong => {
                self.auth_failures += 1;
                if self.auth_failures >= self.shared.settings().max_auth_failures {
                    self.untagged("BYE Too many failed logins");
                    self.close = true;
                }
                (
                    "NO",
                    Some("AUTHENTICATIONFAILED".into()),
                    "Authentication failed".into(),
                )
            }
            Outcome::Ok(account) => self.logged_in(account),
        }
    }

    /// Takes a session slot for `account` and authenticates the session as it.
    fn logged_in(&mut self, account: store_api::Account) -> (&'static str, Option<String>, String) {
        let Some(slot) = self.shared.user_slot(account.id) else {
            tracing::warn!(user = %account.address, "IMAP login refused: too many sessions");
            return (
                "NO",
                Some("LIMIT".into()),
                "Too many sessions for this account; close one and retry".into(),
            );
        };
        tracing::info!(user = %account.address, "IMAP login");
        self.user_slot = Some(slot);
        self.account = Some(account);
        // RFC 3501 §6.2.3: the capabilities may change; announce them.
        let caps = self.capabilities();
        ("OK", Some(format!("CAPABILITY {caps}")), "Logged in".into())
    }
}
