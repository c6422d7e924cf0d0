//! Tests of the metrics: a server on loopback over the in-memory store, counted by a
//! recorder local to the test's thread (the default current-thread runtime runs every
//! connection task there too), so other tests running meanwhile do not change the
//! numbers; and the installed recorder through [`render`] with the SQLite store,
//! whose writer thread only the global recorder hears.

use super::*;
use base64::Engine;
use metrics_exporter_prometheus::PrometheusRecorder;
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

const PASSWORD: &str = "correct horse";

/// A line of `text` equal to `line`.
fn has(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

/// A recorder with Postie's settings, to be installed for this thread only.
fn local_recorder() -> (PrometheusRecorder, PrometheusHandle) {
    let recorder = builder().build_recorder();
    let handle = recorder.handle();
    (recorder, handle)
}

/// A plain SMTP client for the test.
struct Client {
    read: BufReader<OwnedReadHalf>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let (read, write) = TcpStream::connect(addr)
            .await
            .expect("connect")
            .into_split();
        let mut client = Client {
            read: BufReader::new(read),
            write,
        };
        assert_eq!(client.reply().await, 220);
        client
    }

    /// The code of the next (possibly multi-line) reply.
    async fn reply(&mut self) -> u16 {
        loop {
            let mut line = String::new();
            let n = self.read.read_line(&mut line).await.expect("read");
            assert!(n > 0, "connection closed");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line[..3].parse().expect("reply code");
            }
        }
    }

    /// Sends `line` and returns the reply's code.
    async fn cmd(&mut self, line: &str) -> u16 {
        self.write
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        self.reply().await
    }
}

/// A server with an `smtp` and a `submission` listener on loopback, over a memory
/// store with alice@example.org; no DNS (a loopback port nobody answers), no checks.
async fn server(
    dir: &std::path::Path,
    stop: watch::Receiver<bool>,
) -> (crate::ListenerSet, Arc<dyn Store>) {
    let mut config = config::Config::default().with_data_dir(dir.to_owned());
    let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
    config.listen.smtp = vec![any];
    config.listen.submission = vec![any];
    config.listen.submissions = vec![];
    config.listen.pop3 = vec![];
    config.listen.pop3s = vec![];
    config.listen.imap = vec![];
    config.listen.imaps = vec![];
    config.dns.nameservers = vec!["127.0.0.1:9".parse().expect("address")];
    config.auth.allow_plaintext = config::PlaintextAuth::Always;
    config.smtp.spf = false;
    config.smtp.dkim_verify = false;
    config.smtp.dmarc = config::DmarcPolicy::Off;
    let store: Arc<dyn Store> = Arc::new(store::memory::MemoryStore::new());
    let domain = message::Domain::parse("example.org").expect("domain");
    store.domain_add(&domain).await.expect("domain");
    let hash = store::password::hash(PASSWORD).expect("hash");
    let alice = message::Address::parse("alice@example.org").expect("address");
    store.account_add(&alice, &hash).await.expect("account");

    let certificates = Arc::new(crate::tls::Certificates::new(
        crate::tls::Loaded::from_config(&config).expect("certificate"),
    ));
    let tls = crate::tls::Certificates::server_config(certificates).expect("tls");
    let resolver = Arc::new(delivery::route::Resolver::new(
        store.clone(),
        &config.hostname,
        None,
    ));
    let tuned = crate::reload::Tuned::new(&config, resolver);
    let listeners = crate::ListenerSet::bind(
        &config,
        store.clone(),
        tuned,
        queue::QueueHandle::default(),
        tls,
        None,
        stop,
    )
    .await
    .expect("listeners");
    (listeners, store)
}

/// The address the server bound for `listener`.
fn bound(listeners: &crate::ListenerSet, listener: &str) -> SocketAddr {
    listeners
        .bound
        .iter()
        .find(|(name, _)| *name == listener)
        .map(|(_, addr)| *addr)
        .expect("listener bound")
}

