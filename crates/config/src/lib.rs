//! Postie's configuration: the typed form of the one TOML file, its defaults and
//! its validation.
//!
//! # Where it sits
//!
//! `postie serve` and the admin CLI (`postie user …`, `postie queue …`) call
//! [`load`] once at start, before anything else happens, and hand the parts of
//! [`Config`] on: [`Listen`] to the listeners, [`Tls`] to the TLS setup,
//! [`Auth`] to everything that checks a password (SMTP AUTH, POP3, IMAP),
//! [`Smtp`] to the SMTP session policy and its driver, [`Pop3`] to the POP3
//! session and its driver, [`Dns`], [`Relay`] and [`Queue`] to the outbound relay and the
//! queue runner, [`Log`] to the `tracing` subscriber, [`Config::data_dir`] to the store and the queue. No
//! other crate reads the file. `docs/config.md` is the reference for every key;
//! a test parses the example in it, so the two cannot drift apart.
//!
//! # Invariants
//!
//! - With no file at all ([`load`]`(None)`) the defaults give a working server for a
//!   laptop: every listener on 127.0.0.1 on an unprivileged port, a self-signed
//!   certificate in the data directory, RFC-based limits.
//! - Every key is optional (a missing key takes its default) and an unknown key is
//!   an error, so a typo never silently turns into a default.
//! - A [`Config`] returned by [`load`] or [`parse`] has passed [`Config::validate`].
//! - Every [`ConfigError`] names the file, the dotted key (`smtp.max_recipients`)
//!   and what is wrong, plus the line and column when the key is in the file.
//!
//! # Security stance
//!
//! No network, and nothing is written. The only I/O: reading the one config file;
//! for the default hostname, the `HOSTNAME` environment variable and
//! `/etc/hostname`; and [`Config::validate`] checks that the TLS certificate and
//! key files exist (it does not read them; the server does). Relative paths are
//! relative to the working directory of the process, not to the config file.
//! The hostname is checked for whitespace and control characters because it is
//! echoed in SMTP greetings and `Received` headers.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod acme;
mod error;
mod mta_sts;
mod outbound;
mod serde_helpers;
mod tls_rpt;
mod validate;

#[cfg(test)]
mod tests;

pub use acme::{Acme, Challenge as AcmeChallenge, LETS_ENCRYPT};
pub use error::{ConfigError, Position};
pub use mta_sts::{MtaSts, MtaStsMode};
pub use outbound::{Dns, Queue, Relay, SmarthostTls};
pub use tls_rpt::TlsRpt;

/// The whole configuration: the parsed and validated config file, or the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The name this server gives itself: in the SMTP greeting and EHLO reply
    /// (RFC 5321 §3.1, §4.1.1.1) and in `Received` headers (RFC 5321 §4.4).
    /// Default: `$HOSTNAME`, else the first line of `/etc/hostname`, else
    /// `localhost`.
    pub hostname: String,
    /// Where accounts, mailboxes, the queue and generated keys live. Default
    /// `./postie-data`; the `--data` flag overrides it ([`Config::with_data_dir`]).
    pub data_dir: PathBuf,
    /// The addresses each protocol listens on.
    pub listen: Listen,
    /// The certificate for STARTTLS and the implicit-TLS ports.
    pub tls: Tls,
    /// Login policy shared by every protocol: plaintext logins, password guessing.
    pub auth: Auth,
    /// Limits and policies for the SMTP server.
    pub smtp: Smtp,
    /// Limits and policies for the POP3 server.
    pub pop3: Pop3,
    /// Limits and policies for the IMAP server.
    pub imap: Imap,
    /// DNS for outbound mail.
    pub dns: Dns,
    /// Outbound delivery: MX or smarthost.
    pub relay: Relay,
    /// Retries, expiry and delay warnings of the delivery queue.
    pub queue: Queue,
    /// Logging.
    pub log: Log,
    /// The ports the mail-client autoconfiguration documents name.
    pub autoconfig: Autoconfig,
    /// Where accounts, mailboxes, bodies and the queue are kept: the embedded store in
    /// `data_dir` (the default), or a PostgreSQL database shared by several nodes.
    pub store: Store,
    /// Capture mode (`postie capture`): the developers' mail catcher.
    pub capture: Capture,
    /// The MTA-STS policy published for the local domains (RFC 8461).
    pub mta_sts: MtaSts,
    /// Certificates from an ACME CA (`[acme]`); absent, none are ordered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<Acme>,
    /// SMTP TLS reporting (RFC 8460): the daily reports Postie sends, and its own
    /// `_smtp._tls` record.
    pub tls_rpt: TlsRpt,
}

