//! `postie share add|remove|list`: share one account's mailbox with another account,
//! or with every account (`anyone`), through the mailbox's access control list
//! (RFC 4314, the same entries IMAP's SETACL/GETACL change and show).
//!
//! Where it sits: an admin command on the store directly, with or without the server
//! running. Rights are RFC 4314 letters, checked and normalised by
//! [`imap::acl::Rights`] before they are stored; a running server's sessions see a
//! change the next time they look (LIST, SELECT).

use crate::cli::ListFormat;
use crate::output::{Table, print_list};
use anyhow::bail;
use clap::Subcommand;
use imap::acl::{Rights, SharedName};
use message::Address;
use serde::Serialize;
use store::{Account, Grantee, Mailbox, Store};

/// The `share` commands.
#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Share OWNER's MAILBOX with the account GRANTEE, or with every account
    /// (`--with anyone`), or change the rights it has there.
    ///
    /// The grantee sees it over IMAP as `Other Users/OWNER/MAILBOX`, or as
    /// `Shared/OWNER/MAILBOX` when it is shared with anyone. The owner always has
    /// every right and cannot be given any.
    ///
    /// Rights are RFC 4314 letters: l (see it), r (read), s (keep \Seen), w (other
    /// flags), i (append, copy into), p (post), k (create mailboxes under it), x
    /// (delete it), t (flag \Deleted), e (expunge), a (administer: change the ACL);
    /// the obsolete c is kx and d is te. `+LETTERS` adds to and `-LETTERS` removes
    /// from what the grantee has now (as IMAP's SETACL does); a grantee left with no
    /// rights loses the share.
    ///
    /// Example: `postie share add alice@example.org Projects --with bob@example.org
    /// --rights lr`.
    Add {
        /// The address of the account that owns the mailbox.
        owner: String,
        /// The mailbox, by its name in the owner's account, e.g. INBOX or Projects.
        mailbox: String,
        /// Who gets it: an account's address, or `anyone` (every account).
        #[arg(long = "with", value_name = "GRANTEE")]
        grantee: String,
        /// The rights: letters (replacing what the grantee had), or +LETTERS / -LETTERS
        /// to add or remove some.
        #[arg(
            long,
            value_name = "RIGHTS",
            default_value = "lrswipte",
            allow_hyphen_values = true
        )]
        rights: String,
    },
    /// Stop sharing OWNER's MAILBOX with GRANTEE (an account's address, or `anyone`).
    #[command(alias = "del")]
    Remove {
        /// The address of the account that owns the mailbox.
        owner: String,
        /// The mailbox, by its name in the owner's account.
        mailbox: String,
        /// Whose share to take back: an account's address, or `anyone`.
        #[arg(long = "with", value_name = "GRANTEE")]
        grantee: String,
    },
    /// List shared mailboxes (of OWNER only, when given): owner, mailbox, who it is
    /// shared with, and the rights.
    ///
    /// JSON fields: `owner`, `mailbox`, `grantee` (an address, or `anyone`),
    /// `rights` (RFC 4314 letters).
    List {
        /// Only this account's mailboxes.
        owner: Option<String>,
        #[command(flatten)]
        format: ListFormat,
    },
}

/// One row of `share list --json`.
#[derive(Debug, Serialize)]
struct Row {
    owner: String,
    mailbox: String,
    grantee: String,
    rights: String,
}

/// Runs one `share` command.
pub async fn run(store: &dyn Store, command: ShareCommand) -> anyhow::Result<()> {
    match command {
        ShareCommand::Add {
            owner,
            mailbox,
            grantee,
            rights,
        } => add(store, &owner, &mailbox, &grantee, &rights).await,
        ShareCommand::Remove {
            owner,
            mailbox,
            grantee,
        } => {
            let (owner, mailbox) = owned_mailbox(store, &owner, &mailbox).await?;
            let (grantee, name) = grantee_of(store, &owner, &grantee).await?;
            if current(store, &mailbox, grantee).await?.is_none() {
                bail!(
                    "{:?} of {} is not shared with {name}",
                    mailbox.name,
                    owner.address
                );
            }
            store.acl_set(mailbox.id, grantee, "").await?;
            println!(
                "stopped sharing {:?} of {} with {name}",
                mailbox.name, owner.address
            );
            Ok(())
        }
        ShareCommand::List { owner, format } => {
            let owners = match owner {
                Some(address) => vec![account(store, &address).await?],
                None => store.account_list().await?,
            };
            let mut rows = Vec::new();
            for owner in &owners {
                for mailbox in store.mailbox_list(owner.id).await? {
                    for entry in store.acl_list(mailbox.id).await? {
                        rows.push(Row {
                            owner: owner.address.to_string(),
                            mailbox: mailbox.name.clone(),
                            grantee: entry.identifier,
                            rights: entry.rights,
                        });
                    }
                }
            }
            let empty = match owners.as_slice() {
                [one] => format!("no mailboxes of {} are shared", one.address),
                _ => "no shared mailboxes (share one with `postie share add alice@example.org \
                      INBOX --with bob@example.org`)"
                    .to_owned(),
            };
            print_list(format.format(), &rows, &empty, |rows| {
                let mut table = Table::new(&["OWNER", "MAILBOX", "GRANTEE", "RIGHTS"]);
                for r in rows {
                    table.row(vec![
                        r.owner.clone(),
                        r.mailbox.clone(),
                        r.grantee.clone(),
                        r.rights.clone(),
                    ]);
                }
                table
            })
        }
    }
}

