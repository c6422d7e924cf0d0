//! The admin commands: domains, users, reading mail, the queue. They work on the store
//! directly, so they run with or without the server.

use crate::cli::{AliasCommand, Command, DomainCommand, Limit, MailCommand, UserCommand};
use anyhow::{Context, bail};
use message::{Address, Domain};
use std::io::Write;
use store::sqlite::SqliteStore;
use store::{AccountId, MailboxId, Quota, QuotaUsage, Store};

/// Runs one admin command against the store in `config.data_dir`.
pub async fn run(command: Command, config: &config::Config) -> anyhow::Result<()> {
    let store = std::sync::Arc::new(SqliteStore::open(&config.data_dir).with_context(|| {
        format!(
            "cannot open the data directory {}",
            config.data_dir.display()
        )
    })?);
    match command {
        Command::Serve
        | Command::Send(_)
        | Command::Sendmail(_)
        | Command::Dkim(_)
        | Command::Dns(_) => {
            unreachable!("not an admin command")
        }
        Command::Domain(c) => domain(&store, c).await,
        Command::User(c) => user(&store, c).await,
        Command::Alias(c) => alias(&store, c).await,
        Command::Mail(c) => mail(&store, c).await,
        Command::Queue(c) => crate::queue_admin::run(store.clone(), c, config).await,
    }
}

fn parse_address(text: &str) -> anyhow::Result<Address> {
    Address::parse(text).map_err(|e| anyhow::anyhow!("{text:?} is not a valid address: {e}"))
}

async fn domain(store: &SqliteStore, command: DomainCommand) -> anyhow::Result<()> {
    let parse =
        |d: &str| Domain::parse(d).map_err(|e| anyhow::anyhow!("{d:?} is not a valid domain: {e}"));
    match command {
        DomainCommand::Add { domain } => {
            let domain = parse(&domain)?;
            store.domain_add(&domain).await?;
            println!("added domain {domain}");
        }
        DomainCommand::List => {
            for domain in store.domain_list().await? {
                println!("{domain}");
            }
        }
        DomainCommand::Del { domain } => {
            let domain = parse(&domain)?;
            store.domain_remove(&domain).await?;
            println!("removed domain {domain}");
        }
    }
    Ok(())
}

async fn user(store: &SqliteStore, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { address, password } => {
            let address = parse_address(&address)?;
            if !store.domain_is_local(address.domain()).await? {
                bail!(
                    "{} is not a local domain; add it first with `postie domain add {}`",
                    address.domain(),
                    address.domain()
                );
            }
            let hash = hash(password.read()?).await?;
            store.account_add(&address, &hash).await?;
            println!("added user {address}");
        }
        UserCommand::List => {
            for account in store.account_list().await? {
                let limits = limits_text(&store.quota_get(account.id).await?);
                match limits {
                    Some(limits) => println!("{} quota {limits}", account.address),
                    None => println!("{}", account.address),
                }
            }
        }
        UserCommand::Quota {
            address,
            storage,
            messages,
        } => quota(store, &address, storage, messages).await?,
        UserCommand::Passwd { address, password } => {
            let address = parse_address(&address)?;
            let hash = hash(password.read()?).await?;
            store.account_set_password(&address, &hash).await?;
            println!("changed the password of {address}");
        }
        UserCommand::Del { address } => {
            let address = parse_address(&address)?;
            store.account_remove(&address).await?;
            println!("removed user {address}");
        }
        UserCommand::AppPassword(c) => crate::app_password_cli::run(store, c).await?,
    }
    Ok(())
}

/// `postie user quota`: sets the limits given (the other stays as it was), then shows
/// limits and usage.
async fn quota(
    store: &SqliteStore,
    address: &str,
    storage: Option<Limit>,
    messages: Option<Limit>,
) -> anyhow::Result<()> {
    let address = parse_address(address)?;
    let Some(account) = store.account_get(&address).await? else {
        bail!("no account {address}");
    };
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
    print!("{}", quota_report(&account.address, &limits, &used));
    Ok(())
}

/// The limits as `user list` shows them (`storage=1G messages=50000`); `None` when
/// unlimited.
fn limits_text(q: &Quota) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(l) = q.storage {
        parts.push(format!("storage={}", human(l)));
    }
    if let Some(l) = q.messages {
        parts.push(format!("messages={l}"));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// What `user quota` prints: one line per resource, usage then limit, exact octets
/// first (for scripts) and a readable size after.
fn quota_report(address: &Address, q: &Quota, used: &QuotaUsage) -> String {
    let storage = match q.storage {
        Some(l) => format!(
            "storage: {} of {l} octets ({} of {})",
            used.storage,
            human(used.storage),
            human(l)
        ),
        None => format!(
            "storage: {} octets ({}), unlimited",
            used.storage,
            human(used.storage)
        ),
    };
    let messages = match q.messages {
        Some(l) => format!("messages: {} of {l}", used.messages),
        None => format!("messages: {}, unlimited", used.messages),
    };
    format!("{address}\n{storage}\n{messages}\n")
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

async fn alias(store: &SqliteStore, command: AliasCommand) -> anyhow::Result<()> {
    match command {
        AliasCommand::Add { alias, target } => {
            let (alias, target) = (parse_address(&alias)?, parse_address(&target)?);
            store.alias_add(&alias, &target).await?;
            println!("added alias {alias} -> {target}");
        }
        AliasCommand::List => {
            for (alias, target) in store.alias_list().await? {
                println!("{alias} -> {target}");
            }
        }
        AliasCommand::Del { alias } => {
            let alias = parse_address(&alias)?;
            store.alias_remove(&alias).await?;
            println!("removed alias {alias}");
        }
    }
    Ok(())
}

async fn hash(password: String) -> anyhow::Result<String> {
    Ok(tokio::task::spawn_blocking(move || store::password::hash(&password)).await??)
}

async fn mailbox(store: &SqliteStore, address: &str, name: &str) -> anyhow::Result<MailboxId> {
    let address = parse_address(address)?;
    let Some(account) = store.account_get(&address).await? else {
        bail!("no account {address}");
    };
    let AccountId(_) = account.id;
    store
        .mailbox_list(account.id)
        .await?
        .into_iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
        .map(|m| m.id)
        .with_context(|| format!("{address} has no mailbox {name}"))
}

async fn mail(store: &SqliteStore, command: MailCommand) -> anyhow::Result<()> {
    match command {
        MailCommand::List {
            address,
            mailbox: name,
        } => {
            let id = mailbox(store, &address, &name).await?;
            for m in store.message_list(id).await? {
                println!("{} {} {}", m.uid, m.size, m.queue_id);
            }
        }
        MailCommand::Read {
            address,
            uid,
            mailbox: name,
        } => {
            let id = mailbox(store, &address, &name).await?;
            let bytes = store.message_read(id, uid).await?;
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(())
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
            "alice@example.org\nstorage: 2048 of 1073741824 octets (2K of 1G)\n\
             messages: 3, unlimited\n"
        );
        assert_eq!(limits_text(&q).as_deref(), Some("storage=1G"));
        assert_eq!(limits_text(&Quota::default()), None);
    }
}
