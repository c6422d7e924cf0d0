//! `postie cert status` and `postie cert renew`: the certificate the TLS listeners
//! present, and ordering a new one from the ACME CA now.
//!
//! Where it sits: an admin command over [`server::tls::status`] and
//! [`server::acme::renew_now`], from its own process. `renew` orders under the store
//! lease `acme-renew` (the CA validates through the running server, which answers the
//! challenges it finds in the store) and writes the certificate to the store; every
//! running server installs it for new handshakes at its next check
//! (`acme.check_secs`), without a restart. See docs/tls.md.

use clap::Subcommand;
use serde::Serialize;

/// The `cert` commands.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// The certificate the TLS listeners present: source (`acme`, `file`,
    /// `generated`), subject, names, issuer, not-after, serial.
    ///
    /// JSON fields: `source`, `location`, `subject`, `names`, `issuer`, `not_before`,
    /// `not_after` (RFC 3339), `not_after_unix`, `serial` (hex), `chain` (count),
    /// `note` (or null).
    Status {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Order a certificate from the ACME CA now (needs [acme] and a running server
    /// for the CA to validate against). Running servers serve it within
    /// acme.check_secs.
    Renew,
}

#[derive(Serialize)]
struct StatusJson<'a> {
    source: &'a str,
    location: &'a str,
    subject: &'a str,
    names: &'a [String],
    issuer: &'a str,
    not_before: String,
    not_after: String,
    not_after_unix: i64,
    serial: &'a str,
    chain: usize,
    note: Option<&'a str>,
}

/// Runs one `postie cert` command.
pub async fn run(command: CertCommand, config: &config::Config) -> anyhow::Result<()> {
    let store = store::open(config).await?;
    match command {
        CertCommand::Status { json } => {
            let status = server::tls::status::current(config, store.as_ref())
                .await
                .map_err(|e| anyhow::anyhow!("cannot read the certificate: {e}"))?;
            let s = &status.summary;
            if json {
                let out = StatusJson {
                    source: status.source.as_str(),
                    location: &status.location,
                    subject: &s.subject,
                    names: &s.names,
                    issuer: &s.issuer,
                    not_before: crate::output::rfc3339(s.not_before),
                    not_after: crate::output::rfc3339(s.not_after),
                    not_after_unix: s.not_after,
                    serial: &s.serial,
                    chain: status.chain,
                    note: status.note.as_deref(),
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("source:     {}", status.source.as_str());
                println!("location:   {}", status.location);
                println!("subject:    {}", s.subject);
                println!("names:      {}", s.names.join(", "));
                println!("issuer:     {}", s.issuer);
                println!("not after:  {}", crate::output::rfc3339(s.not_after));
                println!("serial:     {}", s.serial);
                println!("chain:      {} certificate(s)", status.chain);
                if let Some(note) = &status.note {
                    println!("note:       {note}");
                }
            }
            Ok(())
        }
        CertCommand::Renew => {
            if config.acme.is_none() {
                anyhow::bail!(
                    "[acme] is not configured: renew a tls.cert certificate with its own tool and \
                     send the server SIGHUP"
                );
            }
            let holder = format!("postie-cert-renew:{}", std::process::id());
            let summary = server::acme::renew_now(config, &store, &holder).await?;
            println!(
                "issued: serial {} for {}, valid until {}",
                summary.serial,
                summary.names.join(", "),
                crate::output::rfc3339(summary.not_after)
            );
            let check = config.acme.as_ref().map_or(300, |a| a.check_secs);
            println!("running servers serve it within {check} s (acme.check_secs)");
            Ok(())
        }
    }
}
