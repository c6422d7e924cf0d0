//! The SMTP driver's abuse checks, kept out of the driver: logins (through
//! [`crate::login`]), MAIL FROM ([`crate::sender_check`] and the hourly message limit),
//! RCPT (the DNS blocklist at RCPT and the hourly recipient limit) and the end of DATA
//! (the `From:` check), plus the DNS blocklist at connect.
//!
//! Where it sits: [`crate::smtp_driver`] makes one [`Checks`] per connection with
//! [`Checks::start`] before the greeting, passes every session query through
//! [`Checks::answer`] (which answers all but the recipient routing lookup), passes the
//! routing answer through [`Checks::after_recipient`], and asks [`end_of_data`] before
//! a message goes into the pipeline.
//!
//! Replies: a lockout is `454 4.7.0` (RFC 4954 §6); a sender that is not the user's
//! `550 5.7.1`; an hourly limit `451 4.7.1` (temporary, so nothing is lost); a listed
//! client `554 5.7.1` naming the list.

use crate::listen::Shared;
use crate::rate::{Exceeded, Sender, refusal};
use message::Address;
use proto::Reply;
use proto::smtp::server::{Answer, ListenerKind, Query, RecipientVerdict, Session};
use std::net::SocketAddr;
use std::time::Instant;
use tokio::task::JoinHandle;

/// Where the DNS blocklist lookup for this client stands.
#[derive(Debug)]
enum Listing {
    /// Not looked up (not the `smtp` listener, or no lists configured).
    NotChecked,
    /// Looking up; the answer is awaited at the first RCPT.
    Pending(JoinHandle<Option<String>>),
    /// The zone that lists the client, if any.
    Known(Option<String>),
}

/// Per-connection state of the checks.
#[derive(Debug)]
pub(crate) struct Checks {
    peer: SocketAddr,
    listing: Listing,
}

impl Checks {
    /// Starts the DNS blocklist lookup for clients of the `smtp` listener; with
    /// `smtp.dnsbl_reject_at = "connect"` waits for it and, when the client is listed,
    /// makes the session refuse service (554 greeting, RFC 5321 §3.1).
    pub async fn start(
        shared: &Shared,
        peer: SocketAddr,
        kind: ListenerKind,
        session: &mut Session,
    ) -> Checks {
        let listing = match (&shared.dnsbl, kind) {
            // Capture mode checks nobody.
            _ if shared.capture.is_some() => Listing::NotChecked,
            (Some(dnsbl), ListenerKind::Mx) => {
                let at_connect = dnsbl.at_connect;
                let dnsbl = dnsbl.clone();
                let ip = peer.ip();
                let lookup = tokio::spawn(async move { dnsbl.lookup(ip).await });
                if at_connect {
                    let zone = lookup.await.unwrap_or(None);
                    if let Some(zone) = &zone {
                        tracing::warn!(zone, "client refused at connect: listed by a DNSBL");
                        session.refuse(Reply::dnsbl_listed(ip, zone));
                    }
                    Listing::Known(None) // refused already, or not listed
                } else {
                    Listing::Pending(lookup)
                }
            }
            _ => Listing::NotChecked,
        };
        Checks { peer, listing }
    }

    /// Answers `query` for a session authenticated as `login` (if any), or hands the
    /// query back when it is a recipient to route (the driver's lookup, then
    /// [`Checks::after_recipient`]).
    pub async fn answer(
        &mut self,
        shared: &Shared,
        login: Option<&str>,
        query: Query,
    ) -> Result<Answer, Query> {
        match query {
            Query::Login { username, password } => {
                Ok(self.login(shared, &username, password).await)
            }
            Query::ScramKeys { username } => {
                let ip = self.peer.ip();
                Ok(
                    match crate::scram::keys(shared, ip, "smtp", &username).await {
                        Ok(keys) => Answer::ScramKeys(keys),
                        Err(outcome) => login_answer(outcome),
                    },
                )
            }
            Query::ScramLogin {
                username,
                matched,
                account_exists,
            } => {
                let ip = self.peer.ip();
                let outcome =
                    crate::scram::finish(shared, ip, "smtp", &username, matched, account_exists)
                        .await;
                Ok(login_answer(outcome))
            }
            Query::Sender(sender) => Ok(self.sender(shared, login, sender).await),
            Query::Recipient(address) => match self.listed_for(login, &address).await {
                Some(zone) => {
                    tracing::warn!(zone, recipient = %address, "RCPT refused: client listed by a DNSBL");
                    Ok(Answer::Refuse(Reply::dnsbl_listed(self.peer.ip(), &zone)))
                }
                None => Err(Query::Recipient(address)),
            },
        }
    }

    async fn login(&self, shared: &Shared, username: &str, password: String) -> Answer {
        login_answer(crate::login::login(shared, self.peer.ip(), "smtp", username, password).await)
    }

