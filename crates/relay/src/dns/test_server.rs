//! An in-process authoritative DNS server on loopback, for tests (cargo feature
//! `test-dns`).
//!
//! Where it sits: outside the mail flow. A test starts a [`TestDns`] with the records it
//! needs and points a [`DnsResolver`](super::DnsResolver) — or any resolver taking a
//! name server address, such as mail-auth's — at [`TestDns::addr`]. It answers on UDP and
//! TCP at 127.0.0.1 on a random port, so nothing leaves the machine.
//!
//! Each record's top-level domain becomes an authoritative zone (with a made-up SOA), so
//! a fake TLD such as `test.` is served whole: names without records get NXDOMAIN, names
//! with other types get NODATA (RFC 2308), and a parent-zone walk (DMARC) stays inside
//! it. The `test.` zone always exists. Queries outside every zone get REFUSED. Names
//! registered with [`TestDnsBuilder::servfail`] get SERVFAIL, to test temporary errors.
//!
//! ```no_run
//! # async fn demo() {
//! use relay::dns::test_server::{RecordType, TestDns};
//! let dns = TestDns::start([
//!     ("example.test", RecordType::MX, "10 mx.example.test."),
//!     ("mx.example.test", RecordType::A, "127.0.0.1"),
//!     ("example.test", RecordType::TXT, "\"v=spf1 -all\""),
//! ])
//! .await;
//! let resolver = relay::dns::DnsResolver::new(&[dns.addr]).unwrap();
//! # }
//! ```

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

pub use hickory_server::proto::rr::RecordType;

const TTL: u32 = 60;

/// A running test DNS server; it stops when dropped.
pub struct TestDns {
    /// Where it answers, UDP and TCP.
    pub addr: SocketAddr,
    _server: Server<Handler>,
}

impl TestDns {
    /// Starts a server with `records`: (owner name, type, data in zone-file syntax,
    /// e.g. `"10 mx.example.test."` for MX or `"\"v=spf1 -all\""` for TXT). Names may
    /// have the trailing dot or not; they are absolute either way.
    ///
    /// Must run inside a tokio runtime (the server's tasks are spawned on it). Panics on
    /// a record that does not parse, so a broken fixture fails the test loudly.
    pub async fn start<'a>(
        records: impl IntoIterator<Item = (&'a str, RecordType, &'a str)>,
    ) -> TestDns {
        let mut builder = TestDns::builder();
        for (name, record_type, data) in records {
            builder = builder.record(name, record_type, data);
        }
        builder.start().await
    }

    /// A builder, for servers that also need SERVFAIL names.
    pub fn builder() -> TestDnsBuilder {
        TestDnsBuilder::default()
    }

    /// Where it answers, UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Collects records and failure names for [`TestDns`].
#[derive(Default)]
pub struct TestDnsBuilder {
    records: Vec<Record>,
    servfail: HashSet<LowerName>,
}

impl TestDnsBuilder {
    /// Adds one record; see [`TestDns::start`] for the format.
    pub fn record(mut self, name: &str, record_type: RecordType, data: &str) -> Self {
        let owner = absolute(name);
        let rdata = RData::try_from_str(record_type, data)
            .unwrap_or_else(|e| panic!("test DNS record {name} {record_type} {data:?}: {e}"));
        self.records.push(Record::from_rdata(owner, TTL, rdata));
        self
    }

    /// Every query for `name` (any type) is answered with SERVFAIL.
    pub fn servfail(mut self, name: &str) -> Self {
        self.servfail.insert(LowerName::new(&absolute(name)));
        self
    }

    /// Binds 127.0.0.1 on a random port (the same for UDP and TCP) and starts serving.
    pub async fn start(self) -> TestDns {
        let mut zones: BTreeMap<Name, Vec<Record>> = BTreeMap::new();
        zones.entry(absolute("test")).or_default();
        for record in self.records {
            let origin = record.name.trim_to(1);
            zones.entry(origin).or_default().push(record);
        }
        let mut catalog = Catalog::new();
        for (origin, records) in zones {
            let handler = zone(&origin, records);
            catalog.upsert(LowerName::new(&origin), vec![Arc::new(handler)]);
        }
        let handler = Handler {
            catalog,
            servfail: self.servfail,
        };

        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().expect("test DNS address");
        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 32);
        TestDns {
            addr,
            _server: server,
        }
    }
}

/// An authoritative zone at `origin` holding `records`.
fn zone(origin: &Name, records: Vec<Record>) -> InMemoryZoneHandler {
    let mut handler =
        InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    const SERIAL: u32 = 1;
    // A short minimum: negative answers are cached briefly (RFC 2308 §5).
    let soa = format!("ns.{origin} hostmaster.{origin} {SERIAL} 3600 600 86400 5");
    let soa = RData::try_from_str(RecordType::SOA, &soa).expect("SOA parses");
    handler.upsert_mut(Record::from_rdata(origin.clone(), TTL, soa), SERIAL);
    for record in records {
        let text = record.to_string();
        assert!(
            handler.upsert_mut(record, SERIAL),
            "test DNS: could not add {text}"
        );
    }
    handler
}

/// A UDP socket and a TCP listener on the same random loopback port.
async fn bind_pair() -> (UdpSocket, TcpListener) {
    let mut last_error = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        let addr = udp.local_addr().expect("UDP address");
        match TcpListener::bind(addr).await {
            Ok(tcp) => return (udp, tcp),
            // That port is taken for TCP; try another.
            Err(e) => last_error = Some(e),
        }
    }
    panic!("test DNS: no free UDP+TCP port pair: {last_error:?}");
}

/// `name` as an absolute name.
fn absolute(name: &str) -> Name {
    let mut parsed =
        Name::from_str_relaxed(name).unwrap_or_else(|e| panic!("test DNS name {name:?}: {e}"));
    parsed.set_fqdn(true);
    parsed
}

/// The catalog, plus SERVFAIL for the chosen names.
struct Handler {
    catalog: Catalog,
    servfail: HashSet<LowerName>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let fail = request
            .queries
            .queries()
            .iter()
            .any(|query| self.servfail.contains(query.name()));
        if !fail {
            return self
                .catalog
                .handle_request::<R, T>(request, response_handle)
                .await;
        }
        let response = MessageResponseBuilder::new(&request.queries, None)
            .error_msg(&request.metadata, ResponseCode::ServFail);
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(_) => {
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}
