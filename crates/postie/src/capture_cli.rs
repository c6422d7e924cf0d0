//! `postie capture`: the developers' mail catcher (issue 17, `docs/capture.md`).
//!
//! Where it sits: builds a configuration from the flags (on top of the built-in
//! defaults, or of `--config FILE`), with capture mode on and every listener off but
//! the ones capture mode serves, and hands over to `server::run` like `postie serve`
//! (which prints the banner with the bound addresses).

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The data directory when neither `--data` nor a config file names one.
pub const DEFAULT_DATA: &str = "./postie-capture";

/// The implicit-TLS listeners `--tls` adds: (listener, port).
pub const TLS_PORTS: [(&str, u16); 4] = [
    ("submissions", 1465),
    ("imaps", 1993),
    ("pop3s", 1995),
    ("https", 8026),
];

/// `postie capture`'s flags.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// SMTP listener: any sender, any recipient, AUTH optional with any credentials
    /// (the user name names the inbox; without AUTH it is `default`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1025")]
    pub smtp: SocketAddr,
    /// Web UI and API listener (http).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8025")]
    pub listen: SocketAddr,
    /// IMAP listener: any password; the user name names the inbox.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1143")]
    pub imap: SocketAddr,
    /// POP3 listener: any password; the user name names the inbox.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1110")]
    pub pop3: SocketAddr,
    /// Most messages kept, across all inboxes; past it the oldest are deleted.
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_messages: u64,
    /// STARTTLS on SMTP, IMAP and POP3, and implicit TLS on 127.0.0.1 (the SMTP
    /// listener's address) ports 1465 (SMTP), 1993 (IMAP), 1995 (POP3) and 8026
    /// (HTTPS), with the self-signed certificate generated in the data directory.
    #[arg(long)]
    pub tls: bool,
}

/// The configuration `postie capture` runs with: `base` (the defaults, or the config
/// file) with capture mode on, the listeners from the flags and every other one off,
/// the data directory `data` (else the file's, else [`DEFAULT_DATA`]) and the host
/// name `localhost` unless the file sets one.
pub fn config(
    args: &CaptureArgs,
    base: config::Config,
    from_file: bool,
    data: Option<PathBuf>,
) -> config::Config {
    let mut config = base;
    if !from_file {
        config.hostname = "localhost".to_owned();
        config.data_dir = PathBuf::from(DEFAULT_DATA);
        // No outbound DNS look-ups are needed: nothing is relayed.
    }
    if let Some(dir) = data {
        config = config.with_data_dir(dir);
    }
    config.capture.enabled = true;
    config.capture.max_messages = args.max_messages;
    config.capture.starttls = args.tls;
    let listen = &mut config.listen;
    listen.smtp = vec![args.smtp];
    listen.http = vec![args.listen];
    listen.imap = vec![args.imap];
    listen.pop3 = vec![args.pop3];
    listen.submission = Vec::new();
    let tls_ip = args.smtp.ip();
    let tls = |port: u16| {
        if args.tls {
            vec![SocketAddr::new(tls_ip, port)]
        } else {
            Vec::new()
        }
    };
    listen.submissions = tls(TLS_PORTS[0].1);
    listen.imaps = tls(TLS_PORTS[1].1);
    listen.pop3s = tls(TLS_PORTS[2].1);
    listen.https = tls(TLS_PORTS[3].1);
    // A developer's machine: no blocklists or sender authentication to look up.
    config.smtp.dnsbl_zones = Vec::new();
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Test {
        #[command(flatten)]
        args: CaptureArgs,
    }

    fn parse(flags: &[&str]) -> CaptureArgs {
        let mut argv = vec!["capture"];
        argv.extend_from_slice(flags);
        Test::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn defaults_are_mailpits_ports_and_only_capture_listeners() {
        let c = config(&parse(&[]), config::Config::default(), false, None);
        assert!(c.capture.enabled);
        assert!(!c.capture.starttls);
        assert_eq!(c.capture.max_messages, 10_000);
        assert_eq!(c.hostname, "localhost");
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA));
        let l = &c.listen;
        assert_eq!(l.smtp, vec!["127.0.0.1:1025".parse().unwrap()]);
        assert_eq!(l.http, vec!["127.0.0.1:8025".parse().unwrap()]);
        assert_eq!(l.imap, vec!["127.0.0.1:1143".parse().unwrap()]);
        assert_eq!(l.pop3, vec!["127.0.0.1:1110".parse().unwrap()]);
        for off in [&l.submission, &l.submissions, &l.imaps, &l.pop3s, &l.https] {
            assert!(off.is_empty());
        }
        c.validate().unwrap();
    }

    #[test]
    fn flags_move_listeners_and_tls_adds_the_implicit_ones() {
        let args = parse(&[
            "--smtp",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--max-messages",
            "3",
            "--tls",
        ]);
        let c = config(
            &args,
            config::Config::default(),
            false,
            Some("/tmp/x".into()),
        );
        assert_eq!(c.capture.max_messages, 3);
        assert!(c.capture.starttls);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.listen.imaps, vec!["127.0.0.1:1993".parse().unwrap()]);
        assert_eq!(c.listen.https, vec!["127.0.0.1:8026".parse().unwrap()]);
        assert!(Test::try_parse_from(["capture", "--max-messages", "0"]).is_err());
    }
}
