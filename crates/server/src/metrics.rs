//! Prometheus metrics: the server installs the process's recorder for the `metrics`
//! facade and renders what was counted in the Prometheus text format ([`render`],
//! served by the web listener at `GET /metrics`).
//!
//! Where it sits: the libraries count through the facade without knowing who listens:
//! the SQLite writer times its group commits (`store`), the queue runner and the one
//! door into the queue count delivery outcomes (`queue::metrics`). The server's own
//! counts are made here, called from where things happen: connections
//! ([`crate::listen`]), logins ([`crate::login`]), accepted messages
//! ([`crate::smtp_driver`]). [`start`] runs the periodic work: the queue gauge (one
//! [`store::Store::queue_pending_count`] every [`SAMPLE_EVERY`], so a scrape never
//! touches the store) and the recorder's upkeep (histogram samples are folded in, so
//! memory stays bounded when nobody scrapes).
//!
//! The metrics (docs/operations.md lists them for operators):
//! - `postie_messages_received_total{listener}`: messages accepted over SMTP
//!   (`smtp`, `submission`, `submissions`);
//! - `postie_queue_messages`: queue entries with a pending recipient;
//! - `postie_connections{protocol}`: open connections per listener (`smtp`,
//!   `submission`, `submissions`, `pop3`, `pop3s`, `imap`, `imaps`);
//! - `postie_auth_failures_total{protocol}`: logins refused for wrong credentials
//!   (`smtp`, `pop3`, `imap`); `postie_auth_lockouts_total{protocol}`: logins refused
//!   unchecked because the address or account is locked out;
//! - `postie_deliveries_total{result,domain}`: see `queue::metrics` (at most
//!   `queue::metrics::MAX_DOMAINS` domains, the rest `other`);
//! - `postie_store_commit_seconds{backend}`: histogram of the SQLite writer's group
//!   commits and of PostgreSQL's COMMITs, buckets [`COMMIT_BUCKETS`].
//!
//! Every label value comes from a fixed list, except the delivery domain, whose
//! number is capped; nothing a client sends becomes a label. The recorder is
//! installed once per process; [`render`] installs it if [`install`] was not called.
//!
//! Security stance: no I/O of its own besides the store count; the text holds no
//! addresses, only domain names of recipients.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use store::Store;
use tokio::sync::watch;

/// Messages accepted over SMTP, by listener.
pub const MESSAGES_RECEIVED: &str = "postie_messages_received_total";
/// Queue entries with a pending recipient.
pub const QUEUE_MESSAGES: &str = "postie_queue_messages";
/// Open connections, by listener.
pub const CONNECTIONS: &str = "postie_connections";
/// Logins refused for wrong credentials, by protocol.
pub const AUTH_FAILURES: &str = "postie_auth_failures_total";
/// Logins refused unchecked during a lockout, by protocol.
pub const AUTH_LOCKOUTS: &str = "postie_auth_lockouts_total";
/// Failed ACME orders in a row (0 after a success).
pub const ACME_RENEWAL_FAILURES: &str = "postie_acme_renewal_failures";
/// The notAfter of the certificate new handshakes get, unix seconds.
pub const TLS_NOT_AFTER: &str = "postie_tls_certificate_not_after_seconds";
/// The SQLite writer's group commit times (named in `store::sqlite::writer`).
pub const STORE_COMMIT_SECONDS: &str = "postie_store_commit_seconds";

/// Bucket bounds of [`STORE_COMMIT_SECONDS`], in seconds: an fsync on a good disk
/// takes about a millisecond, a slow one tens.
pub const COMMIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How often [`start`] samples the queue and runs the recorder's upkeep.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// The listeners, as `postie_connections` names them.
const LISTENERS: [&str; 7] = [
    "smtp",
    "submission",
    "submissions",
    "pop3",
    "pop3s",
    "imap",
    "imaps",
];

/// The protocols that log users in.
const LOGIN_PROTOCOLS: [&str; 3] = ["smtp", "pop3", "imap"];

/// The SMTP listeners, as `postie_messages_received_total` names them.
const SMTP_LISTENERS: [&str; 3] = ["smtp", "submission", "submissions"];

/// The process's recorder, once installed; `None` when another recorder was there
/// first (then nothing is rendered).
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// A recorder with Postie's settings (the commit histogram's buckets), not installed.
fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(STORE_COMMIT_SECONDS.to_owned()),
            COMMIT_BUCKETS,
        )
        .expect("the bucket list is not empty")
}

/// Installs the process's recorder, once (later calls do nothing). Call it at start,
/// before anything is counted: counts made before it are lost.
pub fn install() {
    let _ = handle();
}

/// The installed recorder's handle, installing it first if needed.
fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = builder().build_recorder();
            let handle = recorder.handle();
            match ::metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: another recorder is installed; /metrics stays empty");
                    None
                }
            }
        })
        .as_ref()
}

