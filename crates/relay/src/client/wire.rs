//! The byte level of the client: a TCP or TLS stream with a read buffer, reading whole
//! replies and writing commands, each under a deadline, and switching to TLS in place.
//!
//! Where it sits: below [`super::session`] and [`super::send`], which decide what to
//! say; this module only moves bytes and logs the dialogue at debug level.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tracing::debug;

use super::reply::{RawReply, parse_line};
use super::transcript::{Direction, Transcript};

/// Longest reply line we accept. RFC 5321 §4.5.3.1.5 allows 512 octets; real servers
/// go beyond that, so be generous but bounded.
const MAX_LINE: usize = 16 * 1024;
/// Most lines in one reply (an EHLO reply has a few dozen at most).
const MAX_LINES: usize = 512;
/// Body bytes per write, each under the data block timeout (RFC 5321 §4.5.3.2.5).
const WRITE_BLOCK: usize = 64 * 1024;

/// Why the wire failed: an enhanced status code (RFC 3463) and a text that names the
/// peer and the phase.
#[derive(Debug)]
pub(crate) struct WireError {
    pub status: (u8, u16, u16),
    pub text: String,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (class, subject, detail) = self.status;
        write!(f, "{class}.{subject}.{detail} {}", self.text)
    }
}

/// A connection or network failure (RFC 3463 X.4.2 "bad connection").
fn bad_connection(text: String) -> WireError {
    WireError {
        status: (4, 4, 2),
        text,
    }
}

/// A TLS failure (X.7.5 "cryptographic failure").
fn tls_failure(text: String) -> WireError {
    WireError {
        status: (4, 7, 5),
        text,
    }
}

/// The stream under the SMTP dialogue.
enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One SMTP connection's stream, read buffer and peer.
pub(crate) struct Wire {
    io: Transport,
    buf: Vec<u8>,
    peer: SocketAddr,
    /// Sees every line in both directions (`postie send --debug`); usually `None`.
    transcript: Option<Transcript>,
}

impl Wire {
    /// Opens the TCP connection.
    pub async fn connect(peer: SocketAddr, limit: Duration) -> Result<Wire, WireError> {
        let unreachable = |text| WireError {
            status: (4, 4, 1),
            text,
        };
        match timeout(limit, TcpStream::connect(peer)).await {
            Err(_) => Err(unreachable(format!("timeout connecting to {peer}"))),
            Ok(Err(e)) => Err(unreachable(format!("cannot connect to {peer}: {e}"))),
            Ok(Ok(stream)) => {
                // Every write is a whole command, group of commands or block of data,
                // so Nagle's algorithm would only add delays (e.g. between a BDAT
                // command and its chunk).
                let _ = stream.set_nodelay(true);
                debug!(%peer, "connected");
                Ok(Wire {
                    io: Transport::Plain(stream),
                    buf: Vec::new(),
                    peer,
                    transcript: None,
                })
            }
        }
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Installs the transcript hook and tells it about the connection.
    pub fn set_transcript(&mut self, transcript: Transcript) {
        transcript(Direction::Note, &format!("connected to {}", self.peer));
        self.transcript = Some(transcript);
    }

    /// Passes one line to the transcript hook, if there is one.
    fn trace(&self, direction: Direction, line: &str) {
        if let Some(hook) = &self.transcript {
            hook(direction, line);
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.io, Transport::Tls(_))
    }

    /// Performs the TLS handshake on the plain stream (after `220` to STARTTLS, or at
    /// once for implicit TLS). Anything the server sent before the handshake is dropped:
    /// it was not protected and must not be taken as a reply (RFC 3207 §4.2; the
    /// STARTTLS response injection problem).
    pub async fn start_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
        limit: Duration,
    ) -> Result<Wire, WireError> {
        let peer = self.peer;
        let transcript = self.transcript;
        let Transport::Plain(stream) = self.io else {
            return Err(tls_failure(format!("TLS is already active with {peer}")));
        };
        if !self.buf.is_empty() {
            debug!(%peer, bytes = self.buf.len(), "dropping unprotected bytes before TLS");
        }
        let connector = TlsConnector::from(config);
        match timeout(limit, connector.connect(name, stream)).await {
            Err(_) => Err(tls_failure(format!(
                "timeout in the TLS handshake with {peer}"
            ))),
            Ok(Err(e)) => Err(tls_failure(format!(
                "TLS handshake with {peer} failed: {e}"
            ))),
            Ok(Ok(tls)) => {
                let (_, session) = tls.get_ref();
                debug!(
                    %peer,
                    version = ?session.protocol_version(),
                    cipher = ?session.negotiated_cipher_suite().map(|s| s.suite()),
                    "TLS established"
                );
                if let Some(hook) = &transcript {
                    let version = session.protocol_version().map(|v| format!("{v:?}"));
                    let cipher = session
                        .negotiated_cipher_suite()
                        .map(|s| format!("{:?}", s.suite()));
                    hook(
                        Direction::Note,
                        &format!(
                            "TLS established: {}, {}",
                            version.as_deref().unwrap_or("unknown version"),
                            cipher.as_deref().unwrap_or("unknown cipher")
                        ),
                    );
                }
                Ok(Wire {
                    io: Transport::Tls(Box::new(tls)),
                    buf: Vec::new(),
                    peer,
                    transcript,
                })
            }
        }
    }

