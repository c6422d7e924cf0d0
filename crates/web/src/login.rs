//! What the web face asks the server when someone signs in: [`LoginFn`], a password
//! check that goes through the same failed-login throttle as SMTP AUTH, POP3 and IMAP
//! (`server::login`), so a guesser gains nothing by switching to the web form or to
//! HTTP Basic on the API.
//!
//! Where it sits: the `server` crate builds the function when it starts the web
//! listeners and puts it in [`crate::WebState::login`]; the sign-in form
//! (`pages::sign_in`) and the API's Basic authentication (`principal`) call it.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use store::Account;

/// Where a password is presented; decides which passwords count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The sign-in form of the web pages: the account's own password only (never an
    /// app password, which is for one mail client), and it works even with
    /// `auth.account_password = "web-only"`.
    Page,
    /// HTTP Basic on `/api/v1`: the account password (also with `web-only`) or one of
    /// the account's app passwords.
    Api,
}

/// How a web sign-in attempt ended.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The credentials are right.
    Ok(Account),
    /// Unknown user or wrong password (counted by the throttle).
    Wrong,
    /// Refused without a check: the address or account is locked out for now.
    Locked,
    /// The check could not be made (store trouble).
    TempFail,
}

/// A login attempt: (client IP, user name, password, purpose) → outcome.
pub type LoginFn = Arc<
    dyn Fn(IpAddr, String, String, Purpose) -> Pin<Box<dyn Future<Output = LoginOutcome> + Send>>
        + Send
        + Sync,
>;
