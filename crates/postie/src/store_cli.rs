//! `postie store …`: the store itself rather than what is in it. Today one command,
//! `postie store migrate --to postgres://…`, which copies the embedded store of the
//! configured data directory into an empty PostgreSQL database
//! ([`store::postgres::import`]) and prints what it copied, table by table.
//!
//! Where it sits: run by `main` on its own, because it must not open the configured
//! store as every admin command does: its source is the data directory's embedded
//! store whatever `[store] url` says, and its target is the URL given here.

use clap::Subcommand;
use std::path::PathBuf;

/// `postie store …`
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy the embedded store of the data directory (accounts, aliases, app passwords,
    /// quotas, mailboxes with their UIDs, UIDVALIDITY, mod-sequences and flags, message
    /// bodies, shared-mailbox rights, the queue, the DKIM key files) into an empty
    /// PostgreSQL database, then
    /// check the counts. Stop the server first: mail it accepts during the copy would
    /// stay behind. Then set `[store] url` in every node's config (docs/cluster.md).
    #[command(verbatim_doc_comment)]
    Migrate {
        /// The database, `postgres://USER@HOST:PORT/DB[?sslmode=…]`; its password from
        /// the URL, --password-file or PGPASSWORD.
        #[arg(long, value_name = "URL")]
        to: String,
        /// A file whose first line is the database password.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// PEM file of the authorities the database's certificate must chain to
        /// (sslmode=verify-full).
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
    },
}

/// Runs one `postie store` command.
pub async fn run(command: StoreCommand, config: &config::Config) -> anyhow::Result<()> {
    match command {
        StoreCommand::Migrate {
            to,
            password_file,
            ca_file,
        } => {
            let target = store::postgres::PgOptions {
                url: to,
                password_file,
                ca_file,
                pool_size: 2,
            };
            let shown = store::postgres::shown_url(&target.url);
            let report = store::postgres::import::embedded_to_postgres(&config.data_dir, &target)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot migrate {} to {shown}: {e}",
                        config.data_dir.display()
                    )
                })?;
            println!(
                "copied the embedded store of {} into {shown}:",
                config.data_dir.display()
            );
            for (table, rows) in &report.counts {
                println!("  {table:<17} {rows:>9}");
            }
            println!("counts verified. Next: set [store] url in each node's config.");
            Ok(())
        }
    }
}