/// Waits (a bounded while) until `handle` renders `line`.
async fn eventually(handle: &PrometheusHandle, line: &str) {
    for _ in 0..200 {
        if has(&handle.render(), line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{line} never rendered:\n{}", handle.render());
}

#[tokio::test]
async fn a_message_a_failed_login_and_connections_are_counted() {
    let (recorder, handle) = local_recorder();
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_stop_tx, stop) = watch::channel(false);
    let (listeners, store) = server(dir.path(), stop).await;

    // One message to a local user over the smtp listener.
    let mut mx = Client::connect(bound(&listeners, "smtp")).await;
    eventually(&handle, r#"postie_connections{protocol="smtp"} 1"#).await;
    assert_eq!(mx.cmd("EHLO client.example").await, 250);
    assert_eq!(mx.cmd("MAIL FROM:<bob@remote.example>").await, 250);
    assert_eq!(mx.cmd("RCPT TO:<alice@example.org>").await, 250);
    assert_eq!(mx.cmd("DATA").await, 354);
    let message = "From: bob@remote.example\r\nTo: alice@example.org\r\nSubject: hi\r\n\
                   Date: Thu, 1 Jan 2026 00:00:00 +0000\r\nMessage-ID: <1@remote.example>\r\n\
                   \r\nhello\r\n.";
    assert_eq!(mx.cmd(message).await, 250);

    // One failed login on the submission listener.
    let mut submission = Client::connect(bound(&listeners, "submission")).await;
    assert_eq!(submission.cmd("EHLO client.example").await, 250);
    let wrong = base64::engine::general_purpose::STANDARD.encode("\0alice@example.org\0wrong");
    assert_eq!(submission.cmd(&format!("AUTH PLAIN {wrong}")).await, 535);

    let text = handle.render();
    for line in [
        r#"postie_messages_received_total{listener="smtp"} 1"#,
        r#"postie_auth_failures_total{protocol="smtp"} 1"#,
        r#"postie_connections{protocol="smtp"} 1"#,
        r#"postie_connections{protocol="submission"} 1"#,
        // Filed into alice's INBOX at acceptance.
        r#"postie_deliveries_total{result="delivered",domain="example.org"} 1"#,
    ] {
        assert!(has(&text, line), "{line} missing in:\n{text}");
    }
    assert!(!text.contains(r#"listener="submission"} 1"#), "{text}");

    // Connections are counted out when they close.
    assert_eq!(mx.cmd("QUIT").await, 221);
    assert_eq!(submission.cmd("QUIT").await, 221);
    drop((mx, submission));
    eventually(&handle, r#"postie_connections{protocol="smtp"} 0"#).await;
    eventually(&handle, r#"postie_connections{protocol="submission"} 0"#).await;

    // The queue gauge: the message was filed whole, so nothing pends; one entry for
    // a remote recipient does.
    sample_queue(store.as_ref()).await;
    assert!(has(&handle.render(), "postie_queue_messages 0"));
    let envelope = message::Envelope {
        sender: None,
        recipients: vec![message::Address::parse("carol@remote.example").expect("address")],
        body_type: message::BodyType::SevenBit,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    };
    store
        .enqueue(
            message::QueueId::generate(1),
            &envelope,
            b"Subject: x\r\n\r\nx\r\n",
        )
        .await
        .expect("enqueue");
    sample_queue(store.as_ref()).await;
    assert!(has(&handle.render(), "postie_queue_messages 1"));
}

#[test]
fn commit_times_have_buckets() {
    let (recorder, handle) = local_recorder();
    ::metrics::with_local_recorder(&recorder, || {
        ::metrics::histogram!(STORE_COMMIT_SECONDS, "backend" => "sqlite").record(0.003);
    });
    let text = handle.render();
    for line in [
        r#"postie_store_commit_seconds_bucket{backend="sqlite",le="0.0025"} 0"#,
        r#"postie_store_commit_seconds_bucket{backend="sqlite",le="0.005"} 1"#,
        r#"postie_store_commit_seconds_bucket{backend="sqlite",le="+Inf"} 1"#,
        r#"postie_store_commit_seconds_count{backend="sqlite"} 1"#,
    ] {
        assert!(has(&text, line), "{line} missing in:\n{text}");
    }
}

/// Through the installed recorder, as `GET /metrics` sees it: a write to the SQLite
/// store (on its writer thread) shows in the commit histogram, and the series with
/// fixed labels are there from the start.
#[tokio::test]
async fn render_shows_sqlite_commits_and_every_fixed_series() {
    install();
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store::sqlite::SqliteStore::open(dir.path()).expect("store");
    let domain = message::Domain::parse("example.org").expect("domain");
    store.domain_add(&domain).await.expect("a commit");
    let text = render();
    let count = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"postie_store_commit_seconds_bucket{backend="sqlite",le="+Inf"} "#)
        })
        .unwrap_or_else(|| panic!("no commit histogram in:\n{text}"));
    assert!(count.parse::<u64>().expect("count") >= 1, "{text}");
    for series in [
        "# TYPE postie_store_commit_seconds histogram",
        "# TYPE postie_connections gauge",
        r#"postie_connections{protocol="imaps"}"#,
        r#"postie_auth_failures_total{protocol="pop3"}"#,
        r#"postie_auth_lockouts_total{protocol="imap"}"#,
        r#"postie_messages_received_total{listener="submissions"}"#,
    ] {
        assert!(text.contains(series), "{series} missing in:\n{text}");
    }
}
