//! The door over the in-memory store: local recipients filed at once and remote ones
//! left pending, DMARC reject and quarantine (over a loopback DNS), and a summary
//! panic that costs only the summary.

use super::*;
use mailauth::records::quote_txt;
use message::{Address, BodyType, Domain};
use pipeline::{Checks, DmarcMode};
use relay::dns::test_server::{RecordType, TestDns};
use store::RecipientStatus;
use store::memory::MemoryStore;

const HOST: &str = "mx.example.org";

fn address(text: &str) -> Address {
    Address::parse(text).unwrap()
}

fn envelope(sender: &str, recipients: &[&str]) -> Envelope {
    Envelope {
        sender: Some(address(sender)),
        recipients: recipients.iter().map(|r| address(r)).collect(),
        body_type: BodyType::SevenBit,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    }
}

/// A store with the local domain example.org and its user alice.
async fn store() -> (Arc<dyn Store>, AccountId) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    store
        .domain_add(&Domain::parse("example.org").unwrap())
        .await
        .unwrap();
    let alice = store
        .account_add(&address("alice@example.org"), "x")
        .await
        .unwrap();
    (store, alice)
}

/// The messages of `account`'s mailbox `name`, as filed.
async fn mailbox(store: &Arc<dyn Store>, account: AccountId, name: &str) -> Vec<Vec<u8>> {
    let Some(mailbox) = store.mailbox_get(account, name).await.unwrap() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in store.message_list(mailbox.id).await.unwrap() {
        out.push(store.message_read(mailbox.id, m.uid).await.unwrap());
    }
    out
}

