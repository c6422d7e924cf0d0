//! The capture UI's pages and forms (see [`super`]): the list, one message, its HTML
//! alone (for the sandboxed iframe), delete one, delete all. What they show comes
//! through [`super::data`] (the capture view and the parsed message, reduced to what
//! the pages need).

use super::data::{self, Shown};
use super::{ListQuery, PAGE_SIZE, UiForm, ViewQuery, check, csrf_field, frame, see_other};
use crate::WebState;
use crate::pages::Posted;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

/// What the frame around every page shows: the inboxes that exist, the one chosen,
/// the search.
pub struct Nav {
    /// Every inbox, sorted.
    pub inboxes: Vec<String>,
    /// The inbox shown (`None`: all).
    pub inbox: Option<String>,
    /// The search as typed.
    pub query: String,
}

/// `s` percent-encoded for a query string value.
pub fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|p| p.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// The list's URL for `inbox`, `query` and `start` (empty parts left out).
fn list_url(inbox: Option<&str>, query: &str, start: usize) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(inbox) = inbox {
        pairs.push(("inbox", inbox.to_owned()));
    }
    if !query.is_empty() {
        pairs.push(("query", query.to_owned()));
    }
    if start > 0 {
        pairs.push(("start", start.to_string()));
    }
    if pairs.is_empty() {
        "/".to_owned()
    } else {
        format!(
            "/?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }
}

/// A 500 page for a store failure (the error is logged, not shown).
fn failed(what: &str, error: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %error, "capture UI: {what} failed");
    crate::text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "500: the store failed; see the server log\n",
    )
}

fn not_found() -> Response {
    crate::text(StatusCode::NOT_FOUND, "404: no such message\n")
}

/// A Unix time as `YYYY-MM-DD HH:MM` (UTC).
pub fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

/// `GET /`: the captured mail, newest first; `?inbox=` one inbox, `?query=` a search,
/// `?start=` paging.
pub async fn list(State(state): State<WebState>, Query(q): Query<ListQuery>) -> Response {
    // The counter before the data: a change after it makes the script reload.
    let counter = super::counter(&state);
    let inbox = q
        .inbox
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| message::capture::inbox_name(Some(s)));
    let query = q.query.unwrap_or_default().trim().to_owned();
    let start = q.start.unwrap_or(0);
    let inboxes = match data::inboxes(&state).await {
        Ok(i) => i,
        Err(e) => return failed("listing inboxes", e),
    };
    let listing = match data::list(&state, inbox.as_deref(), &query, start, PAGE_SIZE).await {
        Ok(l) => l,
        Err(e) => return failed("listing messages", e),
    };
    let nav = Nav {
        inboxes,
        inbox: inbox.clone(),
        query: query.clone(),
    };
    let title = match (&inbox, query.is_empty()) {
        (Some(i), true) => format!("Inbox {i}"),
        (None, true) => "All inboxes".to_owned(),
        (_, false) => "Search".to_owned(),
    };
    let shown_to = (start + listing.rows.len()).min(listing.total);
    let body = html! {
        h1 { (title) }
        div.toolbar {
            span.muted {
                @if listing.total == 0 { "No messages" }
                @else { (start + 1) "–" (shown_to) " of " (listing.total) }
            }
            @if listing.total > 0 && query.is_empty() {
                form.inline method="post" action="/delete-all" {
                    (csrf_field())
                    input type="hidden" name="inbox" value=(inbox.as_deref().unwrap_or(""));
                    button.danger type="submit" {
                        @if let Some(i) = &inbox { "Delete all in " (i) } @else { "Delete all" }
                    }
                }
            }
        }
        @if !listing.rows.is_empty() {
            table.messages {
                thead { tr { th { "From" } th { "To" } th { "Subject" } th { "Time" } th { "Size" } } }
                tbody {
                    @for row in &listing.rows {
                        tr class=[(!row.read).then_some("unread")] {
                            td.addr title=(row.from) { (row.from) }
                            td.addr title=(row.to) { (row.to) }
                            td.subject {
                                a href={ "/view/" (url_encode(&row.id)) } {
                                    @if row.subject.is_empty() { span.muted { "(no subject)" } }
                                    @else { (row.subject) }
                                }
                                @if row.attachments > 0 {
                                    " " span.attach title={ (row.attachments) " attachment(s)" } { "📎" }
                                }
                                @if inbox.is_none() { " " span.muted { "· " (row.inbox) } }
                                span.snippet { (row.snippet) }
                            }
                            td.when { (when(row.created)) }
                            td.size { (crate::pages::human_size(row.size)) }
                        }
                    }
                }
            }
        }
        div.pager {
            @if start > 0 {
                a href=(list_url(inbox.as_deref(), &query, start.saturating_sub(PAGE_SIZE))) { "← Newer" }
            }
            @if start + listing.rows.len() < listing.total {
                a href=(list_url(inbox.as_deref(), &query, start + PAGE_SIZE)) { "Older →" }
            }
        }
    };
    frame(&title, &nav, body, true, counter)
}

