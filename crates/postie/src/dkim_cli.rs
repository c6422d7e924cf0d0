//! `postie dkim`: DKIM keys for local domains (generate, list, remove).
//!
//! Where it sits: an admin command over [`admin::dkim`], which works on `DATA_DIR/dkim`
//! through [`mailauth::KeyStore`], with or without the server running (the server
//! notices new and removed keys with the next message it signs). See docs/mailauth.md.
//!
//! With a store several nodes share (`[store] url`, PostgreSQL), the keys live in the
//! store instead ([`admin::dkim::shared_store`]): `generate` makes the key with the
//! same mailauth code and stores the record, `list` and `remove` work on the store's
//! records, and every node signs with the store's keys (re-read every half minute,
//! `server::dkim_keys`). The data directory's key files are then not used
//! (`postie store migrate --to` copies them into the database). Only `generate` opens
//! the embedded store (to check that the domain is local).

use crate::cli::ListFormat;
use crate::output::{Table, print_list};
use clap::Subcommand;
use serde::Serialize;

/// The `dkim` commands.
#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Create an Ed25519 key (RFC 8463) and an RSA-2048 key (RFC 6376) for DOMAIN, a
    /// local domain, under dated selectors (e.g. 202611e and 202611r), and print the DNS
    /// TXT records to publish. Mail is signed with the newest key of each kind; older
    /// keys stay valid (keep their records published) until removed, so this is also
    /// how keys are rotated.
    Generate {
        /// The local domain to make keys for.
        domain: String,
    },
    /// List every key: domain, selector, algorithm, and the record to publish (at
    /// SELECTOR._domainkey.DOMAIN).
    ///
    /// JSON fields: `domain`, `selector`, `algorithm` (`ed25519` or `rsa`),
    /// `record_name`, `record` (the TXT value).
    List(ListFormat),
    /// Delete one key. Remove its DNS record only once mail signed with it is
    /// delivered (a few days after the newer key took over).
    #[command(alias = "del")]
    Remove {
        /// The domain the key signs for.
        domain: String,
        /// The key's selector, as `postie dkim list` shows it.
        selector: String,
    },
}

/// Runs one `postie dkim` command.
pub async fn run(command: DkimCommand, config: &config::Config) -> anyhow::Result<()> {
    match command {
        DkimCommand::Generate { domain } => {
            // Checked before the store is opened, as it always was.
            let parsed = admin::accounts::parse_domain(&domain)?;
            let store = store::open(config).await?;
            for key in admin::dkim::generate(config, store.as_ref(), &domain).await? {
                admin::audit::log(
                    "cli",
                    "dkim.generate",
                    &format!("{}/{}", key.domain, key.selector),
                );
                println!("; DKIM key {} ({})", key.selector, key.algorithm.key_type());
                println!(
                    "{}. {} IN TXT {}",
                    key.record_name(),
                    mailauth::records::TTL,
                    mailauth::records::quote_txt(&key.record)
                );
            }
            eprintln!(
                "Publish these records; `postie dns records {}` prints all of the domain's.",
                parsed.as_str()
            );
        }
        DkimCommand::List(list) => {
            /// One row of `dkim list --json`.
            #[derive(Debug, Serialize)]
            struct Row {
                domain: String,
                selector: String,
                algorithm: &'static str,
                record_name: String,
                record: String,
            }
            let shared = admin::dkim::shared_store(config).await?;
            let listed = admin::dkim::list(config, shared.as_deref(), None).await?;
            let rows: Vec<Row> = listed
                .into_iter()
                .map(|key| Row {
                    record_name: key.record_name(),
                    domain: key.domain.to_string(),
                    selector: key.selector.to_string(),
                    algorithm: key.algorithm.key_type(),
                    record: key.record.to_string(),
                })
                .collect();
            let empty = "no DKIM keys (make some with `postie dkim generate example.org`)";
            print_list(list.format(), &rows, empty, |rows| {
                let mut table = Table::new(&["DOMAIN", "SELECTOR", "ALGORITHM", "RECORD"]);
                for r in rows {
                    table.row(vec![
                        r.domain.clone(),
                        r.selector.clone(),
                        r.algorithm.to_owned(),
                        r.record.clone(),
                    ]);
                }
                table
            })?;
        }
        DkimCommand::Remove { domain, selector } => {
            let shared = admin::dkim::shared_store(config).await?;
            admin::dkim::remove(config, shared.as_deref(), &domain, &selector).await?;
            admin::audit::log("cli", "dkim.remove", &format!("{domain}/{selector}"));
            println!("removed DKIM key {selector} of {domain}");
        }
    }
    Ok(())
}
