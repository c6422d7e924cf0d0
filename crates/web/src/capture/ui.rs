//! The capture UI (issue 17, docs/capture.md "UI"): the browser face of `postie
//! capture`. Server-rendered pages (maud): the list of captured mail (`GET /`, with
//! the inbox switcher, search and paging), one message (`GET /view/{ID}`, with tabs
//! for the HTML, text, headers, raw source, MIME tree and attachments), delete one or
//! all; and the live updates: `GET /events` (server-sent events) and the one script,
//! `/static/capture.js`, that listens to it.
//!
//! Where it sits: merged into [`crate::capture::routes`] beside the API; reads and
//! deletes captured mail through [`crate::capture::view`] and shows messages parsed
//! by [`crate::capture::parsed`]; hears of new mail through
//! [`crate::capture::CaptureHooks::events`].
//!
//! Security stance: capture mode has no sign-in (it listens on loopback), so the
//! pages show every inbox to whoever can connect. Everything shown is a stranger's
//! text and goes through maud's escaping; a message's HTML is never put into our
//! pages: it is served alone at `/view/{ID}/html` with its own CSP (no scripts,
//! nothing remote unless `?remote=1`, then remote images only) and shown in an
//! `<iframe sandbox="">` (no scripts, an opaque origin). The posted forms carry a
//! per-process random token ([`csrf_token`]; 403 without it), so a page on another
//! site cannot delete mail through the developer's browser. The pages' CSP
//! ([`PAGE_CSP`]) allows our own script and stylesheet only.

use crate::WebState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

#[path = "ui_data.rs"]
mod data;
#[path = "ui_pages.rs"]
mod pages;

#[cfg(test)]
#[path = "ui_tests.rs"]
mod tests;

/// The capture pages' stylesheet, served at [`STYLESHEET`].
pub const CAPTURE_CSS: &str = include_str!("../../static/capture.css");
/// The capture pages' one script (live updates), served at [`SCRIPT`].
pub const CAPTURE_JS: &str = include_str!("../../static/capture.js");
/// Where the stylesheet is served.
pub const STYLESHEET: &str = "/static/capture.css";
/// Where the script is served.
pub const SCRIPT: &str = "/static/capture.js";

/// The CSP of the UI's pages: our own script, stylesheet and event stream, images of
/// our own or `data:`, frames of our own (the message HTML), forms posting here, never
/// framed, no `<base>`.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The CSP of a message's HTML (`/view/{ID}/html`): no scripts, no requests, its own
/// inline style, images inline only; framed by our page only.
pub const HTML_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:; frame-ancestors 'self'";

/// [`HTML_CSP`] once the developer asked for remote images (`?remote=1`).
pub const HTML_CSP_REMOTE: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data: cid: https: http:; frame-ancestors 'self'";

/// How long one event stream lasts: under [`crate::serve::CONNECTION_DEADLINE`]
/// (60 s), which ends every connection; the browser's EventSource reconnects by itself.
pub const EVENTS_LIFETIME: Duration = Duration::from_secs(55);

/// A comment on the event stream this often keeps proxies and the browser from
/// thinking it dead.
pub const EVENTS_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long the browser waits before reconnecting once a stream ends (the `retry:`
/// field of the first event).
pub const EVENTS_RETRY: Duration = Duration::from_secs(1);

/// Messages per page of the list.
pub const PAGE_SIZE: usize = 50;

/// The routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(pages::list))
        .route("/view/{id}", get(pages::message))
        .route("/view/{id}/html", get(pages::message_html))
        .route("/view/{id}/delete", post(pages::delete_one))
        .route("/delete-all", post(pages::delete_all))
        .route("/events", get(events))
        .route(STYLESHEET, get(stylesheet))
        .route(SCRIPT, get(script))
}

/// The per-process token every form of the UI carries (128 random bits, made on first
/// use): no session here, but a page elsewhere cannot read it, so it cannot post our
/// forms.
pub fn csrf_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(crate::session::random_token)
}

/// True when `presented` is [`csrf_token`] (compared in constant time).
pub fn csrf_ok(presented: &str) -> bool {
    crate::session::constant_time_eq(csrf_token().as_bytes(), presented.as_bytes())
}

/// The hidden field carrying [`csrf_token`].
fn csrf_field() -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf_token()); }
}

/// A posted form of the UI: the token and, for "delete all", the inbox.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UiForm {
    /// [`csrf_token`].
    pub csrf: String,
    /// "Delete all": the inbox to empty; empty for every inbox.
    pub inbox: String,
}

