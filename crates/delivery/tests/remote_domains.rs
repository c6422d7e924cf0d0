//! Remote delivery through the router and the real relay, over the in-memory store, to
//! fake MX hosts on loopback: a message for two domains, one of whose servers stalls
//! at DATA. The domains are delivered concurrently, so the other domain's recipient is
//! delivered, and recorded as delivered as soon as its server says 250, while the
//! first still stalls, although it sorts first (RFC 5321 §6.1: the server took
//! responsibility with the 250); a node killed during the stall (kill -9) leaves only
//! the stalled domain to be sent again by the node that takes the entry over.

use delivery::Router;
use message::{Address, BodyType, Envelope, QueueId};
use queue::QueueRunner;
use relay::client::{ClientConfig, Timeouts};
use relay::dns::DnsResolver;
use relay::dns::test_server::{RecordType, TestDns};
use relay::outbound::Relay;
use relay::outbound::pool::Pool;
use relay::outbound::route::Routes;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::memory::MemoryStore;
use store::{RecipientStatus, Store};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

const PATIENCE: Duration = Duration::from_secs(20);

/// A fake MX host: takes EHLO, MAIL and RCPT; at DATA it takes the message with 250,
/// or, while `stalling`, says nothing until [`Mx::open`] (then 421).
struct Mx {
    /// The recipients of each message it took.
    accepted: Mutex<Vec<Vec<String>>>,
    stalling: bool,
    /// Wakes the test when a transaction stalls at DATA.
    stalled: Notify,
    opened: tokio::sync::watch::Sender<bool>,
}

impl Mx {
    fn start(listener: TcpListener, stalling: bool) -> Arc<Mx> {
        let mx = Arc::new(Mx {
            accepted: Mutex::default(),
            stalling,
            stalled: Notify::new(),
            opened: tokio::sync::watch::channel(false).0,
        });
        let server = mx.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(server.clone().serve(stream));
            }
        });
        mx
    }

    /// Ends the stall: waiting transactions get 421, later ones go through.
    fn open(&self) {
        self.opened.send_replace(true);
    }

    async fn serve(self: Arc<Self>, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 mx.test ESMTP\r\n").await?;
        let mut rcpts = Vec::new();
        while let Some(line) = lines.next_line().await? {
            let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 mx.test\r\n",
                "MAIL" => {
                    rcpts.clear();
                    b"250 2.1.0 ok\r\n"
                }
                "RCPT" => {
                    let start = line.find('<').map_or(0, |i| i + 1);
                    let end = line.find('>').unwrap_or(line.len());
                    rcpts.push(line[start..end].to_ascii_lowercase());
                    b"250 2.1.5 ok\r\n"
                }
                "DATA" if self.stalling && !*self.opened.borrow() => {
                    self.stalled.notify_one();
                    let mut opened = self.opened.subscribe();
                    let _ = opened.wait_for(|open| *open).await;
                    write.write_all(b"421 4.3.2 closing\r\n").await?;
                    return Ok(());
                }
                "DATA" => {
                    write.write_all(b"354 go ahead\r\n").await?;
                    while let Some(line) = lines.next_line().await? {
                        if line == "." {
                            break;
                        }
                    }
                    self.accepted
                        .lock()
                        .unwrap()
                        .push(std::mem::take(&mut rcpts));
                    b"250 2.0.0 accepted\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 2.0.0 bye\r\n").await?;
                    return Ok(());
                }
                _ => b"250 2.0.0 ok\r\n",
            };
            write.write_all(reply).await?;
        }
        Ok(())
    }

    fn accepted(&self) -> Vec<Vec<String>> {
        self.accepted.lock().unwrap().clone()
    }
}

/// Listeners on 127.0.0.2 and 127.0.0.3 with one port (the relay's MX port).
fn two_listeners() -> (u16, TcpListener, TcpListener) {
    let bind = |last: u8, port: u16| {
        let listener =
            std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, last), port)))?;
        listener.set_nonblocking(true)?;
        TcpListener::from_std(listener)
    };
    for _ in 0..100 {
        let first = bind(2, 0).expect("bind 127.0.0.2");
        let port = first.local_addr().unwrap().port();
        if let Ok(second) = bind(3, port) {
            return (port, first, second);
        }
    }
    panic!("no port free on both 127.0.0.2 and 127.0.0.3");
}

