//! The additions made for `postie send`: the transcript hook
//! ([`Connection::connect_traced`]) and [`TlsMode::WhenOffered`], against the scripted
//! server of `client_support`.

mod client_support;

use std::sync::{Arc, Mutex};

use client_support::{FakeServer, Options, PATIENCE};
use message::{Address, RecipientDsn};
use relay::client::{ClientConfig, Connection, Direction, Timeouts, TlsMode, Transaction};

fn config(tls: TlsMode) -> ClientConfig {
    ClientConfig {
        tls,
        timeouts: Timeouts::all(PATIENCE),
        ..ClientConfig::new("client.test")
    }
}

fn tls_options(extensions: &[&str]) -> Options {
    Options {
        tls: Some(client_support::self_signed_server("mx.test")),
        ..Options::with_extensions(extensions)
    }
}

type Lines = Arc<Mutex<Vec<(Direction, String)>>>;

fn recorder() -> (Lines, relay::client::Transcript) {
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    let hook = Arc::new(move |d: Direction, line: &str| {
        sink.lock().unwrap().push((d, line.to_string()));
    });
    (lines, hook)
}

fn sent(lines: &Lines) -> Vec<String> {
    lines
        .lock()
        .unwrap()
        .iter()
        .filter(|(d, _)| *d == Direction::ClientToServer)
        .map(|(_, l)| l.clone())
        .collect()
}

#[tokio::test]
async fn transcript_sees_both_directions_and_masks_auth() {
    let options = Options {
        credentials: Some(("user@example.org".into(), "s3cret".into())),
        tls_extensions: Some(vec!["AUTH PLAIN LOGIN".into(), "PIPELINING".into()]),
        ..tls_options(&["STARTTLS"])
    };
    let server = FakeServer::start(options).await;
    let config = ClientConfig {
        credentials: Some(("user@example.org".into(), "s3cret".into())),
        ..config(TlsMode::Required)
    };
    let (lines, hook) = recorder();
    let mut conn = Connection::connect_traced(server.addr, "mx.test", &config, hook)
        .await
        .expect("connect");
    let sender = Address::parse("a@example.org").unwrap();
    let rcpt = Address::parse("b@example.net").unwrap();
    let body = b"Subject: hi\r\n\r\n.dot line\r\nend\r\n";
    let tx = Transaction {
        sender: Some(&sender),
        recipients: vec![(&rcpt, RecipientDsn::default())],
        body,
        ..Transaction::default()
    };
    assert!(conn.send(&tx).await.unwrap()[0].is_accepted());
    conn.quit().await;
    let session = &server.wait_closed(1).await[0];

    let ours = sent(&lines);
    // Every command the server received appears, in order, in the transcript (the AUTH
    // line masked); the body lines follow DATA, dot-stuffed as on the wire.
    let commands: Vec<String> = ours
        .iter()
        .filter(|l| session.lines().contains(l) || l.starts_with("AUTH"))
        .cloned()
        .collect();
    assert_eq!(
        commands.len(),
        session.lines().len(),
        "{ours:?} vs {session:?}"
    );
    assert!(
        ours.contains(&"AUTH PLAIN <credentials>".to_string()),
        "{ours:?}"
    );
    let all = format!("{:?}", lines.lock().unwrap());
    assert!(!all.contains("s3cret"), "{all}");
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode("\0user@example.org\0s3cret");
    assert!(!all.contains(&token), "{all}");
    let data = ours.iter().position(|l| l == "DATA").expect("DATA");
    assert_eq!(
        &ours[data + 1..data + 5],
        ["Subject: hi", "", "..dot line", "end"]
    );
    assert_eq!(ours.last().map(String::as_str), Some("QUIT"));

    let received: Vec<(Direction, String)> = lines.lock().unwrap().clone();
    assert!(
        received
            .iter()
            .any(|(d, l)| *d == Direction::ServerToClient && l.starts_with("220 ")),
        "{received:?}"
    );
    assert!(
        received
            .iter()
            .any(|(d, l)| *d == Direction::ServerToClient && l.starts_with("235")),
        "{received:?}"
    );
    assert!(
        received
            .iter()
            .any(|(d, l)| *d == Direction::Note && l.starts_with("TLS established")),
        "{received:?}"
    );
}

