//! The outbound relay (`relay::outbound`) end to end on loopback: routes from the
//! in-process `TestDns`, fake SMTP servers on 127.0.0.2:P, 127.0.0.3:P, ... (one port P
//! per test, `Routes::with_mx_port`), and a `Relay` built the way the server builds it.
//!
//! Covered: MX preference order and fallback past dead hosts and refusing greetings;
//! implicit MX, null MX, NXDOMAIN and a silent name server; one transaction per domain
//! with outcomes aligned to recipient indexes, the domains delivered concurrently (a
//! silent server holds up no other domain); the `host[ip] said: <reply>` reason format
//! the queue parses, our own failures worded as ours, and each host's error listed
//! when several failed; the DSN pass-through flag; connection reuse (and replacing
//! a pooled connection the server closed); the per-host connection limit; smarthost
//! routing with AUTH, per-domain smarthosts, and a refused AUTH being temporary.

mod outbound_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use message::{Address, BodyType, Dsn};
use outbound_support::{Event, FakeSmtp, Options, PATIENCE, SilentDns, Slot, slots};
use relay::client::{ClientConfig, Timeouts, TlsMode};
use relay::dns::DnsResolver;
use relay::dns::test_server::{RecordType, TestDns};
use relay::outbound::pool::Pool;
use relay::outbound::route::{self, Routes, Smarthost};
use relay::outbound::{Message, Outcome, Relay};
use tokio::sync::watch;

const BODY: &[u8] = b"Subject: test\r\n\r\nhello\r\n";

/// Idle time for pools that should keep connections.
const KEEP: Duration = Duration::from_secs(60);

/// The MX client settings, as production has them but with test timeouts.
fn mx_config() -> ClientConfig {
    ClientConfig {
        timeouts: Timeouts::all(PATIENCE),
        ..ClientConfig::new("relay.test")
    }
}

fn mx_relay(dns: &TestDns, port: u16, pool: Pool) -> Relay {
    relay_with(Routes::mx(mx_config()).with_mx_port(port), dns, pool)
}

fn relay_with(routes: Routes, dns: &TestDns, pool: Pool) -> Relay {
    let resolver = DnsResolver::new(&[dns.addr]).expect("resolver");
    Relay::new(routes, resolver, Arc::new(pool))
}

fn pool() -> Pool {
    Pool::new(20, 5, KEEP)
}

/// One queued message.
struct Mail {
    sender: Address,
    recipients: Vec<Address>,
    dsn: Dsn,
}

impl Mail {
    fn to(recipients: &[&str]) -> Mail {
        Mail {
            sender: Address::parse("sender@origin.test").unwrap(),
            recipients: recipients
                .iter()
                .map(|r| Address::parse(r).unwrap())
                .collect(),
            dsn: Dsn::default(),
        }
    }

    fn message(&self) -> Message<'_> {
        Message {
            sender: Some(&self.sender),
            recipients: &self.recipients,
            dsn: &self.dsn,
            body_type: BodyType::SevenBit,
            smtputf8: false,
            body: BODY,
            require_tls: false,
        }
    }
}

/// Delivers to the recipients at `indexes`; checks there is exactly one outcome per
/// index asked for.
async fn deliver_to(relay: &Relay, mail: &Mail, indexes: &[usize]) -> BTreeMap<usize, Outcome> {
    let outcomes = tokio::time::timeout(PATIENCE * 3, relay.deliver(&mail.message(), indexes))
        .await
        .expect("delivery did not finish in time");
    let map: BTreeMap<usize, Outcome> = outcomes.iter().cloned().collect();
    assert_eq!(outcomes.len(), indexes.len(), "{outcomes:?}");
    let mut asked = indexes.to_vec();
    asked.sort();
    assert_eq!(
        map.keys().copied().collect::<Vec<_>>(),
        asked,
        "{outcomes:?}"
    );
    map
}

/// Delivers to every recipient; the outcomes in recipient order.
async fn deliver(relay: &Relay, mail: &Mail) -> Vec<Outcome> {
    let all: Vec<usize> = (0..mail.recipients.len()).collect();
    deliver_to(relay, mail, &all).await.into_values().collect()
}

const DELIVERED: Outcome = Outcome::Delivered { dsn_passed: false };

fn accepting(slot: Slot) -> FakeSmtp {
    FakeSmtp::start(slot, Options::accepting(&[]))
}

/// `domain` with MX 10 → mx1.`domain` at `first` and MX 20 → mx2.`domain` at `second`.
async fn two_mx(domain: &str, first: &Slot, second: &Slot) -> TestDns {
    let (mx1, mx2) = (format!("mx1.{domain}"), format!("mx2.{domain}"));
    let (r1, r2) = (format!("10 {mx1}."), format!("20 {mx2}."));
    let (ip1, ip2) = (first.ip(), second.ip());
    TestDns::start([
        (domain, RecordType::MX, r1.as_str()),
        (domain, RecordType::MX, r2.as_str()),
        (mx1.as_str(), RecordType::A, ip1.as_str()),
        (mx2.as_str(), RecordType::A, ip2.as_str()),
    ])
    .await
}

// ---------------------------------------------------------------------------------
// 1. MX order and fallback

#[tokio::test]
async fn the_preferred_mx_gets_the_mail() {
    let (port, mut s) = slots(2);
    let dns = two_mx("pref.test", &s[0], &s[1]).await;
    let backup = accepting(s.pop().unwrap());
    let primary = accepting(s.pop().unwrap());
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@pref.test"])).await;

    assert_eq!(outcomes, [DELIVERED]);
    let log = primary.log();
    assert_eq!(log.transactions.len(), 1);
    assert_eq!(log.transactions[0].rcpts, ["rcpt@pref.test"]);
    assert_eq!(log.transactions[0].from, "sender@origin.test");
    assert_eq!(log.transactions[0].body, BODY);
    assert_eq!(backup.log().connections(), 0, "the backup MX was contacted");
}

