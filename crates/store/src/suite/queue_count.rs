//! Suite case for [`Store::queue_pending_count`], the server's `postie_queue_messages`
//! gauge: entries with a pending recipient, held ones included, finished ones not.

use message::QueueId;

use super::{BODY, envelope, now};
use crate::{RecipientOutcome, Store};

pub(crate) async fn queue_pending_count_counts_entries_with_pending_recipients<S: Store>(s: &S) {
    assert_eq!(s.queue_pending_count().await.expect("count"), 0);
    let two = envelope(&["x@remote.example", "y@remote.example"]);
    for n in 1..=3 {
        s.enqueue(QueueId::from_u64(600 + n), &two, BODY)
            .await
            .expect("enqueue");
    }
    // An entry counts once, however many recipients it has.
    assert_eq!(s.queue_pending_count().await.expect("count"), 3);

    // Deferred still pends; held still counts.
    let deferred = RecipientOutcome::Deferred {
        next_attempt: now() + 3600,
        reason: "451 later".into(),
    };
    s.queue_mark(QueueId::from_u64(601), 0, &deferred)
        .await
        .expect("mark");
    s.queue_hold(QueueId::from_u64(602), true)
        .await
        .expect("hold");
    assert_eq!(s.queue_pending_count().await.expect("count"), 3);

    // One recipient done: still pending. Both done: finished, not counted, even
    // before collection.
    let failed = RecipientOutcome::Failed {
        reason: "550 no".into(),
    };
    let id = QueueId::from_u64(603);
    s.queue_mark(id, 0, &RecipientOutcome::Delivered)
        .await
        .expect("mark");
    assert_eq!(s.queue_pending_count().await.expect("count"), 3);
    s.queue_mark(id, 1, &failed).await.expect("mark");
    assert_eq!(s.queue_pending_count().await.expect("count"), 2);
    assert_eq!(s.queue_collect().await.expect("collect"), 1);
    assert_eq!(s.queue_pending_count().await.expect("count"), 2);

    s.queue_delete(QueueId::from_u64(602))
        .await
        .expect("delete");
    assert_eq!(s.queue_pending_count().await.expect("count"), 1);
}
