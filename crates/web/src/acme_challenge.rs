//! ACME HTTP-01 (RFC 8555 §8.3): `GET /.well-known/acme-challenge/TOKEN` answers the
//! key authorization of a pending challenge, as `application/octet-stream`.
//!
//! Where it sits: a route of [`crate::router`], so it is on the `http` listener (where
//! the CA connects, port 80) and on `https` too. Whoever orders a certificate (the
//! server's renewal task or `postie cert renew`) puts the key authorization in the
//! store under [`store_key`] before telling the CA it is ready and removes it after,
//! so any node sharing the store can answer. Reads the store, writes nothing; the
//! token is checked (base64url, RFC 8555 §8.3: at least 128 bits) before the lookup.

use crate::WebState;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The longest token looked up; Let's Encrypt's are 43 characters.
pub const MAX_TOKEN: usize = 128;

/// The store key of the key authorization for `token`.
pub fn store_key(token: &str) -> String {
    format!("acme/http-01/{token}")
}

/// Whether `token` could be an ACME token: base64url characters only (RFC 8555
/// §8.3), 1 to [`MAX_TOKEN`] of them.
pub fn plausible_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /.well-known/acme-challenge/{token}`: 200 with the key authorization, 404
/// for a token nobody is waiting for, 503 when the store cannot say.
pub async fn handler(State(state): State<WebState>, Path(token): Path<String>) -> Response {
    if !plausible_token(&token) {
        return crate::text(StatusCode::NOT_FOUND, "no such challenge\n");
    }
    match state.store.value_get(&store_key(&token)).await {
        Ok(Some(value)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            value,
        )
            .into_response(),
        Ok(None) => crate::text(StatusCode::NOT_FOUND, "no such challenge\n"),
        Err(e) => {
            tracing::warn!(error = %e, "ACME HTTP-01: cannot read the store");
            crate::text(StatusCode::SERVICE_UNAVAILABLE, "try again later\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_base64url_and_bounded() {
        assert!(plausible_token(
            "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
        ));
        assert!(!plausible_token(""));
        assert!(!plausible_token("../acme/account"));
        assert!(!plausible_token("a/b"));
        assert!(!plausible_token(&"a".repeat(MAX_TOKEN + 1)));
    }
}
