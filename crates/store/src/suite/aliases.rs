//! Behaviour-suite cases for aliases, run against every backend by the `suite!` macro in
//! the parent module: add/list/resolve/remove, case-insensitivity, the error kinds, an
//! address never being both an account and an alias, account removal taking its aliases,
//! and domain removal refused while an alias is in the domain.

use super::{addr, dom, with_alice};
use crate::{Store, StoreError};

/// The alias list as (alias, target) strings.
async fn listed<S: Store>(s: &S) -> Vec<(String, String)> {
    s.alias_list()
        .await
        .expect("alias list")
        .iter()
        .map(|(a, t)| (a.to_string(), t.to_string()))
        .collect()
}

/// The id of the account mail for `address` resolves to, if any.
async fn resolved<S: Store>(s: &S, address: &str) -> Option<crate::AccountId> {
    s.resolve_recipient(&addr(address))
        .await
        .expect("resolve")
        .map(|a| a.id)
}

fn pair(alias: &str, target: &str) -> (String, String) {
    (alias.to_string(), target.to_string())
}

pub(crate) async fn alias_basics<S: Store>(s: &S) {
    assert!(s.alias_list().await.expect("list").is_empty());
    let alice = with_alice(s).await;
    // The target is found case-insensitively; the alias is kept as written.
    s.alias_add(&addr("Sales@Example.ORG"), &addr("ALICE@example.org"))
        .await
        .expect("sales");
    s.alias_add(&addr("postmaster@example.org"), &addr("alice@example.org"))
        .await
        .expect("postmaster");
    s.alias_add(&addr("info@example.org"), &addr("alice@example.org"))
        .await
        .expect("info");
    // Sorted by the normalized alias: "Sales" sorts after "postmaster".
    assert_eq!(
        listed(s).await,
        [
            pair("info@example.org", "alice@example.org"),
            pair("postmaster@example.org", "alice@example.org"),
            pair("Sales@example.org", "alice@example.org"),
        ]
    );
    // Resolving: through an alias in any spelling, the account itself, or nothing.
    let via = s
        .resolve_recipient(&addr("sALES@example.ORG"))
        .await
        .expect("resolve")
        .expect("alias resolves");
    assert_eq!(via.id, alice);
    assert_eq!(via.address.to_string(), "alice@example.org");
    assert_eq!(via.password_hash, "$argon2id$fake");
    assert_eq!(resolved(s, "Alice@Example.org").await, Some(alice));
    assert_eq!(resolved(s, "nobody@example.org").await, None);
    assert_eq!(resolved(s, "sales@remote.example").await, None);
    // An alias is not an account: no login, no mailbox.
    assert!(
        s.account_get(&addr("sales@example.org"))
            .await
            .expect("get")
            .is_none()
    );
    assert_eq!(s.account_list().await.expect("accounts").len(), 1);

    s.alias_remove(&addr("SALES@example.org"))
        .await
        .expect("rm sales");
    assert_eq!(resolved(s, "sales@example.org").await, None);
    assert!(matches!(
        s.alias_remove(&addr("sales@example.org")).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.alias_remove(&addr("alice@example.org")).await,
        Err(StoreError::NotFound(_)),
    ));
    assert_eq!(
        listed(s).await,
        [
            pair("info@example.org", "alice@example.org"),
            pair("postmaster@example.org", "alice@example.org"),
        ]
    );
    // The account was untouched, and the address is free again.
    assert_eq!(resolved(s, "alice@example.org").await, Some(alice));
    s.alias_add(&addr("sales@example.org"), &addr("alice@example.org"))
        .await
        .expect("re-add");
    assert_eq!(resolved(s, "Sales@example.org").await, Some(alice));
}

