//! The command line: every subcommand and flag, with the help text that is the manual.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Postie: an all-in-one mail server.
///
/// Run `postie serve` for a working server on unprivileged loopback ports (SMTP 1025,
/// submission 1587 with STARTTLS, submissions 1465 with TLS, POP3 1110 and 1995, IMAP
/// 1143 and 1993), keeping its data in ./postie-data. Then add a domain and a user,
/// and send mail:
///
///   postie domain add example.org
///   echo 'secret' | postie user add alice@example.org --password-stdin
///
/// Every list command prints a table with a header row, or with --json a JSON array
/// for scripts (the fields are in each command's --help and in docs/cli.md).
#[derive(Debug, Parser)]
#[command(
    name = "postie",
    version,
    propagate_version = true,
    verbatim_doc_comment
)]
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

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the mail server until SIGTERM or Ctrl-C; SIGHUP reloads the config file and
    /// the certificates (docs/config.md, "Reloading").
    ///
    /// Without a config file every listener is on 127.0.0.1, on the usual port plus
    /// 1000:
    ///
    ///   smtp         1025  mail from other servers (25 in production)
    ///   submission   1587  mail from your users, STARTTLS (587)
    ///   submissions  1465  mail from your users, implicit TLS (465)
    ///   pop3         1110  POP3 with STLS (110)
    ///   pop3s        1995  POP3 over TLS (995)
    ///   imap         1143  IMAP with STARTTLS (143)
    ///   imaps        1993  IMAP over TLS (993)
    ///
    /// Change them in the [listen] table of the config file (docs/config.md).
    ///
    /// Data goes to the data directory, ./postie-data unless `data_dir` in the config or
    /// --data says otherwise: postie.db (SQLite: domains, accounts, mailboxes, the
    /// queue), blobs/ (message bodies), dkim/ (signing keys) and, without [tls] cert
    /// and key, a self-signed certificate. Everything there is readable by its owner
    /// only. Logs go to standard error.
    #[command(verbatim_doc_comment)]
    Serve,
    /// Run the developers' mail catcher: accepts any mail over SMTP, relays none,
    /// shows it in a web UI and API, and serves it over IMAP and POP3.
    ///
    /// No config file or setup needed. Defaults (Mailpit's for SMTP and the web):
    ///
    ///   SMTP      127.0.0.1:1025  any sender and recipient; AUTH optional with any
    ///                             credentials, the user name names the inbox
    ///                             (without AUTH: `default`)
    ///   web       127.0.0.1:8025  UI and API (Mailpit-compatible)
    ///   IMAP      127.0.0.1:1143  user name = inbox, any password
    ///   POP3      127.0.0.1:1110  user name = inbox, any password
    ///
    /// Mail is kept in --data (default ./postie-capture) and survives a restart.
    /// See docs/capture.md.
    #[command(verbatim_doc_comment)]
    Capture(crate::capture_cli::CaptureArgs),
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
    /// Share mailboxes with other accounts (IMAP ACL, RFC 4314): the grantee sees
    /// one as `Other Users/OWNER/MAILBOX`, or `Shared/OWNER/MAILBOX` when shared with
    /// anyone.
    #[command(subcommand)]
    Share(crate::share_cli::ShareCommand),
    /// Look at and control the delivery queue (works while the server runs).
    #[command(subcommand)]
    Queue(QueueCommand),
    /// The store itself: copy the embedded store into PostgreSQL for several nodes.
    #[command(subcommand)]
    Store(crate::store_cli::StoreCommand),
    /// Compose and send a message: through any SMTP server (--server), or into the
    /// local queue; --bulk sends one personalised message per CSV row.
    Send(Box<crate::send_cli::SendArgs>),
    /// Read a message on standard input and queue it, like sendmail(8) (also what
    /// `postie` does when started under the name `sendmail`).
    Sendmail(crate::sendmail_cli::SendmailArgs),
    /// API tokens for the HTTP API (bearer tokens acting as an administrator): create,
    /// list, revoke.
    #[command(subcommand)]
    Token(crate::token_cli::TokenCommand),
    /// DKIM signing keys of local domains: generate (and rotate), list, remove.
    #[command(subcommand)]
    Dkim(crate::dkim_cli::DkimCommand),
    /// The DNS records a local domain publishes (MX, SPF, DKIM, DMARC, SRV), and a
    /// check of what DNS has.
    #[command(subcommand)]
    Dns(crate::dns_cli::DnsCommand),
    /// The TLS certificate: status (source, names, expiry), renew from the ACME CA now.
    #[command(subcommand)]
    Cert(crate::cert_cli::CertCommand),
    /// SMTP TLS reports (RFC 8460): send a day's reports now.
    #[command(subcommand, name = "tls-rpt")]
    TlsRpt(crate::tls_rpt_cli::TlsRptCommand),
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Add a local domain: mail for it is delivered here.
    Add {
        /// The domain, e.g. example.org.
        domain: String,
    },
    /// List local domains, with how many accounts and aliases each has.
    ///
    /// JSON fields: `domain`, `users` (accounts), `aliases`.
    List(ListFormat),
    /// Remove a local domain (it must have no accounts left).
    #[command(alias = "remove")]
    Del {
        /// The domain to remove.
        domain: String,
    },
}

