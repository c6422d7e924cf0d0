//! MTA-STS discovery and its cache (RFC 8461 §3, §5.1) against a loopback DNS, with
//! the policy host unreachable: what is used when the fetch fails.

use std::sync::Arc;
use std::time::Duration;

use relay::dns::DnsResolver;
use relay::dns::test_server::{RecordType, TestDns};
use relay::security::sts::{Cached, Found, StsResolver};
use relay::security::sts_policy::{Mode, Policy};
use relay::security::tlsrpt::ResultType;
use relay::security::values::{MemoryValues, Values};

const NOW: i64 = 1_800_000_000;

fn policy() -> Policy {
    Policy {
        mode: Mode::Enforce,
        mx: vec!["mx.sts.test".into()],
        max_age: 3600,
    }
}

async fn world(txt: Option<&str>) -> (TestDns, StsResolver, Arc<MemoryValues>) {
    let mut records = vec![
        // The policy host exists but nothing listens on 443 there.
        ("mta-sts.sts.test", RecordType::A, "127.0.0.1"),
        ("sts.test", RecordType::A, "127.0.0.1"),
    ];
    let quoted = txt.map(|t| format!("\"{t}\""));
    if let Some(t) = &quoted {
        records.push(("_mta-sts.sts.test", RecordType::TXT, t.as_str()));
    }
    let dns = TestDns::start(records).await;
    let resolver = DnsResolver::with_options(&[dns.addr], Duration::from_secs(2), 1).unwrap();
    let values = Arc::new(MemoryValues::default());
    let tls = relay::tls::verified_config(None).unwrap();
    let sts = StsResolver::new(resolver, tls, values.clone(), Duration::from_secs(5));
    (dns, sts, values)
}

async fn cache(values: &MemoryValues, id: &str, fetched: i64) {
    let entry = Cached {
        id: id.into(),
        fetched,
        policy: policy(),
        text: vec!["version: STSv1".into()],
    };
    values
        .put("mta-sts/sts.test", &serde_json::to_vec(&entry).unwrap())
        .await;
}

#[tokio::test]
async fn no_txt_record_and_nothing_cached_is_no_policy() {
    let (_dns, sts, _) = world(None).await;
    assert!(matches!(sts.policy("sts.test", NOW).await, Found::None));
}

#[tokio::test]
async fn a_failed_fetch_without_a_cache_is_no_policy_but_reported() {
    let (_dns, sts, values) = world(Some("v=STSv1; id=2")).await;
    match sts.policy("sts.test", NOW).await {
        Found::Failed(kind, why) => {
            assert_eq!(kind, ResultType::StsPolicyFetchError);
            assert!(why.contains("mta-sts.sts.test"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert!(values.get("mta-sts/sts.test").await.is_none());
}

#[tokio::test]
async fn the_same_id_uses_the_cache() {
    let (_dns, sts, values) = world(Some("v=STSv1; id=1")).await;
    cache(&values, "1", NOW - 10).await;
    match sts.policy("sts.test", NOW).await {
        Found::Policy(c) => assert_eq!(c.policy, policy()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_new_id_whose_fetch_fails_keeps_the_unexpired_cache() {
    // §5.1: a cached policy stays in force while it has not expired.
    let (_dns, sts, values) = world(Some("v=STSv1; id=2")).await;
    cache(&values, "1", NOW - 10).await;
    assert!(matches!(
        sts.policy("sts.test", NOW).await,
        Found::Policy(_)
    ));
    // The TXT record gone: the cache is still used.
    let (_dns2, sts2, values2) = world(None).await;
    cache(&values2, "1", NOW - 10).await;
    assert!(matches!(
        sts2.policy("sts.test", NOW).await,
        Found::Policy(_)
    ));
}

#[tokio::test]
async fn an_expired_cache_is_not_used() {
    let (_dns, sts, values) = world(Some("v=STSv1; id=1")).await;
    cache(&values, "1", NOW - 7200).await;
    assert!(matches!(
        sts.policy("sts.test", NOW).await,
        Found::Failed(ResultType::StsPolicyFetchError, _)
    ));
}
