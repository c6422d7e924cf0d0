//! Suite cases for what the outbound relay and `postie queue` need from the store:
//! DSN requests kept with the entry, hold/release, flush, delete and the delay-warning
//! mark.

use message::QueueId;
use message::dsn::{Dsn, Notify, RecipientDsn, Ret};

use super::{BODY, dom, envelope, now};
use crate::{RecipientOutcome, RecipientStatus, Store, StoreError};

/// The next attempt of recipient `i` of `id`.
async fn next_attempt<S: Store>(s: &S, id: QueueId, i: usize) -> i64 {
    let entry = s.queue_get(id).await.expect("get").expect("entry");
    match entry.recipients[i].status {
        RecipientStatus::Pending { next_attempt, .. } => next_attempt,
        ref other => panic!("recipient {i} is {other:?}"),
    }
}

/// Defers every recipient of `id` by an hour.
async fn defer_all<S: Store>(s: &S, id: QueueId, count: usize) {
    for i in 0..count {
        let outcome = RecipientOutcome::Deferred {
            next_attempt: now() + 3600,
            reason: "451 later".into(),
        };
        s.queue_mark(id, i, &outcome).await.expect("mark");
    }
}

pub(crate) async fn dsn_requests_are_kept<S: Store>(s: &S) {
    let mut env = envelope(&["x@remote.example", "y@remote.example"]);
    env.dsn = Dsn {
        ret: Some(Ret::Headers),
        envid: Some("QQ 314".into()),
        recipients: vec![RecipientDsn {
            notify: Notify::from_param("SUCCESS,DELAY").expect("notify"),
            orcpt: Some("rfc822;x+2B1@remote.example".into()),
        }],
    };
    let id = QueueId::from_u64(101);
    s.enqueue(id, &env, BODY).await.expect("enqueue");
    let got = s.queue_get(id).await.expect("get").expect("entry");
    assert_eq!(got.envelope.dsn.ret, Some(Ret::Headers));
    assert_eq!(got.envelope.dsn.envid.as_deref(), Some("QQ 314"));
    assert_eq!(got.envelope.dsn.recipient(0), env.dsn.recipients[0]);
    assert_eq!(got.envelope.dsn.recipient(1), RecipientDsn::default());
    assert_eq!(got.envelope.dsn.recipients.len(), 2);
    assert!(!got.held && !got.warned);
    assert!(
        s.queue_get(QueueId::from_u64(102))
            .await
            .expect("get")
            .is_none()
    );
}

pub(crate) async fn hold_and_release<S: Store>(s: &S) {
    let id = QueueId::from_u64(103);
    s.enqueue(id, &envelope(&["x@remote.example"]), BODY)
        .await
        .expect("enqueue");
    s.queue_hold(id, true).await.expect("hold");
    assert!(s.queue_due(now() + 10, 10).await.expect("due").is_empty());
    assert!(s.queue_get(id).await.expect("get").expect("entry").held);
    assert!(
        s.queue_due_ids(now() + 10, 10)
            .await
            .expect("ids")
            .is_empty()
    );
    s.queue_hold(id, false).await.expect("release");
    assert_eq!(s.queue_due(now() + 10, 10).await.expect("due").len(), 1);
    assert_eq!(s.queue_due_ids(now() + 10, 10).await.expect("ids"), [id]);
    assert!(matches!(
        s.queue_hold(QueueId::from_u64(104), true).await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn flush_by_id_domain_and_all<S: Store>(s: &S) {
    let a = QueueId::from_u64(105);
    let b = QueueId::from_u64(106);
    s.enqueue(a, &envelope(&["x@one.example", "y@Two.example"]), BODY)
        .await
        .expect("enqueue a");
    s.enqueue(b, &envelope(&["z@one.example"]), BODY)
        .await
        .expect("enqueue b");
    defer_all(s, a, 2).await;
    defer_all(s, b, 1).await;
    let t = now();
    assert!(s.queue_due(t, 10).await.expect("due").is_empty());

    // By domain: only y@Two.example, compared case-insensitively.
    assert_eq!(
        s.queue_flush(None, Some(&dom("two.EXAMPLE")), t)
            .await
            .expect("flush"),
        1
    );
    assert_eq!(next_attempt(s, a, 1).await, t);
    assert!(next_attempt(s, a, 0).await > t);
    // By id.
    assert_eq!(s.queue_flush(Some(b), None, t).await.expect("flush"), 1);
    assert_eq!(next_attempt(s, b, 0).await, t);
    assert!(next_attempt(s, a, 0).await > t);
    // Everything pending; a final recipient is left alone.
    s.queue_mark(a, 1, &RecipientOutcome::Delivered)
        .await
        .expect("mark");
    assert_eq!(s.queue_flush(None, None, t).await.expect("flush"), 2);
    assert_eq!(next_attempt(s, a, 0).await, t);
    assert_eq!(s.queue_due(t, 10).await.expect("due").len(), 2);
    // A held entry stays held.
    s.queue_hold(a, true).await.expect("hold");
    s.queue_flush(Some(a), None, t).await.expect("flush");
    let due = s.queue_due(t, 10).await.expect("due");
    assert_eq!(due.iter().map(|m| m.id).collect::<Vec<_>>(), vec![b]);
}

pub(crate) async fn delete_and_warned<S: Store>(s: &S) {
    let id = QueueId::from_u64(107);
    s.enqueue(id, &envelope(&["x@remote.example"]), BODY)
        .await
        .expect("enqueue");
    s.queue_set_warned(id).await.expect("warned");
    assert!(s.queue_get(id).await.expect("get").expect("entry").warned);
    s.queue_delete(id).await.expect("delete");
    assert!(s.queue_get(id).await.expect("get").is_none());
    assert!(s.queue_list().await.expect("list").is_empty());
    assert!(s.queue_body(id).await.is_err());
    assert!(matches!(
        s.queue_delete(id).await,
        Err(StoreError::NotFound(_))
    ));
}
