//! A small, bounded HTTPS/1.1 client for the two requests outbound transport security
//! makes: GET of an MTA-STS policy (RFC 8461 §3.3) and POST of a TLS-RPT report to an
//! `https:` rua (RFC 8460 §5.4).
//!
//! Where it sits: [`super::sts`] fetches policies with [`get`], the TLS-RPT sender
//! posts with [`post`]. Both verify the server certificate (WebPKI plus the configured
//! extra CAs), follow no redirects (§3.3: "MUST NOT follow redirects"), stop reading
//! at a size limit and give up at a deadline. Only `Content-Length`, chunked and
//! read-to-close bodies are understood.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::dns::DnsResolver;

/// The longest response head (status line and header fields) read.
const HEAD_MAX: usize = 16 * 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    /// The host name could not be resolved or reached.
    #[error("connect: {0}")]
    Connect(String),
    /// TLS failed; the text is rustls's reason (certificate problems among them).
    #[error("TLS: {0}")]
    Tls(String),
    /// The deadline passed.
    #[error("timed out")]
    Timeout,
    /// The response was malformed, too big or not a 2xx.
    #[error("{0}")]
    Protocol(String),
}

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, at most the limit given.
    pub body: Vec<u8>,
}

/// GET `https://host/path` with a deadline, reading at most `limit` body bytes.
pub async fn get(
    dns: &DnsResolver,
    tls: Arc<rustls::ClientConfig>,
    host: &str,
    path: &str,
    limit: usize,
    deadline: Duration,
) -> Result<Response, HttpsError> {
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: postie\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    );
    request(dns, tls, host, 443, head.into_bytes(), limit, deadline).await
}

/// POST `body` as `content_type` to `https://host:port/path`.
#[allow(clippy::too_many_arguments)]
pub async fn post(
    dns: &DnsResolver,
    tls: Arc<rustls::ClientConfig>,
    host: &str,
    port: u16,
    path: &str,
    content_type: &str,
    body: &[u8],
    deadline: Duration,
) -> Result<Response, HttpsError> {
    let mut bytes = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: postie\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    request(dns, tls, host, port, bytes, 64 * 1024, deadline).await
}

async fn request(
    dns: &DnsResolver,
    tls: Arc<rustls::ClientConfig>,
    host: &str,
    port: u16,
    bytes: Vec<u8>,
    limit: usize,
    deadline: Duration,
) -> Result<Response, HttpsError> {
    tokio::time::timeout(deadline, async {
        let ips = dns
            .addresses(host)
            .await
            .map_err(|e| HttpsError::Connect(e.to_string()))?;
        let mut last = HttpsError::Connect(format!("{host}: no address"));
        for ip in ips {
            let tcp = match TcpStream::connect((ip, port)).await {
                Ok(tcp) => tcp,
                Err(e) => {
                    last = HttpsError::Connect(format!("{host}[{ip}]: {e}"));
                    continue;
                }
            };
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| HttpsError::Connect(format!("{host}: {e}")))?;
            let mut stream = TlsConnector::from(tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| HttpsError::Tls(e.to_string()))?;
            stream
                .write_all(&bytes)
                .await
                .map_err(|e| HttpsError::Protocol(format!("write: {e}")))?;
            // Read the whole (bounded) response: head + body + chunk framing.
            let cap = HEAD_MAX + limit + limit / 8 + 1024;
            let mut raw = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                let n = match stream.read(&mut buf).await {
                    Ok(n) => n,
                    // A peer that closes without close_notify: what we have is it.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                    Err(e) => return Err(HttpsError::Protocol(format!("read: {e}"))),
                };
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > cap {
                    return Err(HttpsError::Protocol(format!(
                        "response larger than {limit} bytes"
                    )));
                }
            }
            return parse_response(&raw, limit);
        }
        Err(last)
    })
    .await
    .map_err(|_| HttpsError::Timeout)?
}

/// Splits a whole response into status and body.
pub fn parse_response(raw: &[u8], limit: usize) -> Result<Response, HttpsError> {
    let bad = |m: &str| HttpsError::Protocol(m.to_owned());
    let end = memchr::memmem::find(raw, b"\r\n\r\n").ok_or_else(|| bad("no end of header"))?;
    if end > HEAD_MAX {
        return Err(bad("header too long"));
    }
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("header not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad("not an HTTP/1 response"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| bad("bad Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest, limit)?
    } else if let Some(length) = length {
        if length > limit {
            return Err(bad("body larger than the limit"));
        }
        if rest.len() < length {
            return Err(bad("body shorter than its Content-Length"));
        }
        rest[..length].to_vec()
    } else {
        rest.to_vec()
    };
    if body.len() > limit {
        return Err(bad("body larger than the limit"));
    }
    Ok(Response { status, body })
}

/// Decodes a chunked body (RFC 9112 §7.1), iteratively, at most `limit` bytes.
fn dechunk(mut rest: &[u8], limit: usize) -> Result<Vec<u8>, HttpsError> {
    let bad = |m: &str| HttpsError::Protocol(m.to_owned());
    let mut body = Vec::new();
    loop {
        let eol = memchr::memmem::find(rest, b"\r\n").ok_or_else(|| bad("bad chunk"))?;
        let size_text = std::str::from_utf8(&rest[..eol]).map_err(|_| bad("bad chunk"))?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        if size > limit.saturating_sub(body.len()) || rest.len() < size + 2 {
            return Err(bad("chunk too large or cut short"));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_chunked_bodies() {
        let r = parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", 10).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            10,
        )
        .unwrap();
        assert_eq!(r.body, b"abcde");
        let r = parse_response(b"HTTP/1.1 301 Moved\r\nLocation: x\r\n\r\n", 10).unwrap();
        assert_eq!(r.status, 301);
    }

    #[test]
    fn limits_hold() {
        assert!(
            parse_response(
                b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890",
                10
            )
            .is_err()
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n\r\n01234567890", 10).is_err());
        assert!(
            parse_response(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffff\r\n",
                10
            )
            .is_err()
        );
        assert!(parse_response(b"SMTP 220\r\n\r\n", 10).is_err());
    }
}
