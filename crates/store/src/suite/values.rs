//! Suite cases for the server's own values and named leases (`Store::value_put`,
//! `value_list`, `lease_take`): byte-exact values, prefix listing that stops at the
//! prefix, bounded keys and values, and leases exclusive until they expire.

use crate::{Store, StoreError, VALUE_KEY_MAX, VALUE_MAX};

pub(crate) async fn values_put_get_list_delete<S: Store>(s: &S) {
    assert_eq!(s.value_get("acme/cert").await.expect("get"), None);
    let binary: Vec<u8> = (0..=255).collect();
    s.value_put("acme/cert", &binary).await.expect("put");
    s.value_put("acme/account", b"key").await.expect("put");
    s.value_put("acme0", b"after the prefix")
        .await
        .expect("put");
    s.value_put("acm", b"before the prefix").await.expect("put");
    s.value_put("scram/1", b"").await.expect("empty value");
    assert_eq!(
        s.value_get("acme/cert").await.expect("get").as_deref(),
        Some(&binary[..])
    );
    // Replacing.
    s.value_put("acme/account", b"new key").await.expect("put");
    let listed = s.value_list("acme/").await.expect("list");
    assert_eq!(
        listed,
        vec![
            ("acme/account".to_owned(), b"new key".to_vec()),
            ("acme/cert".to_owned(), binary.clone()),
        ]
    );
    assert_eq!(s.value_list("").await.expect("all").len(), 5);
    assert_eq!(
        s.value_get("scram/1").await.expect("get").as_deref(),
        Some(&b""[..])
    );
    s.value_delete("acme/cert").await.expect("delete");
    s.value_delete("acme/cert").await.expect("again: no error");
    assert_eq!(s.value_get("acme/cert").await.expect("get"), None);
    assert_eq!(s.value_list("acme/").await.expect("list").len(), 1);
}

pub(crate) async fn values_bounded<S: Store>(s: &S) {
    let long_key = "k".repeat(VALUE_KEY_MAX + 1);
    assert!(matches!(
        s.value_put(&long_key, b"v").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.value_put("", b"v").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.value_put("big", &vec![0; VALUE_MAX + 1]).await,
        Err(StoreError::Invalid(_))
    ));
    s.value_put("big", &vec![7; VALUE_MAX])
        .await
        .expect("the largest value");
    assert_eq!(
        s.value_get("big").await.expect("get").map(|v| v.len()),
        Some(VALUE_MAX)
    );
    assert!(matches!(
        s.lease_take(&long_key, "a", 0, 1).await,
        Err(StoreError::Invalid(_))
    ));
}

pub(crate) async fn leases_exclusive_until_expired<S: Store>(s: &S) {
    let t = 1_000_000;
    assert!(
        s.lease_take("acme-renew", "node-a", t, t + 60)
            .await
            .expect("take")
    );
    assert!(
        !s.lease_take("acme-renew", "node-b", t + 1, t + 61)
            .await
            .expect("refused"),
        "another holder's live lease"
    );
    assert!(
        s.lease_take("tls-rpt", "node-b", t + 1, t + 61)
            .await
            .expect("another lease is free")
    );
    assert!(
        s.lease_take("acme-renew", "node-a", t + 30, t + 90)
            .await
            .expect("extend")
    );
    assert!(
        !s.lease_take("acme-renew", "node-b", t + 60, t + 120)
            .await
            .expect("still extended")
    );
    // Dropping by another holder does nothing; by the holder frees it.
    s.lease_drop("acme-renew", "node-b").await.expect("drop");
    assert!(
        !s.lease_take("acme-renew", "node-b", t + 61, t + 120)
            .await
            .expect("still held")
    );
    s.lease_drop("acme-renew", "node-a").await.expect("drop");
    assert!(
        s.lease_take("acme-renew", "node-b", t + 61, t + 120)
            .await
            .expect("free")
    );
    // Expired: another holder takes it over.
    assert!(
        s.lease_take("acme-renew", "node-a", t + 120, t + 180)
            .await
            .expect("expired")
    );
}
