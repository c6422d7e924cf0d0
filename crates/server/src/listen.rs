//! Listeners: binds each configured address, accepts connections within the limits,
//! and starts a driver per connection. Every listener (smtp, submission, submissions,
//! pop3, pop3s, imap, imaps) has a connection pool of its own, shared by its addresses,
//! so a flood of one (port 25, from the internet) never takes the slots of another
//! (submission, the organisation's own users). Logs `listening kind=… addr=…` for each socket
//! (tests bind port 0 and read the real port from this line).

use crate::ServerError;
use crate::imap::changes::MailChanges;
use crate::limits::ConnectionLimits;
use crate::reload::{Built, InForce, LiveConfig, Tuned};
use crate::throttle::LoginThrottle;
use crate::{imap_driver, pop3_driver, smtp_driver};
use proto::smtp::server::ListenerKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use store::Store;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tracing::Instrument;

/// What a connection driver sees: the state all connections share (through `Deref`),
/// and the configuration, with what is made from it, as it was when this connection
/// was accepted, so a reload (SIGHUP, [`crate::reload`]) never changes a session
/// mid-way.
pub(crate) struct Shared {
    /// This connection's snapshot of the configuration.
    pub config: Arc<config::Config>,
    /// The mail-authentication stages of the pipeline: inbound checks, DKIM signing.
    pub mail_auth: Arc<pipeline::MailAuth>,
    /// DNS blocklists for the `smtp` listener, when configured.
    pub dnsbl: Option<Arc<crate::dnsbl::Dnsbl>>,
    /// Message bodies past this connection's `smtp.spool_threshold` while they arrive.
    pub spool: crate::spool::Spooler,
    state: Arc<State>,
}

impl std::ops::Deref for Shared {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

/// What every connection shares, for the server's lifetime.
pub(crate) struct State {
    /// The configuration in force, with the objects made from it; each connection
    /// takes a snapshot when accepted.
    pub live_config: Arc<LiveConfig>,
    pub store: Arc<dyn Store>,
    /// Recipient routing, the same the queue's router uses.
    pub resolver: Arc<delivery::route::Resolver>,
    pub queue: queue::QueueHandle,
    /// TLS handshakes; the certificate comes from [`crate::tls::Certificates`], which a
    /// reload can swap.
    pub tls: crate::tls::Acceptor,
    /// The spool directory; each connection gets a copy with its own threshold.
    spooler: crate::spool::Spooler,
    /// At most this many spooled messages are read back and processed at once, which
    /// bounds the memory of message processing whatever the number of connections.
    pub processing: tokio::sync::Semaphore,
    /// SMTP errors per client address (`smtp.max_errors_per_ip`).
    pub smtp_errors: Arc<crate::smtp_errors::ErrorCounts>,
    /// "An account's mailboxes changed": published by deliveries and IMAP sessions,
    /// heard by IMAP IDLE.
    pub mail_changes: MailChanges,
    /// The newest snapshot of each mailbox IMAP sessions have selected, shared by them.
    pub snapshots: imap::session::snapshots::Snapshots,
    /// Failed-login counting per address and account, shared by SMTP AUTH, POP3 and IMAP.
    pub throttle: Arc<LoginThrottle>,
    /// Hourly message and recipient limits of SMTP senders.
    pub sending_limits: Arc<crate::rate::SendingLimits>,
    /// Capture mode's inboxes, when `capture.enabled` ([`crate::capture`]).
    pub capture: Option<Arc<crate::capture::Capture>>,
    /// Logged-in IMAP sessions per account (`imap.max_sessions_per_user`).
    pub imap_user_sessions: Arc<crate::user_sessions::UserSessions>,
    pub stop: watch::Receiver<bool>,
    next_session: AtomicU64,
    active: AtomicUsize,
    idle: Notify,
}

impl State {
    /// A server's state over `store`, nothing counted and no session open yet.
    #[allow(clippy::too_many_arguments)] // each is one part of the state, named
    fn new(
        config: &config::Config,
        built: Built,
        store: Arc<dyn Store>,
        tuned: Tuned,
        queue: queue::QueueHandle,
        tls: crate::tls::Acceptor,
        spooler: crate::spool::Spooler,
        capture: Option<Arc<crate::capture::Capture>>,
        stop: watch::Receiver<bool>,
    ) -> State {
        let mail_changes = MailChanges::new(store.clone());
        mail_changes.hear_from_store(queue.clone());
        State {
            live_config: Arc::new(LiveConfig::new(config.clone(), built)),
            store,
            resolver: tuned.resolver,
            queue,
            tls,
            spooler,
            processing: tokio::sync::Semaphore::new(PROCESSING_AT_ONCE),
            smtp_errors: tuned.smtp_errors,
            mail_changes,
            snapshots: Default::default(),
            throttle: tuned.throttle,
            sending_limits: tuned.sending_limits,
            capture,
            imap_user_sessions: crate::user_sessions::UserSessions::new(
                config.imap.max_sessions_per_user,
            ),
            stop,
            next_session: AtomicU64::new(1),
            active: AtomicUsize::new(0),
            idle: Notify::new(),
        }
    }

