//! The queue runner over the in-memory store, with a scripted deliverer.

use async_trait::async_trait;
use message::{Address, BodyType, Envelope, QueueId};
use queue::{Attempt, Deliver, QueueRunner};
use std::sync::{Arc, Mutex};
use store::memory::MemoryStore;
use store::{QueuedMessage, RecipientStatus, Store};

/// Answers each recipient by its local part: `ok`, `later`, `full` (a full mailbox),
/// `never`.
#[derive(Default)]
struct Scripted {
    calls: Mutex<Vec<(QueueId, Vec<usize>)>>,
}

#[async_trait]
impl Deliver for Scripted {
    async fn deliver(&self, m: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        self.calls.lock().unwrap().push((m.id, pending.to_vec()));
        pending
            .iter()
            .map(|&i| {
                let a = match m.envelope.recipients[i].local() {
                    "ok" => Attempt::Delivered,
                    "later" => Attempt::Temporary("busy".into()),
                    "full" => Attempt::TemporaryUntilExpiry {
                        reason: "4.2.2 mailbox full".into(),
                        on_expiry: "5.2.2 mailbox full".into(),
                    },
                    _ => Attempt::Permanent("no".into()),
                };
                (i, a)
            })
            .collect()
    }
}

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

// Paused time: the attempt takes no time on the runner's clock, so the retry is
// exactly one backoff after it.
#[tokio::test(start_paused = true)]
async fn outcomes_are_recorded_and_retries_wait_for_their_time() {
    let store = Arc::new(MemoryStore::new());
    let id = QueueId::generate(1);
    store
        .enqueue(
            id,
            &envelope(&["ok@a.example", "later@a.example", "never@a.example"]),
            b"Subject: t\r\n\r\nbody\r\n",
        )
        .await
        .unwrap();
    let deliver = Arc::new(Scripted::default());
    let runner = QueueRunner::new(store.clone(), deliver.clone());
    let now = queue::now_unix();
    assert_eq!(runner.run_once(now).await.unwrap(), 1);

    let entry = &store.queue_list().await.unwrap()[0];
    assert_eq!(entry.recipients[0].status, RecipientStatus::Delivered);
    assert!(
        matches!(entry.recipients[1].status, RecipientStatus::Pending { attempts: 1, next_attempt, .. } if next_attempt == now + 60)
    );
    assert!(matches!(
        entry.recipients[2].status,
        RecipientStatus::Failed(_)
    ));

    // The failure was reported to the sender: a bounce from <> is queued (and, to a
    // deliverer that refuses it, is not bounced in turn).
    let bounce = store
        .queue_list()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.id != id)
        .expect("bounce queued");
    assert_eq!(bounce.envelope.sender, None);
    assert_eq!(bounce.envelope.recipients[0].to_string(), "s@example.net");
    assert_eq!(
        runner.run_once(now).await.unwrap(),
        1,
        "the bounce is tried"
    );
    let ids: Vec<QueueId> = store
        .queue_list()
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .filter(|&m| m != id)
        .collect();
    assert_eq!(ids, [bounce.id], "no bounce of a bounce");

    // Nothing is due until the retry time; then only the deferred recipient is tried.
    assert_eq!(runner.run_once(now + 59).await.unwrap(), 0);
    assert_eq!(runner.run_once(now + 60).await.unwrap(), 1);
    let calls = deliver.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![(id, vec![0, 1, 2]), (bounce.id, vec![0]), (id, vec![1])]
    );
    let entry = store.queue_get(id).await.unwrap().unwrap();
    assert!(matches!(
        entry.recipients[1].status,
        RecipientStatus::Pending { attempts: 2, .. }
    ));
}

#[tokio::test]
async fn finished_entries_leave_the_queue() {
    let store = Arc::new(MemoryStore::new());
    store
        .enqueue(
            QueueId::generate(2),
            &envelope(&["ok@a.example"]),
            b"Subject: t\r\n\r\nbody\r\n",
        )
        .await
        .unwrap();
    let runner = QueueRunner::new(store.clone(), Arc::new(Scripted::default()));
    runner.run_once(queue::now_unix()).await.unwrap();
    assert!(store.queue_list().await.unwrap().is_empty());
}

#[tokio::test]
async fn finished_entries_are_removed_at_most_once_per_interval() {
    let store = Arc::new(MemoryStore::new());
    let body = b"Subject: t\r\n\r\nbody\r\n";
    let mut runner = QueueRunner::new(store.clone(), Arc::new(Scripted::default()));
    runner.collect_interval = std::time::Duration::from_secs(3600);
    let now = queue::now_unix();
    store
        .enqueue(QueueId::generate(3), &envelope(&["ok@a.example"]), body)
        .await
        .unwrap();
    runner.run_once(now).await.unwrap();
    assert!(
        store.queue_list().await.unwrap().is_empty(),
        "the first removal is not held back"
    );

    store
        .enqueue(QueueId::generate(4), &envelope(&["ok@a.example"]), body)
        .await
        .unwrap();
    runner.run_once(now).await.unwrap();
    let left = store.queue_list().await.unwrap();
    assert_eq!(left.len(), 1, "removal waits for the interval");
    assert_eq!(left[0].recipients[0].status, RecipientStatus::Delivered);
    assert_eq!(
        runner.run_once(now).await.unwrap(),
        0,
        "a delivered entry is never due again"
    );

    runner.collect_interval = std::time::Duration::ZERO;
    assert_eq!(runner.run_once(now).await.unwrap(), 0);
    assert!(
        store.queue_list().await.unwrap().is_empty(),
        "an idle pass removes it"
    );
}

