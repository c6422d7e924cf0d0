//! Suite cases for IMAP's view of messages: flags and CONDSTORE mod-sequences
//! (RFC 7162 §3.1, UNCHANGEDSINCE included), APPEND, COPY/MOVE with their UIDPLUS
//! mappings (RFC 4315, RFC 6851), EXPUNGE and UID EXPUNGE, the tombstones QRESYNC
//! reads (RFC 7162 §3.2.10), and how local delivery and POP3's removal move the same
//! counters.

use message::QueueId;

use super::imap::{append, get};
use super::{BODY, PREFIX, addr, envelope, with_alice};
use crate::{FlagChange, ImapMessage, MailboxId, Store, StoreError};

/// Flags as the store takes them.
fn flags(v: &[&str]) -> Vec<String> {
    v.iter().map(|f| f.to_string()).collect()
}

/// The listing of one mailbox.
async fn listed<S: Store>(s: &S, mailbox: MailboxId) -> Vec<ImapMessage> {
    s.message_list_imap(mailbox).await.expect("list")
}

/// The listed message `uid`.
async fn message<S: Store>(s: &S, mailbox: MailboxId, uid: u32) -> ImapMessage {
    listed(s, mailbox)
        .await
        .into_iter()
        .find(|m| m.uid == uid)
        .unwrap_or_else(|| panic!("no message {uid}"))
}

/// Delivers one message per prefix into alice's INBOX through the queue.
async fn deliver<S: Store>(s: &S, alice: crate::AccountId, id: u64, prefixes: &[&[u8]]) {
    let rcpts = vec!["alice@example.org"; prefixes.len()];
    let id = QueueId::from_u64(id);
    s.enqueue(id, &envelope(&rcpts), BODY)
        .await
        .expect("enqueue");
    for (i, prefix) in prefixes.iter().enumerate() {
        s.deliver_to_mailbox(id, i, alice, prefix)
            .await
            .expect("deliver")
            .expect("filed");
    }
}

pub(crate) async fn imap_delivery_takes_modseq<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    deliver(s, alice, 700, &[PREFIX, b"X: 2\r\n"]).await;
    let inbox = get(s, alice, "INBOX").await;
    assert_eq!(inbox.highest_modseq, 3, "1, then one per new message");
    let list = listed(s, inbox.id).await;
    let got: Vec<(u32, u64, usize)> = list
        .iter()
        .map(|m| (m.uid, m.modseq, m.flags.len()))
        .collect();
    assert_eq!(got, [(1, 2, 0), (2, 3, 0)]);
    assert_eq!(list[0].size, (PREFIX.len() + BODY.len()) as u64);
    // enqueue_and_file files the same way.
    let id = QueueId::from_u64(701);
    let filing = crate::Filing {
        recipient: 0,
        account: alice,
        prefix: Vec::new(),
        summary: None,
    };
    s.enqueue_and_file(id, &envelope(&["alice@example.org"]), BODY, &[filing])
        .await
        .expect("file");
    let inbox = get(s, alice, "INBOX").await;
    assert_eq!(inbox.highest_modseq, 4);
    assert_eq!(message(s, inbox.id, 3).await.modseq, 4);
}

