//! The web pages (maud, rendered on the server, no JavaScript): sign-in, the account
//! pages every user has, and the admin pages. [`layout`] is the frame and the form
//! helpers (CSRF) they share.
//!
//! Where it sits: [`routes`] is merged into [`crate::router`]. The pages read who is
//! asking through [`crate::principal::SignedIn`] (a redirect to `/login` without a
//! session) and the connection through [`Conn`]; posted forms arrive through
//! [`Posted`], an `application/x-www-form-urlencoded` body bounded by
//! [`crate::MAX_BODY`] and read into a plain struct, whose `csrf` field
//! [`layout::Form::check`] compares with the session's token (403 otherwise).
//!
//! Security stance: every page is for the signed-in account's own data only (the
//! account comes from the session, never from a field of the request); every value
//! shown goes through maud's escaping; no form is acted on without its CSRF token.

use crate::WebState;
use crate::principal::ConnInfo;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;

pub mod account;
pub mod admin;
pub mod app_passwords;
pub mod layout;
pub mod mobileconfig;
pub mod qr;
pub mod setup;
pub mod sign_in;

#[cfg(test)]
mod tests;

/// The pages' routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route(layout::STYLESHEET, get(layout::stylesheet))
        .merge(sign_in::routes())
        .merge(account::routes())
        .merge(app_passwords::routes())
        .merge(setup::routes())
        .merge(mobileconfig::routes())
        .merge(admin::routes())
}

/// The connection a page request came on ([`ConnInfo::of`]: a loopback placeholder
/// when the request did not come through [`crate::serve::connection`]).
#[derive(Debug, Clone, Copy)]
pub struct Conn(pub ConnInfo);

impl<S: Send + Sync> FromRequestParts<S> for Conn {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Conn, Self::Rejection> {
        Ok(Conn(ConnInfo::of(parts)))
    }
}

/// A posted HTML form (`application/x-www-form-urlencoded`, WHATWG URL §5.1) read into
/// `T`, a struct of `String` fields (give it `#[serde(default)]` so that a missing
/// `csrf` is the empty string and gets the 403 rather than a 400). 415 for another
/// content type, 400 for a body that does not decode or repeats a field; the body is
/// at most [`crate::MAX_BODY`] (413 past it). A post with no body and no content type
/// is an empty form (so it gets the CSRF check's 403).
#[derive(Debug, Clone)]
pub struct Posted<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Posted<T>, Response> {
        let content_type = request.headers().get(header::CONTENT_TYPE);
        let empty = content_type.is_none()
            && request
                .headers()
                .get(header::CONTENT_LENGTH)
                .is_none_or(|v| v.as_bytes() == b"0");
        let urlencoded = content_type
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !urlencoded && !empty {
            return Err(crate::text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "415: post the form as application/x-www-form-urlencoded\n",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        // serde_urlencoded (axum's own form decoder): a repeated field is a
        // "duplicate field" error for a struct, so it is refused too.
        serde_urlencoded::from_bytes::<T>(&body)
            .map(Posted)
            .map_err(|_| crate::text(StatusCode::BAD_REQUEST, "400: the form does not decode\n"))
    }
}

/// Adds a `Set-Cookie` header to `response`.
pub fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Marks `response` as not to be kept by any cache (a page showing a secret).
pub fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The value of cookie `name` among the request's `Cookie` headers.
pub fn request_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| crate::session::cookie_value(h, name))
}

/// A size in octets for people: `512 B`, `1.5 KiB`, `20.0 MiB`.
pub fn human_size(octets: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if octets < 1024 {
        return format!("{octets} B");
    }
    let mut value = octets as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A unix time for people, in UTC: `2026-12-05 17:38 UTC`.
pub fn human_time(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => unix.to_string(),
    }
}
