//! The web face's listeners: `listen.http` (plain HTTP/1.1) and `listen.https` (the
//! same inside TLS with the mail listeners' certificate, RFC 9110 §4.2.2), serving
//! [`web::router`] (`/healthz`, autoconfiguration, `/metrics`: `docs/web.md`).
//!
//! Where it sits: [`crate::run_with_store`] binds them after the mail listeners,
//! whose bound ports the autoconfiguration documents name ([`web::MailPorts`]). Each
//! listener has a connection pool of its own ([`WEB_MAX_CONNECTIONS`],
//! [`WEB_MAX_CONNECTIONS_PER_IP`]), so a flood of the web face never takes the mail
//! listeners' slots nor they its; a TLS handshake must end within
//! [`TLS_HANDSHAKE_DEADLINE`]; what happens after is [`web::serve::connection`]'s
//! (header read timeout, whole-connection deadline). Logs `listening kind=http|https
//! addr=…` like the mail listeners (tests read the port from it).
//!
//! Security stance: talks to the network, unauthenticated; reads the store through
//! the web crate; writes nothing.

use crate::ServerError;
use crate::limits::ConnectionLimits;
use crate::reload::LiveConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Simultaneous connections to one web listener in total.
pub(crate) const WEB_MAX_CONNECTIONS: usize = 256;
/// Simultaneous connections to one web listener from one IP address.
pub(crate) const WEB_MAX_CONNECTIONS_PER_IP: usize = 16;
/// A TLS handshake on `listen.https` must end within this time.
pub(crate) const TLS_HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// The Prometheus text renderer `GET /metrics` serves.
pub(crate) type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

/// Binds `listen.http` and `listen.https` and starts serving; returns the bound
/// addresses, by listener name.
#[allow(clippy::too_many_arguments)] // each is one thing the web face needs from the server
pub(crate) async fn bind(
    config: &config::Config,
    store: Arc<dyn Store>,
    live_config: Arc<LiveConfig>,
    login: web::login::LoginFn,
    mail_bound: &[(&'static str, SocketAddr)],
    tls: crate::tls::Acceptor,
    metrics: MetricsRenderer,
    capture: Option<web::capture::CaptureHooks>,
    stop: watch::Receiver<bool>,
) -> Result<Vec<(&'static str, SocketAddr)>, ServerError> {
    let first_port = |kind: &str| {
        mail_bound
            .iter()
            .find(|(name, _)| *name == kind)
            .map(|(_, addr)| addr.port())
    };
    // The dashboard's listeners: the mail ones now, the web ones once bound below.
    let listeners = Arc::new(std::sync::OnceLock::<Vec<(String, SocketAddr)>>::new());
    let started_at = queue::now_unix();
    let status_listeners = listeners.clone();
    let state = web::WebState {
        store,
        config: Arc::new(move || live_config.in_force().config),
        ports: web::MailPorts {
            imaps: first_port("imaps"),
            pop3s: first_port("pop3s"),
            submissions: first_port("submissions"),
        },
        metrics,
        login,
        status: Arc::new(move || web::status::ServerStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at,
            listeners: status_listeners.get().cloned().unwrap_or_default(),
            recent: queue::metrics::recent()
                .into_iter()
                .map(|n| web::status::DeliveryNote {
                    at: n.at,
                    queue_id: n.queue_id.to_string(),
                    recipient: n.recipient,
                    result: n.outcome.as_str().to_owned(),
                    detail: n.detail,
                })
                .collect(),
        }),
        sessions: Arc::new(web::session::Sessions::new()),
        capture,
    };
    let router = web::router(state);
    let mut bound = Vec::new();
    for (name, addrs, secure) in [
        ("http", &config.listen.http, false),
        ("https", &config.listen.https, true),
    ] {
        let limits = ConnectionLimits::new(WEB_MAX_CONNECTIONS, WEB_MAX_CONNECTIONS_PER_IP);
        for &addr in addrs {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|error| ServerError::Bind {
                    kind: name,
                    addr,
                    error,
                })?;
            let local = listener.local_addr().unwrap_or(addr);
            tracing::info!("listening kind={name} addr={local}");
            bound.push((name, local));
            let tls = secure.then(|| tls.clone());
            tokio::spawn(accept_loop(
                listener,
                tls,
                secure,
                limits.clone(),
                router.clone(),
                stop.clone(),
            ));
        }
    }
    let all = mail_bound
        .iter()
        .chain(bound.iter())
        .map(|(kind, addr)| ((*kind).to_owned(), *addr))
        .collect();
    let _ = listeners.set(all);
    Ok(bound)
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<crate::tls::Acceptor>,
    secure: bool,
    limits: Arc<ConnectionLimits>,
    router: web::Router,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let Some((socket, peer)) = crate::listen::next_connection(&listener, &mut stop).await
        else {
            return;
        };
        let _ = socket.set_nodelay(true);
        let Some(slot) = limits.acquire(peer.ip()) else {
            tracing::info!(peer = %peer, "web connection limit reached");
            if tls.is_none() {
                // RFC 9110 §15.6.4; a TLS client just sees the connection close.
                tokio::spawn(async move {
                    let mut socket = socket;
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\
                              Connection: close\r\n\r\n",
                        )
                        .await;
                });
            }
            continue;
        };
        let (router, stop) = (router.clone(), stop.clone());
        let tls = tls.clone();
        let conn = web::principal::ConnInfo { peer, secure };
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => web::serve::connection(socket, router, conn, stop).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_DEADLINE, acceptor.accept(socket))
                        .await
                    {
                        Ok(Ok(stream)) => web::serve::connection(stream, router, conn, stop).await,
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %peer, error = %e, "web TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(peer = %peer, "web TLS handshake deadline"),
                    }
                }
            }
        });
    }
}
