//! Postie's web face (issue 16, first slice): `GET /healthz`, mail-client
//! autoconfiguration (Thunderbird autoconfig v1.1, Outlook Autodiscover POX), the
//! MTA-STS policy of the local domains ([`mta_sts`]) and the Prometheus text at
//! `GET /metrics`. See `docs/web.md`.
//!
//! Where it sits: beside the mail listeners. The `server` crate binds `listen.http`
//! and `listen.https`, accepts within a per-listener connection pool, does the TLS
//! handshake with the mail listeners' certificate, and hands each connection to
//! [`serve::connection`], which runs HTTP/1.1 over [`router`]. This crate never
//! depends on `server`: what it needs from it comes in [`WebState`].
//!
//! Security stance: talks to the network (unauthenticated clients). Reads the store
//! (is this domain local?) and writes nothing. Every input is bounded: request heads
//! by hyper's limits and a read deadline, the one request body read (Autodiscover) by
//! [`autodiscover::MAX_BODY`], each connection by a whole-connection deadline; the
//! Autodiscover parser is a flat scan, never recursive. Every value written into a
//! document is XML-escaped ([`xml::escape`]). Every response carries
//! `Content-Security-Policy: default-src 'none'`, `X-Frame-Options: DENY` and
//! `X-Content-Type-Options: nosniff`.

pub mod acme_challenge;
pub mod api;
pub mod autoconfig;
pub mod autodiscover;
pub mod capture;
pub mod error;
pub mod login;
pub mod mta_sts;
pub mod pages;
pub mod principal;
pub mod serve;
pub mod session;
pub mod status;
pub mod xml;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

/// The web face's routes, as [`router`] makes them ([`serve::connection`] serves them).
pub use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use store::Store;

/// The ports of the mail listeners as bound (the first address of each), so that the
/// documents name the real ports even when the config asked for port 0. `None`: that
/// listener is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailPorts {
    /// The first `listen.imaps` address's port.
    pub imaps: Option<u16>,
    /// The first `listen.pop3s` address's port.
    pub pop3s: Option<u16>,
    /// The first `listen.submissions` address's port.
    pub submissions: Option<u16>,
}

/// What every request handler shares: given by the server when it starts the web
/// listeners.
#[derive(Clone)]
pub struct WebState {
    /// The store (local domains).
    pub store: Arc<dyn Store>,
    /// The configuration in force now (a reload changes what this returns).
    pub config: Arc<dyn Fn() -> Arc<config::Config> + Send + Sync>,
    /// The mail listeners' bound ports.
    pub ports: MailPorts,
    /// The Prometheus text exposition of the server's metrics, for `GET /metrics`.
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
    /// Checks a password through the server's failed-login throttle.
    pub login: login::LoginFn,
    /// The running server's listeners, start time and latest delivery outcomes.
    pub status: Arc<dyn Fn() -> status::ServerStatus + Send + Sync>,
    /// The signed-in browser sessions.
    pub sessions: Arc<session::Sessions>,
    /// Capture mode (`postie capture`): the hooks of the capture UI and API, which
    /// then replace the admin pages and API. `None` for a normal server.
    pub capture: Option<capture::CaptureHooks>,
}

impl WebState {
    /// The ports the documents name: `[autoconfig]` overrides, else the bound ports.
    pub fn advertised_ports(&self) -> MailPorts {
        let a = (self.config)().autoconfig.clone();
        MailPorts {
            imaps: a.imaps_port.or(self.ports.imaps),
            pop3s: a.pop3s_port.or(self.ports.pop3s),
            submissions: a.submissions_port.or(self.ports.submissions),
        }
    }
}

/// The largest request body any handler reads (forms, API JSON): 64 KiB. Autodiscover
/// has its own smaller bound.
pub const MAX_BODY: usize = 64 * 1024;

/// The Content-Security-Policy of every response: nothing loads but this server's
/// own stylesheet and images (the setup page's QR code is inline SVG), no scripts at
/// all, forms post only here, no framing, no `<base>` (CSP Level 3).
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The routes of the web face over `state`, with the security headers on every
/// response.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route(
            "/.well-known/acme-challenge/{token}",
            get(acme_challenge::handler),
        )
        // The Thunderbird autoconfig URLs: on the domain's own web server
        // (`/.well-known/autoconfig/…`) and on `autoconfig.DOMAIN` (`/mail/…`).
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(autoconfig::handler),
        )
        .route("/mail/config-v1.1.xml", get(autoconfig::handler))
        // Our MTA-STS policy, on `mta-sts.DOMAIN` (RFC 8461 §3.3).
        .route(mailauth::sts_publish::POLICY_PATH, get(mta_sts::handler))
        // Outlook asks both spellings (the path is case-sensitive here).
        .route(
            "/autodiscover/autodiscover.xml",
            post(autodiscover::handler),
        )
        .route(
            "/Autodiscover/Autodiscover.xml",
            post(autodiscover::handler),
        )
        .merge(if state.capture.is_some() {
            capture::routes(&state)
        } else {
            api::routes().merge(pages::routes())
        })
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// `GET /healthz`: the process answers HTTP. 200 `ok`.
async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n")
}

/// `GET /metrics`: the Prometheus text format, version 0.0.4.
async fn metrics(axum::extract::State(state): axum::extract::State<WebState>) -> Response {
    let body = (state.metrics)();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        body,
    )
        .into_response()
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found\n")
}

/// A plain-text response.
pub(crate) fn text(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// An XML document response.
pub(crate) fn xml_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// The headers every response carries: nothing in it may run scripts or load anything
/// but our stylesheet ([`CSP`]), be framed (RFC 7034), be sniffed into another type
/// (Fetch standard, `nosniff`), or leak its URL to another site (`Referrer-Policy`).
/// A handler that sets its own `Content-Security-Policy` or `X-Frame-Options` keeps
/// it (the capture UI: its script, and the sandboxed message HTML framed by its page).
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