pub(crate) async fn imap_flags_add_remove_replace<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let sent = get(s, alice, "Sent").await;
    for _ in 0..3 {
        append(s, &sent, b"m").await;
    }
    let base = get(s, alice, "Sent").await.highest_modseq;
    assert_eq!(base, 4);
    let id = sent.id;

    let r = s
        .message_flags_set(id, &[2, 1, 99], FlagChange::Add, &flags(&["\\seen"]), None)
        .await
        .expect("add");
    assert!(r.modified.is_empty());
    let got: Vec<(u32, u64, Vec<String>)> = r
        .changed
        .iter()
        .map(|m| (m.uid, m.modseq, m.flags.clone()))
        .collect();
    assert_eq!(
        got,
        [(1, 5, flags(&["\\Seen"])), (2, 6, flags(&["\\Seen"]))],
        "one new mod-sequence per changed message, by UID"
    );
    assert_eq!(r.changed[0].size, 1);
    assert_eq!(get(s, alice, "Sent").await.highest_modseq, 6);

    // No real change: no new mod-sequence. `\Recent` is never stored.
    let r = s
        .message_flags_set(
            id,
            &[1, 2],
            FlagChange::Add,
            &flags(&["\\Seen", "\\Recent"]),
            None,
        )
        .await
        .expect("again");
    assert!(r.changed.is_empty() && r.modified.is_empty());
    assert_eq!(get(s, alice, "Sent").await.highest_modseq, 6);

    let r = s
        .message_flags_set(id, &[2, 3], FlagChange::Remove, &flags(&["\\SEEN"]), None)
        .await
        .expect("remove");
    assert_eq!(r.changed.len(), 1);
    assert_eq!((r.changed[0].uid, r.changed[0].modseq), (2, 7));
    assert!(r.changed[0].flags.is_empty());

    let r = s
        .message_flags_set(
            id,
            &[1],
            FlagChange::Replace,
            &flags(&["work", "\\Flagged", "Work", "$Label1"]),
            None,
        )
        .await
        .expect("replace");
    assert_eq!(r.changed[0].flags, flags(&["\\Flagged", "$Label1", "work"]));
    let now = listed(s, id).await;
    let got: Vec<(u32, u64, Vec<String>)> = now
        .iter()
        .map(|m| (m.uid, m.modseq, m.flags.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (1, 8, flags(&["\\Flagged", "$Label1", "work"])),
            (2, 7, vec![]),
            (3, 4, vec![]),
        ]
    );
    // A bad flag changes nothing.
    assert!(matches!(
        s.message_flags_set(id, &[3], FlagChange::Add, &flags(&["\\Bogus"]), None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.message_flags_set(id, &[3], FlagChange::Add, &flags(&["a b"]), None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(listed(s, id).await, now);
    assert!(matches!(
        s.message_flags_set(MailboxId(987_654), &[1], FlagChange::Add, &[], None)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn imap_unchanged_since<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let drafts = get(s, alice, "Drafts").await;
    for _ in 0..3 {
        append(s, &drafts, b"d").await;
    }
    // modseqs: 1 → 2, 2 → 3, 3 → 4; then 2 is changed again → 5.
    s.message_flags_set(drafts.id, &[2], FlagChange::Add, &flags(&["\\Draft"]), None)
        .await
        .expect("touch");
    let r = s
        .message_flags_set(
            drafts.id,
            &[1, 2, 3],
            FlagChange::Add,
            &flags(&["\\Flagged"]),
            Some(4),
        )
        .await
        .expect("conditional");
    assert_eq!(r.modified, [2]);
    let changed: Vec<(u32, u64)> = r.changed.iter().map(|m| (m.uid, m.modseq)).collect();
    assert_eq!(changed, [(1, 6), (3, 7)]);
    assert_eq!(message(s, drafts.id, 2).await.flags, flags(&["\\Draft"]));
    // Passing the test but changing nothing: neither changed nor modified.
    let r = s
        .message_flags_set(
            drafts.id,
            &[1],
            FlagChange::Add,
            &flags(&["\\Flagged"]),
            Some(6),
        )
        .await
        .expect("no-op");
    assert!(r.changed.is_empty() && r.modified.is_empty());
    // UNCHANGEDSINCE 0 fails every message (mod-sequences start at 1).
    let r = s
        .message_flags_set(drafts.id, &[1, 3], FlagChange::Replace, &[], Some(0))
        .await
        .expect("zero");
    assert_eq!(r.modified, [1, 3]);
    assert!(r.changed.is_empty());
}

pub(crate) async fn imap_append<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let sent = get(s, alice, "Sent").await;
    let uid = s
        .message_append(
            sent.id,
            BODY,
            &flags(&["\\Seen", "$MDNSent"]),
            1_600_000_000,
        )
        .await
        .expect("append");
    assert_eq!(uid, 1);
    assert_eq!(append(s, &sent, b"second").await, 2);
    let now = get(s, alice, "Sent").await;
    assert_eq!((now.uid_next, now.highest_modseq), (3, 3));
    assert_eq!(s.message_read(sent.id, 1).await.expect("read"), BODY);
    let first = message(s, sent.id, 1).await;
    assert_eq!(
        first,
        ImapMessage {
            uid: 1,
            flags: flags(&["\\Seen", "$MDNSent"]),
            modseq: 2,
            size: BODY.len() as u64,
            received_at: 1_600_000_000,
        }
    );
    // POP3's listing sees appended messages too.
    let meta = s.message_list(sent.id).await.expect("meta");
    assert_eq!(meta.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(meta[0].size, BODY.len() as u64);
    assert_eq!(meta[0].received_at, 1_600_000_000);
    assert!(matches!(
        s.message_append(sent.id, b"x", &flags(&["\\Nope"]), 0)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.message_append(MailboxId(987_654), b"x", &[], 0).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        get(s, alice, "Sent").await.uid_next,
        3,
        "failures take no UID"
    );
}

pub(crate) async fn imap_copy_and_move<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    deliver(s, alice, 800, &[b"A: 1\r\n", b"A: 2\r\n", b"A: 3\r\n"]).await;
    let inbox = get(s, alice, "INBOX").await;
    s.message_flags_set(
        inbox.id,
        &[3],
        FlagChange::Add,
        &flags(&["\\Answered", "todo"]),
        None,
    )
    .await
    .expect("flags");
    let archive = get(s, alice, "Archive").await;
    append(s, &archive, b"already here").await;

    let pairs = s
        .message_copy(inbox.id, &[3, 1, 99, 3], archive.id)
        .await
        .expect("copy");
    assert_eq!(pairs, [(1, 2), (3, 3)], "by source UID, unknown skipped");
    let copied = message(s, archive.id, 3).await;
    let original = message(s, inbox.id, 3).await;
    assert_eq!(copied.flags, original.flags);
    assert_eq!(
        (copied.size, copied.received_at),
        (original.size, original.received_at)
    );
    assert!(copied.modseq > 2, "a new message in the target");
    assert_eq!(
        s.message_read(archive.id, 3).await.expect("read"),
        [b"A: 3\r\n".as_slice(), BODY].concat()
    );
    let meta = s.message_list(archive.id).await.expect("meta");
    assert_eq!(
        meta[2].queue_id,
        QueueId::from_u64(800),
        "copies keep the queue id"
    );
    assert_eq!(listed(s, inbox.id).await.len(), 3, "copy leaves the source");
    assert_eq!(get(s, alice, "Archive").await.uid_next, 4);

    let before = get(s, alice, "INBOX").await.highest_modseq;
    let trash = get(s, alice, "Trash").await;
    let pairs = s
        .message_move(inbox.id, &[2, 3], trash.id)
        .await
        .expect("move");
    assert_eq!(pairs, [(2, 1), (3, 2)]);
    assert_eq!(
        listed(s, inbox.id)
            .await
            .iter()
            .map(|m| m.uid)
            .collect::<Vec<_>>(),
        [1]
    );
    assert_eq!(
        s.mailbox_expunged_since(inbox.id, before)
            .await
            .expect("vanished"),
        [2, 3]
    );
    assert_eq!(
        message(s, trash.id, 2).await.flags,
        flags(&["\\Answered", "todo"])
    );
    // The moved copy outlives the queue entry and the original.
    assert_eq!(s.queue_collect().await.expect("collect"), 1);
    assert_eq!(
        s.message_read(trash.id, 1).await.expect("read"),
        [b"A: 2\r\n".as_slice(), BODY].concat()
    );
    // Copy into the same mailbox: a second message with a new UID.
    assert_eq!(
        s.message_copy(trash.id, &[1], trash.id)
            .await
            .expect("self"),
        [(1, 3)]
    );
    // Another account's mailbox (one shared with ACL): copied and moved like any
    // other, under bob's quota (suite/quota.rs).
    let bob = s
        .account_add(&addr("bob@example.org"), "h")
        .await
        .expect("bob");
    let bobs = get(s, bob, "INBOX").await;
    assert_eq!(
        s.message_copy(trash.id, &[1], bobs.id).await.expect("copy"),
        [(1, 1)]
    );
    assert_eq!(
        s.message_move(trash.id, &[3], bobs.id).await.expect("move"),
        [(3, 2)]
    );
    assert_eq!(listed(s, bobs.id).await.len(), 2);
    assert_eq!(
        s.message_read(bobs.id, 1).await.expect("read"),
        s.message_read(trash.id, 1).await.expect("read")
    );
    assert_eq!(listed(s, trash.id).await.len(), 2);
    assert!(matches!(
        s.message_copy(MailboxId(987_654), &[1], trash.id).await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn imap_expunge<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let junk = get(s, alice, "Junk").await;
    for _ in 0..4 {
        append(s, &junk, b"spam").await;
    }
    s.message_flags_set(
        junk.id,
        &[1, 2, 4],
        FlagChange::Add,
        &flags(&["\\Deleted"]),
        None,
    )
    .await
    .expect("delete marks");
    let start = get(s, alice, "Junk").await.highest_modseq;
    // UID EXPUNGE: only among the given UIDs.
    assert_eq!(
        s.message_expunge(junk.id, Some(&[4, 3, 2]))
            .await
            .expect("uid expunge"),
        [2, 4]
    );
    let mid = get(s, alice, "Junk").await.highest_modseq;
    assert_eq!(mid, start + 1, "one mod-sequence per expunge");
    assert_eq!(
        s.message_expunge(junk.id, None).await.expect("expunge"),
        [1]
    );
    let end = get(s, alice, "Junk").await.highest_modseq;
    assert_eq!(end, mid + 1);
    assert_eq!(
        listed(s, junk.id)
            .await
            .iter()
            .map(|m| m.uid)
            .collect::<Vec<_>>(),
        [3]
    );
    // Nothing to remove: nothing changes.
    assert!(
        s.message_expunge(junk.id, None)
            .await
            .expect("none")
            .is_empty()
    );
    assert_eq!(get(s, alice, "Junk").await.highest_modseq, end);
    assert_eq!(
        s.mailbox_expunged_since(junk.id, start).await.expect("all"),
        [1, 2, 4]
    );
    assert_eq!(
        s.mailbox_expunged_since(junk.id, mid).await.expect("later"),
        [1]
    );
    assert!(
        s.mailbox_expunged_since(junk.id, end)
            .await
            .expect("none")
            .is_empty()
    );
    assert!(matches!(
        s.message_expunge(MailboxId(987_654), None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.mailbox_expunged_since(MailboxId(987_654), 0).await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn imap_pop3_remove_leaves_tombstones<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    deliver(s, alice, 900, &[b"", b""]).await;
    let inbox = get(s, alice, "INBOX").await;
    s.message_remove(inbox.id, &[1, 42]).await.expect("dele");
    let after = get(s, alice, "INBOX").await;
    assert_eq!(after.highest_modseq, inbox.highest_modseq + 1);
    assert_eq!(
        s.mailbox_expunged_since(inbox.id, inbox.highest_modseq)
            .await
            .expect("vanished"),
        [1]
    );
    assert_eq!(
        listed(s, inbox.id)
            .await
            .iter()
            .map(|m| m.uid)
            .collect::<Vec<_>>(),
        [2]
    );
    // Removing nothing known changes nothing.
    s.message_remove(inbox.id, &[1]).await.expect("again");
    assert_eq!(
        get(s, alice, "INBOX").await.highest_modseq,
        after.highest_modseq
    );
}
