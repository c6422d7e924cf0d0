//! What the capture UI's pages show, taken from the capture view
//! ([`crate::capture::view`]) and the parsed message ([`crate::capture::parsed`]) and
//! reduced to plain strings: the pages never see the store.

use crate::WebState;
use crate::capture::parsed::{self, Addr, Detail, Part, Role};
use crate::capture::view::{self, Id};

/// A failure reading or deleting captured mail (logged; the page says 500).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// One line of the list.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The message's id (the API's `ID`).
    pub id: String,
    /// Its inbox.
    pub inbox: String,
    /// The sender, as `Name <address>` or the address.
    pub from: String,
    /// The recipients, comma-separated.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The start of its text.
    pub snippet: String,
    /// When it was captured (Unix time).
    pub created: i64,
    /// Its size in octets.
    pub size: u64,
    /// Seen already.
    pub read: bool,
    /// How many attachments.
    pub attachments: usize,
}

/// One page of the list.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Messages matching in all.
    pub total: usize,
    /// This page's.
    pub rows: Vec<Row>,
}

/// One node of a message's MIME tree.
#[derive(Debug, Clone, Default)]
pub struct MimeNode {
    /// The API's part id.
    pub part_id: String,
    /// `type/subtype`.
    pub content_type: String,
    /// The file name, if any.
    pub file_name: String,
    /// Its size in octets.
    pub size: u64,
    /// The parts inside a multipart.
    pub children: Vec<MimeNode>,
}

/// One attachment.
#[derive(Debug, Clone, Default)]
pub struct Attachment {
    /// The API's part id (`/api/v1/message/{ID}/part/{PartID}`).
    pub part_id: String,
    /// The file name.
    pub file_name: String,
    /// `type/subtype`.
    pub content_type: String,
    /// Size in octets.
    pub size: u64,
}

/// One message as the message page shows it.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    /// Its inbox.
    pub inbox: String,
    /// From, To, Cc as text (Cc empty when none).
    pub from: String,
    /// To.
    pub to: String,
    /// Cc.
    pub cc: String,
    /// The subject.
    pub subject: String,
    /// The Date header as written (or the capture time).
    pub date: String,
    /// The HTML body, if any (shown only in the sandboxed iframe).
    pub html: Option<String>,
    /// The text body, if any.
    pub text: Option<String>,
    /// Every header field in order.
    pub headers: Vec<(String, String)>,
    /// The message as captured.
    pub raw: Vec<u8>,
    /// The MIME tree (the top-level part; more than one never).
    pub mime: Vec<MimeNode>,
    /// The attachments.
    pub attachments: Vec<Attachment>,
}

/// The inboxes that exist, sorted by name.
pub async fn inboxes(state: &WebState) -> Result<Vec<String>, Error> {
    Ok(view::inboxes(state.store.as_ref(), None)
        .await?
        .into_iter()
        .map(|i| i.name)
        .collect())
}

/// An address as `Name <address>`, or the address alone.
fn addr(a: &Addr) -> String {
    if a.name.is_empty() {
        a.address.clone()
    } else if a.address.is_empty() {
        a.name.clone()
    } else {
        format!("{} <{}>", a.name, a.address)
    }
}

/// Addresses, comma-separated.
fn addrs(list: &[Addr]) -> String {
    list.iter().map(addr).collect::<Vec<_>>().join(", ")
}

/// A page of the list: `inbox` only (or all), matching `query` (or all), newest
/// first, `limit` from `start`. A query too long to parse matches nothing.
pub async fn list(
    state: &WebState,
    inbox: Option<&str>,
    query: &str,
    start: usize,
    limit: usize,
) -> Result<Listing, Error> {
    let entries = view::list(&state.store, inbox).await?;
    let matching: Vec<&view::Entry> = if query.is_empty() {
        entries.iter().collect()
    } else {
        match view::Query::parse(query) {
            Some(q) => entries.iter().filter(|e| q.matches(e)).collect(),
            None => Vec::new(),
        }
    };
    let rows = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|e| {
            let s = &e.summary;
            Row {
                id: e.id.to_string(),
                inbox: e.id.inbox.clone(),
                from: addr(&s.from),
                to: addrs(&s.to),
                subject: s.subject.clone(),
                snippet: s.snippet.clone(),
                created: e.received_at,
                size: e.size,
                read: e.read,
                attachments: s.attachments,
            }
        })
        .collect();
    Ok(Listing {
        total: matching.len(),
        rows,
    })
}

