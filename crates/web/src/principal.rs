//! Who is making a request: [`ApiCaller`] for `/api/v1` (a bearer token, or HTTP Basic
//! with an account's password or app password) and [`SignedIn`] for the web pages (the
//! session cookie). Both are axum extractors over [`crate::WebState`].
//!
//! Where it sits: between the connection ([`ConnInfo`], put on each request by
//! [`crate::serve::connection`]) and the handlers. Basic credentials go through
//! [`crate::WebState::login`], the same throttle as the mail protocols; tokens through
//! `admin::tokens::authenticate` (one hash, by the token's id). Admin endpoints call
//! [`Principal::require_admin`] (403 for anyone else).

use crate::WebState;
use crate::error::ApiError;
use crate::login::{LoginOutcome, Purpose};
use crate::session::{self, Session};
use axum::extract::FromRequestParts;
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use std::net::SocketAddr;
use store::{Account, ApiToken};

/// The connection a request came on: the client's address and whether it is https.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The request came over TLS (`listen.https`): cookies get `Secure`.
    pub secure: bool,
}

impl ConnInfo {
    /// The request's connection info; a loopback placeholder when absent (tests that
    /// call the router directly).
    pub fn of(parts: &Parts) -> ConnInfo {
        parts
            .extensions
            .get::<ConnInfo>()
            .copied()
            .unwrap_or(ConnInfo {
                peer: SocketAddr::from(([127, 0, 0, 1], 0)),
                secure: false,
            })
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A signed-in account (session, or Basic on the API with the account password).
    Account(Account),
    /// An account through HTTP Basic with one of its app passwords: what the account
    /// may do, except change its own credentials (password, app passwords), which
    /// takes the account password — a leaked device password must not take the
    /// account over.
    AppPassword(Account),
    /// An API token (`postie token create`): acts as an administrator.
    Token(ApiToken),
}

impl Principal {
    /// May administer the server.
    pub fn is_admin(&self) -> bool {
        match self {
            Principal::Account(a) | Principal::AppPassword(a) => a.admin,
            Principal::Token(_) => true,
        }
    }

    /// Who did it, for the audit log: the address, or `token:NAME`.
    pub fn actor(&self) -> String {
        match self {
            Principal::Account(a) => a.address.normalized(),
            Principal::AppPassword(a) => format!("{} (app password)", a.address.normalized()),
            Principal::Token(t) => format!("token:{}", t.name),
        }
    }

    /// The account, when the caller is one.
    pub fn account(&self) -> Option<&Account> {
        match self {
            Principal::Account(a) | Principal::AppPassword(a) => Some(a),
            Principal::Token(_) => None,
        }
    }

    /// `Ok` unless this is an app password acting on its own account's credentials
    /// (`address`: the account whose password or app passwords would change): 403
    /// then, since that takes the account password.
    pub fn may_change_credentials_of(&self, address: &message::Address) -> Result<(), ApiError> {
        match self {
            Principal::AppPassword(a) if a.address.normalized() == address.normalized() => {
                Err(ApiError::forbidden(
                    "an app password cannot change its account's password or app passwords; \
                     use the account password",
                ))
            }
            _ => Ok(()),
        }
    }

    /// `Ok` for an administrator, 403 otherwise.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden("this needs an administrator"))
        }
    }
}

/// The caller of an API request: `Authorization: Bearer TOKEN` or `Basic` (RFC 7617)
/// with an address and its password or app password. 401 without valid credentials,
/// 429 when the login throttle has locked the address or account out.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Principal);

impl FromRequestParts<WebState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<ApiCaller, ApiError> {
        let conn = ConnInfo::of(parts);
        let Some(value) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(ApiError::unauthorized());
        };
        let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return match admin::tokens::authenticate(state.store.as_ref(), credentials).await {
                Ok(Some(token)) => Ok(ApiCaller(Principal::Token(token))),
                Ok(None) => {
                    tracing::info!(peer = %conn.peer, "API request with an unknown or revoked token");
                    Err(ApiError::unauthorized())
                }
                Err(e) => Err(ApiError::internal(e)),
            };
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(ApiError::unauthorized());
        }
        let Some((user, password)) = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|text| {
                text.split_once(':')
                    .map(|(u, p)| (u.to_owned(), p.to_owned()))
            })
        else {
            return Err(ApiError::bad_request(
                "malformed Basic credentials (RFC 7617: base64 of user:password)",
            ));
        };
        // A password of the app-password form is checked as one (server::auth), so
        // this tells which kind of credential opened the account.
        let app_password = store::app_password::parse(&password).is_some();
        match (state.login)(conn.peer.ip(), user, password, Purpose::Api).await {
            LoginOutcome::Ok(account) if app_password => {
                Ok(ApiCaller(Principal::AppPassword(account)))
            }
            LoginOutcome::Ok(account) => Ok(ApiCaller(Principal::Account(account))),
            LoginOutcome::Wrong => Err(ApiError::unauthorized()),
            LoginOutcome::Locked => Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins: try again later",
            )),
            LoginOutcome::TempFail => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot check credentials now; try again later",
            )),
        }
    }
}

/// A signed-in browser on the web pages: the session and its account, read afresh
/// from the store. Without a live session, a redirect to the sign-in page.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account, as the store has it now.
    pub account: Account,
    /// The session (its CSRF token for the forms).
    pub session: Session,
    /// The session id (the cookie's value), for sign-out.
    pub session_id: String,
    /// The request came over https.
    pub secure: bool,
}

impl SignedIn {
    /// The caller as a [`Principal`].
    pub fn principal(&self) -> Principal {
        Principal::Account(self.account.clone())
    }
}

/// Why a page needs a sign-in first.
#[derive(Debug)]
pub enum SignInRequired {
    /// No (live) session: go to the sign-in page.
    Redirect,
    /// The store could not be read.
    Failed,
}

impl IntoResponse for SignInRequired {
    fn into_response(self) -> Response {
        match self {
            SignInRequired::Redirect => Redirect::to("/login").into_response(),
            SignInRequired::Failed => {
                crate::text(StatusCode::SERVICE_UNAVAILABLE, "try again later\n")
            }
        }
    }
}

impl FromRequestParts<WebState> for SignedIn {
    type Rejection = SignInRequired;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<SignedIn, SignInRequired> {
        let conn = ConnInfo::of(parts);
        let id = crate::pages::request_cookie(&parts.headers, session::COOKIE)
            .ok_or(SignInRequired::Redirect)?
            .to_owned();
        let session = state.sessions.get(&id).ok_or(SignInRequired::Redirect)?;
        let address =
            message::Address::parse(&session.address).map_err(|_| SignInRequired::Redirect)?;
        match state.store.account_get(&address).await {
            Ok(Some(account)) => Ok(SignedIn {
                account,
                session,
                session_id: id,
                secure: conn.secure,
            }),
            Ok(None) => {
                state.sessions.end(&id);
                Err(SignInRequired::Redirect)
            }
            Err(e) => {
                tracing::error!(error = %e, "session account lookup failed");
                Err(SignInRequired::Failed)
            }
        }
    }
}
