//! `postie sendmail` (and `postie` installed as `/usr/sbin/sendmail`): reads a message
//! on standard input and puts it into the local Postie queue, accepting the classic
//! sendmail(8) command line, so cron, PHP's `mail()` and other programs can use it.
//!
//! Where it sits: a front end to the send crate's local submission, like
//! [`crate::send_cli`]'s path without `--server`. The flags are not clap-style (`-oi`,
//! `-fADDR`, `-F name`, recipients after them), so clap hands the words over untouched
//! and [`parse`] reads them by hand.
//!
//! What it does to the message (as sendmail and Postfix do): line ends become CRLF
//! (RFC 5322 §2.1); without `-i`, a line with a single dot ends the input; a first line
//! that is not a header field starts the body; `From:` is added when missing (RFC 5322
//! §3.6.2 requires it); with `-t` the recipients are read from To, Cc and Bcc and the
//! Bcc field is removed (RFC 5322 §3.6.3). Date, Message-ID and the trace field are
//! added by the local queue.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use message::Address;
use send::compose::mailbox;

use crate::cli::Common;
use crate::send_cli::{Failed, exit};

/// `postie sendmail` words, handed over as they are.
#[derive(Debug, Args)]
#[command(after_help = "\
Flags (as sendmail(8)):
  -t            read recipients from the To, Cc and Bcc fields (Bcc is removed)
  -i, -oi       a line with a single dot does not end the message
  -f ADDR       envelope sender (default: your user name at the server's hostname;
                -f '<>' for the null sender); also -r ADDR
  -F NAME       your full name, for a From: field the message lacks
  --config FILE, --data DIR   as for every postie command
  RECIPIENT...  envelope recipients (with -t, added to those of the header)
