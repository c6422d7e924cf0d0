//! `postie send`: compose a message from flags and send it through any SMTP server
//! (`--server`) or into the local Postie queue; `--dry-run` prints it instead; with
//! `--bulk`, one personalised message per CSV row (see `bulk_cli`).
//!
//! Where it sits: the command line over the send crate (compose, transport,
//! transcript, local). Errors are one line on standard error and an exit status from
//! [`exit`], so scripts can tell a refused password from a refused recipient.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use send::compose::{self, Attachment, Composed, Draft};
use send::transport::{self, Delivery, FailureKind, Security, Trust};

use crate::cli::Common;

/// Exit statuses other than 0 (the sysexits.h values sendmail programs use, so that callers such
/// as cron and PHP understand them).
pub mod exit {
    /// Bad command line.
    pub const USAGE: u8 = 64;
    /// The message or an address is not valid.
    pub const DATA: u8 = 65;
    /// An input file cannot be read.
    pub const NO_INPUT: u8 = 66;
    /// A recipient was refused (5xx), or is unknown here.
    pub const NO_USER: u8 = 67;
    /// The server cannot be reached, or refused the session.
    pub const UNAVAILABLE: u8 = 69;
    /// Internal error (the local queue, the runtime).
    pub const SOFTWARE: u8 = 70;
    /// A temporary failure (4xx): try again later.
    pub const TEMPFAIL: u8 = 75;
    /// The server broke the protocol.
    pub const PROTOCOL: u8 = 76;
    /// Authentication failed (535).
    pub const NO_PERM: u8 = 77;
    /// TLS failed: handshake, certificate, or STARTTLS required and missing.
    pub const TLS: u8 = 78;
}

/// When to use STARTTLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StartTls {
    /// When the server offers it (and then it must succeed).
    Auto,
    /// It must be offered and succeed, or nothing is sent.
    Require,
    /// Never: the whole session in clear text.
    No,
}

/// `postie send` flags.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  postie send --server smtp.example.org --user me@example.org --password-stdin \\
      --from me@example.org --to you@example.net --subject Hi --text 'Hello!'
  postie send --from 'Zoë <zoe@example.org>' --to team@example.org \\
      --subject 'Quarterly report' --text-file body.txt --html-file body.html \\
      --attach report.pdf --dry-run
  postie send --server 127.0.0.1:1587 --bulk people.csv --template mail.eml \\
      --results results.csv --rate 600/min

Without --server the message goes into the local Postie queue (--config/--data).
Exit status: 0 sent, 64 usage, 65 bad message, 66 unreadable file, 67 recipient
refused, 69 cannot connect, 75 temporary failure, 76 protocol error, 77
authentication failed, 78 TLS failure. See docs/send.md.")]
pub struct SendArgs {
    /// The author and envelope sender, e.g. "Zoë <zoe@example.org>".
    #[arg(long, value_name = "ADDRESS", help_heading = "Message")]
    pub from: Option<String>,
    /// A recipient (repeatable; each may be a comma-separated list).
    #[arg(long, value_name = "ADDRESS", help_heading = "Message")]
    pub to: Vec<String>,
    /// A copy recipient (repeatable).
    #[arg(long, value_name = "ADDRESS", help_heading = "Message")]
    pub cc: Vec<String>,
    /// A blind copy recipient (repeatable): in the envelope, never in a header.
    #[arg(long, value_name = "ADDRESS", help_heading = "Message")]
    pub bcc: Vec<String>,
    /// Where replies should go.
    #[arg(long, value_name = "ADDRESS", help_heading = "Message")]
    pub reply_to: Vec<String>,
    /// The subject (any language: non-ASCII is encoded, RFC 2047).
    #[arg(long, help_heading = "Message")]
    pub subject: Option<String>,
    /// The plain text body.
    #[arg(long, conflicts_with = "text_file", help_heading = "Message")]
    pub text: Option<String>,
    /// Read the plain text body from FILE (`-`: standard input).
    #[arg(long, value_name = "FILE", help_heading = "Message")]
    pub text_file: Option<PathBuf>,
    /// Read an HTML body from FILE; with a text body the two become
    /// multipart/alternative.
    #[arg(long, value_name = "FILE", help_heading = "Message")]
    pub html_file: Option<PathBuf>,
    /// Attach FILE (repeatable); its type is guessed from the extension.
    #[arg(long, value_name = "FILE", help_heading = "Message")]
    pub attach: Vec<PathBuf>,
    /// An extra header field, "Name: value" (repeatable).
    #[arg(long, value_name = "NAME: VALUE", help_heading = "Message")]
    pub header: Vec<String>,
    /// Print the message (and, on stderr, its envelope) instead of sending it.
    #[arg(long, help_heading = "Message")]
    pub dry_run: bool,

