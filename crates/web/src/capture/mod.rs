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

/// The capture routes.
pub fn routes() -> Router<WebState> {
    api::routes().merge(ui::routes())
}
