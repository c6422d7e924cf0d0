//! The admin pages (issue 16): the dashboard, domains with their DNS records,
//! accounts, aliases, the queue and DKIM keys, at `/admin/…`.
//!
//! Where it sits: over [`crate::WebState`]'s store and config, calling the same
//! operations as the command line (the `admin` crate), so a change works, checks and
//! fails the same way from either face. Every page needs a signed-in administrator
//! ([`Admin`]: a redirect to the sign-in page without a session, 403 for anyone
//! else). Everything is rendered on the server with maud and works without
//! JavaScript: each change is a plain form, posted with the session's CSRF token
//! (checked first, 403 without it), answered with a 303 back to the page with a
//! `?done=CODE` whose text is one of a fixed set ([`done_text`]: nothing from the
//! URL is ever shown). A refused change is shown on the page as a red notice with
//! the status that fits it (400, 404, 409, 500). Every change is logged with who did
//! it ([`audit`]).
//!
//! Security stance: the caller is an administrator, but the values shown come from
//! the store, DNS and the queue (other people's addresses, display names, error
//! texts): maud escapes each of them; links carry addresses percent-encoded
//! ([`path_segment`]).

use crate::WebState;
use crate::pages::layout::{self, page};
use crate::principal::SignedIn;
use admin::AdminError;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

pub mod accounts;
pub mod aliases;
pub mod dashboard;
pub mod dkim;
pub mod domains;
pub mod queue;

#[cfg(test)]
mod tests;

/// The admin pages' routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/admin", get(dashboard::show))
        .route("/admin/domains", get(domains::list).post(domains::add))
        .route("/admin/domains/delete", post(domains::delete))
        .route("/admin/domains/{domain}", get(domains::detail))
        .route("/admin/accounts", get(accounts::list).post(accounts::add))
        .route("/admin/accounts/{address}", get(accounts::detail))
        .route(
            "/admin/accounts/{address}/password",
            post(accounts::password),
        )
        .route(
            "/admin/accounts/{address}/name",
            post(accounts::display_name),
        )
        .route(
            "/admin/accounts/{address}/admin",
            post(accounts::admin_flag),
        )
        .route("/admin/accounts/{address}/quota", post(accounts::quota))
        .route("/admin/accounts/{address}/delete", post(accounts::delete))
        .route("/admin/aliases", get(aliases::list).post(aliases::add))
        .route("/admin/aliases/delete", post(aliases::delete))
        .route("/admin/queue", get(queue::list))
        .route("/admin/queue/flush", post(queue::flush_all))
        .route("/admin/queue/message", post(queue::message))
        .route("/admin/dkim", get(dkim::list))
        .route("/admin/dkim/generate", post(dkim::generate))
        .route("/admin/dkim/remove", post(dkim::remove))
}

/// A signed-in administrator: the [`SignedIn`] extractor, then 403
/// ([`layout::admin_only`]) unless the account has the administrator flag (read
/// from the store on this request, so revoking it takes effect at once).
#[derive(Debug, Clone)]
pub struct Admin(pub SignedIn);

impl FromRequestParts<WebState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Admin, Response> {
        let user = SignedIn::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !user.account.admin {
            tracing::info!(user = %user.account.address, path = %parts.uri.path(), "admin page refused to a non-administrator");
            return Err(layout::admin_only());
        }
        Ok(Admin(user))
    }
}

/// The `?done=CODE` a change redirects back with.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    /// The code; only those [`done_text`] knows are shown.
    #[serde(default)]
    pub done: Option<String>,
}

impl Done {
    /// The green notice for the code, if it is one of ours.
    pub fn flash(&self) -> Option<Flash> {
        self.done.as_deref().and_then(done_text).map(Flash::ok)
    }
}