    /// A fresh session id for logs.
    pub fn session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }
}

/// The spool directory of `config` (message data past `smtp.spool_threshold`).
fn spooler(config: &config::Config) -> Result<crate::spool::Spooler, ServerError> {
    crate::spool::Spooler::new(&config.data_dir, config.smtp.spool_threshold)
        .map_err(|e| ServerError::Spool(e.to_string()))
}

/// The bound listeners; dropping it does not stop them, [`ListenerSet::drain`] does.
pub struct ListenerSet {
    shared: Arc<State>,
    /// The addresses actually bound, by listener name.
    pub bound: Vec<(&'static str, SocketAddr)>,
}

impl ListenerSet {
    /// Binds every configured SMTP listener and starts accepting. `tuned` are the
    /// counters (and the resolver) a reload gives new limits.
    pub(crate) async fn bind(
        config: &config::Config,
        store: Arc<dyn Store>,
        tuned: Tuned,
        queue: queue::QueueHandle,
        tls: crate::tls::Acceptor,
        capture: Option<Arc<crate::capture::Capture>>,
        stop: watch::Receiver<bool>,
    ) -> Result<Self, ServerError> {
        // A store several nodes share keeps the DKIM keys: sign with those.
        let dkim_keys = crate::dkim_keys::start(&store).await;
        let shared = Arc::new(State::new(
            config,
            Built::with_dkim_keys(config, dkim_keys)?,
            store,
            tuned,
            queue,
            tls,
            spooler(config)?,
            capture,
            stop,
        ));
        let mut bound = Vec::new();
        let (smtp, pop3, imap) = (&config.smtp, &config.pop3, &config.imap);
        let kinds = [
            (
                "smtp",
                Protocol::Smtp(ListenerKind::Mx),
                &config.listen.smtp,
                (smtp.max_connections, smtp.max_connections_per_ip),
            ),
            (
                "submission",
                Protocol::Smtp(ListenerKind::Submission),
                &config.listen.submission,
                (
                    smtp.submission_max_connections,
                    smtp.submission_max_connections_per_ip,
                ),
            ),
            (
                "submissions",
                Protocol::Smtp(ListenerKind::Submissions),
                &config.listen.submissions,
                (
                    smtp.submissions_max_connections,
                    smtp.submissions_max_connections_per_ip,
                ),
            ),
            (
                "pop3",
                Protocol::Pop3 {
                    implicit_tls: false,
                },
                &config.listen.pop3,
                (pop3.max_connections, pop3.max_connections_per_ip),
            ),
            (
                "pop3s",
                Protocol::Pop3 { implicit_tls: true },
                &config.listen.pop3s,
                (
                    pop3.pop3s_max_connections,
                    pop3.pop3s_max_connections_per_ip,
                ),
            ),
            (
                "imap",
                Protocol::Imap {
                    implicit_tls: false,
                },
                &config.listen.imap,
                (imap.max_connections, imap.max_connections_per_ip),
            ),
            (
                "imaps",
                Protocol::Imap { implicit_tls: true },
                &config.listen.imaps,
                (
                    imap.imaps_max_connections,
                    imap.imaps_max_connections_per_ip,
                ),
            ),
        ];
        for (name, kind, addrs, (max_total, max_per_ip)) in kinds {
            // One pool per listener, shared by all its addresses.
            let limits = ConnectionLimits::new(max_total, max_per_ip);
            for &addr in addrs.iter() {
                let listener =
                    TcpListener::bind(addr)
                        .await
                        .map_err(|error| ServerError::Bind {
                            kind: name,
                            addr,
                            error,
                        })?;
                let local = listener.local_addr().unwrap_or(addr);
                tracing::info!("listening kind={name} addr={local}");
                bound.push((name, local));
                tokio::spawn(accept_loop(listener, kind, limits.clone(), shared.clone()));
            }
        }
        Ok(ListenerSet { shared, bound })
    }