/// The `[capture]` section: capture mode, the developers' mail catcher that
/// `postie capture` runs (`docs/capture.md`). Off in a normal server. When on, the
/// `smtp` listener accepts any sender and recipient with any (or no) AUTH, files each
/// message once into the inbox the AUTH user name names and never relays it; IMAP and
/// POP3 accept any password; the web face serves the capture UI and API. Read at
/// start only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capture {
    /// Capture mode is on. Default `false`.
    pub enabled: bool,
    /// Most messages kept across all inboxes; past it the oldest are deleted. Default
    /// 10000; at least 1.
    pub max_messages: u64,
    /// Offer STARTTLS on the SMTP and POP3 listeners in capture mode (`postie capture
    /// --tls`). Default `false`. Outside capture mode STARTTLS is always offered.
    pub starttls: bool,
}

impl Default for Capture {
    fn default() -> Self {
        Capture {
            enabled: false,
            max_messages: 10_000,
            starttls: false,
        }
    }
}

/// The `[store]` section: absent (or without `url`), the embedded store in
/// [`Config::data_dir`]; with `url = "postgres://USER@HOST:PORT/DB"`, the PostgreSQL
/// database several Postie nodes share (`docs/cluster.md`). Read once at start: a
/// reload does not move a running server to another database.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    /// libpq-style URL of the PostgreSQL database, with `sslmode=disable|prefer|require|
    /// verify-ca|verify-full` as libpq reads it (default `prefer`). The password may be
    /// in the URL; else `password_file`, else `PGPASSWORD`. Default: none (embedded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A file whose first line is the database password. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// PEM file of the certificate authorities the database's certificate must chain to
    /// (needed by `sslmode=verify-full`). Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Most connections this node opens to the database. Default 16; 1 to 1000.
    pub pool_size: usize,
}

impl Default for Store {
    /// The embedded store; 16 connections if a URL is set.
    fn default() -> Self {
        Store {
            url: None,
            password_file: None,
            ca_file: None,
            pool_size: 16,
        }
    }
}

impl std::fmt::Debug for Store {
    /// Never shows a password that the URL may hold.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .field("password_file", &self.password_file)
            .field("ca_file", &self.ca_file)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// The listening sockets, one list per protocol. Each entry is an `"ip:port"`
/// socket address (`"[::1]:25"` for IPv6); an empty list turns that listener off.
/// The defaults are on 127.0.0.1 on unprivileged ports (the usual port plus 1000).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    /// SMTP relay from other servers (RFC 5321; port 25 in production). Default `["127.0.0.1:1025"]`.
    #[serde(deserialize_with = "serde_helpers::socket_addrs")]
    pub smtp: Vec<SocketAddr>,
    /// Message submission with STARTTLS (RFC 6409; port 587). Default `["127.0.0.1:1587"]`.
    #[serde(deserialize_with = "serde_helpers::socket_addrs")]
    pub submission: Vec<SocketAddr>,
    /// Message submission over implicit TLS (RFC 8314; port 465). Default `["127.0.0.1:1465"]`.
    #[serde(deserialize_with = "serde_helpers::socket_addrs")]
    pub submissions: Vec<SocketAddr>,
    /// POP3 with STLS (RFC 1939, RFC 2595; port 110). Default `["127.0.0.1:1110"]`.
    #[serde(deserialize_with = "serde_helpers::socket_addrs")]
    pub pop3: Vec<SocketAddr>,
    /// POP3 over implicit TLS (RFC 8314; port 995). Default `["127.0.0.1:1995"]`.
    #[serde(deserialize_with = "serde_helpers::socket_addrs")]
    pub pop3s: Vec<SocketAddr>,
    /// IMAP with STARTTLS (RFC 9051; port 143). Default `["127.0.0.1:1143"]`.
    #[serde(deserialize_with = "serde_helpers::socket_addrs")]
    pub imap: Vec<SocketAddr>,
    /// IMAP over implicit TLS (RFC 8314; port 993). Default `["127.0.0.1:1993"]`.
    #[serde(deserialize_with = "serde_helpers::socket_addrs")]
    pub imaps: Vec<SocketAddr>,
    /// The web face over plain HTTP (RFC 9112): health check, mail-client
    /// autoconfiguration, metrics (`docs/web.md`). Default `["127.0.0.1:8080"]`.
    #[serde(deserialize_with = "serde_helpers::socket_addrs")]
    pub http: Vec<SocketAddr>,
    /// The web face over HTTPS (RFC 9110 §4.2.2), with the mail listeners'
    /// certificate. Default `["127.0.0.1:8443"]`.
    #[serde(deserialize_with = "serde_helpers::socket_addrs")]
    pub https: Vec<SocketAddr>,
}

