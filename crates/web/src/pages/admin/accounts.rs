//! `/admin/accounts`: every account with its display name, administrator flag and
//! quota (used / limit), and creating one; `/admin/accounts/{address}`: one
//! account's forms: password, display name, administrator flag, quota, delete.
//!
//! A changed password or a deleted account ends that account's web sessions. An
//! administrator cannot take away their own flag or delete their own account here
//! (so that no one locks the last administrator out by a slip; `postie user admin`
//! still can).

use super::{
    Admin, Done, Failure, Flash, audit, confirm_box, confirmed, done, path_segment, render_result,
};
use crate::WebState;
use crate::pages::layout::{Form as CsrfForm, csrf_field};
use crate::pages::{Posted, human_size};
use crate::principal::SignedIn;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use store::{Account, Quota, QuotaUsage};

const MB: u64 = 1024 * 1024;

/// `GET /admin/accounts`.
pub async fn list(
    State(state): State<WebState>,
    Admin(user): Admin,
    Query(done): Query<Done>,
) -> Response {
    show_list(&state, &user, done.flash(), StatusCode::OK).await
}

async fn show_list(
    state: &WebState,
    user: &SignedIn,
    flash: Option<Flash>,
    status: StatusCode,
) -> Response {
    let body = list_content(state, user).await;
    render_result(user, "Accounts", flash, status, body)
}

async fn list_content(state: &WebState, user: &SignedIn) -> Result<Markup, Failure> {
    let store = state.store.as_ref();
    let mut rows = Vec::new();
    for account in store.account_list().await? {
        let quota = store.quota_get(account.id).await?;
        let usage = store.quota_usage(account.id).await?;
        rows.push((account, quota, usage));
    }
    let domains = store.domain_list().await?;
    Ok(html! {
        @if rows.is_empty() {
            p.muted { "No accounts yet." }
        } @else {
            table.accounts {
                thead {
                    tr { th { "Address" } th { "Display name" } th { "Admin" } th { "Storage" } th { "Messages" } }
                }
                tbody {
                    @for (account, quota, usage) in &rows {
                        tr {
                            td {
                                a href={ "/admin/accounts/" (path_segment(&account.address.normalized())) } {
                                    (account.address.to_unicode())
                                }
                            }
                            td { (account.display_name.as_deref().unwrap_or("")) }
                            td { @if account.admin { "yes" } @else { "no" } }
                            td { (storage_text(quota, usage)) }
                            td { (messages_text(quota, usage)) }
                        }
                    }
                }
            }
        }
        h2 { "Add an account" }
        @if domains.is_empty() {
            p.muted { "Add a " a href="/admin/domains" { "domain" } " first: accounts live in local domains." }
        }
        form method="post" action="/admin/accounts" {
            (csrf_field(user))
            label for="address" { "Address" }
            input #address type="email" name="address" required placeholder={ "user@" (domains.first().map(|d| d.as_str()).unwrap_or("example.org")) };
            label for="password" { "Password" }
            input #password type="password" name="password" required autocomplete="new-password";
            label for="display_name" { "Display name (optional)" }
            input #display_name type="text" name="display_name";
            label.check {
                input type="checkbox" name="admin" value="on";
                " Administrator"
            }
            p { button type="submit" { "Create account" } }
        }
    })
}

fn storage_text(quota: &Quota, usage: &QuotaUsage) -> String {
    match quota.storage {
        Some(limit) => format!("{} / {}", human_size(usage.storage), human_size(limit)),
        None => format!("{} / unlimited", human_size(usage.storage)),
    }
}

fn messages_text(quota: &Quota, usage: &QuotaUsage) -> String {
    match quota.messages {
        Some(limit) => format!("{} / {limit}", usage.messages),
        None => format!("{} / unlimited", usage.messages),
    }
}

/// The create form.
#[derive(Debug, Deserialize)]
pub struct AddAccount {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    admin: String,
}

