//! The Mailpit-compatible API of capture mode (docs/capture.md, "API"): the routes
//! and JSON of Mailpit's `/api/v1` that client libraries and tests use, with the same
//! field names and types, plus `wait`, `Links`, `Codes` and `Inbox`.
//!
//! | Route | What |
//! |---|---|
//! | `GET /api/v1/messages?start=&limit=&inbox=` | Mailpit's `MessagesSummary`, newest first |
//! | `DELETE /api/v1/messages?inbox=` | `{"IDs": [...]}`; no body or no IDs: all |
//! | `PUT /api/v1/messages?inbox=` | `{"IDs": [...], "Read": bool}`; no IDs: all |
//! | `GET /api/v1/message/{ID}` | Mailpit's `Message` (marks it read) + `Inbox`, `Links`, `Codes` |
//! | `GET /api/v1/message/{ID}/headers` | `{"Name": ["value", …]}`, names sorted |
//! | `GET /api/v1/message/{ID}/raw` | the stored bytes, `text/plain` |
//! | `GET /api/v1/message/{ID}/part/{PartID}` | one decoded part, its content type |
//! | `POST /api/v1/message/{ID}/release` | `{"To": [...]}`: queued for the smarthost |
//! | `GET /api/v1/search?query=&start=&limit=&inbox=` | as `messages`, filtered |
//! | `GET /api/v1/wait?query=&timeout=&inbox=` | long-poll for a new matching message |
//!
//! `{ID}` is `{inbox}-{uid}` ([`view::Id`]) or `latest`. Errors are `{"error": "…"}`.
//!
//! Security stance: no authentication (capture mode listens on loopback by default,
//! as Mailpit does). IDs, queries, part ids and bodies are validated and bounded
//! ([`view::MAX_QUERY`], [`crate::MAX_BODY`], [`MAX_LIMIT`], [`MAX_WAIT`],
//! [`MAX_RELEASE_TO`]); messages are parsed on the blocking pool; a part is served
//! with a sanitised content type, a sandboxing CSP, and as a download when it is a
//! type a browser would run (HTML, SVG, XML). `wait` sleeps on the capture event
//! counter, never polls in a loop.

use super::parsed::{self, Addr, Role};
use super::view::{self, Entry, Id, Query};
use crate::WebState;
use crate::api::{ApiPath, ApiQuery};
use crate::error::ApiError;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use message::capture::inbox_name;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use store::{FlagChange, Store};

/// The default page size (Mailpit's).
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page size.
pub const MAX_LIMIT: usize = 10_000;
/// `wait`'s default timeout.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// `wait`'s longest timeout: under the connection deadline (`crate::serve::CONNECTION_DEADLINE`),
/// which would otherwise cut a longer wait off without an answer.
pub const MAX_WAIT: Duration = Duration::from_secs(55);
/// The most recipients of one release.
pub const MAX_RELEASE_TO: usize = 100;

/// The routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/api/v1/messages", get(list).delete(delete).put(set_read))
        .route("/api/v1/search", get(search))
        .route("/api/v1/wait", get(wait))
        .route("/api/v1/message/{id}", get(message))
        .route("/api/v1/message/{id}/headers", get(headers))
        .route("/api/v1/message/{id}/raw", get(raw))
        .route("/api/v1/message/{id}/part/{part}", get(part))
        .route("/api/v1/message/{id}/release", post(release))
}

// ---- JSON -----------------------------------------------------------------------------

/// Mailpit's `MessageSummary`, plus `Inbox`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageSummary {
    /// `{inbox}-{uid}`.
    #[serde(rename = "ID")]
    pub id: String,
    /// `Message-ID` without brackets.
    #[serde(rename = "MessageID")]
    pub message_id: String,
    /// `\Seen`.
    pub read: bool,
    /// First `From`.
    pub from: Addr,
    /// `To`.
    pub to: Vec<Addr>,
    /// `Cc`.
    pub cc: Vec<Addr>,
    /// `Bcc`.
    pub bcc: Vec<Addr>,
    /// `Reply-To`.
    pub reply_to: Vec<Addr>,
    /// `Subject`.
    pub subject: String,
    /// Arrival time, RFC 3339.
    pub created: String,
    /// Always empty (no tags here).
    pub tags: Vec<String>,
    /// Stored size in bytes.
    pub size: u64,
    /// Attachment count.
    pub attachments: usize,
    /// Up to 250 characters of text.
    pub snippet: String,
    /// The inbox (beyond Mailpit).
    pub inbox: String,
}