#[tokio::test]
async fn a_dead_first_mx_falls_back_to_the_next() {
    let (port, mut s) = slots(2);
    let dns = two_mx("dead.test", &s[0], &s[1]).await;
    let backup = accepting(s.pop().unwrap());
    let _dead = s.pop().unwrap(); // bound, not listening: connection refused
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@dead.test"])).await;

    assert_eq!(outcomes, [DELIVERED]);
    let log = backup.log();
    assert_eq!(log.transactions.len(), 1);
    assert_eq!(log.transactions[0].rcpts, ["rcpt@dead.test"]);
}

#[tokio::test]
async fn a_refusing_greeting_moves_on_to_the_next_mx() {
    for greeting in ["421 4.3.2 fake.test busy", "554 5.3.2 fake.test no service"] {
        let (port, mut s) = slots(2);
        let dns = two_mx("greet.test", &s[0], &s[1]).await;
        let backup = accepting(s.pop().unwrap());
        let refusing =
            FakeSmtp::start(s.pop().unwrap(), Options::accepting(&[]).greeting(greeting));
        let relay = mx_relay(&dns, port, pool());

        let outcomes = deliver(&relay, &Mail::to(&["rcpt@greet.test"])).await;

        assert_eq!(outcomes, [DELIVERED], "greeting {greeting:?}");
        let refused = refusing.log();
        assert_eq!(refused.connections(), 1, "greeting {greeting:?}");
        assert!(
            refused.commands[0].iter().all(|c| !c.starts_with("MAIL")),
            "greeting {greeting:?}: {:?}",
            refused.commands
        );
        assert_eq!(backup.log().transactions.len(), 1, "greeting {greeting:?}");
    }
}

#[tokio::test]
async fn a_permanent_greeting_from_every_mx_is_permanent() {
    let (port, mut s) = slots(2);
    let dns = two_mx("nosvc.test", &s[0], &s[1]).await;
    let second = FakeSmtp::start(
        s.pop().unwrap(),
        Options::accepting(&[]).greeting("554 5.3.2 second says no"),
    );
    let first = FakeSmtp::start(
        s.pop().unwrap(),
        Options::accepting(&[]).greeting("554 5.3.2 first says no"),
    );
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@nosvc.test"])).await;

    let (ip1, ip2) = (first.addr.ip(), second.addr.ip());
    // The last error, then each host's, in the order tried.
    assert_eq!(
        outcomes,
        [Outcome::Permanent(format!(
            "mx2.nosvc.test[{ip2}] said: 554 5.3.2 second says no\n  \
             mx1.nosvc.test[{ip1}]: 554 5.3.2 first says no\n  \
             mx2.nosvc.test[{ip2}]: 554 5.3.2 second says no"
        ))]
    );
    assert_eq!(first.log().connections(), 1);
}

#[tokio::test]
async fn a_permanent_greeting_then_a_dead_host_is_temporary() {
    let (port, mut s) = slots(2);
    let dns = two_mx("mixed.test", &s[0], &s[1]).await;
    let dead = s.pop().unwrap();
    let _first = FakeSmtp::start(
        s.pop().unwrap(),
        Options::accepting(&[]).greeting("554 5.3.2 no"),
    );
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@mixed.test"])).await;

    let [Outcome::Temporary(reason)] = outcomes.as_slice() else {
        panic!("expected a temporary failure: {outcomes:?}");
    };
    assert!(reason.contains(&dead.addr.to_string()), "{reason}");
}

// ---------------------------------------------------------------------------------
// 2. What DNS says

#[tokio::test]
async fn implicit_mx_delivers_to_the_domain_itself() {
    let (port, mut s) = slots(1);
    let ip = s[0].ip();
    let dns = TestDns::start([("bare.test", RecordType::A, ip.as_str())]).await;
    let server = accepting(s.pop().unwrap());
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@bare.test"])).await;

    assert_eq!(outcomes, [DELIVERED]);
    assert_eq!(server.log().transactions[0].rcpts, ["rcpt@bare.test"]);
}

#[tokio::test]
async fn an_mx_that_is_this_server_and_those_after_it_are_skipped() {
    // RFC 5321 §5.1: we are mx2 (preference 20); only the better mx1 may be tried.
    let (port, mut s) = slots(2);
    let dns = two_mx("backup.test", &s[0], &s[1]).await;
    let ourselves = accepting(s.pop().unwrap());
    let _dead_primary = s.pop().unwrap(); // bound, not listening
    let routes = Routes::mx(mx_config())
        .with_mx_port(port)
        .with_own_names(["MX2.backup.test.".to_owned()]);
    let relay = relay_with(routes, &dns, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@backup.test"])).await;

    assert!(
        matches!(&outcomes[..], [Outcome::Temporary(_)]),
        "{outcomes:?}"
    );
    assert_eq!(
        ourselves.log().connections(),
        0,
        "we connected to ourselves"
    );
}

#[tokio::test]
async fn being_the_best_mx_is_a_loop_and_fails_for_good() {
    let (port, mut s) = slots(2);
    let dns = two_mx("loop.test", &s[0], &s[1]).await;
    let second = accepting(s.pop().unwrap());
    let first = accepting(s.pop().unwrap());
    let routes = Routes::mx(mx_config())
        .with_mx_port(port)
        .with_own_names(["mx1.loop.test".to_owned()]);
    let relay = relay_with(routes, &dns, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@loop.test"])).await;

    match &outcomes[..] {
        [Outcome::Permanent(reason)] => {
            assert!(reason.starts_with("5.4.6 "), "{reason}");
            assert!(reason.contains("loops back to myself"), "{reason}");
        }
        other => panic!("expected a permanent loop failure, got {other:?}"),
    }
    assert_eq!(first.log().connections(), 0);
    assert_eq!(second.log().connections(), 0, "a worse MX was tried");
}

#[tokio::test]
async fn null_mx_fails_every_recipient_for_good() {
    let (port, mut s) = slots(1);
    let ip = s[0].ip();
    // The domain also has an address; the null MX still wins (RFC 7505).
    let dns = TestDns::start([
        ("nomail.test", RecordType::MX, "0 ."),
        ("nomail.test", RecordType::A, ip.as_str()),
    ])
    .await;
    let server = accepting(s.pop().unwrap());
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["a@nomail.test", "b@nomail.test"])).await;

    for outcome in &outcomes {
        let Outcome::Permanent(reason) = outcome else {
            panic!("expected a permanent failure: {outcomes:?}");
        };
        assert!(reason.starts_with("5.1.10 "), "{reason}");
    }
    assert_eq!(outcomes.len(), 2);
    assert_eq!(server.log().connections(), 0);
}