    /// The configuration in force, for reloads to replace.
    pub(crate) fn live_config(&self) -> Arc<LiveConfig> {
        self.shared.live_config.clone()
    }

    /// The web face's password check ([`web::login::LoginFn`]): [`crate::login::login`]
    /// with the configuration in force, so the web sign-in form and the API's Basic
    /// authentication share the mail protocols' failed-login throttle and lockouts.
    pub(crate) fn web_login(&self) -> web::login::LoginFn {
        let state = self.shared.clone();
        Arc::new(move |ip, username, password, purpose| {
            let state = state.clone();
            Box::pin(async move {
                let InForce { config, built } = state.live_config.in_force();
                let shared = Shared {
                    spool: state.spooler.with_threshold(config.smtp.spool_threshold),
                    mail_auth: built.mail_auth,
                    dnsbl: built.dnsbl,
                    config,
                    state,
                };
                let protocol = match purpose {
                    web::login::Purpose::Page => "web",
                    web::login::Purpose::Api => "api",
                };
                match crate::login::login(&shared, ip, protocol, &username, password).await {
                    crate::login::Outcome::Ok(account) => web::login::LoginOutcome::Ok(account),
                    crate::login::Outcome::Wrong => web::login::LoginOutcome::Wrong,
                    crate::login::Outcome::Locked => web::login::LoginOutcome::Locked,
                    crate::login::Outcome::TempFail => web::login::LoginOutcome::TempFail,
                }
            })
        })
    }

    /// Waits until every session has ended (they were told to stop), at most `grace`.
    pub async fn drain(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let idle = self.shared.idle.notified();
            if self.shared.active.load(Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                tracing::warn!(
                    sessions = self.shared.active.load(Ordering::Acquire),
                    "sessions still open after the grace period"
                );
                return;
            }
        }
    }
}

/// Counts a session as active until dropped, so even a session that panics is counted
/// out and shutdown does not wait for it.
struct ActiveSession(Arc<State>);

impl ActiveSession {
    fn start(shared: Arc<State>) -> Self {
        shared.active.fetch_add(1, Ordering::AcqRel);
        ActiveSession(shared)
    }
}

impl Drop for ActiveSession {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Which protocol a listener speaks.
#[derive(Debug, Clone, Copy)]
enum Protocol {
    Smtp(ListenerKind),
    Pop3 { implicit_tls: bool },
    Imap { implicit_tls: bool },
}

impl Protocol {
    /// The listener's name (`smtp`, `submission`, … `imaps`), as the config and the
    /// metrics name it.
    fn listener(self) -> &'static str {
        match self {
            Protocol::Smtp(kind) => crate::metrics::smtp_listener(kind),
            Protocol::Pop3 { implicit_tls } => ["pop3", "pop3s"][usize::from(implicit_tls)],
            Protocol::Imap { implicit_tls } => ["imap", "imaps"][usize::from(implicit_tls)],
        }
    }
}

