//! `/api/v1/aliases`: addresses whose mail goes to an account (`postie alias …`).
//! Administrators only.

use super::AdminCaller;
use super::{ApiJson, ApiPath, ApiResult, ErrorBody, audit, created, no_content};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An alias and the account its mail goes to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasBody {
    /// The alias, in a local domain.
    #[schema(example = "postmaster@example.org")]
    pub alias: String,
    /// The account its mail goes to.
    #[schema(example = "alice@example.org")]
    pub target: String,
}

/// `GET /api/v1/aliases`: every alias, sorted.
#[utoipa::path(
    get,
    path = "/api/v1/aliases",
    tag = "aliases",
    responses(
        (status = 200, description = "Every alias", body = [AliasBody]),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<WebState>,
    _admin: AdminCaller,
) -> ApiResult<Json<Vec<AliasBody>>> {
    let aliases = state.store.alias_list().await?;
    Ok(Json(
        aliases
            .iter()
            .map(|(alias, target)| AliasBody {
                alias: alias.to_string(),
                target: target.to_string(),
            })
            .collect(),
    ))
}

/// `POST /api/v1/aliases` `{"alias", "target"}`: 201; 400 when the alias's domain is
/// not local or the target is not an account; 409 when the alias is taken.
#[utoipa::path(
    post,
    path = "/api/v1/aliases",
    tag = "aliases",
    request_body = AliasBody,
    responses(
        (status = 201, description = "Added", body = AliasBody),
        (status = 400, description = "A malformed address, a domain that is not local, a target that is not an account", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "The alias is already an alias or an account", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    ApiJson(body): ApiJson<AliasBody>,
) -> ApiResult<Response> {
    let alias = admin::accounts::parse_address(&body.alias)?;
    let target = admin::accounts::parse_address(&body.target)?;
    state.store.alias_add(&alias, &target).await?;
    audit(&caller, "alias.add", &format!("{alias} -> {target}"));
    Ok(created(AliasBody {
        alias: alias.to_string(),
        target: target.to_string(),
    }))
}

/// `DELETE /api/v1/aliases/{alias}`: 204; 404 when there is no such alias.
#[utoipa::path(
    delete,
    path = "/api/v1/aliases/{alias}",
    tag = "aliases",
    params(("alias" = String, Path, description = "The alias")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "A malformed address", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such alias", body = ErrorBody),
    )
)]
pub async fn remove(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    ApiPath(alias): ApiPath<String>,
) -> ApiResult<Response> {
    let alias = admin::accounts::parse_address(&alias)?;
    state.store.alias_remove(&alias).await?;
    audit(&caller, "alias.remove", &alias.to_string());
    Ok(no_content())
}