#[tokio::test]
async fn a_domain_that_does_not_exist_fails_for_good() {
    let dns = TestDns::start([("other.test", RecordType::A, "127.0.0.2")]).await;
    let relay = mx_relay(&dns, 2525, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@ghost.test"])).await;

    let [Outcome::Permanent(reason)] = outcomes.as_slice() else {
        panic!("expected a permanent failure: {outcomes:?}");
    };
    assert!(reason.starts_with("5.1.2 "), "{reason}");
    assert!(reason.contains("ghost.test"), "{reason}");
}

#[tokio::test]
async fn an_mx_without_an_address_fails_for_good() {
    let dns = TestDns::start([("noaddr.test", RecordType::MX, "10 mx.noaddr.test.")]).await;
    let relay = mx_relay(&dns, 2525, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@noaddr.test"])).await;

    let [Outcome::Permanent(reason)] = outcomes.as_slice() else {
        panic!("expected a permanent failure: {outcomes:?}");
    };
    assert!(reason.starts_with("5.4.4 "), "{reason}");
}

#[tokio::test]
async fn a_silent_name_server_is_a_temporary_failure() {
    let silent = SilentDns::start().await;
    let resolver =
        DnsResolver::with_options(&[silent.addr], Duration::from_millis(200), 1).unwrap();
    let routes = Routes::mx(mx_config()).with_mx_port(2525);
    let relay = Relay::new(routes, resolver, Arc::new(pool()));

    let outcomes = deliver(&relay, &Mail::to(&["a@quiet.test", "b@quiet.test"])).await;

    for outcome in &outcomes {
        let Outcome::Temporary(reason) = outcome else {
            panic!("expected a temporary failure: {outcomes:?}");
        };
        assert!(reason.starts_with("4.4.3 "), "{reason}");
    }
    assert!(silent.queries() >= 1, "the name server was not asked");
}

#[tokio::test]
async fn a_failing_address_lookup_of_the_only_mx_is_temporary() {
    let dns = TestDns::builder()
        .record("sf.test", RecordType::MX, "10 mx.sf.test.")
        .servfail("mx.sf.test")
        .start()
        .await;
    let relay = mx_relay(&dns, 2525, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@sf.test"])).await;

    let [Outcome::Temporary(reason)] = outcomes.as_slice() else {
        panic!("expected a temporary failure: {outcomes:?}");
    };
    assert!(reason.starts_with("4.4.3 "), "{reason}");
}

/// MX 10 cannot be resolved right now (SERVFAIL on its address), MX 20 refuses with a
/// 554 greeting. The preferred host was never tried, so this should be a deferral, not
/// a bounce.
#[tokio::test]
async fn an_unresolvable_better_mx_keeps_the_mail_queued() {
    let (port, mut s) = slots(1);
    let ip = s[0].ip();
    let dns = TestDns::builder()
        .record("half.test", RecordType::MX, "10 mx1.half.test.")
        .record("half.test", RecordType::MX, "20 mx2.half.test.")
        .record("mx2.half.test", RecordType::A, &ip)
        .servfail("mx1.half.test")
        .start()
        .await;
    let _backup = FakeSmtp::start(
        s.pop().unwrap(),
        Options::accepting(&[]).greeting("554 5.7.1 not a backup for this domain"),
    );
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@half.test"])).await;

    let [Outcome::Temporary(reason)] = outcomes.as_slice() else {
        panic!("expected a temporary failure: {outcomes:?}");
    };
    // The backup's refusal sums it up; the host that could not be looked up is
    // listed first among the hosts tried.
    let lines: Vec<&str> = reason.lines().collect();
    assert_eq!(lines.len(), 3, "{reason}");
    assert_eq!(
        lines[0],
        format!("mx2.half.test[{ip}] said: 554 5.7.1 not a backup for this domain")
    );
    assert!(
        lines[1].starts_with("  mx1.half.test: 4.4.3 address lookup failed: "),
        "{reason}"
    );
    assert_eq!(
        lines[2],
        format!("  mx2.half.test[{ip}]: 554 5.7.1 not a backup for this domain")
    );
}

#[tokio::test]
async fn an_mx_without_an_address_is_listed_among_the_hosts_tried() {
    let (port, mut s) = slots(1);
    let ip = s[0].ip();
    let dns = TestDns::builder()
        .record("gap.test", RecordType::MX, "10 mx1.gap.test.")
        .record("gap.test", RecordType::MX, "20 mx2.gap.test.")
        .record("mx2.gap.test", RecordType::A, &ip)
        .start()
        .await;
    let _busy = FakeSmtp::start(
        s.pop().unwrap(),
        Options::accepting(&[]).greeting("421 4.3.2 busy"),
    );
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@gap.test"])).await;

    let [Outcome::Temporary(reason)] = outcomes.as_slice() else {
        panic!("expected a temporary failure: {outcomes:?}");
    };
    assert_eq!(
        reason.lines().collect::<Vec<_>>(),
        [
            format!("mx2.gap.test[{ip}] said: 421 4.3.2 busy").as_str(),
            "  mx1.gap.test: 4.4.4 no address",
            format!("  mx2.gap.test[{ip}]: 421 4.3.2 busy").as_str(),
        ],
        "{reason}"
    );
}

/// The hosts a reason lists as tried (its indented lines), by name.
fn hosts_listed(reason: &str) -> Vec<String> {
    reason
        .lines()
        .filter_map(|line| line.strip_prefix("  "))
        .map(|line| {
            line.split(['[', ':'])
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_domain_with_many_mail_hosts_has_only_the_best_ten_tried() {
    // 30 MX hosts, each at an address where nothing listens (connection refused).
    let (port, s) = slots(30);
    let mut dns = TestDns::builder();
    for (n, slot) in s.iter().enumerate() {
        let host = format!("mx{:02}.many.test", n + 1);
        dns = dns
            .record("many.test", RecordType::MX, &format!("{} {host}.", n + 1))
            .record(&host, RecordType::A, &slot.ip());
    }
    let dns = dns.start().await;
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@many.test"])).await;

    let [Outcome::Temporary(reason)] = outcomes.as_slice() else {
        panic!("expected a temporary failure: {outcomes:?}");
    };
    let best: Vec<String> = (1..=route::MAX_MX_HOSTS)
        .map(|n| format!("mx{n:02}.many.test"))
        .collect();
    assert_eq!(hosts_listed(reason), best, "{reason}");
}

#[tokio::test]
async fn a_mail_host_with_many_addresses_has_only_ten_tried() {
    let (port, s) = slots(30);
    let mut dns = TestDns::builder().record("wide.test", RecordType::MX, "10 mx.wide.test.");
    for slot in &s {
        dns = dns.record("mx.wide.test", RecordType::A, &slot.ip());
    }
    let dns = dns.start().await;
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["rcpt@wide.test"])).await;

    let [Outcome::Temporary(reason)] = outcomes.as_slice() else {
        panic!("expected a temporary failure: {outcomes:?}");
    };
    assert_eq!(
        hosts_listed(reason),
        vec!["mx.wide.test".to_string(); route::MAX_ADDRESSES],
        "{reason}"
    );
}

// ---------------------------------------------------------------------------------
// 3. Grouping by domain

#[tokio::test]
async fn one_transaction_per_domain_with_outcomes_at_the_right_indexes() {
    let (port, mut s) = slots(2);
    let (ip1, ip2) = (s[0].ip(), s[1].ip());
    let dns = TestDns::start([
        ("one.test", RecordType::MX, "10 mx.one.test."),
        ("mx.one.test", RecordType::A, ip1.as_str()),
        ("two.test", RecordType::MX, "10 mx.two.test."),
        ("mx.two.test", RecordType::A, ip2.as_str()),
    ])
    .await;
    let two = accepting(s.pop().unwrap());
    let one = FakeSmtp::start(
        s.pop().unwrap(),
        Options::accepting(&["PIPELINING"]).rcpt(|address| {
            (address == "bad@one.test").then(|| "550 5.1.1 no such user".to_string())
        }),
    );
    let relay = mx_relay(&dns, port, pool());
    // Same-domain recipients are not adjacent, and the refused one comes first.
    let mail = Mail::to(&["bad@one.test", "x@two.test", "good@one.test"]);

    let outcomes = deliver(&relay, &mail).await;

    let one_ip = one.addr.ip();
    assert_eq!(
        outcomes,
        [
            Outcome::Permanent(format!(
                "mx.one.test[{one_ip}] said: 550 5.1.1 no such user"
            )),
            DELIVERED,
            DELIVERED,
        ]
    );
    let one_log = one.log();
    assert_eq!(one_log.connections(), 1);
    assert_eq!(one_log.transactions.len(), 1, "{:?}", one_log.transactions);
    assert_eq!(
        one_log.transactions[0].rcpts,
        ["bad@one.test", "good@one.test"]
    );
    let two_log = two.log();
    assert_eq!(two_log.transactions.len(), 1, "{:?}", two_log.transactions);
    assert_eq!(two_log.transactions[0].rcpts, ["x@two.test"]);
}

#[tokio::test]
async fn a_silent_server_holds_up_no_other_domain() {
    // a-silent.test sorts first; its server takes the connection (the kernel's
    // backlog) and never greets, for longer than the test waits.
    let (port, mut s) = slots(2);
    let (ip1, ip2) = (s[0].ip(), s[1].ip());
    let dns = TestDns::start([
        ("a-silent.test", RecordType::MX, "10 mx.a-silent.test."),
        ("mx.a-silent.test", RecordType::A, ip1.as_str()),
        ("z-fast.test", RecordType::MX, "10 mx.z-fast.test."),
        ("mx.z-fast.test", RecordType::A, ip2.as_str()),
    ])
    .await;
    let fast = accepting(s.pop().unwrap());
    let _silent = s.pop().unwrap().listen();
    let config = ClientConfig {
        timeouts: Timeouts::all(PATIENCE * 30),
        ..ClientConfig::new("relay.test")
    };
    let relay = relay_with(Routes::mx(config).with_mx_port(port), &dns, pool());
    let mail = Mail::to(&["x@a-silent.test", "y@z-fast.test"]);
    let message = mail.message();

    let mut each = std::pin::pin!(relay.deliver_each(&message, &[0, 1]));
    let first = tokio::time::timeout(PATIENCE, each.next())
        .await
        .expect("z-fast.test's outcome comes while a-silent.test is still silent");

    assert_eq!(first, Some(vec![(1, DELIVERED)]));
    assert_eq!(fast.log().transactions.len(), 1);
}

#[tokio::test]
async fn only_the_recipients_asked_for_are_delivered() {
    let (port, mut s) = slots(1);
    let ip = s[0].ip();
    let dns = TestDns::start([("sub.test", RecordType::A, ip.as_str())]).await;
    let server = FakeSmtp::start(
        s.pop().unwrap(),
        Options::accepting(&[])
            .rcpt(|address| (address == "c@sub.test").then(|| "451 4.2.0 try later".to_string())),
    );
    let relay = mx_relay(&dns, port, pool());
    let mail = Mail::to(&["a@sub.test", "b@sub.test", "c@sub.test", "d@sub.test"]);

    let outcomes = deliver_to(&relay, &mail, &[3, 2]).await;

    let ip = server.addr.ip();
    assert_eq!(outcomes[&3], DELIVERED);
    assert_eq!(
        outcomes[&2],
        Outcome::Temporary(format!("sub.test[{ip}] said: 451 4.2.0 try later"))
    );
    let log = server.log();
    assert_eq!(log.transactions.len(), 1);
    let mut rcpts = log.transactions[0].rcpts.clone();
    rcpts.sort();
    assert_eq!(rcpts, ["c@sub.test", "d@sub.test"]);
}

// ---------------------------------------------------------------------------------
// 4. Reasons the queue can parse

/// A reason as the queue takes it apart (`queue::notify::parse_reason`): the host
/// name before `[`, and the quoted reply: three digits, a space, the rest.
fn said(reason: &str) -> (&str, &str, &str) {
    let (peer, reply) = reason
        .split_once(" said: ")
        .unwrap_or_else(|| panic!("not a `host[ip] said: reply` reason: {reason:?}"));
    let (name, ip) = peer.split_once('[').expect("host[ip]");
    let ip = ip.strip_suffix(']').expect("host[ip]");
    assert!(
        reply.len() > 4 && reply.as_bytes()[..3].iter().all(u8::is_ascii_digit),
        "{reply:?}"
    );
    assert_eq!(reply.as_bytes()[3], b' ', "{reply:?}");
    (name, ip, reply)
}

#[tokio::test]
async fn recipient_refusals_are_reported_as_host_ip_said_reply() {
    let (port, mut s) = slots(1);
    let ip = s[0].ip();
    let dns = TestDns::start([
        ("why.test", RecordType::MX, "10 mx.why.test."),
        ("mx.why.test", RecordType::A, ip.as_str()),
    ])
    .await;
    let _server = FakeSmtp::start(
        s.pop().unwrap(),
        Options::accepting(&[]).rcpt(|address| match address {
            "gone@why.test" => Some("550 5.1.1 <gone@why.test>: no such user".into()),
            "full@why.test" => Some("451 4.2.2 mailbox full".into()),
            _ => None,
        }),
    );
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["gone@why.test", "full@why.test"])).await;

    let Outcome::Permanent(reason) = &outcomes[0] else {
        panic!("550 is permanent: {outcomes:?}");
    };
    assert_eq!(
        reason,
        &format!("mx.why.test[{ip}] said: 550 5.1.1 <gone@why.test>: no such user")
    );
    assert_eq!(
        said(reason),
        (
            "mx.why.test",
            ip.as_str(),
            "550 5.1.1 <gone@why.test>: no such user"
        )
    );
    let Outcome::Temporary(reason) = &outcomes[1] else {
        panic!("451 is temporary: {outcomes:?}");
    };
    assert_eq!(
        reason,
        &format!("mx.why.test[{ip}] said: 451 4.2.2 mailbox full")
    );
    said(reason);
}

#[tokio::test]
async fn a_size_refusal_we_decide_is_worded_as_ours() {
    // The server declares SIZE 10 (RFC 1870): the client does not send the message,
    // and the reason must not claim that the server said 552.
    let (port, mut s) = slots(1);
    let ip = s[0].ip();
    let dns = TestDns::start([("small.test", RecordType::A, ip.as_str())]).await;
    let server = FakeSmtp::start(s.pop().unwrap(), Options::accepting(&["SIZE 10"]));
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["a@small.test"])).await;

    let [Outcome::Permanent(reason)] = outcomes.as_slice() else {
        panic!("expected a permanent failure: {outcomes:?}");
    };
    assert!(
        reason.starts_with(&format!("5.3.4 small.test[{ip}]: message size ")),
        "{reason}"
    );
    assert!(!reason.contains(" said: "), "{reason}");
    assert!(!reason.contains("552"), "{reason}");
    assert!(server.log().transactions.is_empty());
}

