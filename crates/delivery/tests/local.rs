//! Local delivery through the router, over the in-memory store.

use delivery::Router;
use message::{Address, BodyType, Domain, Envelope, QueueId};
use queue::QueueRunner;
use std::sync::Arc;
use store::memory::MemoryStore;
use store::{RecipientStatus, Store};

/// A queue runner delivering through the router, as the server wires it.
fn runner(store: &Arc<MemoryStore>) -> QueueRunner {
    let resolver = Arc::new(delivery::route::Resolver::new(
        store.clone(),
        "mx.example.org",
        None,
    ));
    QueueRunner::new(
        store.clone(),
        Arc::new(Router::new(store.clone(), resolver)),
    )
}

#[tokio::test]
async fn local_recipients_are_filed_once_and_remote_ones_stay_queued() {
    let store = Arc::new(MemoryStore::new());
    store
        .domain_add(&Domain::parse("example.org").unwrap())
        .await
        .unwrap();
    let alice = Address::parse("alice@example.org").unwrap();
    let account = store.account_add(&alice, "x").await.unwrap();
    let id = QueueId::generate(5);
    let envelope = Envelope {
        sender: Some(Address::parse("bob@remote.example").unwrap()),
        recipients: vec![
            alice.clone(),
            Address::parse("carol@remote.example").unwrap(),
            Address::parse("gone@example.org").unwrap(),
        ],
        body_type: BodyType::SevenBit,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    };
    store
        .enqueue(id, &envelope, b"Subject: hi\r\n\r\n.body\r\n")
        .await
        .unwrap();

    let runner = runner(&store);
    runner.run_once(queue::now_unix()).await.unwrap();
    // Running again right away changes nothing: alice's copy is not filed twice.
    runner.run_once(queue::now_unix()).await.unwrap();

    let inbox = store
        .mailbox_list(account)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.name == "INBOX")
        .unwrap();
    let list = store.message_list(inbox.id).await.unwrap();
    assert_eq!(list.len(), 1);
    let bytes = store.message_read(inbox.id, list[0].uid).await.unwrap();
    assert_eq!(
        bytes,
        b"Return-Path: <bob@remote.example>\r\nDelivered-To: alice@example.org\r\nSubject: hi\r\n\r\n.body\r\n"
    );

    let queued = &store.queue_list().await.unwrap()[0];
    assert_eq!(queued.recipients[0].status, RecipientStatus::Delivered);
    assert!(matches!(
        queued.recipients[1].status,
        RecipientStatus::Pending { attempts: 1, .. }
    ));
    assert!(
        matches!(&queued.recipients[2].status, RecipientStatus::Failed(why) if why.contains("5.1.1"))
    );
}

/// An account over its quota: the attempt is deferred as "4.2.2 Mailbox full" with
/// nothing filed; once the limit is raised, the retry files the message.
#[tokio::test]
async fn a_full_mailbox_defers_until_there_is_room() {
    let store = Arc::new(MemoryStore::new());
    store
        .domain_add(&Domain::parse("example.org").unwrap())
        .await
        .unwrap();
    let alice = Address::parse("alice@example.org").unwrap();
    let account = store.account_add(&alice, "x").await.unwrap();
    let full = store::Quota {
        storage: None,
        messages: Some(0),
    };
    store.quota_set(&alice, full).await.unwrap();
    let id = QueueId::generate(6);
    let envelope = Envelope {
        sender: Some(Address::parse("bob@remote.example").unwrap()),
        recipients: vec![alice.clone()],
        body_type: BodyType::SevenBit,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    };
    store
        .enqueue(id, &envelope, b"Subject: hi\r\n\r\nbody\r\n")
        .await
        .unwrap();
    let runner = runner(&store);
    let now = queue::now_unix();
    runner.run_once(now).await.unwrap();
    let queued = store.queue_get(id).await.unwrap().unwrap();
    assert!(
        matches!(&queued.recipients[0].status, RecipientStatus::Pending { attempts: 1, last_error: Some(e), .. } if e.starts_with("4.2.2 Mailbox full")),
        "{:?}",
        queued.recipients[0].status
    );
    assert_eq!(store.quota_usage(account).await.unwrap().messages, 0);

    store
        .quota_set(&alice, store::Quota::default())
        .await
        .unwrap();
    store.queue_flush(Some(id), None, now).await.unwrap();
    runner.run_once(now).await.unwrap();
    let queued = store.queue_get(id).await.unwrap().unwrap();
    assert_eq!(queued.recipients[0].status, RecipientStatus::Delivered);
    assert_eq!(store.quota_usage(account).await.unwrap().messages, 1);
}
