//! `/admin/domains`: the local domains with how many accounts each has, adding and
//! removing one, and `/admin/domains/{domain}`: the DNS records the domain should
//! publish (`admin::dns::records`) and a live check of what DNS has
//! (`admin::dns::check`, bounded by [`CHECK_DEADLINE`]).

use super::{
    Admin, Done, Failure, Flash, audit, confirm_box, confirmed, done, path_segment, render_result,
};
use crate::WebState;
use crate::pages::Posted;
use crate::pages::layout::{Form as CsrfForm, csrf_field};
use crate::principal::SignedIn;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use mailauth::check::{Checked, Status};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The longest the live DNS check may take before the page says it timed out.
pub const CHECK_DEADLINE: Duration = Duration::from_secs(10);

/// `GET /admin/domains`.
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
    render_result(user, "Domains", flash, status, body)
}

async fn content(state: &WebState, user: &SignedIn) -> Result<Markup, Failure> {
    let store = state.store.as_ref();
    let domains = store.domain_list().await?;
    let mut accounts: BTreeMap<String, usize> = BTreeMap::new();
    for account in store.account_list().await? {
        *accounts
            .entry(account.address.domain().as_str().to_owned())
            .or_default() += 1;
    }
    Ok(html! {
        @if domains.is_empty() {
            p.muted { "No local domains yet." }
        } @else {
            table.domains {
                thead { tr { th { "Domain" } th { "Accounts" } th { "DNS" } th { "Delete" } } }
                tbody {
                    @for domain in &domains {
                        tr {
                            td { (domain.unicode()) }
                            td { (accounts.get(domain.as_str()).copied().unwrap_or(0)) }
                            td { a href={ "/admin/domains/" (path_segment(domain.as_str())) } { "DNS records" } }
                            td {
                                form.inline method="post" action="/admin/domains/delete" {
                                    (csrf_field(user))
                                    input type="hidden" name="domain" value=(domain.as_str());
                                    (confirm_box())
                                    " "
                                    button.danger type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add a domain" }
        form method="post" action="/admin/domains" {
            (csrf_field(user))
            label for="domain" { "Domain" }
            input #domain type="text" name="domain" required placeholder="example.org";
            p { button type="submit" { "Add domain" } }
        }
    })
}

/// The add form.
#[derive(Debug, Deserialize)]
pub struct AddDomain {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
}

impl CsrfForm for AddDomain {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/domains`: adds `domain`.
pub async fn add(
    State(state): State<WebState>,
    Admin(user): Admin,
    Posted(form): Posted<AddDomain>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let result: Result<String, Failure> = async {
        let domain = admin::accounts::parse_domain(form.domain.trim())?;
        state.store.domain_add(&domain).await?;
        Ok(domain.as_str().to_owned())
    }
    .await;
    Ok(match result {
        Ok(domain) => {
            audit(&user, "domain.add", &domain);
            done("/admin/domains", "domain-added")
        }
        Err(f) => show(&state, &user, Some(f.flash()), f.status).await,
    })
}

/// The delete form.
#[derive(Debug, Deserialize)]
pub struct DeleteDomain {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    confirm: String,
}

impl CsrfForm for DeleteDomain {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/domains/delete`: removes `domain` (refused while it has accounts
/// or aliases), only with `confirm=yes`.
pub async fn delete(
    State(state): State<WebState>,
    Admin(user): Admin,
    Posted(form): Posted<DeleteDomain>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let result: Result<String, Failure> = async {
        confirmed(&form.confirm)?;
        let domain = admin::accounts::parse_domain(form.domain.trim())?;
        state.store.domain_remove(&domain).await?;
        Ok(domain.as_str().to_owned())
    }
    .await;
    Ok(match result {
        Ok(domain) => {
            audit(&user, "domain.remove", &domain);
            done("/admin/domains", "domain-removed")
        }
        Err(f) => show(&state, &user, Some(f.flash()), f.status).await,
    })
}

/// `GET /admin/domains/{domain}`: the records to publish and the live check.
pub async fn detail(
    State(state): State<WebState>,
    Admin(user): Admin,
    Path(domain): Path<String>,
) -> Response {
    let title = format!("DNS records of {domain}");
    let body = records_page(&state, &domain).await;
    render_result(&user, &title, None, StatusCode::OK, body)
}

async fn records_page(state: &WebState, domain: &str) -> Result<Markup, Failure> {
    let parsed = admin::accounts::parse_domain(domain)?;
    if !state.store.domain_is_local(&parsed).await? {
        return Err(Failure {
            status: StatusCode::NOT_FOUND,
            text: format!("{} is not a local domain", parsed.as_str()),
        });
    }
    let config = (state.config)();
    let records = admin::dns::records(&config, Some(state.store.as_ref()), parsed.as_str()).await?;
    let checked =
        tokio::time::timeout(CHECK_DEADLINE, admin::dns::check(&config, &records.records)).await;
    let checked: Result<Vec<Checked>, String> = match checked {
        Ok(Ok(checked)) => Ok(checked),
        Ok(Err(e)) => Err(format!("check failed: {e}")),
        Err(_) => Err(format!(
            "check timed out (no answer within {} s)",
            CHECK_DEADLINE.as_secs()
        )),
    };
    Ok(html! {
        p {
            "What " (parsed.unicode()) " should publish in DNS for mail to reach this server, "
            "be signed and be found by mail clients, and what DNS has now. "
            a href="/admin/domains" { "Back to the domains" }
        }
        @if let Some(note) = &records.note {
            (crate::pages::layout::notice(false, note))
        }
        @match &checked {
            Err(text) => {
                (crate::pages::layout::notice(false, text))
                (records_table(&records.records.iter().map(|r| (r, None)).collect::<Vec<_>>()))
            }
            Ok(checked) => {
                (records_table(&checked.iter().map(|c| (&c.record, Some(&c.status))).collect::<Vec<_>>()))
            }
        }
    })
}

fn records_table(rows: &[(&mailauth::records::Record, Option<&Status>)]) -> Markup {
    html! {
        table.records {
            thead {
                tr { th { "Name" } th { "Type" } th { "Value" } th { "Check" } th { "Found" } }
            }
            tbody {
                @for (record, status) in rows {
                    tr {
                        td.mono { (record.name) }
                        td { (record.type_name()) }
                        td.mono {
                            (record.data.to_string())
                            @if let Some(comment) = &record.comment {
                                br;
                                span.muted { (comment) }
                            }
                        }
                        @match status {
                            None => { td.muted { "not checked" } td {} }
                            Some(status) => {
                                td class=(if matches!(status, Status::Ok) { "status-ok" } else { "status-bad" }) {
                                    (status.word())
                                }
                                td.mono {
                                    @match status {
                                        Status::Wrong(found) | Status::Error(found) => (found),
                                        _ => "",
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