pub(crate) async fn alias_errors<S: Store>(s: &S) {
    let alice = with_alice(s).await;
    let zed = s
        .account_add(&addr("zed@example.org"), "hz")
        .await
        .expect("zed");
    s.alias_add(&addr("info@example.org"), &addr("alice@example.org"))
        .await
        .expect("info");
    let before = listed(s).await;
    // Not a local domain.
    assert!(matches!(
        s.alias_add(&addr("info@remote.example"), &addr("alice@example.org"))
            .await,
        Err(StoreError::Invalid(_))
    ));
    // No such account, an account elsewhere, or another alias: not a target.
    for target in ["nobody@example.org", "x@remote.example", "INFO@example.org"] {
        assert!(
            matches!(
                s.alias_add(&addr("new@example.org"), &addr(target)).await,
                Err(StoreError::Invalid(_))
            ),
            "target {target}"
        );
    }
    // The address is already an account (any spelling)…
    assert!(matches!(
        s.alias_add(&addr("ALICE@example.org"), &addr("zed@example.org"))
            .await,
        Err(StoreError::Exists(_))
    ));
    // … or already an alias, even to another account.
    assert!(matches!(
        s.alias_add(&addr("Info@Example.org"), &addr("zed@example.org"))
            .await,
        Err(StoreError::Exists(_))
    ));
    // And the other way round: an account cannot take an alias's address.
    assert!(matches!(
        s.account_add(&addr("INFO@example.org"), "h").await,
        Err(StoreError::Exists(_))
    ));
    // Nothing changed.
    assert_eq!(listed(s).await, before);
    assert_eq!(resolved(s, "info@example.org").await, Some(alice));
    assert_eq!(resolved(s, "alice@example.org").await, Some(alice));
    assert_eq!(resolved(s, "zed@example.org").await, Some(zed));
    assert_eq!(resolved(s, "new@example.org").await, None);
    assert_eq!(s.account_list().await.expect("accounts").len(), 2);
}

pub(crate) async fn account_remove_takes_aliases<S: Store>(s: &S) {
    with_alice(s).await;
    let bob = s
        .account_add(&addr("bob@example.org"), "hb")
        .await
        .expect("bob");
    for (alias, target) in [
        ("a1@example.org", "alice@example.org"),
        ("a2@example.org", "alice@example.org"),
        ("b1@example.org", "bob@example.org"),
    ] {
        s.alias_add(&addr(alias), &addr(target))
            .await
            .expect("alias");
    }
    s.account_remove(&addr("Alice@example.org"))
        .await
        .expect("rm alice");
    assert_eq!(listed(s).await, [pair("b1@example.org", "bob@example.org")]);
    assert_eq!(resolved(s, "a1@example.org").await, None);
    assert_eq!(resolved(s, "b1@example.org").await, Some(bob));
    // The removed aliases' addresses are free for an account or a new alias.
    s.account_add(&addr("a1@example.org"), "h")
        .await
        .expect("a1 as account");
    s.alias_add(&addr("a2@example.org"), &addr("bob@example.org"))
        .await
        .expect("a2 to bob");
    assert_eq!(resolved(s, "A2@example.org").await, Some(bob));
    // A re-created alice does not get her old aliases back.
    s.account_add(&addr("alice@example.org"), "h")
        .await
        .expect("alice again");
    assert_eq!(
        listed(s).await,
        [
            pair("a2@example.org", "bob@example.org"),
            pair("b1@example.org", "bob@example.org"),
        ]
    );
}

pub(crate) async fn domain_remove_refused_while_aliases<S: Store>(s: &S) {
    with_alice(s).await;
    for d in ["b.example", "xb.example", "a_b.example", "axb.example"] {
        s.domain_add(&dom(d)).await.expect("domain");
    }
    // Aliases in domains that only look like b.example / a_b.example, pointing to an
    // account in another domain.
    s.alias_add(&addr("info@xb.example"), &addr("alice@example.org"))
        .await
        .expect("xb");
    s.alias_add(&addr("info@axb.example"), &addr("alice@example.org"))
        .await
        .expect("axb");
    s.domain_remove(&dom("b.example"))
        .await
        .expect("b.example has no alias");
    s.domain_remove(&dom("a_b.example"))
        .await
        .expect("a_b.example has no alias");
    for d in ["xb.example", "AXB.example"] {
        assert!(
            matches!(s.domain_remove(&dom(d)).await, Err(StoreError::Invalid(_))),
            "domain {d}"
        );
    }
    assert_eq!(
        s.domain_list().await.expect("domains"),
        [dom("axb.example"), dom("example.org"), dom("xb.example")]
    );
    // Once the alias is gone, so may the domain be.
    s.alias_remove(&addr("INFO@xb.example"))
        .await
        .expect("rm alias");
    s.domain_remove(&dom("xb.example"))
        .await
        .expect("rm domain");
    // The account's domain stays refused while it has the account, aliases or not.
    assert!(matches!(
        s.domain_remove(&dom("example.org")).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        listed(s).await,
        [pair("info@axb.example", "alice@example.org")]
    );
}
