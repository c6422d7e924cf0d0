//! Delivery outcomes are counted (`postie_deliveries_total{result, domain}`): the
//! runner over the in-memory store with a scripted deliverer, its counts rendered
//! through a Prometheus recorder that only this test's thread uses.

use async_trait::async_trait;
use message::{Address, BodyType, Envelope, QueueId};
use queue::{Attempt, Deliver, QueueRunner};
use std::sync::Arc;
use store::QueuedMessage;
use store::Store;
use store::memory::MemoryStore;

/// Answers each recipient by its local part: `ok`, `later`, anything else fails.
struct Scripted;

#[async_trait]
impl Deliver for Scripted {
    async fn deliver(&self, m: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        pending
            .iter()
            .map(|&i| {
                let a = match m.envelope.recipients[i].local() {
                    "ok" => Attempt::Delivered,
                    "later" => Attempt::Temporary("4.0.0 busy".into()),
                    _ => Attempt::Permanent("5.0.0 no".into()),
                };
                (i, a)
            })
            .collect()
    }
}

// current_thread (the default): the runner's tasks run on this thread, which the
// local recorder covers.
#[tokio::test]
async fn outcomes_are_counted_by_result_and_domain() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);

    let store = Arc::new(MemoryStore::new());
    let envelope = Envelope {
        // No sender: the failure is not bounced, so only these recipients count.
        sender: None,
        recipients: [
            "ok@a.example",
            "ok@B.Example",
            "later@a.example",
            "no@a.example",
        ]
        .iter()
        .map(|r| Address::parse(r).unwrap())
        .collect(),
        body_type: BodyType::SevenBit,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    };
    store
        .enqueue(
            QueueId::generate(1),
            &envelope,
            b"Subject: t\r\n\r\nbody\r\n",
        )
        .await
        .unwrap();
    let runner = QueueRunner::new(store.clone(), Arc::new(Scripted));
    assert_eq!(runner.run_once(queue::now_unix()).await.unwrap(), 1);

    let text = handle.render();
    for line in [
        r#"postie_deliveries_total{result="delivered",domain="a.example"} 1"#,
        r#"postie_deliveries_total{result="delivered",domain="b.example"} 1"#,
        r#"postie_deliveries_total{result="deferred",domain="a.example"} 1"#,
        r#"postie_deliveries_total{result="failed",domain="a.example"} 1"#,
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing in:\n{text}"
        );
    }
}
