//! Suite cases for per-account quotas (RFC 9208): setting and clearing limits, usage
//! over all mailboxes at RFC822.SIZE, and the refusals of every path that files mail
//! (APPEND, COPY, local delivery, filing at enqueue) with nothing written, MOVE never
//! refused within an account (but checked into another's), and two concurrent filings never both squeezing under one limit.

use message::QueueId;

use super::imap::{append, get};
use super::{BODY, PREFIX, addr, envelope, status, with_alice};
use crate::{AccountId, Filing, Quota, QuotaUsage, RecipientStatus, Store, StoreError};

/// Limits as the suite sets them.
fn limits(storage: Option<u64>, messages: Option<u64>) -> Quota {
    Quota { storage, messages }
}

/// Alice's usage.
async fn usage<S: Store>(s: &S, alice: AccountId) -> QuotaUsage {
    s.quota_usage(alice).await.expect("usage")
}

/// Sets alice's limits.
async fn set<S: Store>(s: &S, quota: Quota) {
    s.quota_set(&addr("alice@example.org"), quota)
        .await
        .expect("quota_set");
}

/// The sum of the RFC822.SIZE IMAP lists over all of the account's mailboxes.
async fn listed_total<S: Store>(s: &S, account: AccountId) -> QuotaUsage {
    let mut total = QuotaUsage::default();
    for mailbox in s.mailbox_list(account).await.expect("mailboxes") {
        for m in s.message_list_imap(mailbox.id).await.expect("list") {
            total.storage += m.size;
            total.messages += 1;
        }
    }
    total
}