/// The `[autoconfig]` section: the ports written into the mail-client
/// autoconfiguration documents (Thunderbird autoconfig, Outlook Autodiscover;
/// `docs/web.md`). Each unset port is the port of the first address of its listener
/// (as bound), which is right unless a proxy or NAT maps the public port elsewhere.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Autoconfig {
    /// The IMAP-over-TLS port clients are told. Default: the first `listen.imaps`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imaps_port: Option<u16>,
    /// The POP3-over-TLS port clients are told. Default: the first `listen.pop3s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pop3s_port: Option<u16>,
    /// The submission-over-TLS port clients are told. Default: the first
    /// `listen.submissions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submissions_port: Option<u16>,
}

/// The TLS certificate and private key, as PEM files. Both or neither: with
/// neither, the server generates a self-signed certificate in the data directory.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// The certificate chain (PEM), leaf first. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) for `cert`. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

/// Login policy shared by every protocol that checks a password: SMTP AUTH
/// (RFC 4954), POP3 USER/PASS and AUTH (RFC 1939, RFC 5034), and IMAP later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Whether a login is allowed on a connection without TLS (RFC 4954 §4,
    /// RFC 2595, RFC 8314). Default [`PlaintextAuth::Loopback`].
    pub allow_plaintext: PlaintextAuth,
    /// Failed logins from one IP address, in any protocol, within
    /// `failure_window_secs` before that address is locked out for `lockout_secs`
    /// (password guessing: RFC 4954 §9, RFC 5034 security considerations).
    /// Default 10; at least 1.
    pub max_failures_per_ip: u32,
    /// The window, in seconds, in which failed logins from one IP address are
    /// counted. Default 900 (15 minutes); at least 1.
    pub failure_window_secs: u64,
    /// How long, in seconds, a locked-out IP address (or account) is refused logins.
    /// Default 900 (15 minutes); at least 1.
    pub lockout_secs: u64,
    /// Failed logins against one account, from any address, within
    /// `failure_window_secs` before the account is locked for `lockout_secs` for every
    /// address from which it has not logged in successfully lately. Default 20; at
    /// least 1.
    pub max_failures_per_account: u32,
    /// The wait, in milliseconds, before checking a login after one recent failure
    /// (from that address, or against that account from elsewhere); it doubles with
    /// each further failure, up to `max_failure_delay_ms`. Default 1000; 0 for none.
    pub failure_delay_ms: u64,
    /// The longest such wait, in milliseconds. Default 15000; at least
    /// `failure_delay_ms`.
    pub max_failure_delay_ms: u64,
    /// Where the account password may be used. Default [`AccountPassword::Any`].
    pub account_password: AccountPassword,
}

