//! The HTTP API under `/api/v1` (docs/web.md): JSON, authenticated by
//! [`crate::principal::ApiCaller`].

use crate::WebState;
use axum::Router;

/// The API's routes.
pub fn routes() -> Router<WebState> {
    Router::new()
}