Ignored for compatibility: -oX (other -o options), -odb, -odi, -v, -bm, -n, -m,
-U, -G, -N ARG, -R ARG, -V ARG, -B ARG, -L ARG, -O ARG, -h ARG.
Without --config: $POSTIE_CONFIG, else /etc/postie/postie.toml if it exists.
Exit status: 0 queued, 64 usage, 65 bad message, 67 unknown local recipient,
70/75 the queue could not be written.")]
pub struct SendmailArgs {
    /// Flags and recipients, as for sendmail (see below).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

/// What the command line asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `-f`: `Some(None)` is the null sender.
    pub sender: Option<Option<String>>,
    /// `-F`.
    pub full_name: Option<String>,
    /// `-t`.
    pub read_recipients: bool,
    /// `-i` / `-oi`.
    pub ignore_dots: bool,
    /// Recipients given as arguments.
    pub recipients: Vec<String>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--data`.
    pub data: Option<PathBuf>,
}

/// Flags that take a value and are ignored.
const IGNORED_WITH_VALUE: &[char] = &['N', 'R', 'V', 'B', 'L', 'O', 'h'];
/// Flags without a value that are ignored.
const IGNORED: &[&str] = &["-v", "-bm", "-n", "-m", "-U", "-G", "-odb", "-odi", "-odq"];

/// Reads sendmail's command line (without the program name).
pub fn parse(words: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut i = 0;
    let value = |i: &mut usize, flag: &str, attached: &str| -> Result<String, String> {
        if !attached.is_empty() {
            return Ok(attached.to_string());
        }
        *i += 1;
        words
            .get(*i)
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value"))
    };
    while i < words.len() {
        let w = words[i].as_str();
        if w == "--" {
            o.recipients.extend(words[i + 1..].iter().cloned());
            break;
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, attached) = long.split_once('=').unwrap_or((long, ""));
            let v = match name {
                "config" | "data" => value(&mut i, &format!("--{name}"), attached)?,
                _ => return Err(format!("unknown option {w}")),
            };
            if name == "config" {
                o.config = Some(v.into());
            } else {
                o.data = Some(v.into());
            }
        } else if w.starts_with('-') && w.len() > 1 {
            if IGNORED.contains(&w) {
                i += 1;
                continue;
            }
            let mut chars = w[1..].chars();
            let flag = chars.next().unwrap_or('-');
            let rest = chars.as_str();
            match flag {
                't' if rest.is_empty() => o.read_recipients = true,
                'i' if rest.is_empty() => o.ignore_dots = true,
                'o' if rest == "i" => o.ignore_dots = true,
                // Other -o options (-oem, -oep, -odb ...) change nothing here.
                'o' if !rest.is_empty() => {}
                'f' | 'r' => {
                    let v = value(&mut i, &format!("-{flag}"), rest)?;
                    let v = v.trim();
                    o.sender = Some(match v {
                        "" | "<>" => None,
                        _ => Some(v.trim_start_matches('<').trim_end_matches('>').to_string()),
                    });
                }
                'F' => o.full_name = Some(value(&mut i, "-F", rest)?),
                c if IGNORED_WITH_VALUE.contains(&c) => {
                    value(&mut i, &format!("-{c}"), rest)?;
                }
                'b' => {
                    return Err(format!(
                        "{w} is not supported (only -bm, reading a message; see `postie queue` and `postie serve`)"
                    ));
                }
                _ => return Err(format!("unknown option {w}")),
            }
        } else {
            o.recipients.push(w.to_string());
        }
        i += 1;
    }
    Ok(o)
}

/// The message from sendmail's input: CRLF line ends, ending at a lone dot unless
/// `ignore_dots`, with a blank line inserted where a non-header line starts the body.
pub fn read_message(input: &[u8], ignore_dots: bool) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if input.ends_with(b"\n") {
        lines.pop();
    }
    let mut out = Vec::with_capacity(input.len() + lines.len());
    let mut in_header = true;
    let mut first = true;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !ignore_dots && line == b"." {
            break;
        }
        if first && line.starts_with(b"From ") {
            // An mbox separator line ("From sender date"), as some programs write
            // it: not part of the message (sendmail drops it too).
            first = false;
            continue;
        }
        if in_header {
            let continuation = !first && (line.starts_with(b" ") || line.starts_with(b"\t"));
            if line.is_empty() {
                in_header = false;
            } else if !(is_field(line) || continuation) {
                // Not a header field: the header ends here (sendmail does the same).
                out.extend_from_slice(b"\r\n");
                in_header = false;
            }
        }
        first = false;
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    if in_header {
        // Headers only: end the header block.
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `name:` with a valid field name (RFC 5322 §2.2).
fn is_field(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => line[..colon].iter().all(|&b| (33..=126).contains(&b)),
        _ => false,
    }
}

/// The header fields of `message`, unfolded: `(start, end, name, value)`, `end`
/// including the CRLF of the last line.
fn fields(message: &[u8]) -> Vec<(usize, usize, String, String)> {
    let head = message::headers::header_block(message);
    let mut out: Vec<(usize, usize, String, String)> = Vec::new();
    let mut pos = 0;
    for line in head.split_inclusive(|&b| b == b'\n') {
        let start = pos;
        pos += line.len();
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1 = pos;
                last.3.push_str(text);
            }
            continue;
        }
        if let Some((name, value)) = text.split_once(':') {
            out.push((start, pos, name.trim().to_string(), value.to_string()));
        }
    }
    out
}

/// With `-t`: the recipients of the To, Cc and Bcc fields, and the message without Bcc.
pub fn recipients_from_header(message: &[u8]) -> Result<(Vec<Address>, Vec<u8>), String> {
    let mut found = Vec::new();
    let mut cut = Vec::new();
    for (start, end, name, value) in fields(message) {
        let lower = name.to_ascii_lowercase();
        if !matches!(lower.as_str(), "to" | "cc" | "bcc") {
            continue;
        }
        if lower == "bcc" {
            cut.push((start, end));
        }
        if value.trim().is_empty() {
            continue;
        }
        let list = mailbox::parse_list(&value, &name).map_err(|e| e.to_string())?;
        found.extend(list.into_iter().map(|m| m.address));
    }
    let mut out = Vec::with_capacity(message.len());
    let mut pos = 0;
    for (start, end) in cut {
        out.extend_from_slice(&message[pos..start]);
        pos = end;
    }
    out.extend_from_slice(&message[pos..]);
    Ok((found, out))
}

/// The user name of this process's uid, from /etc/passwd, else $LOGNAME / $USER.
fn user_name() -> String {
    let uid = rustix::process::getuid().as_raw();
    let from_passwd = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut parts = line.split(':');
                let name = parts.next()?;
                let id: u32 = parts.nth(1)?.parse().ok()?;
                (id == uid).then(|| name.to_string())
            })
        });
    from_passwd
        .or_else(|| std::env::var("LOGNAME").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| format!("uid{uid}"))
}

/// Where the configuration comes from when `--config` is not given.
fn default_config() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("POSTIE_CONFIG") {
        return Some(path.into());
    }
    let etc = PathBuf::from("/etc/postie/postie.toml");
    etc.exists().then_some(etc)
}

/// `postie sendmail ARGS`.
pub fn main(args: SendmailArgs, common: &Common) -> ExitCode {
    finish(run(&args.args, common))
}

/// When the program was started as `sendmail` (a symlink or copy named so), runs as
/// sendmail and returns its exit status.
pub fn main_if_sendmail() -> Option<ExitCode> {
    let mut words = std::env::args();
    let program = words.next()?;
    let name = std::path::Path::new(&program).file_name()?.to_str()?;
    if name != "sendmail" {
        return None;
    }
    let words: Vec<String> = words.collect();
    let common = Common {
        config: None,
        data: None,
    };
    Some(finish(run(&words, &common)))
}

fn finish(result: Result<(), Failed>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("sendmail: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

fn run(words: &[String], common: &Common) -> Result<(), Failed> {
    let o = parse(words).map_err(|e| Failed::new(exit::USAGE, e))?;
    let common = Common {
        config: o
            .config
            .clone()
            .or_else(|| common.config.clone())
            .or_else(default_config),
        data: o.data.clone().or_else(|| common.data.clone()),
    };
    let config = common
        .load()
        .map_err(|e| Failed::new(exit::USAGE, format!("{e:#}")))?;

    let sender = match &o.sender {
        Some(None) => None,
        Some(Some(text)) => Some(
            Address::parse(text)
                .map_err(|e| Failed::new(exit::DATA, format!("-f {text:?}: {e}")))?,
        ),
        None => {
            let text = format!("{}@{}", user_name(), config.hostname);
            Some(Address::parse(&text).map_err(|e| {
                Failed::new(
                    exit::DATA,
                    format!("the default sender {text:?}: {e} (use -f)"),
                )
            })?)
        }
    };
    let mut recipients = Vec::new();
    for r in &o.recipients {
        // An argument may be a list ("a@x, b@y") or carry a name, as in a header.
        let list = mailbox::parse_list(r, "recipient")
            .map_err(|e| Failed::new(exit::USAGE, e.to_string()))?;
        recipients.extend(list.into_iter().map(|m| m.address));
    }

    let mut input = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut input)
        .map_err(|e| Failed::new(exit::SOFTWARE, format!("cannot read the message: {e}")))?;
    let mut message = read_message(&input, o.ignore_dots);
    if o.read_recipients {
        let (found, without_bcc) =
            recipients_from_header(&message).map_err(|e| Failed::new(exit::DATA, e))?;
        recipients.extend(found);
        message = without_bcc;
    }
    if recipients.is_empty() {
        return Err(Failed::new(
            exit::USAGE,
            "no recipients (give them as arguments, or use -t)",
        ));
    }
    if !message::headers::has_header(&message, "From") {
        message = with_from(
            &message,
            sender.as_ref(),
            o.full_name.as_deref(),
            &config.hostname,
        );
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::new(exit::SOFTWARE, format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let queue = crate::send_cli::open_local_queue(&common).await?;
        queue
            .submit(
                sender.as_ref(),
                &recipients,
                &message,
                &crate::send_cli::submitter(),
            )
            .await
            .map_err(crate::send_cli::local_failure)?;
        Ok(())
    })
}

/// Puts a `From:` field first: the full name (RFC 2047 encoded when needed) and the
/// sender, or `MAILER-DAEMON@hostname` for the null sender.
fn with_from(
    message: &[u8],
    sender: Option<&Address>,
    name: Option<&str>,
    hostname: &str,
) -> Vec<u8> {
    let address = sender
        .map(Address::to_string)
        .unwrap_or_else(|| format!("MAILER-DAEMON@{hostname}"));
    let mut out = send::compose::from_field(name, &address).into_bytes();
    out.extend_from_slice(message);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_classic_flags() {
        let o = parse(&words(
            "-t -i -oi -f bounce@example.org -F Cron a@x.org b@y.org",
        ))
        .unwrap();
        assert!(o.read_recipients && o.ignore_dots);
        assert_eq!(o.sender, Some(Some("bounce@example.org".into())));
        assert_eq!(o.full_name.as_deref(), Some("Cron"));
        assert_eq!(o.recipients, ["a@x.org", "b@y.org"]);

        let o = parse(&words("-fme@x.org -FDaemon -oem -odi -- -odd@x.org")).unwrap();
        assert_eq!(o.sender, Some(Some("me@x.org".into())));
        assert_eq!(o.full_name.as_deref(), Some("Daemon"));
        assert!(!o.ignore_dots);
        assert_eq!(o.recipients, ["-odd@x.org"]);

        let o = parse(&words("-f <> -N never --config /c.toml --data=/d x@y.org")).unwrap();
        assert_eq!(o.sender, Some(None));
        assert_eq!(o.config, Some(PathBuf::from("/c.toml")));
        assert_eq!(o.data, Some(PathBuf::from("/d")));
        assert_eq!(o.recipients, ["x@y.org"]);

        assert!(parse(&words("-f")).is_err());
        assert!(parse(&words("-bp")).is_err());
        assert!(parse(&words("-Z")).is_err());
        assert!(parse(&words("--bogus")).is_err());
    }

    #[test]
    fn reads_messages_as_sendmail_does() {
        assert_eq!(
            read_message(b"Subject: hi\nTo: a@x.org\n\nline\n.\nafter\n", false),
            b"Subject: hi\r\nTo: a@x.org\r\n\r\nline\r\n"
        );
        assert_eq!(
            read_message(b"Subject: hi\n\nline\n.\nafter\n", true),
            b"Subject: hi\r\n\r\nline\r\n.\r\nafter\r\n"
        );
        // Plain text without a header becomes a body.
        assert_eq!(
            read_message(b"hello world\nsecond\n", false),
            b"\r\nhello world\r\nsecond\r\n"
        );
        // An mbox "From " line is dropped.
        assert_eq!(
            read_message(
                b"From root Mon Jan  1 10:00:00 2024\nSubject: s\n\nb\n",
                false
            ),
            b"Subject: s\r\n\r\nb\r\n"
        );
        // A header block without a body, folded lines kept.
        assert_eq!(
            read_message(b"Subject: a\r\n b", false),
            b"Subject: a\r\n b\r\n\r\n"
        );
    }

    #[test]
    fn takes_recipients_from_the_header_and_removes_bcc() {
        let msg = b"To: A <a@x.org>,\r\n b@x.org\r\nBcc: secret@y.org,\r\n  other@y.org\r\nCc: \r\nSubject: s\r\n\r\nBcc: not@header.org\r\n";
        let (rcpts, out) = recipients_from_header(msg).unwrap();
        let rcpts: Vec<String> = rcpts.iter().map(|a| a.to_string()).collect();
        assert_eq!(rcpts, ["a@x.org", "b@x.org", "secret@y.org", "other@y.org"]);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "To: A <a@x.org>,\r\n b@x.org\r\nCc: \r\nSubject: s\r\n\r\nBcc: not@header.org\r\n"
        );
    }

    #[test]
    fn adds_a_from_field() {
        let sender = Address::parse("root@h.example").unwrap();
        let out = with_from(
            b"Subject: s\r\n\r\nx\r\n",
            Some(&sender),
            Some("Cron Daemon"),
            "h",
        );
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("From: \"Cron Daemon\" <root@h.example>\r\nSubject: s\r\n"),
            "{out}"
        );
        let out = with_from(b"\r\nx\r\n", None, Some("Zoë"), "h.example");
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("From: =?utf-8?"), "{out}");
        assert!(
            out.contains("<MAILER-DAEMON@h.example>\r\n\r\nx\r\n"),
            "{out}"
        );
    }
}
