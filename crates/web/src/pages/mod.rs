//! The web pages (maud, rendered on the server, no JavaScript): sign-in, the account
//! pages every user has, and the admin pages. [`layout`] is the frame and the form
//! helpers (CSRF) they share.

use crate::WebState;
use axum::Router;
use axum::routing::get;

pub mod layout;

/// The pages' routes.
pub fn routes() -> Router<WebState> {
    Router::new().route(layout::STYLESHEET, get(layout::stylesheet))
}
