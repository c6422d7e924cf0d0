//! `/api/v1/queue`: the delivery queue (`postie queue list|show|flush|hold|release|
//! delete`). Administrators only.

use super::AdminCaller;
use super::extract::optional_json;
use super::{ApiPath, ApiQuery, ApiResult, ErrorBody, audit};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde::{Deserialize, Serialize};
use store::{QueuedMessage, RecipientStatus};
use utoipa::{IntoParams, ToSchema};

/// One recipient of a queued message and where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueRecipient {
    /// The address.
    pub address: String,
    /// `pending`, `delivered` or `failed`.
    #[schema(example = "pending")]
    pub status: String,
    /// Attempts so far (pending recipients).
    pub attempts: Option<u32>,
    /// The earliest next attempt, unix seconds (pending recipients).
    pub next_attempt: Option<i64>,
    /// Why the last attempt failed (pending), or why it was given up on (failed):
    /// its first line says it in short; when the relay tried several hosts, a line
    /// per host follows (`  host[ip]: error`), also listed in `hosts`.
    pub last_error: Option<String>,
    /// Each host the last attempt tried, with its error, in the order tried; empty
    /// when `last_error` is one line.
    pub hosts: Vec<QueueHost>,
}

/// A host a recipient's last attempt tried.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueHost {
    /// The host and the address tried, `name[ip]`; only the name for a mail host whose
    /// address could not be looked up or that has none (its error says which).
    #[schema(example = "mx1.example.org[192.0.2.1]")]
    pub host: String,
    /// What went wrong there: the server's reply, or our own failure.
    #[schema(example = "421 4.3.2 try again later")]
    pub error: String,
}

impl QueueHost {
    /// The hosts listed in `reason`.
    fn list(reason: Option<&str>) -> Vec<QueueHost> {
        reason
            .map(admin::queue_ops::tried_hosts)
            .unwrap_or_default()
            .into_iter()
            .map(|(host, error)| QueueHost {
                host: host.to_owned(),
                error: error.to_owned(),
            })
            .collect()
    }
}

/// A message in the queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueEntry {
    /// Its queue id.
    pub id: String,
    /// The envelope sender; `null` for the null reverse-path (a bounce).
    pub sender: Option<String>,
    /// Every recipient with its state.
    pub recipients: Vec<QueueRecipient>,
    /// When it was accepted, unix seconds.
    pub queued_at: i64,
    /// Its size in octets.
    pub size: u64,
    /// Held by an administrator: not tried until released.
    pub held: bool,
    /// The most attempts any pending recipient has had.
    pub attempts: u32,
    /// The earliest next attempt of a pending recipient, unix seconds; `null` when
    /// none is pending.
    pub next_attempt: Option<i64>,
    /// The last error of the first pending recipient that has one.
    pub last_error: Option<String>,
}

impl QueueEntry {
    /// `entry` as the API shows it.
    pub fn of(entry: &QueuedMessage) -> QueueEntry {
        let recipients: Vec<QueueRecipient> = entry
            .recipients
            .iter()
            .map(|r| {
                let address = r.address.to_string();
                match &r.status {
                    RecipientStatus::Pending {
                        attempts,
                        next_attempt,
                        last_error,
                    } => QueueRecipient {
                        address,
                        status: "pending".into(),
                        attempts: Some(*attempts),
                        next_attempt: Some(*next_attempt),
                        hosts: QueueHost::list(last_error.as_deref()),
                        last_error: last_error.clone(),
                    },
                    RecipientStatus::Delivered => QueueRecipient {
                        address,
                        status: "delivered".into(),
                        attempts: None,
                        next_attempt: None,
                        last_error: None,
                        hosts: Vec::new(),
                    },
                    RecipientStatus::Failed(reason) => QueueRecipient {
                        address,
                        status: "failed".into(),
                        attempts: None,
                        next_attempt: None,
                        hosts: QueueHost::list(Some(reason)),
                        last_error: Some(reason.clone()),
                    },
                }
            })
            .collect();
        let pending = || recipients.iter().filter(|r| r.status == "pending");
        QueueEntry {
            id: entry.id.to_string(),
            sender: entry.envelope.sender.as_ref().map(|s| s.to_string()),
            queued_at: entry.queued_at,
            size: entry.size,
            held: entry.held,
            attempts: pending().filter_map(|r| r.attempts).max().unwrap_or(0),
            next_attempt: pending().filter_map(|r| r.next_attempt).min(),
            last_error: pending().find_map(|r| r.last_error.clone()),
            recipients,
        }
    }
}

/// Which pending recipients a flush makes due: those of one entry, or in one
/// domain; all without either.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlushRequest {
    /// Only this entry's recipients.
    pub id: Option<String>,
    /// Only recipients in this domain.
    pub domain: Option<String>,
}

/// What a flush or release did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Flushed {
    /// How many recipients were made due now.
    pub due: u64,
    /// Why the queue runners could not be told at once, when they could not (they
    /// find the work at their next look anyway).
    pub wake_error: Option<String>,
}

impl From<admin::queue_ops::Flushed> for Flushed {
    fn from(f: admin::queue_ops::Flushed) -> Self {
        Flushed {
            due: u64::try_from(f.due).unwrap_or(u64::MAX),
            wake_error: f.wake_error,
        }
    }
}

