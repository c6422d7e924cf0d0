//! Unit tests: defaults, a full file, every kind of bad value, and the examples in
//! `docs/config.md`.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::{
    AccountPassword, Auth, Config, ConfigError, DmarcPolicy, DnsblRejectAt, ExpnPolicy, Listen,
    Log, PlaintextAuth, Pop3, Position, Relay, SmarthostTls, Smtp, Tls, VrfyPolicy, load, parse,
};

/// The reference, included so that it cannot drift from the code.
const DOC: &str = include_str!("../../../docs/config.md");

/// Every key, as a dotted path. Checked against what `Config` serializes to, against
/// the docs, and against the complete example.
const ALL_KEYS: &[&str] = &[
    "hostname",
    "data_dir",
    "listen.smtp",
    "listen.submission",
    "listen.submissions",
    "listen.pop3",
    "listen.pop3s",
    "listen.imap",
    "listen.imaps",
    "listen.http",
    "listen.https",
    "tls.cert",
    "tls.key",
    "auth.allow_plaintext",
    "auth.max_failures_per_ip",
    "auth.failure_window_secs",
    "auth.lockout_secs",
    "auth.max_failures_per_account",
    "auth.failure_delay_ms",
    "auth.max_failure_delay_ms",
    "auth.account_password",
    "smtp.max_message_size",
    "smtp.max_recipients",
    "smtp.max_connections",
    "smtp.max_connections_per_ip",
    "smtp.submission_max_connections",
    "smtp.submission_max_connections_per_ip",
    "smtp.submissions_max_connections",
    "smtp.submissions_max_connections_per_ip",
    "smtp.spool_threshold",
    "smtp.command_timeout_secs",
    "smtp.data_timeout_secs",
    "smtp.max_auth_failures",
    "smtp.max_errors",
    "smtp.soft_error_limit",
    "smtp.error_delay_ms",
    "smtp.junk_command_limit",
    "smtp.max_errors_per_ip",
    "smtp.error_window_secs",
    "smtp.vrfy",
    "smtp.expn",
    "smtp.postmaster",
    "smtp.max_messages_per_hour_per_user",
    "smtp.max_recipients_per_hour_per_user",
    "smtp.max_messages_per_hour_per_ip",
    "smtp.max_recipients_per_hour_per_ip",
    "smtp.sender_check",
    "smtp.dnsbl_zones",
    "smtp.dnsbl_reject_at",
    "smtp.spf",
    "smtp.dkim_verify",
    "smtp.dmarc",
    "pop3.idle_timeout_secs",
    "pop3.max_connections",
    "pop3.max_connections_per_ip",
    "pop3.pop3s_max_connections",
    "pop3.pop3s_max_connections_per_ip",
    "pop3.max_auth_failures",
    "pop3.max_errors",
    "pop3.expire_days",
    "imap.idle_timeout_secs",
    "imap.max_connections",
    "imap.max_connections_per_ip",
    "imap.imaps_max_connections",
    "imap.imaps_max_connections_per_ip",
    "imap.max_auth_failures",
    "imap.max_sessions_per_user",
    "imap.max_mailboxes",
    "imap.max_literal_size",
    "imap.max_line_length",
    "dns.nameservers",
    "dns.dnssec",
    "relay.smarthost",
    "relay.smarthost_tls",
    "relay.smarthost_user",
    "relay.smarthost_password",
    "relay.smarthost_ca",
    "relay.domains",
    "relay.require_tls",
    "relay.max_connections",
    "relay.max_connections_per_host",
    "relay.idle_secs",
    "relay.mta_sts",
    "relay.dane",
    "relay.tls_ca_file",
    "queue.retry_schedule_secs",
    "queue.max_age_secs",
    "queue.delay_warning_secs",
    "queue.lease_secs",
    "log.level",
    "store.url",
    "store.password_file",
    "store.ca_file",
    "store.pool_size",
    "autoconfig.imaps_port",
    "autoconfig.pop3s_port",
    "autoconfig.submissions_port",
    "capture.enabled",
    "capture.max_messages",
    "capture.starttls",
    "mta_sts.mode",
    "mta_sts.max_age",
    "mta_sts.mx",
    "acme.directory",
    "acme.contact",
    "acme.challenge",
    "acme.ca_file",
    "acme.include_service_names",
    "acme.renew_before_days",
    "acme.check_secs",
    "tls_rpt.enabled",
    "tls_rpt.organization",
    "tls_rpt.contact",
    "tls_rpt.rua",
];

/// The keys whose default is "not set", which TOML cannot write.
const UNSET_KEYS: &[&str] = &[
    "tls.cert",
    "tls.key",
    "smtp.postmaster",
    "pop3.expire_days",
    "relay.smarthost",
    "relay.smarthost_user",
    "relay.smarthost_password",
    "relay.smarthost_ca",
    "relay.tls_ca_file",
    "store.url",
    "store.password_file",
    "store.ca_file",
    "autoconfig.imaps_port",
    "autoconfig.pop3s_port",
    "autoconfig.submissions_port",
    "acme.directory",
    "acme.contact",
    "acme.challenge",
    "acme.ca_file",
    "acme.include_service_names",
    "acme.renew_before_days",
    "acme.check_secs",
];

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

