//! MX routing against a real DNS server: the in-process `TestDns` on 127.0.0.1.
//!
//! Every resolver here is given explicit loopback name servers, so no query can reach
//! the system resolver or any other address.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use relay::dns::test_server::{RecordType, TestDns};
use relay::dns::{DnsError, DnsResolver, MailHosts, MxHost};

/// Upper bound for any single test lookup, so a regression hangs no test run.
const LIMIT: Duration = Duration::from_secs(20);

async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("DNS lookup did not finish in time")
}

fn resolver(dns: &TestDns) -> DnsResolver {
    DnsResolver::new(&[dns.addr]).expect("resolver")
}

fn hosts(result: MailHosts) -> Vec<MxHost> {
    match result {
        MailHosts::Hosts(hosts) => hosts,
        MailHosts::NullMx => panic!("unexpected null MX"),
    }
}

#[tokio::test]
async fn mx_hosts_come_in_preference_order() {
    let dns = TestDns::start([
        ("example.test", RecordType::MX, "20 backup.example.test."),
        ("example.test", RecordType::MX, "10 mx1.example.test."),
        ("example.test", RecordType::MX, "10 mx2.example.test."),
        ("mx1.example.test", RecordType::A, "127.0.0.11"),
        ("mx2.example.test", RecordType::A, "127.0.0.12"),
        // backup.example.test has no address: that is for the caller to find out.
        ("example.test", RecordType::A, "127.0.0.99"),
    ])
    .await;
    let resolver = resolver(&dns);

    let hosts = hosts(within(resolver.mail_hosts("example.test")).await.unwrap());

    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let best: BTreeSet<&str> = names[..2].iter().copied().collect();
    assert_eq!(
        best,
        BTreeSet::from(["mx1.example.test", "mx2.example.test"])
    );
    assert_eq!(names[2], "backup.example.test");
    assert_eq!(
        hosts.iter().map(|h| h.preference).collect::<Vec<_>>(),
        [10, 10, 20]
    );
    assert!(hosts.iter().all(|h| !h.implicit));
}

#[tokio::test]
async fn equal_preference_hosts_are_not_always_in_the_same_order() {
    let dns = TestDns::start([
        ("spread.test", RecordType::MX, "10 a.spread.test."),
        ("spread.test", RecordType::MX, "10 b.spread.test."),
    ])
    .await;
    let resolver = resolver(&dns);
    let mut firsts = BTreeSet::new();
    // Each call shuffles anew (the records come from the cache after the first); the
    // chance that 64 calls all put the same host first is 2^-63.
    for _ in 0..64 {
        let hosts = hosts(within(resolver.mail_hosts("spread.test")).await.unwrap());
        firsts.insert(hosts[0].name.clone());
    }
    assert_eq!(firsts.len(), 2, "{firsts:?}");
}

#[tokio::test]
async fn domain_without_mx_but_with_address_is_its_own_mail_host() {
    let dns = TestDns::start([("plain.test", RecordType::A, "127.0.0.20")]).await;
    let resolver = resolver(&dns);

    let result = within(resolver.mail_hosts("plain.test")).await.unwrap();

    assert_eq!(
        result,
        MailHosts::Hosts(vec![MxHost {
            name: "plain.test".into(),
            preference: 0,
            implicit: true,
        }])
    );
}

#[tokio::test]
async fn implicit_mx_also_counts_an_ipv6_only_domain() {
    let dns = TestDns::start([("six.test", RecordType::AAAA, "::1")]).await;
    let result = within(resolver(&dns).mail_hosts("six.test."))
        .await
        .unwrap();
    assert!(
        matches!(&result, MailHosts::Hosts(h) if h.len() == 1 && h[0].implicit && h[0].name == "six.test")
    );
}

#[tokio::test]
async fn null_mx_means_no_mail_even_with_an_address() {
    let dns = TestDns::start([
        ("nomail.test", RecordType::MX, "0 ."),
        ("nomail.test", RecordType::A, "127.0.0.30"),
    ])
    .await;
    let result = within(resolver(&dns).mail_hosts("nomail.test"))
        .await
        .unwrap();
    assert_eq!(result, MailHosts::NullMx);
}

