//! `/admin/queue`: the messages waiting for delivery, each with its recipients and
//! where they stand, and the actions on them: flush everything, and per message
//! flush, hold, release, delete, or delete telling the sender (a bounce). The same
//! operations as `postie queue …` (`admin::queue_ops`).

use super::{Admin, Done, Failure, Flash, audit, done, render_result, when};
use crate::WebState;
use crate::pages::Posted;
use crate::pages::layout::{Form as CsrfForm, csrf_field};
use crate::principal::SignedIn;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use store::{QueuedMessage, RecipientStatus};

/// `GET /admin/queue`.
pub async fn list(
    State(state): State<WebState>,
    Admin(user): Admin,
    Query(done): Query<Done>,
) -> Response {
    show(&state, &user, done.flash(), StatusCode::OK).await
}

async fn show(
    state: &WebState,
    user: &SignedIn,
    flash: Option<Flash>,
    status: StatusCode,
) -> Response {
    let body = content(state, user).await;
    render_result(user, "Queue", flash, status, body)
}

async fn content(state: &WebState, user: &SignedIn) -> Result<Markup, Failure> {
    let mut entries = state.store.queue_list().await?;
    entries.sort_by_key(|e| e.queued_at);
    Ok(html! {
        form method="post" action="/admin/queue/flush" {
            (csrf_field(user))
            p {
                button type="submit" { "Flush the queue" }
                " "
                span.muted { "Makes every pending recipient of every message not held due now." }
            }
        }
        @if entries.is_empty() {
            p.muted { "The queue is empty." }
        } @else {
            table.queue {
                thead {
                    tr {
                        th { "Id" } th { "Sender" } th { "Recipients" } th { "Attempts" }
                        th { "Next attempt" } th { "Held" } th { "Last error" } th { "Actions" }
                    }
                }
                tbody {
                    @for entry in &entries {
                        (row(user, entry))
                    }
                }
            }
        }
    })
}

/// A queue reason: its first line (the summary), then, smaller, the lines the relay
/// adds for each host it tried (`host[ip]: error`).
fn reason(text: &str) -> Markup {
    let mut lines = text.lines();
    let summary = lines.next().unwrap_or("");
    html! {
        (summary)
        @for line in lines {
            br;
            span.muted.mono { (line.trim()) }
        }
    }
}

fn row(user: &SignedIn, entry: &QueuedMessage) -> Markup {
    let pending = entry.recipients.iter().filter_map(|r| match &r.status {
        RecipientStatus::Pending {
            attempts,
            next_attempt,
            last_error,
        } => Some((*attempts, *next_attempt, last_error.as_deref())),
        _ => None,
    });
    let attempts = pending.clone().map(|p| p.0).max().unwrap_or(0);
    let next = pending.clone().map(|p| p.1).min();
    let last_error = pending
        .filter_map(|p| p.2)
        .next()
        .or_else(|| {
            entry.recipients.iter().find_map(|r| match &r.status {
                RecipientStatus::Failed(reason) => Some(reason.as_str()),
                _ => None,
            })
        })
        .unwrap_or("");
    let id = entry.id.to_string();
    html! {
        tr {
            td.mono { (id) br; span.muted { (when(entry.queued_at)) } }
            td {
                @match &entry.envelope.sender {
                    Some(sender) => (sender.to_unicode()),
                    None => "<> (a bounce)",
                }
            }
            td {
                ul.recipients {
                    @for r in &entry.recipients {
                        li {
                            (r.address.to_unicode()) " "
                            @match &r.status {
                                RecipientStatus::Pending { .. } => span.muted { "pending" },
                                RecipientStatus::Delivered => span.status-ok { "delivered" },
                                RecipientStatus::Failed(_) => span.status-bad { "failed" },
                            }
                        }
                    }
                }
            }
            td { (attempts) }
            td {
                @match next {
                    Some(next) if entry.held => span.muted { "held (" (when(next)) ")" },
                    Some(next) => (when(next)),
                    None => "—",
                }
            }
            td { @if entry.held { span.status-bad { "held" } } @else { "no" } }
            td { (reason(last_error)) }
            td {
                form.inline.queue-actions method="post" action="/admin/queue/message" {
                    (csrf_field(user))
                    input type="hidden" name="id" value=(id);
                    button.secondary type="submit" name="op" value="flush" { "Flush" }
                    " "
                    @if entry.held {
                        button.secondary type="submit" name="op" value="release" { "Release" }
                    } @else {
                        button.secondary type="submit" name="op" value="hold" { "Hold" }
                    }
                    " "
                    button.danger type="submit" name="op" value="delete" { "Delete" }
                    " "
                    button.danger type="submit" name="op" value="bounce" { "Delete and bounce" }
                }
            }
        }
    }
}

