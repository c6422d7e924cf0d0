//! A stream wrapper that runs both directions of a connection through raw DEFLATE
//! (RFC 1951, no zlib header), as COMPRESS=DEFLATE asks (RFC 4978 §4).
//!
//! Where it sits: once COMPRESS is answered OK ([`super::compress`]), the IMAP driver
//! ([`crate::imap_driver`]) wraps the connection's stream (plain TCP or TLS) in a
//! [`Deflate`] and runs the session on it. Reads inflate what the client sent; writes
//! deflate into a buffer and `flush` ends each batch with a sync flush (RFC 4978 §4:
//! the client must be able to decode every response the server has sent so far), then
//! writes it out. The driver flushes after each batch of responses.
//!
//! All state lives in the struct, never in a future, so a read cancelled by the
//! driver's `select!` (IDLE notifications, timers) loses nothing.
//!
//! Hand-written over flate2's raw `Compress`/`Decompress` rather than with
//! async-compression: that crate splits a stream into a reader and a writer that must
//! be joined again, and its flush behaviour is not documented; this is one small type
//! with exactly the sync-flush-per-batch rule above.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many compressed bytes are read from the peer at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Compressed output waiting beyond this is written out before more is taken.
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// A stream whose bytes are raw DEFLATE on the wire.
pub(crate) struct Deflate<S> {
    inner: S,
    inflate: Decompress,
    deflate: Compress,
    /// Compressed bytes read from `inner`, `input[taken..]` not yet inflated.
    input: Vec<u8>,
    taken: usize,
    /// The peer ended its DEFLATE stream, or closed the connection.
    input_done: bool,
    /// Compressed bytes for `inner`, `output[sent..]` not yet written.
    output: Vec<u8>,
    sent: usize,
    /// Everything written so far has been sync-flushed into `output`.
    synced: bool,
}

impl<S> Deflate<S> {
    pub fn new(inner: S) -> Self {
        Deflate {
            inner,
            inflate: Decompress::new(false),
            deflate: Compress::new(Compression::default(), false),
            input: Vec::with_capacity(READ_CHUNK),
            taken: 0,
            input_done: false,
            output: Vec::new(),
            sent: 0,
            synced: true,
        }
    }

