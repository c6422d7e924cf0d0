//! `/api/v1/accounts`: accounts with their display name, administrator flag and quota
//! (`postie user …`). Listing, creating and removing need an administrator; a user
//! may read their own account and change its password and display name.

use super::{AdminCaller, ApiJson, ApiPath, ApiResult, ErrorBody, audit, created, no_content};
use crate::WebState;
use crate::error::ApiError;
use crate::principal::{ApiCaller, Principal};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Deserializer, Serialize};
use store::{Account, Quota};
use utoipa::ToSchema;

/// An account's limits and usage. A `null` limit is unlimited.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaView {
    /// Most octets all its messages may take together; `null`: unlimited.
    pub storage_limit: Option<u64>,
    /// Most messages it may hold; `null`: unlimited.
    pub messages_limit: Option<u64>,
    /// Octets its messages take now.
    pub storage_used: u64,
    /// Messages it holds now.
    pub messages_used: u64,
}

/// An account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    /// Its address.
    #[schema(example = "alice@example.org")]
    pub address: String,
    /// Its display name, if it has one.
    #[schema(example = "Alice Liddell")]
    pub display_name: Option<String>,
    /// May administer the server.
    pub admin: bool,
    /// Its limits and usage.
    pub quota: QuotaView,
}

/// What makes an account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The address, in a local domain.
    #[schema(example = "alice@example.org")]
    pub address: String,
    /// Its password (not empty).
    pub password: String,
    /// A display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Make it an administrator (default `false`).
    #[serde(default)]
    pub admin: bool,
}

/// What to change of an account; absent fields stay as they are. A user changing
/// their own account may give only `password` and `display_name`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    /// A new password.
    #[serde(default)]
    pub password: Option<String>,
    /// A new display name; `null` (or `""`) clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    /// Administrator or not (administrators only).
    #[serde(default)]
    pub admin: Option<bool>,
    /// The storage limit in octets; `null` is unlimited (administrators only).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>)]
    pub storage_limit: Option<Option<u64>>,
    /// The message count limit; `null` is unlimited (administrators only).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>)]
    pub messages_limit: Option<Option<u64>>,
}

/// A field that is present, `null` or not: `Some(None)` for `null`, so that an absent
/// field (`None`, by `default`) differs from one set to `null`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `account` with its quota and usage, as the API shows it.
pub(crate) async fn view(state: &WebState, account: &Account) -> ApiResult<AccountView> {
    let quota = state.store.quota_get(account.id).await?;
    let usage = state.store.quota_usage(account.id).await?;
    Ok(AccountView {
        address: account.address.to_string(),
        display_name: account.display_name.clone(),
        admin: account.admin,
        quota: QuotaView {
            storage_limit: quota.storage,
            messages_limit: quota.messages,
            storage_used: usage.storage,
            messages_used: usage.messages,
        },
    })
}

/// `Ok` when `caller` may act on the account `address`: an administrator, or the
/// account itself. 400 for a malformed address, 403 for somebody else's.
pub(crate) fn own_or_admin(caller: &Principal, address: &str) -> ApiResult<()> {
    let address = admin::accounts::parse_address(address)?;
    if caller.is_admin() {
        return Ok(());
    }
    match caller.account() {
        Some(account) if account.address.normalized() == address.normalized() => Ok(()),
        _ => Err(ApiError::forbidden(
            "only an administrator may act on another account",
        )),
    }
}

/// True when `caller` is the account `account` (not a token).
fn is_self(caller: &Principal, account: &Account) -> bool {
    caller.account().is_some_and(|a| a.id == account.id)
}

/// `GET /api/v1/accounts`: every account, sorted by address.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "accounts",
    responses(
        (status = 200, description = "Every account", body = [AccountView]),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<WebState>,
    _admin: AdminCaller,
) -> ApiResult<Json<Vec<AccountView>>> {
    let accounts = state.store.account_list().await?;
    let mut out = Vec::with_capacity(accounts.len());
    for account in &accounts {
        out.push(view(&state, account).await?);
    }
    Ok(Json(out))
}

