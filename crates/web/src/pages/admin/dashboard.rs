//! `GET /admin`: the dashboard. The server's version, uptime and listeners (from
//! [`crate::WebState::status`]), how many domains, accounts and aliases there are,
//! the queue depth, and the latest deliveries and bounces.

use super::{Admin, Failure, render_result, when};
use crate::WebState;
use crate::status::ServerStatus;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

/// `GET /admin`.
pub async fn show(State(state): State<WebState>, Admin(user): Admin) -> Response {
    let body = content(&state).await;
    render_result(&user, "Dashboard", None, StatusCode::OK, body)
}

async fn content(state: &WebState) -> Result<Markup, Failure> {
    let status = (state.status)();
    let store = state.store.as_ref();
    let domains = store.domain_list().await?.len();
    let accounts = store.account_list().await?.len();
    let aliases = store.alias_list().await?.len();
    let queued = store.queue_pending_count().await?;
    let uptime = uptime(super::now_unix() - status.started_at);
    Ok(html! {
        div.cards {
            (card("Version", &status.version))
            (card("Uptime", &uptime))
            (card("Domains", &domains.to_string()))
            (card("Accounts", &accounts.to_string()))
            (card("Aliases", &aliases.to_string()))
            (card("Queued messages", &queued.to_string()))
        }
        p.muted { "Started " (when(status.started_at)) "." }
        (listeners(&status))
        (recent(&status))
    })
}

fn card(label: &str, value: &str) -> Markup {
    html! {
        div.card {
            div.value { (value) }
            div.label { (label) }
        }
    }
}

fn listeners(status: &ServerStatus) -> Markup {
    html! {
        h2 { "Listeners" }
        @if status.listeners.is_empty() {
            p.muted { "No listeners are bound." }
        } @else {
            table.listeners {
                thead { tr { th { "Kind" } th { "Address" } } }
                tbody {
                    @for (kind, addr) in &status.listeners {
                        tr { td { (kind) } td.mono { (addr) } }
                    }
                }
            }
        }
    }
}

fn recent(status: &ServerStatus) -> Markup {
    html! {
        h2 { "Recent deliveries and bounces" }
        @if status.recent.is_empty() {
            p.muted { "Nothing delivered or bounced since the server started." }
        } @else {
            table.recent {
                thead {
                    tr { th { "Time" } th { "Queue id" } th { "Recipient" } th { "Result" } th { "Detail" } }
                }
                tbody {
                    @for note in &status.recent {
                        tr {
                            td { (when(note.at)) }
                            td.mono { (note.queue_id) }
                            td { (note.recipient) }
                            td class=(result_class(&note.result)) { (note.result) }
                            td { (note.detail) }
                        }
                    }
                }
            }
        }
    }
}

/// Delivered is green, a failure or bounce red, anything else (deferred) plain.
pub fn result_class(result: &str) -> &'static str {
    match result {
        "delivered" => "status-ok",
        "failed" | "bounced" => "status-bad",
        _ => "",
    }
}

/// `seconds` as `2d 3h 4m` (`0m` under a minute; negative, from a clock set back,
/// as zero).
pub fn uptime(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d}d {h}h {m}m")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m")
    }
}