impl CsrfForm for AddAccount {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/accounts`: creates the account.
pub async fn add(
    State(state): State<WebState>,
    Admin(user): Admin,
    Posted(form): Posted<AddAccount>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let name = form.display_name.trim();
    let result = admin::accounts::create(
        state.store.as_ref(),
        form.address.trim(),
        &form.password,
        (!name.is_empty()).then_some(name),
        form.admin == "on",
    )
    .await;
    Ok(match result {
        Ok(account) => {
            let address = account.address.normalized();
            audit(&user, "user.add", &address);
            if account.admin {
                audit(&user, "user.admin.on", &address);
            }
            done("/admin/accounts", "account-added")
        }
        Err(e) => {
            let f = Failure::from(e);
            show_list(&state, &user, Some(f.flash()), f.status).await
        }
    })
}

/// `GET /admin/accounts/{address}`.
pub async fn detail(
    State(state): State<WebState>,
    Admin(user): Admin,
    Path(address): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    show_detail(&state, &user, &address, done.flash(), StatusCode::OK).await
}

async fn show_detail(
    state: &WebState,
    user: &SignedIn,
    address: &str,
    flash: Option<Flash>,
    status: StatusCode,
) -> Response {
    let body = detail_content(state, user, address).await;
    render_result(user, &format!("Account {address}"), flash, status, body)
}

async fn detail_content(
    state: &WebState,
    user: &SignedIn,
    address: &str,
) -> Result<Markup, Failure> {
    let store = state.store.as_ref();
    let account = admin::accounts::get(store, address).await?;
    let quota = store.quota_get(account.id).await?;
    let usage = store.quota_usage(account.id).await?;
    let base = format!(
        "/admin/accounts/{}",
        path_segment(&account.address.normalized())
    );
    let is_self = is_self(user, &account);
    Ok(html! {
        p { a href="/admin/accounts" { "Back to the accounts" } }
        table.account {
            tbody {
                tr { th { "Address" } td { (account.address.to_unicode()) } }
                tr { th { "Display name" } td { (account.display_name.as_deref().unwrap_or("")) } }
                tr { th { "Administrator" } td { @if account.admin { "yes" } @else { "no" } } }
                tr { th { "Storage" } td { (storage_text(&quota, &usage)) } }
                tr { th { "Messages" } td { (messages_text(&quota, &usage)) } }
            }
        }

        h2 { "Password" }
        form method="post" action={ (base) "/password" } {
            (csrf_field(user))
            label for="password" { "New password" }
            input #password type="password" name="password" required autocomplete="new-password";
            p { button type="submit" { "Set password" } }
        }

        h2 { "Display name" }
        form method="post" action={ (base) "/name" } {
            (csrf_field(user))
            label for="display_name" { "Display name (empty clears it)" }
            input #display_name type="text" name="display_name" value=(account.display_name.as_deref().unwrap_or(""));
            p { button type="submit" { "Save name" } }
        }

        h2 { "Administrator" }
        form method="post" action={ (base) "/admin" } {
            (csrf_field(user))
            @if account.admin {
                input type="hidden" name="admin" value="off";
                @if is_self {
                    p.muted { "This is your own account: another administrator (or `postie user admin`) can take the flag away." }
                } @else {
                    button.secondary type="submit" { "Take away administrator rights" }
                }
            } @else {
                input type="hidden" name="admin" value="on";
                button.secondary type="submit" { "Make administrator" }
            }
        }

        h2 { "Quota" }
        form method="post" action={ (base) "/quota" } {
            (csrf_field(user))
            label for="storage_mb" { "Storage limit, MiB (empty: unlimited)" }
            input #storage_mb type="number" min="0" name="storage_mb" value=(quota.storage.map(|s| (s / MB).to_string()).unwrap_or_default());
            label for="messages" { "Message limit (empty: unlimited)" }
            input #messages type="number" min="0" name="messages" value=(quota.messages.map(|m| m.to_string()).unwrap_or_default());
            p { button type="submit" { "Save quota" } }
        }

        h2 { "Delete" }
        @if is_self {
            p.muted { "This is your own account; it cannot be deleted from here." }
        } @else {
            form method="post" action={ (base) "/delete" } {
                (csrf_field(user))
                p { "Deletes the account, all its mail and its aliases." }
                (confirm_box())
                p { button.danger type="submit" { "Delete account" } }
            }
        }
    })
}

fn is_self(user: &SignedIn, account: &Account) -> bool {
    user.account.id == account.id
}

/// The account `address` of a per-account form, as stored.
async fn target(state: &WebState, address: &str) -> Result<Account, Failure> {
    Ok(admin::accounts::get(state.store.as_ref(), address).await?)
}

/// After a per-account change: back to its page with `code`, or the page with the
/// red notice.
async fn answer(
    state: &WebState,
    user: &SignedIn,
    address: &str,
    result: Result<(&str, &'static str), Failure>,
) -> Response {
    match result {
        Ok((action, code)) => {
            let normalized = admin::accounts::parse_address(address)
                .map(|a| a.normalized())
                .unwrap_or_else(|_| address.to_owned());
            audit(user, action, &normalized);
            done(
                &format!("/admin/accounts/{}", path_segment(&normalized)),
                code,
            )
        }
        Err(f) => show_detail(state, user, address, Some(f.flash()), f.status).await,
    }
}

/// The password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

impl CsrfForm for PasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/accounts/{address}/password`.
pub async fn password(
    State(state): State<WebState>,
    Admin(user): Admin,
    Path(address): Path<String>,
    Posted(form): Posted<PasswordForm>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let result = async {
        let account = target(&state, &address).await?;
        admin::accounts::set_password(state.store.as_ref(), &address, &form.password).await?;
        let normalized = account.address.normalized();
        if !is_self(&user, &account) {
            state.sessions.end_all_of(&normalized);
        }
        Ok(("user.password", "password-set"))
    }
    .await;
    Ok(answer(&state, &user, &address, result).await)
}

/// The display-name form.
#[derive(Debug, Deserialize)]
pub struct NameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: String,
}