/// Sets `postie_acme_renewal_failures`.
pub fn acme_failures(failures: u32) {
    ::metrics::gauge!(ACME_RENEWAL_FAILURES).set(f64::from(failures));
}

/// Sets `postie_tls_certificate_not_after_seconds`.
pub fn certificate_not_after(unix: i64) {
    ::metrics::gauge!(TLS_NOT_AFTER).set(unix as f64);
}

/// Everything counted so far, in the Prometheus text format (version 0.0.4): what
/// `GET /metrics` answers. Empty when the recorder could not be installed.
pub fn render() -> String {
    handle().map(PrometheusHandle::render).unwrap_or_default()
}

/// Gives every metric its help text and unit, and makes the series with fixed labels
/// exist at zero, so a scrape shows them before anything happened.
fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        MESSAGES_RECEIVED,
        "Messages accepted over SMTP, by listener."
    );
    describe_gauge!(QUEUE_MESSAGES, "Queue entries with a pending recipient.");
    describe_gauge!(CONNECTIONS, "Open connections, by listener.");
    describe_gauge!(
        ACME_RENEWAL_FAILURES,
        "ACME certificate orders that failed in a row (0 after a success)."
    );
    describe_gauge!(
        TLS_NOT_AFTER,
        Unit::Seconds,
        "When the certificate new TLS handshakes get expires, unix seconds."
    );
    describe_counter!(AUTH_FAILURES, "Logins refused for wrong credentials.");
    describe_counter!(
        AUTH_LOCKOUTS,
        "Logins refused without a check: address or account locked out."
    );
    describe_counter!(
        queue::metrics::DELIVERIES,
        "Delivery attempts per recipient, by result and recipient domain (capped)."
    );
    describe_histogram!(
        STORE_COMMIT_SECONDS,
        Unit::Seconds,
        "Time of each store commit (SQLite: one group commit, fsync included)."
    );
    for listener in SMTP_LISTENERS {
        ::metrics::counter!(MESSAGES_RECEIVED, "listener" => listener).increment(0);
    }
    for listener in LISTENERS {
        ::metrics::gauge!(CONNECTIONS, "protocol" => listener).increment(0.0);
    }
    for protocol in LOGIN_PROTOCOLS {
        ::metrics::counter!(AUTH_FAILURES, "protocol" => protocol).increment(0);
        ::metrics::counter!(AUTH_LOCKOUTS, "protocol" => protocol).increment(0);
    }
}

/// The name of an SMTP listener of `kind`, as the config and the metrics name it.
pub(crate) fn smtp_listener(kind: proto::smtp::server::ListenerKind) -> &'static str {
    use proto::smtp::server::ListenerKind;
    match kind {
        ListenerKind::Mx => "smtp",
        ListenerKind::Submission => "submission",
        ListenerKind::Submissions => "submissions",
    }
}

/// Counts a message accepted on `listener` (`smtp`, `submission`, `submissions`).
pub(crate) fn message_received(listener: &'static str) {
    ::metrics::counter!(MESSAGES_RECEIVED, "listener" => listener).increment(1);
}

/// Counts a login refused for wrong credentials over `protocol`.
pub(crate) fn auth_failure(protocol: &'static str) {
    ::metrics::counter!(AUTH_FAILURES, "protocol" => protocol).increment(1);
}

/// Counts a login refused during a lockout over `protocol`.
pub(crate) fn auth_lockout(protocol: &'static str) {
    ::metrics::counter!(AUTH_LOCKOUTS, "protocol" => protocol).increment(1);
}

/// One open connection on a listener, counted in `postie_connections` until dropped
/// (a session that panics is counted out too).
pub(crate) struct OpenConnection(::metrics::Gauge);

impl OpenConnection {
    /// Counts a connection on `listener` in.
    pub(crate) fn open(listener: &'static str) -> OpenConnection {
        let gauge = ::metrics::gauge!(CONNECTIONS, "protocol" => listener);
        gauge.increment(1.0);
        OpenConnection(gauge)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Runs the periodic work until `stop` turns true: every [`SAMPLE_EVERY`], the
/// queue gauge from `store` and the recorder's upkeep. Does nothing when no recorder
/// of ours is installed.
pub(crate) fn start(store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
    let Some(handle) = handle() else {
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            sample_queue(store.as_ref()).await;
            handle.run_upkeep();
        }
    });
}

/// Sets the queue gauge from the store's count (kept as it was when the store fails).
async fn sample_queue(store: &dyn Store) {
    match store.queue_pending_count().await {
        Ok(count) => ::metrics::gauge!(QUEUE_MESSAGES).set(count as f64),
        Err(e) => tracing::debug!(error = %e, "metrics: counting the queue failed"),
    }
}

#[cfg(test)]
mod tests;