/// Message `id` as stored and parsed; `None` when there is no such message.
async fn load(state: &WebState, id: &str) -> Result<Option<(Id, Vec<u8>, Detail)>, Error> {
    let Some(id) = Id::parse(id) else {
        return Ok(None);
    };
    let Some((_, raw)) = view::raw(state.store.as_ref(), &id).await? else {
        return Ok(None);
    };
    // Parsing is CPU work on a stranger's bytes: the blocking pool.
    let (raw, detail) = tokio::task::spawn_blocking(move || {
        let detail = parsed::detail(&raw);
        (raw, detail)
    })
    .await?;
    Ok(Some((id, raw, detail)))
}

/// The MIME tree of the flat, depth-marked `parts` (from `*i` on, at `depth` and
/// below). Depth is bounded by the parser ([`parsed::MAX_DEPTH`]).
fn tree(parts: &[Part], i: &mut usize, depth: usize) -> Vec<MimeNode> {
    let mut out = Vec::new();
    while let Some(p) = parts.get(*i) {
        if p.depth < depth {
            break;
        }
        *i += 1;
        let children = tree(parts, i, p.depth + 1);
        out.push(MimeNode {
            part_id: if p.role == Role::Multipart {
                String::new()
            } else {
                p.part_id.clone()
            },
            content_type: p.content_type.clone(),
            file_name: p.file_name.clone(),
            size: p.size as u64,
            children,
        });
    }
    out
}

/// Message `id` for its page, and marked read; `None` when there is no such message.
pub async fn get(state: &WebState, id: &str) -> Result<Option<Shown>, Error> {
    let Some((id, raw, detail)) = load(state, id).await? else {
        return Ok(None);
    };
    view::set_read(&state.store, None, Some(std::slice::from_ref(&id)), true).await?;
    let s = &detail.summary;
    let date = detail
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Date"))
        .map(|(_, v)| v.trim().to_owned())
        .or_else(|| s.date.map(super::pages::when))
        .unwrap_or_default();
    let attachments = detail
        .parts
        .iter()
        .filter(|p| matches!(p.role, Role::Attachment | Role::Inline))
        .map(|p| Attachment {
            part_id: p.part_id.clone(),
            file_name: p.file_name.clone(),
            content_type: p.content_type.clone(),
            size: p.size as u64,
        })
        .collect();
    let mut i = 0;
    let mime = tree(&detail.parts, &mut i, 0);
    Ok(Some(Shown {
        inbox: id.inbox.clone(),
        from: addr(&s.from),
        to: addrs(&s.to),
        cc: addrs(&s.cc),
        subject: s.subject.clone(),
        date,
        html: (!detail.html.is_empty()).then(|| detail.html.clone()),
        text: (!detail.text.is_empty()).then(|| detail.text.clone()),
        headers: detail.headers.clone(),
        raw,
        mime,
        attachments,
    }))
}

/// The HTML body of message `id`; `None` without the message or an HTML body.
pub async fn html(state: &WebState, id: &str) -> Result<Option<String>, Error> {
    Ok(load(state, id)
        .await?
        .map(|(_, _, d)| d.html)
        .filter(|h| !h.is_empty()))
}

/// Deletes message `id`; its inbox, or `None` when there was no such message.
pub async fn delete(state: &WebState, id: &str) -> Result<Option<String>, Error> {
    let Some(id) = Id::parse(id) else {
        return Ok(None);
    };
    if view::entry(state.store.as_ref(), &id).await?.is_none() {
        return Ok(None);
    }
    view::delete(&state.store, None, Some(std::slice::from_ref(&id))).await?;
    crate::capture::deleted(state);
    Ok(Some(id.inbox))
}

/// Deletes every message of `inbox` (of every inbox with `None`).
pub async fn delete_all(state: &WebState, inbox: Option<&str>) -> Result<(), Error> {
    view::delete(&state.store, inbox, None).await?;
    crate::capture::deleted(state);
    Ok(())
}
