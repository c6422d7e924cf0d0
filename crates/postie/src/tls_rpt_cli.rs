//! `postie tls-rpt send`: sends a day's TLS-RPT reports (RFC 8460) now, the way the
//! server's daily task does at the start of each UTC day (`server::tls_rpt`).
//!
//! Where it sits: an admin command over the store `config` names; mailed reports go
//! into the queue, which a running server delivers.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TlsRptCommand {
    /// Send the reports of a UTC day (default: today, so far) to every recipient domain
    /// with results that publishes a `_smtp._tls` record, and forget that day's results.
    Send {
        /// The day, YYYY-MM-DD.
        #[arg(long)]
        day: Option<String>,
    },
}

/// Runs one `postie tls-rpt` command.
pub async fn run(command: TlsRptCommand, config: &config::Config) -> anyhow::Result<()> {
    let TlsRptCommand::Send { day } = command;
    let day = match day {
        Some(day) => {
            let ok = day.len() == 10
                && day.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            anyhow::ensure!(ok, "--day wants YYYY-MM-DD, not {day:?}");
            day
        }
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs() as i64;
            relay::outbound::utc_day(now)
        }
    };
    let store = store::open(config).await?;
    let sent = server::tls_rpt::send_day(config, store, &day).await?;
    if sent.is_empty() {
        println!("no TLS results recorded for {day}");
    }
    for s in sent {
        if s.results.is_empty() {
            println!("{}: no _smtp._tls record; results dropped", s.domain);
        }
        for (uri, result) in s.results {
            println!("{}: {uri}: {result}", s.domain);
        }
    }
    Ok(())
}
