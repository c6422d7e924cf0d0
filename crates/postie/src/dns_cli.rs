//! `postie dns`: the DNS records a local domain publishes (`records`), and whether
//! DNS has them (`check`).
//!
//! Where it sits: an admin command over [`admin::dns`]. `records` is offline: it reads
//! the config (host name, listeners, smarthost) and the domain's DKIM keys; `check`
//! also asks the resolver of `[dns] nameservers`. The records and the rules for "right" are in
//! [`mailauth::records`] and [`mailauth::check`]; docs/mailauth.md explains them.

use clap::Subcommand;
use mailauth::check::Status;
use mailauth::records::Record;

#[derive(Debug, Subcommand)]
pub enum DnsCommand {
    /// Print every record DOMAIN should publish, in zone-file syntax (name TTL IN TYPE
    /// value): MX, SPF, DKIM (one per key), DMARC, the SRV records mail clients use
    /// to find the submission, IMAP and POP3 ports (RFC 6186, RFC 8314), and the
    /// autoconfig / autodiscover names and SRV record of the web face (docs/web.md).
    Records {
        /// The local domain.
        domain: String,
    },
    /// Look those records up (through `dns.nameservers`) and print OK, MISSING, WRONG
    /// or ERROR for each; the exit status is 1 unless all are OK.
    Check {
        /// The local domain.
        domain: String,
    },
}

/// Runs one `postie dns` command.
pub async fn run(command: DnsCommand, config: &config::Config) -> anyhow::Result<()> {
    match command {
        DnsCommand::Records { domain } => {
            for record in records(config, &domain).await? {
                println!("{record}");
            }
            Ok(())
        }
        DnsCommand::Check { domain } => {
            let expected = records(config, &domain).await?;
            let results = admin::dns::check(config, &expected).await?;
            let mut bad = 0;
            for checked in &results {
                let r = &checked.record;
                println!(
                    "{:<8}{:<4} {}. {}",
                    checked.status.word(),
                    r.type_name(),
                    r.name,
                    r.data
                );
                match &checked.status {
                    Status::Ok => {}
                    Status::Missing => bad += 1,
                    Status::Wrong(found) => {
                        bad += 1;
                        println!("        found: {found}");
                    }
                    Status::Error(why) => {
                        bad += 1;
                        println!("        lookup failed: {why}");
                    }
                }
            }
            anyhow::ensure!(
                bad == 0,
                "{bad} of {} records for {domain} are missing or wrong \
                 (`postie dns records {domain}` prints what to publish)",
                results.len()
            );
            println!("all {} records for {domain} are published", results.len());
            Ok(())
        }
    }
}

/// The records `domain` should publish ([`admin::dns::records`], its DKIM keys from
/// the store when a shared one keeps them, else from the data directory), with the
/// note about missing keys on standard error.
async fn records(config: &config::Config, domain: &str) -> anyhow::Result<Vec<Record>> {
    // A malformed domain is refused before any store is opened.
    admin::accounts::parse_domain(domain)?;
    let shared = admin::dkim::shared_store(config).await?;
    let records = admin::dns::records(config, shared.as_deref(), domain).await?;
    if let Some(note) = &records.note {
        eprintln!("{note}");
    }
    Ok(records.records)
}
