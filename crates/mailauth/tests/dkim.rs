//! DKIM signing and verification against a DNS server on loopback: our signatures
//! verify with mail-auth's verifier, the RFC 8463 example (Ed25519 and RSA) verifies,
//! and changed or expired mail does not.

use mailauth::keys::{Algorithm, KeyStore};
use mailauth::records::quote_txt;
use mailauth::{Action, Checks, DmarcMode, Origin, Verifier};
use relay::dns::test_server::{RecordType, TestDns};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/dkim");

fn dkim_only() -> Checks {
    Checks {
        spf: false,
        dkim: true,
        dmarc: DmarcMode::Off,
    }
}

fn origin() -> Origin<'static> {
    Origin {
        ip: "192.0.2.1".parse().unwrap(),
        helo: "client.example.test",
        mail_from: Some("alice@example.test"),
    }
}

async fn dns_with(records: &[(String, String)]) -> TestDns {
    let mut builder = TestDns::builder();
    for (name, value) in records {
        builder = builder.record(name, RecordType::TXT, &quote_txt(value));
    }
    builder.start().await
}

/// A test vector: its DNS records (name, TXT value) and the message.
type Vector = (Vec<(String, String)>, Vec<u8>);

/// A `shared/testdata/dkim` file: its DNS records and the message, in CRLF. `None`,
/// after one loud line on stderr, when the checkout has no `shared/` folder beside it
/// (a plain clone): the vectors are not the project's to ship. CI has them, so there
/// these tests always run; `scripts/test` also says up front that they skip.
fn vector(name: &str) -> Option<Vector> {
    let path = format!("{TESTDATA}/{name}");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "SKIPPED: DKIM test vector {path} not found (no ../shared/testdata beside this checkout)"
            );
            return None;
        }
        Err(e) => panic!("{path}: {e}"),
    };
    let (records, message) = text.split_once("\n\n").unwrap();
    let records = records
        .lines()
        .map(|l| {
            let (n, v) = l.split_once(' ').unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    let message = message.replace("\r\n", "\n").replace('\n', "\r\n");
    Some((records, message.into_bytes()))
}

const MESSAGE: &[u8] = b"From: Alice <alice@example.test>\r\nTo: bob@example.net\r\n\
Subject: Hello\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n\
\r\nHi Bob,\r\n\r\nsee you.\r\n";

#[tokio::test]
async fn our_signatures_verify_with_mail_auth_and_changes_break_them() {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyStore::new(dir.path());
    let now = 1_793_750_400;
    let ed = keys
        .generate("example.test", Algorithm::Ed25519, now)
        .unwrap();
    let rsa = keys.generate("example.test", Algorithm::Rsa, now).unwrap();
    let dns = dns_with(&[
        (ed.record_name(), ed.record.clone()),
        (rsa.record_name(), rsa.record.clone()),
    ])
    .await;
    let signing = keys.signing_keys("example.test").unwrap();
    let headers = mailauth::sign::sign(&signing, MESSAGE).unwrap();
    assert_eq!(headers.matches("DKIM-Signature:").count(), 2);
    assert!(headers.contains("a=ed25519-sha256"));
    assert!(headers.contains("a=rsa-sha256"));
    assert!(headers.contains("c=relaxed/relaxed"));
    // From is oversigned: listed once more than it occurs.
    let h = headers.split("h=").nth(1).unwrap();
    let h = h
        .split(';')
        .next()
        .unwrap()
        .replace([' ', '\r', '\n', '\t'], "");
    assert_eq!(h.to_ascii_lowercase().matches("from").count(), 2, "{h}");

    let verifier = Verifier::new(
        mailauth::resolver::authenticator(&[dns.addr]).unwrap(),
        "mx.receiver.test",
        dkim_only(),
    );
    let signed = [headers.as_bytes(), MESSAGE].concat();
    let verdict = verifier.check(&origin(), &signed).await;
    assert_eq!(
        verdict.header.matches("dkim=pass").count(),
        2,
        "{}",
        verdict.header
    );
    assert!(
        verdict
            .header
            .starts_with("Authentication-Results: mx.receiver.test;")
    );
    assert_eq!(verdict.action, Action::Accept);

    // Relaxed canonicalization survives re-folding and trailing whitespace…
    let refolded = String::from_utf8(signed.clone())
        .unwrap()
        .replace("Subject: Hello", "Subject:   Hello \r\n ")
        .replace("see you.", "see you.   ");
    let verdict = verifier.check(&origin(), refolded.as_bytes()).await;
    assert_eq!(
        verdict.header.matches("dkim=pass").count(),
        2,
        "{}",
        verdict.header
    );
    // …but not a changed body, nor an added From.
    let changed = String::from_utf8(signed.clone())
        .unwrap()
        .replace("see you", "send money");
    let verdict = verifier.check(&origin(), changed.as_bytes()).await;
    assert!(!verdict.header.contains("dkim=pass"), "{}", verdict.header);
    assert_eq!(
        verdict.header.matches("body hash did not verify").count(),
        2
    );
    let verdict = verifier
        .check(
            &origin(),
            &[headers.as_bytes(), b"From: x@evil.test\r\n", MESSAGE].concat(),
        )
        .await;
    assert!(!verdict.header.contains("dkim=pass"), "{}", verdict.header);
}

#[tokio::test]
async fn rfc_8463_example_verifies_with_both_algorithms() {
    let Some((records, message)) = vector("dkim-001.txt") else {
        return;
    };
    let dns = dns_with(&records).await;
    let verifier = Verifier::new(
        mailauth::resolver::authenticator(&[dns.addr]).unwrap(),
        "mx.receiver.test",
        dkim_only(),
    );
    let verdict = verifier.check(&origin(), &message).await;
    assert_eq!(
        verdict.header.matches("dkim=pass").count(),
        2,
        "{}",
        verdict.header
    );
    assert!(verdict.header.contains("header.s=brisbane"));
    assert!(verdict.header.contains("header.s=test"));
}

#[tokio::test]
async fn every_mail_auth_vector_verifies_except_the_expired_one() {
    for n in 2..=6 {
        let name = format!("dkim-00{n}.txt");
        let Some((records, message)) = vector(&name) else {
            return;
        };
        let dns = dns_with(&records).await;
        let verifier = Verifier::new(
            mailauth::resolver::authenticator(&[dns.addr]).unwrap(),
            "mx.receiver.test",
            dkim_only(),
        );
        let verdict = verifier.check(&origin(), &message).await;
        if n == 5 {
            assert!(
                !verdict.header.contains("dkim=pass"),
                "{name}: {}",
                verdict.header
            );
            assert!(
                verdict.header.contains("dkim="),
                "{name}: {}",
                verdict.header
            );
        } else {
            assert!(
                verdict.header.contains("dkim=pass"),
                "{name}: {}",
                verdict.header
            );
        }
    }
}

#[tokio::test]
async fn an_unsigned_message_gets_dkim_none() {
    let dns = TestDns::start([]).await;
    let verifier = Verifier::new(
        mailauth::resolver::authenticator(&[dns.addr]).unwrap(),
        "mx.receiver.test",
        dkim_only(),
    );
    let verdict = verifier.check(&origin(), MESSAGE).await;
    assert_eq!(
        verdict.header,
        "Authentication-Results: mx.receiver.test;\r\n\tdkim=none\r\n"
    );
    assert_eq!(verdict.summary, "dkim=none");
}