/// Where an account's own password works: [`Auth::account_password`]. TOML: `"any"`
/// or `"web-only"`. App passwords (`postie user app-password`) work for SMTP, POP3 and
/// IMAP either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountPassword {
    /// Everywhere: SMTP AUTH, POP3, IMAP (and the web page). The default.
    #[default]
    Any,
    /// Only on the web page: mail clients must use an app password.
    WebOnly,
}

/// Limits and policies of the SMTP server (ports 25, 587 and 465).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    /// The largest message accepted, in bytes, advertised as `SIZE` (RFC 1870).
    /// Default 26 214 400 (25 MiB); at least 1024.
    pub max_message_size: u64,
    /// Recipients per message. Default 100, the minimum a server must accept
    /// (RFC 5321 §4.5.3.1.8); at least 1.
    pub max_recipients: usize,
    /// Simultaneous connections to the `smtp` listener (port 25: other servers) in
    /// total. Each listener has its own pool, so a flood on port 25 never locks users
    /// out of submission. Default 1000; at least 1.
    pub max_connections: usize,
    /// Simultaneous connections to the `smtp` listener from one IP address. Default 50;
    /// at least 1.
    pub max_connections_per_ip: usize,
    /// Simultaneous connections to the `submission` listener (port 587). Default 500;
    /// at least 1.
    pub submission_max_connections: usize,
    /// Simultaneous connections to the `submission` listener from one IP address.
    /// Default 50; at least 1.
    pub submission_max_connections_per_ip: usize,
    /// Simultaneous connections to the `submissions` listener (port 465). Default 500;
    /// at least 1.
    pub submissions_max_connections: usize,
    /// Simultaneous connections to the `submissions` listener from one IP address.
    /// Default 50; at least 1.
    pub submissions_max_connections_per_ip: usize,
    /// Seconds within which a whole command line must arrive, counted from the reply to
    /// the previous one (RFC 5321 §4.5.3.2.7: at least 5 minutes). A deadline, not an
    /// idle timer: trickling bytes does not extend it. Default 300; at least 1.
    pub command_timeout_secs: u64,
    /// Seconds within which each block of message data (64 KiB of DATA or BDAT, or the
    /// rest of a shorter message) must arrive (RFC 5321 §4.5.3.2.5: 3 minutes). Default
    /// 180; at least 1.
    pub data_timeout_secs: u64,
    /// Message data past this many bytes goes to an unnamed temp file in the data
    /// directory instead of memory while it arrives. Default 262144 (256 KiB).
    pub spool_threshold: u64,
    /// Failed AUTH attempts allowed on one connection; after that the server replies
    /// 421 and closes. Default 3; at least 1.
    pub max_auth_failures: u32,
    /// Errors allowed on one connection (bad commands, unknown recipients, relay
    /// attempts); at this many the server replies `421 4.7.0` and closes, like Postfix's
    /// `smtpd_hard_error_limit`. Default 20; at least 1.
    pub max_errors: u32,
    /// Errors on one connection after which each further error's reply is delayed (a
    /// tarpit against address harvesting): by `error_delay_ms` times the number of
    /// errors past this, at most 10 s. Default 3.
    pub soft_error_limit: u32,
    /// The tarpit step, in milliseconds. Default 1000; 0 turns the tarpit off.
    pub error_delay_ms: u64,
    /// NOOP, RSET, VRFY, EXPN and HELP commands allowed on one connection; each one
    /// past this counts as an error, so commands that do nothing cannot hold a
    /// connection forever (Postfix's `smtpd_junk_command_limit`); the count starts
    /// again after each accepted message. Default 100.
    pub junk_command_limit: u32,
    /// Errors from one client address, over all its connections, within
    /// `error_window_secs`; past it new connections from that address get `421 4.7.0`
    /// at once until the window moves on. Default 100; at least 1.
    pub max_errors_per_ip: u32,
    /// The window, in seconds, in which errors per client address are counted.
    /// Default 3600; at least 1.
    pub error_window_secs: u64,
    /// How VRFY is answered (RFC 5321 §3.5.3, §7.3). Default [`VrfyPolicy::Ambiguous`] (252).
    pub vrfy: VrfyPolicy,
    /// How EXPN is answered (RFC 5321 §3.5.3, §7.3). Default [`ExpnPolicy::Disabled`] (502).
    pub expn: ExpnPolicy,
    /// The account (or alias) that receives mail for `postmaster` (RFC 5321 §4.5.1: every
    /// server must accept mail for the case-insensitive local name postmaster, also
    /// written without a domain, `RCPT TO:<Postmaster>`) when the recipient's domain has
    /// no postmaster account or alias of its own. Default: not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postmaster: Option<String>,
    /// Messages an authenticated user may send per hour (counted at MAIL); more get
    /// `451 4.7.1`. Default 200; 0 for no limit.
    pub max_messages_per_hour_per_user: u64,
    /// Recipients an authenticated user may send to per hour (counted at RCPT); more
    /// get `451 4.7.1`. Default 1000; 0 for no limit.
    pub max_recipients_per_hour_per_user: u64,
    /// Messages per hour from one IP address without authentication (mail from other
    /// servers); more get `451 4.7.1`. Default 2000; 0 for no limit.
    pub max_messages_per_hour_per_ip: u64,
    /// Recipients per hour from one IP address without authentication; more get
    /// `451 4.7.1`. Default 10000; 0 for no limit.
    pub max_recipients_per_hour_per_ip: u64,
    /// An authenticated user may only send as one of their own addresses (the account's
    /// or an alias pointing to it), in MAIL FROM and in the `From:` header; otherwise
    /// `550 5.7.1`. Default true.
    pub sender_check: bool,
    /// DNS blocklists (RFC 5782) asked about unauthenticated clients of the `smtp`
    /// listener, such as `"zen.spamhaus.org"`. Default empty (none).
    pub dnsbl_zones: Vec<String>,
    /// When a client on a blocklist is refused. Default [`DnsblRejectAt::Rcpt`].
    pub dnsbl_reject_at: DnsblRejectAt,
    /// Check SPF (RFC 7208) for the HELO and MAIL FROM identities of mail arriving
    /// unauthenticated on the `smtp` listener; the result goes into the
    /// `Authentication-Results` header (RFC 8601). Default true.
    pub spf: bool,
    /// Verify DKIM signatures (RFC 6376, RFC 8463) of that mail. Default true.
    pub dkim_verify: bool,
    /// DMARC (RFC 7489) for that mail. Default [`DmarcPolicy::Enforce`].
    pub dmarc: DmarcPolicy,
}