#[tokio::test]
async fn all_hosts_down_is_temporary_and_names_the_last_error() {
    // MX 10 says 421, MX 20 refuses the connection: the connection error is last.
    let (port, mut s) = slots(2);
    let dns = two_mx("down.test", &s[0], &s[1]).await;
    let dead = s.pop().unwrap();
    let busy = FakeSmtp::start(
        s.pop().unwrap(),
        Options::accepting(&[]).greeting("421 4.3.2 busy"),
    );
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["a@down.test", "b@down.test"])).await;

    let (busy_ip, dead_ip) = (busy.addr.ip(), dead.addr.ip());
    for outcome in &outcomes {
        let Outcome::Temporary(reason) = outcome else {
            panic!("expected temporary failures: {outcomes:?}");
        };
        let lines: Vec<&str> = reason.lines().collect();
        // Ours, naming the host, not worded as something the server said.
        assert!(
            lines[0].starts_with(&format!("4.4.1 mx2.down.test[{dead_ip}]: ")),
            "{reason}"
        );
        assert!(lines[0].contains(&dead.addr.to_string()), "{reason}");
        assert!(!lines[0].contains("421"), "not the last error: {reason}");
        assert!(!lines[0].contains(" said: "), "{reason}");
        assert_eq!(lines.len(), 3, "{reason}");
        assert_eq!(
            lines[1],
            format!("  mx1.down.test[{busy_ip}]: 421 4.3.2 busy")
        );
        assert!(
            lines[2].starts_with(&format!("  mx2.down.test[{dead_ip}]: 4.4.1 ")),
            "{reason}"
        );
    }
    assert_eq!(outcomes.len(), 2);

    // The other way round: MX 10 refuses the connection, MX 20 says 421.
    let (port, mut s) = slots(2);
    let dns = two_mx("down2.test", &s[0], &s[1]).await;
    let busy = FakeSmtp::start(
        s.pop().unwrap(),
        Options::accepting(&[]).greeting("421 4.3.2 busy"),
    );
    let dead = s.pop().unwrap();
    let relay = mx_relay(&dns, port, pool());

    let outcomes = deliver(&relay, &Mail::to(&["a@down2.test"])).await;

    let ip = busy.addr.ip();
    let [Outcome::Temporary(reason)] = outcomes.as_slice() else {
        panic!("expected a temporary failure: {outcomes:?}");
    };
    let lines: Vec<&str> = reason.lines().collect();
    assert_eq!(
        lines[0],
        format!("mx2.down2.test[{ip}] said: 421 4.3.2 busy")
    );
    let dead_ip = dead.addr.ip();
    assert!(
        lines[1].starts_with(&format!("  mx1.down2.test[{dead_ip}]: 4.4.1 ")),
        "{reason}"
    );
    assert_eq!(lines[2], format!("  mx2.down2.test[{ip}]: 421 4.3.2 busy"));
}

