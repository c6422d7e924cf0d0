//! The TLSA query for DANE (RFC 7672 §2.2), sent with the AD bit set.
//!
//! Where it sits: [`super::DnsResolver::tlsa`] asks here instead of through
//! hickory-resolver, because a validating resolver reports AD only when the query
//! carries AD or DO (RFC 6840 §5.7) and hickory-resolver (built without its DNSSEC
//! feature) sets neither. One query over UDP (TCP when the answer is truncated) to each
//! configured server in turn, with a deadline, the reply's id and question checked.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::error::DnsError;
use crate::security::tlsa::Tlsa;

/// The largest answer read (a TLSA RRset is far smaller).
const MAX_ANSWER: usize = 16 * 1024;

/// TLSA records at `name` and whether the answer was authenticated, from the first of
/// `servers` that answers. NXDOMAIN and NODATA: no records.
pub(super) async fn tlsa(
    servers: &[SocketAddr],
    name: &Name,
    timeout: Duration,
) -> Result<(Vec<Tlsa>, bool), DnsError> {
    let mut last = DnsError::Temporary(format!("TLSA lookup for {name}: no name server"));
    for &server in servers {
        match tokio::time::timeout(timeout, ask(server, name)).await {
            Ok(Ok(reply)) => return read(&reply, name),
            Ok(Err(e)) => last = DnsError::Temporary(format!("TLSA lookup for {name}: {e}")),
            Err(_) => last = DnsError::Temporary(format!("TLSA lookup for {name}: timed out")),
        }
    }
    Err(last)
}

async fn ask(server: SocketAddr, name: &Name) -> std::io::Result<Message> {
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    // RFC 6840 §5.7: ask for the AD bit.
    query.metadata.authentic_data = true;
    query.add_query(Query::query(name.clone(), RecordType::TLSA));
    let bytes = query.to_vec().map_err(std::io::Error::other)?;
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let socket = UdpSocket::bind(bind).await?;
    socket.connect(server).await?;
    socket.send(&bytes).await?;
    let mut buf = vec![0u8; MAX_ANSWER];
    let reply = loop {
        let n = socket.recv(&mut buf).await?;
        match Message::from_vec(&buf[..n]) {
            Ok(m) if m.metadata.id == query.metadata.id && m.queries == query.queries => break m,
            _ => continue, // not the answer to this query: keep waiting (the deadline holds)
        }
    };
    if !reply.metadata.truncation {
        return Ok(reply);
    }
    // Truncated: again over TCP (RFC 7766), length-prefixed.
    let mut tcp = TcpStream::connect(server).await?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    tcp.write_all(&framed).await?;
    let mut len = [0u8; 2];
    tcp.read_exact(&mut len).await?;
    let len = usize::from(u16::from_be_bytes(len)).min(MAX_ANSWER);
    let mut answer = vec![0u8; len];
    tcp.read_exact(&mut answer).await?;
    let reply = Message::from_vec(&answer).map_err(std::io::Error::other)?;
    if reply.metadata.id != query.metadata.id {
        return Err(std::io::Error::other("reply to another query"));
    }
    Ok(reply)
}

fn read(reply: &Message, name: &Name) -> Result<(Vec<Tlsa>, bool), DnsError> {
    match reply.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Ok((Vec::new(), false)),
        // A validating resolver answers SERVFAIL for bogus data (RFC 4035 §5.5).
        other => {
            return Err(DnsError::Temporary(format!(
                "TLSA lookup for {name}: {other}"
            )));
        }
    }
    let records = reply
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::TLSA(t) => Some(Tlsa {
                usage: u8::from(t.cert_usage),
                selector: u8::from(t.selector),
                matching: u8::from(t.matching),
                data: t.cert_data.clone(),
            }),
            _ => None,
        })
        .take(20)
        .collect();
    Ok((records, reply.metadata.authentic_data))
}