pub(crate) async fn quota_set_get_clear<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    assert_eq!(s.quota_get(alice).await.expect("get"), Quota::default());
    assert!(!s.quota_full(alice).await.expect("full"), "unlimited");
    // The address matches case-insensitively, as every account lookup.
    s.quota_set(
        &addr("ALICE@example.org"),
        limits(Some(1 << 30), Some(50_000)),
    )
    .await
    .expect("set");
    assert_eq!(
        s.quota_get(alice).await.expect("get"),
        limits(Some(1 << 30), Some(50_000))
    );
    set(s, limits(None, Some(3))).await;
    assert_eq!(
        s.quota_get(alice).await.expect("get"),
        limits(None, Some(3))
    );
    set(s, Quota::default()).await;
    assert_eq!(s.quota_get(alice).await.expect("get"), Quota::default());
    // Errors: unknown account, a limit the store cannot keep.
    assert!(matches!(
        s.quota_set(&addr("nobody@example.org"), limits(Some(1), None))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.quota_set(&addr("alice@example.org"), limits(Some(u64::MAX), None))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(s.quota_get(alice).await.expect("get"), Quota::default());
    let unknown = AccountId(alice.0 + 1000);
    assert!(matches!(
        s.quota_get(unknown).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.quota_usage(unknown).await,
        Err(StoreError::NotFound(_))
    ));
    // Removing the account takes its limits with it.
    s.account_remove(&addr("alice@example.org"))
        .await
        .expect("remove");
    assert!(matches!(
        s.quota_get(alice).await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn quota_usage_spans_mailboxes<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    assert_eq!(usage(s, alice).await, QuotaUsage::default());
    let id = QueueId::from_u64(900);
    s.enqueue(id, &envelope(&["alice@example.org"]), BODY)
        .await
        .expect("enqueue");
    s.deliver_to_mailbox(id, 0, alice, PREFIX)
        .await
        .expect("deliver");
    let sent = get(s, alice, "Sent").await;
    append(s, &sent, b"0123456789").await;
    let inbox = get(s, alice, "INBOX").await;
    s.message_copy(inbox.id, &[1], sent.id).await.expect("copy");
    let delivered = (PREFIX.len() + BODY.len()) as u64;
    let want = QuotaUsage {
        storage: 2 * delivered + 10,
        messages: 3,
    };
    assert_eq!(usage(s, alice).await, want, "prefix and body both count");
    assert_eq!(listed_total(s, alice).await, want, "= the sizes IMAP lists");
    // Another account's mail is not alice's.
    let bob = s
        .account_add(&addr("bob@example.org"), "$argon2id$fake")
        .await
        .expect("bob");
    append(s, &get(s, bob, "INBOX").await, b"bob's").await;
    assert_eq!(usage(s, alice).await, want);
    // A move within the account changes nothing; removals and expunges give back.
    s.message_move(sent.id, &[2], inbox.id).await.expect("move");
    assert_eq!(usage(s, alice).await, want);
    s.message_remove(inbox.id, &[1]).await.expect("remove");
    assert_eq!(
        usage(s, alice).await,
        QuotaUsage {
            storage: delivered + 10,
            messages: 2
        }
    );
    s.mailbox_delete(alice, "Sent").await.expect("delete Sent");
    assert_eq!(
        usage(s, alice).await,
        QuotaUsage {
            storage: delivered,
            messages: 1
        },
        "the copy moved back to INBOX stays"
    );
}

pub(crate) async fn quota_append_refused<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let sent = get(s, alice, "Sent").await;
    append(s, &sent, b"0123456789").await;
    // Storage: exactly up to the limit fits, one octet more does not.
    set(s, limits(Some(25), None)).await;
    append(s, &sent, b"012345678901234").await;
    assert!(s.quota_full(alice).await.expect("full"), "25 of 25 octets");
    let before = get(s, alice, "Sent").await;
    assert!(matches!(
        s.message_append(sent.id, b"x", &[], 1_700_000_000).await,
        Err(StoreError::OverQuota(_))
    ));
    // Nothing written: same messages, same counters.
    assert_eq!(get(s, alice, "Sent").await, before);
    assert_eq!(
        usage(s, alice).await,
        QuotaUsage {
            storage: 25,
            messages: 2
        }
    );
    // Messages: the count limit is over all mailboxes.
    set(s, limits(None, Some(3))).await;
    assert!(!s.quota_full(alice).await.expect("full"));
    append(s, &get(s, alice, "Drafts").await, b"d").await;
    assert!(s.quota_full(alice).await.expect("full"), "3 of 3 messages");
    assert!(matches!(
        s.message_append(get(s, alice, "INBOX").await.id, b"x", &[], 0)
            .await,
        Err(StoreError::OverQuota(_))
    ));
    // Raising the limit lets mail in again; lowering it below usage removes nothing.
    set(s, limits(None, Some(4))).await;
    append(s, &sent, b"y").await;
    set(s, limits(Some(1), Some(1))).await;
    assert_eq!(usage(s, alice).await.messages, 4);
}

pub(crate) async fn quota_copy_refused_move_allowed<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let inbox = get(s, alice, "INBOX").await;
    for body in [&b"aaaaaaaaaa"[..], b"bbbbbbbbbb", b"cccccccccc"] {
        append(s, &inbox, body).await;
    }
    let archive = get(s, alice, "Archive").await;
    // 30 used; room for 15 more octets: one copy fits, two do not.
    set(s, limits(Some(45), None)).await;
    assert!(matches!(
        s.message_copy(inbox.id, &[1, 2], archive.id).await,
        Err(StoreError::OverQuota(_))
    ));
    assert_eq!(get(s, alice, "Archive").await, archive, "nothing copied");
    assert_eq!(usage(s, alice).await.storage, 30);
    assert_eq!(
        s.message_copy(inbox.id, &[2], archive.id)
            .await
            .expect("copy"),
        [(2, 1)]
    );
    // A copy of nothing adds nothing, even when full.
    set(s, limits(Some(40), None)).await;
    assert_eq!(
        s.message_copy(inbox.id, &[99], archive.id)
            .await
            .expect("empty copy"),
        []
    );
    // Full, yet MOVE goes through: it does not add to the account.
    assert_eq!(
        s.message_move(inbox.id, &[1, 3], archive.id)
            .await
            .expect("move"),
        [(1, 2), (3, 3)]
    );
    assert_eq!(
        usage(s, alice).await,
        QuotaUsage {
            storage: 40,
            messages: 4
        }
    );
}

/// COPY and MOVE into another account's mailbox (one shared with ACL) count against
/// that account's quota, all or nothing, and MOVE gives the source account its room
/// back.
pub(crate) async fn quota_between_accounts<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let inbox = get(s, alice, "INBOX").await;
    for body in [&b"aaaaaaaaaa"[..], b"bbbbbbbbbb", b"cccccccccc"] {
        append(s, &inbox, body).await;
    }
    let bob = s
        .account_add(&addr("bob@example.org"), "$argon2id$fake")
        .await
        .expect("bob");
    let bobs = get(s, bob, "INBOX").await;
    s.quota_set(&addr("bob@example.org"), limits(Some(15), None))
        .await
        .expect("bob's quota");
    for two in [
        s.message_copy(inbox.id, &[1, 2], bobs.id).await,
        s.message_move(inbox.id, &[1, 2], bobs.id).await,
    ] {
        assert!(matches!(two, Err(StoreError::OverQuota(_))), "{two:?}");
    }
    assert_eq!(usage(s, bob).await, QuotaUsage::default(), "nothing filed");
    assert_eq!(usage(s, alice).await.messages, 3, "nothing moved away");
    assert_eq!(
        s.message_move(inbox.id, &[2], bobs.id).await.expect("move"),
        [(2, 1)]
    );
    let ten = QuotaUsage {
        storage: 10,
        messages: 1,
    };
    assert_eq!(usage(s, bob).await, ten);
    assert_eq!(
        usage(s, alice).await,
        QuotaUsage {
            storage: 20,
            messages: 2
        }
    );
    // Full: another copy is refused, whatever alice's own quota says.
    assert!(matches!(
        s.message_copy(inbox.id, &[3], bobs.id).await,
        Err(StoreError::OverQuota(_))
    ));
    assert_eq!(usage(s, bob).await, ten);
}