impl MessageSummary {
    /// The summary of a list entry.
    pub fn of(e: &Entry) -> MessageSummary {
        let s = &e.summary;
        MessageSummary {
            id: e.id.to_string(),
            message_id: s.message_id.clone(),
            read: e.read,
            from: s.from.clone(),
            to: s.to.clone(),
            cc: s.cc.clone(),
            bcc: s.bcc.clone(),
            reply_to: s.reply_to.clone(),
            subject: s.subject.clone(),
            created: rfc3339(e.received_at),
            tags: Vec::new(),
            size: e.size,
            attachments: s.attachments,
            snippet: s.snippet.clone(),
            inbox: e.id.inbox.clone(),
        }
    }
}

/// Mailpit's `MessagesSummary`.
#[derive(Debug, Serialize)]
pub struct MessagesSummary {
    /// Messages in scope (the inbox when filtered, else all).
    pub total: usize,
    /// Unread messages in scope.
    pub unread: usize,
    /// Messages on this page.
    pub count: usize,
    /// Messages matching the query (all in scope without one).
    pub messages_count: usize,
    /// Unread messages matching the query.
    pub messages_unread: usize,
    /// The offset of this page.
    pub start: usize,
    /// All tags (always empty).
    pub tags: Vec<String>,
    /// The page, newest first.
    pub messages: Vec<MessageSummary>,
}

/// Mailpit's `Attachment`.
#[derive(Debug, Serialize)]
pub struct Attachment {
    /// The part id.
    #[serde(rename = "PartID")]
    pub part_id: String,
    /// File name.
    #[serde(rename = "FileName")]
    pub file_name: String,
    /// `type/subtype`.
    #[serde(rename = "ContentType")]
    pub content_type: String,
    /// `Content-ID`.
    #[serde(rename = "ContentID")]
    pub content_id: String,
    /// Decoded size.
    #[serde(rename = "Size")]
    pub size: usize,
}

/// Mailpit's `Message`, plus `Inbox`, `Read`, `Created`, `Links` and `Codes`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageJson {
    /// `{inbox}-{uid}`.
    #[serde(rename = "ID")]
    pub id: String,
    /// `Message-ID`.
    #[serde(rename = "MessageID")]
    pub message_id: String,
    /// First `From`.
    pub from: Addr,
    /// `To`.
    pub to: Vec<Addr>,
    /// `Cc`.
    pub cc: Vec<Addr>,
    /// `Bcc`.
    pub bcc: Vec<Addr>,
    /// `Reply-To`.
    pub reply_to: Vec<Addr>,
    /// `Return-Path`.
    pub return_path: String,
    /// `Subject`.
    pub subject: String,
    /// The `Date` header, else the arrival time; RFC 3339.
    pub date: String,
    /// Arrival time, RFC 3339 (beyond Mailpit's `Message`).
    pub created: String,
    /// Always empty.
    pub tags: Vec<String>,
    /// The text body.
    pub text: String,
    /// The HTML body.
    #[serde(rename = "HTML")]
    pub html: String,
    /// Stored size.
    pub size: u64,
    /// Inline parts.
    pub inline: Vec<Attachment>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// Read (it is, once opened).
    pub read: bool,
    /// The inbox.
    pub inbox: String,
    /// http(s) links of the text and HTML.
    pub links: Vec<String>,
    /// One-time codes.
    pub codes: Vec<String>,
}

fn attachments(d: &parsed::Detail, role: Role) -> Vec<Attachment> {
    d.parts_of(role)
        .into_iter()
        .map(|p| Attachment {
            part_id: p.part_id,
            file_name: p.file_name,
            content_type: p.content_type,
            content_id: p.content_id,
            size: p.size,
        })
        .collect()
}

impl MessageJson {
    /// The message JSON of `entry` and its parse.
    pub fn of(e: &Entry, d: parsed::Detail) -> MessageJson {
        let s = &d.summary;
        MessageJson {
            id: e.id.to_string(),
            message_id: s.message_id.clone(),
            from: s.from.clone(),
            to: s.to.clone(),
            cc: s.cc.clone(),
            bcc: s.bcc.clone(),
            reply_to: s.reply_to.clone(),
            return_path: d.return_path.clone(),
            subject: s.subject.clone(),
            date: rfc3339(s.date.unwrap_or(e.received_at)),
            created: rfc3339(e.received_at),
            tags: Vec::new(),
            size: e.size,
            inline: attachments(&d, Role::Inline),
            attachments: attachments(&d, Role::Attachment),
            read: e.read,
            inbox: e.id.inbox.clone(),
            links: d.links,
            codes: d.codes,
            text: d.text,
            html: d.html,
        }
    }
}

