//! Capture mode's web face (`postie capture`, issue 17; docs/capture.md): the
//! Mailpit-compatible API under `/api/v1` ([`api`]), the long-poll `wait`, and the
//! browser UI ([`ui`]) with live updates. Served instead of the admin pages and API
//! when the server runs in capture mode ([`crate::WebState::capture`] is `Some`).
//!
//! Where it sits: captured mail is ordinary mail in the store, in the accounts
//! `NAME@capture.invalid` (one per inbox, `message::capture`); this module reads and
//! deletes it there, and hears of new mail through [`CaptureHooks::events`], which the
//! server bumps each time it files a captured message.

use crate::WebState;
use axum::Router;

pub mod api;
pub mod parsed;
pub mod ui;
pub mod view;

/// What the server gives the web face in capture mode.
#[derive(Clone)]
pub struct CaptureHooks {
    /// A counter the server increases after each captured message is filed (and after
    /// deletions): `wait` and the UI's event stream wake on its changes.
    pub events: tokio::sync::watch::Receiver<u64>,
    /// Called after the web face deleted captured mail (API or UI): the server moves
    /// the counter (so other browsers' lists refresh) and re-reads its count of kept
    /// messages (`capture.max_messages`) before it next prunes.
    pub deleted: std::sync::Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for CaptureHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureHooks")
            .field("events", &*self.events.borrow())
            .finish_non_exhaustive()
    }
}

/// Tells the server the web face deleted captured mail ([`CaptureHooks::deleted`]).
pub(crate) fn deleted(state: &WebState) {
    if let Some(hooks) = &state.capture {
        (hooks.deleted)();
    }
}

/// The capture routes, behind the [`host_check`].
pub fn routes(state: &WebState) -> Router<WebState> {
    api::routes()
        .merge(ui::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            host_check,
        ))
}

/// Capture mode has no sign-in (it is a developer's tool on loopback), so a web page
/// elsewhere must not reach it through the browser by DNS rebinding (a name of the
/// attacker's that resolves to 127.0.0.1): a request is served only when its `Host`
/// is an IP address, `localhost` (or a name under `.localhost`, RFC 6761 §6.3) or the
/// server's own `hostname`; anything else is 403. A request without `Host` (HTTP/1.0
/// tools) is served.
async fn host_check(
    axum::extract::State(state): axum::extract::State<WebState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .map(|v| v.to_str().unwrap_or("\u{0}").to_owned());
    if let Some(host) = host
        && !allowed_host(&host, &(state.config)().hostname)
    {
        tracing::info!(host = %host, "capture request refused: Host is not this machine");
        return crate::text(
            axum::http::StatusCode::FORBIDDEN,
            "403: capture mode answers only to an IP address, localhost or its hostname\n",
        );
    }
    next.run(request).await
}

/// Whether `host` (a `Host` header: name or address, optional port) names this
/// machine for [`host_check`].
fn allowed_host(host: &str, hostname: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        match rest.split_once(']') {
            Some((v6, _)) => return v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => return false,
        }
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
        || (!hostname.is_empty() && name == hostname.trim_end_matches('.').to_ascii_lowercase())
}

#[cfg(test)]
mod host_tests {
    use super::allowed_host;

    #[test]
    fn only_names_of_this_machine() {
        for ok in [
            "127.0.0.1:8025",
            "127.0.0.1",
            "[::1]:8025",
            "localhost:8025",
            "LOCALHOST",
            "app.localhost:8025",
            "10.0.0.5:8025",
            "devbox.lan:8025",
        ] {
            assert!(allowed_host(ok, "devbox.lan"), "{ok}");
        }
        for bad in [
            "evil.example:8025",
            "evil.example",
            "localhost.evil.example",
            "[not-v6]:1",
            "[::1",
            "",
        ] {
            assert!(!allowed_host(bad, "devbox.lan"), "{bad}");
        }
    }
}
