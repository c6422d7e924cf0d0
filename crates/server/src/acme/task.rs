//! The ACME task of a running server: every `acme.check_secs` it installs a newer
//! certificate found in the store (ordered by another node or `postie cert renew`),
//! and when renewal is due (no certificate, `acme.renew_before_days` before expiry,
//! or names missing) orders one under the lease, backing off after failures (a
//! minute doubling to six hours, [`super::timing`]), each failure logged at error
//! level and counted in `postie_acme_renewal_failures`.
//!
//! Where it sits: started by [`crate::run_with_store`] after the listeners are
//! bound, never awaited: startup never waits for the CA. Stops with the server.

use super::order::{AcmeError, names_for, renew_unless_changed, unix_now};
use super::stored::{self, Issued};
use super::{names, timing};
use crate::tls::inspect::{self, Summary};
use crate::tls::{Certificates, Loaded, Origin};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::Store;
use tokio::sync::watch;

/// What the task knows between checks.
struct Task {
    config: config::Config,
    store: Arc<dyn Store>,
    certificates: Arc<Certificates>,
    holder: String,
    /// The store value read last (installed, unless damaged), to see a newer one.
    installed: Option<Vec<u8>>,
    /// Its leaf, when it is in use.
    summary: Option<Summary>,
    /// Failed orders in a row.
    failures: u32,
    /// No new order before this, after a failure.
    retry_at: Option<Instant>,
}

/// Installs the certificate the store holds, if any, before the listeners start;
/// returns the value read (installed, unless damaged).
pub async fn install_stored(store: &dyn Store, certificates: &Certificates) -> Option<Vec<u8>> {
    let bytes = match store.value_get(stored::CERTIFICATE).await {
        Ok(bytes) => bytes?,
        Err(e) => {
            tracing::warn!(error = %e, "ACME: cannot read the stored certificate");
            return None;
        }
    };
    match install(&bytes, certificates, "start") {
        Ok(_) => Some(bytes),
        Err(e) => {
            tracing::error!(error = %e, "ACME: the stored certificate is damaged; ordering a new one");
            // Still what the store holds: the task orders over it ([`Task::installed`]).
            Some(bytes)
        }
    }
}

/// Puts the stored value `bytes` in place for new handshakes; returns its leaf.
fn install(bytes: &[u8], certificates: &Certificates, when: &str) -> Result<Summary, String> {
    let (chain, key) = Issued::decode(bytes)?;
    let summary = inspect::summarize(chain[0].as_ref())?;
    let loaded = Loaded::from_der(chain, key, stored::CERTIFICATE.into(), Origin::Acme)
        .map_err(|e| e.to_string())?;
    loaded.log(when);
    certificates.install(loaded);
    crate::metrics::certificate_not_after(summary.not_after);
    tracing::info!(
        serial = %summary.serial,
        names = %summary.names.join(","),
        not_after = summary.not_after,
        "ACME certificate in use"
    );
    Ok(summary)
}

/// Wakes the task at once (SIGHUP, see [`wake`]) instead of at its next check.
static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Makes the task look at the store (and renewal) now: a reload (SIGHUP) calls it, so a
/// certificate `postie cert renew` stored from another process is served at once
/// rather than at the next `acme.check_secs`. Without a task nothing happens (the
/// permit waits for one, harmlessly).
pub fn wake() {
    WAKE.notify_one();
}

/// Starts the task; `installed` is what [`install_stored`] put in place.
pub fn start(
    config: config::Config,
    store: Arc<dyn Store>,
    certificates: Arc<Certificates>,
    holder: String,
    installed: Option<Vec<u8>>,
    mut stop: watch::Receiver<bool>,
) {
    let summary = installed.as_deref().and_then(|b| {
        let (chain, _) = Issued::decode(b).ok()?;
        inspect::summarize(chain[0].as_ref()).ok()
    });
    let mut task = Task {
        config,
        store,
        certificates,
        holder,
        installed,
        summary,
        failures: 0,
        retry_at: None,
    };
    crate::metrics::acme_failures(0);
    tokio::spawn(async move {
        let check = Duration::from_secs(task.config.acme.as_ref().map_or(300, |a| a.check_secs));
        loop {
            task.pick_up().await;
            task.renew_if_due(check).await;
            let wait = match task.retry_at {
                Some(at) => at.saturating_duration_since(Instant::now()).min(check),
                None => check,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = WAKE.notified() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
}

impl Task {
    /// Installs the stored certificate when it is not the one in use.
    async fn pick_up(&mut self) {
        let bytes = match self.store.value_get(stored::CERTIFICATE).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "ACME: cannot read the stored certificate");
                return;
            }
        };
        if self.installed.as_ref() == Some(&bytes) {
            return;
        }
        match install(&bytes, &self.certificates, "ACME") {
            Ok(summary) => {
                self.summary = Some(summary);
                self.installed = Some(bytes);
            }
            Err(e) => {
                tracing::error!(error = %e, "ACME: the stored certificate is damaged; ordering a new one");
                // Read, not in use: renewal sees no certificate and orders over it.
                self.summary = None;
                self.installed = Some(bytes);
            }
        }
    }

    /// Orders when renewal is due and no backoff is running.
    async fn renew_if_due(&mut self, check: Duration) {
        let Some(acme) = self.config.acme.clone() else {
            return;
        };
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        let wanted = match names_for(&self.config, self.store.as_ref()).await {
            Ok(wanted) => wanted,
            Err(e) => {
                tracing::error!(error = %e, "ACME: cannot order a certificate");
                return;
            }
        };
        let why = match &self.summary {
            None => "no certificate yet",
            Some(s) if !names::covers(&s.names, &wanted) => "new names",
            Some(s) if timing::due(s.not_after, unix_now(), acme.renew_before_days) => {
                "expires soon"
            }
            Some(_) => return,
        };
        tracing::info!(names = %wanted.join(","), why, "ACME: ordering a certificate");
        let seen = self.installed.clone();
        match renew_unless_changed(&self.config, &self.store, &self.holder, seen.as_deref()).await {
            Ok(None) => {
                tracing::info!("ACME: another node renewed meanwhile; installing its certificate");
                self.pick_up().await;
            }
            Ok(Some(summary)) => {
                tracing::info!(serial = %summary.serial, "ACME: certificate issued");
                self.failures = 0;
                self.retry_at = None;
                crate::metrics::acme_failures(0);
                self.pick_up().await;
            }
            Err(AcmeError::Busy) => {
                tracing::info!("ACME: another node is ordering; its certificate will be picked up");
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let wait = timing::backoff(self.failures, check);
                self.retry_at = Some(Instant::now() + wait);
                crate::metrics::acme_failures(self.failures);
                tracing::error!(
                    error = %e,
                    failures = self.failures,
                    retry_in_secs = wait.as_secs(),
                    "ACME: certificate renewal failed; keeping the current certificate"
                );
            }
        }
    }
}
