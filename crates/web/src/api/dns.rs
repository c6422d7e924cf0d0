//! `/api/v1/domains/{domain}/dns[/check]`: the records a local domain should publish
//! (`postie dns records`) and what DNS has of them now (`postie dns check`).
//! Administrators only.

use super::AdminCaller;
use super::{ApiPath, ApiResult, ErrorBody};
use crate::WebState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mailauth::check::Status;
use mailauth::records::{Data, Record, TTL};
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// How long the live check may take in all (the admin page waits as long): the
/// request answers within the connection's deadline however slow the resolvers are.
pub const CHECK_DEADLINE: Duration = Duration::from_secs(10);

/// One record to publish.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DnsRecord {
    /// The owner name, without the final dot.
    #[schema(example = "example.org")]
    pub name: String,
    /// The record type: `MX`, `TXT`, `SRV` or `CNAME`.
    #[serde(rename = "type")]
    #[schema(example = "MX")]
    pub kind: String,
    /// The TTL to publish it with, in seconds.
    #[schema(example = 3600)]
    pub ttl: u32,
    /// The data: a TXT record's text as it is (unquoted), the others in zone-file
    /// syntax (`10 mail.example.org.`).
    #[schema(example = "10 mail.example.org.")]
    pub value: String,
    /// What it is for, when there is something to say.
    pub comment: Option<String>,
}

impl DnsRecord {
    fn of(record: &Record) -> DnsRecord {
        DnsRecord {
            name: record.name.clone(),
            kind: record.type_name().to_owned(),
            ttl: TTL,
            value: match &record.data {
                Data::Txt(text) => text.clone(),
                other => other.to_string(),
            },
            comment: record.comment.clone(),
        }
    }
}

/// The records a domain should publish.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DnsRecords {
    /// The domain.
    pub domain: String,
    /// Every record, in the order to show them.
    pub records: Vec<DnsRecord>,
    /// A note when something is missing on this side (no DKIM keys yet).
    pub note: Option<String>,
}

/// One record and what DNS has of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckedRecord {
    /// The record that should be published.
    #[serde(flatten)]
    pub record: DnsRecord,
    /// `ok`, `missing`, `wrong` (published differently: see `found`) or `error` (the
    /// look-up failed: see `why`).
    #[schema(example = "ok")]
    pub status: String,
    /// With `wrong`: what DNS has instead.
    pub found: Option<String>,
    /// With `error`: why the look-up failed.
    pub why: Option<String>,
}

/// A domain's records with their live status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DnsCheck {
    /// The domain.
    pub domain: String,
    /// Every record, in the order to show them.
    pub records: Vec<CheckedRecord>,
    /// True when every record is `ok`.
    pub all_ok: bool,
}

/// The expected records of `domain`, which must be local (404 otherwise).
async fn expected(state: &WebState, domain: &str) -> ApiResult<(String, admin::dns::Records)> {
    let parsed = admin::accounts::parse_domain(domain)?;
    if !state.store.domain_is_local(&parsed).await? {
        return Err(ApiError::not_found(format!(
            "{} is not a local domain",
            parsed.as_str()
        )));
    }
    let config = (state.config)();
    let records = admin::dns::records(&config, Some(state.store.as_ref()), parsed.as_str()).await?;
    Ok((parsed.as_str().to_owned(), records))
}

/// `GET /api/v1/domains/{domain}/dns`: the records the domain should publish (MX,
/// SPF, DKIM, DMARC, the SRV and autoconfiguration names).
#[utoipa::path(
    get,
    path = "/api/v1/domains/{domain}/dns",
    tag = "domains",
    params(("domain" = String, Path, description = "A local domain")),
    responses(
        (status = 200, description = "The records to publish", body = DnsRecords),
        (status = 400, description = "Not a domain", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "Not a local domain", body = ErrorBody),
    )
)]
pub async fn records(
    State(state): State<WebState>,
    _admin: AdminCaller,
    ApiPath(domain): ApiPath<String>,
) -> ApiResult<Json<DnsRecords>> {
    let (domain, records) = expected(&state, &domain).await?;
    Ok(Json(DnsRecords {
        domain,
        records: records.records.iter().map(DnsRecord::of).collect(),
        note: records.note,
    }))
}

/// `GET /api/v1/domains/{domain}/dns/check`: each record with what DNS has now,
/// through the resolvers of `[dns] nameservers`.
#[utoipa::path(
    get,
    path = "/api/v1/domains/{domain}/dns/check",
    tag = "domains",
    params(("domain" = String, Path, description = "A local domain")),
    responses(
        (status = 200, description = "Each record with its status", body = DnsCheck),
        (status = 400, description = "Not a domain", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "Not a local domain", body = ErrorBody),
        (status = 504, description = "The check took longer than 10 s", body = ErrorBody),
    )
)]
pub async fn check(
    State(state): State<WebState>,
    _admin: AdminCaller,
    ApiPath(domain): ApiPath<String>,
) -> ApiResult<Json<DnsCheck>> {
    let (domain, records) = expected(&state, &domain).await?;
    let config = (state.config)();
    let checked =
        tokio::time::timeout(CHECK_DEADLINE, admin::dns::check(&config, &records.records))
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the DNS check timed out (see [dns] nameservers)",
                )
            })??;
    let records: Vec<CheckedRecord> = checked
        .iter()
        .map(|c| {
            let (found, why) = match &c.status {
                Status::Wrong(found) => (Some(found.clone()), None),
                Status::Error(why) => (None, Some(why.clone())),
                Status::Ok | Status::Missing => (None, None),
            };
            CheckedRecord {
                record: DnsRecord::of(&c.record),
                status: c.status.word().to_ascii_lowercase(),
                found,
                why,
            }
        })
        .collect();
    Ok(Json(DnsCheck {
        domain,
        all_ok: records.iter().all(|r| r.status == "ok"),
        records,
    }))
}
