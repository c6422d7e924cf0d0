//! The admin commands: domains, users, reading mail, the queue. They work on the store
//! directly, so they run with or without the server.

use crate::cli::{AliasCommand, Command, DomainCommand, MailCommand, UserCommand};
use anyhow::{Context, bail};
use message::{Address, Domain};
use std::io::Write;
use store::sqlite::SqliteStore;
use store::{AccountId, MailboxId, Store};

/// Runs one admin command against the store in `config.data_dir`.
pub async fn run(command: Command, config: &config::Config) -> anyhow::Result<()> {
    let store = std::sync::Arc::new(SqliteStore::open(&config.data_dir).with_context(|| {
        format!(
            "cannot open the data directory {}",
            config.data_dir.display()
        )
    })?);
    match command {
        Command::Serve => unreachable!("serve is not an admin command"),
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
                println!("{}", account.address);
            }
        }
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
    }
    Ok(())
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
