//! `/api/v1/accounts/{address}/app-passwords`: an account's app passwords (`postie
//! user app-password …`). An administrator, or the account itself.

use super::accounts::own_or_admin;
use super::{ApiJson, ApiPath, ApiResult, ErrorBody, audit, created, no_content};
use crate::WebState;
use crate::principal::ApiCaller;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An app password as listed (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppPasswordView {
    /// Its name (the device or program it is for).
    #[schema(example = "phone")]
    pub name: String,
    /// When it was made, unix seconds.
    pub created_at: i64,
    /// When it was last used to log in, unix seconds; `null`: never.
    pub last_used: Option<i64>,
}

/// What makes an app password.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppPassword {
    /// Its name: 1-64 characters, no control characters.
    #[schema(example = "phone")]
    pub name: String,
}

/// A new app password: shown this once, never again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedAppPassword {
    /// Its name.
    pub name: String,
    /// The password to give the device or program.
    pub password: String,
}

/// `GET /api/v1/accounts/{address}/app-passwords`: the account's app passwords, by
/// name.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{address}/app-passwords",
    tag = "accounts",
    params(("address" = String, Path, description = "The account's address")),
    responses(
        (status = 200, description = "Its app passwords", body = [AppPasswordView]),
        (status = 400, description = "A malformed address", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Another user's account", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<WebState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(address): ApiPath<String>,
) -> ApiResult<Json<Vec<AppPasswordView>>> {
    own_or_admin(&caller, &address)?;
    let account = admin::accounts::get(state.store.as_ref(), &address).await?;
    let listed = admin::app_passwords::list(state.store.as_ref(), &account).await?;
    Ok(Json(
        listed
            .into_iter()
            .map(|p| AppPasswordView {
                name: p.name,
                created_at: p.created_at,
                last_used: p.last_used,
            })
            .collect(),
    ))
}

/// `POST /api/v1/accounts/{address}/app-passwords` `{"name"}`: makes an app password
/// and returns it, the only time it is shown. 201; 409 when the account has one by
/// that name.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{address}/app-passwords",
    tag = "accounts",
    params(("address" = String, Path, description = "The account's address")),
    request_body = NewAppPassword,
    responses(
        (status = 201, description = "Made: the password is shown this once", body = CreatedAppPassword),
        (status = 400, description = "A malformed address, an unusable name, malformed JSON", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Another user's account", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The account has an app password by that name", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<WebState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(address): ApiPath<String>,
    ApiJson(body): ApiJson<NewAppPassword>,
) -> ApiResult<Response> {
    own_or_admin(&caller, &address)?;
    let account = admin::accounts::get(state.store.as_ref(), &address).await?;
    caller.may_change_credentials_of(&account.address)?;
    let password = admin::app_passwords::create(state.store.as_ref(), &account, &body.name).await?;
    audit(
        &caller,
        "app_password.create",
        &format!("{} {:?}", account.address, body.name),
    );
    Ok(created(CreatedAppPassword {
        name: body.name,
        password,
    }))
}

/// `DELETE /api/v1/accounts/{address}/app-passwords/{name}`: revokes it; logins with
/// it fail from now on. 204.
#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{address}/app-passwords/{name}",
    tag = "accounts",
    params(
        ("address" = String, Path, description = "The account's address"),
        ("name" = String, Path, description = "The app password's name"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "A malformed address", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Another user's account", body = ErrorBody),
        (status = 404, description = "No such account or app password", body = ErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<WebState>,
    ApiCaller(caller): ApiCaller,
    ApiPath((address, name)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    own_or_admin(&caller, &address)?;
    let account = admin::accounts::get(state.store.as_ref(), &address).await?;
    caller.may_change_credentials_of(&account.address)?;
    admin::app_passwords::revoke(state.store.as_ref(), &account, &name).await?;
    audit(
        &caller,
        "app_password.revoke",
        &format!("{} {name:?}", account.address),
    );
    Ok(no_content())
}
