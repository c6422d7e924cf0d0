//! The signed-in user's own account: `GET /account` (address, display name, quota
//! usage against the limits, mailboxes) and `GET/POST /account/password`.
//!
//! Where it sits: under [`crate::principal::SignedIn`], so only ever the session's own
//! account; the password change goes through `admin::accounts::set_password` (argon2
//! on a blocking thread) after the current password is checked again through
//! [`crate::WebState::login`] (the failed-login throttle), and is audit-logged.
//!
//! Security stance: a changed password signs out every other browser of the account
//! (`Sessions::end_all_of`) and gives this one a fresh session, so a session stolen
//! before the change is worth nothing after it.

use super::layout::{self, Form, csrf_field, page};
use super::{Conn, Posted, human_size, set_cookie};
use crate::WebState;
use crate::login::{LoginOutcome, Purpose};
use crate::principal::SignedIn;
use crate::session;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};

/// The fewest characters a new password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The account routes.
pub fn routes() -> Router<WebState> {
    Router::new().route("/account", get(overview)).route(
        "/account/password",
        get(password_form).post(change_password),
    )
}

/// `GET /account`.
async fn overview(State(state): State<WebState>, user: SignedIn) -> Response {
    let id = user.account.id;
    let (quota, usage, mailboxes) = match (
        state.store.quota_get(id).await,
        state.store.quota_usage(id).await,
        state.store.mailbox_list(id).await,
    ) {
        (Ok(q), Ok(u), Ok(m)) => (q, u, m.len()),
        (q, u, m) => {
            let e = [q.err(), u.err(), m.err()].into_iter().flatten().next();
            tracing::error!(error = ?e, "account page: store read failed");
            return crate::text(StatusCode::SERVICE_UNAVAILABLE, "try again later\n");
        }
    };
    let storage_limit = quota.storage.map(human_size);
    let message_limit = quota.messages.map(|m| m.to_string());
    let body = html! {
        table.facts {
            tr { th { "Address" } td { (user.account.address.to_unicode()) } }
            tr {
                th { "Display name" }
                td {
                    @match &user.account.display_name {
                        Some(name) => (name),
                        None => span.muted { "none" },
                    }
                }
            }
            tr {
                th { "Storage" }
                td {
                    (human_size(usage.storage)) " used"
                    @match &storage_limit {
                        Some(limit) => { " of " (limit) " (" (percent(usage.storage, quota.storage)) ")" },
                        None => { " (no limit)" },
                    }
                }
            }
            tr {
                th { "Messages" }
                td {
                    (usage.messages)
                    @match &message_limit {
                        Some(limit) => { " of " (limit) " (" (percent(usage.messages, quota.messages)) ")" },
                        None => { " (no limit)" },
                    }
                }
            }
            tr { th { "Mailboxes" } td { (mailboxes) } }
            @if user.account.admin {
                tr { th { "Role" } td { "administrator" } }
            }
        }
        @if quota.is_full(&usage) {
            (layout::notice(false, "Your mailbox is full: new mail is refused until you delete some."))
        }
        h2 { "What you can do here" }
        ul {
            li { a href="/account/password" { "Change your password" } }
            li { a href="/account/app-passwords" { "App passwords" } ": one per mail client, each revocable on its own" }
            li { a href="/account/setup" { "Set up a device" } ": the settings for your mail clients, and a profile for iPhone, iPad and Mac" }
        }
    };
    layout::respond(StatusCode::OK, page("Your account", Some(&user), body))
}

/// `used` as a share of `limit`, for people.
fn percent(used: u64, limit: Option<u64>) -> String {
    match limit {
        Some(0) => "100%".into(),
        Some(l) => format!("{:.0}%", (used as f64 / l as f64 * 100.0).min(999.0)),
        None => String::new(),
    }
}

/// The password form as posted.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    /// The session's token.
    pub csrf: String,
    /// The password now.
    pub current: String,
    /// The new password.
    pub new: String,
    /// The new password again.
    pub again: String,
}