#[tokio::test]
async fn nonexistent_domain_is_a_permanent_failure() {
    let dns = TestDns::start([("exists.test", RecordType::A, "127.0.0.40")]).await;
    let resolver = resolver(&dns);

    let err = within(resolver.mail_hosts("missing.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, DnsError::NotFound(_)), "{err:?}");
    assert!(err.is_permanent());

    let err = within(resolver.addresses("missing.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, DnsError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn domain_with_neither_mx_nor_address_is_a_permanent_failure() {
    let dns = TestDns::start([("textonly.test", RecordType::TXT, "\"v=spf1 -all\"")]).await;
    let err = within(resolver(&dns).mail_hosts("textonly.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, DnsError::NotFound(_)), "{err:?}");
    assert!(err.is_permanent());
}

#[tokio::test]
async fn addresses_are_ipv4_first_then_ipv6() {
    let dns = TestDns::start([
        // Listed IPv6 first, to show the order is the resolver's, not the zone's.
        ("host.test", RecordType::AAAA, "::1"),
        ("host.test", RecordType::A, "127.0.0.51"),
        ("host.test", RecordType::A, "127.0.0.52"),
    ])
    .await;

    let addresses = within(resolver(&dns).addresses("host.test")).await.unwrap();

    assert_eq!(addresses.len(), 3, "{addresses:?}");
    let v4: BTreeSet<IpAddr> = addresses[..2].iter().copied().collect();
    assert_eq!(
        v4,
        BTreeSet::from([
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 51)),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 52)),
        ])
    );
    assert_eq!(addresses[2], IpAddr::V6(Ipv6Addr::LOCALHOST));
}

#[tokio::test]
async fn an_ip_address_needs_no_lookup() {
    // A dead name server: any query would fail.
    let dead = silent_server().await;
    let resolver = DnsResolver::with_options(&[dead.addr], Duration::from_millis(100), 1).unwrap();
    let addresses = within(resolver.addresses("127.0.0.7")).await.unwrap();
    assert_eq!(addresses, [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7))]);
    assert_eq!(dead.received.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn idn_domain_is_looked_up_as_punycode() {
    let dns = TestDns::start([(
        "xn--bcher-kva.test",
        RecordType::MX,
        "10 mx.xn--bcher-kva.test.",
    )])
    .await;
    let hosts = hosts(
        within(resolver(&dns).mail_hosts("bücher.test"))
            .await
            .unwrap(),
    );
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].name, "mx.xn--bcher-kva.test");
}

#[tokio::test]
async fn large_answer_falls_back_to_tcp() {
    // 120 A records (~2 KB) do not fit the 1232-byte EDNS UDP payload: the server sets
    // TC and the resolver must retry over TCP (RFC 7766 §5) to see them all.
    let data: Vec<String> = (0..120).map(|i| format!("127.0.1.{i}")).collect();
    let records = data
        .iter()
        .map(|ip| ("big.test", RecordType::A, ip.as_str()));
    let dns = TestDns::start(records).await;

    let addresses = within(resolver(&dns).addresses("big.test")).await.unwrap();

    let got: BTreeSet<IpAddr> = addresses.into_iter().collect();
    let want: BTreeSet<IpAddr> = data.iter().map(|ip| ip.parse().unwrap()).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn servfail_is_temporary() {
    let dns = TestDns::builder()
        .record("broken.test", RecordType::A, "127.0.0.60")
        .servfail("broken.test")
        .start()
        .await;
    let resolver = resolver(&dns);

    let err = within(resolver.mail_hosts("broken.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, DnsError::Temporary(_)), "{err:?}");
    assert!(!err.is_permanent());

    let err = within(resolver.addresses("broken.test")).await.unwrap_err();
    assert!(matches!(err, DnsError::Temporary(_)), "{err:?}");
}

#[tokio::test]
async fn refused_is_temporary() {
    // The test server has no zone for `example.`: it answers REFUSED. (Not `invalid.`:
    // the resolver answers NXDOMAIN for that itself, RFC 6761 §6.4.)
    let dns = TestDns::start([]).await;
    let err = within(resolver(&dns).mail_hosts("outside.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, DnsError::Temporary(_)), "{err:?}");
}

#[tokio::test]
async fn silent_name_server_is_a_temporary_failure_in_bounded_time() {
    let dead = silent_server().await;
    let resolver = DnsResolver::with_options(&[dead.addr], Duration::from_millis(300), 2).unwrap();

    let started = Instant::now();
    let err = within(resolver.mail_hosts("example.test"))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();

    assert!(matches!(err, DnsError::Temporary(_)), "{err:?}");
    assert!(!err.is_permanent());
    // Two attempts of 300 ms, with generous slack for a loaded machine.
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    // The failure came from the silent server, not from something else going wrong.
    assert!(dead.received.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn invalid_domain_is_permanent_without_a_query() {
    let dead = silent_server().await;
    let resolver = DnsResolver::with_options(&[dead.addr], Duration::from_millis(100), 1).unwrap();
    for bad in ["", "a..b"] {
        let err = within(resolver.mail_hosts(bad)).await.unwrap_err();
        assert!(err.is_permanent(), "{bad:?}: {err:?}");
    }
    assert_eq!(dead.received.load(Ordering::SeqCst), 0);
}

/// A UDP "name server" on loopback that reads queries and never answers.
struct Silent {
    addr: SocketAddr,
    received: Arc<AtomicUsize>,
}

async fn silent_server() -> Silent {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let count = received.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while socket.recv_from(&mut buf).await.is_ok() {
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    Silent { addr, received }
}
