//! The version 7 → 8 migration: a database written when domains were keyed as typed
//! (`例子.中国`) is re-keyed to the A-label form, so the old rows are found again.

use super::super::{SqliteStore, schema};
use super::addr;
use crate::Store;
use message::Domain;

#[tokio::test]
async fn migrates_u_label_keys_to_a_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let c = schema::create_at_version(&dir.path().join("postie.db"), 7).expect("v7");
        // Rows as version 7 wrote them: keys with the domain as typed, lower case. One
        // domain was added in both spellings (v7 allowed it), with an account in each:
        // the U-label account cannot take the key the A-label one has, and is kept.
        c.execute_batch(
            "INSERT INTO domains(name) VALUES ('例子.中国'), ('bücher.example'),
                 ('xn--bcher-kva.example'), ('example.org');
             INSERT INTO accounts(id, address_key, address, domain, password_hash) VALUES
                 (1, 'li@例子.中国', 'Li@例子.中国', '例子.中国', 'h1'),
                 (2, 'kunde@xn--bcher-kva.example', 'kunde@xn--bcher-kva.example',
                     'xn--bcher-kva.example', 'h2'),
                 (3, 'kunde@bücher.example', 'kunde@bücher.example', 'bücher.example', 'h3'),
                 (4, 'alice@example.org', 'alice@example.org', 'example.org', 'h4');
             INSERT INTO aliases(address, display, account_id) VALUES
                 ('info@例子.中国', 'Info@例子.中国', 1),
                 ('sales@example.org', 'sales@example.org', 4);",
        )
        .expect("v7 rows");
    }
    let s = SqliteStore::open(dir.path()).expect("open migrates");
    let domains: Vec<String> = s
        .domain_list()
        .await
        .expect("list")
        .iter()
        .map(|d| d.as_str().to_owned())
        .collect();
    assert_eq!(
        domains,
        [
            "example.org",
            "xn--bcher-kva.example",
            "xn--fsqu00a.xn--fiqs8s"
        ]
    );
    assert!(
        s.domain_is_local(&Domain::parse("xn--fsqu00a.xn--fiqs8s").expect("d"))
            .await
            .expect("local")
    );
    for spelling in ["li@例子.中国", "li@xn--fsqu00a.xn--fiqs8s"] {
        let li = s.account_get(&addr(spelling)).await.expect("get");
        let li = li.expect("li found");
        assert_eq!(li.id.0, 1, "{spelling}");
        // The address as added is kept for display.
        assert_eq!(li.address.to_string(), "Li@例子.中国");
    }
    let info = s
        .resolve_recipient(&addr("info@xn--fsqu00a.xn--fiqs8s"))
        .await
        .expect("resolve");
    assert_eq!(info.map(|a| a.id.0), Some(1));
    // The clash: the account added in A-label form owns the key.
    let kunde = s
        .account_get(&addr("kunde@bücher.example"))
        .await
        .expect("get");
    assert_eq!(kunde.map(|a| a.id.0), Some(2));
    // ASCII rows are untouched.
    let sales = s
        .resolve_recipient(&addr("sales@example.org"))
        .await
        .expect("resolve");
    assert_eq!(sales.map(|a| a.id.0), Some(4));
    // The domain now refuses its other spelling.
    assert!(matches!(
        s.domain_add(&Domain::parse("例子.中国").expect("d")).await,
        Err(crate::StoreError::Exists(_))
    ));
}
