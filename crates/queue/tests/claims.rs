//! Several queue runners over one store (several nodes on one database): each entry is
//! attempted by one runner at a time, a dead runner's entries wait for its lease to
//! expire, and a runner renews its leases while an attempt goes on.

use async_trait::async_trait;
use message::{Address, BodyType, Envelope, QueueId};
use queue::{Attempt, Deliver, QueueRunner};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::memory::MemoryStore;
use store::{QueuedMessage, Store};

const BODY: &[u8] = b"Subject: t\r\n\r\nbody\r\n";

fn envelope(rcpts: &[&str]) -> Envelope {
    Envelope {
        sender: Some(Address::parse("s@example.net").unwrap()),
        recipients: rcpts.iter().map(|r| Address::parse(r).unwrap()).collect(),
        body_type: BodyType::SevenBit,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    }
}

/// What every runner's deliverer sees: attempts per recipient and per runner, and
/// whether an entry was ever attempted by two at once.
#[derive(Default)]
struct Ledger {
    attempts: Mutex<HashMap<(QueueId, usize), usize>>,
    by_node: Mutex<HashMap<&'static str, usize>>,
    under_way: Mutex<HashSet<QueueId>>,
    overlap: AtomicBool,
}

/// Counts its attempts in the shared ledger, takes a moment per message (so attempts
/// overlap in time), and delivers every recipient.
struct Counting {
    node: &'static str,
    ledger: Arc<Ledger>,
}

#[async_trait]
impl Deliver for Counting {
    async fn deliver(&self, m: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        if !self.ledger.under_way.lock().unwrap().insert(m.id) {
            self.ledger.overlap.store(true, Ordering::SeqCst);
        }
        {
            let mut attempts = self.ledger.attempts.lock().unwrap();
            for &i in pending {
                *attempts.entry((m.id, i)).or_default() += 1;
            }
        }
        *self
            .ledger
            .by_node
            .lock()
            .unwrap()
            .entry(self.node)
            .or_default() += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.ledger.under_way.lock().unwrap().remove(&m.id);
        pending.iter().map(|&i| (i, Attempt::Delivered)).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_on_one_store_never_attempt_the_same_entry() {
    let store = Arc::new(MemoryStore::new());
    let ledger = Arc::new(Ledger::default());
    let mut ids = Vec::new();
    for n in 0..60u64 {
        let id = QueueId::generate(1000 + n);
        let rcpts: &[&str] = if n % 3 == 0 {
            &["a@x.example", "b@y.example"]
        } else {
            &["a@x.example"]
        };
        store.enqueue(id, &envelope(rcpts), BODY).await.unwrap();
        ids.push((id, rcpts.len()));
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut runners = Vec::new();
    for node in ["node-a", "node-b"] {
        let deliver = Arc::new(Counting {
            node,
            ledger: ledger.clone(),
        });
        let mut runner = QueueRunner::new(store.clone(), deliver).with_node(node);
        runner.batch = 4;
        runner.poll_interval = Duration::from_millis(20);
        assert_eq!(runner.node(), node);
        let handle = runner.handle();
        runners.push(tokio::spawn(runner.run(stopped.clone())));
        handle.notify();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = store.queue_due_ids(queue::now_unix(), 100).await.unwrap();
        if left.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not delivered: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    for runner in runners {
        runner.await.unwrap();
    }
    assert!(
        !ledger.overlap.load(Ordering::SeqCst),
        "an entry was attempted by both runners at once"
    );
    let attempts = ledger.attempts.lock().unwrap().clone();
    for (id, count) in ids {
        for i in 0..count {
            assert_eq!(
                attempts.get(&(id, i)),
                Some(&1),
                "recipient {i} of {id} attempted once"
            );
        }
    }
    let by_node = ledger.by_node.lock().unwrap().clone();
    assert_eq!(by_node.values().sum::<usize>(), 60, "{by_node:?}");
    assert!(
        by_node.len() == 2,
        "both runners worked (4 at a time each, 60 entries): {by_node:?}"
    );
}

#[tokio::test]
async fn a_dead_runners_entries_wait_for_its_lease_then_go_to_another() {
    let store = Arc::new(MemoryStore::new());
    let id = QueueId::generate(2000);
    store
        .enqueue(id, &envelope(&["a@x.example"]), BODY)
        .await
        .unwrap();
    let now = queue::now_unix();
    // A runner on another node claimed it, then died without a word.
    assert_eq!(
        store
            .queue_claim("dead-node", now, now + 300, 10)
            .await
            .unwrap(),
        [id]
    );
    let ledger = Arc::new(Ledger::default());
    let runner = QueueRunner::new(
        store.clone(),
        Arc::new(Counting {
            node: "live",
            ledger: ledger.clone(),
        }),
    )
    .with_hostname("mx2.example");
    assert!(
        runner.node().starts_with("mx2.example:"),
        "{}",
        runner.node()
    );
    assert_eq!(runner.run_once(now).await.unwrap(), 0);
    assert_eq!(runner.run_once(now + 299).await.unwrap(), 0);
    assert_eq!(
        runner.run_once(now + 300).await.unwrap(),
        1,
        "lease expired"
    );
    assert_eq!(ledger.attempts.lock().unwrap().get(&(id, 0)), Some(&1));
}

#[test]
fn generated_node_names_differ() {
    let store = Arc::new(MemoryStore::new());
    let deliver = Arc::new(Counting {
        node: "x",
        ledger: Arc::default(),
    });
    let a = QueueRunner::new(store.clone(), deliver.clone()).with_hostname("h.example");
    let b = QueueRunner::new(store, deliver).with_hostname("h.example");
    assert_ne!(a.node(), b.node());
    let pid = std::process::id().to_string();
    assert!(
        a.node().starts_with(&format!("h.example:{pid}:")),
        "{}",
        a.node()
    );
}

/// Holds every attempt until released.
struct Gate {
    release: tokio::sync::Semaphore,
    started: tokio::sync::Notify,
}

#[async_trait]
impl Deliver for Gate {
    async fn deliver(&self, _: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        self.started.notify_one();
        let _permit = self.release.acquire().await.unwrap();
        pending.iter().map(|&i| (i, Attempt::Delivered)).collect()
    }
}

/// A slow attempt keeps its entry: the runner renews the lease past its first
/// expiry. When shutdown abandons the attempt, the claim is released at once.
#[tokio::test]
async fn a_long_attempt_keeps_its_claim_and_shutdown_releases_it() {
    let store = Arc::new(MemoryStore::new());
    let id = QueueId::generate(3000);
    store
        .enqueue(id, &envelope(&["a@x.example"]), BODY)
        .await
        .unwrap();
    let gate = Arc::new(Gate {
        release: tokio::sync::Semaphore::new(0),
        started: tokio::sync::Notify::new(),
    });
    let mut runner = QueueRunner::new(store.clone(), gate.clone()).with_node("slow-node");
    runner.lease = Duration::from_secs(2);
    runner.shutdown_grace = Duration::from_millis(100);
    let handle = runner.handle();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(runner.run(stopped));
    handle.notify();
    tokio::time::timeout(Duration::from_secs(10), gate.started.notified())
        .await
        .expect("the attempt started");
    // Well past the first lease's expiry: renewed every 2/3 s, the claim holds.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let now = queue::now_unix();
    assert!(
        store
            .queue_claim("other", now, now + 60, 10)
            .await
            .unwrap()
            .is_empty(),
        "the claim was renewed"
    );
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stopped")
        .unwrap();
    assert_eq!(
        store.queue_claim("other", now, now + 60, 10).await.unwrap(),
        [id],
        "the abandoned attempt's claim was released"
    );
}
