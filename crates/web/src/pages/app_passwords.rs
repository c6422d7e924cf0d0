//! The signed-in user's app passwords: `GET /account/app-passwords` (name, created,
//! last use, a revoke button each), `POST /account/app-passwords` (create one: the
//! response is the only time the whole password is shown) and
//! `POST /account/app-passwords/revoke` (by name).
//!
//! Where it sits: over `admin::app_passwords` with the session's own account: there is
//! no field naming an account, so no one reaches another's passwords. Creating and
//! revoking are audit-logged with the name, never the password.
//!
//! Security stance: the page that shows a new password carries
//! `Cache-Control: no-store`; the list shows names and dates only, never an id or hash.

use super::layout::{self, Form, csrf_field, page};
use super::{Posted, human_time, no_store};
use crate::WebState;
use crate::principal::SignedIn;
use admin::AdminError;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};

/// The app password routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/account/app-passwords", get(list).post(create))
        .route("/account/app-passwords/revoke", post(revoke))
}

/// The create and revoke forms as posted.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct NameForm {
    /// The session's token.
    pub csrf: String,
    /// The app password's name.
    pub name: String,
}

impl Form for NameForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// What goes above the list.
enum Above<'a> {
    Nothing,
    Notice(bool, &'a str),
    /// A new password, shown once.
    Created {
        name: &'a str,
        password: &'a str,
    },
}

/// `GET /account/app-passwords`.
async fn list(State(state): State<WebState>, user: SignedIn) -> Response {
    list_page(&state, &user, StatusCode::OK, Above::Nothing).await
}

async fn list_page(
    state: &WebState,
    user: &SignedIn,
    status: StatusCode,
    above: Above<'_>,
) -> Response {
    let passwords = match admin::app_passwords::list(state.store.as_ref(), &user.account).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "app password list failed");
            return crate::text(StatusCode::SERVICE_UNAVAILABLE, "try again later\n");
        }
    };
    let shows_secret = matches!(above, Above::Created { .. });
    let body: Markup = html! {
        @match above {
            Above::Nothing => {},
            Above::Notice(ok, text) => (layout::notice(ok, text)),
            Above::Created { name, password } => {
                (layout::notice(true, &format!("App password \u{201c}{name}\u{201d} created.")))
                p { "Your new app password:" }
                p { code.secret id="new-app-password" { (password) } }
                p.muted {
                    "Copy it now into your mail client as its password, with your address "
                    (user.account.address.to_unicode()) " as the user name. "
                    "It is shown only this once: Postie keeps only a hash of it. "
                    "If you lose it, revoke it and create another."
                }
            },
        }
        h2 { "Your app passwords" }
        @if passwords.is_empty() {
            p.muted { "None yet." }
        } @else {
            table.app-passwords {
                thead { tr { th { "Name" } th { "Created" } th { "Last used" } th {} } }
                tbody {
                    @for p in &passwords {
                        tr {
                            td { (p.name) }
                            td { (human_time(p.created_at)) }
                            td {
                                @match p.last_used {
                                    Some(t) => (human_time(t)),
                                    None => span.muted { "never" },
                                }
                            }
                            td {
                                form.inline method="post" action="/account/app-passwords/revoke" {
                                    (csrf_field(user))
                                    input type="hidden" name="name" value=(p.name);
                                    button.danger type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Create one" }
        form method="post" action="/account/app-passwords" {
            (csrf_field(user))
            label for="name" { "Name (the device or program it is for)" }
            input #name type="text" name="name" maxlength="64" placeholder="phone" required;
            p { button type="submit" { "Create" } }
        }
        p.muted {
            "An app password works for IMAP, POP3 and SMTP in one mail client, and can be "
            "revoked without changing your own password. Where the server is set to "
            "auth.account_password = web-only, mail clients need one."
        }
    };
    let mut response = layout::respond(status, page("App passwords", Some(user), body));
    if shows_secret {
        no_store(&mut response);
    }
    response
}

/// The status an admin error answers with.
fn status_of(e: &AdminError) -> StatusCode {
    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `POST /account/app-passwords`.
async fn create(
    State(state): State<WebState>,
    user: SignedIn,
    Posted(f): Posted<NameForm>,
) -> Response {
    if let Err(refused) = f.check(&user) {
        return refused;
    }
    let name = f.name.trim();
    match admin::app_passwords::create(state.store.as_ref(), &user.account, name).await {
        Ok(password) => {
            let actor = user.account.address.normalized();
            admin::audit::log(&actor, "app-password.create", &format!("{actor} {name}"));
            let above = Above::Created {
                name,
                password: &password,
            };
            list_page(&state, &user, StatusCode::OK, above).await
        }
        Err(e) => {
            let text = e.to_string();
            list_page(&state, &user, status_of(&e), Above::Notice(false, &text)).await
        }
    }
}

/// `POST /account/app-passwords/revoke`.
async fn revoke(
    State(state): State<WebState>,
    user: SignedIn,
    Posted(f): Posted<NameForm>,
) -> Response {
    if let Err(refused) = f.check(&user) {
        return refused;
    }
    match admin::app_passwords::revoke(state.store.as_ref(), &user.account, &f.name).await {
        Ok(()) => {
            let actor = user.account.address.normalized();
            admin::audit::log(
                &actor,
                "app-password.revoke",
                &format!("{actor} {}", f.name),
            );
            let text = format!("App password \u{201c}{}\u{201d} revoked.", f.name);
            list_page(&state, &user, StatusCode::OK, Above::Notice(true, &text)).await
        }
        Err(e) => {
            let text = e.to_string();
            list_page(&state, &user, status_of(&e), Above::Notice(false, &text)).await
        }
    }
}
