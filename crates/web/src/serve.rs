//! One HTTP/1.1 connection (RFC 9112) over any byte stream: the plain socket of a
//! `listen.http` address or the TLS stream of a `listen.https` one (the `server`
//! crate accepts, limits and does the handshake, then calls [`connection`]).
//!
//! Bounds (docs/security.md habits: deadlines, not idle timers): the request head
//! must arrive within [`HEADER_READ_TIMEOUT`] of the connection or of the previous
//! response (hyper's header read timeout, slowloris), a head is at most [`MAX_HEAD`]
//! bytes, and the whole connection, keep-alive included, ends after
//! [`CONNECTION_DEADLINE`]. No HTTP/2, no upgrades. When the server stops, the
//! connection finishes the request in flight and closes.

use crate::principal::ConnInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

/// A request head must be read whole within this time.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection lasts at most this long, however many requests it carries.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(60);

/// The largest request head (request line and header fields) hyper buffers.
pub const MAX_HEAD: usize = 16 * 1024;

/// How long a connection may take to finish its request in flight once the server
/// stops.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Serves HTTP/1.1 on `io` with `router` until the client closes, a deadline passes
/// or `stop` turns true. Each request carries `conn` as an extension
/// ([`ConnInfo::of`]).
pub async fn connection<IO>(io: IO, router: Router, conn: ConnInfo, mut stop: watch::Receiver<bool>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let router = router.layer(axum::Extension(conn));
    let service = TowerToHyperService::new(router);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let deadline = tokio::time::sleep(CONNECTION_DEADLINE);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "http connection ended with an error");
            }
        }
        _ = deadline => tracing::debug!("http connection deadline"),
        // The guard wait_for returns is dropped inside: it must not live across awaits.
        _ = async { drop(stop.wait_for(|stop| *stop).await) } => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(STOP_GRACE, conn).await;
        }
    }
}
