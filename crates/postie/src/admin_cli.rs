//! The admin commands: domains, users, aliases (and, through `mail_cli`,
//! `queue_admin` and `token_cli`, reading mail, the queue and API tokens). They work
//! on the store directly, so they run with or without the server; what the web face
//! does too (accounts, app passwords, tokens, the queue) goes through the `admin`
//! crate, so both do it the same way. Every change is logged with
//! [`admin::audit::log`] as actor `cli` (the admin commands install no log
//! subscriber, so their output stays as it was; a subscriber would see the lines).
//! Listings print through [`crate::output`].

use crate::cli::{AliasCommand, Command, DomainCommand, Limit, UserCommand};
use crate::output::{Format, Table, print_list};
use message::Address;
use serde::Serialize;
use store::{Quota, QuotaUsage, Store};

/// Runs one admin command against the store `config` names ([`store::open`]).
pub async fn run(command: Command, config: &config::Config) -> anyhow::Result<()> {
    let store = store::open(config).await?;
    match command {
        Command::Serve
        | Command::Capture(_)
        | Command::Send(_)
        | Command::Sendmail(_)
        | Command::Dkim(_)
        | Command::Cert(_)
        | Command::Dns(_)
        | Command::TlsRpt(_)
        | Command::Store(_) => {
            unreachable!("not an admin command")
        }
        Command::Token(c) => crate::token_cli::run(store.as_ref(), c).await,
        Command::Domain(c) => domain(store.as_ref(), c).await,
        Command::User(c) => user(store.as_ref(), c).await,
        Command::Alias(c) => alias(store.as_ref(), c).await,
        Command::Mail(c) => crate::mail_cli::run(store.as_ref(), c).await,
        Command::Share(c) => crate::share_cli::run(store.as_ref(), c).await,
        Command::Queue(c) => crate::queue_admin::run(store.clone(), c, config).await,
    }
}

/// `text` as an address, or an error that quotes it ([`admin::accounts::parse_address`]).
pub fn parse_address(text: &str) -> anyhow::Result<Address> {
    Ok(admin::accounts::parse_address(text)?)
}

async fn domain(store: &dyn Store, command: DomainCommand) -> anyhow::Result<()> {
    match command {
        DomainCommand::Add { domain } => {
            let domain = admin::accounts::parse_domain(&domain)?;
            store.domain_add(&domain).await?;
            audit("domain.add", &domain);
            println!("added domain {domain}");
        }
        DomainCommand::List(list) => domain_list(store, list.format()).await?,
        DomainCommand::Del { domain } => {
            let domain = admin::accounts::parse_domain(&domain)?;
            store.domain_remove(&domain).await?;
            audit("domain.del", &domain);
            println!("removed domain {domain}");
        }
    }
    Ok(())
}

/// Logs a change made from the command line ([`admin::audit::log`], actor `cli`).
fn audit(action: &str, target: &dyn std::fmt::Display) {
    admin::audit::log("cli", action, &target.to_string());
}

async fn user(store: &dyn Store, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            address,
            password,
            admin,
            display_name,
        } => {
            // The address and its domain are checked before the password is asked for.
            let address = parse_address(&address)?;
            admin::accounts::ensure_local(store, &address).await?;
            let password = password.read(&format!("postie user add {address}"))?;
            let account = admin::accounts::create(
                store,
                &address.to_string(),
                &password,
                display_name.as_deref(),
                admin,
            )
            .await?;
            audit("user.add", &account.address);
            println!("added user {address}");
        }
        UserCommand::List(list) => user_list(store, list.format()).await?,
        UserCommand::Admin { address, state } => {
            let parsed = parse_address(&address)?;
            admin::accounts::set_admin(store, &address, state.is_on()).await?;
            let (action, done) = match state.is_on() {
                true => ("user.admin.on", "is now an administrator"),
                false => ("user.admin.off", "is no longer an administrator"),
            };
            audit(action, &parsed);
            println!("{parsed} {done}");
        }
        UserCommand::DisplayName { address, name } => {
            let parsed = parse_address(&address)?;
            let name = name.filter(|n| !n.is_empty());
            admin::accounts::set_display_name(store, &address, name.as_deref()).await?;
            audit("user.display_name", &parsed);
            match name {
                Some(name) => println!("set the display name of {parsed} to {name:?}"),
                None => println!("cleared the display name of {parsed}"),
            }
        }
        UserCommand::Quota {
            address,
            storage,
            messages,
            json,
        } => quota(store, &address, storage, messages, Format::from_flag(json)).await?,
        UserCommand::Passwd { address, password } => {
            let address = parse_address(&address)?;
            let password = password.read(&format!("postie user passwd {address}"))?;
            admin::accounts::set_password(store, &address.to_string(), &password).await?;
            audit("user.passwd", &address);
            println!("changed the password of {address}");
        }
        UserCommand::Del { address } => {
            let address = parse_address(&address)?;
            admin::accounts::remove(store, &address.to_string()).await?;
            audit("user.del", &address);
            println!("removed user {address}");
        }
        UserCommand::AppPassword(c) => crate::app_password_cli::run(store, c).await?,
    }
    Ok(())
}

