//! The capture UI.

use crate::WebState;
use axum::Router;

/// The routes.
pub fn routes() -> Router<WebState> {
    Router::new()
}