impl Form for PasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `GET /account/password`.
async fn password_form(user: SignedIn) -> Response {
    password_page(StatusCode::OK, &user, None)
}

fn password_page(status: StatusCode, user: &SignedIn, notice: Option<(bool, &str)>) -> Response {
    let body: Markup = html! {
        @if let Some((ok, text)) = notice {
            (layout::notice(ok, text))
        }
        form method="post" action="/account/password" {
            (csrf_field(user))
            input type="hidden" name="username" value=(user.account.address.to_unicode()) autocomplete="username";
            label for="current" { "Current password" }
            input #current type="password" name="current" autocomplete="current-password" required;
            label for="new" { "New password" }
            input #new type="password" name="new" autocomplete="new-password" minlength=(MIN_PASSWORD_CHARS) required;
            label for="again" { "New password again" }
            input #again type="password" name="again" autocomplete="new-password" minlength=(MIN_PASSWORD_CHARS) required;
            p { button type="submit" { "Change password" } }
        }
        p.muted {
            "At least " (MIN_PASSWORD_CHARS) " characters. Changing it signs out your other "
            "browsers; app passwords keep working (revoke them on the "
            a href="/account/app-passwords" { "app passwords" } " page)."
        }
    };
    layout::respond(status, page("Change your password", Some(user), body))
}

/// `POST /account/password`.
async fn change_password(
    State(state): State<WebState>,
    Conn(conn): Conn,
    user: SignedIn,
    Posted(f): Posted<PasswordForm>,
) -> Response {
    if let Err(refused) = f.check(&user) {
        return refused;
    }
    if f.new != f.again {
        let text = "the two new passwords differ";
        return password_page(StatusCode::BAD_REQUEST, &user, Some((false, text)));
    }
    if f.new.chars().count() < MIN_PASSWORD_CHARS {
        let text = format!("the new password needs at least {MIN_PASSWORD_CHARS} characters");
        return password_page(StatusCode::BAD_REQUEST, &user, Some((false, &text)));
    }
    let address = user.account.address.normalized();
    match (state.login)(conn.peer.ip(), address.clone(), f.current, Purpose::Page).await {
        LoginOutcome::Ok(account) if account.id == user.account.id => {}
        LoginOutcome::Ok(_) | LoginOutcome::Wrong => {
            tracing::info!(address = %address, peer = %conn.peer, "password change refused: wrong current password");
            let text = "your current password is wrong";
            return password_page(StatusCode::FORBIDDEN, &user, Some((false, text)));
        }
        LoginOutcome::Locked => {
            let text = "too many failed sign-ins, try again later";
            return password_page(StatusCode::TOO_MANY_REQUESTS, &user, Some((false, text)));
        }
        LoginOutcome::TempFail => {
            let text = "the password cannot be checked now, try again later";
            return password_page(StatusCode::SERVICE_UNAVAILABLE, &user, Some((false, text)));
        }
    }
    if let Err(e) = admin::accounts::set_password(state.store.as_ref(), &address, &f.new).await {
        tracing::error!(error = %e, address = %address, "password change failed");
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        return password_page(status, &user, Some((false, &e.to_string())));
    }
    admin::audit::log(&address, "account.password", &address);
    // Every other browser of this account is signed out; this one goes on with a
    // fresh session (and CSRF token).
    state.sessions.end_all_of(&address);
    let id = state.sessions.start(&address);
    let Some(session) = state.sessions.get(&id) else {
        return crate::text(StatusCode::SERVICE_UNAVAILABLE, "try again later\n");
    };
    let user = SignedIn {
        session,
        session_id: id.clone(),
        ..user
    };
    let mut response = password_page(
        StatusCode::OK,
        &user,
        Some((
            true,
            "Your password is changed; your other browsers are signed out.",
        )),
    );
    set_cookie(
        &mut response,
        &session::cookie(session::COOKIE, &id, user.secure),
    );
    response
}