/// What `DELETE` may do besides.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteOptions {
    /// First tell the sender, with a failure report for the recipients still pending.
    #[serde(default)]
    pub bounce: bool,
}

/// What a delete did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deleted {
    /// The entry deleted.
    pub id: String,
    /// With `bounce=true`: the queue id of the failure report sent to the sender;
    /// `null` when none was sent (no sender, or it asked for none).
    pub bounce: Option<String>,
}

/// `GET /api/v1/queue`: every entry, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/queue",
    tag = "queue",
    responses(
        (status = 200, description = "The queue", body = [QueueEntry]),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<WebState>,
    _admin: AdminCaller,
) -> ApiResult<Json<Vec<QueueEntry>>> {
    let entries = state.store.queue_list().await?;
    Ok(Json(entries.iter().map(QueueEntry::of).collect()))
}

/// `GET /api/v1/queue/{id}`: one entry.
#[utoipa::path(
    get,
    path = "/api/v1/queue/{id}",
    tag = "queue",
    params(("id" = String, Path, description = "The queue id")),
    responses(
        (status = 200, description = "The entry", body = QueueEntry),
        (status = 400, description = "Not a queue id", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<WebState>,
    _admin: AdminCaller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<QueueEntry>> {
    let id = admin::queue_ops::parse_id(&id)?;
    let entry = admin::queue_ops::get(state.store.as_ref(), id).await?;
    Ok(Json(QueueEntry::of(&entry)))
}

/// `POST /api/v1/queue/flush` with an optional `{"id"}` or `{"domain"}`: makes
/// pending recipients due now and wakes the queue runners.
#[utoipa::path(
    post,
    path = "/api/v1/queue/flush",
    tag = "queue",
    request_body(content = Option<FlushRequest>, description = "Optional: which recipients (all without a body)"),
    responses(
        (status = 200, description = "Flushed", body = Flushed),
        (status = 400, description = "Not a queue id or domain, malformed JSON", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
    )
)]
pub async fn flush(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> ApiResult<Json<Flushed>> {
    let request: FlushRequest = optional_json(body).await?.unwrap_or_default();
    let id = request
        .id
        .as_deref()
        .map(admin::queue_ops::parse_id)
        .transpose()?;
    let flushed =
        admin::queue_ops::flush(state.store.as_ref(), id, request.domain.as_deref()).await?;
    let target = match (&id, &request.domain) {
        (Some(id), _) => id.to_string(),
        (None, Some(domain)) => domain.clone(),
        (None, None) => "all".to_owned(),
    };
    audit(&caller, "queue.flush", &target);
    Ok(Json(flushed.into()))
}

/// `POST /api/v1/queue/{id}/hold`: the entry stays in the queue and is not tried
/// until released. Returns the entry.
#[utoipa::path(
    post,
    path = "/api/v1/queue/{id}/hold",
    tag = "queue",
    params(("id" = String, Path, description = "The queue id")),
    responses(
        (status = 200, description = "Held", body = QueueEntry),
        (status = 400, description = "Not a queue id", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
    )
)]
pub async fn hold(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<QueueEntry>> {
    let id = admin::queue_ops::parse_id(&id)?;
    let store = state.store.as_ref();
    admin::queue_ops::get(store, id).await?;
    admin::queue_ops::hold(store, id).await?;
    audit(&caller, "queue.hold", &id.to_string());
    Ok(Json(QueueEntry::of(
        &admin::queue_ops::get(store, id).await?,
    )))
}

/// `POST /api/v1/queue/{id}/release`: releases a held entry and makes it due now.
#[utoipa::path(
    post,
    path = "/api/v1/queue/{id}/release",
    tag = "queue",
    params(("id" = String, Path, description = "The queue id")),
    responses(
        (status = 200, description = "Released", body = Flushed),
        (status = 400, description = "Not a queue id", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
    )
)]
pub async fn release(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Flushed>> {
    let id = admin::queue_ops::parse_id(&id)?;
    let store = state.store.as_ref();
    admin::queue_ops::get(store, id).await?;
    let flushed = admin::queue_ops::release(store, id).await?;
    audit(&caller, "queue.release", &id.to_string());
    Ok(Json(flushed.into()))
}

/// `DELETE /api/v1/queue/{id}[?bounce=true]`: deletes the entry, with `bounce` first
/// sending its sender a failure report for the recipients still pending.
#[utoipa::path(
    delete,
    path = "/api/v1/queue/{id}",
    tag = "queue",
    params(("id" = String, Path, description = "The queue id"), DeleteOptions),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 400, description = "Not a queue id, a malformed query", body = ErrorBody),
        (status = 401, description = "No or bad credentials", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<WebState>,
    AdminCaller(caller): AdminCaller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(options): ApiQuery<DeleteOptions>,
) -> ApiResult<Json<Deleted>> {
    let id = admin::queue_ops::parse_id(&id)?;
    let config = (state.config)();
    let report = admin::queue_ops::delete(state.store.clone(), &config, id, options.bounce).await?;
    audit(
        &caller,
        if options.bounce {
            "queue.delete.bounce"
        } else {
            "queue.delete"
        },
        &id.to_string(),
    );
    Ok(Json(Deleted {
        id: id.to_string(),
        bounce: report.map(|r| r.to_string()),
    }))
}