/// The text shown for each `?done=` code; anything else shows nothing.
pub fn done_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "domain-added" => "Domain added.",
        "domain-removed" => "Domain removed.",
        "account-added" => "Account created.",
        "account-removed" => "Account deleted.",
        "password-set" => "Password changed.",
        "name-set" => "Display name saved.",
        "admin-on" => "The account is now an administrator.",
        "admin-off" => "The account is no longer an administrator.",
        "quota-set" => "Quota saved.",
        "alias-added" => "Alias added.",
        "alias-removed" => "Alias removed.",
        "queue-flushed" => "Every pending recipient is due now.",
        "message-flushed" => "The message is due now.",
        "message-held" => "The message is held.",
        "message-released" => "The message is released and due now.",
        "message-deleted" => "The message is deleted.",
        "message-bounced" => "The message is deleted and its sender told.",
        "dkim-generated" => "New keys made: publish their records.",
        "dkim-removed" => "Key removed.",
        _ => return None,
    })
}

/// A notice above a page: a change done (green) or refused (red).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// Green when true.
    pub ok: bool,
    /// What it says.
    pub text: String,
}

impl Flash {
    /// A green notice.
    pub fn ok(text: &str) -> Flash {
        Flash {
            ok: true,
            text: text.to_owned(),
        }
    }

    /// A red notice.
    pub fn error(text: impl Into<String>) -> Flash {
        Flash {
            ok: false,
            text: text.into(),
        }
    }
}

/// A refused or failed operation: its red notice and the status it answers with.
#[derive(Debug, Clone)]
pub struct Failure {
    /// 400, 404, 409 or 500.
    pub status: StatusCode,
    /// What went wrong, shown as it is (escaped).
    pub text: String,
}

impl Failure {
    /// A request that makes no sense (400).
    pub fn invalid(text: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            text: text.into(),
        }
    }

    /// The notice for it.
    pub fn flash(&self) -> Flash {
        Flash::error(self.text.clone())
    }
}

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Failure {
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %e, "admin page: operation failed");
        }
        Failure {
            status,
            text: e.to_string(),
        }
    }
}

impl From<store::StoreError> for Failure {
    fn from(e: store::StoreError) -> Failure {
        Failure::from(AdminError::from(e))
    }
}

/// An admin page: the frame with `title`, the notice if any, then `body`, as a
/// response with `status`.
pub fn render(
    user: &SignedIn,
    title: &str,
    flash: Option<&Flash>,
    status: StatusCode,
    body: Markup,
) -> Response {
    let content = html! {
        @if let Some(flash) = flash {
            (layout::notice(flash.ok, &flash.text))
        }
        (body)
    };
    layout::respond(status, page(title, Some(user), content))
}

/// The page `title` built by `body`, or only the red notice (and its status) when
/// building it failed.
pub fn render_result(
    user: &SignedIn,
    title: &str,
    flash: Option<Flash>,
    status: StatusCode,
    body: Result<Markup, Failure>,
) -> Response {
    match body {
        Ok(body) => render(user, title, flash.as_ref(), status, body),
        Err(failure) => render(
            user,
            title,
            Some(&failure.flash()),
            failure.status,
            html! {},
        ),
    }
}

/// The 303 back to `path` with the notice `code` (one of [`done_text`]'s).
pub fn done(path: &str, code: &'static str) -> Response {
    debug_assert!(done_text(code).is_some(), "unknown done code {code}");
    Redirect::to(&format!("{path}?done={code}")).into_response()
}

/// Logs the change `action` on `target` as done by `user`.
pub fn audit(user: &SignedIn, action: &str, target: &str) {
    admin::audit::log(&user.principal().actor(), action, target);
}

/// `text` for use as one path segment of a link: every byte but the unreserved ones
/// (RFC 3986 §2.3) and `@` percent-encoded.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A unix time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn when(unix: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return unix.to_string();
    };
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.format(&format).unwrap_or_else(|_| unix.to_string())
}

/// Now, unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The form field a delete must carry to happen: the ticked box `confirm=yes`.
pub fn confirmed(confirm: &str) -> Result<(), Failure> {
    if confirm == "yes" {
        Ok(())
    } else {
        Err(Failure::invalid(
            "nothing was deleted: tick the confirmation box first",
        ))
    }
}

/// The confirmation box of a delete form.
pub fn confirm_box() -> Markup {
    html! {
        label.confirm {
            input type="checkbox" name="confirm" value="yes" required;
            " I am sure"
        }
    }
}
