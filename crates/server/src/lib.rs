//! The network side of Postie: listeners, TLS, the protocol drivers that feed bytes
//! into the sans-I/O sessions of `proto`, and the wiring of store, queue and delivery.
//!
//! Where it sits: at the top of the flow. [`run`] opens the store, starts the queue
//! runner with local delivery and the outbound relay plugged in, binds every configured listener, and serves
//! until SIGTERM/SIGINT (or the shutdown channel) says stop; sessions then finish their
//! current command or get 421.
//!
//! Security stance: talks to the network; every client byte goes through a `proto`
//! session that enforces the limits; writes files only through the store and the TLS
//! module (certificate generation in the data directory).

mod auth;
mod cpu;
mod dnsbl;
mod imap;
mod imap_driver;
mod limits;
mod listen;
mod locks;
mod login;
mod outbound;
mod pop3_driver;
mod rate;
mod sender_check;
mod smtp_driver;
mod smtp_errors;
mod smtp_policy;
mod spool;
mod throttle;
pub mod tls;
mod user_sessions;

pub use listen::ListenerSet;

use std::sync::Arc;
use store::Store;
use tokio::sync::watch;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] store::StoreError),
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
    /// A listener could not bind.
    #[error("cannot listen on {addr} ({kind}): {error}")]
    Bind {
        /// Listener name.
        kind: &'static str,
        /// Address.
        addr: std::net::SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

/// Runs the whole server until `shutdown` turns true or a termination signal arrives.
pub async fn run(
    config: config::Config,
    shutdown: watch::Receiver<bool>,
) -> Result<(), ServerError> {
    let store: Arc<dyn Store> = Arc::new(store::sqlite::SqliteStore::open(&config.data_dir)?);
    run_with_store(config, store, shutdown).await
}

/// Like [`run`], over a store the caller opened.
pub async fn run_with_store(
    config: config::Config,
    store: Arc<dyn Store>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServerError> {
    let tls = tls::server_config(&config)?;
    let postmaster = config
        .smtp
        .postmaster
        .as_deref()
        .and_then(|a| message::Address::parse(a).ok());
    let resolver = Arc::new(delivery::route::Resolver::new(
        store.clone(),
        &config.hostname,
        postmaster,
    ));
    // One channel tells everything to stop: signals and the caller's flag both feed it.
    let (stop_tx, stop_rx) = watch::channel(false);
    let relay = outbound::relay(&config, stop_rx.clone())?;
    let router = delivery::Router::new(store.clone(), resolver.clone()).with_relay(relay);
    let q = &config.queue;
    let schedule = queue::schedule::Schedule::new(
        &q.retry_schedule_secs,
        q.max_age_secs,
        q.delay_warning_secs,
    );
    let mut runner = queue::QueueRunner::new(store.clone(), Arc::new(router))
        .with_hostname(&config.hostname)
        .with_schedule(schedule);
    // `postie queue flush|release` change the store from another process: look at the
    // queue every second (an indexed query) so that they take effect promptly.
    runner.poll_interval = std::time::Duration::from_secs(1);
    let queue = runner.handle();

    let queue_task = tokio::spawn(runner.run(stop_rx.clone()));
    let listeners = ListenerSet::bind(
        &config,
        store,
        resolver,
        queue.clone(),
        tls,
        stop_rx.clone(),
    )
    .await?;
    tracing::info!(hostname = %config.hostname, data = %config.data_dir.display(), "postie ready");
    queue.notify(); // deliver whatever an earlier run left in the queue

    wait_for_stop(&mut shutdown).await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    listeners.drain(std::time::Duration::from_secs(30)).await;
    let _ = queue_task.await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_stop(shutdown: &mut watch::Receiver<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers; stop with the shutdown channel");
        let _ = shutdown.wait_for(|stop| *stop).await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
}
