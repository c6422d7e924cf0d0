//! `GET /api/v1/me`: who the caller is.

use super::{ApiResult, ErrorBody};
use crate::principal::{ApiCaller, Principal};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The caller: an account, or an API token.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Me {
    /// An account (HTTP Basic).
    Account {
        /// Its address.
        address: String,
        /// Its display name, if it has one.
        display_name: Option<String>,
        /// May administer the server.
        admin: bool,
    },
    /// An API token (acts as an administrator).
    Token {
        /// The token's name.
        token: String,
    },
}

/// `GET /api/v1/me`: the caller.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "meta",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
    )
)]
pub async fn get(ApiCaller(caller): ApiCaller) -> ApiResult<Json<Me>> {
    Ok(Json(match caller {
        Principal::Account(account) | Principal::AppPassword(account) => Me::Account {
            address: account.address.to_string(),
            display_name: account.display_name,
            admin: account.admin,
        },
        Principal::Token(token) => Me::Token { token: token.name },
    }))
}