/// A runner as the server wires it, remote mail through the relay, named `node`.
fn runner(store: &Arc<MemoryStore>, relay: &Arc<Relay>, node: &str) -> QueueRunner {
    let resolver = Arc::new(delivery::route::Resolver::new(
        store.clone(),
        "mx.example.org",
        None,
    ));
    let router = Router::new(store.clone(), resolver).with_relay(relay.clone());
    let mut runner = QueueRunner::new(store.clone(), Arc::new(router)).with_node(node);
    runner.lease = Duration::from_secs(30);
    runner
}

#[tokio::test]
async fn a_domain_that_said_250_is_recorded_while_another_stalls() {
    let (port, fast_listener, slow_listener) = two_listeners();
    let fast = Mx::start(fast_listener, false);
    let slow = Mx::start(slow_listener, true);
    let dns = TestDns::start([
        ("zfast.test", RecordType::MX, "10 mx.zfast.test."),
        ("mx.zfast.test", RecordType::A, "127.0.0.2"),
        ("slow.test", RecordType::MX, "10 mx.slow.test."),
        ("mx.slow.test", RecordType::A, "127.0.0.3"),
    ])
    .await;
    let config = ClientConfig {
        timeouts: Timeouts::all(Duration::from_secs(120)),
        ..ClientConfig::new("relay.test")
    };
    let relay = Arc::new(Relay::new(
        Routes::mx(config).with_mx_port(port),
        DnsResolver::new(&[dns.addr]).expect("resolver"),
        Arc::new(Pool::new(20, 5, Duration::from_secs(60))),
    ));

    let store = Arc::new(MemoryStore::new());
    let id = QueueId::generate(7);
    let envelope = Envelope {
        sender: Some(Address::parse("bob@example.org").unwrap()),
        // slow.test sorts first: one domain after the other, zfast.test would wait for
        // slow.test's stall.
        recipients: vec![
            Address::parse("s@slow.test").unwrap(),
            Address::parse("f@zfast.test").unwrap(),
        ],
        body_type: BodyType::SevenBit,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    };
    store
        .enqueue(id, &envelope, b"Subject: hi\r\n\r\nbody\r\n")
        .await
        .unwrap();

    let victim = Arc::new(runner(&store, &relay, "victim"));
    let attempt = tokio::spawn({
        let victim = victim.clone();
        async move { victim.run_once(queue::now_unix()).await }
    });
    tokio::time::timeout(PATIENCE, slow.stalled.notified())
        .await
        .expect("the slow server got to DATA");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let entry = loop {
        let entry = store.queue_get(id).await.unwrap().unwrap();
        if entry.recipients[1].status == RecipientStatus::Delivered {
            break entry;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "zfast.test's 250 is recorded while slow.test stalls: {:?}",
            entry.recipients
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(fast.accepted(), [vec!["f@zfast.test".to_owned()]]);
    assert!(
        matches!(entry.recipients[0].status, RecipientStatus::Pending { .. }),
        "{:?}",
        entry.recipients[0].status
    );

    // The node dies there (kill -9); another takes the entry over once the lease has
    // run out, and sends only what was not recorded.
    attempt.abort();
    assert!(attempt.await.unwrap_err().is_cancelled());
    slow.open();
    let survivor = runner(&store, &relay, "survivor");
    assert_eq!(survivor.run_once(queue::now_unix() + 31).await.unwrap(), 1);
    assert_eq!(slow.accepted(), [vec!["s@slow.test".to_owned()]]);
    assert_eq!(
        fast.accepted(),
        [vec!["f@zfast.test".to_owned()]],
        "zfast.test got the message once"
    );
    assert!(
        store.queue_list().await.unwrap().is_empty(),
        "delivered, nothing reported"
    );
}
