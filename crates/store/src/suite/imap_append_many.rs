//! Suite cases for [`Store::message_append_many`] (MULTIAPPEND, RFC 3502 §6.3.11):
//! several messages stored in one atomic step with consecutive UIDs and a
//! mod-sequence each, or none of them: over quota (RFC 9208 §4.3.1), a message in the
//! middle refused, an unknown mailbox.

use super::imap::{append, get};
use super::{addr, with_alice};
use crate::{AccountId, Mailbox, NewMessage, Quota, QuotaUsage, Store, StoreError};

/// Three messages as one MULTIAPPEND carries them: flags, dates and a summary each.
fn three<'a>(flags: &'a [Vec<String>; 3]) -> [NewMessage<'a>; 3] {
    [
        NewMessage {
            body: b"Subject: one\r\n\r\n1\x00\xff",
            flags: &flags[0],
            received_at: 1_700_000_001,
            summary: Some(b"s1"),
        },
        NewMessage {
            body: b"Subject: two\r\n\r\n22",
            flags: &flags[1],
            received_at: 1_700_000_002,
            summary: None,
        },
        NewMessage {
            body: b"Subject: three\r\n\r\n333",
            flags: &flags[2],
            received_at: 1_700_000_003,
            summary: Some(b"s3"),
        },
    ]
}

/// Flags for [`three`].
fn flags(middle: &str) -> [Vec<String>; 3] {
    [
        vec!["\\Seen".into()],
        vec![middle.into()],
        vec!["\\Flagged".into(), "$Label".into()],
    ]
}

/// Alice's usage.
async fn usage<S: Store>(s: &S, alice: AccountId) -> QuotaUsage {
    s.quota_usage(alice).await.expect("usage")
}

/// Asserts that nothing was stored: the mailbox record (UIDNEXT, HIGHESTMODSEQ) and its
/// messages are as `before`, and alice's usage is `used`.
async fn unchanged<S: Store>(s: &S, alice: AccountId, before: &Mailbox, used: QuotaUsage) {
    assert_eq!(&get(s, alice, &before.name).await, before);
    assert_eq!(
        s.message_list_imap(before.id).await.expect("list").len() as u64,
        used.messages
    );
    assert_eq!(usage(s, alice).await, used);
}

pub(crate) async fn imap_append_many_stores_all<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let sent = get(s, alice, "Sent").await;
    assert_eq!(append(s, &sent, b"first").await, 1);
    let before = get(s, alice, "Sent").await;
    let flags = flags("\\Answered");
    let messages = three(&flags);
    let uids = s
        .message_append_many(sent.id, &messages)
        .await
        .expect("append many");
    assert_eq!(uids, [2, 3, 4], "consecutive, in order");
    let after = get(s, alice, "Sent").await;
    assert_eq!(after.uid_next, 5);
    assert!(after.highest_modseq >= before.highest_modseq + 3);
    let listed = s.message_list_imap(sent.id).await.expect("list");
    assert_eq!(listed.len(), 4);
    let mut modseq = before.highest_modseq;
    for (m, want) in listed[1..].iter().zip(&messages) {
        assert_eq!(
            s.message_read(sent.id, m.uid).await.expect("read"),
            want.body
        );
        assert_eq!(m.size, want.body.len() as u64);
        assert_eq!(m.received_at, want.received_at);
        assert!(m.modseq > modseq, "a mod-sequence each, ascending");
        modseq = m.modseq;
    }
    assert_eq!(listed[1].flags, ["\\Seen"]);
    assert_eq!(listed[2].flags, ["\\Answered"]);
    assert_eq!(listed[3].flags.len(), 2);
    assert_eq!(after.highest_modseq, modseq);
    // A client resyncing from before sees exactly the three new ones.
    let changes = s
        .message_changes_since(sent.id, before.highest_modseq)
        .await
        .expect("changes");
    assert!(!changes.full);
    let changed: Vec<u32> = changes.changed.iter().map(|m| m.uid).collect();
    assert_eq!(changed, [2, 3, 4]);
    assert_eq!(
        s.message_summaries(sent.id, &uids)
            .await
            .expect("summaries"),
        [
            (2, Some(b"s1".to_vec())),
            (3, None),
            (4, Some(b"s3".to_vec()))
        ]
    );
    // An empty list stores nothing; the next append continues the sequence.
    assert!(
        s.message_append_many(sent.id, &[])
            .await
            .expect("none")
            .is_empty()
    );
    assert_eq!(append(s, &sent, b"last").await, 5);
}

pub(crate) async fn imap_append_many_over_quota_stores_none<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let sent = get(s, alice, "Sent").await;
    append(s, &sent, b"0123456789").await;
    let flags = flags("\\Draft");
    let messages = three(&flags);
    let total: u64 = messages.iter().map(|m| m.body.len() as u64).sum();
    // Storage: each message fits alone, not all of them together.
    s.quota_set(
        &addr("alice@example.org"),
        Quota {
            storage: Some(10 + total - 1),
            messages: None,
        },
    )
    .await
    .expect("quota");
    let before = get(s, alice, "Sent").await;
    let used = usage(s, alice).await;
    assert!(matches!(
        s.message_append_many(sent.id, &messages).await,
        Err(StoreError::OverQuota(_))
    ));
    unchanged(s, alice, &before, used).await;
    // Messages: room for two, three refused.
    s.quota_set(
        &addr("alice@example.org"),
        Quota {
            storage: None,
            messages: Some(3),
        },
    )
    .await
    .expect("quota");
    assert!(matches!(
        s.message_append_many(sent.id, &messages).await,
        Err(StoreError::OverQuota(_))
    ));
    unchanged(s, alice, &before, used).await;
    // Exactly up to the limit fits.
    s.quota_set(
        &addr("alice@example.org"),
        Quota {
            storage: Some(10 + total),
            messages: Some(4),
        },
    )
    .await
    .expect("quota");
    assert_eq!(
        s.message_append_many(sent.id, &messages)
            .await
            .expect("fits"),
        [2, 3, 4]
    );
    assert!(s.quota_full(alice).await.expect("full"));
}

pub(crate) async fn imap_append_many_refusal_stores_none<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let inbox = get(s, alice, "INBOX").await;
    append(s, &inbox, b"kept").await;
    let before = get(s, alice, "INBOX").await;
    let used = usage(s, alice).await;
    // The message in the middle carries a system flag no store keeps.
    let bad = flags("\\Bogus");
    assert!(matches!(
        s.message_append_many(inbox.id, &three(&bad)).await,
        Err(StoreError::Invalid(_))
    ));
    unchanged(s, alice, &before, used).await;
    // An unknown mailbox refuses them all.
    let good = flags("$Middle");
    assert!(matches!(
        s.message_append_many(crate::MailboxId(inbox.id.0 + 1000), &three(&good))
            .await,
        Err(StoreError::NotFound(_))
    ));
    unchanged(s, alice, &before, used).await;
    // UIDs refused nothing: the next ones follow the kept message.
    assert_eq!(
        s.message_append_many(inbox.id, &three(&good))
            .await
            .expect("append"),
        [2, 3, 4]
    );
}
