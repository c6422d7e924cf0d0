//! Suite cases for IMAP's mailbox management: a new account's special-use mailboxes
//! (RFC 6154), CREATE/DELETE/RENAME (RFC 3501 §6.3.3–6.3.5, INBOX's special RENAME
//! included), subscriptions by name (RFC 3501 §6.3.6) and UIDVALIDITY never repeating
//! for a re-created name (RFC 3501 §2.3.1.1). Message cases are in `imap_messages`.

use message::QueueId;

use super::{BODY, PREFIX, addr, envelope, with_alice};
use crate::{AccountId, FlagChange, Mailbox, Store, StoreError};

/// The mailbox `name` of `account`, which must exist.
pub(super) async fn get<S: Store>(s: &S, account: AccountId, name: &str) -> Mailbox {
    s.mailbox_get(account, name)
        .await
        .expect("mailbox_get")
        .unwrap_or_else(|| panic!("no mailbox {name}"))
}

/// The names of the account's mailboxes, in listing order.
async fn names<S: Store>(s: &S, account: AccountId) -> Vec<String> {
    s.mailbox_list(account)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect()
}

/// Appends `body` with no flags; returns the UID.
pub(super) async fn append<S: Store>(s: &S, mailbox: &Mailbox, body: &[u8]) -> u32 {
    s.message_append(mailbox.id, body, &[], 1_700_000_000)
        .await
        .expect("append")
}

pub(crate) async fn imap_default_mailboxes<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let boxes = s.mailbox_list(alice).await.expect("list");
    let got: Vec<(&str, Option<&str>, bool)> = boxes
        .iter()
        .map(|m| (m.name.as_str(), m.special_use.as_deref(), m.subscribed))
        .collect();
    assert_eq!(
        got,
        [
            ("INBOX", None, true),
            ("Sent", Some("\\Sent"), true),
            ("Drafts", Some("\\Drafts"), true),
            ("Trash", Some("\\Trash"), true),
            ("Junk", Some("\\Junk"), true),
            ("Archive", Some("\\Archive"), true),
        ]
    );
    for m in &boxes {
        assert_eq!((m.uid_next, m.highest_modseq), (1, 1), "{}", m.name);
    }
    let mut validities: Vec<u32> = boxes.iter().map(|m| m.uid_validity).collect();
    validities.sort_unstable();
    validities.dedup();
    assert_eq!(validities.len(), 6, "every mailbox has its own UIDVALIDITY");
    assert_eq!(
        s.mailbox_subscriptions(alice).await.expect("subs"),
        ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]
    );
    // INBOX in any case; other names exactly.
    assert_eq!(get(s, alice, "inBox").await, boxes[0]);
    assert_eq!(get(s, alice, "Sent").await, boxes[1]);
    assert!(s.mailbox_get(alice, "sent").await.expect("get").is_none());
    assert!(
        s.mailbox_get(AccountId(424_242), "INBOX")
            .await
            .expect("get")
            .is_none()
    );
}

