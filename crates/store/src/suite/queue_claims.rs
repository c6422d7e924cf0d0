//! Suite cases for queue claims (`Store::queue_claim`, `queue_renew`,
//! `queue_release`): several runners share one queue and never work on one entry at
//! once; a lease that is not renewed expires and another node takes the entry over.

use std::collections::BTreeSet;
use std::sync::Mutex;

use message::QueueId;

use super::{BODY, envelope, now};
use crate::{RecipientOutcome, Store};

/// A long lease: nothing in these cases outlives it unless the case says so.
const LONG: i64 = 3600;

/// Enqueues entries `ids` with one remote recipient each.
async fn enqueue_ids<S: Store>(s: &S, ids: impl IntoIterator<Item = u64>) {
    for n in ids {
        s.enqueue(QueueId::from_u64(n), &envelope(&["x@remote.example"]), BODY)
            .await
            .expect("enqueue");
    }
}

fn ids(ns: &[u64]) -> Vec<QueueId> {
    ns.iter().map(|&n| QueueId::from_u64(n)).collect()
}

pub(crate) async fn claim_takes_due_unleased_oldest_first<S: Store>(s: &S) {
    let t = now();
    enqueue_ids(s, 1..=4).await;
    // Entry 3 is not due for ten minutes.
    let later = RecipientOutcome::Deferred {
        next_attempt: t + 600,
        reason: "451 later".into(),
    };
    s.queue_mark(QueueId::from_u64(3), 0, &later)
        .await
        .expect("defer");
    assert!(
        s.queue_claim("node-a", t, t + LONG, 0)
            .await
            .expect("claim none")
            .is_empty()
    );
    assert_eq!(
        s.queue_claim("node-a", t + 1, t + LONG, 2)
            .await
            .expect("claim"),
        ids(&[1, 2]),
        "oldest first, up to the limit"
    );
    assert_eq!(
        s.queue_claim("node-b", t + 1, t + LONG, 10)
            .await
            .expect("claim"),
        ids(&[4]),
        "not another node's, not what is not due"
    );
    assert!(
        s.queue_claim("node-c", t + 1, t + LONG, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // A node's own leases are its own to claim again (and are renewed by it).
    assert_eq!(
        s.queue_claim("node-a", t + 1, t + LONG, 10)
            .await
            .expect("claim again"),
        ids(&[1, 2])
    );
    // Leases hide nothing from the other readers.
    assert_eq!(s.queue_due(t + 1, 10).await.expect("due").len(), 3);
    assert_eq!(s.queue_list().await.expect("list").len(), 4);
    // Once due, entry 3 is claimable like the rest.
    assert_eq!(
        s.queue_claim("node-c", t + 600, t + 600 + LONG, 10)
            .await
            .expect("claim"),
        ids(&[3])
    );
}

/// One of several concurrent claimers of `node`: claims as the queue runner does
/// (room for three more beside what the node holds, its own leases coming back
/// first) until a claim comes back short, i.e. nothing claimable was left.
async fn claimer<S: Store>(s: &S, node: &str, held: &Mutex<BTreeSet<QueueId>>, t: i64) {
    loop {
        let limit = held.lock().expect("held").len() + 3;
        let got = s
            .queue_claim(node, t, t + LONG, limit)
            .await
            .expect("claim");
        held.lock().expect("held").extend(got.iter().copied());
        if got.len() < limit {
            return;
        }
        tokio::task::yield_now().await;
    }
}

pub(crate) async fn claim_racing_claimers_get_disjoint_sets<S: Store>(s: &S) {
    let t = now();
    enqueue_ids(s, 1..=30).await;
    // Some entries with several recipients: an entry is claimed whole, once.
    for n in 31..=40u64 {
        s.enqueue(
            QueueId::from_u64(n),
            &envelope(&["x@remote.example", "y@remote.example", "z@other.example"]),
            BODY,
        )
        .await
        .expect("enqueue");
    }
    let (a, b) = (Mutex::default(), Mutex::default());
    let (a, b) = (&a, &b);
    tokio::join!(
        claimer(s, "node-a", a, t + 1),
        claimer(s, "node-b", b, t + 1),
        claimer(s, "node-a", a, t + 1),
        claimer(s, "node-b", b, t + 1),
        claimer(s, "node-a", a, t + 1),
        claimer(s, "node-b", b, t + 1),
        claimer(s, "node-a", a, t + 1),
        claimer(s, "node-b", b, t + 1),
        claimer(s, "node-a", a, t + 1),
        claimer(s, "node-b", b, t + 1),
        claimer(s, "node-a", a, t + 1),
        claimer(s, "node-b", b, t + 1),
        claimer(s, "node-a", a, t + 1),
        claimer(s, "node-b", b, t + 1),
        claimer(s, "node-a", a, t + 1),
        claimer(s, "node-b", b, t + 1),
    );
    let (a, b) = (a.lock().expect("a").clone(), b.lock().expect("b").clone());
    assert!(!a.is_empty() && !b.is_empty(), "both got work: {a:?} {b:?}");
    assert!(
        a.is_disjoint(&b),
        "claimed by both: {:?}",
        a.intersection(&b)
    );
    let all: BTreeSet<QueueId> = a.union(&b).copied().collect();
    let due: BTreeSet<QueueId> = s
        .queue_due_ids(t + 1, 100)
        .await
        .expect("due")
        .into_iter()
        .collect();
    assert_eq!(due.len(), 40);
    assert_eq!(all, due, "every due entry claimed by one of them");
    assert!(
        s.queue_claim("node-c", t + 1, t + LONG, 100)
            .await
            .expect("claim")
            .is_empty()
    );
}

pub(crate) async fn claim_expired_lease_goes_to_another_node<S: Store>(s: &S) {
    let t = now();
    enqueue_ids(s, [7]).await;
    assert_eq!(
        s.queue_claim("node-a", t + 1, t + 60, 10)
            .await
            .expect("claim"),
        ids(&[7])
    );
    // node-a dies: nobody renews. Until the lease expires the entry waits.
    assert!(
        s.queue_claim("node-b", t + 59, t + 59 + LONG, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        s.queue_claim("node-b", t + 60, t + 60 + LONG, 10)
            .await
            .expect("claim after expiry"),
        ids(&[7])
    );
    // node-a, back, learns it lost the entry and cannot take it back.
    assert!(
        s.queue_renew("node-a", &ids(&[7]), t + 120)
            .await
            .expect("renew")
            .is_empty()
    );
    assert!(
        s.queue_claim("node-a", t + 61, t + 61 + LONG, 10)
            .await
            .expect("claim")
            .is_empty()
    );
}

pub(crate) async fn claim_renew_extends_and_reports_lost<S: Store>(s: &S) {
    let t = now();
    enqueue_ids(s, [11, 12]).await;
    assert_eq!(
        s.queue_claim("node-a", t + 1, t + 60, 10)
            .await
            .expect("claim"),
        ids(&[11, 12])
    );
    // 13 does not exist; 11 and 12 are node-a's.
    assert_eq!(
        s.queue_renew("node-a", &ids(&[12, 13, 11]), t + 600)
            .await
            .expect("renew"),
        ids(&[12, 11])
    );
    assert!(
        s.queue_renew("node-b", &ids(&[11, 12]), t + 900)
            .await
            .expect("renew by another")
            .is_empty(),
        "renewing is no way to steal a lease"
    );
    assert!(
        s.queue_claim("node-b", t + 100, t + 100 + LONG, 10)
            .await
            .expect("claim")
            .is_empty(),
        "the renewed lease holds past its first expiry"
    );
    // Past the renewed expiry node-b takes 11; 12, expired but not taken, is still
    // node-a's to renew.
    assert_eq!(
        s.queue_claim("node-b", t + 600, t + 600 + LONG, 1)
            .await
            .expect("claim"),
        ids(&[11])
    );
    assert_eq!(
        s.queue_renew("node-a", &ids(&[11, 12]), t + 1200)
            .await
            .expect("renew"),
        ids(&[12]),
        "11 was lost to node-b"
    );
    assert!(
        s.queue_renew("node-a", &[], t + 1200)
            .await
            .expect("renew nothing")
            .is_empty()
    );
}

pub(crate) async fn claim_release_frees<S: Store>(s: &S) {
    let t = now();
    enqueue_ids(s, [21]).await;
    let id = QueueId::from_u64(21);
    assert_eq!(
        s.queue_claim("node-a", t + 1, t + LONG, 10)
            .await
            .expect("claim"),
        [id]
    );
    // Another node's release does nothing.
    s.queue_release("node-b", id).await.expect("release");
    assert!(
        s.queue_claim("node-b", t + 1, t + LONG, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    s.queue_release("node-a", id).await.expect("release");
    assert_eq!(
        s.queue_claim("node-b", t + 1, t + LONG, 10)
            .await
            .expect("claim after release"),
        [id]
    );
    // Releasing twice, or what does not exist, is no error.
    s.queue_release("node-a", id).await.expect("release again");
    s.queue_release("node-a", QueueId::from_u64(22))
        .await
        .expect("release unknown");
    // A deleted entry takes its lease with it.
    s.queue_delete(id).await.expect("delete");
    assert!(
        s.queue_renew("node-b", &[id], t + LONG)
            .await
            .expect("renew")
            .is_empty()
    );
}

pub(crate) async fn claim_skips_finished_and_held<S: Store>(s: &S) {
    let t = now();
    let (done, partly, held) = (
        QueueId::from_u64(31),
        QueueId::from_u64(32),
        QueueId::from_u64(33),
    );
    let two = envelope(&["x@remote.example", "y@remote.example"]);
    for id in [done, partly, held] {
        s.enqueue(id, &two, BODY).await.expect("enqueue");
    }
    // Every recipient of `done` has its outcome; it waits for collection.
    s.queue_mark(done, 0, &RecipientOutcome::Delivered)
        .await
        .expect("mark");
    let failed = RecipientOutcome::Failed {
        reason: "550 no".into(),
    };
    s.queue_mark(done, 1, &failed).await.expect("mark");
    // One recipient of `partly` is done, the other still due.
    s.queue_mark(partly, 0, &RecipientOutcome::Delivered)
        .await
        .expect("mark");
    s.queue_hold(held, true).await.expect("hold");
    assert_eq!(
        s.queue_claim("node-a", t + 1, t + LONG, 10)
            .await
            .expect("claim"),
        [partly]
    );
    assert!(
        s.queue_claim("node-b", t + 1, t + LONG, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    s.queue_hold(held, false).await.expect("release hold");
    assert_eq!(
        s.queue_claim("node-b", t + 1, t + LONG, 10)
            .await
            .expect("claim"),
        [held]
    );
    // Holding a leased entry keeps it from being claimed again, even by its node.
    s.queue_hold(partly, true).await.expect("hold leased");
    assert_eq!(
        s.queue_claim("node-a", t + 1, t + LONG, 10)
            .await
            .expect("claim"),
        Vec::<QueueId>::new()
    );
    // Collection removes the finished entry; the others stay.
    assert_eq!(s.queue_collect().await.expect("collect"), 1);
}
