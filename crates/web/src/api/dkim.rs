//! `/api/v1/dkim`: the DKIM signing keys of the local domains (`postie dkim …`).
//! Administrators only.

use super::AdminCaller;
use super::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody, audit, created, no_content};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use mailauth::KeyInfo;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A DKIM key (its public half, as published).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DkimKeyView {
    /// The signing domain.
    #[schema(example = "example.org")]
    pub domain: String,
    /// The selector.
    #[schema(example = "202612e")]
    pub selector: String,
    /// `ed25519` or `rsa`.
    #[schema(example = "ed25519")]
    pub algorithm: String,
    /// The name of its TXT record: `SELECTOR._domainkey.DOMAIN`.
    pub record_name: String,
    /// The TXT record's text: `v=DKIM1; k=…; p=…`.
    pub record: String,
}

impl DkimKeyView {
    fn of(key: &KeyInfo) -> DkimKeyView {
        DkimKeyView {
            domain: key.domain.clone(),
            selector: key.selector.clone(),
            algorithm: key.algorithm.key_type().to_owned(),
            record_name: key.record_name(),
            record: key.record.clone(),
        }
    }
}

/// The listing's filter.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DkimFilter {
    /// Only this domain's keys.
    pub domain: Option<String>,
}

/// What to generate keys for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDkimKeys {
    /// A local domain.
    #[schema(example = "example.org")]
    pub domain: String,
}

/// `GET /api/v1/dkim[?domain=D]`: the keys, by domain, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/dkim",
    tag = "dkim",
    params(DkimFilter),
    responses(
        (status = 200, description = "The keys", body = [DkimKeyView]),
        (status = 400, description = "Not a domain", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<WebState>,
    _admin: AdminCaller,
    ApiQuery(filter): ApiQuery<DkimFilter>,
) -> ApiResult<Json<Vec<DkimKeyView>>> {
    let config = (state.config)();
    let keys = admin::dkim::list(
        &config,
        Some(state.store.as_ref()),
        filter.domain.as_deref(),
    )
    .await?;
    Ok(Json(keys.iter().map(DkimKeyView::of).collect()))
}

/// `POST /api/v1/dkim` `{"domain"}`: makes an Ed25519 and an RSA key for a local
/// domain, the newest of each kind signing from now on. 201 with the keys made.
#[utoipa::path(
    post,
    path = "/api/v1/dkim",
    tag = "dkim",
    request_body = NewDkimKeys,
    responses(
        (status = 201, description = "The keys made: publish their records", body = [DkimKeyView]),
        (status = 400, description = "Not a local domain, malformed JSON", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
pub async fn generate(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    ApiJson(body): ApiJson<NewDkimKeys>,
) -> ApiResult<Response> {
    let config = (state.config)();
    let made = admin::dkim::generate(&config, state.store.as_ref(), &body.domain).await?;
    for key in &made {
        audit(
            &caller,
            "dkim.generate",
            &format!("{} {}", key.domain, key.selector),
        );
    }
    Ok(created(
        made.iter().map(DkimKeyView::of).collect::<Vec<_>>(),
    ))
}

/// `DELETE /api/v1/dkim/{domain}/{selector}`: deletes a key. 204; 404 when there is
/// none. Remove its DNS record only once mail signed with it is delivered.
#[utoipa::path(
    delete,
    path = "/api/v1/dkim/{domain}/{selector}",
    tag = "dkim",
    params(
        ("domain" = String, Path, description = "The signing domain"),
        ("selector" = String, Path, description = "The key's selector"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A malformed domain or selector", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
    )
)]
pub async fn remove(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    ApiPath((domain, selector)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let config = (state.config)();
    admin::dkim::remove(&config, Some(state.store.as_ref()), &domain, &selector).await?;
    audit(&caller, "dkim.remove", &format!("{domain} {selector}"));
    Ok(no_content())
}