    /// Inflates buffered input into `buf`; the number of bytes produced.
    fn inflate_into(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<usize> {
        let before_in = self.inflate.total_in();
        let before_out = self.inflate.total_out();
        let status = self
            .inflate
            .decompress(
                &self.input[self.taken..],
                buf.initialize_unfilled(),
                FlushDecompress::None,
            )
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let consumed = (self.inflate.total_in() - before_in) as usize;
        let produced = (self.inflate.total_out() - before_out) as usize;
        self.taken += consumed;
        buf.advance(produced);
        if status == Status::StreamEnd {
            self.input_done = true;
        }
        Ok(produced)
    }

    /// Deflates `data` into `output` with `flush`.
    fn deflate_from(&mut self, mut data: &[u8], flush: FlushCompress) -> io::Result<()> {
        loop {
            self.output.reserve(data.len() / 2 + 1024);
            let before_in = self.deflate.total_in();
            self.deflate
                .compress_vec(data, &mut self.output, flush)
                .map_err(io::Error::other)?;
            data = &data[(self.deflate.total_in() - before_in) as usize..];
            // Done when the input is taken and the output did not fill the buffer
            // (a full buffer may mean more flush output is pending).
            if data.is_empty() && self.output.len() < self.output.capacity() {
                return Ok(());
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> Deflate<S> {
    /// Writes out `output[sent..]`.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.output.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.output[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.output.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Deflate<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            // Inflate first: input may be buffered, or output held back in the window.
            if this.inflate_into(buf)? > 0 || this.input_done {
                return Poll::Ready(Ok(()));
            }
            if this.taken == this.input.len() {
                this.input.clear();
                this.taken = 0;
            }
            let start = this.input.len();
            this.input.resize(start + READ_CHUNK, 0);
            let mut chunk = ReadBuf::new(&mut this.input[start..]);
            let read = Pin::new(&mut this.inner).poll_read(cx, &mut chunk);
            let n = chunk.filled().len();
            this.input.truncate(start + n);
            ready!(read)?;
            if n == 0 {
                // The connection closed: end of stream for the reader.
                this.input_done = true;
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deflate<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.output.len() - this.sent >= WRITE_HIGH_WATER {
            ready!(this.poll_send(cx))?;
        }
        this.deflate_from(data, FlushCompress::None)?;
        this.synced = data.is_empty() && this.synced;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.synced {
            this.deflate_from(&[], FlushCompress::Sync)?;
            this.synced = true;
        }
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The client side of the test: raw DEFLATE with flate2's own streams.
    struct Peer {
        deflate: Compress,
        inflate: Decompress,
    }

    impl Peer {
        fn new() -> Self {
            Peer {
                deflate: Compress::new(Compression::fast(), false),
                inflate: Decompress::new(false),
            }
        }

        fn compress(&mut self, data: &[u8]) -> Vec<u8> {
            let mut out = Vec::with_capacity(data.len() + 1024);
            self.deflate
                .compress_vec(data, &mut out, FlushCompress::Sync)
                .expect("compresses");
            out
        }

        /// Everything `data` inflates to, however large.
        fn decompress(&mut self, mut data: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            loop {
                out.reserve(64 * 1024);
                let before = self.inflate.total_in();
                self.inflate
                    .decompress_vec(data, &mut out, FlushDecompress::Sync)
                    .expect("decompresses");
                data = &data[(self.inflate.total_in() - before) as usize..];
                if data.is_empty() && out.len() < out.capacity() {
                    return out;
                }
            }
        }
    }

    /// Reads from `socket` until the peer's inflater yields `want` bytes.
    async fn read_inflated(
        socket: &mut tokio::io::DuplexStream,
        peer: &mut Peer,
        want: usize,
    ) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 4096];
        while got.len() < want {
            let n = socket.read(&mut buf).await.expect("reads");
            assert!(n > 0, "closed after {} of {want} bytes", got.len());
            got.extend(peer.decompress(&buf[..n]));
        }
        got
    }

    #[tokio::test]
    async fn each_flush_makes_everything_written_decodable() {
        let (server, mut client) = tokio::io::duplex(1 << 20);
        let mut server = Deflate::new(server);
        let mut peer = Peer::new();
        let first = b"* OK [CAPABILITY IMAP4rev1] hello\r\n".repeat(3);
        server.write_all(&first).await.expect("writes");
        server.flush().await.expect("flushes");
        // A sync flush: the peer decodes all of it without the stream ending.
        assert_eq!(
            read_inflated(&mut client, &mut peer, first.len()).await,
            first
        );
        // A large, compressible batch written in pieces.
        let body: Vec<u8> = (0..200_000u32)
            .map(|i| b"abcdefgh\r\n"[i as usize % 10])
            .collect();
        for piece in body.chunks(7000) {
            server.write_all(piece).await.expect("writes");
        }
        server.flush().await.expect("flushes");
        assert_eq!(
            read_inflated(&mut client, &mut peer, body.len()).await,
            body
        );
    }

    #[tokio::test]
    async fn reads_inflate_what_the_peer_sent() {
        let (server, mut client) = tokio::io::duplex(1 << 20);
        let mut server = Deflate::new(server);
        let mut peer = Peer::new();
        let lines = b"a1 NOOP\r\na2 SELECT INBOX\r\n".to_vec();
        // Sent in two parts, the second split mid-way through its compressed bytes.
        let part1 = peer.compress(&lines[..9]);
        let part2 = peer.compress(&lines[9..]);
        client.write_all(&part1).await.expect("writes");
        client
            .write_all(&part2[..part2.len() / 2])
            .await
            .expect("writes");
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < 9 {
            let n = server.read(&mut buf).await.expect("reads");
            got.extend_from_slice(&buf[..n]);
        }
        client
            .write_all(&part2[part2.len() / 2..])
            .await
            .expect("writes");
        while got.len() < lines.len() {
            let n = server.read(&mut buf).await.expect("reads");
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, lines);
        // The peer closing the connection is the end of the stream.
        drop(client);
        assert_eq!(server.read(&mut buf).await.expect("reads"), 0);
    }

    #[tokio::test]
    async fn garbage_is_an_error() {
        let (server, mut client) = tokio::io::duplex(1024);
        let mut server = Deflate::new(server);
        // 0xff: a reserved block type (BTYPE 11), invalid DEFLATE.
        client.write_all(&[0xff, 0xff, 0xff]).await.expect("writes");
        let mut buf = [0u8; 16];
        let err = server.read(&mut buf).await.expect_err("invalid data");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
