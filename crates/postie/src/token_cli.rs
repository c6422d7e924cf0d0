//! `postie token create|list|revoke`: the bearer tokens of the HTTP API. Each token
//! acts as an administrator (docs/web.md); it is shown once, when made, and stored
//! only as a hash of its secret, so a lost token is revoked and replaced, never
//! recovered.
//!
//! Where it sits: an admin command over [`admin::tokens`], working on the store
//! directly, with or without the server running (the server checks tokens against
//! the store on every request, so a revoked token stops working at once). `create`
//! prints the token alone on standard output and its note on standard error, so
//! `TOKEN=$(postie token create --name ci)` takes just the token.

use crate::cli::ListFormat;
use crate::output::{Table, date_time, print_list, rfc3339};
use clap::Subcommand;
use serde::Serialize;
use store::Store;

/// The `token` commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token named NAME and print it, alone on standard output (only this
    /// once). Send it as `Authorization: Bearer TOKEN` to the HTTP API.
    ///
    /// Example: `TOKEN=$(postie token create --name ci)`.
    Create {
        /// What it is for (unique): 1-64 letters, digits, `.`, `_` and `-`, e.g. `ci`.
        #[arg(long)]
        name: String,
    },
    /// List the tokens: name, when made, when last used (never the token itself).
    ///
    /// JSON fields: `name`, `created` and `last_used` (RFC 3339, `null` if never).
    List(ListFormat),
    /// Revoke a token: requests with it are refused from now on.
    #[command(alias = "del", alias = "remove")]
    Revoke {
        /// The name it was given.
        name: String,
    },
}

/// Runs one `token` command.
pub async fn run(store: &dyn Store, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name } => {
            let token = admin::tokens::create(store, &name).await?;
            admin::audit::log("cli", "token.create", &name);
            println!("{token}");
            eprintln!(
                "API token {name:?} made; it is shown only this once \
                 (send it as `Authorization: Bearer TOKEN`)."
            );
        }
        TokenCommand::List(list) => {
            /// One row of `token list --json`.
            #[derive(Debug, Serialize)]
            struct Row {
                name: String,
                created: String,
                last_used: Option<String>,
                /// Created and last used, unix seconds, for the table.
                #[serde(skip)]
                times: (i64, Option<i64>),
            }
            let rows: Vec<Row> = admin::tokens::list(store)
                .await?
                .into_iter()
                .map(|t| Row {
                    name: t.name,
                    created: rfc3339(t.created_at),
                    last_used: t.last_used.map(rfc3339),
                    times: (t.created_at, t.last_used),
                })
                .collect();
            let empty = "no API tokens (make one with `postie token create --name ci`)";
            print_list(list.format(), &rows, empty, |rows| {
                let mut table = Table::new(&["NAME", "CREATED", "LAST USED"]);
                for r in rows {
                    let (created, last) = r.times;
                    let last = last.map_or_else(|| "never".to_owned(), date_time);
                    table.row(vec![r.name.clone(), date_time(created), last]);
                }
                table
            })?;
        }
        TokenCommand::Revoke { name } => {
            admin::tokens::revoke(store, &name).await?;
            admin::audit::log("cli", "token.revoke", &name);
            println!("revoked API token {name:?}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn commands_parse() {
        let cli =
            Cli::try_parse_from(["postie", "token", "create", "--name", "ci"]).expect("parse");
        let Command::Token(TokenCommand::Create { name }) = cli.command else {
            panic!("not token create");
        };
        assert_eq!(name, "ci");
        let cli = Cli::try_parse_from(["postie", "token", "list", "--json"]).expect("parse");
        assert!(matches!(
            cli.command,
            Command::Token(TokenCommand::List(ListFormat { json: true }))
        ));
        let cli = Cli::try_parse_from(["postie", "token", "revoke", "ci"]).expect("parse");
        assert!(
            matches!(cli.command, Command::Token(TokenCommand::Revoke { name }) if name == "ci")
        );
        assert!(
            Cli::try_parse_from(["postie", "token", "create"]).is_err(),
            "--name is required"
        );
        assert!(Cli::try_parse_from(["postie", "token", "revoke"]).is_err());
    }

    #[tokio::test]
    async fn create_list_revoke() {
        let store = store::memory::MemoryStore::new();
        let create = || TokenCommand::Create { name: "ci".into() };
        run(&store, create()).await.expect("create");
        let err = run(&store, create()).await.expect_err("same name twice");
        assert_eq!(err.to_string(), "there is already a token named \"ci\"");
        assert_eq!(store.token_list().await.unwrap().len(), 1);
        let revoke = || TokenCommand::Revoke { name: "ci".into() };
        run(&store, revoke()).await.expect("revoke");
        let err = run(&store, revoke()).await.expect_err("nothing left");
        assert_eq!(err.to_string(), "no token named \"ci\"");
        let bad = TokenCommand::Create {
            name: "no spaces".into(),
        };
        assert!(run(&store, bad).await.is_err());
    }
}
