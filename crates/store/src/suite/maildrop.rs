//! Suite cases for POP3 maildrop locks (`Store::maildrop_lock`, `maildrop_unlock`):
//! one session per maildrop (RFC 1939 §8) across nodes; a lease that is not renewed
//! expires and another session takes the maildrop over.

use super::{addr, inbox, now, with_alice};
use crate::{MailboxId, Store, StoreError};

/// A lease: nothing in these cases outlives it unless the case says so.
const LEASE: i64 = 600;

pub(crate) async fn maildrop_lock_is_exclusive<S: Store>(s: &S) {
    let t = now();
    let alice = with_alice(s).await;
    let mbox = inbox(s, alice).await.id;
    assert!(
        s.maildrop_lock(mbox, "node-a:1", t, t + LEASE)
            .await
            .expect("take")
    );
    assert!(
        !s.maildrop_lock(mbox, "node-b:7", t + 1, t + LEASE)
            .await
            .expect("refused"),
        "another holder's live lease"
    );
    assert!(
        !s.maildrop_lock(mbox, "node-a:2", t + 1, t + LEASE)
            .await
            .expect("refused"),
        "another session of the same node is another holder"
    );
    // Another mailbox of the account is not locked by it.
    let other = s
        .mailbox_create(alice, "Old mail", None)
        .await
        .expect("create")
        .id;
    assert!(
        s.maildrop_lock(other, "node-b:7", t, t + LEASE)
            .await
            .expect("other")
    );
}

pub(crate) async fn maildrop_same_holder_extends<S: Store>(s: &S) {
    let t = now();
    let alice = with_alice(s).await;
    let mbox = inbox(s, alice).await.id;
    assert!(
        s.maildrop_lock(mbox, "node-a:1", t, t + 10)
            .await
            .expect("take")
    );
    assert!(
        s.maildrop_lock(mbox, "node-a:1", t + 5, t + 100)
            .await
            .expect("renew")
    );
    // The first lease would be over at t + 10; the renewed one is not.
    assert!(
        !s.maildrop_lock(mbox, "node-b:1", t + 50, t + 200)
            .await
            .expect("still held")
    );
    // A lease that expired, not yet taken by anyone, is still the holder's to renew.
    assert!(
        s.maildrop_lock(mbox, "node-a:1", t + 150, t + 300)
            .await
            .expect("renew late")
    );
    assert!(
        !s.maildrop_lock(mbox, "node-b:1", t + 200, t + 400)
            .await
            .expect("held again")
    );
}

pub(crate) async fn maildrop_expired_lease_hands_over<S: Store>(s: &S) {
    let t = now();
    let alice = with_alice(s).await;
    let mbox = inbox(s, alice).await.id;
    assert!(
        s.maildrop_lock(mbox, "dead:1", t, t + 10)
            .await
            .expect("take")
    );
    assert!(
        !s.maildrop_lock(mbox, "node-b:1", t + 9, t + LEASE)
            .await
            .expect("live until t + 10")
    );
    assert!(
        s.maildrop_lock(mbox, "node-b:1", t + 10, t + LEASE)
            .await
            .expect("expired at t + 10")
    );
    // The dead holder's late renewal finds it taken, and its unlock is a no-op.
    assert!(
        !s.maildrop_lock(mbox, "dead:1", t + 11, t + LEASE)
            .await
            .expect("taken over")
    );
    s.maildrop_unlock(mbox, "dead:1").await.expect("unlock");
    assert!(
        !s.maildrop_lock(mbox, "node-c:1", t + 12, t + LEASE)
            .await
            .expect("still node-b's")
    );
}

pub(crate) async fn maildrop_unlock_frees_only_for_the_holder<S: Store>(s: &S) {
    let t = now();
    let alice = with_alice(s).await;
    let mbox = inbox(s, alice).await.id;
    assert!(
        s.maildrop_lock(mbox, "node-a:1", t, t + LEASE)
            .await
            .expect("take")
    );
    s.maildrop_unlock(mbox, "node-b:1")
        .await
        .expect("unlock by a non-holder");
    assert!(
        !s.maildrop_lock(mbox, "node-b:1", t, t + LEASE)
            .await
            .expect("still held")
    );
    s.maildrop_unlock(mbox, "node-a:1").await.expect("unlock");
    assert!(
        s.maildrop_lock(mbox, "node-b:1", t, t + LEASE)
            .await
            .expect("free again")
    );
    // Unlocking twice, or what nobody holds, is no error.
    s.maildrop_unlock(mbox, "node-a:1").await.expect("again");
}

pub(crate) async fn maildrop_unknown_or_deleted_mailbox<S: Store>(s: &S) {
    let t = now();
    assert!(matches!(
        s.maildrop_lock(MailboxId(987_654), "node-a:1", t, t + LEASE)
            .await,
        Err(StoreError::NotFound(_))
    ));
    s.maildrop_unlock(MailboxId(987_654), "node-a:1")
        .await
        .expect("unlocking an unknown mailbox is no error");
    let alice = with_alice(s).await;
    let archive = s
        .mailbox_create(alice, "Old mail", None)
        .await
        .expect("create")
        .id;
    assert!(
        s.maildrop_lock(archive, "node-a:1", t, t + LEASE)
            .await
            .expect("take")
    );
    s.mailbox_delete(alice, "Old mail").await.expect("delete");
    assert!(matches!(
        s.maildrop_lock(archive, "node-b:1", t, t + LEASE).await,
        Err(StoreError::NotFound(_))
    ));
    s.maildrop_unlock(archive, "node-a:1")
        .await
        .expect("the holder's unlock after the delete");
    // A mailbox of the same name made again is a new, unlocked one.
    let again = s
        .mailbox_create(alice, "Old mail", None)
        .await
        .expect("re-create")
        .id;
    assert!(
        s.maildrop_lock(again, "node-b:1", t, t + LEASE)
            .await
            .expect("free")
    );
    // Removing the account drops its mailboxes' locks with them.
    let mbox = inbox(s, alice).await.id;
    assert!(
        s.maildrop_lock(mbox, "node-a:1", t, t + LEASE)
            .await
            .expect("inbox")
    );
    s.account_remove(&addr("alice@example.org"))
        .await
        .expect("remove");
    assert!(matches!(
        s.maildrop_lock(mbox, "node-b:1", t, t + LEASE).await,
        Err(StoreError::NotFound(_))
    ));
}