/// The flag every list command takes.
#[derive(Debug, Clone, Copy, Args)]
pub struct ListFormat {
    /// Print a JSON array of objects instead of a table (`[]` when there are none);
    /// times are RFC 3339 in UTC, sizes in octets. The fields are listed above.
    #[arg(long)]
    pub json: bool,
}

impl ListFormat {
    /// The output format asked for.
    pub fn format(self) -> crate::output::Format {
        crate::output::Format::from_flag(self.json)
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account; asks for the password unless --password-stdin is given.
    ///
    /// Example: `echo 'secret' | postie user add alice@example.org --password-stdin`.
    /// The domain must be local (`postie domain add example.org` first).
    Add {
        /// The account's address, e.g. alice@example.org; also its login name.
        address: String,
        #[command(flatten)]
        password: PasswordSource,
        /// Make the account an administrator: it may use the web admin pages and the
        /// HTTP API (`postie user admin ADDRESS off` takes that back).
        #[arg(long)]
        admin: bool,
        /// The name shown for the account, e.g. "Alice Liddell".
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
    },
    /// List accounts with their quota limits, administrator flag and display name.
    ///
    /// JSON fields: `address`, `storage_limit` (octets) and `messages_limit`, each
    /// `null` when unlimited, `admin` (true or false), `display_name` (`null` when
    /// unset).
    List(ListFormat),
    /// Make an account an administrator (`on`: it may use the web admin pages and the
    /// HTTP API) or not (`off`).
    Admin {
        /// The account's address.
        address: String,
        /// `on` or `off`.
        #[arg(value_enum)]
        state: OnOff,
    },
    /// Set the name shown for an account; without NAME, clear it.
    DisplayName {
        /// The account's address.
        address: String,
        /// The name, e.g. "Alice Liddell" (at most 200 bytes, no control characters).
        name: Option<String>,
    },
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
    ///
    /// With --json, one object: `address`, `storage_used`, `storage_limit` (octets),
    /// `messages_used`, `messages_limit`; a limit is `null` when there is none.
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
        /// Print the limits and usage as a JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change an account's password; asks for it unless --password-stdin is given.
    Passwd {
        /// The account's address.
        address: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Delete an account and all its mail.
    #[command(alias = "remove")]
    Del {
        /// The account's address.
        address: String,
    },
    /// Manage an account's app passwords: one per device or program, each working for
    /// SMTP, POP3 and IMAP and revocable on its own.
    #[command(subcommand)]
    AppPassword(crate::app_password_cli::AppPasswordCommand),
}

/// `on` or `off`, for a flag set on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// Set it.
    On,
    /// Clear it.
    Off,
}

impl OnOff {
    /// True for `on`.
    pub fn is_on(self) -> bool {
        self == OnOff::On
    }
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

/// Where a new password comes from: the terminal, or standard input.
#[derive(Debug, Args)]
pub struct PasswordSource {
    /// Read the password from the first line of standard input (for scripts).
    #[arg(long)]
    pub password_stdin: bool,
}

impl PasswordSource {
    /// Reads the password from stdin or asks twice on the terminal. `command` is the
    /// command line to suggest with `--password-stdin` when there is no terminal, e.g.
    /// `postie user add alice@example.org`.
    pub fn read(&self, command: &str) -> anyhow::Result<String> {
        let password = if self.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        } else {
            let first = prompt("Password: ", command)?;
            let again = prompt("Again: ", command)?;
            anyhow::ensure!(first == again, "the passwords do not match");
            first
        };
        anyhow::ensure!(!password.is_empty(), "the password must not be empty");
        Ok(password)
    }
}

/// Asks for a password on the controlling terminal, without echo. With no terminal
/// to ask on (a script, a cron job, a container without `-t`), says so and how to
/// give it instead, rather than the bare OS error.
fn prompt(text: &str, command: &str) -> anyhow::Result<String> {
    rpassword::prompt_password(text).map_err(|e| match e.raw_os_error() {
        Some(code) if no_terminal(code) => anyhow::anyhow!(no_terminal_help(command)),
        _ => anyhow::Error::new(e).context("cannot read the password"),
    })
}

/// What to do instead of typing the password, for `command`.
fn no_terminal_help(command: &str) -> String {
    format!(
        "no terminal to ask for the password; pipe it in with --password-stdin: \
         echo 'secret' | {command} --password-stdin"
    )
}

/// Whether `code` is an error opening or using `/dev/tty` gives without a controlling
/// terminal: ENXIO (no such device or address), ENOTTY, ENOENT (no /dev/tty at all).
fn no_terminal(code: i32) -> bool {
    use rustix::io::Errno;
    [Errno::NXIO, Errno::NOTTY, Errno::NOENT]
        .iter()
        .any(|e| e.raw_os_error() == code)
}

/// The alias commands.
#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Deliver mail for ALIAS (in a local domain) to the account TARGET, e.g.
    /// `postie alias add postmaster@example.org alice@example.org`.
    Add {
        /// The alias address, in a local domain.
        alias: String,
        /// The account its mail goes to.
        target: String,
    },
    /// List aliases and where they point.
    ///
    /// JSON fields: `alias`, `target`.
    List(ListFormat),
    /// Remove an alias.
    #[command(alias = "remove")]
    Del {
        /// The alias address.
        alias: String,
    },
}

