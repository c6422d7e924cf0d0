//! The command line: every subcommand and flag, with the help text that is the manual.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Postie: an all-in-one mail server.
///
/// Run `postie serve` for a working server on unprivileged loopback ports (SMTP 1025,
/// submission 1587 with STARTTLS, submissions 1465 with TLS), keeping its data in
/// ./postie-data. Then add a domain and a user, and send mail.
#[derive(Debug, Parser)]
#[command(name = "postie", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct Common {
    /// The configuration file (TOML; see docs/config.md). Without it, built-in defaults.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory, overriding `data_dir` from the config.
    #[arg(long, short = 'd', global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

impl Common {
    /// Loads the config file (or defaults) and applies `--data`.
    pub fn load(&self) -> anyhow::Result<config::Config> {
        let config = config::load(self.config.as_deref()).map_err(anyhow::Error::msg)?;
        Ok(match &self.data {
            Some(dir) => config.with_data_dir(dir.clone()),
            None => config,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the mail server until SIGTERM or Ctrl-C.
    Serve,
    /// Manage the domains this server receives mail for.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage aliases: other addresses whose mail goes to an account.
    #[command(subcommand)]
    Alias(AliasCommand),
    /// Look at delivered mail.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Look at and control the delivery queue (works while the server runs).
    #[command(subcommand)]
    Queue(QueueCommand),
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Add a local domain: mail for it is delivered here.
    Add { domain: String },
    /// List local domains.
    List,
    /// Remove a local domain (it must have no accounts left).
    #[command(alias = "remove")]
    Del { domain: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account; asks for the password unless --password-stdin is given.
    Add {
        address: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List accounts.
    List,
    /// Change an account's password.
    Passwd {
        address: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Delete an account and all its mail.
    #[command(alias = "remove")]
    Del { address: String },
}

#[derive(Debug, Args)]
pub struct PasswordSource {
    /// Read the password from the first line of standard input (for scripts).
    #[arg(long)]
    pub password_stdin: bool,
}

impl PasswordSource {
    /// Reads the password from stdin or asks twice on the terminal.
    pub fn read(&self) -> anyhow::Result<String> {
        let password = if self.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        } else {
            let first =
                rpassword::prompt_password("Password: ").context("cannot read the password")?;
            let again =
                rpassword::prompt_password("Again: ").context("cannot read the password")?;
            anyhow::ensure!(first == again, "the passwords do not match");
            first
        };
        anyhow::ensure!(!password.is_empty(), "the password must not be empty");
        Ok(password)
    }
}

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Deliver mail for ALIAS (in a local domain) to the account TARGET, e.g.
    /// `postie alias add postmaster@example.org alice@example.org`.
    Add { alias: String, target: String },
    /// List aliases and where they point.
    List,
    /// Remove an alias.
    #[command(alias = "remove")]
    Del { alias: String },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List the messages in a mailbox: UID, size in octets, queue id.
    List {
        address: String,
        #[arg(long, default_value = "INBOX")]
        mailbox: String,
    },
    /// Print one message, as stored, to standard output.
    Read {
        address: String,
        uid: u32,
        #[arg(long, default_value = "INBOX")]
        mailbox: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// List queued messages: id, size, age, sender, and each recipient's state, next
    /// attempt and last error.
    List,
    /// Show one queued message: its envelope, DSN requests, recipients and header.
    Show {
        /// The queue id.
        id: String,
    },
    /// Retry now: one message, the mail for one domain, or (with neither) everything.
    Flush {
        /// The queue id.
        id: Option<String>,
        /// Only recipients in this domain.
        #[arg(long, conflicts_with = "id")]
        domain: Option<String>,
    },
    /// Keep a message in the queue without trying to deliver it.
    Hold {
        /// The queue id.
        id: String,
    },
    /// Let a held message be delivered again.
    Release {
        /// The queue id.
        id: String,
    },
    /// Remove a message from the queue.
    Delete {
        /// The queue id.
        id: String,
        /// Tell the sender, with a bounce for the recipients still pending.
        #[arg(long)]
        bounce: bool,
    },
}
