//! Behaviour-suite cases for internationalised domains, run against every backend by the
//! `suite!` macro in the parent module: a U-label and its A-label (RFC 5890 §2.3.2.1) are
//! one domain, so adding the second spelling is `Exists`, and accounts and aliases are
//! found whichever spelling a look-up uses, and `postie queue flush --domain` finds
//! queued recipients written in either spelling.

use message::QueueId;

use super::{BODY, addr, dom, envelope, now};
use crate::{RecipientOutcome, RecipientStatus, Store, StoreError};

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

pub(crate) async fn idn_queue_flush_matches_both_spellings<S: Store>(s: &S) {
    let id = QueueId::from_u64(201);
    // Queued addresses keep the spelling the client wrote.
    let rcpts = [
        "x@bücher.example",
        "y@XN--BCHER-KVA.example",
        "z@other.example",
    ];
    s.enqueue(id, &envelope(&rcpts), BODY)
        .await
        .expect("enqueue");
    for i in 0..rcpts.len() {
        let later = RecipientOutcome::Deferred {
            next_attempt: now() + 3600,
            reason: "451 later".into(),
        };
        s.queue_mark(id, i, &later).await.expect("mark");
    }
    let t = now();
    let flushed = s
        .queue_flush(None, Some(&dom("Bücher.example")), t)
        .await
        .expect("flush");
    assert_eq!(flushed, 2);
    let entry = s.queue_get(id).await.expect("get").expect("entry");
    let due: Vec<bool> = entry
        .recipients
        .iter()
        .map(|r| matches!(r.status, RecipientStatus::Pending { next_attempt, .. } if next_attempt == t))
        .collect();
    assert_eq!(due, [true, true, false]);
}