/// What DMARC does with unauthenticated mail on the `smtp` listener:
/// [`Smtp::dmarc`]. TOML: `"enforce"`, `"report-only"` or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DmarcPolicy {
    /// Evaluate and follow the sender domain's policy when the message fails:
    /// `p=reject` gets `550 5.7.1` at the end of DATA, `p=quarantine` is filed into the
    /// recipients' Junk mailboxes. The default.
    #[default]
    Enforce,
    /// Evaluate and record the result in `Authentication-Results`; never refuse or
    /// quarantine.
    ReportOnly,
    /// Do not evaluate DMARC.
    Off,
}

/// When a client listed on a DNS blocklist is refused: [`Smtp::dnsbl_reject_at`].
/// TOML: `"connect"` or `"rcpt"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsblRejectAt {
    /// `554 5.7.1` instead of the greeting; every command but QUIT then gets 503
    /// (RFC 5321 §3.1).
    Connect,
    /// `554 5.7.1` to each RCPT, except to postmaster (RFC 5321 §4.5.1), so the client
    /// can still reach us about the listing; authenticated clients are not refused.
    /// The default.
    #[default]
    Rcpt,
}

/// Whether a login (SMTP AUTH, POP3 USER/PASS and AUTH, IMAP) is allowed before
/// TLS is up: [`Auth::allow_plaintext`]. TOML: `"never"`, `"loopback"` or
/// `"always"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaintextAuth {
    /// Logins only after STARTTLS/STLS or on an implicit-TLS port.
    Never,
    /// Without TLS only from a loopback address (127.0.0.0/8 or ::1); the default.
    #[default]
    Loopback,
    /// Without TLS from anywhere: passwords cross the network in clear.
    Always,
}

