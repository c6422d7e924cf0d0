//! Reports to the sender from the queue runner: bounces, delay warnings and success
//! reports, each only when the sender's DSN requests (RFC 3461) ask for it.

use async_trait::async_trait;
use message::dsn::{Notify, RecipientDsn};
use message::{Address, BodyType, Envelope, QueueId};
use queue::schedule::Schedule;
use queue::{Attempt, Deliver, QueueRunner};
use std::sync::Arc;
use store::memory::MemoryStore;
use store::{QueuedMessage, Store};

/// Answers by local part: `ok` delivered (next hop has DSN), `relay` relayed to a hop
/// without DSN, `later` temporary, `never` permanent; `big` refused for good by us (the
/// relay's wording of a SIZE refusal it decided), `hosts` refused for good at two hosts
/// (the relay's summary line, then one line per host); `mb` (the sender's mailbox)
/// takes reports.
struct Scripted;

#[async_trait]
impl Deliver for Scripted {
    async fn deliver(&self, m: &QueuedMessage, pending: &[usize]) -> Vec<(usize, Attempt)> {
        pending
            .iter()
            .map(|&i| {
                let a = match m.envelope.recipients[i].local() {
                    "ok" | "mb" => Attempt::Delivered,
                    "relay" => Attempt::Relayed,
                    "big" => Attempt::Permanent(
                        "5.3.4 mx.a.example[127.0.0.9]: message size 900 exceeds the limit of \
                         500 at 127.0.0.9:25"
                            .into(),
                    ),
                    "hosts" => Attempt::Permanent(
                        "mx2.a.example[127.0.0.8] said: 554 5.7.1 no\n  \
                         mx1.a.example[127.0.0.9]: 4.4.2 connection closed\n  \
                         mx2.a.example[127.0.0.8]: 554 5.7.1 no"
                            .into(),
                    ),
                    "later" => Attempt::Temporary(
                        "mx.a.example[127.0.0.9] said: 451 4.3.0 try later".into(),
                    ),
                    _ => Attempt::Permanent(
                        "mx.a.example[127.0.0.9] said: 550 5.1.1 no such user".into(),
                    ),
                };
                (i, a)
            })
            .collect()
    }
}

fn addr(a: &str) -> Address {
    Address::parse(a).unwrap()
}