// ---------------------------------------------------------------------------------
// 5. DSN pass-through

#[tokio::test]
async fn dsn_passed_says_whether_the_server_offered_dsn() {
    for (extensions, passed) in [(&["DSN"][..], true), (&["PIPELINING"][..], false)] {
        let (port, mut s) = slots(1);
        let ip = s[0].ip();
        let dns = TestDns::start([("dsn.test", RecordType::A, ip.as_str())]).await;
        let server = FakeSmtp::start(s.pop().unwrap(), Options::accepting(extensions));
        let relay = mx_relay(&dns, port, pool());

        let outcomes = deliver(&relay, &Mail::to(&["a@dsn.test", "b@dsn.test"])).await;

        let want = Outcome::Delivered { dsn_passed: passed };
        assert_eq!(outcomes, [want.clone(), want], "{extensions:?}");
        assert_eq!(server.log().transactions.len(), 1);
    }
}

#[tokio::test]
async fn requiretls_without_a_verifying_policy_fails_for_good_before_connecting() {
    // RFC 8689 §4.2.1: no DANE and no MTA-STS enforce policy, so no hop can be
    // verified: 5.7.30 for every recipient, and nothing is sent.
    let (port, mut s) = slots(1);
    let ip = s[0].ip();
    let dns = TestDns::start([("rt.test", RecordType::A, ip.as_str())]).await;
    let server = FakeSmtp::start(s.pop().unwrap(), Options::accepting(&["REQUIRETLS"]));
    let relay = mx_relay(&dns, port, pool());
    let mail = Mail::to(&["a@rt.test"]);
    let message = Message {
        require_tls: true,
        ..mail.message()
    };
    let outcomes = relay.deliver(&message, &[0]).await;
    match &outcomes[..] {
        [(0, Outcome::Permanent(reason))] => assert!(reason.starts_with("5.7.30"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(server.log().transactions.is_empty());
}

// ---------------------------------------------------------------------------------
// 6. Connection reuse

/// A relay for `reuse.test` at the only slot, and the server there.
async fn one_host(options: Options, pool: Pool) -> (Relay, FakeSmtp, TestDns) {
    let (port, mut s) = slots(1);
    let ip = s[0].ip();
    let dns = TestDns::start([
        ("reuse.test", RecordType::MX, "10 mx.reuse.test."),
        ("mx.reuse.test", RecordType::A, ip.as_str()),
    ])
    .await;
    let server = FakeSmtp::start(s.pop().unwrap(), options);
    (mx_relay(&dns, port, pool), server, dns)
}

#[tokio::test]
async fn consecutive_messages_share_one_connection() {
    let (relay, server, _dns) = one_host(Options::accepting(&[]), Pool::new(20, 5, KEEP)).await;

    assert_eq!(
        deliver(&relay, &Mail::to(&["a@reuse.test"])).await,
        [DELIVERED]
    );
    assert_eq!(
        deliver(&relay, &Mail::to(&["b@reuse.test"])).await,
        [DELIVERED]
    );

    let log = server.log();
    assert_eq!(log.connections(), 1, "{:?}", log.commands);
    let on: Vec<usize> = log.transactions.iter().map(|t| t.connection).collect();
    assert_eq!(on, [0, 0]);
    assert_eq!(log.transactions[0].rcpts, ["a@reuse.test"]);
    assert_eq!(log.transactions[1].rcpts, ["b@reuse.test"]);
    // The second transaction followed the first on the same session, no new EHLO.
    let ehlos = log.commands[0]
        .iter()
        .filter(|c| c.starts_with("EHLO"))
        .count();
    assert_eq!(ehlos, 1, "{:?}", log.commands[0]);
}

#[tokio::test]
async fn without_idle_time_every_message_gets_its_own_connection() {
    let (relay, server, _dns) =
        one_host(Options::accepting(&[]), Pool::new(20, 5, Duration::ZERO)).await;

    assert_eq!(
        deliver(&relay, &Mail::to(&["a@reuse.test"])).await,
        [DELIVERED]
    );
    // Not kept: the connection is closed politely right away, with nothing else
    // happening (no sweeper runs here).
    let log = server
        .wait_for("first connection closed", |l| l.closed() >= 1)
        .await;
    assert_eq!(log.commands[0].last().map(String::as_str), Some("QUIT"));

    assert_eq!(
        deliver(&relay, &Mail::to(&["b@reuse.test"])).await,
        [DELIVERED]
    );

    let log = server.log();
    assert_eq!(log.connections(), 2, "{:?}", log.commands);
    let on: Vec<usize> = log.transactions.iter().map(|t| t.connection).collect();
    assert_eq!(on, [0, 1]);
}

/// The server hangs up after each transaction; the pool still holds that connection
/// (that it keeps connections is `consecutive_messages_share_one_connection`), and the
/// next message must go out on a fresh one without being reported as failed.
#[tokio::test]
async fn a_pooled_connection_the_server_closed_is_replaced() {
    let options = Options {
        close_after_transaction: true,
        ..Options::accepting(&[])
    };
    let (relay, server, _dns) = one_host(options, Pool::new(20, 5, KEEP)).await;

    assert_eq!(
        deliver(&relay, &Mail::to(&["a@reuse.test"])).await,
        [DELIVERED]
    );
    // The server has hung up on the connection the pool keeps.
    server
        .wait_for("server closed the first connection", |l| l.closed() >= 1)
        .await;

    assert_eq!(
        deliver(&relay, &Mail::to(&["b@reuse.test"])).await,
        [DELIVERED]
    );

    let log = server.log();
    assert_eq!(log.connections(), 2, "{:?}", log.commands);
    let on: Vec<usize> = log.transactions.iter().map(|t| t.connection).collect();
    assert_eq!(on, [0, 1]);
    assert_eq!(log.transactions[1].rcpts, ["b@reuse.test"]);
}

/// Like the test above, but the server says `421` before hanging up, as Postfix's
/// smtpd does when its idle timer fires ("421 4.4.2 host Error: timeout exceeded"):
/// the mail goes out on a fresh connection instead of being deferred.
#[tokio::test]
async fn a_pooled_connection_that_said_421_is_replaced() {
    let options = Options {
        idle_421_after_transaction: true,
        ..Options::accepting(&[])
    };
    let (relay, server, _dns) = one_host(options, Pool::new(20, 5, KEEP)).await;

    assert_eq!(
        deliver(&relay, &Mail::to(&["a@reuse.test"])).await,
        [DELIVERED]
    );

    let outcomes = deliver(&relay, &Mail::to(&["b@reuse.test"])).await;

    assert_eq!(outcomes, [DELIVERED]);
    assert_eq!(server.log().transactions.len(), 2);
}

// ---------------------------------------------------------------------------------
// 7. The per-host limit

/// How long a test watches for a connection that must not come. A connection that is
/// allowed comes within milliseconds (see
/// `a_higher_per_host_limit_lets_both_connect_at_once`).
const WATCH: Duration = Duration::from_millis(500);

#[tokio::test]
async fn the_per_host_limit_holds_the_second_connection_back() {
    let (release, hold) = watch::channel(false);
    let options = Options {
        hold: Some(hold),
        ..Options::accepting(&[])
    };
    // No idle time: the second message needs a connection of its own.
    let (relay, server, _dns) = one_host(options, Pool::new(20, 1, Duration::ZERO)).await;
    let (first, second) = (Mail::to(&["a@reuse.test"]), Mail::to(&["b@reuse.test"]));

    let control = async {
        server
            .wait_for("first message held", |l| {
                l.position(Event::Held(0)).is_some()
            })
            .await;
        let second_came = server.wait_up_to(WATCH, |l| l.connections() > 1).await;
        release.send(true).unwrap();
        second_came
    };
    let (a, b, second_came) =
        tokio::join!(deliver(&relay, &first), deliver(&relay, &second), control);

    assert!(
        !second_came,
        "a second connection opened while the first was in use"
    );
    assert_eq!((a, b), (vec![DELIVERED], vec![DELIVERED]));
    let log = server.log();
    assert_eq!(log.connections(), 2);
    let replied = log.position(Event::Replied(0)).unwrap();
    let second_accepted = log.position(Event::Accepted(1)).unwrap();
    assert!(replied < second_accepted, "{:?}", log.events);
}

#[tokio::test]
async fn a_higher_per_host_limit_lets_both_connect_at_once() {
    let (release, hold) = watch::channel(false);
    let options = Options {
        hold: Some(hold),
        ..Options::accepting(&[])
    };
    let (relay, server, _dns) = one_host(options, Pool::new(20, 2, Duration::ZERO)).await;
    let (first, second) = (Mail::to(&["a@reuse.test"]), Mail::to(&["b@reuse.test"]));

    let control = async {
        let log = server
            .wait_for("both messages held", |l| {
                l.position(Event::Held(0)).is_some() && l.position(Event::Held(1)).is_some()
            })
            .await;
        release.send(true).unwrap();
        log
    };
    let (a, b, held) = tokio::join!(deliver(&relay, &first), deliver(&relay, &second), control);

    assert_eq!((a, b), (vec![DELIVERED], vec![DELIVERED]));
    assert_eq!(held.max_open, 2);
}

#[tokio::test]
async fn the_per_host_limit_does_not_hold_back_other_hosts() {
    let (release, hold) = watch::channel(false);
    let (port, mut s) = slots(2);
    let (ip1, ip2) = (s[0].ip(), s[1].ip());
    let dns = TestDns::start([
        ("left.test", RecordType::A, ip1.as_str()),
        ("right.test", RecordType::A, ip2.as_str()),
    ])
    .await;
    let options = Options {
        hold: Some(hold),
        ..Options::accepting(&[])
    };
    let right = FakeSmtp::start(s.pop().unwrap(), options.clone());
    let left = FakeSmtp::start(s.pop().unwrap(), options);
    let relay = mx_relay(&dns, port, Pool::new(20, 1, Duration::ZERO));
    let (first, second) = (Mail::to(&["a@left.test"]), Mail::to(&["b@right.test"]));

    let control = async {
        let held = |l: &outbound_support::Log| l.position(Event::Held(0)).is_some();
        left.wait_for("left held", held).await;
        right.wait_for("right held", held).await;
        release.send(true).unwrap();
    };
    let (a, b, ()) = tokio::join!(deliver(&relay, &first), deliver(&relay, &second), control);

    assert_eq!((a, b), (vec![DELIVERED], vec![DELIVERED]));
}

// ---------------------------------------------------------------------------------
// 8. Smarthost

fn smarthost_config(user: &str, password: &str) -> Arc<ClientConfig> {
    Arc::new(ClientConfig {
        tls: TlsMode::Disabled,
        credentials: Some((user.into(), password.into())),
        timeouts: Timeouts::all(PATIENCE),
        ..ClientConfig::new("relay.test")
    })
}

fn smarthost_server(slot: Slot) -> FakeSmtp {
    FakeSmtp::start(
        slot,
        Options {
            credentials: Some(("u".into(), "p".into())),
            ..Options::accepting(&["AUTH PLAIN LOGIN"])
        },
    )
}

#[tokio::test]
async fn a_smarthost_for_everything_takes_all_mail_with_auth() {
    let (port, mut s) = slots(1);
    let smarthost = smarthost_server(s.pop().unwrap());
    // No records anywhere, and a name server that never answers: nothing is looked up.
    let silent = SilentDns::start().await;
    let resolver =
        DnsResolver::with_options(&[silent.addr], Duration::from_millis(200), 1).unwrap();
    let routes = Routes::mx(mx_config()).with_smarthost(Smarthost {
        host: smarthost.addr.ip().to_string(),
        port,
        config: smarthost_config("u", "p"),
        domains: vec![],
    });
    let relay = Relay::new(routes, resolver, Arc::new(pool()));

    let outcomes = deliver(
        &relay,
        &Mail::to(&["a@nowhere.test", "b@elsewhere.example"]),
    )
    .await;

    assert_eq!(outcomes, [DELIVERED, DELIVERED]);
    let log = smarthost.log();
    let mut rcpts: Vec<String> = log
        .transactions
        .iter()
        .flat_map(|t| t.rcpts.clone())
        .collect();
    rcpts.sort();
    assert_eq!(rcpts, ["a@nowhere.test", "b@elsewhere.example"]);
    assert!(!log.auth.is_empty());
    assert!(
        log.auth.iter().all(|a| *a == ("u".into(), "p".into())),
        "{:?}",
        log.auth
    );
    // Every session authenticated before its first MAIL.
    for commands in &log.commands {
        let auth = commands.iter().position(|c| c.starts_with("AUTH"));
        let mail = commands.iter().position(|c| c.starts_with("MAIL"));
        if let Some(mail) = mail {
            assert!(auth.is_some_and(|a| a < mail), "{commands:?}");
        }
    }
    assert_eq!(silent.queries(), 0, "DNS was asked");
}

#[tokio::test]
async fn a_smarthost_for_some_domains_leaves_the_others_to_mx() {
    let (port, mut s) = slots(2);
    let mx_ip = s[1].ip();
    let dns = TestDns::start([
        ("other.test", RecordType::MX, "10 mx.other.test."),
        ("mx.other.test", RecordType::A, mx_ip.as_str()),
        // only.test has an MX too: the smarthost still takes it.
        ("only.test", RecordType::MX, "10 mx.other.test."),
    ])
    .await;
    let mx = accepting(s.pop().unwrap());
    let smarthost = smarthost_server(s.pop().unwrap());
    let routes = Routes::mx(mx_config())
        .with_mx_port(port)
        .with_smarthost(Smarthost {
            host: smarthost.addr.ip().to_string(),
            port,
            config: smarthost_config("u", "p"),
            domains: vec!["only.test".into()],
        });
    let relay = relay_with(routes, &dns, pool());

    let outcomes = deliver(&relay, &Mail::to(&["a@only.test", "b@other.test"])).await;

    assert_eq!(outcomes, [DELIVERED, DELIVERED]);
    let via_smarthost = smarthost.log();
    assert_eq!(via_smarthost.transactions.len(), 1);
    assert_eq!(via_smarthost.transactions[0].rcpts, ["a@only.test"]);
    assert_eq!(via_smarthost.auth, [("u".into(), "p".into())]);
    let via_mx = mx.log();
    assert_eq!(via_mx.transactions.len(), 1);
    assert_eq!(via_mx.transactions[0].rcpts, ["b@other.test"]);
    assert!(
        via_mx.commands[0].iter().all(|c| !c.starts_with("AUTH")),
        "{:?}",
        via_mx.commands
    );
}

#[tokio::test]
async fn a_smarthost_refusing_auth_defers_the_mail() {
    let (port, mut s) = slots(1);
    let smarthost = smarthost_server(s.pop().unwrap());
    let dns = TestDns::start([]).await;
    let routes = Routes::mx(mx_config()).with_smarthost(Smarthost {
        host: smarthost.addr.ip().to_string(),
        port,
        config: smarthost_config("u", "wrong"),
        domains: vec![],
    });
    let relay = relay_with(routes, &dns, pool());

    let outcomes = deliver(&relay, &Mail::to(&["a@far.test", "b@far.test"])).await;

    for outcome in &outcomes {
        let Outcome::Temporary(reason) = outcome else {
            panic!("a refused AUTH must not bounce: {outcomes:?}");
        };
        assert!(reason.contains("535"), "{reason}");
    }
    assert_eq!(outcomes.len(), 2);
    let log = smarthost.log();
    assert_eq!(log.auth, [("u".into(), "wrong".into())]);
    assert!(log.transactions.is_empty());
}