impl CsrfForm for NameForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/accounts/{address}/name`: sets (or, empty, clears) the display name.
pub async fn display_name(
    State(state): State<WebState>,
    Admin(user): Admin,
    Path(address): Path<String>,
    Posted(form): Posted<NameForm>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let name = form.display_name.trim();
    let result = async {
        admin::accounts::set_display_name(
            state.store.as_ref(),
            &address,
            (!name.is_empty()).then_some(name),
        )
        .await?;
        Ok(("user.display_name", "name-set"))
    }
    .await;
    Ok(answer(&state, &user, &address, result).await)
}

/// The administrator-flag form.
#[derive(Debug, Deserialize)]
pub struct AdminForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    admin: String,
}

impl CsrfForm for AdminForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/accounts/{address}/admin`: `admin=on` or `admin=off`.
pub async fn admin_flag(
    State(state): State<WebState>,
    Admin(user): Admin,
    Path(address): Path<String>,
    Posted(form): Posted<AdminForm>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let result = async {
        let on = match form.admin.as_str() {
            "on" => true,
            "off" => false,
            _ => return Err(Failure::invalid("admin must be on or off")),
        };
        let account = target(&state, &address).await?;
        if !on && is_self(&user, &account) {
            return Err(Failure::invalid(
                "you cannot take away your own administrator rights here",
            ));
        }
        admin::accounts::set_admin(state.store.as_ref(), &address, on).await?;
        Ok(if on {
            ("user.admin.on", "admin-on")
        } else {
            ("user.admin.off", "admin-off")
        })
    }
    .await;
    Ok(answer(&state, &user, &address, result).await)
}

/// The quota form: empty fields are unlimited.
#[derive(Debug, Deserialize)]
pub struct QuotaForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    storage_mb: String,
    #[serde(default)]
    messages: String,
}

impl CsrfForm for QuotaForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// An empty field as `None`, else a whole number, or `Invalid` naming `what`.
fn limit(text: &str, what: &str) -> Result<Option<u64>, Failure> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u64>().map(Some).map_err(|_| {
        Failure::invalid(format!(
            "the {what} limit must be a whole number or empty (unlimited)"
        ))
    })
}

/// `POST /admin/accounts/{address}/quota`.
pub async fn quota(
    State(state): State<WebState>,
    Admin(user): Admin,
    Path(address): Path<String>,
    Posted(form): Posted<QuotaForm>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let result = async {
        let storage = limit(&form.storage_mb, "storage")?
            .map(|mb| {
                mb.checked_mul(MB)
                    .ok_or_else(|| Failure::invalid("the storage limit is too large"))
            })
            .transpose()?;
        let messages = limit(&form.messages, "message")?;
        let account = target(&state, &address).await?;
        state
            .store
            .quota_set(&account.address, Quota { storage, messages })
            .await?;
        Ok(("user.quota", "quota-set"))
    }
    .await;
    Ok(answer(&state, &user, &address, result).await)
}

/// The delete form.
#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

impl CsrfForm for DeleteForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/accounts/{address}/delete`: with `confirm=yes`, deletes the account,
/// its mail and its aliases, and ends its sessions.
pub async fn delete(
    State(state): State<WebState>,
    Admin(user): Admin,
    Path(address): Path<String>,
    Posted(form): Posted<DeleteForm>,
) -> Result<Response, Response> {
    form.check(&user)?;
    let result: Result<String, Failure> = async {
        confirmed(&form.confirm)?;
        let account = target(&state, &address).await?;
        if is_self(&user, &account) {
            return Err(Failure::invalid("you cannot delete your own account here"));
        }
        admin::accounts::remove(state.store.as_ref(), &address).await?;
        let normalized = account.address.normalized();
        state.sessions.end_all_of(&normalized);
        Ok(normalized)
    }
    .await;
    Ok(match result {
        Ok(normalized) => {
            audit(&user, "user.remove", &normalized);
            done("/admin/accounts", "account-removed")
        }
        Err(f) => show_detail(&state, &user, &address, Some(f.flash()), f.status).await,
    })
}
