//! The network side of Postie: listeners, TLS, the protocol drivers that feed bytes
//! into the sans-I/O sessions of `proto`, and the wiring of store, queue and delivery.
//!
//! Where it sits: at the top of the flow. [`run`] opens the store, starts the queue
//! runner with local delivery and the outbound relay plugged in, binds every configured listener, and serves
//! until SIGTERM/SIGINT (or the shutdown channel) says stop; sessions then finish their
//! current command or get 421. SIGHUP reloads the configuration and the certificate
//! ([`reload`]).
//!
//! Security stance: talks to the network; every client byte goes through a `proto`
//! session that enforces the limits; writes files only through the store and the TLS
//! module (certificate generation in the data directory).

pub mod acme;
mod auth;
mod capture;
mod capture_relay;
mod cpu;
pub mod dkim_keys;
mod dnsbl;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod imap;
mod imap_driver;
mod imap_services;
mod limits;
mod listen;
mod login;
pub mod metrics;
mod outbound;
mod pop3_driver;
mod queue_node;
mod rate;
mod reload;
mod scram;
mod sender_check;
mod shared_counts;
mod smtp_driver;
mod smtp_errors;
mod smtp_policy;
mod spool;
mod startup;
mod throttle;
pub mod tls;
pub mod tls_rpt;
mod user_sessions;
mod web_listen;

pub use listen::ListenerSet;
pub use reload::{ConfigSource, LogLevelSetter, RELOADABLE_KEYS, RESTART_KEYS, ReloadSource};

