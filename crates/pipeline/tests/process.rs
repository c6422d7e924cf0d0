//! The whole pipeline over a loopback DNS: submitted mail comes out signed (and the
//! signature verifies), inbound mail comes out with our results on top, forged results
//! are gone, and DMARC failures are refused or quarantined.

use mailauth::keys::{Algorithm, KeyStore};
use mailauth::records::quote_txt;
use message::{Address, Envelope};
use pipeline::{Arrival, Checks, Disposition, DmarcMode, MailAuth, Trust, process};
use relay::dns::test_server::{RecordType, TestDns};

const HOST: &str = "mx.receiver.test";

fn arrival() -> Arrival<'static> {
    Arrival {
        hostname: HOST,
        helo: "client.sender.test",
        peer_ip: "192.0.2.1",
        protocol: "ESMTP",
        submission: false,
        queue_id: "00000000000000aa",
        single_recipient: None,
        unix_seconds: 1_793_750_400,
    }
}

fn envelope(sender: &str) -> Envelope {
    Envelope {
        sender: Some(Address::parse(sender).unwrap()),
        recipients: vec![Address::parse("bob@receiver.test").unwrap()],
        body_type: Default::default(),
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    }
}

const CHECKS: Checks = Checks {
    spf: true,
    dkim: true,
    dmarc: DmarcMode::Enforce,
};

async fn dns(extra: Vec<(String, String)>) -> TestDns {
    let mut b = TestDns::builder();
    let base = [
        ("sender.test", "v=spf1 ip4:192.0.2.1 -all"),
        ("_dmarc.sender.test", "v=DMARC1; p=reject"),
        ("client.sender.test", "v=spf1 ip4:192.0.2.1 -all"),
        ("careful.test", "v=spf1 ip4:192.0.2.1 -all"),
        ("_dmarc.careful.test", "v=DMARC1; p=quarantine"),
    ];
    for (n, v) in base
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .chain(extra)
    {
        b = b.record(&n, RecordType::TXT, &quote_txt(&v));
    }
    b.start().await
}

#[tokio::test]
async fn submitted_mail_is_signed_after_every_other_header_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyStore::new(dir.path());
    let ed = keys
        .generate("sender.test", Algorithm::Ed25519, 1_793_750_400)
        .unwrap();
    let rsa = keys
        .generate("sender.test", Algorithm::Rsa, 1_793_750_400)
        .unwrap();
    let dns = dns(vec![
        (ed.record_name(), ed.record.clone()),
        (rsa.record_name(), rsa.record.clone()),
    ])
    .await;
    let auth = MailAuth::signing_only(HOST, dir.path());
    let body = b"From: a@sender.test\r\nTo: bob@receiver.test\r\nSubject: hi\r\n\
Authentication-Results: mx.receiver.test; dkim=pass\r\n\r\nhello\r\n";
    let mut submitted = arrival();
    submitted.submission = true;
    let out = process(
        &auth,
        &submitted,
        Trust::Submitted,
        &envelope("a@sender.test"),
        body,
    )
    .await;
    assert_eq!(out.disposition, Disposition::Deliver);
    let text = String::from_utf8(out.message.clone()).unwrap();
    assert!(text.starts_with("DKIM-Signature:"), "{text}");
    assert_eq!(text.matches("DKIM-Signature:").count(), 2);
    // Date and Message-ID were added before signing, so they are signed.
    let sig_end = text.find("Received:").unwrap();
    assert!(text[..sig_end].to_ascii_lowercase().contains("message-id"));
    // The forged result claiming our name is gone.
    assert!(!text.contains("dkim=pass\r\n\r\n"), "{text}");
    assert!(!text.contains("Authentication-Results"));

    // Another server checks it: DKIM passes, DMARC passes through DKIM alone (the
    // connecting address is not in SPF).
    let receiver = MailAuth::new("mx.other.test", dir.path(), &[dns.addr], CHECKS).unwrap();
    let inbound = process(
        &receiver,
        &arrival(),
        Trust::Inbound {
            ip: "198.51.100.7".parse().unwrap(),
        },
        &envelope("a@sender.test"),
        &out.message,
    )
    .await;
    let header = String::from_utf8_lossy(&inbound.message);
    assert_eq!(inbound.disposition, Disposition::Deliver, "{header}");
    assert!(
        header.starts_with("Authentication-Results: mx.other.test;"),
        "{header}"
    );
    assert_eq!(header.matches("dkim=pass").count(), 2, "{header}");
    assert!(header.contains("dmarc=pass"), "{header}");
}

#[tokio::test]
async fn inbound_results_go_on_top_and_forged_ones_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let dns = dns(Vec::new()).await;
    let auth = MailAuth::new(HOST, dir.path(), &[dns.addr], CHECKS).unwrap();
    let body = b"Authentication-Results: MX.RECEIVER.TEST; dmarc=pass\r\n\
From: a@sender.test\r\nSubject: hi\r\n\r\nhello\r\n";
    let out = process(
        &auth,
        &arrival(),
        Trust::Inbound {
            ip: "192.0.2.1".parse().unwrap(),
        },
        &envelope("a@sender.test"),
        body,
    )
    .await;
    let text = String::from_utf8(out.message).unwrap();
    assert_eq!(out.checks.as_deref(), Some("spf=pass dkim=none dmarc=pass"));
    assert!(
        text.starts_with("Authentication-Results: mx.receiver.test;"),
        "{text}"
    );
    assert_eq!(text.matches("Authentication-Results").count(), 1, "{text}");
    let received = text.find("\r\nReceived: from client.sender.test").unwrap();
    assert!(text[received..].ends_with("\r\nFrom: a@sender.test\r\nSubject: hi\r\n\r\nhello\r\n"));
    // Inbound mail is never signed, even for a domain with keys.
    assert!(!text.contains("DKIM-Signature"));
}

#[tokio::test]
async fn dmarc_failures_are_refused_or_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let dns = dns(Vec::new()).await;
    let auth = MailAuth::new(HOST, dir.path(), &[dns.addr], CHECKS).unwrap();
    let forged = Trust::Inbound {
        ip: "203.0.113.66".parse().unwrap(),
    };
    let out = process(
        &auth,
        &arrival(),
        forged,
        &envelope("x@sender.test"),
        b"From: ceo@sender.test\r\n\r\npay\r\n",
    )
    .await;
    assert_eq!(
        out.disposition,
        Disposition::Reject("Message rejected by the DMARC policy of sender.test".into())
    );
    assert!(out.message.is_empty());
    let out = process(
        &auth,
        &arrival(),
        forged,
        &envelope("x@careful.test"),
        b"From: ceo@careful.test\r\n\r\npay\r\n",
    )
    .await;
    assert_eq!(out.disposition, Disposition::Quarantine);
    assert!(String::from_utf8_lossy(&out.message).contains("dmarc=fail"));

    // Authenticated submissions are never checked.
    let out = process(
        &auth,
        &arrival(),
        Trust::Submitted,
        &envelope("x@sender.test"),
        b"From: ceo@sender.test\r\n\r\npay\r\n",
    )
    .await;
    assert_eq!(out.disposition, Disposition::Deliver);
    assert!(out.checks.is_none());
}
