//! Outcomes recorded as each transaction ends (`Deliver::deliver_reporting`): a
//! recipient one domain's server took is marked delivered while another domain of the
//! same message still stalls, so a runner that dies then (kill -9) leaves only the
//! stalled domain to be sent again by the runner that takes the entry over. Outcomes
//! that need a report to the sender still wait for the end of the attempt, and give
//! one report.

use async_trait::async_trait;
use message::dsn::{Notify, RecipientDsn};
use message::{Address, BodyType, Envelope, QueueId};
use queue::{Attempt, Deliver, Outcomes, QueueRunner};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::memory::MemoryStore;
use store::{QueuedMessage, RecipientStatus, Store};
use tokio::sync::{Notify as Wake, Semaphore};

const BODY: &[u8] = b"Subject: t\r\n\r\nbody\r\n";
const PATIENCE: Duration = Duration::from_secs(10);

/// Two destinations, as the relay has them: the recipients at `fast.example` get
/// `fast` in one transaction; then the `slow.example` transaction stalls (at DATA,
/// say) until `release` gets a permit, and its recipients are delivered.
struct TwoDomains {
    fast: Attempt,
    stalled: Wake,
    release: Semaphore,
}

impl TwoDomains {
    fn new(fast: Attempt) -> Arc<Self> {
        Arc::new(TwoDomains {
            fast,
            stalled: Wake::new(),
            release: Semaphore::new(0),
        })
    }
}

#[async_trait]
impl Deliver for TwoDomains {
    async fn deliver(&self, m: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        let mut all = Vec::new();
        self.deliver_reporting(m, pending, &mut all).await;
        all
    }

    async fn deliver_reporting(
        &self,
        m: &QueuedMessage,
        pending: &[usize],
        outcomes: &mut dyn Outcomes,
    ) {
        let (fast, slow): (Vec<usize>, Vec<usize>) = pending
            .iter()
            .partition(|&&i| m.envelope.recipients[i].domain().as_str() == "fast.example");
        if !fast.is_empty() {
            let fast = fast.iter().map(|&i| (i, self.fast.clone())).collect();
            outcomes.report(fast).await;
        }
        if !slow.is_empty() {
            self.stalled.notify_one();
            let _permit = self.release.acquire().await.unwrap();
            outcomes
                .report(slow.iter().map(|&i| (i, Attempt::Delivered)).collect())
                .await;
        }
    }
}

/// Delivers everything at once, noting what it was asked for.
#[derive(Default)]
struct Takeover {
    calls: Mutex<Vec<Vec<usize>>>,
}

#[async_trait]
impl Deliver for Takeover {
    async fn deliver(&self, _: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        self.calls.lock().unwrap().push(pending.to_vec());
        pending.iter().map(|&i| (i, Attempt::Delivered)).collect()
    }
}

/// From `s@example.net` to `rcpts`, each with its NOTIFY (`None`: the default).
fn envelope(rcpts: &[(&str, Option<&str>)]) -> Envelope {
    let mut env = Envelope {
        sender: Some(Address::parse("s@example.net").unwrap()),
        recipients: rcpts
            .iter()
            .map(|(r, _)| Address::parse(r).unwrap())
            .collect(),
        body_type: BodyType::SevenBit,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    };
    env.dsn.recipients = rcpts
        .iter()
        .map(|(_, n)| RecipientDsn {
            notify: n
                .map(|n| Notify::from_param(n).unwrap())
                .unwrap_or_default(),
            orcpt: None,
        })
        .collect();
    env
}

async fn statuses(store: &MemoryStore, id: QueueId) -> Vec<RecipientStatus> {
    let entry = store.queue_get(id).await.unwrap().expect("entry");
    entry.recipients.into_iter().map(|r| r.status).collect()
}

fn pending(status: &RecipientStatus) -> bool {
    matches!(status, RecipientStatus::Pending { .. })
}

/// The reports queued (entries from <>).
async fn reports(store: &MemoryStore) -> Vec<String> {
    let mut out = Vec::new();
    for m in store.queue_list().await.unwrap() {
        if m.envelope.sender.is_none() {
            let body = store.queue_body(m.id).await.unwrap();
            out.push(String::from_utf8_lossy(&body).into_owned());
        }
    }
    out
}

/// Starts one attempt of everything due (as a node's runner would) and waits until
/// it stalls in the slow domain.
async fn stalled_attempt(
    store: &Arc<MemoryStore>,
    deliver: &Arc<TwoDomains>,
) -> tokio::task::JoinHandle<()> {
    let mut runner = QueueRunner::new(store.clone(), deliver.clone()).with_node("victim");
    runner.lease = Duration::from_secs(30);
    let runner = Arc::new(runner);
    let attempt = tokio::spawn({
        let runner = runner.clone();
        async move {
            runner.run_once(queue::now_unix()).await.unwrap();
        }
    });
    tokio::time::timeout(PATIENCE, deliver.stalled.notified())
        .await
        .expect("the attempt reached the slow domain");
    attempt
}