/// How many spooled (large) messages are read back and processed at once.
const PROCESSING_AT_ONCE: usize = 4;

async fn accept_loop(
    listener: TcpListener,
    protocol: Protocol,
    limits: Arc<ConnectionLimits>,
    shared: Arc<State>,
) {
    let mut stop = shared.stop.clone();
    loop {
        let Some((socket, peer)) = next_connection(&listener, &mut stop).await else {
            return;
        };
        let _ = socket.set_nodelay(true);
        let active = ActiveSession::start(shared.clone());
        let limits = limits.clone();
        tokio::spawn(async move {
            // The configuration of this connection, whatever reloads come later.
            let InForce { config, built } = active.0.live_config.in_force();
            let shared = Shared {
                spool: active.0.spooler.with_threshold(config.smtp.spool_threshold),
                mail_auth: built.mail_auth,
                dnsbl: built.dnsbl,
                config,
                state: active.0.clone(),
            };
            serve_connection(socket, peer, protocol, &limits, &shared).await
        });
    }
}

/// The next connection `listener` accepts, or `None` once `stop` turns true (or its
/// sender is gone). A failed accept (EMFILE and friends) is logged and retried after
/// 100 ms instead of spinning. Shared by the mail listeners and the web ones
/// (`crate::web_listen`).
pub(crate) async fn next_connection(
    listener: &TcpListener,
    stop: &mut watch::Receiver<bool>,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => return Some(pair),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return None;
                }
            }
        }
    }
}