/// The commands that look at delivered mail.
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List the messages in a mailbox: UID, size, queue id, when it arrived, From
    /// and Subject.
    ///
    /// JSON fields: `uid`, `size` (octets), `queue_id`, `received` (RFC 3339),
    /// `from` (the first From address, or `null`), `subject` (decoded, or `null`).
    List {
        /// The account's address.
        address: String,
        /// The mailbox (folder) to list, e.g. Sent or Junk.
        #[arg(long, default_value = "INBOX")]
        mailbox: String,
        #[command(flatten)]
        format: ListFormat,
    },
    /// Print one message, as stored, to standard output.
    Read {
        /// The account's address.
        address: String,
        /// The message's UID, as `postie mail list` shows it.
        uid: u32,
        /// The mailbox (folder) it is in.
        #[arg(long, default_value = "INBOX")]
        mailbox: String,
    },
}

/// The queue commands.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// List queued messages, one line per recipient: id, age, size, sender,
    /// recipient, and its state (attempts, next attempt, last error).
    ///
    /// JSON fields, one object per message: `id`, `sender` (`""` for the null
    /// sender), `queued_at`, `size` (octets), `held`, `attempts` (the most any
    /// recipient had), `next_attempt` (the earliest of the pending recipients, or
    /// `null`), `last_error` (or `null`), and `recipients`: objects with `address`,
    /// `status` (`pending`, `delivered` or `failed`), `attempts`, `next_attempt`,
    /// `last_error`.
    List(ListFormat),
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