/// The scenario of the e2e cluster test: the node stalls at the slow domain after the
/// fast one's 250, and is killed there. The fast recipient is already recorded, so the
/// node that takes the entry over (after the lease) sends only to the slow one.
#[tokio::test]
async fn a_domain_taken_is_recorded_while_another_stalls_and_not_sent_again() {
    let store = Arc::new(MemoryStore::new());
    let id = QueueId::generate(1);
    let env = envelope(&[("a@slow.example", None), ("b@fast.example", None)]);
    store.enqueue(id, &env, BODY).await.unwrap();
    let deliver = TwoDomains::new(Attempt::Delivered);
    let attempt = stalled_attempt(&store, &deliver).await;

    let now = statuses(&store, id).await;
    assert!(pending(&now[0]), "{now:?}");
    assert_eq!(now[1], RecipientStatus::Delivered, "recorded at its 250");

    // kill -9: the attempt goes away without a word; its lease runs out.
    attempt.abort();
    assert!(attempt.await.unwrap_err().is_cancelled());
    let takeover = Arc::new(Takeover::default());
    let other = QueueRunner::new(store.clone(), takeover.clone()).with_node("survivor");
    assert_eq!(other.run_once(queue::now_unix() + 31).await.unwrap(), 1);
    assert_eq!(
        *takeover.calls.lock().unwrap(),
        [vec![0]],
        "only slow.example again"
    );
    assert!(store.queue_list().await.unwrap().is_empty(), "finished");
    assert!(reports(&store).await.is_empty());
}

/// The end of a stalled attempt records the rest as before; the entry then leaves.
#[tokio::test]
async fn the_stalled_domain_is_recorded_when_it_ends() {
    let store = Arc::new(MemoryStore::new());
    let id = QueueId::generate(2);
    let env = envelope(&[
        ("a@fast.example", None),
        ("b@slow.example", None),
        ("c@fast.example", None),
    ]);
    store.enqueue(id, &env, BODY).await.unwrap();
    let deliver = TwoDomains::new(Attempt::Relayed); // no success report asked for
    let attempt = stalled_attempt(&store, &deliver).await;
    let now = statuses(&store, id).await;
    assert_eq!(now[0], RecipientStatus::Delivered);
    assert!(pending(&now[1]), "{now:?}");
    assert_eq!(now[2], RecipientStatus::Delivered);

    deliver.release.add_permits(1);
    tokio::time::timeout(PATIENCE, attempt)
        .await
        .expect("the attempt ended")
        .unwrap();
    assert!(store.queue_list().await.unwrap().is_empty(), "finished");
    assert!(reports(&store).await.is_empty());
}

/// What must be reported to the sender is recorded only after the report is queued,
/// at the end of the attempt, as one report: a failure (bounce) and a relay the
/// sender asked to hear of (NOTIFY=SUCCESS).
#[tokio::test]
async fn outcomes_with_a_report_wait_for_the_end_of_the_attempt() {
    for (fast, notify, want) in [
        (
            Attempt::Permanent("mx.fast.example[127.0.0.9] said: 550 5.1.1 no such user".into()),
            None,
            "Action: failed",
        ),
        (Attempt::Relayed, Some("SUCCESS"), "Action: relayed"),
    ] {
        let store = Arc::new(MemoryStore::new());
        let id = QueueId::generate(3);
        let env = envelope(&[
            ("a@fast.example", notify),
            ("b@fast.example", notify),
            ("c@slow.example", None),
        ]);
        store.enqueue(id, &env, BODY).await.unwrap();
        let deliver = TwoDomains::new(fast.clone());
        let attempt = stalled_attempt(&store, &deliver).await;
        assert!(
            statuses(&store, id).await.iter().all(pending),
            "{fast:?}: nothing recorded before its report"
        );
        assert!(reports(&store).await.is_empty(), "{fast:?}");

        deliver.release.add_permits(1);
        tokio::time::timeout(PATIENCE, attempt)
            .await
            .expect("the attempt ended")
            .unwrap();
        let got = reports(&store).await;
        assert_eq!(got.len(), 1, "{fast:?}: one report for the attempt");
        assert_eq!(got[0].matches(want).count(), 2, "{fast:?}: {}", got[0]);
        let original = store.queue_get(id).await.unwrap();
        assert!(original.is_none(), "{fast:?}: finished: {original:?}");
    }
}