fn envelope(sender: Option<&str>, rcpts: &[(&str, Option<&str>)]) -> Envelope {
    let mut env = Envelope {
        sender: sender.map(addr),
        recipients: rcpts.iter().map(|(r, _)| addr(r)).collect(),
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

const BODY: &[u8] = b"Subject: original\r\nMessage-ID: <o@x>\r\n\r\nbody\r\n";

/// The reports queued so far (entries from <>), with their bodies.
async fn reports(store: &MemoryStore) -> Vec<(QueuedMessage, String)> {
    let mut out = Vec::new();
    for m in store.queue_list().await.unwrap() {
        if m.envelope.sender.is_none() {
            let body = store.queue_body(m.id).await.unwrap();
            out.push((m, String::from_utf8_lossy(&body).into_owned()));
        }
    }
    out
}

async fn queued(store: &Arc<MemoryStore>, id: u64, env: &Envelope) -> QueueId {
    let id = QueueId::generate(id);
    store.enqueue(id, env, BODY).await.unwrap();
    id
}

#[tokio::test]
async fn a_failure_bounces_once_with_the_remote_reply() {
    let store = Arc::new(MemoryStore::new());
    let env = envelope(
        Some("mb@s.example"),
        &[("never@a.example", None), ("ok@a.example", None)],
    );
    queued(&store, 1, &env).await;
    let runner = QueueRunner::new(store.clone(), Arc::new(Scripted)).with_hostname("mx.test");
    runner.run_once(queue::now_unix()).await.unwrap();
    let got = reports(&store).await;
    assert_eq!(got.len(), 1);
    let (m, body) = &got[0];
    assert_eq!(m.envelope.recipients, vec![addr("mb@s.example")]);
    for want in [
        "Reporting-MTA: dns; mx.test",
        "Final-Recipient: rfc822; never@a.example",
        "Action: failed",
        "Status: 5.1.1",
        "Remote-MTA: dns; mx.a.example",
        "Diagnostic-Code: smtp; 550 5.1.1 no such user",
        "Subject: original",
    ] {
        assert!(
            body.replace("rfc822;never", "rfc822; never").contains(want),
            "{want:?} in\n{body}"
        );
    }
    assert!(!body.contains("ok@a.example"), "only the failed recipient");
}

#[tokio::test]
async fn a_refusal_we_decided_is_reported_as_ours_and_only_the_summary_goes_out() {
    let store = Arc::new(MemoryStore::new());
    let env = envelope(
        Some("mb@s.example"),
        &[("big@a.example", None), ("hosts@a.example", None)],
    );
    queued(&store, 1, &env).await;
    let runner = QueueRunner::new(store.clone(), Arc::new(Scripted)).with_hostname("mx.test");
    runner.run_once(queue::now_unix()).await.unwrap();
    let got = reports(&store).await;
    assert_eq!(got.len(), 1);
    let body = got[0].1.replace("\r\n ", " ");
    let blocks: Vec<&str> = body.split("\r\n\r\n").collect();
    let block = |rcpt: &str| {
        *blocks
            .iter()
            .find(|b| b.contains(&format!("Final-Recipient: rfc822;{rcpt}")))
            .unwrap_or_else(|| panic!("a block for {rcpt} in\n{body}"))
    };
    // Our own SIZE decision: no Remote-MTA, not an SMTP reply the server gave.
    let big = block("big@a.example");
    assert!(big.contains("Status: 5.3.4"), "{big}");
    assert!(
        big.contains("Diagnostic-Code: x-postie; 5.3.4 mx.a.example[127.0.0.9]: message size 900"),
        "{big}"
    );
    assert!(!big.contains("Remote-MTA"), "{big}");
    assert!(!big.contains("smtp;"), "{big}");
    // Several hosts: the report is made of the summary line alone.
    let hosts = block("hosts@a.example");
    assert!(hosts.contains("Status: 5.7.1"), "{hosts}");
    assert!(hosts.contains("Remote-MTA: dns; mx2.a.example"), "{hosts}");
    assert!(
        hosts.contains("Diagnostic-Code: smtp; 554 5.7.1 no\r\n"),
        "{hosts}"
    );
    assert!(!body.contains("connection closed"), "{body}");
}

#[tokio::test]
async fn notify_never_and_null_senders_get_no_report() {
    let store = Arc::new(MemoryStore::new());
    queued(
        &store,
        1,
        &envelope(Some("mb@s.example"), &[("never@a.example", Some("NEVER"))]),
    )
    .await;
    queued(&store, 2, &envelope(None, &[("never@a.example", None)])).await;
    let runner = QueueRunner::new(store.clone(), Arc::new(Scripted));
    runner.run_once(queue::now_unix()).await.unwrap();
    let originals = [QueueId::generate(1), QueueId::generate(2)];
    let queued = store.queue_list().await.unwrap();
    assert!(
        queued.iter().all(|m| originals.contains(&m.id)),
        "no report queued: {queued:?}"
    );
}

#[tokio::test]
async fn a_delay_warning_is_sent_once_after_its_time() {
    let store = Arc::new(MemoryStore::new());
    let id = queued(
        &store,
        1,
        &envelope(
            Some("mb@s.example"),
            &[
                ("later@a.example", None),
                ("later@b.example", Some("FAILURE")),
            ],
        ),
    )
    .await;
    let runner = QueueRunner::new(store.clone(), Arc::new(Scripted)).with_schedule(Schedule::new(
        &[10],
        1000,
        100,
    ));
    let start = store.queue_get(id).await.unwrap().unwrap().queued_at;
    runner.run_once(start).await.unwrap();
    assert!(reports(&store).await.is_empty(), "not yet");
    runner.run_once(start + 100).await.unwrap();
    let got = reports(&store).await;
    assert_eq!(got.len(), 1, "the warning");
    let body = &got[0].1;
    assert!(body.contains("Action: delayed"), "{body}");
    assert!(body.contains("Will-Retry-Until:"), "{body}");
    assert!(
        !body.contains("later@b.example"),
        "NOTIFY=FAILURE asked for no delay report"
    );
    assert!(store.queue_get(id).await.unwrap().unwrap().warned);
    runner.run_once(start + 200).await.unwrap();
    let count = reports(&store)
        .await
        .iter()
        .filter(|(_, b)| b.contains("Action: delayed"))
        .count();
    assert_eq!(count, 1, "warned once only");
    // At the end of its life the message fails and bounces.
    runner.run_once(start + 995).await.unwrap();
    let failed = reports(&store)
        .await
        .iter()
        .filter(|(_, b)| b.contains("Action: failed"))
        .count();
    assert_eq!(failed, 1);
}

#[tokio::test]
async fn success_reports_only_when_asked_and_only_for_hops_without_dsn() {
    let store = Arc::new(MemoryStore::new());
    queued(
        &store,
        1,
        &envelope(
            Some("mb@s.example"),
            &[
                ("ok@a.example", Some("SUCCESS")),
                ("relay@b.example", Some("SUCCESS")),
                ("relay@c.example", None),
            ],
        ),
    )
    .await;
    let runner = QueueRunner::new(store.clone(), Arc::new(Scripted));
    runner.run_once(queue::now_unix()).await.unwrap();
    let got = reports(&store).await;
    assert_eq!(got.len(), 1);
    let body = &got[0].1;
    assert!(body.contains("Action: relayed"), "{body}");
    assert!(body.contains("relay@b.example"));
    assert!(
        !body.contains("ok@a.example"),
        "the DSN-capable next hop reports itself"
    );
    assert!(!body.contains("relay@c.example"), "no SUCCESS asked");
}
