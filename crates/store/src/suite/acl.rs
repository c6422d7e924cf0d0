//! Suite cases for IMAP access control lists (RFC 4314): setting, replacing and
//! removing entries, `anyone`, the rights an account has on another's mailbox (its own
//! entry's and `anyone`'s together, in RFC 4314 §2.1 order), the error kinds, and what
//! a rename, a mailbox delete and an account removal do to the entries.

use super::{addr, inbox, with_alice};
use crate::{AccountId, AclEntry, Grantee, MailboxId, SharedMailbox, Store, StoreError};

/// Adds bob@ and carol@example.org next to alice.
async fn three<S: Store>(s: &S) -> (AccountId, AccountId, AccountId) {
    let alice = with_alice(s).await;
    let bob = s
        .account_add(&addr("bob@example.org"), "$argon2id$fake")
        .await
        .expect("bob");
    let carol = s
        .account_add(&addr("Carol@example.org"), "$argon2id$fake")
        .await
        .expect("carol");
    (alice, bob, carol)
}

/// A new mailbox `name` of `account`.
async fn create<S: Store>(s: &S, account: AccountId, name: &str) -> MailboxId {
    s.mailbox_create(account, name, None)
        .await
        .expect("create")
        .id
}

/// (identifier, rights) of every entry.
async fn entries<S: Store>(s: &S, mailbox: MailboxId) -> Vec<(String, String)> {
    s.acl_list(mailbox)
        .await
        .expect("acl list")
        .into_iter()
        .map(|e| (e.identifier, e.rights))
        .collect()
}

