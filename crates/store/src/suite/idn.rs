//! Behaviour-suite cases for internationalised domains, run against every backend by the
//! `suite!` macro in the parent module: a U-label and its A-label (RFC 5890 §2.3.2.1) are
//! one domain, so adding the second spelling is `Exists`, and accounts and aliases are
//! found whichever spelling a look-up uses.

use super::{addr, dom};
use crate::{Store, StoreError};

pub(crate) async fn idn_domain_has_one_key<S: Store>(s: &S) {
    s.domain_add(&dom("例子.中国")).await.expect("add");
    for other in [
        "xn--fsqu00a.xn--fiqs8s",
        "XN--FSQU00A.xn--fiqs8s",
        "例子。中国",
    ] {
        assert!(
            matches!(s.domain_add(&dom(other)).await, Err(StoreError::Exists(_))),
            "{other}"
        );
        assert!(s.domain_is_local(&dom(other)).await.expect("local"));
    }
    let listed = s.domain_list().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].as_str(), "xn--fsqu00a.xn--fiqs8s");
    assert_eq!(listed[0].to_string(), "例子.中国");
    // Added in A-label form, the U-label form is local too.
    s.domain_add(&dom("XN--BCHER-KVA.example"))
        .await
        .expect("add");
    assert!(
        s.domain_is_local(&dom("Bücher.example"))
            .await
            .expect("local")
    );
    assert!(matches!(
        s.domain_add(&dom("bücher.example")).await,
        Err(StoreError::Exists(_))
    ));
}

pub(crate) async fn idn_accounts_and_aliases_in_either_spelling<S: Store>(s: &S) {
    s.domain_add(&dom("xn--fsqu00a.xn--fiqs8s"))
        .await
        .expect("domain");
    s.domain_add(&dom("mail.bücher.example"))
        .await
        .expect("domain");
    let li = s
        .account_add(&addr("li@例子.中国"), "$argon2id$fake")
        .await
        .expect("li");
    assert!(matches!(
        s.account_add(&addr("LI@xn--fsqu00a.xn--fiqs8s"), "h").await,
        Err(StoreError::Exists(_))
    ));
    for spelling in ["li@例子.中国", "Li@XN--FSQU00A.xn--fiqs8s", "li@例子。中国"] {
        let got = s.account_get(&addr(spelling)).await.expect("get");
        assert_eq!(got.map(|a| a.id), Some(li), "{spelling}");
        let routed = s.resolve_recipient(&addr(spelling)).await.expect("resolve");
        assert_eq!(routed.map(|a| a.id), Some(li), "{spelling}");
    }
    // An alias added in one spelling resolves in the other, and to the same account.
    s.alias_add(&addr("info@xn--fsqu00a.xn--fiqs8s"), &addr("li@例子.中国"))
        .await
        .expect("alias");
    let routed = s
        .resolve_recipient(&addr("INFO@例子.中国"))
        .await
        .expect("resolve");
    assert_eq!(routed.map(|a| a.id), Some(li));
    assert!(matches!(
        s.account_add(&addr("info@例子.中国"), "h").await,
        Err(StoreError::Exists(_))
    ));
    // Mixed ASCII and IDN labels.
    let kunde = s
        .account_add(&addr("kunde@MAIL.xn--bcher-kva.example"), "h")
        .await
        .expect("kunde");
    let got = s
        .account_get(&addr("Kunde@mail.bücher.example"))
        .await
        .expect("get");
    assert_eq!(got.map(|a| a.id), Some(kunde));
    // The domain cannot go while it has the alias and the account, in either spelling.
    assert!(matches!(
        s.domain_remove(&dom("例子.中国")).await,
        Err(StoreError::Invalid(_))
    ));
    s.alias_remove(&addr("info@例子.中国"))
        .await
        .expect("alias");
    assert!(matches!(
        s.domain_remove(&dom("xn--fsqu00a.xn--fiqs8s")).await,
        Err(StoreError::Invalid(_))
    ));
    s.account_remove(&addr("li@xn--fsqu00a.xn--fiqs8s"))
        .await
        .expect("account");
    s.domain_remove(&dom("例子.中国")).await.expect("domain");
    assert!(
        !s.domain_is_local(&dom("xn--fsqu00a.xn--fiqs8s"))
            .await
            .expect("local")
    );
}