#[tokio::test]
async fn entries_finished_at_enqueue_are_removed_once_the_runner_is_told() {
    let store = Arc::new(MemoryStore::new());
    store
        .domain_add(&message::Domain::parse("a.example").unwrap())
        .await
        .unwrap();
    let account = store
        .account_add(&Address::parse("ok@a.example").unwrap(), "x")
        .await
        .unwrap();
    let mut runner = QueueRunner::new(store.clone(), Arc::new(Scripted::default()));
    runner.collect_interval = std::time::Duration::ZERO;
    let now = queue::now_unix();
    assert_eq!(runner.run_once(now).await.unwrap(), 0); // the start-up pass

    let filing = store::Filing {
        recipient: 0,
        account,
        prefix: vec![],
        summary: None,
    };
    let body = b"Subject: t\r\n\r\nbody\r\n";
    store
        .enqueue_and_file(
            QueueId::generate(9),
            &envelope(&["ok@a.example"]),
            body,
            &[filing],
        )
        .await
        .unwrap();
    runner.run_once(now).await.unwrap();
    assert_eq!(
        store.queue_list().await.unwrap().len(),
        1,
        "nobody said it was finished"
    );
    runner.handle().finished_elsewhere();
    runner.run_once(now).await.unwrap();
    assert!(store.queue_list().await.unwrap().is_empty());
}

/// A full mailbox is retried with its 4.2.2 reason, and once the message is older
/// than `max_age` the recipient fails with the 5.2.2 one, which the bounce reports.
#[tokio::test]
async fn a_full_mailbox_is_retried_then_bounced_as_permanent() {
    let store = Arc::new(MemoryStore::new());
    let id = QueueId::generate(3);
    store
        .enqueue(
            id,
            &envelope(&["full@a.example"]),
            b"Subject: t\r\n\r\nbody\r\n",
        )
        .await
        .unwrap();
    let runner = QueueRunner::new(store.clone(), Arc::new(Scripted::default()));
    let queued_at = store.queue_get(id).await.unwrap().unwrap().queued_at;
    runner.run_once(queued_at).await.unwrap();
    let entry = store.queue_get(id).await.unwrap().unwrap();
    assert!(
        matches!(&entry.recipients[0].status, RecipientStatus::Pending { last_error: Some(e), .. } if e.starts_with("4.2.2")),
        "{:?}",
        entry.recipients[0].status
    );
    assert_eq!(store.queue_list().await.unwrap().len(), 1, "no bounce yet");

    let expired = queued_at + runner.schedule.max_age_secs + 1;
    runner.run_once(expired).await.unwrap();
    let entry = store.queue_get(id).await.unwrap().unwrap();
    assert_eq!(
        entry.recipients[0].status,
        RecipientStatus::Failed("gave up: 5.2.2 mailbox full".into())
    );
    let bounce = store
        .queue_list()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.id != id)
        .expect("bounce queued");
    let text = String::from_utf8(store.queue_body(bounce.id).await.unwrap()).unwrap();
    assert!(text.contains("Status: 5.2.2"), "{text}");
    assert!(text.contains("Action: failed"), "{text}");
}

/// Holds `slow` recipients until released; delivers the rest at once.
struct Gate {
    release: tokio::sync::Semaphore,
    started: tokio::sync::Notify,
}

#[async_trait]
impl Deliver for Gate {
    async fn deliver(&self, m: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        if m.envelope.recipients[0].local() == "slow" {
            self.started.notify_one();
            let _permit = self.release.acquire().await.unwrap();
        }
        pending.iter().map(|&i| (i, Attempt::Delivered)).collect()
    }
}