/// `postie user quota`: sets the limits given (the other stays as it was), then shows
/// limits and usage.
async fn quota(
    store: &dyn Store,
    address: &str,
    storage: Option<Limit>,
    messages: Option<Limit>,
    format: Format,
) -> anyhow::Result<()> {
    let address = parse_address(address)?;
    let account = admin::accounts::account_of(store, &address).await?;
    let mut limits = store.quota_get(account.id).await?;
    if storage.is_some() || messages.is_some() {
        if let Some(Limit(l)) = storage {
            limits.storage = l;
        }
        if let Some(Limit(l)) = messages {
            limits.messages = l;
        }
        store.quota_set(&address, limits).await?;
    }
    let used = store.quota_usage(account.id).await?;
    match format {
        Format::Json => {
            let report = QuotaJson {
                address: account.address.to_unicode(),
                storage_used: used.storage,
                storage_limit: limits.storage,
                messages_used: used.messages,
                messages_limit: limits.messages,
            };
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Format::Table => print!("{}", quota_report(&account.address, &limits, &used)),
    }
    Ok(())
}

/// `postie user quota --json`: one account's limits and usage.
#[derive(Debug, Serialize)]
struct QuotaJson {
    address: String,
    storage_used: u64,
    storage_limit: Option<u64>,
    messages_used: u64,
    messages_limit: Option<u64>,
}

/// What `user quota` prints: a header row, then one row per resource, usage then
/// limit, exact octets first (for scripts) and a readable size after.
fn quota_report(address: &Address, q: &Quota, used: &QuotaUsage) -> String {
    let octets = |n: u64| format!("{n} octets ({})", human(n));
    let mut table = Table::new(&["ACCOUNT", "RESOURCE", "USED", "LIMIT"]);
    table.row(vec![
        address.to_string(),
        "storage".into(),
        octets(used.storage),
        q.storage.map_or_else(|| "unlimited".into(), octets),
    ]);
    table.row(vec![
        address.to_string(),
        "messages".into(),
        used.messages.to_string(),
        q.messages
            .map_or_else(|| "unlimited".into(), |l| l.to_string()),
    ]);
    table.render()
}

/// `postie domain list`: each local domain with its number of accounts and aliases.
async fn domain_list(store: &dyn Store, format: Format) -> anyhow::Result<()> {
    /// One row of `domain list --json`.
    #[derive(Debug, Serialize)]
    struct Row {
        domain: String,
        users: usize,
        aliases: usize,
    }
    let accounts = store.account_list().await?;
    let aliases = store.alias_list().await?;
    let rows: Vec<Row> = store
        .domain_list()
        .await?
        .into_iter()
        .map(|domain| Row {
            users: accounts
                .iter()
                .filter(|a| a.address.domain() == &domain)
                .count(),
            aliases: aliases
                .iter()
                .filter(|(a, _)| a.domain() == &domain)
                .count(),
            domain: domain.to_string(),
        })
        .collect();
    print_list(
        format,
        &rows,
        "no domains (add one with `postie domain add example.org`)",
        |rows| {
            let mut table = Table::new(&["DOMAIN", "USERS", "ALIASES"]);
            for r in rows {
                table.row(vec![
                    r.domain.clone(),
                    r.users.to_string(),
                    r.aliases.to_string(),
                ]);
            }
            table
        },
    )
}

/// `postie user list`: every account with its quota limits.
async fn user_list(store: &dyn Store, format: Format) -> anyhow::Result<()> {
    /// One row of `user list --json`.
    #[derive(Debug, Serialize)]
    struct Row {
        address: String,
        storage_limit: Option<u64>,
        messages_limit: Option<u64>,
        admin: bool,
        display_name: Option<String>,
    }
    let mut rows = Vec::new();
    for account in store.account_list().await? {
        let limits = store.quota_get(account.id).await?;
        rows.push(Row {
            address: account.address.to_unicode(),
            storage_limit: limits.storage,
            messages_limit: limits.messages,
            admin: account.admin,
            display_name: account.display_name,
        });
    }
    print_list(
        format,
        &rows,
        "no users (add one with `postie user add alice@example.org`)",
        |rows| {
            let limit =
                |l: Option<u64>, show: fn(u64) -> String| l.map_or("unlimited".into(), show);
            // The display name last: it is free text, and may hold spaces.
            let mut table = Table::new(&[
                "ADDRESS",
                "STORAGE LIMIT",
                "MESSAGE LIMIT",
                "ADMIN",
                "DISPLAY NAME",
            ]);
            for r in rows {
                table.row(vec![
                    r.address.clone(),
                    limit(r.storage_limit, human),
                    limit(r.messages_limit, |n| n.to_string()),
                    if r.admin { "yes" } else { "no" }.to_owned(),
                    r.display_name.clone().unwrap_or_default(),
                ]);
            }
            table
        },
    )
}

/// A size with the largest K/M/G/T suffix (powers of 1024) that keeps it exact, else
/// rounded to one decimal: `1G`, `1536K`, `1.4M`.
fn human(octets: u64) -> String {
    const UNITS: [(u32, &str); 4] = [(40, "T"), (30, "G"), (20, "M"), (10, "K")];
    for (shift, unit) in UNITS {
        if octets >= 1 << shift && octets.is_multiple_of(1 << shift) {
            return format!("{}{unit}", octets >> shift);
        }
    }
    for (shift, unit) in UNITS {
        if octets >= 1 << shift {
            return format!("{:.1}{unit}", octets as f64 / (1u64 << shift) as f64);
        }
    }
    format!("{octets}")
}

async fn alias(store: &dyn Store, command: AliasCommand) -> anyhow::Result<()> {
    match command {
        AliasCommand::Add { alias, target } => {
            let (alias, target) = (parse_address(&alias)?, parse_address(&target)?);
            store.alias_add(&alias, &target).await?;
            audit("alias.add", &alias);
            println!("added alias {alias} -> {target}");
        }
        AliasCommand::List(list) => alias_list(store, list.format()).await?,
        AliasCommand::Del { alias } => {
            let alias = parse_address(&alias)?;
            store.alias_remove(&alias).await?;
            audit("alias.del", &alias);
            println!("removed alias {alias}");
        }
    }
    Ok(())
}

/// `postie alias list`: each alias and the account it delivers to.
async fn alias_list(store: &dyn Store, format: Format) -> anyhow::Result<()> {
    /// One row of `alias list --json`.
    #[derive(Debug, Serialize)]
    struct Row {
        alias: String,
        target: String,
    }
    let rows: Vec<Row> = store
        .alias_list()
        .await?
        .into_iter()
        .map(|(alias, target)| Row {
            alias: alias.to_unicode(),
            target: target.to_unicode(),
        })
        .collect();
    print_list(
        format,
        &rows,
        "no aliases (add one with `postie alias add postmaster@example.org alice@example.org`)",
        |rows| {
            let mut table = Table::new(&["ALIAS", "", "TARGET"]);
            for r in rows {
                table.row(vec![r.alias.clone(), "->".into(), r.target.clone()]);
            }
            table
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human(0), "0");
        assert_eq!(human(1000), "1000");
        assert_eq!(human(1 << 30), "1G");
        assert_eq!(human(1536 << 10), "1536K");
        assert_eq!(human(1_500_000), "1.4M");
    }

    #[test]
    fn report_and_list_text() {
        let alice = Address::parse("alice@example.org").expect("address");
        let q = Quota {
            storage: Some(1 << 30),
            messages: None,
        };
        let used = QuotaUsage {
            storage: 2048,
            messages: 3,
        };
        assert_eq!(
            quota_report(&alice, &q, &used),
            "ACCOUNT            RESOURCE  USED              LIMIT\n\
             alice@example.org  storage   2048 octets (2K)  1073741824 octets (1G)\n\
             alice@example.org  messages  3                 unlimited\n"
        );
    }
}