pub(crate) async fn quota_delivery_refused_then_retried<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    set(s, limits(None, Some(1))).await;
    let id = QueueId::from_u64(910);
    s.enqueue(
        id,
        &envelope(&["alice@example.org", "alice@example.org"]),
        BODY,
    )
    .await
    .expect("enqueue");
    s.deliver_to_mailbox(id, 0, alice, PREFIX)
        .await
        .expect("deliver")
        .expect("filed");
    assert!(matches!(
        s.deliver_to_mailbox(id, 1, alice, PREFIX).await,
        Err(StoreError::OverQuota(_))
    ));
    assert!(
        matches!(status(s, id, 1).await, RecipientStatus::Pending { .. }),
        "left for the queue to retry"
    );
    assert_eq!(usage(s, alice).await.messages, 1);
    // A recipient already done is not refused: delivery has nothing to do.
    assert_eq!(
        s.deliver_to_mailbox(id, 0, alice, PREFIX)
            .await
            .expect("redeliver"),
        None
    );
    // With room again, the retry files it.
    set(s, limits(None, Some(2))).await;
    assert_eq!(
        s.deliver_to_mailbox(id, 1, alice, PREFIX)
            .await
            .expect("retry"),
        Some(2)
    );
    // The storage limit counts the prefix too.
    let size = (PREFIX.len() + BODY.len()) as u64;
    set(s, limits(Some(3 * size - 1), None)).await;
    let id = QueueId::from_u64(911);
    s.enqueue(id, &envelope(&["alice@example.org"]), BODY)
        .await
        .expect("enqueue");
    assert!(matches!(
        s.deliver_to_mailbox(id, 0, alice, PREFIX).await,
        Err(StoreError::OverQuota(_))
    ));
    assert_eq!(
        s.deliver_to_mailbox(id, 0, alice, b"")
            .await
            .expect("without the prefix it fits"),
        Some(3)
    );
}

pub(crate) async fn quota_enqueue_and_file_skips_full<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let bob = s
        .account_add(&addr("bob@example.org"), "$argon2id$fake")
        .await
        .expect("bob");
    set(s, limits(None, Some(0))).await;
    let id = QueueId::from_u64(920);
    let filings = [
        Filing {
            recipient: 0,
            account: alice,
            prefix: PREFIX.to_vec(),
            summary: None,
        },
        Filing {
            recipient: 1,
            account: bob,
            prefix: PREFIX.to_vec(),
            summary: None,
        },
    ];
    let filed = s
        .enqueue_and_file(
            id,
            &envelope(&["alice@example.org", "bob@example.org"]),
            BODY,
            &filings,
        )
        .await
        .expect("queued");
    assert_eq!(filed, [1], "bob filed, alice skipped");
    assert!(matches!(
        status(s, id, 0).await,
        RecipientStatus::Pending { .. }
    ));
    assert_eq!(status(s, id, 1).await, RecipientStatus::Delivered);
    assert_eq!(usage(s, alice).await, QuotaUsage::default());
    assert_eq!(s.quota_usage(bob).await.expect("bob").messages, 1);
}

pub(crate) async fn quota_concurrent_filings_respect_the_limit<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    set(s, limits(None, Some(2))).await;
    let inbox = get(s, alice, "INBOX").await;
    let drafts = get(s, alice, "Drafts").await;
    // Four filings at once, through two paths into two mailboxes, for two places.
    let id = QueueId::from_u64(930);
    s.enqueue(
        id,
        &envelope(&["alice@example.org", "alice@example.org"]),
        BODY,
    )
    .await
    .expect("enqueue");
    let (a, b, c, d) = tokio::join!(
        s.message_append(inbox.id, b"a", &[], 0),
        s.message_append(drafts.id, b"b", &[], 0),
        s.deliver_to_mailbox(id, 0, alice, PREFIX),
        s.deliver_to_mailbox(id, 1, alice, PREFIX),
    );
    let outcomes = [a.map(|_| ()), b.map(|_| ()), c.map(|_| ()), d.map(|_| ())];
    let ok = outcomes.iter().filter(|r| r.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|r| matches!(r, Err(StoreError::OverQuota(_))))
        .count();
    assert_eq!((ok, refused), (2, 2), "{outcomes:?}");
    assert_eq!(usage(s, alice).await.messages, 2);
}
