//! SPF and DMARC decisions against a DNS server the test starts on loopback (a whole
//! fake `test.` TLD, so DMARC's walk up to the organizational domain stays inside it).

use mailauth::keys::{Algorithm, KeyStore};
use mailauth::records::quote_txt;
use mailauth::{Action, Checks, DmarcMode, Origin, Verifier};
use relay::dns::test_server::{RecordType, TestDns};

const GOOD_IP: &str = "192.0.2.1";
const BAD_IP: &str = "198.51.100.9";

fn all(dmarc: DmarcMode) -> Checks {
    Checks {
        spf: true,
        dkim: true,
        dmarc,
    }
}

async fn dns(extra: &[(String, String)]) -> TestDns {
    let mut b = TestDns::builder();
    let txt = |b: TestDns, _: ()| b;
    let _ = txt;
    for (name, value) in [
        ("reject.test", "v=spf1 ip4:192.0.2.1 -all"),
        ("_dmarc.reject.test", "v=DMARC1; p=reject"),
        ("quarantine.test", "v=spf1 ip4:192.0.2.1 -all"),
        ("_dmarc.quarantine.test", "v=DMARC1; p=quarantine"),
        ("relaxed.test", "v=spf1 ip4:192.0.2.1 -all"),
        ("_dmarc.relaxed.test", "v=DMARC1; p=reject"),
        ("bounces.relaxed.test", "v=spf1 ip4:192.0.2.1 -all"),
        ("monitor.test", "v=spf1 ip4:192.0.2.1 -all"),
        ("_dmarc.monitor.test", "v=DMARC1; p=none"),
        ("client.relaxed.test", "v=spf1 ip4:192.0.2.1 -all"),
    ] {
        b = b.record(name, RecordType::TXT, &quote_txt(value));
    }
    for (name, value) in extra {
        b = b.record(name, RecordType::TXT, &quote_txt(value));
    }
    b.servfail("_dmarc.broken.test").start().await
}

fn message(from: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: bob@receiver.test\r\nSubject: hi\r\n\
Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <x@y>\r\n\r\nhello\r\n"
    )
    .into_bytes()
}

async fn check(
    dns: &TestDns,
    checks: Checks,
    ip: &str,
    mail_from: Option<&str>,
    from: &str,
) -> mailauth::Verdict {
    let verifier = Verifier::new(
        mailauth::resolver::authenticator(&[dns.addr]).unwrap(),
        "mx.receiver.test",
        checks,
    );
    let origin = Origin {
        ip: ip.parse().unwrap(),
        helo: "client.relaxed.test",
        mail_from,
    };
    verifier.check(&origin, &message(from)).await
}

#[tokio::test]
async fn aligned_spf_passes_dmarc() {
    let dns = dns(&[]).await;
    let v = check(
        &dns,
        all(DmarcMode::Enforce),
        GOOD_IP,
        Some("a@reject.test"),
        "a@reject.test",
    )
    .await;
    assert_eq!(v.action, Action::Accept);
    assert_eq!(v.summary, "spf=pass dkim=none dmarc=pass");
    assert!(v.header.contains("spf=pass"), "{}", v.header);
    assert!(
        v.header.contains("smtp.mailfrom=a@reject.test"),
        "{}",
        v.header
    );
    assert!(
        v.header.contains("smtp.helo=client.relaxed.test"),
        "{}",
        v.header
    );
    assert!(
        v.header.contains("dmarc=pass header.from=reject.test"),
        "{}",
        v.header
    );
}

#[tokio::test]
async fn forged_from_is_rejected_or_quarantined_by_policy() {
    let dns = dns(&[]).await;
    let v = check(
        &dns,
        all(DmarcMode::Enforce),
        BAD_IP,
        Some("a@reject.test"),
        "a@reject.test",
    )
    .await;
    assert_eq!(v.action, Action::Reject, "{}", v.header);
    assert!(v.header.contains("spf=fail"), "{}", v.header);
    assert!(v.header.contains("dmarc=fail"), "{}", v.header);
    assert!(v.header.contains("policy.dmarc=reject"), "{}", v.header);
    assert_eq!(v.dmarc_domain.as_deref(), Some("reject.test"));

    // SPF passes for the envelope domain, but From is someone else's: not aligned.
    let v = check(
        &dns,
        all(DmarcMode::Enforce),
        GOOD_IP,
        Some("a@monitor.test"),
        "ceo@quarantine.test",
    )
    .await;
    assert_eq!(v.action, Action::Quarantine, "{}", v.header);
    assert!(v.header.contains("spf=pass"), "{}", v.header);
    assert!(v.header.contains("dmarc=fail"), "{}", v.header);

    // p=none: recorded, delivered.
    let v = check(
        &dns,
        all(DmarcMode::Enforce),
        BAD_IP,
        Some("a@monitor.test"),
        "a@monitor.test",
    )
    .await;
    assert_eq!(v.action, Action::Accept);
    assert!(v.header.contains("dmarc=fail"), "{}", v.header);
}