/// Unix seconds as RFC 3339 (UTC).
fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

// ---- handlers -------------------------------------------------------------------------

/// The query string of the lists, search and wait.
#[derive(Debug, Default, Deserialize)]
struct ListParams {
    start: Option<usize>,
    limit: Option<usize>,
    inbox: Option<String>,
    query: Option<String>,
    timeout: Option<u64>,
    /// `wait` only: which messages count (see [`Since`]).
    since: Option<String>,
}

impl ListParams {
    /// The inbox filter, as the inbox name it names.
    fn inbox(&self) -> Option<String> {
        self.inbox
            .as_deref()
            .filter(|i| !i.is_empty())
            .map(|i| inbox_name(Some(i)))
    }
    fn query(&self) -> Result<Query, ApiError> {
        Query::parse(self.query.as_deref().unwrap_or("")).ok_or_else(|| {
            ApiError::bad_request(format!(
                "the query is longer than {} bytes",
                view::MAX_QUERY
            ))
        })
    }
}

fn page(entries: Vec<Entry>, query: &Query, params: &ListParams) -> MessagesSummary {
    let total = entries.len();
    let unread = entries.iter().filter(|e| !e.read).count();
    let matching: Vec<&Entry> = entries.iter().filter(|e| query.matches(e)).collect();
    let start = params.start.unwrap_or(0);
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let messages: Vec<MessageSummary> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|e| MessageSummary::of(e))
        .collect();
    MessagesSummary {
        total,
        unread,
        count: messages.len(),
        messages_count: matching.len(),
        messages_unread: matching.iter().filter(|e| !e.read).count(),
        start,
        tags: Vec::new(),
        messages,
    }
}