/// The ```toml blocks of the reference, in order.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim() == "```toml" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

/// The dotted paths of the leaf keys of a TOML table.
fn leaf_keys(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => leaf_keys(inner, &path, out),
            _ => {
                out.insert(path);
            }
        }
    }
}

fn err(text: &str) -> ConfigError {
    match parse(text, "postie.toml") {
        Ok(c) => panic!("expected an error for {text:?}, got {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn defaults_without_a_file() {
    let c = load(None).unwrap();
    assert_eq!(c, Config::default());
    assert!(!c.hostname.is_empty());
    assert!(!c.hostname.contains(char::is_whitespace));
    assert_eq!(c.data_dir, PathBuf::from("./postie-data"));
    assert_eq!(c.listen.smtp, addrs(&["127.0.0.1:1025"]));
    assert_eq!(c.listen.submission, addrs(&["127.0.0.1:1587"]));
    assert_eq!(c.listen.submissions, addrs(&["127.0.0.1:1465"]));
    assert_eq!(c.listen.pop3, addrs(&["127.0.0.1:1110"]));
    assert_eq!(c.listen.pop3s, addrs(&["127.0.0.1:1995"]));
    assert_eq!(c.listen.imap, addrs(&["127.0.0.1:1143"]));
    assert_eq!(c.listen.imaps, addrs(&["127.0.0.1:1993"]));
    assert_eq!(c.listen.http, addrs(&["127.0.0.1:8080"]));
    assert_eq!(c.listen.https, addrs(&["127.0.0.1:8443"]));
    assert_eq!(c.autoconfig, crate::Autoconfig::default());
    assert_eq!(
        c.tls,
        Tls {
            cert: None,
            key: None
        }
    );
    assert_eq!(
        c.auth,
        Auth {
            allow_plaintext: PlaintextAuth::Loopback,
            max_failures_per_ip: 10,
            failure_window_secs: 900,
            lockout_secs: 900,
            max_failures_per_account: 20,
            failure_delay_ms: 1000,
            max_failure_delay_ms: 15_000,
            account_password: AccountPassword::Any,
        }
    );
    assert_eq!(
        c.smtp,
        Smtp {
            max_message_size: 26_214_400,
            max_recipients: 100,
            max_connections: 1000,
            max_connections_per_ip: 50,
            submission_max_connections: 500,
            submission_max_connections_per_ip: 50,
            submissions_max_connections: 500,
            submissions_max_connections_per_ip: 50,
            command_timeout_secs: 300,
            data_timeout_secs: 180,
            spool_threshold: 262_144,
            max_auth_failures: 3,
            max_errors: 20,
            soft_error_limit: 3,
            error_delay_ms: 1000,
            junk_command_limit: 100,
            max_errors_per_ip: 100,
            error_window_secs: 3600,
            vrfy: VrfyPolicy::Ambiguous,
            expn: ExpnPolicy::Disabled,
            postmaster: None,
            max_messages_per_hour_per_user: 200,
            max_recipients_per_hour_per_user: 1000,
            max_messages_per_hour_per_ip: 2000,
            max_recipients_per_hour_per_ip: 10_000,
            sender_check: true,
            dnsbl_zones: vec![],
            dnsbl_reject_at: DnsblRejectAt::Rcpt,
            spf: true,
            dkim_verify: true,
            dmarc: DmarcPolicy::Enforce,
        }
    );
    assert_eq!(
        c.pop3,
        Pop3 {
            idle_timeout_secs: 600,
            max_connections: 1000,
            max_connections_per_ip: 50,
            pop3s_max_connections: 1000,
            pop3s_max_connections_per_ip: 50,
            max_auth_failures: 3,
            max_errors: 10,
            expire_days: None,
        }
    );
    assert_eq!(c.log.level, "info");
}

#[test]
fn an_empty_file_and_empty_tables_give_the_defaults() {
    let defaults = Config::default();
    assert_eq!(parse("", "postie.toml").unwrap(), defaults);
    let empty_tables = "[listen]\n[tls]\n[auth]\n[smtp]\n[pop3]\n[log]\n";
    assert_eq!(parse(empty_tables, "postie.toml").unwrap(), defaults);
}

#[test]
fn a_full_file_parses_to_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, "cert").unwrap();
    std::fs::write(&key, "key").unwrap();
    let text = format!(
        r#"
hostname = "mx1.example.net"
data_dir = "/var/lib/postie"

[listen]
smtp = ["0.0.0.0:25", "[::]:25"]
submission = ["192.0.2.1:587"]
submissions = ["[2001:db8::1]:465"]
pop3 = []
pop3s = ["0.0.0.0:995"]
imap = ["0.0.0.0:143"]
imaps = ["0.0.0.0:993"]
http = []
https = ["0.0.0.0:443"]

[tls]
cert = {cert:?}
key = {key:?}

[auth]
allow_plaintext = "never"
max_failures_per_ip = 5
failure_window_secs = 3600
lockout_secs = 7200
max_failures_per_account = 50
failure_delay_ms = 500
max_failure_delay_ms = 8000
account_password = "web-only"

[smtp]
max_message_size = 52428800
max_recipients = 500
max_connections = 20000
max_connections_per_ip = 20
submission_max_connections = 700
submission_max_connections_per_ip = 30
submissions_max_connections = 600
submissions_max_connections_per_ip = 25
command_timeout_secs = 600
data_timeout_secs = 600
spool_threshold = 65536
max_auth_failures = 5
max_errors = 20
soft_error_limit = 5
error_delay_ms = 250
junk_command_limit = 30
max_errors_per_ip = 40
error_window_secs = 600
vrfy = "disabled"
expn = "252"
max_messages_per_hour_per_user = 50
max_recipients_per_hour_per_user = 500
max_messages_per_hour_per_ip = 0
max_recipients_per_hour_per_ip = 0
sender_check = false
dnsbl_zones = ["zen.example", "bl.example."]
dnsbl_reject_at = "connect"
spf = false
dkim_verify = false
dmarc = "report-only"

[pop3]
idle_timeout_secs = 1200
max_connections = 300
max_connections_per_ip = 10
pop3s_max_connections = 200
pop3s_max_connections_per_ip = 5
max_auth_failures = 2
max_errors = 5
expire_days = 30

[log]
level = "warn,server=debug"
"#
    );
    let expected = Config {
        hostname: "mx1.example.net".to_owned(),
        data_dir: PathBuf::from("/var/lib/postie"),
        listen: Listen {
            smtp: addrs(&["0.0.0.0:25", "[::]:25"]),
            submission: addrs(&["192.0.2.1:587"]),
            submissions: addrs(&["[2001:db8::1]:465"]),
            pop3: vec![],
            pop3s: addrs(&["0.0.0.0:995"]),
            imap: addrs(&["0.0.0.0:143"]),
            imaps: addrs(&["0.0.0.0:993"]),
            http: vec![],
            https: addrs(&["0.0.0.0:443"]),
        },
        tls: Tls {
            cert: Some(cert),
            key: Some(key),
        },
        auth: Auth {
            allow_plaintext: PlaintextAuth::Never,
            max_failures_per_ip: 5,
            failure_window_secs: 3600,
            lockout_secs: 7200,
            max_failures_per_account: 50,
            failure_delay_ms: 500,
            max_failure_delay_ms: 8000,
            account_password: AccountPassword::WebOnly,
        },
        smtp: Smtp {
            max_message_size: 52_428_800,
            max_recipients: 500,
            max_connections: 20_000,
            max_connections_per_ip: 20,
            submission_max_connections: 700,
            submission_max_connections_per_ip: 30,
            submissions_max_connections: 600,
            submissions_max_connections_per_ip: 25,
            command_timeout_secs: 600,
            data_timeout_secs: 600,
            spool_threshold: 65_536,
            max_auth_failures: 5,
            max_errors: 20,
            soft_error_limit: 5,
            error_delay_ms: 250,
            junk_command_limit: 30,
            max_errors_per_ip: 40,
            error_window_secs: 600,
            vrfy: VrfyPolicy::Disabled,
            expn: ExpnPolicy::Ambiguous,
            postmaster: None,
            max_messages_per_hour_per_user: 50,
            max_recipients_per_hour_per_user: 500,
            max_messages_per_hour_per_ip: 0,
            max_recipients_per_hour_per_ip: 0,
            sender_check: false,
            dnsbl_zones: vec!["zen.example".into(), "bl.example.".into()],
            dnsbl_reject_at: DnsblRejectAt::Connect,
            spf: false,
            dkim_verify: false,
            dmarc: DmarcPolicy::ReportOnly,
        },
        pop3: Pop3 {
            idle_timeout_secs: 1200,
            max_connections: 300,
            max_connections_per_ip: 10,
            pop3s_max_connections: 200,
            pop3s_max_connections_per_ip: 5,
            max_auth_failures: 2,
            max_errors: 5,
            expire_days: Some(30),
        },
        log: Log {
            level: "warn,server=debug".to_owned(),
        },
        ..Config::default()
    };
    assert_eq!(parse(&text, "postie.toml").unwrap(), expected);

    // The same through load(), from a file.
    let file = dir.path().join("postie.toml");
    std::fs::write(&file, &text).unwrap();
    assert_eq!(load(Some(&file)).unwrap(), expected);
}