async fn summaries(store: &Arc<dyn Store>, account: AccountId) -> Vec<Option<Vec<u8>>> {
    let inbox = store.mailbox_get(account, "INBOX").await.unwrap().unwrap();
    let uids: Vec<u32> = store
        .message_list(inbox.id)
        .await
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    store
        .message_summaries(inbox.id, &uids)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

#[tokio::test]
async fn a_local_recipient_is_filed_at_once_and_a_remote_one_left_pending() {
    let (store, alice) = store().await;
    let resolver = Resolver::new(store.clone(), HOST, None);
    let door = Door {
        store: &store,
        resolver: &resolver,
        auth: None,
        hostname: HOST,
    };
    let envelope = envelope(
        "root@mx.example.org",
        &["alice@example.org", "x@example.net"],
    );
    let body = b"Authentication-Results: mx.example.org; dkim=pass\r\nSubject: hi\r\n\r\nbody\r\n";
    let queued = door
        .accept(&Source::Local { uid: 1000 }, &envelope, body)
        .await
        .unwrap();
    assert_eq!(
        queued.filed,
        [Filed {
            recipient: 0,
            account: alice
        }]
    );
    assert!(!queued.all_filed && !queued.quarantine && !queued.report_queued);
    let entry = store.queue_get(queued.id).await.unwrap().unwrap();
    assert_eq!(entry.recipients[0].status, RecipientStatus::Delivered);
    assert!(matches!(
        entry.recipients[1].status,
        RecipientStatus::Pending { .. }
    ));
    let [filed] = &mailbox(&store, alice, "INBOX").await[..] else {
        panic!("one message expected in INBOX");
    };
    let text = String::from_utf8(filed.clone()).unwrap();
    assert!(
        text.starts_with(&format!(
            "Return-Path: <root@mx.example.org>\r\nDelivered-To: alice@example.org\r\n\
             Received: by mx.example.org (Postie, from userid 1000)\r\n\tid {}; ",
            queued.id
        )),
        "{text}"
    );
    assert!(
        text.contains("\r\nDate: ") && text.contains("\r\nMessage-ID: <"),
        "{text}"
    );
    // The forged result claiming our name is gone; the rest is the client's bytes.
    assert!(!text.contains("Authentication-Results"), "{text}");
    assert!(text.ends_with("\r\nSubject: hi\r\n\r\nbody\r\n"), "{text}");
    assert_eq!(queued.size, text.len() - text.find("Received:").unwrap());
    assert!(summaries(&store, alice).await[0].is_some());
}

#[tokio::test]
async fn all_local_mail_leaves_a_finished_entry() {
    let (store, _) = store().await;
    let resolver = Resolver::new(store.clone(), HOST, None);
    let door = Door {
        store: &store,
        resolver: &resolver,
        auth: None,
        hostname: HOST,
    };
    let envelope = envelope("a@example.net", &["alice@example.org"]);
    let client = Client {
        ip: "192.0.2.1".parse().unwrap(),
        helo: "client.example.net",
        protocol: "ESMTP",
    };
    let queued = door
        .accept(
            &Source::Inbound(client),
            &envelope,
            b"Subject: x\r\n\r\nx\r\n",
        )
        .await
        .unwrap();
    assert!(queued.all_filed);
    assert_eq!(store.queue_collect().await.unwrap(), 1);
}

#[test]
fn a_local_trace_keeps_a_present_date_and_message_id() {
    let msg = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nx\r\n";
    let added = local_trace("h", "1", 5, 0, msg);
    assert_eq!(
        added,
        "Received: by h (Postie, from userid 5)\r\n\tid 1; Thu, 01 Jan 1970 00:00:00 +0000\r\n"
    );
    let added = local_trace("h", "1", 5, 0, b"Subject: x\r\n\r\nx\r\n");
    assert!(added.contains("\r\nDate: ") && added.contains("\r\nMessage-ID: <"));
}

const CHECKS: Checks = Checks {
    spf: true,
    dkim: true,
    dmarc: DmarcMode::Enforce,
};

async fn dns() -> TestDns {
    let mut b = TestDns::builder();
    for (name, value) in [
        ("sender.test", "v=spf1 ip4:192.0.2.1 -all"),
        ("_dmarc.sender.test", "v=DMARC1; p=reject"),
        ("careful.test", "v=spf1 ip4:192.0.2.1 -all"),
        ("_dmarc.careful.test", "v=DMARC1; p=quarantine"),
    ] {
        b = b.record(name, RecordType::TXT, &quote_txt(value));
    }
    b.start().await
}

/// Mail from `from`'s domain, sent from an address its SPF does not list and unsigned:
/// DMARC fails.
async fn spoofed(from: &str) -> (Arc<dyn Store>, AccountId, Result<Queued, AcceptError>) {
    let (store, alice) = store().await;
    let resolver = Resolver::new(store.clone(), HOST, None);
    let dir = tempfile::tempdir().unwrap();
    let dns = dns().await;
    let auth = MailAuth::new(HOST, dir.path(), &[dns.addr], CHECKS).unwrap();
    let door = Door {
        store: &store,
        resolver: &resolver,
        auth: Some(&auth),
        hostname: HOST,
    };
    let client = Client {
        ip: "198.51.100.7".parse().unwrap(),
        helo: "spoofer.test",
        protocol: "ESMTP",
    };
    let body = format!("From: {from}\r\nSubject: hi\r\n\r\nhello\r\n");
    let result = door
        .accept(
            &Source::Inbound(client),
            &envelope(from, &["alice@example.org"]),
            body.as_bytes(),
        )
        .await;
    (store, alice, result)
}

#[tokio::test]
async fn a_dmarc_reject_queues_and_files_nothing() {
    let (store, alice, result) = spoofed("a@sender.test").await;
    let Err(AcceptError::Rejected(rejected)) = result else {
        panic!("rejected expected: {result:?}");
    };
    assert!(rejected.reason.contains("sender.test"), "{rejected:?}");
    assert!(rejected.checks.unwrap().contains("dmarc=fail"));
    assert!(store.queue_list().await.unwrap().is_empty());
    assert!(mailbox(&store, alice, "INBOX").await.is_empty());
}

#[tokio::test]
async fn a_dmarc_quarantine_is_filed_into_junk() {
    let (store, alice, result) = spoofed("a@careful.test").await;
    let queued = result.unwrap();
    assert!(queued.quarantine && queued.all_filed, "{queued:?}");
    assert!(mailbox(&store, alice, "INBOX").await.is_empty());
    let [junk] = &mailbox(&store, alice, "Junk").await[..] else {
        panic!("one message expected in Junk");
    };
    let text = String::from_utf8_lossy(junk);
    // Our results on top of this hop's trace field.
    assert!(
        text.contains("\r\nAuthentication-Results: mx.example.org;"),
        "{text}"
    );
    assert!(text.contains("dmarc=fail"), "{text}");
}

#[tokio::test]
async fn a_summary_panic_costs_only_the_summary() {
    let (store, alice) = store().await;
    let resolver = Resolver::new(store.clone(), HOST, None);
    let door = Door {
        store: &store,
        resolver: &resolver,
        auth: None,
        hostname: HOST,
    };
    let envelope = envelope("a@example.net", &["alice@example.org"]);
    let prepared = door
        .prepare(
            &Source::Local { uid: 0 },
            &envelope,
            b"Subject: x\r\n\r\nx\r\n",
            SystemTime::now(),
        )
        .await
        .unwrap();
    fn explode(_: &[u8]) -> Vec<u8> {
        panic!("a parser bug")
    }
    let queued = door.file_with(&envelope, prepared, explode).await.unwrap();
    assert!(queued.all_filed);
    assert_eq!(mailbox(&store, alice, "INBOX").await.len(), 1);
    assert_eq!(summaries(&store, alice).await, [None]);
}