/// `GET /api/v1/messages`.
async fn list(
    State(state): State<WebState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<MessagesSummary>, ApiError> {
    let entries = view::list(&state.store, params.inbox().as_deref()).await?;
    Ok(Json(page(entries, &Query::default(), &params)))
}

/// `GET /api/v1/search`.
async fn search(
    State(state): State<WebState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<MessagesSummary>, ApiError> {
    let query = params.query()?;
    let entries = view::list(&state.store, params.inbox().as_deref()).await?;
    Ok(Json(page(entries, &query, &params)))
}

/// The `IDs` (and `Read`) of a `DELETE` or `PUT` body.
#[derive(Debug, Default, Deserialize)]
struct IdsBody {
    #[serde(rename = "IDs", default)]
    ids: Vec<String>,
    #[serde(rename = "Read", default)]
    read: Option<bool>,
}

/// A body that may be absent or blank.
fn optional_body(body: &Bytes) -> Result<IdsBody, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(IdsBody::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not the JSON expected: {e}")))
}

/// The IDs of a body; `None` (everything) when it names none. IDs that are not IDs
/// name nothing.
fn ids_of(body: &IdsBody) -> Option<Vec<Id>> {
    if body.ids.is_empty() {
        return None;
    }
    Some(body.ids.iter().filter_map(|i| Id::parse(i)).collect())
}

fn ok_text() -> Response {
    crate::text(StatusCode::OK, "ok")
}

/// `DELETE /api/v1/messages`.
async fn delete(
    State(state): State<WebState>,
    ApiQuery(params): ApiQuery<ListParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = optional_body(&body)?;
    let ids = ids_of(&body);
    view::delete(&state.store, params.inbox().as_deref(), ids.as_deref()).await?;
    super::deleted(&state);
    Ok(ok_text())
}

/// `PUT /api/v1/messages`.
async fn set_read(
    State(state): State<WebState>,
    ApiQuery(params): ApiQuery<ListParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = optional_body(&body)?;
    let ids = ids_of(&body);
    let read = body.read.unwrap_or(false);
    view::set_read(
        &state.store,
        params.inbox().as_deref(),
        ids.as_deref(),
        read,
    )
    .await?;
    Ok(ok_text())
}

fn not_found() -> ApiError {
    ApiError::not_found("message not found")
}

/// The message `id` names (`latest`: the newest), its entry and bytes; 404 when none.
async fn find(state: &WebState, id: &str) -> Result<(Entry, Vec<u8>), ApiError> {
    let id = if id == "latest" {
        view::list(&state.store, None)
            .await?
            .into_iter()
            .next()
            .ok_or_else(not_found)?
            .id
    } else {
        Id::parse(id).ok_or_else(not_found)?
    };
    view::read(state.store.as_ref(), &id)
        .await?
        .ok_or_else(not_found)
}

async fn parse_detail(raw: Vec<u8>) -> Result<parsed::Detail, ApiError> {
    tokio::task::spawn_blocking(move || parsed::detail(&raw))
        .await
        .map_err(ApiError::internal)
}

/// `GET /api/v1/message/{ID}`: marks it read, as Mailpit does.
async fn message(
    State(state): State<WebState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MessageJson>, ApiError> {
    let (mut entry, raw) = find(&state, &id).await?;
    if !entry.read {
        state
            .store
            .message_flags_set(
                entry.mailbox,
                &[entry.id.uid],
                FlagChange::Add,
                &["\\Seen".to_owned()],
                None,
            )
            .await?;
        entry.read = true;
    }
    let detail = parse_detail(raw).await?;
    Ok(Json(MessageJson::of(&entry, detail)))
}

/// `GET /api/v1/message/{ID}/headers`.
async fn headers(
    State(state): State<WebState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<BTreeMap<String, Vec<String>>>, ApiError> {
    let (_, raw) = find(&state, &id).await?;
    Ok(Json(parse_detail(raw).await?.header_map()))
}

/// `GET /api/v1/message/{ID}/raw`.
async fn raw(
    State(state): State<WebState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (_, raw) = find(&state, &id).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        raw,
    )
        .into_response())
}

/// A content type safe to send: `type/subtype` of token characters, else
/// `application/octet-stream`.
fn safe_content_type(ct: &str) -> String {
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match ct.split_once('/') {
        Some((t, s)) if token(t) && token(s) => ct.to_ascii_lowercase(),
        _ => "application/octet-stream".into(),
    }
}

/// `GET /api/v1/message/{ID}/part/{PartID}`.
async fn part(
    State(state): State<WebState>,
    ApiPath((id, part_id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let valid_part = !part_id.is_empty()
        && part_id.len() <= 64
        && part_id
            .split('.')
            .all(|n| !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()));
    if !valid_part {
        return Err(ApiError::not_found("part not found"));
    }
    let (_, raw) = find(&state, &id).await?;
    let found = tokio::task::spawn_blocking(move || parsed::part(&raw, &part_id))
        .await
        .map_err(ApiError::internal)?;
    let Some((content_type, file_name, bytes)) = found else {
        return Err(ApiError::not_found("part not found"));
    };
    let ct = safe_content_type(&content_type);
    let runnable = ct.contains("html")
        || ct.contains("xml")
        || ct.contains("svg")
        || ct.contains("javascript");
    let ct_value = if ct.starts_with("text/") {
        format!("{ct}; charset=utf-8")
    } else {
        ct
    };
    let name: String = file_name
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\' && c.is_ascii())
        .take(200)
        .collect();
    let disposition = match (runnable, name.is_empty()) {
        (true, true) => "attachment".to_owned(),
        (true, false) => format!("attachment; filename=\"{name}\""),
        (false, true) => "inline".to_owned(),
        (false, false) => format!("inline; filename=\"{name}\""),
    };
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&ct_value)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

/// Which messages `wait` counts: its `since` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Since {
    /// No `since`: every message, those already there included, so the usual test
    /// (the app sends, then the test waits) never misses a message that came first.
    Any,
    /// `since=now`: only messages filed after the request began.
    Now,
    /// `since=T` (unix seconds, or an RFC 3339 time): messages that arrived at T or
    /// later.
    Time(i64),
}

impl Since {
    fn parse(text: Option<&str>) -> Result<Since, ApiError> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(Since::Any);
        };
        if text.eq_ignore_ascii_case("now") {
            return Ok(Since::Now);
        }
        if let Ok(unix) = text.parse::<i64>() {
            return Ok(Since::Time(unix));
        }
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map(|t| Since::Time(t.unix_timestamp()))
            .map_err(|_| ApiError::bad_request("since: `now`, unix seconds or an RFC 3339 time"))
    }
}

/// The newest message of `entries` that `query` matches and `since` counts (`mark`:
/// the inboxes' next UIDs when the request began, for [`Since::Now`]).
fn newest_matching<'a>(
    entries: &'a [Entry],
    since: &Since,
    mark: &std::collections::HashMap<store::MailboxId, u32>,
    query: &Query,
) -> Option<&'a Entry> {
    entries.iter().find(|e| {
        let counted = match since {
            Since::Any => true,
            Since::Now => view::is_after(e, mark),
            Since::Time(t) => e.received_at >= *t,
        };
        counted && query.matches(e)
    })
}

