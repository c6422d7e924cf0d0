//! One login attempt, the same for every protocol (SMTP AUTH, POP3 USER/PASS and AUTH,
//! IMAP LOGIN and AUTHENTICATE): the failed-login throttle ([`crate::throttle`]) decides
//! whether to check at all and how long to wait first; [`crate::auth`] checks the
//! password; the outcome goes back into the throttle.
//!
//! Where it sits: each protocol driver calls [`login`] when its session asks for a
//! password check, and turns the [`Outcome`] into the protocol's reply: a lockout is
//! SMTP `454 4.7.0` (RFC 4954 §6), POP3 `-ERR [SYS/TEMP]` (RFC 3206) and IMAP
//! `NO [UNAVAILABLE]` (RFC 5530), all temporary, so a mail client keeps its password.
//!
//! The wait is an async sleep: it holds back this session only. After it the throttle
//! is asked again, so attempts started in parallel before a lockout cannot slip through.
//!
//! Several nodes on one shared store: the throttle's counts and lockouts are also kept
//! in the store's shared counters ([`crate::shared_counts`]), read in one round trip
//! next to the in-memory verdict and written on a failure, so the limits hold for the
//! cluster as a whole. With the embedded store nothing of that runs.
//!
//! Never logs passwords.

use crate::listen::Shared;
use crate::shared_counts;
use crate::throttle::{SharedCounts, SharedKeys, Verdict};
use std::net::IpAddr;
use std::time::Instant;
use store::Account;

/// How a login attempt ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The credentials are right: this is the account.
    Ok(Account),
    /// Unknown user or wrong password (counted as a failure).
    Wrong,
    /// Refused without a check: the address or account is locked out.
    Locked,
    /// The check could not be made (store trouble); try later.
    TempFail,
}

/// The throttle's key for a login name: the normalized address when it is one (so
/// `Alice@Example.ORG` and `alice@example.org` count together), else the name in lower
/// case.
pub(crate) fn login_key(username: &str) -> String {
    message::Address::parse(username.trim())
        .map(|a| a.normalized())
        .unwrap_or_else(|_| username.trim().to_lowercase())
}

/// Runs one login attempt from `ip` by `protocol` (for logs).
pub(crate) async fn login(
    shared: &Shared,
    ip: IpAddr,
    protocol: &'static str,
    username: &str,
    password: String,
) -> Outcome {
    // Capture mode: any password; the user name names the inbox. Only for the mail
    // protocols (the web face has no logins in capture mode).
    if let Some(capture) = &shared.capture
        && matches!(protocol, "smtp" | "imap" | "pop3")
    {
        drop(password);
        return match capture.login(username).await {
            Ok(account) => Outcome::Ok(account),
            Err(e) => {
                tracing::error!(error = %e, protocol, "capture inbox lookup failed");
                Outcome::TempFail
            }
        };
    }
    let admitted = match admit(shared, ip, protocol, username, true).await {
        Ok(admitted) => admitted,
        Err(outcome) => return outcome,
    };
    let checked = crate::auth::check(
        shared.store.as_ref(),
        &shared.config.auth,
        username,
        password,
        crate::auth::Via::of(protocol),
    )
    .await;
    record(shared, ip, protocol, username, admitted, checked).await
}

/// A login the throttle let through ([`admit`]), to be [`record`]ed.
pub(crate) struct Admitted {
    key: String,
    cluster: Option<SharedKeys>,
    counts: Option<SharedCounts>,
}