pub(crate) async fn imap_create_get_delete<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let work = s.mailbox_create(alice, "Work", None).await.expect("create");
    assert_eq!(work.name, "Work");
    assert_eq!((work.uid_next, work.highest_modseq), (1, 1));
    assert!(!work.subscribed);
    assert_eq!(work.special_use, None);
    assert_eq!(get(s, alice, "Work").await, work);
    let child = s
        .mailbox_create(alice, "Work/2024", Some("\\flagged"))
        .await
        .expect("child");
    assert_eq!(child.special_use.as_deref(), Some("\\Flagged"));
    assert!(matches!(
        s.mailbox_create(alice, "Work", None).await,
        Err(StoreError::Exists(_))
    ));
    assert!(matches!(
        s.mailbox_create(alice, "inbox", None).await,
        Err(StoreError::Exists(_))
    ));
    assert!(matches!(
        s.mailbox_create(alice, "Other", Some("\\Important")).await,
        Err(StoreError::Invalid(_))
    ));
    for bad in ["", "a//b", "trailing/"] {
        assert!(
            matches!(
                s.mailbox_create(alice, bad, None).await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        s.mailbox_create(AccountId(424_242), "X", None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(s.mailbox_get(alice, "Other").await.expect("get").is_none());

    // Delete takes the mailbox and its messages; its child stays.
    append(s, &work, b"Subject: w\r\n\r\nwork").await;
    s.mailbox_delete(alice, "Work").await.expect("delete");
    assert!(s.mailbox_get(alice, "Work").await.expect("get").is_none());
    assert!(matches!(
        s.message_list_imap(work.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(get(s, alice, "Work/2024").await, child);
    for inbox in ["INBOX", "Inbox"] {
        assert!(matches!(
            s.mailbox_delete(alice, inbox).await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert!(matches!(
        s.mailbox_delete(alice, "Work").await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn imap_uidvalidity_of_recreated_mailbox<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let first = s.mailbox_create(alice, "Tmp", None).await.expect("create");
    append(s, &first, b"x").await;
    s.mailbox_delete(alice, "Tmp").await.expect("delete");
    let second = s.mailbox_create(alice, "Tmp", None).await.expect("again");
    assert_ne!(second.id, first.id);
    assert!(second.uid_validity > first.uid_validity);
    assert_eq!(second.uid_next, 1);
    assert!(
        s.message_list_imap(second.id)
            .await
            .expect("list")
            .is_empty()
    );
}

pub(crate) async fn imap_rename_with_children<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    for name in ["a", "a/b", "a/b/c", "ab"] {
        s.mailbox_create(alice, name, None).await.expect("create");
    }
    let before_b = get(s, alice, "a/b").await;
    let uid = append(s, &before_b, b"kept").await;
    s.mailbox_rename(alice, "a", "x/y").await.expect("rename");
    let all = names(s, alice).await;
    assert_eq!(&all[6..], ["x/y", "x/y/b", "x/y/b/c", "ab"]);
    // Same mailbox: id, UIDVALIDITY and messages kept.
    let after_b = get(s, alice, "x/y/b").await;
    assert_eq!(after_b.id, before_b.id);
    assert_eq!(after_b.uid_validity, before_b.uid_validity);
    assert_eq!(
        s.message_read(after_b.id, uid).await.expect("read"),
        b"kept"
    );
    assert!(matches!(
        s.mailbox_rename(alice, "a", "z").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.mailbox_rename(alice, "x/y", "ab").await,
        Err(StoreError::Exists(_))
    ));
    assert!(matches!(
        s.mailbox_rename(alice, "x/y", "INBOX").await,
        Err(StoreError::Exists(_))
    ));
    assert!(matches!(
        s.mailbox_rename(alice, "x/y", "x/y/b/new").await,
        Err(StoreError::Invalid(_))
    ));
    // A child's new name that is taken refuses the whole rename.
    s.mailbox_create(alice, "q/b", None).await.expect("q/b");
    assert!(matches!(
        s.mailbox_rename(alice, "x/y", "q").await,
        Err(StoreError::Exists(_))
    ));
    assert!(s.mailbox_get(alice, "x/y").await.expect("get").is_some());
    assert!(s.mailbox_get(alice, "q").await.expect("get").is_none());
    // Moving a mailbox up over its own descendants' names: `m/n/n/y` becomes `m/n/y`,
    // a name that `m/n/y` itself gives up in the same rename.
    for name in ["m/n", "m/n/y", "m/n/n/y"] {
        s.mailbox_create(alice, name, None).await.expect("create");
    }
    let moved = get(s, alice, "m/n/n/y").await;
    s.mailbox_rename(alice, "m/n", "m").await.expect("up");
    assert_eq!(get(s, alice, "m/n/y").await.id, moved.id);
    assert!(s.mailbox_get(alice, "m").await.expect("get").is_some());
    assert!(s.mailbox_get(alice, "m/y").await.expect("get").is_some());
    assert!(s.mailbox_get(alice, "m/n").await.expect("get").is_none());
}

pub(crate) async fn imap_rename_inbox<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let id = QueueId::from_u64(600);
    s.enqueue(
        id,
        &envelope(&["alice@example.org", "alice@example.org"]),
        BODY,
    )
    .await
    .expect("enqueue");
    for i in 0..2 {
        s.deliver_to_mailbox(id, i, alice, PREFIX)
            .await
            .expect("deliver");
    }
    let child = s
        .mailbox_create(alice, "INBOX/kept", None)
        .await
        .expect("child");
    let inbox = get(s, alice, "INBOX").await;
    s.message_flags_set(inbox.id, &[2], FlagChange::Add, &["\\Seen".into()], None)
        .await
        .expect("seen");
    let inbox = get(s, alice, "INBOX").await;
    let before = s.message_list_imap(inbox.id).await.expect("list");
    assert!(matches!(
        s.mailbox_rename(alice, "inbox", "Sent").await,
        Err(StoreError::Exists(_))
    ));

    s.mailbox_rename(alice, "inbox", "Old")
        .await
        .expect("rename");
    let old = get(s, alice, "Old").await;
    assert_ne!(old.id, inbox.id);
    assert_ne!(old.uid_validity, inbox.uid_validity);
    assert_eq!(old.uid_next, inbox.uid_next);
    assert_eq!(s.message_list_imap(old.id).await.expect("list"), before);
    assert_eq!(
        s.message_read(old.id, 1).await.expect("read"),
        [PREFIX, BODY].concat()
    );
    // INBOX stays, empty, same identity; its messages count as expunged.
    let now = get(s, alice, "INBOX").await;
    assert_eq!((now.id, now.uid_validity), (inbox.id, inbox.uid_validity));
    assert_eq!(now.uid_next, inbox.uid_next, "UIDs are never reused");
    assert!(now.highest_modseq > inbox.highest_modseq);
    assert!(s.message_list_imap(now.id).await.expect("list").is_empty());
    assert_eq!(
        s.mailbox_expunged_since(now.id, inbox.highest_modseq)
            .await
            .expect("vanished"),
        [1, 2]
    );
    // INBOX's children are not renamed.
    assert_eq!(get(s, alice, "INBOX/kept").await, child);
    assert!(
        s.mailbox_get(alice, "Old/kept")
            .await
            .expect("get")
            .is_none()
    );
    // Delivery carries on in INBOX after the old UIDs.
    let next = QueueId::from_u64(601);
    s.enqueue(next, &envelope(&["alice@example.org"]), b"new")
        .await
        .expect("enqueue");
    assert_eq!(
        s.deliver_to_mailbox(next, 0, alice, b"")
            .await
            .expect("deliver"),
        Some(3)
    );
}

pub(crate) async fn imap_subscriptions<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    s.mailbox_subscribe(alice, "Lists/rust", true)
        .await
        .expect("subscribe a name that does not exist");
    s.mailbox_subscribe(alice, "Lists/rust", true)
        .await
        .expect("idempotent");
    assert!(
        s.mailbox_get(alice, "Lists/rust")
            .await
            .expect("get")
            .is_none()
    );
    s.mailbox_subscribe(alice, "Sent", false)
        .await
        .expect("unsubscribe");
    s.mailbox_subscribe(alice, "Nope", false)
        .await
        .expect("unsubscribing a name not listed is fine");
    assert!(!get(s, alice, "Sent").await.subscribed);
    s.mailbox_subscribe(alice, "inbox", false)
        .await
        .expect("INBOX in any case");
    assert_eq!(
        s.mailbox_subscriptions(alice).await.expect("subs"),
        ["Archive", "Drafts", "Junk", "Lists/rust", "Trash"]
    );
    assert!(!get(s, alice, "INBOX").await.subscribed);
    // Creating a subscribed name shows it subscribed; deleting keeps the subscription.
    let lists = s
        .mailbox_create(alice, "Lists/rust", None)
        .await
        .expect("create");
    assert!(lists.subscribed);
    s.mailbox_delete(alice, "Lists/rust").await.expect("delete");
    assert!(
        s.mailbox_subscriptions(alice)
            .await
            .expect("subs")
            .contains(&"Lists/rust".to_string())
    );
    assert!(matches!(
        s.mailbox_subscribe(alice, "", true).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.mailbox_subscribe(AccountId(424_242), "X", true).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.mailbox_subscriptions(AccountId(424_242)).await,
        Err(StoreError::NotFound(_))
    ));
    // An account's subscriptions go with it.
    s.account_remove(&addr("alice@example.org"))
        .await
        .expect("remove");
    let again = s
        .account_add(&addr("alice@example.org"), "h")
        .await
        .expect("re-add");
    assert!(
        !s.mailbox_subscriptions(again)
            .await
            .expect("subs")
            .contains(&"Lists/rust".to_string())
    );
}
