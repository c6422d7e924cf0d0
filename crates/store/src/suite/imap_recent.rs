//! Suite cases for the `\Recent` high-water mark (RFC 3501 §2.3.2): the first session
//! that claims a message's `\Recent` owns it, atomically, and no one else ever gets it.

use super::imap::get;
use super::{BODY, with_alice};
use crate::{Store, StoreError};

pub(crate) async fn imap_recent_claimed_once<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let inbox = get(s, alice, "INBOX").await;
    assert_eq!(inbox.recent_uid, 0, "a new mailbox has nothing claimed");
    for n in 0..3 {
        s.message_append(inbox.id, BODY, &[], 1_000 + n)
            .await
            .expect("append");
    }
    // The first claim gets 1..=2: the mark was 0.
    assert_eq!(s.mailbox_recent_claim(inbox.id, 2).await.expect("claim"), 0);
    assert_eq!(get(s, alice, "INBOX").await.recent_uid, 2);
    // A second claimer of the same range gets nothing: the mark is already 2.
    assert_eq!(s.mailbox_recent_claim(inbox.id, 2).await.expect("claim"), 2);
    // A lower claim never moves the mark back.
    assert_eq!(s.mailbox_recent_claim(inbox.id, 1).await.expect("claim"), 2);
    assert_eq!(get(s, alice, "INBOX").await.recent_uid, 2);
    // Past the highest UID handed out is capped: a UID not yet given stays unclaimed.
    assert_eq!(
        s.mailbox_recent_claim(inbox.id, 99).await.expect("claim"),
        2
    );
    let after = get(s, alice, "INBOX").await;
    assert_eq!(after.recent_uid, 3);
    // Not a change IMAP sees: no mod-sequence moved.
    assert_eq!(after.highest_modseq, inbox.highest_modseq + 3);
    let changes = s
        .message_changes_since(inbox.id, after.highest_modseq)
        .await
        .expect("changes");
    assert!(changes.changed.is_empty());
    assert_eq!(changes.mailbox.recent_uid, 3);
    // A new message is above the mark until someone claims it.
    let uid = s
        .message_append(inbox.id, BODY, &[], 2_000)
        .await
        .expect("append");
    assert_eq!(uid, 4);
    assert_eq!(get(s, alice, "INBOX").await.recent_uid, 3);
    assert_eq!(s.mailbox_recent_claim(inbox.id, 4).await.expect("claim"), 3);
    // RENAME INBOX keeps the same messages under the same UIDs: still claimed.
    s.mailbox_rename(alice, "INBOX", "Old")
        .await
        .expect("rename");
    assert_eq!(get(s, alice, "Old").await.recent_uid, 4);
    // Other mailboxes are untouched; an unknown one is NotFound.
    assert_eq!(get(s, alice, "Sent").await.recent_uid, 0);
    let gone = crate::MailboxId(inbox.id.0 + 10_000);
    assert!(matches!(
        s.mailbox_recent_claim(gone, 1).await,
        Err(StoreError::NotFound(_))
    ));
}