/// `share add`.
async fn add(
    store: &dyn Store,
    owner: &str,
    mailbox: &str,
    grantee: &str,
    rights: &str,
) -> anyhow::Result<()> {
    let (owner, mailbox) = owned_mailbox(store, owner, mailbox).await?;
    let (grantee, name) = grantee_of(store, &owner, grantee).await?;
    let modifier = rights.starts_with(['+', '-']);
    if rights.is_empty() || (modifier && rights.len() == 1) {
        bail!("no rights given; to stop sharing use `postie share remove`");
    }
    let had = current(store, &mailbox, grantee).await?;
    let before = match &had {
        Some(letters) => Rights::parse(letters).unwrap_or(Rights::NONE),
        None => Rights::NONE,
    };
    let after = before
        .modify(rights)
        .map_err(|e| anyhow::anyhow!("bad --rights {rights:?}: {e}"))?;
    let label = format!("{:?} of {}", mailbox.name, owner.address);
    if after.is_empty() {
        if had.is_none() {
            bail!("{label} is not shared with {name}; nothing to remove rights from");
        }
        store.acl_set(mailbox.id, grantee, "").await?;
        println!("stopped sharing {label} with {name} (no rights left)");
        return Ok(());
    }
    store
        .acl_set(mailbox.id, grantee, &after.to_string())
        .await?;
    let seen_as = SharedName {
        anyone: grantee == Grantee::Anyone,
        owner: &owner.address.to_string(),
        mailbox: &mailbox.name,
    }
    .name();
    let whom = match grantee {
        Grantee::Anyone => "every account".to_owned(),
        Grantee::Account(_) => name.clone(),
    };
    println!("shared {label} with {name}: {after} ({whom} sees it over IMAP as {seen_as:?})");
    Ok(())
}

/// The account at `address`, or an error naming it.
async fn account(store: &dyn Store, address: &str) -> anyhow::Result<Account> {
    let parsed = crate::admin_cli::parse_address(address)?;
    match store.account_get(&parsed).await? {
        Some(account) => Ok(account),
        None => bail!("no account {parsed}"),
    }
}

/// The owner's account and its mailbox `name`, or an error naming what is missing.
async fn owned_mailbox(
    store: &dyn Store,
    owner: &str,
    name: &str,
) -> anyhow::Result<(Account, Mailbox)> {
    let owner = account(store, owner).await?;
    match store.mailbox_get(owner.id, name).await {
        Ok(Some(mailbox)) => Ok((owner, mailbox)),
        Ok(None) | Err(store::StoreError::Invalid(_)) => {
            bail!("{} has no mailbox {name:?}", owner.address)
        }
        Err(e) => Err(e.into()),
    }
}

/// GRANTEE as given: `anyone`, or another account than the owner; with how messages
/// name it.
async fn grantee_of(
    store: &dyn Store,
    owner: &Account,
    grantee: &str,
) -> anyhow::Result<(Grantee, String)> {
    if grantee.eq_ignore_ascii_case("anyone") {
        return Ok((Grantee::Anyone, "anyone".to_owned()));
    }
    let parsed: Address = crate::admin_cli::parse_address(grantee)?;
    let Some(account) = store.account_get(&parsed).await? else {
        bail!("no account {parsed} to share with");
    };
    if account.id == owner.id {
        bail!(
            "{} owns the mailbox: the owner always has every right",
            owner.address
        );
    }
    Ok((Grantee::Account(account.id), account.address.to_string()))
}

