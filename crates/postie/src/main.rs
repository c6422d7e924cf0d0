//! `postie`: the mail server and its admin tool in one binary.
//!
//! Where it sits: the outermost layer. `postie serve` loads the config and hands over to
//! `server::run`; the admin commands (`domain`, `user`, `mail`, `queue`) open the same
//! store directly, which is safe while the server runs (SQLite WAL with a busy timeout).
//! This is the only crate that uses `anyhow`.

mod admin_cli;
mod app_password_cli;
mod bulk_cli;
mod capture_cli;
mod cert_cli;
mod cli;
mod dkim_cli;
mod dns_cli;
mod log_bridge;
mod mail_cli;
mod malloc;
mod output;
mod queue_admin;
mod send_cli;
mod sendmail_cli;
mod share_cli;
mod store_cli;
mod tls_rpt_cli;
mod token_cli;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    private_files();
    if let Some(status) = sendmail_cli::main_if_sendmail() {
        return status;
    }
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve | Command::Capture(_)) {
        malloc::tune_for_server();
    }
    // The sending commands report their own errors with sendmail-style exit statuses.
    let cli = match cli.command {
        Command::Send(args) => return send_cli::main(*args, &cli.common),
        Command::Sendmail(args) => return sendmail_cli::main(args, &cli.common),
        command => Cli { command, ..cli },
    };
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postie: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Everything Postie creates (the data directory, `postie.db` with its password
/// hashes, message bodies, DKIM and TLS keys, spool files) is for its owner only:
/// files 0600, folders 0700, whatever umask it was started with. Set first, for every
/// subcommand, because the admin commands create files in the data directory too.
fn private_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Capture(args) = &cli.command {
        return capture(args, &cli.common);
    }
    let config = cli.common.load()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match cli.command {
        Command::Serve => {
            let log_level = init_logging(&config.log.level);
            let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let source = if cli.common.config.is_some() {
                // SIGHUP reads the file again, with the same `--data`.
                server::ConfigSource::Reread(Box::new(move || {
                    cli.common.load().map_err(|e| format!("{e:#}"))
                }))
            } else {
                server::ConfigSource::Defaults
            };
            let source = server::ReloadSource {
                config: source,
                log_level: Some(log_level),
            };
            runtime.block_on(server::run(config, source, stop_rx))?;
            Ok(())
        }
        Command::Cert(c) => runtime.block_on(cert_cli::run(c, &config)),
        Command::Dkim(c) => runtime.block_on(dkim_cli::run(c, &config)),
        Command::Dns(c) => runtime.block_on(dns_cli::run(c, &config)),
        Command::TlsRpt(c) => runtime.block_on(tls_rpt_cli::run(c, &config)),
        Command::Store(c) => runtime.block_on(store_cli::run(c, &config)),
        command => runtime.block_on(admin_cli::run(command, &config)),
    }
}

/// `postie capture`: the server in capture mode (`capture_cli`), until SIGTERM or
/// Ctrl-C. SIGHUP re-applies the same flags (to the config file when there is one).
fn capture(args: &capture_cli::CaptureArgs, common: &cli::Common) -> anyhow::Result<()> {
    let make = || -> anyhow::Result<config::Config> {
        let base = config::load(common.config.as_deref()).map_err(anyhow::Error::msg)?;
        let config = capture_cli::config(args, base, common.config.is_some(), common.data.clone());
        config.validate().map_err(anyhow::Error::msg)?;
        Ok(config)
    };
    let config = make()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let log_level = init_logging(&config.log.level);
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let again = config.clone();
    let source = server::ReloadSource {
        config: server::ConfigSource::Reread(Box::new(move || Ok(again.clone()))),
        log_level: Some(log_level),
    };
    runtime.block_on(server::run(config, source, stop_rx))?;
    Ok(())
}

/// Logs to stderr at `level` (`log.level`), or as `RUST_LOG` says when it is set.
/// Returns what a reload calls with a changed `log.level`: it replaces the filter,
/// unless `RUST_LOG` is set, which wins as it does at start.
fn init_logging(level: &str) -> server::LogLevelSetter {
    use tracing_subscriber::EnvFilter;
    let from_env = EnvFilter::try_from_default_env().ok();
    let env_wins = from_env.is_some();
    let filter = from_env.unwrap_or_else(|| EnvFilter::new(level));
    // Reloading last: the handle's type names the writer and format set before it.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_filter_reloading();
    let handle = builder.reload_handle();
    let subscriber = builder.finish();
    tracing::subscriber::set_global_default(subscriber).expect("the first subscriber");
    log_bridge::install();
    Box::new(move |level| {
        if env_wins {
            tracing::warn!(
                level,
                "log.level changed but RUST_LOG is set and wins; the log filter stays"
            );
            return Ok(());
        }
        let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
        handle.reload(filter).map_err(|e| e.to_string())?;
        // Lines of libraries that use the `log` crate follow the new level too.
        log::set_max_level(tracing_log::AsLog::as_log(
            &tracing::level_filters::LevelFilter::current(),
        ));
        Ok(())
    })
}