#[test]
fn a_partial_table_keeps_the_other_defaults() {
    let c = parse("[smtp]\nmax_recipients = 7\n", "postie.toml").unwrap();
    assert_eq!(c.smtp.max_recipients, 7);
    assert_eq!(
        c.smtp,
        Smtp {
            max_recipients: 7,
            ..Smtp::default()
        }
    );
    assert_eq!(c.listen, Listen::default());
}

#[test]
fn an_empty_list_turns_a_listener_off() {
    let c = parse("[listen]\nsmtp = []\nimaps = []\n", "postie.toml").unwrap();
    assert!(c.listen.smtp.is_empty());
    assert!(c.listen.imaps.is_empty());
    assert_eq!(c.listen.submission, Listen::default().submission);
    assert_eq!(c.listen.imap, Listen::default().imap);
}

#[test]
fn port_zero_may_repeat() {
    let text = "[listen]\nsmtp = [\"127.0.0.1:0\"]\nsubmission = [\"127.0.0.1:0\"]\n";
    let c = parse(text, "postie.toml").unwrap();
    assert_eq!(c.listen.smtp, c.listen.submission);
}

#[test]
fn policies_accept_their_spellings() {
    let c = parse(
        "[smtp]\nvrfy = 252\nexpn = 252\n[auth]\nallow_plaintext = \"always\"\n",
        "postie.toml",
    )
    .unwrap();
    assert_eq!(c.smtp.vrfy, VrfyPolicy::Ambiguous);
    assert_eq!(c.smtp.expn, ExpnPolicy::Ambiguous);
    assert_eq!(c.auth.allow_plaintext, PlaintextAuth::Always);
    let c = parse("[smtp]\nvrfy = \"disabled\"\n", "postie.toml").unwrap();
    assert_eq!(c.smtp.vrfy, VrfyPolicy::Disabled);
    let c = parse("auth.allow_plaintext = \"never\"\n", "postie.toml").unwrap();
    assert_eq!(c.auth.allow_plaintext, PlaintextAuth::Never);

    // Each value serializes to a spelling that parses back to it.
    for p in [
        PlaintextAuth::Never,
        PlaintextAuth::Loopback,
        PlaintextAuth::Always,
    ] {
        let c = Config {
            auth: Auth {
                allow_plaintext: p,
                ..Auth::default()
            },
            ..Config::default()
        };
        let text = toml::to_string(&c).unwrap();
        assert_eq!(parse(&text, "round-trip.toml").unwrap(), c, "{text}");
    }
}