/// The flush-everything form.
#[derive(Debug, Deserialize)]
pub struct FlushAll {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm for FlushAll {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/queue/flush`: every pending recipient due now.
pub async fn flush_all(
    State(state): State<WebState>,
    Admin(user): Admin,
    Posted(form): Posted<FlushAll>,
) -> Result<Response, Response> {
    form.check(&user)?;
    Ok(
        match admin::queue_ops::flush(state.store.as_ref(), None, None).await {
            Ok(flushed) => {
                audit(&user, "queue.flush", "all");
                if let Some(e) = flushed.wake_error {
                    tracing::info!(error = %e, "queue flushed; the runners find it at their next look");
                }
                done("/admin/queue", "queue-flushed")
            }
            Err(e) => {
                let f = Failure::from(e);
                show(&state, &user, Some(f.flash()), f.status).await
            }
        },
    )
}

/// A per-message action: `op` is `flush`, `hold`, `release`, `delete` or `bounce`
/// (delete, first telling the sender).
#[derive(Debug, Deserialize)]
pub struct MessageAction {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    op: String,
}

impl CsrfForm for MessageAction {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/queue/message`.
pub async fn message(
    State(state): State<WebState>,
    Admin(user): Admin,
    Posted(form): Posted<MessageAction>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let result: Result<(&str, &'static str, String), Failure> = async {
        let id = admin::queue_ops::parse_id(form.id.trim())?;
        let store = state.store.as_ref();
        let done = match form.op.as_str() {
            "flush" => {
                admin::queue_ops::flush(store, Some(id), None).await?;
                ("queue.flush", "message-flushed")
            }
            "hold" => {
                admin::queue_ops::get(store, id).await?;
                admin::queue_ops::hold(store, id).await?;
                ("queue.hold", "message-held")
            }
            "release" => {
                admin::queue_ops::get(store, id).await?;
                admin::queue_ops::release(store, id).await?;
                ("queue.release", "message-released")
            }
            "delete" | "bounce" => {
                let bounce = form.op == "bounce";
                let config = (state.config)();
                admin::queue_ops::delete(state.store.clone(), &config, id, bounce).await?;
                if bounce {
                    ("queue.delete.bounce", "message-bounced")
                } else {
                    ("queue.delete", "message-deleted")
                }
            }
            _ => {
                return Err(Failure::invalid(
                    "unknown action: flush, hold, release, delete or bounce",
                ));
            }
        };
        Ok((done.0, done.1, id.to_string()))
    }
    .await;
    Ok(match result {
        Ok((action, code, id)) => {
            audit(&user, action, &id);
            done("/admin/queue", code)
        }
        Err(f) => show(&state, &user, Some(f.flash()), f.status).await,
    })
}

#[cfg(test)]
mod tests {
    use super::reason;

    #[test]
    fn a_reason_shows_its_summary_then_each_host_on_its_own_line() {
        let text = "4.4.1 mx2.b.test[127.0.0.3]: refused\n  \
                    mx1.b.test[127.0.0.2]: 421 4.3.2 <busy>\n  \
                    mx2.b.test[127.0.0.3]: 4.4.1 refused";
        assert_eq!(
            reason(text).into_string(),
            "4.4.1 mx2.b.test[127.0.0.3]: refused\
             <br><span class=\"muted mono\">mx1.b.test[127.0.0.2]: 421 4.3.2 &lt;busy&gt;</span>\
             <br><span class=\"muted mono\">mx2.b.test[127.0.0.3]: 4.4.1 refused</span>"
        );
        assert_eq!(reason("5.1.1 one line").into_string(), "5.1.1 one line");
    }
}
