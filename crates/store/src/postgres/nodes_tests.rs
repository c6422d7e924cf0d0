//! What must hold with several nodes on one database, beyond the backend-independent
//! suite: each test opens two or three [`PgStore`]s (separate pools, as separate
//! processes would) on one fresh database and races them on a multi-threaded runtime.
//!
//! - UIDs and mod-sequences stay strictly increasing per mailbox under concurrent
//!   APPENDs from three nodes (RFC 3501 §2.3.1.1, RFC 7162 §3.1);
//! - two nodes claiming the queue at once never both get an entry;
//! - a node refuses a schema newer than it knows, and says so.

use std::collections::BTreeSet;
use std::sync::Arc;

use message::{Address, BodyType, Domain, Envelope, QueueId};

use super::testing::fresh_store;
use super::{PgOptions, PgStore};
use crate::{Store, StoreError};

/// Two more nodes on the database of `first`.
async fn more_nodes(first: &PgStore, n: usize) -> Vec<PgStore> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(
            PgStore::connect(&PgOptions::from_url(first.url_for_tests()))
                .await
                .expect("another node"),
        );
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_from_three_nodes_keep_uids_and_modseqs_increasing() {
    let Some(a) = fresh_store().await else {
        return;
    };
    a.domain_add(&Domain::parse("example.org").unwrap())
        .await
        .unwrap();
    let alice = a
        .account_add(&Address::parse("alice@example.org").unwrap(), "$argon2id$x")
        .await
        .unwrap();
    let inbox = a.mailbox_get(alice, "INBOX").await.unwrap().unwrap().id;
    let mut nodes: Vec<Arc<PgStore>> = more_nodes(&a, 2).await.into_iter().map(Arc::new).collect();
    nodes.insert(0, Arc::new(a));
    let mut tasks = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for k in 0..4 {
            let node = node.clone();
            tasks.push(tokio::spawn(async move {
                let mut uids = Vec::new();
                for i in 0..10 {
                    let body = format!("Subject: node {n} task {k} #{i}\r\n\r\nx\r\n");
                    let uid = node
                        .message_append(inbox, body.as_bytes(), &[], 1_700_000_000)
                        .await
                        .expect("append");
                    uids.push(uid);
                }
                uids
            }));
        }
    }
    let mut all = Vec::new();
    for task in tasks {
        let uids = task.await.expect("task");
        // One client's appends get ascending UIDs.
        assert!(uids.windows(2).all(|w| w[0] < w[1]), "{uids:?}");
        all.extend(uids);
    }
    let distinct: BTreeSet<u32> = all.iter().copied().collect();
    assert_eq!(distinct.len(), 120, "every append got its own UID");
    assert_eq!(distinct, (1..=120).collect(), "no gaps, no repeats");
    let listed = nodes[2].message_list_imap(inbox).await.unwrap();
    assert_eq!(listed.len(), 120);
    // Mod-sequences ascend with UIDs (each append took the next of both) and are distinct.
    assert!(
        listed.windows(2).all(|w| w[0].modseq < w[1].modseq),
        "mod-sequences out of order"
    );
    let mailbox = nodes[1].mailbox_get(alice, "INBOX").await.unwrap().unwrap();
    assert_eq!(mailbox.uid_next, 121);
    assert_eq!(mailbox.highest_modseq, listed.last().unwrap().modseq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_claiming_at_once_never_share_an_entry() {
    let Some(a) = fresh_store().await else {
        return;
    };
    let b = more_nodes(&a, 1).await.pop().unwrap();
    let envelope = Envelope {
        sender: Some(Address::parse("a@remote.example").unwrap()),
        recipients: vec![Address::parse("x@elsewhere.example").unwrap()],
        body_type: BodyType::EightBitMime,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    };
    for n in 1..=60u64 {
        a.enqueue(QueueId::from_u64(n), &envelope, b"Subject: q\r\n\r\nq\r\n")
            .await
            .unwrap();
    }
    let now = super::now_unix();
    let (a, b) = (Arc::new(a), Arc::new(b));
    // Each claimer works like a runner: claim a few, "deliver" them, release, again,
    // until nothing is left; an entry attempted by two claimers shows in two sets.
    let claim = |store: Arc<PgStore>, node: &'static str| {
        tokio::spawn(async move {
            let mut got = BTreeSet::new();
            loop {
                let ids = store.queue_claim(node, now, now + 300, 4).await.unwrap();
                if ids.is_empty() {
                    return got;
                }
                for id in ids {
                    assert!(got.insert(id), "{node} claimed {id} twice");
                    store
                        .queue_mark(id, 0, &crate::RecipientOutcome::Delivered)
                        .await
                        .unwrap();
                    store.queue_release(node, id).await.unwrap();
                }
            }
        })
    };
    let tasks = [
        claim(a.clone(), "node-a1"),
        claim(b.clone(), "node-b1"),
        claim(a.clone(), "node-a2"),
        claim(b.clone(), "node-b2"),
    ];
    let mut sets = Vec::new();
    for task in tasks {
        sets.push(task.await.unwrap());
    }
    for (i, x) in sets.iter().enumerate() {
        for y in &sets[i + 1..] {
            assert!(x.is_disjoint(y), "claimed twice: {:?}", x.intersection(y));
        }
    }
    let total: usize = sets.iter().map(BTreeSet::len).sum();
    assert_eq!(total, 60, "every entry claimed once");
}

#[tokio::test]
async fn a_schema_newer_than_this_node_knows_is_refused_untouched() {
    let Some(a) = fresh_store().await else {
        return;
    };
    let client = a.client().await.unwrap();
    let newer = super::schema::SCHEMA_VERSION + 1;
    client
        .execute("UPDATE postie_schema SET version = $1", &[&newer])
        .await
        .unwrap();
    drop(client);
    let Err(e) = PgStore::connect(&PgOptions::from_url(a.url_for_tests())).await else {
        panic!("a node started on a schema from the future");
    };
    let text = e.to_string();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    assert!(
        text.contains(&format!("version {newer}")) && text.contains("upgrade Postie"),
        "{text}"
    );
    // Untouched: still the newer version.
    let client = a.client().await.unwrap();
    let version: i64 = client
        .query_one("SELECT version FROM postie_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, newer);
}

/// Each transaction's COMMIT is timed into `postie_store_commit_seconds` under
/// `backend="postgres"` (the SQLite writer's group commits are under `sqlite`).
#[tokio::test]
async fn commits_are_timed() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // A current-thread runtime: the local recorder covers the whole test.
    let _local = metrics::set_default_local_recorder(&recorder);
    let Some(a) = fresh_store().await else {
        return;
    };
    a.domain_add(&Domain::parse("example.org").unwrap())
        .await
        .unwrap();
    // Adding an account is one transaction (the account and its mailboxes).
    for who in ["a@example.org", "b@example.org"] {
        a.account_add(&Address::parse(who).unwrap(), "hash")
            .await
            .unwrap();
    }
    let text = handle.render();
    let count = text
        .lines()
        .find_map(|l| l.strip_prefix(r#"postie_store_commit_seconds_count{backend="postgres"} "#))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(count.is_some_and(|n| n >= 2), "{text}");
}