    /// Reads one complete reply, which must arrive within `limit`. `what` names the
    /// reply in error messages ("reply to MAIL").
    pub async fn read_reply(&mut self, limit: Duration, what: &str) -> Result<RawReply, WireError> {
        let deadline = Instant::now() + limit;
        let mut code = None;
        let mut lines = Vec::new();
        loop {
            let line = self.read_line(deadline, what).await?;
            debug!(peer = %self.peer, "S: {line}");
            self.trace(Direction::ServerToClient, &line);
            let Some(parsed) = parse_line(&line) else {
                return Err(self.protocol(format!("malformed {what}: {line:?}")));
            };
            match code {
                None => code = Some(parsed.code),
                Some(c) if c != parsed.code => {
                    return Err(self.protocol(format!("mixed codes in {what}: {line:?}")));
                }
                Some(_) => {}
            }
            if lines.len() >= MAX_LINES {
                return Err(self.protocol(format!("{what} has too many lines")));
            }
            lines.push(parsed.text.to_string());
            if parsed.last {
                return Ok(RawReply {
                    code: parsed.code,
                    lines,
                });
            }
        }
    }

    /// One line without its line end; CRLF or a bare LF end it.
    async fn read_line(&mut self, deadline: Instant, what: &str) -> Result<String, WireError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            scanned = self.buf.len();
            if scanned > MAX_LINE {
                return Err(self.protocol(format!("over-long line in {what}")));
            }
            let mut chunk = [0u8; 4096];
            let peer = self.peer;
            let n = match timeout_at(deadline, self.io.read(&mut chunk)).await {
                Err(_) => {
                    return Err(bad_connection(format!(
                        "timeout waiting for {what} from {peer}"
                    )));
                }
                Ok(Err(e)) => {
                    return Err(bad_connection(format!(
                        "network error waiting for {what} from {peer}: {e}"
                    )));
                }
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                return Err(bad_connection(format!(
                    "connection closed by {peer} while waiting for {what}"
                )));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends command lines (CRLF added) in one write: one command, or a pipelined group
    /// (RFC 2920 §3.1).
    pub async fn send_commands(
        &mut self,
        lines: &[String],
        limit: Duration,
        what: &str,
    ) -> Result<(), WireError> {
        let mut out = Vec::new();
        for line in lines {
            debug!(peer = %self.peer, "C: {line}");
            self.trace(Direction::ClientToServer, line);
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.write_block(&out, limit, what).await
    }

    /// Sends a command whose text must not be logged (AUTH); `shown` is logged instead.
    pub async fn send_secret(
        &mut self,
        line: &str,
        shown: &str,
        limit: Duration,
        what: &str,
    ) -> Result<(), WireError> {
        debug!(peer = %self.peer, "C: {shown}");
        self.trace(Direction::ClientToServer, shown);
        let mut out = line.as_bytes().to_vec();
        out.extend_from_slice(b"\r\n");
        self.write_block(&out, limit, what).await
    }

    /// Sends raw bytes (message data) in blocks, each within `limit`.
    pub async fn send_data(
        &mut self,
        data: &[u8],
        limit: Duration,
        what: &str,
    ) -> Result<(), WireError> {
        debug!(peer = %self.peer, "C: <{} octets of {what}>", data.len());
        if self.transcript.is_some() {
            // The data as it goes on the wire (dot-stuffed for DATA), line by line.
            let text = String::from_utf8_lossy(data);
            let text = text.strip_suffix("\r\n").unwrap_or(&text);
            for line in text.split('\n') {
                self.trace(Direction::ClientToServer, line.trim_end_matches('\r'));
            }
        }
        for block in data.chunks(WRITE_BLOCK) {
            self.write_block(block, limit, what).await?;
        }
        Ok(())
    }

    async fn write_block(
        &mut self,
        bytes: &[u8],
        limit: Duration,
        what: &str,
    ) -> Result<(), WireError> {
        let io = &mut self.io;
        let write = async {
            io.write_all(bytes).await?;
            io.flush().await
        };
        match timeout(limit, write).await {
            Err(_) => Err(bad_connection(format!(
                "timeout sending {what} to {}",
                self.peer
            ))),
            Ok(Err(e)) => Err(bad_connection(format!(
                "network error sending {what} to {}: {e}",
                self.peer
            ))),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Closes the stream (TLS close_notify first), ignoring errors.
    pub async fn close(mut self, limit: Duration) {
        let _ = timeout(limit, self.io.shutdown()).await;
    }

    fn protocol(&self, what: String) -> WireError {
        WireError {
            status: (4, 5, 0),
            text: format!("{what} from {}", self.peer),
        }
    }
}