impl PlaintextAuth {
    /// Whether a client at `peer`, on a connection without TLS, may authenticate.
    /// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) counts as its IPv4 address.
    pub fn permits(self, peer: IpAddr) -> bool {
        match self {
            Self::Never => false,
            Self::Loopback => peer.to_canonical().is_loopback(),
            Self::Always => true,
        }
    }
}

/// Limits and policies of the POP3 server (ports 110 and 995).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pop3 {
    /// Seconds within which each command line must arrive whole, and the longest a
    /// client may stay silent, before the server closes the connection: the
    /// autologout timer of RFC 1939 §3, which must be at least 10 minutes there. A
    /// deadline, not an idle timer: bytes trickling in do not extend it, only a
    /// complete line does. Default 600; at least 1 (smaller values are for tests).
    pub idle_timeout_secs: u64,
    /// Simultaneous connections to the `pop3` listener in total (each listener has its
    /// own pool). Default 1000; at least 1.
    pub max_connections: usize,
    /// Simultaneous connections to the `pop3` listener from one IP address. Default 50;
    /// at least 1.
    pub max_connections_per_ip: usize,
    /// Simultaneous connections to the `pop3s` listener in total. Default 1000; at
    /// least 1.
    pub pop3s_max_connections: usize,
    /// Simultaneous connections to the `pop3s` listener from one IP address. Default
    /// 50; at least 1.
    pub pop3s_max_connections_per_ip: usize,
    /// Failed logins (USER/PASS or AUTH) allowed on one connection; after that the
    /// server replies `-ERR` and closes. Default 3; at least 1.
    pub max_auth_failures: u32,
    /// Bad commands allowed on one connection; after that the server replies
    /// `-ERR` and closes. Default 10; at least 1.
    pub max_errors: u32,
    /// What the `EXPIRE` capability (RFC 2449 §6.7) advertises: `None` gives
    /// `EXPIRE NEVER`, since Postie never deletes mail by itself; `Some(n)` gives
    /// `EXPIRE n`, the promised minimum days mail is kept on the server. Default
    /// `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_days: Option<u32>,
}

/// Limits and policies of the IMAP server (ports 143 and 993).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Imap {
    /// Seconds within which each command line and each literal must arrive whole,
    /// and the longest a client may stay silent (IDLE included), before the server
    /// says `* BYE` and closes: the autologout timer of RFC 9051 §5.4, which must be
    /// at least 30 minutes there. A deadline, not an idle timer: bytes trickling in
    /// do not extend it, only a complete line or literal does. Default 1800; at
    /// least 1 (smaller values are for tests).
    pub idle_timeout_secs: u64,
    /// Simultaneous connections to the `imap` listener in total (each listener has its
    /// own pool). Default 1000; at least 1.
    pub max_connections: usize,
    /// Simultaneous connections to the `imap` listener from one IP address. Default 50;
    /// at least 1.
    pub max_connections_per_ip: usize,
    /// Simultaneous connections to the `imaps` listener in total. Default 1000; at
    /// least 1.
    pub imaps_max_connections: usize,
    /// Simultaneous connections to the `imaps` listener from one IP address. Default
    /// 50; at least 1.
    pub imaps_max_connections_per_ip: usize,
    /// Failed logins (LOGIN or AUTHENTICATE) allowed on one connection; after that
    /// the server says `* BYE` and closes. Default 3; at least 1.
    pub max_auth_failures: u32,
    /// The largest literal a client may send, in octets (so the largest APPEND):
    /// larger ones are refused (RFC 7888 §4, RFC 7889 APPENDLIMIT). Default
    /// 26214400 (25 MiB); at least 1024.
    pub max_literal_size: u32,
    /// The longest command line after login, in octets (literals not counted):
    /// longer ones get `BAD [TOOBIG]` and `* BYE`. Before login every command,
    /// literals included, is held to 8 KiB whatever this says. Default 65536 (what
    /// Dovecot allows); at least 1024.
    pub max_line_length: usize,
    /// Simultaneous logged-in IMAP sessions of one account, from anywhere; one more
    /// login gets `NO [LIMIT]` (RFC 5530). Default 50 (a desktop client keeps about 5,
    /// a phone 1-2); at least 1.
    pub max_sessions_per_user: usize,
    /// Mailboxes one account may have; a CREATE past it gets `NO [LIMIT]` (RFC 5530).
    /// Bounds what every LIST, NOTIFY and shared-mailbox lookup of the account (and
    /// of those it shares with) has to walk. Default 10000; at least 10.
    pub max_mailboxes: usize,
}