/// (owner address, mailbox name, rights, anyone) of every mailbox shared with `account`.
async fn shared<S: Store>(s: &S, account: AccountId) -> Vec<(String, String, String, bool)> {
    s.acl_shared_with(account)
        .await
        .expect("shared with")
        .into_iter()
        .map(|m: SharedMailbox| {
            (
                m.owner_address.to_string(),
                m.mailbox.name,
                m.rights,
                m.anyone,
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

pub(crate) async fn acl_set_list_replace_remove<S: Store>(s: &S) {
    let (alice, bob, carol) = three(s).await;
    let team = create(s, alice, "Team").await;
    assert!(s.acl_list(team).await.expect("list").is_empty());
    s.acl_set(team, Grantee::Account(carol), "lrs")
        .await
        .expect("carol");
    s.acl_set(team, Grantee::Account(bob), "lr")
        .await
        .expect("bob");
    s.acl_set(team, Grantee::Anyone, "l").await.expect("anyone");
    let list = s.acl_list(team).await.expect("list");
    assert_eq!(
        list,
        vec![
            AclEntry {
                grantee: Grantee::Anyone,
                identifier: "anyone".into(),
                rights: "l".into(),
            },
            AclEntry {
                grantee: Grantee::Account(bob),
                identifier: "bob@example.org".into(),
                rights: "lr".into(),
            },
            AclEntry {
                grantee: Grantee::Account(carol),
                identifier: "Carol@example.org".into(),
                rights: "lrs".into(),
            },
        ],
        "anyone first, then by address; the address as added"
    );
    // Replacing, kept as given (the caller normalises).
    s.acl_set(team, Grantee::Account(bob), "wrl")
        .await
        .expect("replace");
    assert_eq!(
        entries(s, team).await,
        pairs(&[
            ("anyone", "l"),
            ("bob@example.org", "wrl"),
            ("Carol@example.org", "lrs")
        ])
    );
    // Empty rights remove the entry; removing one that is not there is no error.
    s.acl_set(team, Grantee::Account(bob), "")
        .await
        .expect("remove");
    s.acl_set(team, Grantee::Account(bob), "")
        .await
        .expect("remove again");
    s.acl_set(team, Grantee::Anyone, "").await.expect("anyone");
    assert_eq!(
        entries(s, team).await,
        pairs(&[("Carol@example.org", "lrs")])
    );
    // Another mailbox's list is its own.
    assert!(entries(s, inbox(s, alice).await.id).await.is_empty());
}

pub(crate) async fn acl_shared_with_unites_anyone_and_own_rights<S: Store>(s: &S) {
    let (alice, bob, carol) = three(s).await;
    let team = create(s, alice, "Team").await;
    let public = create(s, alice, "Public").await;
    create(s, alice, "Private").await;
    let notes = create(s, carol, "Notes").await;
    s.acl_set(team, Grantee::Account(bob), "tiwl")
        .await
        .expect("bob");
    s.acl_set(team, Grantee::Anyone, "rl")
        .await
        .expect("anyone");
    s.acl_set(public, Grantee::Anyone, "lr")
        .await
        .expect("public");
    s.acl_set(notes, Grantee::Account(bob), "ax9r")
        .await
        .expect("notes");
    // Bob shares one of his own with anyone: never listed for himself.
    let bobs = create(s, bob, "Bobs").await;
    s.acl_set(bobs, Grantee::Anyone, "lr").await.expect("bobs");

    assert_eq!(
        shared(s, bob).await,
        vec![
            // Alice's, in the order of her mailbox list; rights in RFC 4314 order.
            (
                "alice@example.org".into(),
                "Team".into(),
                "lrwit".into(),
                true
            ),
            (
                "alice@example.org".into(),
                "Public".into(),
                "lr".into(),
                true
            ),
            (
                "Carol@example.org".into(),
                "Notes".into(),
                "rxa9".into(),
                false
            ),
        ]
    );
    // Carol sees what anyone may: alice's two, and bob's; not her own Notes.
    assert_eq!(
        shared(s, carol).await,
        vec![
            ("alice@example.org".into(), "Team".into(), "lr".into(), true),
            (
                "alice@example.org".into(),
                "Public".into(),
                "lr".into(),
                true
            ),
            ("bob@example.org".into(), "Bobs".into(), "lr".into(), true),
        ]
    );
    // Alice sees bob's only; the mailbox is as her mailbox list gives it otherwise.
    let for_alice = s.acl_shared_with(alice).await.expect("alice");
    assert_eq!(for_alice.len(), 1);
    assert_eq!(for_alice[0].owner, bob);
    assert_eq!(
        for_alice[0].mailbox,
        s.mailbox_get(bob, "Bobs")
            .await
            .expect("get")
            .expect("Bobs")
    );
}

pub(crate) async fn acl_errors<S: Store>(s: &S) {
    let (alice, bob, _) = three(s).await;
    let team = create(s, alice, "Team").await;
    let gone = create(s, alice, "Gone").await;
    s.mailbox_delete(alice, "Gone").await.expect("delete");
    assert!(matches!(
        s.acl_set(gone, Grantee::Account(bob), "lr").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.acl_set(gone, Grantee::Anyone, "lr").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.acl_list(gone).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.acl_list(MailboxId(987_654)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.acl_set(team, Grantee::Account(AccountId(987_654)), "lr")
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.acl_shared_with(AccountId(987_654)).await,
        Err(StoreError::NotFound(_))
    ));
    // The owner always has every right: never stored.
    assert!(matches!(
        s.acl_set(team, Grantee::Account(alice), "lr").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(s.acl_list(team).await.expect("list").is_empty());
}

pub(crate) async fn acl_rename_keeps_delete_drops<S: Store>(s: &S) {
    let (alice, bob, _) = three(s).await;
    let team = create(s, alice, "Team").await;
    create(s, alice, "Team/Sub").await;
    s.acl_set(team, Grantee::Account(bob), "lr")
        .await
        .expect("set");
    s.mailbox_rename(alice, "Team", "Crew")
        .await
        .expect("rename");
    assert_eq!(entries(s, team).await, pairs(&[("bob@example.org", "lr")]));
    assert_eq!(
        shared(s, bob).await,
        vec![(
            "alice@example.org".into(),
            "Crew".into(),
            "lr".into(),
            false
        )]
    );
    s.mailbox_delete(alice, "Crew").await.expect("delete");
    assert!(shared(s, bob).await.is_empty());
    // A mailbox made again under the old name starts with no entries.
    let again = create(s, alice, "Crew").await;
    assert!(s.acl_list(again).await.expect("list").is_empty());
    assert!(shared(s, bob).await.is_empty());
}

pub(crate) async fn acl_account_remove_drops_entries<S: Store>(s: &S) {
    let (alice, bob, carol) = three(s).await;
    let team = create(s, alice, "Team").await;
    let notes = create(s, carol, "Notes").await;
    s.acl_set(team, Grantee::Account(bob), "lr")
        .await
        .expect("bob");
    s.acl_set(team, Grantee::Account(carol), "lrs")
        .await
        .expect("carol");
    s.acl_set(notes, Grantee::Account(bob), "lr")
        .await
        .expect("notes");
    // The grantee goes: its entries go.
    s.account_remove(&addr("carol@example.org"))
        .await
        .expect("remove carol");
    assert_eq!(entries(s, team).await, pairs(&[("bob@example.org", "lr")]));
    // And so do its own mailboxes, from everyone's shared list.
    assert_eq!(
        shared(s, bob).await,
        vec![(
            "alice@example.org".into(),
            "Team".into(),
            "lr".into(),
            false
        )]
    );
    // The owner goes: its mailboxes leave every shared list.
    s.account_remove(&addr("alice@example.org"))
        .await
        .expect("remove alice");
    assert!(shared(s, bob).await.is_empty());
    // A new account never inherits anything.
    let dave = s
        .account_add(&addr("dave@example.org"), "$argon2id$fake")
        .await
        .expect("dave");
    assert!(shared(s, dave).await.is_empty());
}