#[tokio::test]
async fn report_only_and_off_never_act() {
    let dns = dns(&[]).await;
    let v = check(
        &dns,
        all(DmarcMode::ReportOnly),
        BAD_IP,
        Some("a@reject.test"),
        "a@reject.test",
    )
    .await;
    assert_eq!(v.action, Action::Accept);
    assert!(v.header.contains("dmarc=fail"), "{}", v.header);
    let v = check(
        &dns,
        all(DmarcMode::Off),
        BAD_IP,
        Some("a@reject.test"),
        "a@reject.test",
    )
    .await;
    assert_eq!(v.action, Action::Accept);
    assert!(!v.header.contains("dmarc="), "{}", v.header);
    let nothing = Checks {
        spf: false,
        dkim: false,
        dmarc: DmarcMode::Off,
    };
    let v = check(
        &dns,
        nothing,
        BAD_IP,
        Some("a@reject.test"),
        "a@reject.test",
    )
    .await;
    assert!(v.header.is_empty());
}

#[tokio::test]
async fn relaxed_alignment_accepts_a_subdomain_envelope() {
    let dns = dns(&[]).await;
    let v = check(
        &dns,
        all(DmarcMode::Enforce),
        GOOD_IP,
        Some("b@bounces.relaxed.test"),
        "a@relaxed.test",
    )
    .await;
    assert_eq!(v.action, Action::Accept, "{}", v.header);
    assert!(v.header.contains("dmarc=pass"), "{}", v.header);
}

#[tokio::test]
async fn an_aligned_dkim_signature_passes_dmarc_without_spf() {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyStore::new(dir.path());
    let key = keys
        .generate("reject.test", Algorithm::Ed25519, 1_793_750_400)
        .unwrap();
    let dns = dns(&[(key.record_name(), key.record.clone())]).await;
    let body = message("a@reject.test");
    let signed = [
        mailauth::sign::sign(&keys.signing_keys("reject.test").unwrap(), &body)
            .unwrap()
            .into_bytes(),
        body,
    ]
    .concat();
    let verifier = Verifier::new(
        mailauth::resolver::authenticator(&[dns.addr]).unwrap(),
        "mx.receiver.test",
        all(DmarcMode::Enforce),
    );
    let origin = Origin {
        ip: BAD_IP.parse().unwrap(),
        helo: "forwarder.example",
        mail_from: Some("list@forwarder.test"),
    };
    let v = verifier.check(&origin, &signed).await;
    assert_eq!(v.action, Action::Accept, "{}", v.header);
    assert!(v.header.contains("dkim=pass"), "{}", v.header);
    assert!(v.header.contains("dmarc=pass"), "{}", v.header);
}

#[tokio::test]
async fn null_sender_uses_the_helo_identity() {
    let dns = dns(&[]).await;
    let v = check(
        &dns,
        all(DmarcMode::Enforce),
        GOOD_IP,
        None,
        "mailer-daemon@relaxed.test",
    )
    .await;
    assert!(
        v.header.contains("smtp.mailfrom=<>") || v.header.contains("smtp.helo"),
        "{}",
        v.header
    );
    assert!(v.summary.starts_with("spf=pass"), "{}", v.summary);
    assert_eq!(v.action, Action::Accept, "{}", v.header);
}

#[tokio::test]
async fn a_dns_failure_is_a_temperror_and_mail_is_accepted() {
    let dns = dns(&[]).await;
    let v = check(
        &dns,
        all(DmarcMode::Enforce),
        BAD_IP,
        Some("a@broken.test"),
        "a@broken.test",
    )
    .await;
    assert_eq!(v.action, Action::Accept, "{}", v.header);
    assert!(v.header.contains("dmarc=temperror"), "{}", v.header);
}