#[test]
fn expire_days_is_left_out_for_never() {
    assert_eq!(Config::default().pop3.expire_days, None);
    let c = parse("[pop3]\nexpire_days = 0\n", "postie.toml").unwrap();
    assert_eq!(c.pop3.expire_days, Some(0));
    let c = parse("pop3.expire_days = 365\n", "postie.toml").unwrap();
    assert_eq!(c.pop3.expire_days, Some(365));
    // A small idle timeout (below RFC 1939's 10 minutes) is allowed, for tests.
    let c = parse("[pop3]\nidle_timeout_secs = 1\n", "postie.toml").unwrap();
    assert_eq!(c.pop3.idle_timeout_secs, 1);
}

/// Each bad file: the key the error must name, and a piece of what it must say.
#[test]
fn each_invalid_value_names_the_file_and_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        // listen
        (
            "[listen]\nsmtp = [\"0.0.0.0:99999\"]",
            "listen.smtp",
            r#"invalid socket address "0.0.0.0:99999""#,
        ),
        (
            "[listen]\nsubmission = [\"127.0.0.1:587\", \"localhost:587\"]",
            "listen.submission",
            r#"invalid socket address "localhost:587""#,
        ),
        (
            "listen.imap = \"127.0.0.1:143\"",
            "listen.imap",
            "expected a list of \"ip:port\" socket addresses",
        ),
        (
            "[listen]\npop3 = [110]",
            "listen.pop3",
            "invalid type: integer",
        ),
        (
            "[listen]\nimap = [\"127.0.0.1:1143\"]\nimaps = [\"127.0.0.1:1143\"]",
            "listen.imaps",
            "127.0.0.1:1143 is also in listen.imap",
        ),
        (
            "[listen]\npop3 = [\"127.0.0.1:110\", \"127.0.0.1:110\"]",
            "listen.pop3",
            "127.0.0.1:110 is listed twice",
        ),
        ("listen = 5", "listen", "expected a table"),
        // top level
        ("hostname = \"\"", "hostname", "must not be empty"),
        (
            "hostname = \"mail example\"",
            "hostname",
            "must not contain spaces",
        ),
        (
            "hostname = \"mail\\r\\nexample\"",
            "hostname",
            "control characters",
        ),
        ("hostname = 12", "hostname", "invalid type: integer"),
        ("data_dir = \"\"", "data_dir", "must not be empty"),
        // tls
        (
            "[tls]\ncert = \"c.pem\"",
            "tls.key",
            "must be set when tls.cert is set",
        ),
        (
            "[tls]\nkey = \"k.pem\"",
            "tls.cert",
            "must be set when tls.key is set",
        ),
        (
            "[tls]\ncert = \"/nonexistent/c.pem\"\nkey = \"/nonexistent/k.pem\"",
            "tls.cert",
            r#"cannot read "/nonexistent/c.pem": No such file or directory"#,
        ),
        // smtp
        (
            "[smtp]\nmax_message_size = 1023",
            "smtp.max_message_size",
            "must be at least 1024",
        ),
        (
            "[smtp]\nmax_recipients = 0",
            "smtp.max_recipients",
            "must be at least 1",
        ),
        (
            "[smtp]\nmax_connections = 0",
            "smtp.max_connections",
            "must be at least 1",
        ),
        (
            "[smtp]\nmax_connections_per_ip = 0",
            "smtp.max_connections_per_ip",
            "must be at least 1",
        ),
        (
            "[smtp]\ncommand_timeout_secs = 0",
            "smtp.command_timeout_secs",
            "must be at least 1",
        ),
        (
            "[smtp]\ndata_timeout_secs = 0",
            "smtp.data_timeout_secs",
            "must be at least 1",
        ),
        (
            "[smtp]\nmax_auth_failures = 0",
            "smtp.max_auth_failures",
            "must be at least 1",
        ),
        (
            "[smtp]\nmax_errors = 0",
            "smtp.max_errors",
            "must be at least 1",
        ),
        (
            "[smtp]\nmax_recipients = -1",
            "smtp.max_recipients",
            "expected a non-negative integer",
        ),
        (
            "[smtp]\nmax_errors = 99999999999",
            "smtp.max_errors",
            "expected a non-negative integer",
        ),
        (
            "[smtp]\nmax_message_size = \"25M\"",
            "smtp.max_message_size",
            "invalid type: string",
        ),
        (
            "[smtp]\nmax_recipients = 1.5",
            "smtp.max_recipients",
            "invalid type: floating point",
        ),
        (
            "smtp = { max_recipients = 0 }",
            "smtp.max_recipients",
            "must be at least 1",
        ),
        (
            "smtp.max_recipients = 0",
            "smtp.max_recipients",
            "must be at least 1",
        ),
        (
            "[smtp]\nvrfy = \"250\"",
            "smtp.vrfy",
            r#"expected "252" or "disabled""#,
        ),
        (
            "[smtp]\nexpn = 502",
            "smtp.expn",
            r#"expected "252" or "disabled""#,
        ),
        ("[smtp]\nexpn = true", "smtp.expn", "invalid type: boolean"),
        // auth
        (
            "[auth]\nallow_plaintext = \"sometimes\"",
            "auth.allow_plaintext",
            "unknown variant `sometimes`, expected one of `never`, `loopback`, `always`",
        ),
        (
            "[auth]\nallow_plaintext = true",
            "auth.allow_plaintext",
            "invalid type: boolean",
        ),
        (
            "[auth]\nmax_failures_per_ip = 0",
            "auth.max_failures_per_ip",
            "must be at least 1",
        ),
        (
            "[auth]\nfailure_window_secs = 0",
            "auth.failure_window_secs",
            "must be at least 1",
        ),
        (
            "[auth]\nlockout_secs = 0",
            "auth.lockout_secs",
            "must be at least 1",
        ),
        (
            "[auth]\nlockout_secs = -900",
            "auth.lockout_secs",
            "expected a non-negative integer",
        ),
        (
            "[auth]\nmax_failures_per_account = 0",
            "auth.max_failures_per_account",
            "must be at least 1",
        ),
        (
            "[auth]\nfailure_delay_ms = 2000\nmax_failure_delay_ms = 1000",
            "auth.max_failure_delay_ms",
            "must be at least 2000",
        ),
        (
            "[auth]\naccount_password = \"web\"",
            "auth.account_password",
            "unknown variant `web`, expected `any` or `web-only`",
        ),
        (
            "[smtp]\ndnsbl_zones = [\"zen example\"]",
            "smtp.dnsbl_zones",
            "\"zen example\" is not a DNS zone name",
        ),
        (
            "[smtp]\ndnsbl_zones = [\"\"]",
            "smtp.dnsbl_zones",
            "is not a DNS zone name",
        ),
        (
            "[smtp]\ndnsbl_reject_at = \"data\"",
            "smtp.dnsbl_reject_at",
            "unknown variant `data`, expected `connect` or `rcpt`",
        ),
        (
            "[smtp]\ndmarc = \"strict\"",
            "smtp.dmarc",
            "unknown variant `strict`, expected one of `enforce`, `report-only`, `off`",
        ),
        ("auth = \"never\"", "auth", "expected a table"),
        // pop3
        (
            "[pop3]\nidle_timeout_secs = 0",
            "pop3.idle_timeout_secs",
            "must be at least 1",
        ),
        (
            "[pop3]\nmax_connections = 0",
            "pop3.max_connections",
            "must be at least 1",
        ),
        (
            "[pop3]\nmax_connections_per_ip = 0",
            "pop3.max_connections_per_ip",
            "must be at least 1",
        ),
        (
            "[pop3]\nmax_auth_failures = 0",
            "pop3.max_auth_failures",
            "must be at least 1",
        ),
        (
            "[pop3]\nmax_errors = 0",
            "pop3.max_errors",
            "must be at least 1",
        ),
        (
            "[pop3]\nidle_timeout_secs = \"10m\"",
            "pop3.idle_timeout_secs",
            "invalid type: string",
        ),
        (
            "[smtp]\npostmaster = \"no-at-sign\"",
            "smtp.postmaster",
            "is not a mail address",
        ),
        (
            "[pop3]\nexpire_days = -1",
            "pop3.expire_days",
            "expected a non-negative integer",
        ),
        (
            "[pop3]\nexpire_days = \"never\"",
            "pop3.expire_days",
            "invalid type: string",
        ),
        (
            "[pop3]\nexpire_days = 4294967296",
            "pop3.expire_days",
            "expected a non-negative integer",
        ),
        // log
        ("[log]\nlevel = \"\"", "log.level", "must not be empty"),
        ("[log]\nlevel = \"verbose\"", "log.level", "is not a level"),
        (
            "[log]\nlevel = \"server=loud\"",
            "log.level",
            "is not a level",
        ),
        // malformed TOML: toml's message, with the key found from the text
        (
            "[smtp]\nmax_recipients = 10x",
            "smtp.max_recipients",
            "invalid TOML",
        ),
        ("hostname = \"abc", "hostname", "invalid TOML"),
        (
            "[smtp]\nmax_errors = 1\nmax_errors = 2",
            "smtp.max_errors",
            "invalid TOML",
        ),
        ("[smtp\nmax_errors = 1", "smtp", "invalid TOML"),
    ];
    let mut failures = Vec::new();
    for (text, key, fragment) in cases {
        let e = err(text);
        let shown = e.to_string();
        let prefix = format!("postie.toml: {key}: ");
        if !shown.starts_with(&prefix) || !shown.contains(fragment) || e.key() != Some(*key) {
            failures.push(format!(
                "{text:?}\n  wanted {prefix}…{fragment}…\n  got    {shown}"
            ));
        }
        assert_eq!(e.origin(), "postie.toml");
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn errors_give_the_exact_shape_and_position() {
    let e = err("[listen]\nsmtp = [\"0.0.0.0:99999\"]\n");
    assert!(
        e.to_string()
            .starts_with(r#"postie.toml: listen.smtp: invalid socket address "0.0.0.0:99999""#),
        "{e}"
    );
    assert!(e.to_string().ends_with("(line 2, column 9)"), "{e}");

    let e = err("# limits\n[smtp]\nmax_recipients = 0\n");
    assert_eq!(
        e.to_string(),
        "postie.toml: smtp.max_recipients: must be at least 1 (line 3, column 18)"
    );
    assert_eq!(
        e,
        ConfigError::Invalid {
            origin: "postie.toml".to_owned(),
            key: "smtp.max_recipients".to_owned(),
            message: "must be at least 1".to_owned(),
            position: Some(Position {
                line: 3,
                column: 18
            }),
        }
    );

    // A value that is wrong only by default has no position.
    let e = err("[tls]\ncert = \"c.pem\"\n");
    assert!(
        e.to_string()
            .starts_with("postie.toml: tls.key: must be set"),
        "{e}"
    );
    assert!(matches!(e, ConfigError::Invalid { position: None, .. }));

    // Malformed TOML gives line, column and toml's own message.
    let e = err("[smtp]\nmax_recipients = 10x\n");
    let ConfigError::Invalid {
        position, message, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(position.map(|p| p.line), Some(2), "{e}");
    assert!(message.len() > "invalid TOML: ".len(), "{e}");
}

#[test]
fn unknown_keys_are_errors() {
    let cases: &[(&str, &str)] = &[
        ("[smtp]\nmax_recipent = 5", "smtp.max_recipent"),
        ("[smpt]\nmax_recipients = 5", "smpt"),
        ("smtp.max_recipent = 5", "smtp.max_recipent"),
        ("[listen]\nsmtps = []", "listen.smtps"),
        ("[tls]\ncertificate = \"c.pem\"", "tls.certificate"),
        // moved to auth.allow_plaintext, with no alias
        (
            "[smtp]\nallow_plaintext_auth = \"never\"",
            "smtp.allow_plaintext_auth",
        ),
        (
            "[auth]\nallow_plaintext_auth = \"never\"",
            "auth.allow_plaintext_auth",
        ),
        ("[pop3]\nidle_timeout = 600", "pop3.idle_timeout"),
        ("[pop3]\nexpire = \"never\"", "pop3.expire"),
        ("[log]\nlevel = \"info\"\nformat = \"json\"", "log.format"),
        ("host_name = \"x\"", "host_name"),
        ("[smtp.limits]\nx = 1", "smtp.limits"),
        ("\"odd key\" = 1", "\"odd key\""),
    ];
    for (text, key) in cases {
        let e = err(text).to_string();
        assert!(
            e.starts_with(&format!("postie.toml: {key}: unknown key")),
            "{text:?} gave {e}"
        );
    }
    let e = err("[smtp]\nmax_recipent = 5").to_string();
    assert!(e.contains("`max_recipients`"), "lists the known keys: {e}");
    assert!(e.ends_with("(line 2, column 1)"), "{e}");
}

#[test]
fn a_missing_file_says_it_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postie.toml");
    let e = load(Some(&path)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: cannot read: No such file or directory", path.display())
    );
    assert_eq!(e.key(), None);

    // Named as given, relative or not.
    let e = load(Some(Path::new("does-not-exist/postie.toml"))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "does-not-exist/postie.toml: cannot read: No such file or directory"
    );
}

#[test]
fn validate_on_its_own_has_no_file_name() {
    let mut c = Config::default();
    c.smtp.max_recipients = 0;
    assert_eq!(
        c.validate().unwrap_err().to_string(),
        "configuration: smtp.max_recipients: must be at least 1"
    );
    c.smtp.max_recipients = 1;
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn with_data_dir_replaces_only_the_data_dir() {
    let c = Config::default().with_data_dir(PathBuf::from("/tmp/elsewhere"));
    assert_eq!(c.data_dir, PathBuf::from("/tmp/elsewhere"));
    assert_eq!(
        c,
        Config {
            data_dir: PathBuf::from("/tmp/elsewhere"),
            ..Config::default()
        }
    );
}

#[test]
fn plaintext_auth_policy() {
    let local4: IpAddr = "127.0.0.7".parse().unwrap();
    let local6: IpAddr = "::1".parse().unwrap();
    let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
    let remote: IpAddr = "192.0.2.1".parse().unwrap();
    for ip in [local4, local6, mapped] {
        assert!(PlaintextAuth::Loopback.permits(ip), "{ip}");
        assert!(!PlaintextAuth::Never.permits(ip), "{ip}");
    }
    assert!(!PlaintextAuth::Loopback.permits(remote));
    assert!(PlaintextAuth::Always.permits(remote));
}

#[test]
fn the_defaults_survive_a_round_trip() {
    let c = Config::default();
    let text = toml::to_string(&c).unwrap();
    assert_eq!(parse(&text, "round-trip.toml").unwrap(), c);
}

#[test]
fn every_key_is_known_serialized_and_documented() {
    // ALL_KEYS is exactly what Config has (with the optional keys set, since None
    // is left out).
    let c = Config {
        tls: Tls {
            cert: Some("c".into()),
            key: Some("k".into()),
        },
        pop3: Pop3 {
            expire_days: Some(30),
            ..Pop3::default()
        },
        smtp: Smtp {
            postmaster: Some("a@example.org".into()),
            ..Smtp::default()
        },
        relay: Relay {
            smarthost: Some("smtp.example.net:587".into()),
            smarthost_user: Some("u".into()),
            smarthost_password: Some("p".into()),
            smarthost_ca: Some("ca.pem".into()),
            tls_ca_file: Some("ca.pem".into()),
            ..Relay::default()
        },
        store: crate::Store {
            url: Some("postgres://u@h/d".into()),
            password_file: Some("pw".into()),
            ca_file: Some("ca.pem".into()),
            ..crate::Store::default()
        },
        autoconfig: crate::Autoconfig {
            imaps_port: Some(993),
            pop3s_port: Some(995),
            submissions_port: Some(465),
        },
        acme: Some(crate::Acme {
            contact: Some("mailto:a@example.org".into()),
            ca_file: Some("ca.pem".into()),
            ..crate::Acme::default()
        }),
        ..Config::default()
    };
    let table: toml::Table = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
    let mut serialized = BTreeSet::new();
    leaf_keys(&table, "", &mut serialized);
    let listed: BTreeSet<String> = ALL_KEYS.iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(serialized, listed);

    // Each has a row in the reference.
    for key in ALL_KEYS {
        assert!(
            DOC.contains(&format!("| `{key}` |")),
            "docs/config.md has no row for {key}"
        );
    }
}

#[test]
fn the_complete_example_in_the_docs_is_the_defaults() {
    let blocks = toml_blocks(DOC);
    let example = blocks.first().expect("docs/config.md has a ```toml block");
    let c = parse(example, "docs/config.md").unwrap();
    assert_eq!(
        c,
        Config {
            hostname: "mail.example.org".to_owned(),
            ..Config::default()
        }
    );

    // It shows every key: all set, except those whose default is "not set"
    // (UNSET_KEYS), which are commented out.
    let table: toml::Table = toml::from_str(example).unwrap();
    let mut shown = BTreeSet::new();
    leaf_keys(&table, "", &mut shown);
    let expected: BTreeSet<String> = ALL_KEYS
        .iter()
        .filter(|k| !UNSET_KEYS.contains(k))
        .map(|k| (*k).to_owned())
        .collect();
    assert_eq!(shown, expected);
    assert!(example.contains("# cert = ") && example.contains("# key = "));
    assert!(example.contains("# expire_days = "));
    for key in UNSET_KEYS {
        let leaf = key.rsplit('.').next().unwrap_or(key);
        assert!(
            example.contains(&format!("# {leaf} = ")),
            "{key} commented out"
        );
    }
}

#[test]
fn the_other_examples_in_the_docs_are_valid() {
    let blocks = toml_blocks(DOC);
    assert!(blocks.len() >= 2, "the production example is missing");
    for block in &blocks[1..] {
        let tree = crate::error::parse_tree(block, "docs/config.md").unwrap();
        let c = crate::error::deserialize(&tree, block, "docs/config.md").unwrap();
        // Their certificate paths do not exist here; everything else must be valid.
        let c = Config {
            tls: Tls::default(),
            ..c
        };
        c.validate().unwrap();
    }
}

#[test]
fn outbound_sections() {
    let c = parse(
        r#"
[dns]
nameservers = ["127.0.0.53:53"]
[relay]
smarthost = "[2001:db8::1]:587"
smarthost_user = "u"
smarthost_password = "p"
domains = ["example.net"]
[queue]
retry_schedule_secs = [1, 2]
delay_warning_secs = 0
"#,
        "t.toml",
    )
    .unwrap();
    assert_eq!(c.dns.nameservers, addrs(&["127.0.0.53:53"]));
    assert_eq!(
        c.relay.smarthost_parts(),
        Some(("2001:db8::1".to_owned(), 587))
    );
    assert_eq!(c.relay.smarthost_tls, SmarthostTls::Starttls);
    assert_eq!(c.queue.retry_schedule_secs, [1, 2]);
    for (text, key) in [
        ("[relay]\nsmarthost = \"nohost\"", "relay.smarthost"),
        ("[relay]\nsmarthost = \"h:0\"", "relay.smarthost"),
        (
            "[relay]\nsmarthost = \"h:25\"\nsmarthost_user = \"u\"",
            "relay.smarthost_user",
        ),
        ("[relay]\ndomains = [\"a.example\"]", "relay.domains"),
        (
            "[relay]\nsmarthost_ca = \"/nonexistent/ca.pem\"",
            "relay.smarthost_ca",
        ),
        (
            "[relay]\nmax_connections_per_host = 0",
            "relay.max_connections_per_host",
        ),
        ("[relay]\nsmarthost_tls = \"maybe\"", "relay.smarthost_tls"),
        (
            "[tls_rpt]\nrua = [\"ftp://reports.example\"]",
            "tls_rpt.rua",
        ),
        (
            "[relay]\ntls_ca_file = \"/nonexistent/ca.pem\"",
            "relay.tls_ca_file",
        ),
        (
            "[queue]\nretry_schedule_secs = []",
            "queue.retry_schedule_secs",
        ),
        ("[queue]\nlease_secs = 2", "queue.lease_secs"),
        ("[store]\nurl = \"mysql://h/d\"", "store.url"),
        ("[store]\npassword_file = \"pw\"", "store.url"),
        (
            "[store]\nurl = \"postgres://h/d\"\npool_size = 0",
            "store.pool_size",
        ),
        (
            "[queue]\nretry_schedule_secs = [60, 0]",
            "queue.retry_schedule_secs",
        ),
        ("[queue]\nmax_age_secs = 0", "queue.max_age_secs"),
        ("[dns]\nnameservers = [\"localhost\"]", "dns.nameservers"),
    ] {
        let err = parse(text, "t.toml").unwrap_err().to_string();
        assert!(err.contains(key), "{text:?}: {err}");
    }
}

#[test]
fn autoconfig_ports_are_optional_and_never_zero() {
    let c = parse("[autoconfig]\nimaps_port = 993\n", "f.toml").unwrap();
    assert_eq!(c.autoconfig.imaps_port, Some(993));
    assert_eq!(c.autoconfig.pop3s_port, None);
    let e = parse("[autoconfig]\nsubmissions_port = 0\n", "f.toml").unwrap_err();
    assert!(e.to_string().contains("autoconfig.submissions_port"), "{e}");
    let e = parse(
        "[listen]\nhttp = [\"127.0.0.1:25\"]\nsmtp = [\"127.0.0.1:25\"]\n",
        "f.toml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("listen.http"), "{e}");
}

#[test]
fn capture_is_off_by_default_and_its_cap_is_at_least_one() {
    assert_eq!(Config::default().capture, crate::Capture::default());
    assert!(!Config::default().capture.enabled);
    assert_eq!(Config::default().capture.max_messages, 10_000);
    let c = parse("[capture]\nenabled = true\nmax_messages = 3\n", "f.toml").unwrap();
    assert!(c.capture.enabled);
    assert_eq!(c.capture.max_messages, 3);
    let e = parse("[capture]\nmax_messages = 0\n", "f.toml").unwrap_err();
    assert!(e.to_string().contains("capture.max_messages"), "{e}");
    assert!(parse("[capture]\nmax = 3\n", "f.toml").is_err());
}

#[test]
fn acme_takes_its_defaults_and_refuses_tls_cert_beside_it() {
    let c = parse("[acme]\ncontact = \"mailto:a@example.org\"\n", "p.toml").unwrap();
    let acme = c.acme.expect("[acme] present");
    assert_eq!(acme.directory, crate::LETS_ENCRYPT);
    assert_eq!(acme.challenge, crate::AcmeChallenge::TlsAlpn01);
    assert_eq!(acme.renew_before_days, 30);
    assert!(parse("", "p.toml").unwrap().acme.is_none());
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("c.pem");
    std::fs::write(&cert, "x").unwrap();
    let text = format!(
        "[tls]\ncert = {cert:?}\nkey = {cert:?}\n[acme]\n",
        cert = cert.display().to_string()
    );
    let e = parse(&text, "p.toml").unwrap_err().to_string();
    assert!(e.contains("tls.cert") && e.contains("[acme]"), "{e}");
    let e = parse("[acme]\nchallenge = \"dns-01\"\n", "p.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("acme.challenge"), "{e}");
    let e = parse("[acme]\ncontact = \"a@example.org\"\n", "p.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("mailto:"), "{e}");
    let e = parse(
        "[listen]\nhttp = []\n[acme]\nchallenge = \"http-01\"\n",
        "p.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("listen.http"), "{e}");
}