    /// Send through this SMTP server (HOST or HOST:PORT; the port defaults to 587,
    /// or 465 with --tls). Without it, the message goes into the local queue.
    #[arg(long, value_name = "HOST[:PORT]", help_heading = "Server")]
    pub server: Option<String>,
    /// STARTTLS policy (default: auto, i.e. whenever offered; `require` fails closed).
    #[arg(
        long,
        value_name = "WHEN",
        num_args = 0..=1,
        default_missing_value = "auto",
        conflicts_with = "tls",
        help_heading = "Server"
    )]
    pub starttls: Option<StartTls>,
    /// TLS from the first byte (implicit TLS, RFC 8314); the default on port 465.
    #[arg(long, help_heading = "Server")]
    pub tls: bool,
    /// Log in as USER (AUTH PLAIN or LOGIN, as the server offers); the password comes
    /// from --password-stdin, else $POSTIE_PASSWORD, else a prompt.
    #[arg(long, value_name = "USER", help_heading = "Server")]
    pub user: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long, requires = "user", help_heading = "Server")]
    pub password_stdin: bool,
    /// Do not verify the server's certificate (and allow a password without TLS).
    #[arg(long, conflicts_with = "ca", help_heading = "Server")]
    pub insecure: bool,
    /// Also trust the certificates in this PEM file (a private CA).
    #[arg(long, value_name = "FILE", help_heading = "Server")]
    pub ca: Option<PathBuf>,
    /// The name to give in EHLO (default: the configured hostname).
    #[arg(long, value_name = "NAME", help_heading = "Server")]
    pub helo: Option<String>,
    /// Seconds to wait for each reply.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60,
        help_heading = "Server"
    )]
    pub timeout: u64,
    /// Print the whole SMTP dialogue on stderr, with timestamps (passwords masked).
    #[arg(long, help_heading = "Server")]
    pub debug: bool,
    /// Ask for REQUIRETLS (RFC 8689): the message travels only over TLS with verified
    /// certificates on every hop. With --server, STARTTLS becomes required and a server
    /// that does not offer REQUIRETLS refuses every recipient; without it, the local
    /// queue entry carries the flag.
    #[arg(long, conflicts_with = "insecure", help_heading = "Server")]
    pub require_tls: bool,

    #[command(flatten)]
    pub bulk: crate::bulk_cli::BulkArgs,
}

/// A failure: the exit status and the one line that explains it.
#[derive(Debug)]
pub struct Failed {
    /// From [`exit`].
    pub status: u8,
    /// What went wrong.
    pub message: String,
}

impl Failed {
    pub fn new(status: u8, message: impl Into<String>) -> Self {
        Failed {
            status,
            message: message.into(),
        }
    }
}

/// The exit status for a transport failure.
pub fn status_of(kind: FailureKind) -> u8 {
    match kind {
        FailureKind::Setup => exit::USAGE,
        FailureKind::Connect | FailureKind::Refused => exit::UNAVAILABLE,
        FailureKind::Tls => exit::TLS,
        FailureKind::Auth => exit::NO_PERM,
        FailureKind::Temporary => exit::TEMPFAIL,
        FailureKind::Protocol => exit::PROTOCOL,
    }
}

/// The word for a failure kind in the one-line error.
pub fn word_of(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Setup => "setup",
        FailureKind::Connect => "connect",
        FailureKind::Tls => "TLS",
        FailureKind::Auth => "authentication",
        FailureKind::Refused => "refused",
        FailureKind::Temporary => "temporary failure",
        FailureKind::Protocol => "protocol",
    }
}

/// Runs `postie send`; prints its own errors.
pub fn main(args: SendArgs, common: &Common) -> ExitCode {
    match run(args, common) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("postie send: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

fn run(args: SendArgs, common: &Common) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::new(exit::SOFTWARE, format!("cannot start the runtime: {e}")))?;
    if args.bulk.bulk.is_some() {
        return runtime.block_on(crate::bulk_cli::run(&args, common));
    }
    args.bulk.refuse_without_bulk()?;
    let draft = draft_from(&args)?;
    let composed =
        compose::compose(&draft, now()).map_err(|e| Failed::new(exit::DATA, e.to_string()))?;
    if args.dry_run {
        return print_dry_run(&composed);
    }
    runtime.block_on(async {
        match &args.server {
            Some(_) => {
                let options = transport_options(&args, common)?;
                send_via_server(&options, &composed).await
            }
            None => submit_locally(common, &composed, args.require_tls).await,
        }
    })
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Reads a text file, `-` meaning standard input.
pub fn read_text(path: &Path) -> Result<String, Failed> {
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| Failed::new(exit::NO_INPUT, format!("cannot read standard input: {e}")))?;
        buf
    } else {
        std::fs::read(path).map_err(|e| {
            Failed::new(
                exit::NO_INPUT,
                format!("cannot read {}: {e}", path.display()),
            )
        })?
    };
    String::from_utf8(bytes)
        .map_err(|_| Failed::new(exit::DATA, format!("{} is not UTF-8 text", path.display())))
}

