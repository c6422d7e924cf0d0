//! Suite cases for what an account carries beyond its password (the administrator
//! flag and the display name, `Store::account_set_admin` / `account_set_display_name`)
//! and for the HTTP API's tokens (see [`crate::api_token`]): add, list by name, find by
//! id, last use, revoke, the error kinds, and tokens outliving any account.

use super::{addr, with_alice};
use crate::{ApiToken, MAX_DISPLAY_NAME, Store, StoreError};

fn token(name: &str, id: &str, created_at: i64) -> ApiToken {
    ApiToken {
        name: name.into(),
        id: id.into(),
        hash: crate::api_token::hash_secret(name),
        created_at,
        last_used: None,
    }
}

/// alice's display name as read back.
async fn display_name<S: Store>(s: &S) -> Option<String> {
    s.account_get(&addr("alice@example.org"))
        .await
        .expect("get")
        .expect("alice")
        .display_name
}

pub(crate) async fn account_admin_set_and_clear<S: Store>(s: &S) {
    with_alice(s).await;
    let alice = addr("alice@example.org");
    let fresh = s.account_get(&alice).await.expect("get").expect("alice");
    assert!(!fresh.admin, "a new account is no administrator");
    assert_eq!(fresh.display_name, None);

    // Any spelling of the address names the account.
    s.account_set_admin(&addr("ALICE@Example.org"), true)
        .await
        .expect("set");
    let a = s.account_get(&alice).await.expect("get").expect("alice");
    assert!(a.admin);
    assert_eq!(a.password_hash, "$argon2id$fake", "the rest is untouched");
    let listed = s.account_list().await.expect("list");
    assert!(listed[0].admin, "the listing reads the flag too");
    let resolved = s.resolve_recipient(&alice).await.expect("resolve");
    assert!(
        resolved.expect("alice").admin,
        "and so does delivery's lookup"
    );
    // Setting it again is no error.
    s.account_set_admin(&alice, true).await.expect("again");

    s.account_set_admin(&alice, false).await.expect("clear");
    assert!(!s.account_get(&alice).await.expect("get").expect("a").admin);

    assert!(matches!(
        s.account_set_admin(&addr("nobody@example.org"), true).await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn account_display_name_set_clear_refuse<S: Store>(s: &S) {
    with_alice(s).await;
    let alice = addr("alice@example.org");

    s.account_set_display_name(&alice, Some("Alice Liddell"))
        .await
        .expect("set");
    assert_eq!(display_name(s).await.as_deref(), Some("Alice Liddell"));
    let listed = s.account_list().await.expect("list");
    assert_eq!(listed[0].display_name.as_deref(), Some("Alice Liddell"));

    // Unicode is fine, counted in bytes: exactly the limit passes.
    let longest = "é".repeat(MAX_DISPLAY_NAME / 2);
    assert_eq!(longest.len(), MAX_DISPLAY_NAME);
    s.account_set_display_name(&alice, Some(&longest))
        .await
        .expect("the longest");
    assert_eq!(display_name(s).await.as_deref(), Some(longest.as_str()));

    s.account_set_display_name(&alice, None)
        .await
        .expect("clear");
    assert_eq!(display_name(s).await, None);

    s.account_set_display_name(&alice, Some("Alice"))
        .await
        .expect("set");
    let too_long = "x".repeat(MAX_DISPLAY_NAME + 1);
    let refused = [
        too_long.as_str(),
        "Alice\nBcc: evil@example.net",
        "Alice\r",
        "tab\there",
        "nul\0",
        "esc\u{1b}[31m",
        "del\u{7f}",
        "c1\u{85}",
    ];
    for bad in refused {
        assert!(
            matches!(
                s.account_set_display_name(&alice, Some(bad)).await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert_eq!(
        display_name(s).await.as_deref(),
        Some("Alice"),
        "refusals change nothing"
    );

    assert!(matches!(
        s.account_set_display_name(&addr("nobody@example.org"), Some("N"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.account_set_display_name(&addr("nobody@example.org"), None)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn token_add_list_get_use_revoke<S: Store>(s: &S) {
    assert!(s.token_list().await.expect("list").is_empty());
    s.token_add(&token("deploy", "deployi1", 1_700_000_000))
        .await
        .expect("add deploy");
    s.token_add(&token("ci", "ciidid01", 1_700_000_100))
        .await
        .expect("add ci");
    s.token_add(&token("backup.nightly", "backupi1", 1_700_000_200))
        .await
        .expect("add backup");
    let list = s.token_list().await.expect("list");
    let names: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["backup.nightly", "ci", "deploy"], "sorted by name");
    assert_eq!(list[2], token("deploy", "deployi1", 1_700_000_000));

    let found = s.token_get("ciidid01").await.expect("get");
    assert_eq!(found, Some(token("ci", "ciidid01", 1_700_000_100)));
    assert_eq!(s.token_get("nosuchid").await.expect("get"), None);
    assert_eq!(
        s.token_get("ci").await.expect("get"),
        None,
        "by id, not by name"
    );

    s.token_used("ciidid01", 1_700_000_500).await.expect("used");
    let ci = s.token_get("ciidid01").await.expect("get").expect("ci");
    assert_eq!(ci.last_used, Some(1_700_000_500));
    s.token_used("ciidid01", 1_700_000_900).await.expect("used");
    let ci = s.token_get("ciidid01").await.expect("get").expect("ci");
    assert_eq!(ci.last_used, Some(1_700_000_900), "the latest use");
    let deploy = s.token_get("deployi1").await.expect("get").expect("deploy");
    assert_eq!(deploy.last_used, None, "only that token");
    // An unknown (or revoked) id is ignored.
    s.token_used("nosuchid", 1).await.expect("ignored");

    s.token_revoke("ci").await.expect("revoke");
    assert_eq!(s.token_get("ciidid01").await.expect("get"), None);
    let names: Vec<String> = s
        .token_list()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["backup.nightly", "deploy"]);
    s.token_used("ciidid01", 1)
        .await
        .expect("revoked is ignored");
    // The name is free again.
    s.token_add(&token("ci", "ciidid02", 1_700_001_000))
        .await
        .expect("re-add");
}

pub(crate) async fn token_errors<S: Store>(s: &S) {
    s.token_add(&token("ci", "ciidid01", 1)).await.expect("add");
    assert!(matches!(
        s.token_add(&token("ci", "otherid1", 2)).await,
        Err(StoreError::Exists(_))
    ));
    assert!(matches!(
        s.token_add(&token("other", "ciidid01", 2)).await,
        Err(StoreError::Exists(_))
    ));
    for bad in ["", "a b", "a/b", "é", &"x".repeat(65)] {
        assert!(
            matches!(
                s.token_add(&token(bad, "badidid1", 3)).await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        s.token_revoke("nosuch").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.token_revoke("CI").await,
        Err(StoreError::NotFound(_))
    ));
    let list = s.token_list().await.expect("list");
    assert_eq!(
        list,
        vec![token("ci", "ciidid01", 1)],
        "failures add nothing"
    );
}

pub(crate) async fn account_remove_leaves_tokens<S: Store>(s: &S) {
    with_alice(s).await;
    let alice = addr("alice@example.org");
    s.account_set_admin(&alice, true).await.expect("admin");
    s.token_add(&token("ci", "ciidid01", 1)).await.expect("add");
    s.account_remove(&alice).await.expect("remove");
    assert_eq!(
        s.token_list().await.expect("list"),
        vec![token("ci", "ciidid01", 1)],
        "tokens are the server's, not the account's"
    );
    // A new account of that address starts over: no administrator, no name.
    s.account_add(&alice, "$argon2id$new").await.expect("again");
    let again = s.account_get(&alice).await.expect("get").expect("alice");
    assert!(!again.admin);
    assert_eq!(again.display_name, None);
}
