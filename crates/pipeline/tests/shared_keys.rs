//! Signing with keys a shared store keeps: the keys are handed in as records
//! ([`pipeline::SharedKeys`]), the data directory has no key files, and the message
//! still comes out signed with the newest key, verifiably; a refresh that brings a
//! newer key switches to it, one that drops every key stops signing.

use std::sync::Arc;

use mailauth::keys::{Algorithm, KeyInfo, generate_pem};
use mailauth::records::quote_txt;
use mailauth::{KeyRecord, SharedKeys};
use message::{Address, Envelope};
use pipeline::{Arrival, Checks, Disposition, DmarcMode, MailAuth, Trust, process};
use relay::dns::test_server::{RecordType, TestDns};

const HOST: &str = "mx.receiver.test";
const NOV_2026: i64 = 1_793_750_400;

fn arrival(submission: bool) -> Arrival<'static> {
    Arrival {
        hostname: HOST,
        helo: "client.sender.test",
        peer_ip: "192.0.2.1",
        protocol: "ESMTP",
        submission,
        queue_id: "00000000000000ab",
        single_recipient: None,
        unix_seconds: NOV_2026,
    }
}

fn envelope() -> Envelope {
    Envelope {
        sender: Some(Address::parse("a@sender.test").unwrap()),
        recipients: vec![Address::parse("bob@receiver.test").unwrap()],
        body_type: Default::default(),
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    }
}

/// A new key as the store would keep it: what to publish, and the record.
fn stored_key(algorithm: Algorithm, existing: &[KeyInfo]) -> (KeyInfo, KeyRecord) {
    let (info, pem) = generate_pem("sender.test", algorithm, NOV_2026, existing).unwrap();
    let record = KeyRecord {
        domain: info.domain.clone(),
        selector: info.selector.clone(),
        algorithm,
        private_pem: pem,
    };
    (info, record)
}

const BODY: &[u8] = b"From: a@sender.test\r\nTo: bob@receiver.test\r\nSubject: hi\r\n\r\nhello\r\n";

async fn submit(auth: &MailAuth) -> String {
    let out = process(auth, &arrival(true), Trust::Submitted, &envelope(), BODY).await;
    assert_eq!(out.disposition, Disposition::Deliver);
    String::from_utf8(out.message).unwrap()
}

#[tokio::test]
async fn mail_is_signed_with_the_newest_key_only_the_store_has() {
    let (old, old_record) = stored_key(Algorithm::Ed25519, &[]);
    let (new, new_record) = stored_key(Algorithm::Ed25519, std::slice::from_ref(&old));
    let dns = {
        let mut b = TestDns::builder();
        b = b.record("sender.test", RecordType::TXT, &quote_txt("v=spf1 -all"));
        b = b.record(
            "_dmarc.sender.test",
            RecordType::TXT,
            &quote_txt("v=DMARC1; p=reject"),
        );
        for key in [&old, &new] {
            b = b.record(&key.record_name(), RecordType::TXT, &quote_txt(&key.record));
        }
        b.start().await
    };
    // No key files anywhere: the data directory is empty.
    let dir = tempfile::tempdir().unwrap();
    let shared = Arc::new(SharedKeys::new());
    let auth = MailAuth::signing_only(HOST, dir.path()).with_shared_keys(shared.clone());
    assert!(
        !submit(&auth).await.contains("DKIM-Signature"),
        "no keys yet"
    );

    shared.replace(std::slice::from_ref(&old_record));
    let text = submit(&auth).await;
    assert!(text.contains(&format!("s={};", old.selector)), "{text}");

    // The refresh brings the newer key: it signs from now on, alone.
    shared.replace(&[old_record, new_record]);
    let text = submit(&auth).await;
    assert_eq!(text.matches("DKIM-Signature:").count(), 1, "{text}");
    assert!(text.contains(&format!("s={};", new.selector)), "{text}");
    assert!(text.contains("d=sender.test;"), "{text}");

    // Another server verifies it through DNS: DKIM and DMARC pass.
    let checks = Checks {
        spf: true,
        dkim: true,
        dmarc: DmarcMode::Enforce,
    };
    let receiver = MailAuth::new("mx.other.test", dir.path(), &[dns.addr], checks).unwrap();
    let inbound = process(
        &receiver,
        &arrival(false),
        Trust::Inbound {
            ip: "198.51.100.7".parse().unwrap(),
        },
        &envelope(),
        text.as_bytes(),
    )
    .await;
    let header = String::from_utf8_lossy(&inbound.message);
    assert_eq!(inbound.disposition, Disposition::Deliver, "{header}");
    assert!(header.contains("dkim=pass"), "{header}");
    assert!(header.contains("dmarc=pass"), "{header}");

    // Every key removed from the store: mail goes out unsigned.
    shared.replace(&[]);
    assert!(!submit(&auth).await.contains("DKIM-Signature"));
}