/// The draft the compose flags describe.
pub fn draft_from(args: &SendArgs) -> Result<Draft, Failed> {
    if args.password_stdin && args.text_file.as_deref() == Some(Path::new("-")) {
        return Err(Failed::new(
            exit::USAGE,
            "--password-stdin and --text-file - cannot both read standard input",
        ));
    }
    let text = match (&args.text, &args.text_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(path)) => Some(read_text(path)?),
        (None, None) => None,
    };
    let html = args.html_file.as_deref().map(read_text).transpose()?;
    let attachments = args
        .attach
        .iter()
        .map(|p| {
            Attachment::from_file(p).map_err(|e| {
                Failed::new(exit::NO_INPUT, format!("cannot read {}: {e}", p.display()))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let headers = args
        .header
        .iter()
        .map(|h| parse_header_arg(h))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Draft {
        from: args.from.clone().unwrap_or_default(),
        to: args.to.clone(),
        cc: args.cc.clone(),
        bcc: args.bcc.clone(),
        reply_to: args.reply_to.clone(),
        subject: args.subject.clone(),
        text,
        html,
        attachments,
        headers,
    })
}

/// `"Name: value"` into its two halves.
pub fn parse_header_arg(text: &str) -> Result<(String, String), Failed> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(Failed::new(
            exit::USAGE,
            format!("--header {text:?}: expected \"Name: value\""),
        )),
    }
}