/// The tabs of the message page, in order: (key, label).
const TABS: [(&str, &str); 6] = [
    ("html", "HTML"),
    ("text", "Text"),
    ("headers", "Headers"),
    ("raw", "Raw source"),
    ("mime", "MIME tree"),
    ("attachments", "Attachments"),
];

/// `GET /view/{ID}`: one message: its main headers, the tabs, delete.
pub async fn message(
    State(state): State<WebState>,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
) -> Response {
    let counter = super::counter(&state);
    let shown = match data::get(&state, &id).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_found(),
        Err(e) => return failed("reading a message", e),
    };
    let inboxes = match data::inboxes(&state).await {
        Ok(i) => i,
        Err(e) => return failed("listing inboxes", e),
    };
    let tab = q
        .tab
        .as_deref()
        .filter(|t| TABS.iter().any(|(k, _)| k == t))
        .unwrap_or(if shown.html.is_some() { "html" } else { "text" });
    let remote = q.remote.as_deref() == Some("1");
    let enc = url_encode(&id);
    let nav = Nav {
        inboxes,
        inbox: Some(shown.inbox.clone()),
        query: String::new(),
    };
    let title = if shown.subject.is_empty() {
        "(no subject)".to_owned()
    } else {
        shown.subject.clone()
    };
    let body = html! {
        h1 { (title) }
        table.facts {
            tr { th { "From" } td { (shown.from) } }
            tr { th { "To" } td { (shown.to) } }
            @if !shown.cc.is_empty() { tr { th { "Cc" } td { (shown.cc) } } }
            tr { th { "Subject" } td { (shown.subject) } }
            tr { th { "Date" } td { @if shown.date.is_empty() { span.muted { "(no Date header)" } } @else { (shown.date) } } }
            tr { th { "Inbox" } td { a href={ "/?inbox=" (url_encode(&shown.inbox)) } { (shown.inbox) } } }
        }
        div.toolbar {
            a href={ "/api/v1/message/" (enc) "/raw" } { "Download .eml" }
            form.inline method="post" action={ "/view/" (enc) "/delete" } {
                (csrf_field())
                button.danger type="submit" { "Delete" }
            }
        }
        nav.tabs {
            @for (key, label) in TABS {
                a href={ "/view/" (enc) "?tab=" (key) } class=[(key == tab).then_some("current")] {
                    (label)
                    @if key == "attachments" && !shown.attachments.is_empty() { " (" (shown.attachments.len()) ")" }
                }
            }
        }
        section #tab {
            (tab_body(&shown, &enc, tab, remote))
        }
    };
    frame(&title, &nav, body, false, counter)
}