/// The rights `grantee`'s entry on `mailbox` holds now, if it has one.
async fn current(
    store: &dyn Store,
    mailbox: &Mailbox,
    grantee: Grantee,
) -> anyhow::Result<Option<String>> {
    Ok(store
        .acl_list(mailbox.id)
        .await?
        .into_iter()
        .find(|e| e.grantee == grantee)
        .map(|e| e.rights))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use message::Domain;
    use store::memory::MemoryStore;

    async fn store() -> MemoryStore {
        let store = MemoryStore::new();
        store
            .domain_add(&Domain::parse("example.org").unwrap())
            .await
            .unwrap();
        for who in ["alice@example.org", "bob@example.org"] {
            store
                .account_add(&Address::parse(who).unwrap(), "x")
                .await
                .unwrap();
        }
        store
    }

    fn add(with: &str, rights: &str) -> ShareCommand {
        ShareCommand::Add {
            owner: "alice@example.org".into(),
            mailbox: "INBOX".into(),
            grantee: with.into(),
            rights: rights.into(),
        }
    }

    async fn entries(store: &MemoryStore) -> Vec<(String, String)> {
        let alice = store
            .account_get(&Address::parse("alice@example.org").unwrap())
            .await
            .unwrap()
            .unwrap();
        let inbox = store.mailbox_get(alice.id, "INBOX").await.unwrap().unwrap();
        store
            .acl_list(inbox.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.identifier, e.rights))
            .collect()
    }

    #[test]
    fn commands_parse() {
        let cli = crate::cli::Cli::try_parse_from([
            "postie",
            "share",
            "add",
            "alice@example.org",
            "INBOX",
            "--with",
            "bob@example.org",
            "--rights",
            "-w",
        ])
        .expect("parse");
        let crate::cli::Command::Share(ShareCommand::Add { rights, .. }) = cli.command else {
            panic!("not share add");
        };
        assert_eq!(rights, "-w", "a leading - is a value, not a flag");
        let cli = crate::cli::Cli::try_parse_from([
            "postie", "share", "add", "a@b.org", "X", "--with", "anyone",
        ])
        .expect("parse");
        let crate::cli::Command::Share(ShareCommand::Add { rights, .. }) = cli.command else {
            panic!("not share add");
        };
        assert_eq!(rights, Rights::default_share().to_string());
        for args in [
            &["postie", "share", "list"][..],
            &["postie", "share", "list", "a@b.org", "--json"],
            &[
                "postie", "share", "remove", "a@b.org", "X", "--with", "anyone",
            ],
        ] {
            crate::cli::Cli::try_parse_from(args).expect("parse");
        }
        assert!(
            crate::cli::Cli::try_parse_from(["postie", "share", "add", "a@b.org", "X"]).is_err(),
            "--with is required"
        );
    }

    #[tokio::test]
    async fn add_modify_remove() {
        let store = store().await;
        run(&store, add("bob@example.org", "lrswipte"))
            .await
            .expect("add");
        run(&store, add("anyone", "rl")).await.expect("anyone");
        let bob = ("bob@example.org".to_owned(), "lrswipte".to_owned());
        let anyone = ("anyone".to_owned(), "lr".to_owned());
        assert_eq!(entries(&store).await, [anyone.clone(), bob]);
        run(&store, add("bob@example.org", "-wt"))
            .await
            .expect("minus");
        run(&store, add("bob@example.org", "+a"))
            .await
            .expect("plus");
        let bob = ("bob@example.org".to_owned(), "lrsipea".to_owned());
        assert_eq!(entries(&store).await, [anyone.clone(), bob]);
        // Removing every right removes the entry.
        run(&store, add("bob@example.org", "-lrsipea"))
            .await
            .expect("all gone");
        assert_eq!(entries(&store).await, [anyone]);
        let remove = || ShareCommand::Remove {
            owner: "alice@example.org".into(),
            mailbox: "INBOX".into(),
            grantee: "ANYONE".into(),
        };
        run(&store, remove()).await.expect("remove");
        assert!(entries(&store).await.is_empty());
        let err = run(&store, remove()).await.expect_err("nothing to remove");
        assert!(err.to_string().contains("not shared"), "{err}");
    }

    #[tokio::test]
    async fn errors() {
        let store = store().await;
        let err = |command| async { run(&store, command).await.expect_err("refused").to_string() };
        let msg = err(add("alice@example.org", "lr")).await;
        assert!(msg.contains("the owner always has every right"), "{msg}");
        let msg = err(add("carol@example.org", "lr")).await;
        assert!(msg.contains("no account carol@example.org"), "{msg}");
        let msg = err(add("bob@example.org", "lrz")).await;
        assert!(msg.contains("unknown right 'z'"), "{msg}");
        let msg = err(add("bob@example.org", "")).await;
        assert!(msg.contains("no rights given"), "{msg}");
        let msg = err(ShareCommand::Add {
            owner: "nobody@example.org".into(),
            mailbox: "INBOX".into(),
            grantee: "bob@example.org".into(),
            rights: "lr".into(),
        })
        .await;
        assert!(msg.contains("no account nobody@example.org"), "{msg}");
        let msg = err(ShareCommand::Add {
            owner: "alice@example.org".into(),
            mailbox: "Nowhere".into(),
            grantee: "bob@example.org".into(),
            rights: "lr".into(),
        })
        .await;
        assert!(msg.contains("has no mailbox \"Nowhere\""), "{msg}");
        assert!(entries(&store).await.is_empty(), "nothing stored");
    }
}