pub fn print_dry_run(composed: &Composed) -> Result<(), Failed> {
    use std::io::Write;
    let rcpts: Vec<String> = composed.recipients.iter().map(|a| a.to_string()).collect();
    eprintln!(
        "envelope: from <{}> to {}",
        composed.sender,
        rcpts
            .iter()
            .map(|r| format!("<{r}>"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut out = std::io::stdout().lock();
    out.write_all(&composed.message)
        .and_then(|()| out.flush())
        .map_err(|e| Failed::new(exit::SOFTWARE, format!("cannot write the message: {e}")))
}

/// The password for `--user`: `--password-stdin`, `$POSTIE_PASSWORD`, or a prompt.
fn password(args: &SendArgs) -> Result<String, Failed> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Failed::new(exit::NO_INPUT, format!("cannot read the password: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else if let Ok(p) = std::env::var("POSTIE_PASSWORD") {
        p
    } else if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        rpassword::prompt_password("Password: ")
            .map_err(|e| Failed::new(exit::NO_INPUT, format!("cannot read the password: {e}")))?
    } else {
        return Err(Failed::new(
            exit::USAGE,
            "--user needs a password: --password-stdin or $POSTIE_PASSWORD",
        ));
    };
    if password.is_empty() {
        return Err(Failed::new(exit::USAGE, "the password is empty"));
    }
    Ok(password)
}

/// The transport options the server flags describe.
pub fn transport_options(args: &SendArgs, common: &Common) -> Result<transport::Options, Failed> {
    let server = args.server.as_deref().unwrap_or_default();
    let (host, port) = transport::parse_server(server)
        .map_err(|e| Failed::new(exit::USAGE, format!("--server: {e}")))?;
    let port = port.unwrap_or(if args.tls {
        transport::SUBMISSIONS_PORT
    } else {
        transport::SUBMISSION_PORT
    });
    let security = match (args.tls, args.starttls) {
        (true, _) => Security::Implicit,
        (false, Some(StartTls::Require)) => Security::StartTlsRequired,
        (false, Some(StartTls::No)) => Security::None,
        (false, Some(StartTls::Auto)) => Security::StartTlsIfOffered,
        // RFC 8314 §3.3: port 465 is implicit TLS.
        (false, None) if port == transport::SUBMISSIONS_PORT => Security::Implicit,
        (false, None) => Security::StartTlsIfOffered,
    };
    let trust = match (&args.ca, args.insecure) {
        (_, true) => Trust::Insecure,
        (Some(ca), false) => Trust::ExtraCa(ca.clone()),
        (None, false) => Trust::Default,
    };
    let credentials = match &args.user {
        Some(user) => Some((user.clone(), password(args)?)),
        None => None,
    };
    let helo = match &args.helo {
        Some(h) => h.clone(),
        None => common
            .load()
            .map(|c| c.hostname)
            .unwrap_or_else(|_| "localhost".to_string()),
    };
    let transcript = args.debug.then(|| {
        let bulk = args.bulk.bulk.is_some();
        Arc::new(move |n: usize| send::transcript::to_stderr(bulk.then(|| n.to_string())))
            as transport::TranscriptFactory
    });
    Ok(transport::Options {
        host,
        port,
        security,
        trust,
        credentials,
        helo,
        timeout: Duration::from_secs(args.timeout.max(1)),
        transcript,
        require_tls: args.require_tls,
    })
}

async fn send_via_server(options: &transport::Options, composed: &Composed) -> Result<(), Failed> {
    let fail = |f: transport::Failure| {
        Failed::new(
            status_of(f.kind),
            format!("{}: {}", word_of(f.kind), f.message),
        )
    };
    let transport = transport::Transport::new(options).await.map_err(fail)?;
    let mut session = transport.connect().await.map_err(fail)?;
    let result = session
        .send(&composed.sender, &composed.recipients, &composed.message)
        .await;
    session.quit().await;
    report(&result.map_err(fail)?)
}

/// Prints each recipient's outcome; the status says whether all were accepted.
fn report(deliveries: &[Delivery]) -> Result<(), Failed> {
    let mut refused = Vec::new();
    let mut deferred = Vec::new();
    for d in deliveries {
        let line = format!("{}: {}", d.recipient, d.result.reply());
        match &d.result {
            relay::client::RecipientResult::Accepted(_) => println!("accepted {line}"),
            relay::client::RecipientResult::Permanent(_) => {
                eprintln!("refused {line}");
                refused.push(line);
            }
            relay::client::RecipientResult::Temporary(_) => {
                eprintln!("deferred {line}");
                deferred.push(line);
            }
        }
    }
    let total = deliveries.len();
    let failed = refused.len() + deferred.len();
    if failed == 0 {
        return Ok(());
    }
    let first = refused
        .first()
        .or(deferred.first())
        .cloned()
        .unwrap_or_default();
    let status = if refused.is_empty() {
        exit::TEMPFAIL
    } else {
        exit::NO_USER
    };
    let what = if refused.is_empty() {
        "deferred"
    } else {
        "refused"
    };
    Err(Failed::new(
        status,
        format!("recipient {what}: {failed} of {total} not accepted (first: {first})"),
    ))
}

async fn submit_locally(
    common: &Common,
    composed: &Composed,
    require_tls: bool,
) -> Result<(), Failed> {
    let queue = open_local_queue(common).await?.requiring_tls(require_tls);
    let id = queue
        .submit(
            Some(&composed.sender),
            &composed.recipients,
            &composed.message,
            &submitter(),
        )
        .await
        .map_err(local_failure)?;
    println!("queued as {id}");
    Ok(())
}

/// Who runs this process (for the local `Received:` field).
pub fn submitter() -> send::local::Submitter {
    send::local::Submitter {
        uid: rustix::process::getuid().as_raw(),
    }
}

/// The local queue of the configured data directory.
pub async fn open_local_queue(common: &Common) -> Result<send::local::LocalQueue, Failed> {
    let config = common
        .load()
        .map_err(|e| Failed::new(exit::USAGE, format!("{e:#}")))?;
    let store = store::open(&config)
        .await
        .map_err(|e| Failed::new(exit::SOFTWARE, e.to_string()))?;
    let postmaster = config
        .smtp
        .postmaster
        .as_deref()
        .and_then(|p| message::Address::parse(p).ok());
    let signer = pipeline::MailAuth::signing_only(&config.hostname, &config.data_dir);
    // A shared store keeps the DKIM keys: sign with those (read once).
    let signer = match server::dkim_keys::load(store.as_ref()).await {
        Some(keys) => signer.with_shared_keys(keys),
        None => signer,
    };
    Ok(send::local::LocalQueue::new(
        store,
        &config.hostname,
        postmaster,
        config.smtp.max_message_size,
    )
    .with_signer(signer))
}

/// The exit status and line for a local submission failure.
pub fn local_failure(e: send::local::LocalError) -> Failed {
    use send::local::LocalError;
    let status = match &e {
        LocalError::NoRecipients => exit::USAGE,
        LocalError::UnknownRecipients(_) => exit::NO_USER,
        LocalError::TooBig { .. } => exit::DATA,
        LocalError::Store(_) => exit::TEMPFAIL,
    };
    Failed::new(status, format!("local queue: {e}"))
}