/// How the server answers VRFY. TOML: `"252"` (or the integer `252`) or `"disabled"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum VrfyPolicy {
    /// Reply `252` (cannot verify, but will accept the message and try): gives away
    /// nothing about which mailboxes exist (RFC 5321 §3.5.3, §7.3). The default.
    #[default]
    #[serde(rename = "252")]
    Ambiguous,
    /// Reply `502` (command not implemented).
    #[serde(rename = "disabled")]
    Disabled,
}

/// How the server answers EXPN. TOML: `"252"` (or the integer `252`) or `"disabled"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum ExpnPolicy {
    /// Reply `252`, expanding nothing (RFC 5321 §3.5.3, §7.3).
    #[serde(rename = "252")]
    Ambiguous,
    /// Reply `502` (command not implemented): mailing-list membership stays private.
    /// The default.
    #[default]
    #[serde(rename = "disabled")]
    Disabled,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A `tracing_subscriber::EnvFilter` directive string, such as `"info"` or
    /// `"info,server=debug"`. Default `"info"`. `RUST_LOG`, when set, is for the
    /// binary to weigh against this.
    pub level: String,
}

impl Default for Config {
    /// The configuration used when there is no file: see each field.
    fn default() -> Self {
        Self {
            hostname: default_hostname(),
            data_dir: PathBuf::from("./postie-data"),
            listen: Listen::default(),
            tls: Tls::default(),
            auth: Auth::default(),
            smtp: Smtp::default(),
            pop3: Pop3::default(),
            imap: Imap::default(),
            dns: Dns::default(),
            relay: Relay::default(),
            queue: Queue::default(),
            log: Log::default(),
            autoconfig: Autoconfig::default(),
            store: Store::default(),
            capture: Capture::default(),
            mta_sts: MtaSts::default(),
            acme: None,
            tls_rpt: TlsRpt::default(),
        }
    }
}

impl Default for Listen {
    /// Every listener on 127.0.0.1, on the usual port plus 1000.
    fn default() -> Self {
        let on = |port: u16| vec![SocketAddr::from(([127, 0, 0, 1], port))];
        Self {
            smtp: on(1025),
            submission: on(1587),
            submissions: on(1465),
            pop3: on(1110),
            pop3s: on(1995),
            imap: on(1143),
            imaps: on(1993),
            // The web face: the usual 8080 / 8443 of a service behind a proxy.
            http: on(8080),
            https: on(8443),
        }
    }
}

impl Default for Smtp {
    /// The RFC-based defaults listed on each field.
    fn default() -> Self {
        Self {
            max_message_size: 25 * 1024 * 1024,
            // RFC 5321 §4.5.3.1.8: a server must accept at least 100 recipients.
            max_recipients: 100,
            max_connections: 1000,
            max_connections_per_ip: 50,
            submission_max_connections: 500,
            submission_max_connections_per_ip: 50,
            submissions_max_connections: 500,
            submissions_max_connections_per_ip: 50,
            // RFC 5321 §4.5.3.2.7: the server timeout is at least 5 minutes.
            command_timeout_secs: 300,
            // RFC 5321 §4.5.3.2.5: 3 minutes per data block.
            data_timeout_secs: 180,
            spool_threshold: 256 * 1024,
            max_auth_failures: 3,
            // Postfix: smtpd_hard_error_limit 20, smtpd_soft_error_limit 10,
            // smtpd_error_sleep_time 1s.
            max_errors: 20,
            soft_error_limit: 3,
            error_delay_ms: 1000,
            junk_command_limit: 100,
            max_errors_per_ip: 100,
            error_window_secs: 3600,
            vrfy: VrfyPolicy::default(),
            expn: ExpnPolicy::default(),
            postmaster: None,
            max_messages_per_hour_per_user: 200,
            max_recipients_per_hour_per_user: 1000,
            max_messages_per_hour_per_ip: 2000,
            max_recipients_per_hour_per_ip: 10_000,
            sender_check: true,
            dnsbl_zones: Vec::new(),
            dnsbl_reject_at: DnsblRejectAt::default(),
            spf: true,
            dkim_verify: true,
            dmarc: DmarcPolicy::default(),
        }
    }
}

