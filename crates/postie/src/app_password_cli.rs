//! `postie user app-password add|list|revoke`: app passwords (what providers call
//! authorisation codes), one per device or program, each usable for SMTP AUTH, POP3 and
//! IMAP and revocable on its own (see `store::app_password` and docs/security.md).
//!
//! Where it sits: an admin command; it works on the store directly, with or without the
//! server running. `add` generates the password, stores only its id and the argon2 hash
//! of its secret, and prints it once, alone on its last line, so scripts can take it
//! with `tail -n 1`.

use crate::cli::ListFormat;
use crate::output::{Table, date_time, print_list, rfc3339};
use clap::Subcommand;
use serde::Serialize;
use store::Store;

/// The `user app-password` commands.
#[derive(Debug, Subcommand)]
pub enum AppPasswordCommand {
    /// Make a new app password for ADDRESS and print it (only this once), alone on the
    /// last line. Use it instead of the account password in a mail program; it works
    /// for SMTP, POP3 and IMAP, also when `auth.account_password = "web-only"`.
    ///
    /// Example: `postie user app-password add alice@example.org --name phone`.
    Add {
        /// The account's address.
        address: String,
        /// What it is for (unique per account), e.g. `phone` or `laptop`.
        #[arg(long)]
        name: String,
    },
    /// List ADDRESS's app passwords: name, when made, when last used to log in.
    ///
    /// JSON fields: `name`, `created` and `last_used` (RFC 3339, `null` if never).
    List {
        /// The account's address.
        address: String,
        #[command(flatten)]
        format: ListFormat,
    },
    /// Revoke one of ADDRESS's app passwords: logins with it fail from now on.
    #[command(alias = "del", alias = "remove")]
    Revoke {
        /// The account's address.
        address: String,
        /// The name it was given.
        #[arg(long)]
        name: String,
    },
}

/// Runs one `app-password` command.
pub async fn run(store: &dyn Store, command: AppPasswordCommand) -> anyhow::Result<()> {
    match command {
        AppPasswordCommand::Add { address, name } => {
            let account = admin::accounts::get(store, &address).await?;
            let whole = admin::app_passwords::create(store, &account, &name).await?;
            admin::audit::log(
                "cli",
                "app_password.add",
                &format!("{}/{name}", account.address),
            );
            println!(
                "App password {name:?} for {}; it is shown only this once:",
                account.address
            );
            println!("{whole}");
        }
        AppPasswordCommand::List { address, format } => {
            let account = admin::accounts::get(store, &address).await?;
            let rows: Vec<Row> = admin::app_passwords::list(store, &account)
                .await?
                .into_iter()
                .map(|p| Row {
                    name: p.name,
                    created: rfc3339(p.created_at),
                    last_used: p.last_used.map(rfc3339),
                    times: (p.created_at, p.last_used),
                })
                .collect();
            let empty = format!(
                "no app passwords for {0} (make one with `postie user app-password add {0} \
                 --name phone`)",
                account.address
            );
            print_list(format.format(), &rows, &empty, |rows| {
                let mut table = Table::new(&["NAME", "CREATED", "LAST USED"]);
                for r in rows {
                    let (created, last) = r.times;
                    let last = last.map_or_else(|| "never".to_owned(), date_time);
                    table.row(vec![r.name.clone(), date_time(created), last]);
                }
                table
            })?;
        }
        AppPasswordCommand::Revoke { address, name } => {
            let account = admin::accounts::get(store, &address).await?;
            admin::app_passwords::revoke(store, &account, &name).await?;
            admin::audit::log(
                "cli",
                "app_password.revoke",
                &format!("{}/{name}", account.address),
            );
            println!("revoked app password {name:?} of {}", account.address);
        }
    }
    Ok(())
}

/// One row of `app-password list --json`.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    created: String,
    last_used: Option<String>,
    /// Created and last used, unix seconds, for the table.
    #[serde(skip)]
    times: (i64, Option<i64>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn commands_parse() {
        let cli = crate::cli::Cli::try_parse_from([
            "postie",
            "user",
            "app-password",
            "add",
            "alice@example.org",
            "--name",
            "phone",
        ])
        .expect("parse");
        let crate::cli::Command::User(crate::cli::UserCommand::AppPassword(
            AppPasswordCommand::Add { address, name },
        )) = cli.command
        else {
            panic!("not app-password add");
        };
        assert_eq!(
            (address.as_str(), name.as_str()),
            ("alice@example.org", "phone")
        );
        for args in [
            &["postie", "user", "app-password", "list", "a@example.org"][..],
            &[
                "postie",
                "user",
                "app-password",
                "list",
                "a@example.org",
                "--json",
            ],
            &[
                "postie",
                "user",
                "app-password",
                "revoke",
                "a@example.org",
                "--name",
                "x",
            ],
        ] {
            crate::cli::Cli::try_parse_from(args).expect("parse");
        }
        assert!(
            crate::cli::Cli::try_parse_from(["postie", "user", "app-password", "add", "a@b.org"])
                .is_err(),
            "--name is required"
        );
    }

    #[tokio::test]
    async fn add_list_revoke() {
        let store = store::memory::MemoryStore::new();
        store
            .domain_add(&message::Domain::parse("example.org").unwrap())
            .await
            .unwrap();
        let alice = store
            .account_add(&message::Address::parse("alice@example.org").unwrap(), "x")
            .await
            .unwrap();
        let add = || AppPasswordCommand::Add {
            address: "alice@example.org".into(),
            name: "phone".into(),
        };
        run(&store, add()).await.expect("add");
        let err = run(&store, add()).await.expect_err("same name twice");
        assert!(err.to_string().contains("already has"), "{err}");
        assert_eq!(store.app_password_list(alice).await.unwrap().len(), 1);
        let revoke = || AppPasswordCommand::Revoke {
            address: "alice@example.org".into(),
            name: "phone".into(),
        };
        run(&store, revoke()).await.expect("revoke");
        assert!(
            run(&store, revoke()).await.is_err(),
            "nothing left to revoke"
        );
        assert!(store.app_password_list(alice).await.unwrap().is_empty());
        let nobody = AppPasswordCommand::List {
            address: "nobody@example.org".into(),
            format: crate::cli::ListFormat { json: false },
        };
        assert!(run(&store, nobody).await.is_err());
    }
}