    /// MAIL FROM: the sender check for authenticated sessions, then the hourly message
    /// limit.
    async fn sender(
        &self,
        shared: &Shared,
        login: Option<&str>,
        sender: Option<Address>,
    ) -> Answer {
        // Capture mode: any sender, no hourly limits.
        if shared.capture.is_some() {
            return Answer::SenderOk;
        }
        if let Some(login) = login
            && shared.config.smtp.sender_check
        {
            match crate::sender_check::check_envelope(shared.store.as_ref(), login, sender.as_ref())
                .await
            {
                Ok(None) => {}
                Ok(Some(reply)) => return Answer::Refuse(reply),
                Err(e) => {
                    tracing::error!(error = %e, "sender check failed");
                    return Answer::Refuse(Reply::local_error());
                }
            }
        }
        match self.take(shared, login, Exceeded::Messages).await {
            Ok(()) => Answer::SenderOk,
            Err(exceeded) => {
                tracing::warn!(
                    user = login.unwrap_or("-"),
                    "MAIL refused: hourly message limit reached"
                );
                Answer::Refuse(refusal(exceeded))
            }
        }
    }

    /// The routing lookup's answer for a recipient, through the hourly recipient limit
    /// when it would be accepted.
    pub async fn after_recipient(
        &self,
        shared: &Shared,
        login: Option<&str>,
        answer: Answer,
    ) -> Answer {
        if shared.capture.is_some() {
            return answer;
        }
        let accepted = match &answer {
            Answer::Recipient(RecipientVerdict::Local) => true,
            Answer::Recipient(RecipientVerdict::Remote) => login.is_some(),
            _ => false,
        };
        if !accepted {
            return answer;
        }
        match self.take(shared, login, Exceeded::Recipients).await {
            Ok(()) => answer,
            Err(exceeded) => {
                tracing::warn!(
                    user = login.unwrap_or("-"),
                    "RCPT refused: hourly recipient limit reached"
                );
                Answer::Refuse(refusal(exceeded))
            }
        }
    }

    /// Takes one message or recipient from the hourly limit: from the cluster-wide
    /// count when the store shares counters ([`crate::shared_counts::take`]), else
    /// (or when the store cannot answer) from this node's own.
    async fn take(
        &self,
        shared: &Shared,
        login: Option<&str>,
        which: Exceeded,
    ) -> Result<(), Exceeded> {
        let sender = self.counted_as(login);
        let limits = &shared.sending_limits;
        if shared.store.counters_shared() {
            let now = crate::shared_counts::now_unix();
            let store = shared.store.as_ref();
            if let Some(taken) =
                crate::shared_counts::take(store, limits, which, &sender, now).await
            {
                return taken;
            }
        }
        match which {
            Exceeded::Messages => limits.take_message(&sender, Instant::now()),
            Exceeded::Recipients => limits.take_recipient(&sender, Instant::now()),
        }
    }

    /// Who the hourly limits count against: the user, or the client address.
    fn counted_as(&self, login: Option<&str>) -> Sender {
        match login {
            Some(login) => Sender::User(crate::login::login_key(login)),
            None => Sender::Address(self.peer.ip()),
        }
    }

    /// The zone listing the client, when that refuses this RCPT: not for authenticated
    /// sessions, and never for postmaster (RFC 5321 §4.5.1), so a listed sender can
    /// still ask to be let through.
    async fn listed_for(&mut self, login: Option<&str>, recipient: &Address) -> Option<String> {
        if login.is_some() || recipient.local().eq_ignore_ascii_case("postmaster") {
            return None;
        }
        if let Listing::Pending(lookup) = &mut self.listing {
            self.listing = Listing::Known(lookup.await.unwrap_or(None));
        }
        match &self.listing {
            Listing::Known(zone) => zone.clone(),
            _ => None,
        }
    }
}

impl Drop for Checks {
    fn drop(&mut self) {
        if let Listing::Pending(lookup) = &self.listing {
            lookup.abort();
        }
    }
}

/// The end of DATA/BDAT, before the pipeline: for an authenticated session with
/// `smtp.sender_check`, every `From:` address must be the user's. `None` when the
/// message may go on, else the reply that refuses it (nothing is queued).
pub(crate) async fn end_of_data(
    shared: &Shared,
    login: Option<&str>,
    body: &[u8],
) -> Option<Reply> {
    let login = login?;
    if shared.capture.is_some() || !shared.config.smtp.sender_check {
        return None;
    }
    match crate::sender_check::check_header(shared.store.as_ref(), login, body).await {
        Ok(refusal) => refusal,
        Err(e) => {
            tracing::error!(error = %e, "From check failed");
            Some(Reply::local_error())
        }
    }
}

/// The session's answer for a login outcome (password or SCRAM).
fn login_answer(outcome: crate::login::Outcome) -> Answer {
    use crate::login::Outcome;
    match outcome {
        Outcome::Ok(account) => {
            tracing::info!(user = %account.address, "authenticated");
            Answer::Login(true)
        }
        Outcome::Wrong => Answer::Login(false),
        Outcome::Locked => Answer::Refuse(Reply::auth_locked()),
        Outcome::TempFail => Answer::LoginTempFail,
    }
}
