//! A runner working through a backlog claims a batch at a time: the entries there is
//! no room for yet wait under its lease, neither released nor claimed again each time
//! an attempt finishes. Each of those was a write transaction of its own: with a
//! backlog the relay spent its time committing claims (bench/relay, issue 19).

use async_trait::async_trait;
use message::{Address, BodyType, Envelope, QueueId};
use queue::{Attempt, Deliver, QueueRunner};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::sqlite::SqliteStore;
use store::{QueuedMessage, RecipientStatus, Store};
use tokio::sync::Semaphore;

const MESSAGES: usize = 64;

/// Delivers every recipient, one attempt per permit the test hands out.
struct Gated {
    permits: Semaphore,
}

#[async_trait]
impl Deliver for Gated {
    async fn deliver(&self, _: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        self.permits.acquire().await.expect("open").forget();
        pending.iter().map(|&i| (i, Attempt::Delivered)).collect()
    }
}

fn envelope() -> Envelope {
    Envelope {
        sender: Some(Address::parse("s@example.net").unwrap()),
        recipients: vec![Address::parse("r@remote.example").unwrap()],
        body_type: BodyType::SevenBit,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    }
}

/// Entries with a recipient still pending.
async fn pending(store: &SqliteStore) -> usize {
    let list = store.queue_list().await.unwrap();
    list.iter()
        .filter(|m| {
            m.recipients
                .iter()
                .any(|r| matches!(r.status, RecipientStatus::Pending { .. }))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_costs_no_claim_per_finished_attempt() {
    let dir = std::env::temp_dir().join(format!(
        "postie-queue-backlog-{}-{}",
        std::process::id(),
        QueueId::generate(1)
    ));
    let store = Arc::new(SqliteStore::open(&dir).unwrap());
    for i in 0..MESSAGES {
        let id = QueueId::generate(i as u64 + 2);
        store
            .enqueue(id, &envelope(), b"Subject: t\r\n\r\nbody\r\n")
            .await
            .unwrap();
    }
    let gated = Arc::new(Gated {
        permits: Semaphore::new(0),
    });
    let mut runner = QueueRunner::new(store.clone(), gated.clone());
    runner.batch = 8;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let before = store.commit_count();
    let running = tokio::spawn(runner.run(stopped));
    // One attempt at a time, each recorded before the next may finish, so no two
    // attempts' writes share a commit.
    for done in 1..=MESSAGES {
        gated.permits.add_permits(1);
        let deadline = Instant::now() + Duration::from_secs(20);
        while pending(&store).await > MESSAGES - done {
            assert!(Instant::now() < deadline, "attempt {done} was not recorded");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let commits = store.commit_count() - before;
    stop.send(true).unwrap();
    running.await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // One commit per recorded attempt, a claim per batch and the odd clean-up: about
    // 64 + 8 + a few. A claim per finished attempt made it at least 128.
    assert!(
        commits < MESSAGES as u64 * 3 / 2,
        "{commits} commits for {MESSAGES} messages"
    );
}
