//! `postie dkim`: DKIM keys for local domains (generate, list, remove).
//!
//! Where it sits: an admin command; it works on `DATA_DIR/dkim` through
//! [`mailauth::KeyStore`], with or without the server running (the server notices new
//! and removed keys with the next message it signs). See docs/mailauth.md.

use anyhow::Context;
use clap::Subcommand;
use mailauth::{Algorithm, KeyStore};
use store::Store;

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Create an Ed25519 key (RFC 8463) and an RSA-2048 key (RFC 6376) for DOMAIN, a
    /// local domain, under dated selectors (e.g. 202611e and 202611r), and print the DNS
    /// TXT records to publish. Mail is signed with the newest key of each kind; older
    /// keys stay valid (keep their records published) until removed, so this is also
    /// how keys are rotated.
    Generate { domain: String },
    /// List every key: domain, selector, algorithm, and the record to publish.
    List,
    /// Delete one key. Remove its DNS record only once mail signed with it is
    /// delivered (a few days after the newer key took over).
    #[command(alias = "del")]
    Remove { domain: String, selector: String },
}

/// Runs one `postie dkim` command.
pub async fn run(command: DkimCommand, config: &config::Config) -> anyhow::Result<()> {
    let keys = KeyStore::new(&config.data_dir);
    match command {
        DkimCommand::Generate { domain } => {
            let parsed = message::Domain::parse(&domain)
                .map_err(|e| anyhow::anyhow!("{domain:?} is not a valid domain: {e}"))?;
            let store = store::sqlite::SqliteStore::open(&config.data_dir).with_context(|| {
                format!(
                    "cannot open the data directory {}",
                    config.data_dir.display()
                )
            })?;
            anyhow::ensure!(
                store.domain_is_local(&parsed).await?,
                "{domain} is not a local domain (add it first: postie domain add {domain})"
            );
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            for algorithm in [Algorithm::Ed25519, Algorithm::Rsa] {
                let key = keys.generate(parsed.as_str(), algorithm, now)?;
                println!("; DKIM key {} ({})", key.selector, algorithm.key_type());
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
        DkimCommand::List => {
            let all = keys.list()?;
            if all.is_empty() {
                eprintln!("no DKIM keys (postie dkim generate DOMAIN makes some)");
            }
            for key in all {
                println!(
                    "{}\t{}\t{}\t{}",
                    key.domain,
                    key.selector,
                    key.algorithm.key_type(),
                    key.record
                );
            }
        }
        DkimCommand::Remove { domain, selector } => {
            keys.remove(&domain, &selector)?;
            println!("removed DKIM key {selector} of {domain}");
        }
    }
    Ok(())
}
