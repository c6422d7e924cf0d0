//! The frame every web page shares: the document, the navigation (account pages for
//! everyone, admin pages for administrators), the sign-out form, and the helpers the
//! forms use: [`csrf_field`] and [`Form::check`] (403 without the session's token).
//!
//! Everything is written with maud, which escapes every value it interpolates; no
//! page ever uses `PreEscaped` on text from a user, the store or the network.

use crate::principal::SignedIn;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// The stylesheet, served at [`STYLESHEET`] (CSP `style-src 'self'`: no inline style).
pub const STYLE_CSS: &str = include_str!("../../static/style.css");
/// Where the stylesheet is served.
pub const STYLESHEET: &str = "/static/style.css";

/// A whole page: `title`, the navigation for `user` (none before sign-in), `body`.
pub fn page(title: &str, user: Option<&SignedIn>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Postie" }
                link rel="stylesheet" href=(STYLESHEET);
            }
            body {
                header {
                    a.brand href="/" { "Postie" }
                    @if let Some(user) = user {
                        nav {
                            a href="/account" { "Account" }
                            a href="/account/app-passwords" { "App passwords" }
                            a href="/account/setup" { "Set up a device" }
                            @if user.account.admin {
                                a href="/admin" { "Dashboard" }
                                a href="/admin/domains" { "Domains" }
                                a href="/admin/accounts" { "Accounts" }
                                a href="/admin/aliases" { "Aliases" }
                                a href="/admin/queue" { "Queue" }
                                a href="/admin/dkim" { "DKIM" }
                            }
                        }
                        form.signout method="post" action="/logout" {
                            (csrf_field(user))
                            span.who { (user.account.address.to_unicode()) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden field carrying the session's CSRF token; every form has one.
pub fn csrf_field(user: &SignedIn) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.session.csrf); }
}

/// A notice above a page's content: `ok` is green, otherwise red.
pub fn notice(ok: bool, text: &str) -> Markup {
    html! { p class=(if ok { "notice ok" } else { "notice error" }) role="status" { (text) } }
}

/// A page as a response with `status`.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    (status, markup).into_response()
}

/// The 403 a form without the session's CSRF token gets.
pub fn csrf_refused() -> Response {
    crate::text(
        StatusCode::FORBIDDEN,
        "403 forbidden: the form's CSRF token is missing or wrong; reload the page and try again\n",
    )
}

/// The 403 a signed-in non-administrator gets on an admin page.
pub fn admin_only() -> Response {
    crate::text(
        StatusCode::FORBIDDEN,
        "403 forbidden: administrators only\n",
    )
}

/// What every posted form carries besides its own fields.
pub trait Form {
    /// The `csrf` field as posted.
    fn csrf(&self) -> &str;

    /// `Ok` when the form carries `user`'s session token; else the 403 response.
    #[allow(clippy::result_large_err)] // the error is the response a handler returns as is
    fn check(&self, user: &SignedIn) -> Result<(), Response> {
        if user.session.csrf_ok(self.csrf()) {
            Ok(())
        } else {
            tracing::warn!(user = %user.account.address, "form refused: bad CSRF token");
            Err(csrf_refused())
        }
    }
}

/// `GET /static/style.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLE_CSS,
    )
        .into_response()
}