/// Asks the throttle whether a login by `username` from `ip` may be checked; with
/// `wait`, sits out the delay it asks for first (then asks again, since another
/// attempt may have locked the address or account meanwhile). `Err` is the outcome
/// of a refusal. SCRAM admits twice: waiting before its keys are handed out, and
/// without waiting when its proof is in.
pub(crate) async fn admit(
    shared: &Shared,
    ip: IpAddr,
    protocol: &'static str,
    username: &str,
    wait: bool,
) -> Result<Admitted, Outcome> {
    let key = login_key(username);
    let cluster = shared
        .store
        .counters_shared()
        .then(|| SharedKeys::new(ip, &key));
    let (verdict, mut counts) = judge(shared, ip, &key, cluster.as_ref()).await;
    match verdict {
        Verdict::Check(delay) if wait && !delay.is_zero() => {
            tracing::info!(user = %username, protocol, delay_ms = delay.as_millis() as u64, "login delayed after recent failures");
            tokio::time::sleep(delay).await;
            let again;
            (again, counts) = judge(shared, ip, &key, cluster.as_ref()).await;
            if let Some(outcome) = refused(again, username, protocol) {
                return Err(outcome);
            }
        }
        Verdict::Check(_) => {}
        verdict => return Err(refused(verdict, username, protocol).unwrap_or(Outcome::Locked)),
    }
    Ok(Admitted {
        key,
        cluster,
        counts,
    })
}

/// Feeds the result of a check into the throttle (and the cluster's counts) and
/// turns it into the [`Outcome`].
pub(crate) async fn record(
    shared: &Shared,
    ip: IpAddr,
    protocol: &'static str,
    username: &str,
    admitted: Admitted,
    checked: Result<crate::auth::Checked, store::StoreError>,
) -> Outcome {
    let Admitted {
        key,
        cluster,
        counts,
    } = admitted;
    let throttle = &shared.throttle;
    let counters = shared.store.as_ref();
    match checked {
        Err(e) => {
            tracing::error!(error = %e, protocol, "account lookup failed");
            Outcome::TempFail
        }
        Ok(crate::auth::Checked::Wrong { account_exists }) => {
            let mut locked = throttle.failed(ip, &key, account_exists, Instant::now());
            if let Some(keys) = &cluster {
                locked |= shared_counts::login_failed(
                    counters,
                    throttle,
                    keys,
                    account_exists,
                    shared_counts::now_unix(),
                )
                .await;
            }
            if locked {
                tracing::warn!(user = %username, protocol, "locked out after repeated failed logins");
            }
            crate::metrics::auth_failure(protocol);
            Outcome::Wrong
        }
        Ok(crate::auth::Checked::Ok(account)) => {
            throttle.succeeded(ip, &key, Instant::now());
            if let Some(keys) = &cluster {
                shared_counts::login_succeeded(counters, keys, counts).await;
            }
            Outcome::Ok(account)
        }
    }
}

/// The throttle's verdict on a login from `ip` as `key`: this node's own, and with
/// `cluster` keys (a shared store) the cluster-wide counts' too (one round trip,
/// skipped when this node already refuses), which are returned for
/// [`shared_counts::login_succeeded`].
async fn judge(
    shared: &Shared,
    ip: IpAddr,
    key: &str,
    cluster: Option<&SharedKeys>,
) -> (Verdict, Option<SharedCounts>) {
    let throttle = &shared.throttle;
    let local = throttle.before(ip, key, Instant::now());
    let Some(keys) = cluster.filter(|_| matches!(local, Verdict::Check(_))) else {
        return (local, None);
    };
    let now = shared_counts::now_unix();
    let counts = shared_counts::login_counts(shared.store.as_ref(), throttle, keys, now).await;
    let judged = counts.map(|c| throttle.judge_shared(ip, key, &c, Instant::now()));
    (shared_counts::combine(local, judged), counts)
}

/// The outcome for a lockout verdict, logged; `None` when the check may go ahead.
fn refused(verdict: Verdict, username: &str, protocol: &'static str) -> Option<Outcome> {
    if !matches!(verdict, Verdict::Check(_)) {
        crate::metrics::auth_lockout(protocol);
    }
    match verdict {
        Verdict::Check(_) => None,
        Verdict::AddressLocked => {
            tracing::warn!(user = %username, protocol, "login refused: address locked out after failed logins");
            Some(Outcome::Locked)
        }
        Verdict::AccountLocked => {
            tracing::warn!(user = %username, protocol, "login refused: account locked for unfamiliar addresses after failed logins");
            Some(Outcome::Locked)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_keys_are_case_insensitive() {
        assert_eq!(login_key("Alice@Example.ORG"), "alice@example.org");
        assert_eq!(login_key(" alice@example.org "), "alice@example.org");
        assert_eq!(login_key("NotAnAddress"), "notanaddress");
    }
}