/// `POST /api/v1/accounts`: makes an account, which can log in at once. 201.
#[utoipa::path(
    post,
    path = "/api/v1/accounts",
    tag = "accounts",
    request_body = NewAccount,
    responses(
        (status = 201, description = "Made", body = AccountView),
        (status = 400, description = "A malformed address, a domain that is not local, an empty password, malformed JSON", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "The address is taken (account or alias)", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    ApiJson(body): ApiJson<NewAccount>,
) -> ApiResult<Response> {
    let account = admin::accounts::create(
        state.store.as_ref(),
        &body.address,
        &body.password,
        body.display_name.as_deref(),
        body.admin,
    )
    .await?;
    let address = account.address.to_string();
    audit(&caller, "account.add", &address);
    if body.admin {
        audit(&caller, "account.admin.on", &address);
    }
    Ok(created(view(&state, &account).await?))
}

/// `GET /api/v1/accounts/{address}`: one account (an administrator, or the account
/// itself).
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{address}",
    tag = "accounts",
    params(("address" = String, Path, description = "The account's address")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 400, description = "A malformed address", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Another user's account", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<WebState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(address): ApiPath<String>,
) -> ApiResult<Json<AccountView>> {
    own_or_admin(&caller, &address)?;
    let account = admin::accounts::get(state.store.as_ref(), &address).await?;
    Ok(Json(view(&state, &account).await?))
}

/// `PATCH /api/v1/accounts/{address}`: changes any of the password, display name,
/// administrator flag and limits. A user may change their own password and display
/// name only (403 for the rest).
#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{address}",
    tag = "accounts",
    params(("address" = String, Path, description = "The account's address")),
    request_body = AccountChange,
    responses(
        (status = 200, description = "The account as changed", body = AccountView),
        (status = 400, description = "A malformed address or field, an empty password, malformed JSON", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Another user's account, a field only an administrator may change, or an administrator's own flag", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<WebState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(address): ApiPath<String>,
    ApiJson(change): ApiJson<AccountChange>,
) -> ApiResult<Json<AccountView>> {
    own_or_admin(&caller, &address)?;
    let admin_only =
        change.admin.is_some() || change.storage_limit.is_some() || change.messages_limit.is_some();
    if admin_only {
        caller.require_admin()?;
    }
    let store = state.store.as_ref();
    let account = admin::accounts::get(store, &address).await?;
    if change.admin == Some(false) && is_self(&caller, &account) {
        return Err(ApiError::forbidden(
            "an administrator cannot take away their own flag (another administrator, \
             or `postie user admin ADDRESS off`, can)",
        ));
    }
    let target = account.address.to_string();
    if change.password.is_some() {
        caller.may_change_credentials_of(&account.address)?;
    }
    if let Some(password) = &change.password {
        admin::accounts::set_password(store, &target, password).await?;
        audit(&caller, "account.password", &target);
    }
    if let Some(name) = &change.display_name {
        admin::accounts::set_display_name(store, &target, name.as_deref()).await?;
        audit(&caller, "account.display_name", &target);
    }
    if let Some(flag) = change.admin {
        admin::accounts::set_admin(store, &target, flag).await?;
        let action = if flag {
            "account.admin.on"
        } else {
            "account.admin.off"
        };
        audit(&caller, action, &target);
    }
    if change.storage_limit.is_some() || change.messages_limit.is_some() {
        let current = store.quota_get(account.id).await?;
        let quota = Quota {
            storage: change.storage_limit.unwrap_or(current.storage),
            messages: change.messages_limit.unwrap_or(current.messages),
        };
        store.quota_set(&account.address, quota).await?;
        audit(&caller, "account.quota", &target);
    }
    let account = admin::accounts::account_of(store, &account.address).await?;
    Ok(Json(view(&state, &account).await?))
}

/// `DELETE /api/v1/accounts/{address}`: deletes the account, its mail and its
/// aliases. 204.
#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{address}",
    tag = "accounts",
    params(("address" = String, Path, description = "The account's address")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A malformed address", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator, or their own account", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub async fn remove(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    ApiPath(address): ApiPath<String>,
) -> ApiResult<Response> {
    let account = admin::accounts::get(state.store.as_ref(), &address).await?;
    if is_self(&caller, &account) {
        return Err(ApiError::forbidden(
            "an administrator cannot delete their own account (another administrator, \
             or `postie user remove`, can)",
        ));
    }
    let target = account.address.to_string();
    admin::accounts::remove(state.store.as_ref(), &target).await?;
    audit(&caller, "account.remove", &target);
    Ok(no_content())
}
