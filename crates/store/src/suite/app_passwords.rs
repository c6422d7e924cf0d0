//! Suite cases for app passwords (see [`crate::app_password`]): add, list by name, find
//! by id, last use, revoke, the error kinds, and removal with the account.

use super::{addr, with_alice};
use crate::{AccountId, Store, StoreError};

pub(crate) async fn app_password_add_list_get_use_revoke<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    assert!(s.app_password_list(alice).await.expect("list").is_empty());
    s.app_password_add(alice, "phone", "phoneid1", "$argon2id$p", 1_700_000_000)
        .await
        .expect("add phone");
    s.app_password_add(alice, "laptop", "laptopi1", "$argon2id$l", 1_700_000_100)
        .await
        .expect("add laptop");
    let list = s.app_password_list(alice).await.expect("list");
    let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["laptop", "phone"], "sorted by name");
    assert_eq!(list[1].id, "phoneid1");
    assert_eq!(list[1].hash, "$argon2id$p");
    assert_eq!(list[1].created_at, 1_700_000_000);
    assert_eq!(list[1].last_used, None);

    let found = s.app_password_get(alice, "phoneid1").await.expect("get");
    assert_eq!(found.as_ref().map(|p| p.name.as_str()), Some("phone"));
    assert_eq!(
        s.app_password_get(alice, "nosuchid").await.expect("get"),
        None
    );

    s.app_password_used(alice, "phoneid1", 1_700_000_500)
        .await
        .expect("used");
    let phone = s.app_password_get(alice, "phoneid1").await.expect("get");
    assert_eq!(phone.and_then(|p| p.last_used), Some(1_700_000_500));
    // A revoked or unknown id is ignored.
    s.app_password_used(alice, "nosuchid", 1)
        .await
        .expect("ignored");

    s.app_password_revoke(alice, "phone").await.expect("revoke");
    assert_eq!(
        s.app_password_get(alice, "phoneid1").await.expect("get"),
        None
    );
    let names: Vec<String> = s
        .app_password_list(alice)
        .await
        .expect("list")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["laptop"]);
    // The name is free again.
    s.app_password_add(alice, "phone", "phoneid2", "$argon2id$q", 1_700_001_000)
        .await
        .expect("re-add");
}

pub(crate) async fn app_password_errors<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let bob = s
        .account_add(&addr("bob@example.org"), "$argon2id$fake")
        .await
        .expect("bob");
    s.app_password_add(alice, "phone", "phoneid1", "h", 1)
        .await
        .expect("add");
    assert!(matches!(
        s.app_password_add(alice, "phone", "otherid1", "h", 2).await,
        Err(StoreError::Exists(_))
    ));
    assert!(
        matches!(
            s.app_password_add(bob, "bobs", "phoneid1", "h", 2).await,
            Err(StoreError::Exists(_)),
        ),
        "ids are unique across accounts"
    );
    for bad in ["", "  ", "a\nb"] {
        assert!(
            matches!(
                s.app_password_add(alice, bad, "badname1", "h", 2).await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    let ghost = AccountId(987_654);
    assert!(matches!(
        s.app_password_add(ghost, "x", "ghostid1", "h", 1).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.app_password_list(ghost).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.app_password_revoke(alice, "tablet").await,
        Err(StoreError::NotFound(_))
    ));
    // One account's app password is not another's.
    assert_eq!(
        s.app_password_get(bob, "phoneid1").await.expect("get"),
        None
    );
    assert!(matches!(
        s.app_password_revoke(bob, "phone").await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn account_remove_takes_app_passwords<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    s.app_password_add(alice, "phone", "phoneid1", "h", 1)
        .await
        .expect("add");
    s.account_remove(&addr("alice@example.org"))
        .await
        .expect("remove");
    assert_eq!(
        s.app_password_get(alice, "phoneid1").await.expect("get"),
        None
    );
    // The id is free for the next account.
    let again = s
        .account_add(&addr("alice@example.org"), "$argon2id$fake")
        .await
        .expect("re-add");
    assert!(s.app_password_list(again).await.expect("list").is_empty());
    s.app_password_add(again, "phone", "phoneid1", "h", 2)
        .await
        .expect("the old id is free");
}