#[tokio::test]
async fn a_slow_destination_does_not_hold_up_other_mail() {
    let store = Arc::new(MemoryStore::new());
    let gate = Arc::new(Gate {
        release: tokio::sync::Semaphore::new(0),
        started: tokio::sync::Notify::new(),
    });
    let runner = QueueRunner::new(store.clone(), gate.clone());
    let handle = runner.handle();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(runner.run(stopped));
    let body = b"Subject: t\r\n\r\nbody\r\n";
    let slow = QueueId::generate(20);
    store
        .enqueue(slow, &envelope(&["slow@a.example"]), body)
        .await
        .unwrap();
    handle.notify();
    // The slow attempt is under way before the other message arrives.
    tokio::time::timeout(std::time::Duration::from_secs(10), gate.started.notified())
        .await
        .expect("the slow attempt started");
    let fast = QueueId::generate(21);
    store
        .enqueue(fast, &envelope(&["ok@b.example"]), body)
        .await
        .unwrap();
    handle.notify();
    let delivered = |id| {
        let store = store.clone();
        async move {
            match store.queue_get(id).await.unwrap() {
                None => true,
                Some(m) => m.recipients[0].status == RecipientStatus::Delivered,
            }
        }
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !delivered(fast).await {
        assert!(tokio::time::Instant::now() < deadline, "fast mail waited");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!delivered(slow).await, "the slow one is still on its way");
    gate.release.add_permits(1);
    while !delivered(slow).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "slow mail never finished"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn shutdown_abandons_attempts_that_outlast_the_grace_period() {
    let store = Arc::new(MemoryStore::new());
    let gate = Arc::new(Gate {
        release: tokio::sync::Semaphore::new(0),
        started: tokio::sync::Notify::new(),
    });
    let mut runner = QueueRunner::new(store.clone(), gate.clone());
    runner.shutdown_grace = std::time::Duration::from_millis(200);
    let handle = runner.handle();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(runner.run(stopped));
    let id = QueueId::generate(30);
    store
        .enqueue(
            id,
            &envelope(&["slow@a.example"]),
            b"Subject: t\r\n\r\nbody\r\n",
        )
        .await
        .unwrap();
    handle.notify();
    tokio::time::timeout(std::time::Duration::from_secs(10), gate.started.notified())
        .await
        .expect("the attempt started");
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("the runner stops although the attempt never ends")
        .unwrap();
    let entry = store.queue_get(id).await.unwrap().expect("still queued");
    assert!(matches!(
        entry.recipients[0].status,
        RecipientStatus::Pending { attempts: 0, .. }
    ));
}

/// A condition on the queue's entries, polled for.
type Predicate = dyn Fn(&[QueuedMessage]) -> bool + Send;

/// An entry finished where the runner cannot hear of it (`postie sendmail` filing
/// local mail in another process, another node) is swept away all the same, so
/// `postie queue list` does not show it as delivered for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_finished_elsewhere_are_swept() {
    let store = Arc::new(MemoryStore::new());
    let wait_until = |what: &'static str, done: Box<Predicate>| {
        let store = store.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !done(&store.queue_list().await.unwrap()) {
                assert!(std::time::Instant::now() < deadline, "{what}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    // One held entry (the runner leaves it alone) and one it delivers and removes:
    // once that one is gone, the runner's own removals are behind it.
    let held = QueueId::generate(7);
    let mine = QueueId::generate(8);
    for id in [held, mine] {
        store
            .enqueue(
                id,
                &envelope(&["ok@a.example"]),
                b"Subject: t\r\n\r\nbody\r\n",
            )
            .await
            .unwrap();
    }
    store.queue_hold(held, true).await.unwrap();
    let mut runner = QueueRunner::new(store.clone(), Arc::new(Scripted::default()));
    runner.poll_interval = std::time::Duration::from_millis(50);
    runner.sweep_interval = std::time::Duration::from_millis(200);
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(runner.run(shutdown));
    let only_held = move |q: &[QueuedMessage]| q.len() == 1 && q[0].id == held;
    wait_until("the runner's own entry removed", Box::new(only_held)).await;
    // Finished behind its back: nobody tells the runner.
    store
        .queue_mark(held, 0, &store::RecipientOutcome::Delivered)
        .await
        .unwrap();
    wait_until("the finished entry swept", Box::new(|q| q.is_empty())).await;
    stop.send(true).unwrap();
    running.await.unwrap();
}

/// Answers every recipient with a temporary failure after `takes` (a greeting that
/// times out).
struct SlowFailure {
    takes: std::time::Duration,
}

#[async_trait]
impl Deliver for SlowFailure {
    async fn deliver(&self, _m: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        tokio::time::sleep(self.takes).await;
        pending
            .iter()
            .map(|&i| (i, Attempt::Temporary("timed out".into())))
            .collect()
    }
}

/// The first retry after a 300 s timeout waits its backoff from the end of the
/// attempt, not from its start (which would make it due at once).
#[tokio::test(start_paused = true)]
async fn a_retry_is_counted_from_the_end_of_the_attempt() {
    let store = Arc::new(MemoryStore::new());
    let id = QueueId::generate(30);
    store
        .enqueue(
            id,
            &envelope(&["x@tarpit.example"]),
            b"Subject: t\r\n\r\nb\r\n",
        )
        .await
        .unwrap();
    let takes = std::time::Duration::from_secs(300);
    let runner = QueueRunner::new(store.clone(), Arc::new(SlowFailure { takes }));
    let start = queue::now_unix();
    assert_eq!(runner.run_once(start).await.unwrap(), 1);
    let entry = store.queue_get(id).await.unwrap().unwrap();
    let RecipientStatus::Pending { next_attempt, .. } = entry.recipients[0].status else {
        panic!("deferred: {:?}", entry.recipients[0].status);
    };
    // The default schedule's first step is 60 s.
    assert_eq!(next_attempt, start + 300 + 60);
    assert_eq!(
        runner.run_once(start + 300).await.unwrap(),
        0,
        "not due yet"
    );
}
