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
    /// Compose and send a message: through any SMTP server (--server), or into the
    /// local queue; --bulk sends one personalised message per CSV row.
    Send(Box<crate::send_cli::SendArgs>),
    /// Read a message on standard input and queue it, like sendmail(8) (also what
    /// `postie` does when started under the name `sendmail`).
    Sendmail(crate::sendmail_cli::SendmailArgs),
    /// DKIM signing keys of local domains: generate (and rotate), list, remove.
    #[command(subcommand)]
    Dkim(crate::dkim_cli::DkimCommand),
    /// The DNS records a local domain publishes (MX, SPF, DKIM, DMARC, SRV), and a
    /// check of what DNS has.
    #[command(subcommand)]
    Dns(crate::dns_cli::DnsCommand),
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
    /// List accounts (with their quota limits, where set).
    List,
    /// Show an account's quota limits and usage, or set the limits.
    ///
    /// Usage counts every message in every mailbox at its size. A message that would
    /// go past a limit is refused: IMAP APPEND/COPY answer NO [OVERQUOTA], SMTP answers
    /// a full account's RCPT with 452 4.2.2 Mailbox full, and mail already accepted
    /// waits in the queue for room. Lowering a limit deletes nothing. A flag not given
    /// leaves that limit as it was.
    ///
    /// Examples: `postie user quota alice@example.org --storage 1G --messages 50000`;
    /// `postie user quota alice@example.org --storage none` (unlimited again).
    Quota {
        /// The account's address.
        address: String,
        /// Most octets all the account's mail may take: a number with an optional K, M,
        /// G or T suffix (powers of 1024), or `none` for no limit.
        #[arg(long, value_name = "SIZE", value_parser = parse_storage)]
        storage: Option<Limit>,
        /// Most messages the account may hold, or `none` for no limit.
        #[arg(long, value_name = "COUNT", value_parser = parse_messages)]
        messages: Option<Limit>,
    },
    /// Change an account's password.
    Passwd {
        address: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Delete an account and all its mail.
    #[command(alias = "remove")]
    Del { address: String },
    /// Manage an account's app passwords: one per device or program, each working for
    /// SMTP, POP3 and IMAP and revocable on its own.
    #[command(subcommand)]
    AppPassword(crate::app_password_cli::AppPasswordCommand),
}

/// A quota limit as given on the command line: `None` is `none` (unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<u64>);

/// Whether `text` says "no limit".
fn is_none(text: &str) -> bool {
    ["none", "unlimited"]
        .iter()
        .any(|w| text.eq_ignore_ascii_case(w))
}

/// Parses `--storage`: octets with an optional K/M/G/T suffix (powers of 1024, as
/// Dovecot's quota rules), or `none`.
fn parse_storage(text: &str) -> Result<Limit, String> {
    if is_none(text) {
        return Ok(Limit(None));
    }
    let bad = || format!("{text:?} is not a size: use e.g. 500M, 1G, 1048576 or none");
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_uppercase()),
        _ => (text, 'B'),
    };
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift)
        .filter(|v| i64::try_from(*v).is_ok())
        .map(|v| Limit(Some(v)))
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses `--messages`: a count, or `none`.
fn parse_messages(text: &str) -> Result<Limit, String> {
    if is_none(text) {
        return Ok(Limit(None));
    }
    text.parse::<u64>()
        .ok()
        .filter(|v| text.bytes().all(|b| b.is_ascii_digit()) && i64::try_from(*v).is_ok())
        .map(|v| Limit(Some(v)))
        .ok_or_else(|| format!("{text:?} is not a message count: use e.g. 50000 or none"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_sizes() {
        let ok = |t: &str| parse_storage(t).expect(t).0;
        assert_eq!(ok("0"), Some(0));
        assert_eq!(ok("1048576"), Some(1 << 20));
        assert_eq!(ok("10K"), Some(10 << 10));
        assert_eq!(ok("500m"), Some(500 << 20));
        assert_eq!(ok("1G"), Some(1 << 30));
        assert_eq!(ok("2T"), Some(2 << 40));
        assert_eq!(ok("none"), None);
        assert_eq!(ok("Unlimited"), None);
        for bad in ["", "G", "1.5G", "-1", "1X", "1 G", "10GB", "99999999999T"] {
            assert!(parse_storage(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn message_counts() {
        assert_eq!(parse_messages("50000").expect("count").0, Some(50_000));
        assert_eq!(parse_messages("NONE").expect("none").0, None);
        for bad in ["", "1K", "+5", "-1", "9223372036854775808"] {
            assert!(parse_messages(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quota_command_parses() {
        let cli = Cli::try_parse_from([
            "postie",
            "user",
            "quota",
            "a@example.org",
            "--storage",
            "1G",
            "--messages",
            "none",
        ])
        .expect("parse");
        let Command::User(UserCommand::Quota {
            storage, messages, ..
        }) = cli.command
        else {
            panic!("not user quota");
        };
        assert_eq!(storage, Some(Limit(Some(1 << 30))));
        assert_eq!(messages, Some(Limit(None)));
        assert!(
            Cli::try_parse_from([
                "postie",
                "user",
                "quota",
                "a@example.org",
                "--storage",
                "lots"
            ])
            .is_err()
        );
    }
}