#[cfg(test)]
mod user_tests {
    use super::*;

    #[test]
    fn user_add_takes_admin_and_display_name() {
        let cli = Cli::try_parse_from([
            "postie",
            "user",
            "add",
            "a@example.org",
            "--password-stdin",
            "--admin",
            "--display-name",
            "Alice Liddell",
        ])
        .expect("parse");
        let Command::User(UserCommand::Add {
            address,
            admin,
            display_name,
            ..
        }) = cli.command
        else {
            panic!("not user add");
        };
        assert_eq!(address, "a@example.org");
        assert!(admin);
        assert_eq!(display_name.as_deref(), Some("Alice Liddell"));
        let cli = Cli::try_parse_from(["postie", "user", "add", "a@example.org"]).expect("parse");
        assert!(matches!(
            cli.command,
            Command::User(UserCommand::Add {
                admin: false,
                display_name: None,
                ..
            })
        ));
    }

    #[test]
    fn user_admin_on_off() {
        for (word, on) in [("on", true), ("off", false)] {
            let cli = Cli::try_parse_from(["postie", "user", "admin", "a@example.org", word])
                .expect("parse");
            let Command::User(UserCommand::Admin { address, state }) = cli.command else {
                panic!("not user admin");
            };
            assert_eq!((address.as_str(), state.is_on()), ("a@example.org", on));
        }
        for bad in [
            &["postie", "user", "admin", "a@example.org"][..],
            &["postie", "user", "admin", "a@example.org", "yes"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn user_display_name_sets_or_clears() {
        let cli = Cli::try_parse_from(["postie", "user", "display-name", "a@example.org", "Al"])
            .expect("parse");
        assert!(matches!(
            cli.command,
            Command::User(UserCommand::DisplayName { name: Some(n), .. }) if n == "Al"
        ));
        let cli = Cli::try_parse_from(["postie", "user", "display-name", "a@example.org"])
            .expect("parse");
        assert!(matches!(
            cli.command,
            Command::User(UserCommand::DisplayName { name: None, .. })
        ));
    }
}

#[cfg(test)]
mod help_tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every subcommand and every argument, all the way down, says what it is: the
    /// help is the manual, so an empty line in it is a bug.
    #[test]
    fn every_command_and_argument_has_help() {
        let mut missing = Vec::new();
        let mut command = Cli::command();
        command.build();
        walk(&command, "postie", &mut missing);
        assert!(
            missing.is_empty(),
            "no help text for:\n{}",
            missing.join("\n")
        );
    }

    /// `postie serve --help` names every listener with its default port, taken from
    /// the config's defaults so the two cannot drift apart, and the data directory.
    #[test]
    fn serve_help_lists_the_default_ports() {
        let mut command = Cli::command();
        let help = command
            .find_subcommand_mut("serve")
            .expect("serve")
            .render_long_help()
            .to_string();
        let listen = config::Config::default().listen;
        let defaults = [
            ("smtp", &listen.smtp),
            ("submission", &listen.submission),
            ("submissions", &listen.submissions),
            ("pop3", &listen.pop3),
            ("pop3s", &listen.pop3s),
            ("imap", &listen.imap),
            ("imaps", &listen.imaps),
        ];
        for (name, addrs) in defaults {
            let port = addrs[0].port();
            let line = help
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name))
                .unwrap_or_else(|| panic!("no {name} line in:\n{help}"));
            assert_eq!(
                line.split_whitespace().nth(1),
                Some(port.to_string().as_str()),
                "{line}"
            );
        }
        let data = config::Config::default().data_dir;
        assert!(help.contains(&*data.to_string_lossy()), "{help}");
    }

    fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        if command.get_about().is_none() && command.get_long_about().is_none() {
            missing.push(path.to_owned());
        }
        for arg in command.get_arguments() {
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
}
