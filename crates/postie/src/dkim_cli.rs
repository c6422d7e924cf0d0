//! `postie dkim`: DKIM keys for local domains (generate, list, remove).
//!
//! Where it sits: an admin command; it works on `DATA_DIR/dkim` through
//! [`mailauth::KeyStore`], with or without the server running (the server notices new
//! and removed keys with the next message it signs). See docs/mailauth.md.
//!
//! With a store several nodes share (`[store] url`, PostgreSQL), the keys live in the
//! store instead ([`shared_store`]): `generate` makes the key with the same mailauth
//! code and stores the record, `list` and `remove` work on the store's records, and
//! every node signs with the store's keys (re-read every half minute,
//! `server::dkim_keys`). The data directory's key files are then not used
//! (`postie store migrate --to` copies them into the database).

use crate::cli::ListFormat;
use crate::output::{Table, print_list};
use clap::Subcommand;
use mailauth::{Algorithm, KeyInfo, KeyStore};
use serde::Serialize;
use std::sync::Arc;

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
    let keys = KeyStore::new(&config.data_dir);
    match command {
        DkimCommand::Generate { domain } => {
            let parsed = message::Domain::parse(&domain)
                .map_err(|e| anyhow::anyhow!("{domain:?} is not a valid domain: {e}"))?;
            let store = store::open(config).await?;
            anyhow::ensure!(
                store.domain_is_local(&parsed).await?,
                "{domain} is not a local domain (add it first: postie domain add {domain})"
            );
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let shared = store.keeps_dkim_keys().then_some(&store);
            for algorithm in [Algorithm::Ed25519, Algorithm::Rsa] {
                let key = match &shared {
                    Some(store) => generate_stored(store.as_ref(), &parsed, algorithm, now).await?,
                    None => keys.generate(parsed.as_str(), algorithm, now)?,
                };
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
            let listed = match shared_store(config).await? {
                Some(store) => stored_infos(&store.dkim_key_list(None).await?),
                None => keys.list()?,
            };
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
            match shared_store(config).await? {
                Some(store) => {
                    let parsed = message::Domain::parse(&domain)
                        .map_err(|e| anyhow::anyhow!("{domain:?} is not a valid domain: {e}"))?;
                    store.dkim_key_remove(&parsed, &selector).await?;
                }
                None => keys.remove(&domain, &selector)?,
            }
            println!("removed DKIM key {selector} of {domain}");
        }
    }
    Ok(())
}

/// The configured store when it keeps the DKIM keys (a shared one, `[store] url`);
/// `None` when they are the data directory's files (the embedded store, which is not
/// even opened then).
pub(crate) async fn shared_store(
    config: &config::Config,
) -> anyhow::Result<Option<Arc<dyn store::Store>>> {
    if config.store.url.is_none() {
        return Ok(None);
    }
    let store = store::open(config).await?;
    Ok(store.keeps_dkim_keys().then_some(store))
}

/// The store's key records as mailauth lists keys, each domain's oldest first (the
/// private keys stay behind).
pub(crate) fn stored_infos(stored: &[store::DkimKey]) -> Vec<KeyInfo> {
    let mut infos: Vec<KeyInfo> = stored
        .iter()
        .filter_map(|k| {
            Some(KeyInfo {
                domain: k.domain.as_str().to_owned(),
                selector: k.selector.clone(),
                algorithm: Algorithm::from_key_type(&k.algorithm)?,
                record: k.public_record.clone(),
            })
        })
        .collect();
    infos.sort_by(|a, b| a.domain.cmp(&b.domain));
    for domain in infos.chunk_by_mut(|a, b| a.domain == b.domain) {
        mailauth::keys::sort_oldest_first(domain);
    }
    infos
}

/// Generates a key of `algorithm` for `domain` with mailauth's code, under a selector
/// none of the domain's stored keys has, and stores it. When another node stored that
/// selector meanwhile (two admins generating at once), it tries the next one.
async fn generate_stored(
    store: &dyn store::Store,
    domain: &message::Domain,
    algorithm: Algorithm,
    now: i64,
) -> anyhow::Result<KeyInfo> {
    let mut tries = 0;
    loop {
        tries += 1;
        let existing = stored_infos(&store.dkim_key_list(Some(domain)).await?);
        let (info, pem) = mailauth::keys::generate_pem(domain.as_str(), algorithm, now, &existing)?;
        let key = store::DkimKey {
            domain: domain.clone(),
            selector: info.selector.clone(),
            algorithm: algorithm.key_type().to_owned(),
            private_key_pem: pem,
            public_record: info.record.clone(),
            created_at: now,
        };
        match store.dkim_key_put(&key).await {
            Ok(()) => return Ok(info),
            Err(store::StoreError::Exists(_)) if tries < 3 => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_list_by_domain_then_oldest_selector_first() {
        let key = |domain: &str, selector: &str, algorithm: &str| store::DkimKey {
            domain: message::Domain::parse(domain).unwrap(),
            selector: selector.into(),
            algorithm: algorithm.into(),
            private_key_pem: "PEM".into(),
            public_record: format!("v=DKIM1; k={algorithm}; p=x"),
            created_at: 1,
        };
        let infos = stored_infos(&[
            key("example.org", "202612e", "ed25519"),
            key("a.example", "202611r", "rsa"),
            key("example.org", "202611e2", "ed25519"),
            key("example.org", "202611e", "ed25519"),
            key("example.org", "x", "dsa"),
        ]);
        let names: Vec<(&str, &str)> = infos
            .iter()
            .map(|k| (k.domain.as_str(), k.selector.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("a.example", "202611r"),
                ("example.org", "202611e"),
                ("example.org", "202611e2"),
                ("example.org", "202612e"),
            ]
        );
        assert_eq!(infos[0].record, "v=DKIM1; k=rsa; p=x");
    }
}
