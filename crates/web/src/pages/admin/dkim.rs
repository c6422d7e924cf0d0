//! `/admin/dkim`: the DKIM signing keys of the local domains (selector, algorithm,
//! and the TXT record to publish), generating a new pair (Ed25519 and RSA) for a
//! domain, removing one. The same operations as `postie dkim …` (`admin::dkim`):
//! keys live in the data directory, or in a shared store that keeps them.

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

/// `GET /admin/dkim`.
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
    render_result(user, "DKIM keys", flash, status, body)
}

async fn content(state: &WebState, user: &SignedIn) -> Result<Markup, Failure> {
    let config = (state.config)();
    let keys = admin::dkim::list(&config, Some(state.store.as_ref()), None).await?;
    let domains = state.store.domain_list().await?;
    Ok(html! {
        p.muted {
            "Mail from a domain is signed with its newest key of each kind. Publish a new key's "
            "record before mail goes out signed with it, and remove an old key only once its mail is delivered."
        }
        @if keys.is_empty() {
            p.muted { "No DKIM keys yet: mail is not signed." }
        } @else {
            table.dkim {
                thead {
                    tr { th { "Domain" } th { "Selector" } th { "Algorithm" } th { "TXT record" } th { "Remove" } }
                }
                tbody {
                    @for key in &keys {
                        tr {
                            td { (key.domain) }
                            td.mono { (key.selector) }
                            td { (algorithm_name(key.algorithm)) }
                            td.mono {
                                (key.record_name()) br;
                                (key.record)
                            }
                            td {
                                form.inline method="post" action="/admin/dkim/remove" {
                                    (csrf_field(user))
                                    input type="hidden" name="domain" value=(key.domain);
                                    input type="hidden" name="selector" value=(key.selector);
                                    button.danger type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Generate keys" }
        @if domains.is_empty() {
            p.muted { "Add a " a href="/admin/domains" { "domain" } " first." }
        } @else {
            form method="post" action="/admin/dkim/generate" {
                (csrf_field(user))
                label for="domain" { "Domain" }
                select #domain name="domain" {
                    @for domain in &domains {
                        option value=(domain.as_str()) { (domain.unicode()) }
                    }
                }
                p { button type="submit" { "Generate an Ed25519 and an RSA key" } }
            }
        }
    })
}

/// The generate form.
#[derive(Debug, Deserialize)]
pub struct Generate {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
}

impl CsrfForm for Generate {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/dkim/generate`.
pub async fn generate(
    State(state): State<WebState>,
    Admin(user): Admin,
    Posted(form): Posted<Generate>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let config = (state.config)();
    let domain = form.domain.trim();
    Ok(
        match admin::dkim::generate(&config, state.store.as_ref(), domain).await {
            Ok(made) => {
                for key in &made {
                    audit(&user, "dkim.generate", &key.record_name());
                }
                done("/admin/dkim", "dkim-generated")
            }
            Err(e) => {
                let f = Failure::from(e);
                show(&state, &user, Some(f.flash()), f.status).await
            }
        },
    )
}

/// The remove form.
#[derive(Debug, Deserialize)]
pub struct Remove {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    selector: String,
}

impl CsrfForm for Remove {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/dkim/remove`.
pub async fn remove(
    State(state): State<WebState>,
    Admin(user): Admin,
    Posted(form): Posted<Remove>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let config = (state.config)();
    let selector = form.selector.trim();
    let result = async {
        let domain = admin::accounts::parse_domain(form.domain.trim())?;
        admin::dkim::remove(
            &config,
            Some(state.store.as_ref()),
            domain.as_str(),
            selector,
        )
        .await?;
        Ok::<_, admin::AdminError>(domain.as_str().to_owned())
    }
    .await;
    Ok(match result {
        Ok(domain) => {
            audit(
                &user,
                "dkim.remove",
                &format!("{selector}._domainkey.{domain}"),
            );
            done("/admin/dkim", "dkim-removed")
        }
        Err(e) => {
            let f = Failure::from(e);
            show(&state, &user, Some(f.flash()), f.status).await
        }
    })
}

/// The algorithm's name as in the `a=` tag of a signature.
fn algorithm_name(algorithm: mailauth::Algorithm) -> &'static str {
    match algorithm {
        mailauth::Algorithm::Ed25519 => "ed25519-sha256",
        mailauth::Algorithm::Rsa => "rsa-sha256",
    }
}