/// `wait`'s answer: the summary plus `Links` and `Codes`.
#[derive(Debug, Serialize)]
struct WaitJson {
    #[serde(flatten)]
    summary: MessageSummary,
    #[serde(rename = "Links")]
    links: Vec<String>,
    #[serde(rename = "Codes")]
    codes: Vec<String>,
}

/// `GET /api/v1/wait?query=Q&timeout=S&inbox=&since=`: the newest message matching
/// `query` — one already there, or the first to arrive — as soon as there is one
/// (200, its summary with `Links` and `Codes`); 408 at the timeout (default 30 s, at
/// most [`MAX_WAIT`]). `since` narrows which messages count ([`Since`]): `now` for only
/// those filed after the request began, or a time.
async fn wait(
    State(state): State<WebState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    let query = params.query()?;
    let since = Since::parse(params.since.as_deref())?;
    let inbox = params.inbox();
    let timeout = params
        .timeout
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_WAIT)
        .min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + timeout;
    let Some(hooks) = state.capture.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "wait needs capture mode",
        ));
    };
    // Listen first, then take the mark: nothing filed in between is missed.
    let mut events = hooks.events.clone();
    events.borrow_and_update();
    let mark = view::mark(state.store.as_ref(), inbox.as_deref()).await?;
    loop {
        let entries = view::list(&state.store, inbox.as_deref()).await?;
        if let Some(e) = newest_matching(&entries, &since, &mark, &query) {
            let summary = MessageSummary::of(e);
            let (links, codes) = match view::raw(state.store.as_ref(), &e.id).await? {
                Some((_, raw)) => {
                    let d = parse_detail(raw).await?;
                    (d.links, d.codes)
                }
                None => (Vec::new(), Vec::new()),
            };
            return Ok(Json(WaitJson {
                summary,
                links,
                codes,
            })
            .into_response());
        }
        match tokio::time::timeout_at(deadline, events.changed()).await {
            Ok(Ok(())) => continue,
            // The server is going away: no more mail will come.
            Ok(Err(_)) => {
                tokio::time::sleep_until(deadline).await;
                break;
            }
            Err(_) => break,
        }
    }
    Err(ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "no matching message arrived before the timeout",
    ))
}

/// A release's body.
#[derive(Debug, Deserialize)]
struct ReleaseBody {
    #[serde(rename = "To")]
    to: Vec<String>,
}

/// The message without a leading `Return-Path:` field (the store's delivery prefix),
/// which is not for the wire.
fn without_return_path(raw: &[u8]) -> &[u8] {
    if raw.len() < 12 || !raw[..12].eq_ignore_ascii_case(b"return-path:") {
        return raw;
    }
    let mut i = 0;
    while let Some(nl) = raw[i..].iter().position(|&b| b == b'\n') {
        i += nl + 1;
        if !matches!(raw.get(i), Some(b' ' | b'\t')) {
            return &raw[i..];
        }
    }
    raw
}

/// `POST /api/v1/message/{ID}/release` `{"To": [...]}`: queues a copy for those
/// addresses, delivered through `relay.smarthost` (403 without one).
async fn release(
    State(state): State<WebState>,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if (state.config)().relay.smarthost.is_none() {
        return Err(ApiError::forbidden("release needs relay.smarthost"));
    }
    let body: ReleaseBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not the JSON expected: {e}")))?;
    if body.to.is_empty() || body.to.len() > MAX_RELEASE_TO {
        return Err(ApiError::bad_request(format!(
            "To needs 1 to {MAX_RELEASE_TO} addresses"
        )));
    }
    let mut recipients = Vec::with_capacity(body.to.len());
    for to in &body.to {
        let address = message::Address::parse(to.trim())
            .map_err(|_| ApiError::bad_request(format!("not an address: {to}")))?;
        if !recipients.contains(&address) {
            recipients.push(address);
        }
    }
    let (entry, raw) = find(&state, &id).await?;
    let envelope = message::Envelope {
        sender: message::Address::parse(&entry.summary.from.address).ok(),
        recipients,
        body_type: message::BodyType::default(),
        smtputf8: false,
        require_tls: false,
        dsn: message::Dsn::default(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let queue_id = message::QueueId::generate(now);
    let store: &Arc<dyn Store> = &state.store;
    store
        .enqueue(queue_id, &envelope, without_return_path(&raw))
        .await?;
    store.change_announce(store::Change::Queue).await?;
    tracing::info!(id = %entry.id, queue_id = %queue_id, "capture: message released");
    Ok(ok_text())
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