#[tokio::test]
async fn auth_login_answers_are_masked() {
    let options = Options {
        credentials: Some(("user@example.org".into(), "s3cret".into())),
        tls_extensions: Some(vec!["AUTH LOGIN".into()]),
        ..tls_options(&["STARTTLS"])
    };
    let server = FakeServer::start(options).await;
    let config = ClientConfig {
        credentials: Some(("user@example.org".into(), "s3cret".into())),
        ..config(TlsMode::Required)
    };
    let (lines, hook) = recorder();
    let conn = Connection::connect_traced(server.addr, "mx.test", &config, hook)
        .await
        .expect("connect");
    conn.quit().await;
    let ours = sent(&lines);
    assert!(ours.contains(&"AUTH LOGIN".to_string()), "{ours:?}");
    assert_eq!(
        ours.iter().filter(|l| *l == "<credentials>").count(),
        2,
        "{ours:?}"
    );
}

#[tokio::test]
async fn when_offered_uses_starttls_if_offered() {
    let server = FakeServer::start(tls_options(&["STARTTLS"])).await;
    let conn = Connection::connect(server.addr, "mx.test", &config(TlsMode::WhenOffered))
        .await
        .expect("connect");
    assert!(conn.is_tls());
    conn.quit().await;
}

#[tokio::test]
async fn when_offered_goes_on_in_clear_text_without_starttls() {
    let server = FakeServer::start(Options::with_extensions(&["PIPELINING"])).await;
    let conn = Connection::connect(server.addr, "mx.test", &config(TlsMode::WhenOffered))
        .await
        .expect("connect");
    assert!(!conn.is_tls());
    conn.quit().await;
}

#[tokio::test]
async fn when_offered_does_not_retry_in_clear_text_after_a_failed_handshake() {
    // A self-signed certificate that the verified configuration does not trust.
    let server = FakeServer::start(tls_options(&["STARTTLS"])).await;
    let config = ClientConfig {
        tls_config: relay::tls::verified_config(None).unwrap(),
        ..config(TlsMode::WhenOffered)
    };
    let err = Connection::connect(server.addr, "mx.test", &config)
        .await
        .expect_err("the certificate is not trusted");
    assert!(err.message.starts_with("4.7.5"), "{err}");
    assert_eq!(server.wait_closed(1).await.len(), 1, "no second session");
}

#[tokio::test]
async fn when_offered_fails_when_starttls_is_refused() {
    let options = tls_options(&["STARTTLS"])
        .respond(|_, line| (line == "STARTTLS").then(|| "454 4.7.0 TLS not available".to_string()));
    let server = FakeServer::start(options).await;
    let err = Connection::connect(server.addr, "mx.test", &config(TlsMode::WhenOffered))
        .await
        .expect_err("refused STARTTLS");
    assert!(err.message.contains("STARTTLS refused"), "{err}");
}

#[tokio::test]
async fn when_offered_sends_no_credentials_in_clear_text() {
    let options = Options {
        credentials: Some(("user@example.org".into(), "s3cret".into())),
        ..Options::with_extensions(&["AUTH PLAIN"])
    };
    let server = FakeServer::start(options).await;
    let config = ClientConfig {
        credentials: Some(("user@example.org".into(), "s3cret".into())),
        ..config(TlsMode::WhenOffered)
    };
    let err = Connection::connect(server.addr, "mx.test", &config)
        .await
        .expect_err("no TLS, no AUTH");
    assert!(err.message.starts_with("4.7.4"), "{err}");
    let session = &server.wait_closed(1).await[0];
    assert!(session.with_verb("AUTH").is_empty(), "{session:?}");
}
