//! `/api/v1/domains`: the local domains (`postie domain list|add|remove`).
//! Administrators only.

use super::AdminCaller;
use super::{ApiJson, ApiPath, ApiResult, ErrorBody, audit, created, no_content};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A local domain.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainBody {
    /// The domain name (an IDN is kept in its A-label form).
    #[schema(example = "example.org")]
    pub domain: String,
}

/// `GET /api/v1/domains`: every local domain, sorted.
#[utoipa::path(
    get,
    path = "/api/v1/domains",
    tag = "domains",
    responses(
        (status = 200, description = "The local domains", body = [DomainBody]),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<WebState>,
    _admin: AdminCaller,
) -> ApiResult<Json<Vec<DomainBody>>> {
    let domains = state.store.domain_list().await?;
    Ok(Json(
        domains
            .iter()
            .map(|d| DomainBody {
                domain: d.as_str().to_owned(),
            })
            .collect(),
    ))
}

/// `POST /api/v1/domains` `{"domain"}`: makes a domain local. 201; 409 when it is
/// already.
#[utoipa::path(
    post,
    path = "/api/v1/domains",
    tag = "domains",
    request_body = DomainBody,
    responses(
        (status = 201, description = "Added", body = DomainBody),
        (status = 400, description = "Not a domain, or malformed JSON", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "Already a local domain", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    ApiJson(body): ApiJson<DomainBody>,
) -> ApiResult<Response> {
    let domain = admin::accounts::parse_domain(&body.domain)?;
    state.store.domain_add(&domain).await?;
    audit(&caller, "domain.add", domain.as_str());
    Ok(created(DomainBody {
        domain: domain.as_str().to_owned(),
    }))
}

/// `DELETE /api/v1/domains/{domain}`: stops being local for a domain. 204; 400 while
/// it still has accounts or aliases; 404 when it is not local.
#[utoipa::path(
    delete,
    path = "/api/v1/domains/{domain}",
    tag = "domains",
    params(("domain" = String, Path, description = "The domain")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Not a domain, or it still has accounts or aliases", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "Not a local domain", body = ErrorBody),
    )
)]
pub async fn remove(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    ApiPath(domain): ApiPath<String>,
) -> ApiResult<Response> {
    let domain = admin::accounts::parse_domain(&domain)?;
    state.store.domain_remove(&domain).await?;
    audit(&caller, "domain.remove", domain.as_str());
    Ok(no_content())
}