/// `Ok` when `form` carries [`csrf_token`]; else the 403.
#[allow(clippy::result_large_err)] // the error is the response the handler returns
fn check(form: &UiForm) -> Result<(), Response> {
    if csrf_ok(&form.csrf) {
        Ok(())
    } else {
        tracing::warn!("capture UI form refused: bad CSRF token");
        Err(crate::pages::layout::csrf_refused())
    }
}

/// A whole page of the UI: `title`, the inbox switcher (`inboxes`, `current`), the
/// search box (`query`), `body`; `counter` is the event counter it was made at (the
/// script reloads the list when the server's moves past it).
fn frame(title: &str, nav: &pages::Nav, body: Markup, live_list: bool, counter: u64) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Postie capture" }
                link rel="stylesheet" href=(STYLESHEET);
                script src=(SCRIPT) defer {}
            }
            body {
                header {
                    a.brand href="/" { "Postie capture" }
                    form.search method="get" action="/" role="search" {
                        @if let Some(inbox) = &nav.inbox {
                            input type="hidden" name="inbox" value=(inbox);
                        }
                        input type="search" name="query" value=(nav.query)
                            placeholder="Search: words, subject:, from:, to:"
                            aria-label="Search";
                        button type="submit" { "Search" }
                    }
                    span.live #live { "" }
                }
                div.layout {
                    nav.inboxes aria-label="Inboxes" {
                        h2 { "Inboxes" }
                        ul {
                            li {
                                a href="/" class=[nav.inbox.is_none().then_some("current")] { "All" }
                            }
                            @for name in &nav.inboxes {
                                li {
                                    a href={ "/?inbox=" (pages::url_encode(name)) }
                                        class=[(nav.inbox.as_deref() == Some(name.as_str())).then_some("current")] {
                                        (name)
                                    }
                                }
                            }
                        }
                    }
                    main data-live-list=[live_list.then_some("")] data-counter=(counter) {
                        (body)
                    }
                }
            }
        }
    };
    page_response(StatusCode::OK, markup)
}

/// `markup` as a response with the UI's CSP.
fn page_response(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A 303 to `to` after a form.
fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The event counter now (0 without capture hooks).
fn counter(state: &WebState) -> u64 {
    state.capture.as_ref().map_or(0, |c| *c.events.borrow())
}

/// `GET /events`: `text/event-stream`. First an `event: change` with the counter as it
/// is now (so a page rendered before a change it missed reloads), then one each time
/// the counter changes; a keep-alive comment every [`EVENTS_KEEP_ALIVE`]; the stream
/// ends after [`EVENTS_LIFETIME`] (the browser reconnects).
async fn events(State(state): State<WebState>) -> Response {
    let Some(hooks) = state.capture.clone() else {
        return crate::text(StatusCode::NOT_FOUND, "not found\n");
    };
    let mut rx = hooks.events;
    let now = *rx.borrow_and_update();
    let deadline = tokio::time::Instant::now() + EVENTS_LIFETIME;
    let stream = futures_util::stream::unfold((rx, Some(now)), move |(mut rx, first)| async move {
        if let Some(value) = first {
            let event = change(value).retry(EVENTS_RETRY);
            return Some((Ok::<Event, Infallible>(event), (rx, None)));
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {
                let value = *rx.borrow_and_update();
                Some((Ok(change(value)), (rx, None)))
            }
            // The deadline, or the server dropped its sender (stopping).
            _ => None,
        }
    });
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(EVENTS_KEEP_ALIVE))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The `change` event carrying `value`.
fn change(value: u64) -> Event {
    Event::default().event("change").data(value.to_string())
}

/// `GET /static/capture.css`.
async fn stylesheet() -> Response {
    static_asset("text/css; charset=utf-8", CAPTURE_CSS)
}

/// `GET /static/capture.js`.
async fn script() -> Response {
    static_asset("text/javascript; charset=utf-8", CAPTURE_JS)
}

fn static_asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Query of the list page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    /// Only this inbox.
    pub inbox: Option<String>,
    /// A search (the API's syntax).
    pub query: Option<String>,
    /// Messages to skip (paging).
    pub start: Option<usize>,
}

/// Query of the message page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ViewQuery {
    /// The tab shown: `html`, `text`, `headers`, `raw`, `mime`, `attachments`.
    pub tab: Option<String>,
    /// `1`: remote images allowed in the HTML.
    pub remote: Option<String>,
}
