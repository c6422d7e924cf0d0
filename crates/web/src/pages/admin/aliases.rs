//! `/admin/aliases`: every alias and the account it delivers to, adding one,
//! removing one.

use super::{Admin, Done, Failure, Flash, audit, done, render_result};
use crate::WebState;
use crate::pages::Posted;
use crate::pages::layout::{Form as CsrfForm, csrf_field};
use crate::principal::SignedIn;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

/// `GET /admin/aliases`.
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
    render_result(user, "Aliases", flash, status, body)
}

async fn content(state: &WebState, user: &SignedIn) -> Result<Markup, Failure> {
    let aliases = state.store.alias_list().await?;
    Ok(html! {
        @if aliases.is_empty() {
            p.muted { "No aliases yet." }
        } @else {
            table.aliases {
                thead { tr { th { "Alias" } th { "Delivers to" } th { "Remove" } } }
                tbody {
                    @for (alias, target) in &aliases {
                        tr {
                            td { (alias.to_unicode()) }
                            td { (target.to_unicode()) }
                            td {
                                form.inline method="post" action="/admin/aliases/delete" {
                                    (csrf_field(user))
                                    input type="hidden" name="alias" value=(alias.normalized());
                                    button.danger type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add an alias" }
        form method="post" action="/admin/aliases" {
            (csrf_field(user))
            label for="alias" { "Alias (in a local domain)" }
            input #alias type="email" name="alias" required placeholder="info@example.org";
            label for="target" { "Delivers to (an account)" }
            input #target type="email" name="target" required placeholder="alice@example.org";
            p { button type="submit" { "Add alias" } }
        }
    })
}

/// The add form.
#[derive(Debug, Deserialize)]
pub struct AddAlias {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    alias: String,
    #[serde(default)]
    target: String,
}

impl CsrfForm for AddAlias {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/aliases`: mail for `alias` goes to the account `target`.
pub async fn add(
    State(state): State<WebState>,
    Admin(user): Admin,
    Posted(form): Posted<AddAlias>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let result: Result<String, Failure> = async {
        let alias = admin::accounts::parse_address(form.alias.trim())?;
        let target = admin::accounts::parse_address(form.target.trim())?;
        state.store.alias_add(&alias, &target).await?;
        Ok(format!("{} -> {}", alias.normalized(), target.normalized()))
    }
    .await;
    Ok(match result {
        Ok(what) => {
            audit(&user, "alias.add", &what);
            done("/admin/aliases", "alias-added")
        }
        Err(f) => show(&state, &user, Some(f.flash()), f.status).await,
    })
}

/// The remove form.
#[derive(Debug, Deserialize)]
pub struct DeleteAlias {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    alias: String,
}

impl CsrfForm for DeleteAlias {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/aliases/delete`: removes `alias`.
pub async fn delete(
    State(state): State<WebState>,
    Admin(user): Admin,
    Posted(form): Posted<DeleteAlias>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let result: Result<String, Failure> = async {
        let alias = admin::accounts::parse_address(form.alias.trim())?;
        state.store.alias_remove(&alias).await?;
        Ok(alias.normalized())
    }
    .await;
    Ok(match result {
        Ok(alias) => {
            audit(&user, "alias.remove", &alias);
            done("/admin/aliases", "alias-removed")
        }
        Err(f) => show(&state, &user, Some(f.flash()), f.status).await,
    })
}