/// Runs one connection: takes a connection slot (or turns the client away with the
/// protocol's "too many connections" line), then hands the socket to the protocol's
/// driver, inside a log span naming the protocol, session id and peer.
async fn serve_connection(
    socket: TcpStream,
    peer: SocketAddr,
    protocol: Protocol,
    limits: &Arc<ConnectionLimits>,
    shared: &Shared,
) {
    let name = match protocol {
        Protocol::Smtp(_) => "smtp",
        Protocol::Pop3 { .. } => "pop3",
        Protocol::Imap { .. } => "imap",
    };
    let span =
        tracing::info_span!("conn", proto = name, session = shared.session_id(), peer = %peer);
    async move {
        let Some(_slot) = limits.acquire(peer.ip()) else {
            tracing::info!("connection limit reached");
            let refusal = match protocol {
                Protocol::Smtp(_) => proto::Reply::too_many_connections().to_wire(),
                Protocol::Pop3 { .. } => proto::pop3::Response::too_many_connections().to_wire(),
                // RFC 3501 §7.1.5: BYE as the greeting refuses the connection.
                Protocol::Imap { .. } => b"* BYE Too many connections\r\n".to_vec(),
            };
            let mut socket = socket;
            let _ = socket.write_all(&refusal).await;
            return;
        };
        tracing::debug!("connected");
        let _open = crate::metrics::OpenConnection::open(protocol.listener());
        // Each driver's future boxed on its own: a connection holds room for its
        // protocol's state only, not for the largest of the three.
        let result = match protocol {
            Protocol::Smtp(kind) => Box::pin(smtp_driver::serve(socket, peer, kind, shared)).await,
            Protocol::Pop3 { implicit_tls } => {
                Box::pin(pop3_driver::serve(socket, peer, implicit_tls, shared)).await
            }
            Protocol::Imap { implicit_tls } => {
                Box::pin(imap_driver::serve(socket, peer, implicit_tls, shared)).await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        tracing::debug!("disconnected");
    }
    .instrument(span)
    .await
}

/// What a test server's state is built from that does not change with its store: the
/// TLS acceptor (certificate loaded or generated once) and the built configuration.
/// Build it once and make many [`Shared`] from it ([`Shared::for_tests_from`]): the
/// fuzz target makes one per input.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) struct TestBase {
    config: config::Config,
    tls: crate::tls::Acceptor,
    built: Built,
}

#[cfg(any(test, feature = "fuzzing"))]
impl TestBase {
    /// Loads (or generates into `config.data_dir`) the certificate and builds the
    /// configuration's parts.
    pub(crate) fn new(config: &config::Config) -> Result<TestBase, ServerError> {
        let certificates = Arc::new(crate::tls::Certificates::new(
            crate::tls::Loaded::from_config(config)?,
        ));
        let tls = crate::tls::Certificates::server_config(certificates)?;
        Ok(TestBase {
            config: config.clone(),
            tls: crate::tls::Acceptor::new(tls, None),
            built: Built::new(config)?,
        })
    }
}

#[cfg(any(test, feature = "fuzzing"))]
impl Shared {
    /// One connection's view of a server over `store` with `config` and no listeners:
    /// a generated certificate in `config.data_dir`, a resolver over the same store,
    /// told to stop through `stop` (keep its sender alive). For tests that run a
    /// driver over an in-memory stream (the IMAP transcripts).
    #[cfg(test)]
    pub(crate) fn for_tests(
        config: &config::Config,
        store: Arc<dyn Store>,
        stop: watch::Receiver<bool>,
    ) -> Result<Shared, ServerError> {
        Shared::for_tests_from(&TestBase::new(config)?, store, stop)
    }

    /// Like [`Shared::for_tests`], from a [`TestBase`] made once: everything that
    /// holds state (counters, throttle, snapshots, session slots) is new.
    pub(crate) fn for_tests_from(
        base: &TestBase,
        store: Arc<dyn Store>,
        stop: watch::Receiver<bool>,
    ) -> Result<Shared, ServerError> {
        let config = &base.config;
        let resolver = Arc::new(delivery::route::Resolver::new(
            store.clone(),
            &config.hostname,
            None,
        ));
        let tuned = Tuned::new(config, resolver);
        let built = base.built.clone();
        let spooler = spooler(config)?;
        let state = Arc::new(State::new(
            config,
            built.clone(),
            store,
            tuned,
            queue::QueueHandle::default(),
            base.tls.clone(),
            spooler.clone(),
            None,
            stop,
        ));
        Ok(Shared {
            config: Arc::new(config.clone()),
            mail_auth: built.mail_auth,
            dnsbl: built.dnsbl,
            spool: spooler,
            state,
        })
    }
}

/// An idle connection's memory is mostly its task's future, whose size the compiler
/// fixes as the largest state it can be in. These keep the rare, deep states (TLS, a
/// message being queued, the other protocols) out of an idle SMTP connection's.
#[cfg(test)]
mod future_sizes {
    use super::*;

    /// The size of the future `serve_connection`-like `f` returns.
    fn of5<'a, F, Fut, A, B: 'a, C: 'a>(_: F) -> usize
    where
        F: FnOnce(TcpStream, SocketAddr, A, &'a B, &'a C) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    /// The size of the future a driver's `serve` returns.
    fn of4<'a, F, Fut, A, C: 'a>(_: F) -> usize
    where
        F: FnOnce(TcpStream, SocketAddr, A, &'a C) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    #[test]
    fn an_idle_smtp_connection_future_stays_small() {
        // Measured in a debug build: 416 and 2,688 octets (22,848 for SMTP before its
        // TLS part, recipient checks and message queueing were boxed). Release builds
        // are smaller.
        let connection = of5(serve_connection);
        let smtp = of4(crate::smtp_driver::serve);
        assert!(
            connection <= 1024,
            "serve_connection future: {connection} octets"
        );
        assert!(smtp <= 4096, "smtp_driver::serve future: {smtp} octets");
    }
}