impl Default for Auth {
    /// Plaintext logins from loopback only; 10 failures in 15 minutes lock an
    /// address out for 15 minutes, 20 lock an account for unfamiliar addresses; waits
    /// of 1 s doubling up to 15 s before checks after failures.
    fn default() -> Self {
        Self {
            allow_plaintext: PlaintextAuth::default(),
            max_failures_per_ip: 10,
            failure_window_secs: 900,
            lockout_secs: 900,
            max_failures_per_account: 20,
            failure_delay_ms: 1000,
            max_failure_delay_ms: 15_000,
            account_password: AccountPassword::Any,
        }
    }
}

impl Default for Pop3 {
    /// The RFC-based defaults listed on each field.
    fn default() -> Self {
        Self {
            // RFC 1939 §3: the autologout timer is at least 10 minutes.
            idle_timeout_secs: 600,
            max_connections: 1000,
            max_connections_per_ip: 50,
            pop3s_max_connections: 1000,
            pop3s_max_connections_per_ip: 50,
            max_auth_failures: 3,
            max_errors: 10,
            // RFC 2449 §6.7: EXPIRE NEVER.
            expire_days: None,
        }
    }
}

impl Default for Imap {
    /// The RFC-based defaults listed on each field.
    fn default() -> Self {
        Self {
            // RFC 9051 §5.4: the autologout timer is at least 30 minutes.
            idle_timeout_secs: 1800,
            max_connections: 1000,
            max_connections_per_ip: 50,
            imaps_max_connections: 1000,
            imaps_max_connections_per_ip: 50,
            max_auth_failures: 3,
            max_literal_size: 25 * 1024 * 1024,
            max_line_length: 64 * 1024,
            max_sessions_per_user: 50,
            max_mailboxes: 10_000,
        }
    }
}

impl Default for Log {
    /// Level `info`.
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
        }
    }
}

impl Config {
    /// The same configuration with `data_dir` replaced, for the `--data` flag.
    pub fn with_data_dir(self, dir: PathBuf) -> Self {
        Self {
            data_dir: dir,
            ..self
        }
    }
}

/// Reads and validates the config file at `path`, or returns the defaults when
/// `path` is `None`. The file's name as given is the one errors mention.
///
/// # Errors
///
/// [`ConfigError::Read`] when the file cannot be read, [`ConfigError::Invalid`]
/// when it is not valid TOML, has an unknown key or a bad value.
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    match path {
        None => {
            let config = Config::default();
            config.validate().map_err(|e| e.in_file("defaults", None))?;
            Ok(config)
        }
        Some(path) => {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::read(&origin, &e))?;
            parse(&text, &origin)
        }
    }
}

/// Parses and validates config file text. `origin` is the file name to put in
/// error messages.
///
/// # Errors
///
/// [`ConfigError::Invalid`] when `text` is not valid TOML, has an unknown key or
/// a bad value.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let tree = error::parse_tree(text, origin)?;
    let config = error::deserialize(&tree, text, origin)?;
    config
        .validate()
        .map_err(|e| e.in_file(origin, Some((text, tree.get_ref()))))?;
    Ok(config)
}

/// The default hostname: `$HOSTNAME`, else the first line of `/etc/hostname`,
/// else `localhost`.
fn default_hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .and_then(|s| first_line(&s))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .and_then(|s| first_line(&s))
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The first non-empty line of `s`, trimmed.
fn first_line(s: &str) -> Option<String> {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}
