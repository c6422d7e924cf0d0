//! Suite cases for how IMAP sessions keep up with a mailbox without re-reading it:
//! the delta of [`Store::message_changes_since`] (every change since a mod-sequence,
//! RFC 7162 §3.1, expunges included) and the per-message summaries the IMAP layer
//! parses once, which the store keeps as opaque bytes beside each message.

use message::QueueId;

use super::imap::get;
use super::{BODY, PREFIX, envelope, with_alice};
use crate::{FlagChange, Store};

/// Flags as the store takes them.
fn flags(v: &[&str]) -> Vec<String> {
    v.iter().map(|f| f.to_string()).collect()
}

pub(crate) async fn imap_changes_since<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let inbox = get(s, alice, "INBOX").await;
    for n in 0..4 {
        s.message_append(inbox.id, BODY, &[], 1_000 + n)
            .await
            .expect("append");
    }
    // From 0: everything, to replace whatever the caller had.
    let all = s.message_changes_since(inbox.id, 0).await.expect("full");
    assert!(all.full);
    let uids: Vec<u32> = all.changed.iter().map(|m| m.uid).collect();
    assert_eq!(uids, [1, 2, 3, 4]);
    assert_eq!(all.mailbox.highest_modseq, 5);
    let seen = all.mailbox.highest_modseq;
    // Nothing changed: nothing listed, whatever the size of the mailbox.
    let none = s.message_changes_since(inbox.id, seen).await.expect("none");
    assert!(!none.full && none.changed.is_empty() && none.expunged.is_empty());
    assert_eq!(none.mailbox, all.mailbox);
    // A flag change, an expunge, a delivery and POP3's removal each show up.
    s.message_flags_set(inbox.id, &[2], FlagChange::Add, &flags(&["\\Seen"]), None)
        .await
        .expect("store");
    s.message_flags_set(
        inbox.id,
        &[3],
        FlagChange::Add,
        &flags(&["\\Deleted"]),
        None,
    )
    .await
    .expect("store");
    s.message_expunge(inbox.id, None).await.expect("expunge");
    let id = QueueId::from_u64(900);
    s.enqueue(id, &envelope(&["alice@example.org"]), BODY)
        .await
        .expect("enqueue");
    s.deliver_to_mailbox(id, 0, alice, PREFIX)
        .await
        .expect("deliver");
    s.message_remove(inbox.id, &[4]).await.expect("pop3 remove");
    let delta = s
        .message_changes_since(inbox.id, seen)
        .await
        .expect("delta");
    assert!(!delta.full);
    let changed: Vec<(u32, Vec<String>)> = delta
        .changed
        .iter()
        .map(|m| (m.uid, m.flags.clone()))
        .collect();
    assert_eq!(changed, [(2, flags(&["\\Seen"])), (5, Vec::new())]);
    assert!(delta.changed.iter().all(|m| m.modseq > seen));
    assert_eq!(delta.expunged, [3, 4]);
    assert_eq!(delta.mailbox.uid_next, 6);
    // Applied to what the caller had, the delta gives what a full read gives.
    let full = s.message_list_imap(inbox.id).await.expect("list");
    let mut merged = all.changed.clone();
    merged.retain(|m| {
        !delta.expunged.contains(&m.uid) && !delta.changed.iter().any(|c| c.uid == m.uid)
    });
    merged.extend(delta.changed.iter().cloned());
    merged.sort_by_key(|m| m.uid);
    assert_eq!(merged, full);
    // A mod-sequence the mailbox never reached: listed in full.
    let ahead = s
        .message_changes_since(inbox.id, delta.mailbox.highest_modseq + 10)
        .await
        .expect("ahead");
    assert!(ahead.full);
    assert_eq!(ahead.changed, full);
    assert!(matches!(
        s.message_changes_since(crate::MailboxId(555_555), 1).await,
        Err(crate::StoreError::NotFound(_))
    ));
}

pub(crate) async fn imap_summaries_kept_beside_messages<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let inbox = get(s, alice, "INBOX").await;
    let archive = get(s, alice, "Archive").await;
    let with = s
        .message_append_with(inbox.id, BODY, &[], 1, Some(b"summary one"))
        .await
        .expect("append");
    let without = s
        .message_append(inbox.id, BODY, &[], 2)
        .await
        .expect("append");
    // Filed at acceptance with a summary, as the SMTP driver does.
    let id = QueueId::from_u64(901);
    let filing = crate::Filing {
        recipient: 0,
        account: alice,
        prefix: PREFIX.to_vec(),
        summary: Some(b"summary three".to_vec()),
    };
    s.enqueue_and_file(id, &envelope(&["alice@example.org"]), BODY, &[filing])
        .await
        .expect("file");
    let got = s
        .message_summaries(inbox.id, &[3, without, 77, with])
        .await
        .expect("summaries");
    assert_eq!(
        got,
        [
            (with, Some(b"summary one".to_vec())),
            (without, None),
            (3, Some(b"summary three".to_vec())),
        ]
    );
    // Written back later: no mod-sequence moves, IMAP sees no change.
    let before = get(s, alice, "INBOX").await.highest_modseq;
    s.message_summaries_set(
        inbox.id,
        &[(without, b"computed".to_vec()), (99, b"x".to_vec())],
    )
    .await
    .expect("set");
    assert_eq!(get(s, alice, "INBOX").await.highest_modseq, before);
    let got = s
        .message_summaries(inbox.id, &[without])
        .await
        .expect("summaries");
    assert_eq!(got, [(without, Some(b"computed".to_vec()))]);
    // COPY and MOVE take the summary along.
    let pairs = s
        .message_copy(inbox.id, &[with], archive.id)
        .await
        .expect("copy");
    let moved = s
        .message_move(inbox.id, &[3], archive.id)
        .await
        .expect("move");
    let copies = s
        .message_summaries(archive.id, &[pairs[0].1, moved[0].1])
        .await
        .expect("summaries");
    assert_eq!(
        copies,
        [
            (pairs[0].1, Some(b"summary one".to_vec())),
            (moved[0].1, Some(b"summary three".to_vec())),
        ]
    );
    assert!(
        s.message_summaries(inbox.id, &[])
            .await
            .expect("none")
            .is_empty()
    );
}