use std::sync::Arc;
use store::Store;
use tokio::sync::watch;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened. The store error is in the message and not also
    /// the `source()`, so `{:#}` (anyhow's chain) says it once.
    #[error("cannot open the store: {0}")]
    Store(store::StoreError),
    /// A certificate problem.
    #[error("TLS: {0}")]
    Tls(String),
    /// The outbound relay could not be set up.
    #[error("outbound relay: {0}")]
    Relay(String),
    /// The DNS blocklist resolver (`smtp.dnsbl_zones`) could not be set up.
    #[error("DNS blocklists: {0}")]
    Dnsbl(String),
    /// The resolver for SPF / DKIM / DMARC (`smtp.spf`, `smtp.dkim_verify`,
    /// `smtp.dmarc`) could not be set up.
    #[error("mail authentication: {0}")]
    MailAuth(String),
    /// The spool directory for large incoming messages could not be set up.
    #[error("spool directory: {0}")]
    Spool(String),
    /// A listener could not bind. One line that names the address, why, and the
    /// config key that moves it.
    #[error("{}", bind_failure(kind, addr, error))]
    Bind {
        /// Listener name.
        kind: &'static str,
        /// Address.
        addr: std::net::SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

/// The one-line reason `postie serve` gives when a listener cannot bind: the address,
/// the cause in words, and the `listen.<kind>` key to change.
fn bind_failure(kind: &str, addr: &std::net::SocketAddr, error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let cause = match error.kind() {
        ErrorKind::AddrInUse => "the port is already in use (another mail server, or a \
                                 Postie already running?)"
            .to_string(),
        ErrorKind::PermissionDenied => format!(
            "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE): {error}"
        ),
        ErrorKind::AddrNotAvailable => "no interface of this machine has that address".to_string(),
        _ => error.to_string(),
    };
    format!(
        "cannot listen on {addr} for {kind}: {cause}; set `listen.{kind}` in the config file \
         (postie serve --config FILE; `listen.{kind} = []` turns the listener off)"
    )
}

impl From<store::StoreError> for ServerError {
    fn from(e: store::StoreError) -> Self {
        ServerError::Store(e)
    }
}

/// Runs the whole server until `shutdown` turns true or a termination signal arrives;
/// SIGHUP reloads from `source` ([`reload`]): a [`ConfigSource`], or a
/// [`ReloadSource`] that can also change the log level.
pub async fn run(
    config: config::Config,
    source: impl Into<ReloadSource>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), ServerError> {
    let store = store::open(&config).await?;
    run_with_store(config, store, source, shutdown).await
}

/// Like [`run`], over a store the caller opened.
pub async fn run_with_store(
    config: config::Config,
    store: Arc<dyn Store>,
    source: impl Into<ReloadSource>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServerError> {
    // First, so that a SIGHUP from now on reloads instead of killing the process.
    let signals = Signals::install();
    // Before anything is counted.
    metrics::install();
    let certificate = tls::Loaded::from_config(&config)?;
    certificate.log("start");
    let certificates = Arc::new(tls::Certificates::new(certificate));
    // With [acme], the certificate the store holds wins from the first handshake on.
    let acme_installed = match &config.acme {
        Some(_) => acme::task::install_stored(store.as_ref(), &certificates).await,
        None => None,
    };
    if let Ok(summary) = tls::inspect::summarize(&certificates.serving_leaf()) {
        metrics::certificate_not_after(summary.not_after);
    }
    let tls = tls::Certificates::server_config(certificates.clone())?;
    // Every listener's handshakes; answers TLS-ALPN-01 challenges found in the store.
    let tls = tls::Acceptor::new(tls, Some(store.clone()));
    let resolver = Arc::new(delivery::route::Resolver::new(
        store.clone(),
        &config.hostname,
        reload::postmaster(&config),
    ));
    // The counters a reload gives new limits (and the resolver, for smtp.postmaster).
    let tuned = reload::Tuned::new(&config, resolver.clone());
    // One channel tells everything to stop: signals and the caller's flag both feed it.
    let (stop_tx, stop_rx) = watch::channel(false);
    metrics::start(store.clone(), stop_rx.clone());
    // Capture mode (`postie capture`): SMTP files into the capture inboxes, and the
    // web face hears of each change through this counter.
    let capture = if config.capture.enabled {
        let (events, hooks) = watch::channel(0u64);
        let capture =
            capture::Capture::start(store.clone(), config.capture.max_messages, events).await?;
        let told = capture.clone();
        let hooks = web::capture::CaptureHooks {
            events: hooks,
            deleted: Arc::new(move || told.deleted_elsewhere()),
        };
        Some((capture, hooks))
    } else {
        None
    };
    let router: Arc<dyn queue::Deliver> = if config.capture.enabled {
        // Never relay: only through a configured smarthost, and no reports at all.
        capture_relay::router(&config, store.clone(), resolver.clone(), stop_rx.clone())?
    } else {
        let relay = outbound::relay(&config, Some(store.clone()), stop_rx.clone())?;
        tls_rpt::spawn_daily(config.clone(), store.clone(), stop_rx.clone());
        Arc::new(delivery::Router::new(store.clone(), resolver.clone()).with_relay(relay))
    };
    let q = &config.queue;
    let schedule = queue::schedule::Schedule::new(
        &q.retry_schedule_secs,
        q.max_age_secs,
        q.delay_warning_secs,
    );
    let mut runner = queue::QueueRunner::new(store.clone(), router)
        .with_hostname(&config.hostname)
        .with_schedule(schedule);
    if let Some(node) = queue_node::name(&config.hostname, &config.data_dir) {
        runner = runner.with_node(&node);
    }
    // `postie queue flush|release` change the store from another process: look at the
    // queue every second (an indexed query) so that they take effect promptly.
    runner.poll_interval = std::time::Duration::from_secs(1);
    runner.lease = std::time::Duration::from_secs(config.queue.lease_secs);
    let queue = runner.handle();

    let queue_task = tokio::spawn(runner.run(stop_rx.clone()));
    let listeners = ListenerSet::bind(
        &config,
        store.clone(),
        tuned.clone(),
        queue.clone(),
        tls.clone(),
        capture.as_ref().map(|(capture, _)| capture.clone()),
        stop_rx.clone(),
    )
    .await?;
    // The web face, beside the mail listeners whose ports its documents name.
    // GET /metrics serves this renderer (the Prometheus text of the metrics).
    let metrics_text: web_listen::MetricsRenderer = Arc::new(metrics::render);
    let web_bound = web_listen::bind(
        &config,
        store.clone(),
        listeners.live_config(),
        listeners.web_login(),
        &listeners.bound,
        tls,
        metrics_text,
        capture.map(|(_, hooks)| hooks),
        stop_rx.clone(),
    )
    .await?;
    tracing::info!(hostname = %config.hostname, data = %config.data_dir.display(), "postie ready");
    // After the log lines, one block for the human who just ran `postie serve`
    // (`postie capture` prints its own).
    if config.capture.enabled {
        let bound: Vec<_> = listeners.bound.iter().chain(&web_bound).copied().collect();
        eprint!("{}", capture::banner(&config, &bound));
    } else {
        eprint!(
            "{}",
            startup::summary(&startup::gather(&config, store.as_ref()).await)
        );
    }
    queue.notify(); // deliver whatever an earlier run left in the queue
    if config.acme.is_some() {
        // In the background: startup never waits for the CA.
        let holder = queue_node::name(&config.hostname, &config.data_dir)
            .unwrap_or_else(|| format!("{}:{}", config.hostname, std::process::id()));
        acme::task::start(
            config.clone(),
            store.clone(),
            certificates.clone(),
            holder,
            acme_installed,
            stop_rx.clone(),
        );
    }

    let reloader =
        reload::Reloader::new(source.into(), listeners.live_config(), certificates, tuned);
    wait_for_stop(signals, &mut shutdown, reloader).await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    listeners.drain(std::time::Duration::from_secs(30)).await;
    let _ = queue_task.await;
    tracing::info!("stopped");
    Ok(())
}

/// The signals the server acts on, installed at start: SIGTERM and SIGINT stop it,
/// SIGHUP reloads (instead of its default action, which ends the process).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// `None` when the handlers cannot be installed.
    fn install() -> Option<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Some(Signals {
            term: signal(SignalKind::terminate()).ok()?,
            int: signal(SignalKind::interrupt()).ok()?,
            hup: signal(SignalKind::hangup()).ok()?,
        })
    }
}

/// Waits for SIGTERM, SIGINT or the shutdown channel; reloads on each SIGHUP.
async fn wait_for_stop(
    signals: Option<Signals>,
    shutdown: &mut watch::Receiver<bool>,
    reloader: reload::Reloader,
) {
    let Some(mut signals) = signals else {
        tracing::warn!("cannot install signal handlers; stop with the shutdown channel");
        let _ = shutdown.wait_for(|stop| *stop).await;
        return;
    };
    let reloader = Arc::new(reloader);
    loop {
        tokio::select! {
            _ = signals.term.recv() => return,
            _ = signals.int.recv() => return,
            _ = shutdown.wait_for(|stop| *stop) => return,
            _ = signals.hup.recv() => {
                tracing::info!("SIGHUP: reloading");
                let reloader = reloader.clone();
                // File reads and maybe a new key pair: off the async workers. One
                // reload at a time: the next SIGHUP waits for this one.
                if let Err(e) = tokio::task::spawn_blocking(move || reloader.reload()).await {
                    tracing::error!(error = %e, "reload failed");
                }
            }
        }
    }
}
