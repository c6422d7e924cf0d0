//! `postie dns`: the DNS records a local domain publishes (`records`), and whether
//! DNS has them (`check`).
//!
//! Where it sits: an admin command. `records` is offline: it reads the config
//! (host name, listeners, smarthost) and the domain's DKIM keys; `check` also asks the
//! resolver of `[dns] nameservers`. The records and the rules for "right" are in
//! [`mailauth::records`] and [`mailauth::check`]; docs/mailauth.md explains them.

use clap::Subcommand;
use mailauth::KeyStore;
use mailauth::check::Status;
use mailauth::records::{Plan, Record, Service};

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
            let auth = mailauth::resolver::authenticator(&config.dns.nameservers)
                .map_err(anyhow::Error::msg)?;
            let results = mailauth::check::check(&auth, &expected).await;
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

/// The records `domain` should publish under this configuration (its DKIM keys from
/// the store when a shared one keeps them, else from the data directory).
async fn records(config: &config::Config, domain: &str) -> anyhow::Result<Vec<Record>> {
    let domain = message::Domain::parse(domain)
        .map_err(|e| anyhow::anyhow!("{domain:?} is not a valid domain: {e}"))?;
    let keys = match crate::dkim_cli::shared_store(config).await? {
        Some(store) => crate::dkim_cli::stored_infos(&store.dkim_key_list(Some(&domain)).await?),
        None => KeyStore::new(&config.data_dir).domain_keys(domain.as_str())?,
    };
    if keys.is_empty() {
        eprintln!(
            "note: {} has no DKIM keys yet, so its mail is not signed \
             (postie dkim generate {})",
            domain.as_str(),
            domain.as_str()
        );
    }
    let listen = &config.listen;
    let port = |addrs: &[std::net::SocketAddr]| addrs.first().map(|a| a.port());
    let services = Service::ALL
        .iter()
        .map(|&service| {
            let addrs = match service {
                Service::Submissions => &listen.submissions,
                Service::Submission => &listen.submission,
                Service::Imaps => &listen.imaps,
                Service::Imap => &listen.imap,
                Service::Pop3s => &listen.pop3s,
                Service::Pop3 => &listen.pop3,
            };
            (service, port(addrs))
        })
        .collect();
    let plan = Plan {
        domain: domain.as_str(),
        hostname: &config.hostname,
        smtp_addresses: listen.smtp.iter().map(|a| a.ip()).collect(),
        services,
        keys,
        smarthost: config.relay.smarthost.as_deref(),
        https_port: port(&listen.https),
    };
    Ok(mailauth::records::expected(&plan))
}
