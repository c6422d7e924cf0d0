//! Signing in and out: `GET /login` (the form), `POST /login`, `POST /logout`, and
//! `GET /` (to the account pages when signed in, else to the form).
//!
//! Where it sits: the door to every other page. The password goes through
//! [`crate::WebState::login`] with [`Purpose::Page`], the server's failed-login
//! throttle shared with SMTP AUTH, POP3 and IMAP (the account's own password only, no
//! app password); a right one starts a session ([`crate::session::Sessions::start`])
//! whose id is the `HttpOnly; SameSite=Strict` cookie ([`crate::session::cookie`],
//! `Secure` over https).
//!
//! Security stance: before sign-in there is no session to hold a CSRF token, so the
//! form uses a double-submit token: a random value both in a hidden field and in the
//! [`LOGIN_CSRF_COOKIE`] cookie, which another site can neither read nor set; a post
//! whose field and cookie differ (or lack) gets 403 before any password is checked.
//! Sign-ins and sign-outs are logged with the address and the client's IP, never the
//! password.

use super::layout::{self, Form, page};
use super::{Conn, Posted, no_store, request_cookie, set_cookie};
use crate::WebState;
use crate::login::{LoginOutcome, Purpose};
use crate::principal::SignedIn;
use crate::session::{self, COOKIE, LOGIN_CSRF_COOKIE, constant_time_eq};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

/// The sign-in routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(form).post(sign_in))
        .route("/logout", post(sign_out))
}

/// `GET /`: `/account` for a live session, else `/login`.
async fn home(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let live = request_cookie(&headers, COOKIE).is_some_and(|id| state.sessions.get(id).is_some());
    Redirect::to(if live { "/account" } else { "/login" }).into_response()
}

/// The sign-in form as posted.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct SignInForm {
    /// The account's address.
    pub address: String,
    /// Its password.
    pub password: String,
    /// The double-submit token.
    pub csrf: String,
}

/// A form with only the CSRF token (sign-out).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CsrfOnly {
    /// The session's token.
    pub csrf: String,
}

impl Form for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `GET /login`.
async fn form(Conn(conn): Conn) -> Response {
    login_page(StatusCode::OK, conn.secure, "", None)
}

/// The sign-in page with `status`, the address filled in and an error above it, and a
/// fresh double-submit token in the form and the cookie.
fn login_page(status: StatusCode, secure: bool, address: &str, error: Option<&str>) -> Response {
    let token = session::random_token();
    let body: Markup = html! {
        @if let Some(error) = error {
            (layout::notice(false, error))
        }
        form.signin method="post" action="/login" {
            input type="hidden" name="csrf" value=(token);
            label for="address" { "Address" }
            input #address type="email" name="address" value=(address) autocomplete="username" required autofocus;
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password" required;
            p { button type="submit" { "Sign in" } }
        }
        p.muted {
            "Sign in with your mail address and your account's own password (an app "
            "password is for one mail client and does not open these pages)."
        }
    };
    let mut response = layout::respond(status, page("Sign in", None, body));
    set_cookie(
        &mut response,
        &session::cookie(LOGIN_CSRF_COOKIE, &token, secure),
    );
    no_store(&mut response);
    response
}

/// `POST /login`.
async fn sign_in(
    State(state): State<WebState>,
    Conn(conn): Conn,
    headers: HeaderMap,
    Posted(f): Posted<SignInForm>,
) -> Response {
    let cookie = request_cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if cookie.is_empty() || !constant_time_eq(cookie.as_bytes(), f.csrf.as_bytes()) {
        tracing::warn!(peer = %conn.peer, "sign-in form refused: CSRF token and cookie differ");
        return layout::csrf_refused();
    }
    let address = f.address.trim();
    match (state.login)(
        conn.peer.ip(),
        address.to_owned(),
        f.password,
        Purpose::Page,
    )
    .await
    {
        LoginOutcome::Ok(account) => {
            let normalized = account.address.normalized();
            let id = state.sessions.start(&normalized);
            tracing::info!(address = %normalized, peer = %conn.peer, admin = account.admin, "web sign-in");
            let to = if account.admin { "/admin" } else { "/account" };
            let mut response = Redirect::to(to).into_response();
            set_cookie(&mut response, &session::cookie(COOKIE, &id, conn.secure));
            set_cookie(
                &mut response,
                &session::cookie(LOGIN_CSRF_COOKIE, "", conn.secure),
            );
            response
        }
        LoginOutcome::Wrong => {
            tracing::info!(address, peer = %conn.peer, "web sign-in failed: wrong address or password");
            login_page(
                StatusCode::UNAUTHORIZED,
                conn.secure,
                address,
                Some("wrong address or password"),
            )
        }
        LoginOutcome::Locked => {
            tracing::info!(address, peer = %conn.peer, "web sign-in refused: locked out");
            login_page(
                StatusCode::TOO_MANY_REQUESTS,
                conn.secure,
                address,
                Some("too many failed sign-ins, try again later"),
            )
        }
        LoginOutcome::TempFail => login_page(
            StatusCode::SERVICE_UNAVAILABLE,
            conn.secure,
            address,
            Some("the password cannot be checked now, try again later"),
        ),
    }
}

/// `POST /logout`: ends this browser's session.
async fn sign_out(
    State(state): State<WebState>,
    user: SignedIn,
    Posted(f): Posted<CsrfOnly>,
) -> Response {
    if let Err(refused) = f.check(&user) {
        return refused;
    }
    state.sessions.end(&user.session_id);
    tracing::info!(address = %user.account.address.normalized(), "web sign-out");
    let mut response = Redirect::to("/login").into_response();
    set_cookie(&mut response, &session::cookie(COOKIE, "", user.secure));
    response
}