/// The body of tab `tab` of message `shown` (`enc`: its id, URL-encoded).
fn tab_body(shown: &Shown, enc: &str, tab: &str, remote: bool) -> Markup {
    match tab {
        "html" => html! {
            @if shown.html.is_some() {
                p.muted {
                    @if remote {
                        "Remote images are shown. " a href={ "/view/" (enc) "?tab=html" } { "Block them" }
                    } @else {
                        "Remote images are blocked. " a href={ "/view/" (enc) "?tab=html&remote=1" } { "Show remote images" }
                    }
                }
                iframe.message-html sandbox="" title="The message's HTML"
                    src={ "/view/" (enc) "/html" @if remote { "?remote=1" } } {}
            } @else {
                p.muted { "This message has no HTML part." }
            }
        },
        "text" => html! {
            @if let Some(text) = &shown.text { pre.text { (text) } }
            @else { p.muted { "This message has no text part." } }
        },
        "headers" => html! {
            table.headers {
                @for (name, value) in &shown.headers {
                    tr { th.mono { (name) } td.mono { (value) } }
                }
            }
        },
        "raw" => html! {
            pre.raw { (String::from_utf8_lossy(&shown.raw)) }
        },
        "mime" => html! {
            ul.mime.root {
                @for node in &shown.mime { (mime_node(node, enc)) }
            }
        },
        _ => html! {
            @if shown.attachments.is_empty() {
                p.muted { "No attachments." }
            } @else {
                table.attachments {
                    thead { tr { th { "File" } th { "Type" } th { "Size" } } }
                    tbody {
                        @for a in &shown.attachments {
                            tr {
                                td {
                                    a href={ "/api/v1/message/" (enc) "/part/" (url_encode(&a.part_id)) } download=(a.file_name) {
                                        @if a.file_name.is_empty() { "(unnamed)" } @else { (a.file_name) }
                                    }
                                }
                                td.mono { (a.content_type) }
                                td { (crate::pages::human_size(a.size)) }
                            }
                        }
                    }
                }
            }
        },
    }
}

/// One node of the MIME tree and its children.
fn mime_node(node: &data::MimeNode, enc: &str) -> Markup {
    html! {
        li {
            code { (node.part_id) } " "
            a href={ "/api/v1/message/" (enc) "/part/" (url_encode(&node.part_id)) } { (node.content_type) }
            @if !node.file_name.is_empty() { " · " (node.file_name) }
            " " span.muted { "(" (crate::pages::human_size(node.size)) ")" }
            @if !node.children.is_empty() {
                ul.mime { @for child in &node.children { (mime_node(child, enc)) } }
            }
        }
    }
}

/// `GET /view/{ID}/html`: the message's HTML alone, for the sandboxed iframe, with
/// its own CSP: no scripts, no requests, remote images only with `?remote=1`; framed
/// by our own pages only.
pub async fn message_html(
    State(state): State<WebState>,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
) -> Response {
    let html = match data::html(&state, &id).await {
        Ok(Some(h)) => h,
        Ok(None) => return not_found(),
        Err(e) => return failed("reading a message", e),
    };
    let csp = if q.remote.as_deref() == Some("1") {
        super::HTML_CSP_REMOTE
    } else {
        super::HTML_CSP
    };
    let mut response = html.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /view/{ID}/delete`: deletes one message; back to its inbox's list.
pub async fn delete_one(
    State(state): State<WebState>,
    Path(id): Path<String>,
    Posted(form): Posted<UiForm>,
) -> Response {
    if let Err(r) = check(&form) {
        return r;
    }
    match data::delete(&state, &id).await {
        Ok(Some(inbox)) => see_other(&list_url(Some(&inbox), "", 0)),
        Ok(None) => not_found(),
        Err(e) => failed("deleting a message", e),
    }
}

/// `POST /delete-all`: deletes every message of the form's inbox (all inboxes when
/// it is empty); back to the list.
pub async fn delete_all(State(state): State<WebState>, Posted(form): Posted<UiForm>) -> Response {
    if let Err(r) = check(&form) {
        return r;
    }
    let inbox = form.inbox.trim();
    let inbox = (!inbox.is_empty()).then(|| message::capture::inbox_name(Some(inbox)));
    match data::delete_all(&state, inbox.as_deref()).await {
        Ok(()) => see_other(&list_url(inbox.as_deref(), "", 0)),
        Err(e) => failed("deleting messages", e),
    }
}
