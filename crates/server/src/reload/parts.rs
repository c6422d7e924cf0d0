//! The objects made from reloadable keys, and what a reload does to each.
//!
//! Where it sits: [`super::Reloader`] prepares them between reading a new configuration
//! and putting it in force; [`crate::listen`] hands them to the connections. Two kinds:
//!
//! - [`Built`]: made from the configuration and replaced whole by a reload: the
//!   SPF / DKIM / DMARC verifier (`smtp.spf`, `smtp.dkim_verify`, `smtp.dmarc`) and the
//!   DNS blocklists (`smtp.dnsbl_zones`, `smtp.dnsbl_reject_at`). They travel with the
//!   configuration snapshot a connection takes when accepted, so a session keeps the
//!   ones it started with. Only those whose keys changed are made again (a rebuilt
//!   resolver starts with an empty cache); making one can fail (no usable resolver
//!   configuration), and then the reload is refused as a whole.
//! - [`Tuned`]: long-lived objects that count (failed logins, hourly sending, SMTP
//!   errors per address) or that the queue shares (recipient routing, for
//!   `smtp.postmaster`). A reload gives them new limits in place and they keep their
//!   counts, so a reload never lifts a lockout or resets a rate window.

use crate::ServerError;
use crate::dnsbl::Dnsbl;
use crate::rate::SendingLimits;
use crate::smtp_errors::ErrorCounts;
use crate::throttle::{LoginThrottle, ThrottleLimits};
use config::Config;
use delivery::route::Resolver;
use std::sync::Arc;
use std::time::Duration;

/// The objects a reload makes afresh from the new configuration.
#[derive(Clone)]
pub(crate) struct Built {
    /// The mail-authentication stages of the pipeline: inbound checks, DKIM signing.
    pub mail_auth: Arc<pipeline::MailAuth>,
    /// DNS blocklists for the `smtp` listener, when configured.
    pub dnsbl: Option<Arc<Dnsbl>>,
    /// The DKIM keys of a store that keeps them (`crate::dkim_keys`), which every
    /// `mail_auth` made again keeps signing with; `None`: the data directory's files.
    pub dkim_keys: Option<Arc<pipeline::SharedKeys>>,
}

impl Built {
    /// Everything made from `config`, signing with the data directory's keys (tests).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn new(config: &Config) -> Result<Built, ServerError> {
        Built::with_dkim_keys(config, None)
    }

    /// Everything made from `config` (at start), signing with `dkim_keys` when given.
    pub(crate) fn with_dkim_keys(
        config: &Config,
        dkim_keys: Option<Arc<pipeline::SharedKeys>>,
    ) -> Result<Built, ServerError> {
        Ok(Built {
            mail_auth: Arc::new(mail_auth(config, dkim_keys.clone())?),
            dnsbl: dnsbl(config)?,
            dkim_keys,
        })
    }

    /// These objects (made from `running`) for the configuration `new`: each made
    /// again when one of its keys differs, else the same one.
    pub(crate) fn for_new_config(
        &self,
        running: &Config,
        new: &Config,
    ) -> Result<Built, ServerError> {
        let (old, now) = (&running.smtp, &new.smtp);
        let mail_auth =
            if (old.spf, old.dkim_verify, old.dmarc) == (now.spf, now.dkim_verify, now.dmarc) {
                self.mail_auth.clone()
            } else {
                Arc::new(mail_auth(new, self.dkim_keys.clone())?)
            };
        let dnsbl =
            if (&old.dnsbl_zones, old.dnsbl_reject_at) == (&now.dnsbl_zones, now.dnsbl_reject_at) {
                self.dnsbl.clone()
            } else {
                dnsbl(new)?
            };
        Ok(Built {
            mail_auth,
            dnsbl,
            dkim_keys: self.dkim_keys.clone(),
        })
    }
}

/// The pipeline's mail-authentication state from the config: DKIM keys under
/// `data_dir` (or `dkim_keys`, a shared store's), inbound checks per `[smtp]` through
/// `dns.nameservers`.
fn mail_auth(
    config: &Config,
    dkim_keys: Option<Arc<pipeline::SharedKeys>>,
) -> Result<pipeline::MailAuth, ServerError> {
    let checks = pipeline::Checks {
        spf: config.smtp.spf,
        dkim: config.smtp.dkim_verify,
        dmarc: match config.smtp.dmarc {
            config::DmarcPolicy::Enforce => pipeline::DmarcMode::Enforce,
            config::DmarcPolicy::ReportOnly => pipeline::DmarcMode::ReportOnly,
            config::DmarcPolicy::Off => pipeline::DmarcMode::Off,
        },
    };
    let auth = pipeline::MailAuth::new(
        &config.hostname,
        &config.data_dir,
        &config.dns.nameservers,
        checks,
    )
    .map_err(ServerError::MailAuth)?;
    Ok(match dkim_keys {
        Some(keys) => auth.with_shared_keys(keys),
        None => auth,
    })
}

fn dnsbl(config: &Config) -> Result<Option<Arc<Dnsbl>>, ServerError> {
    Dnsbl::from_config(config)
        .map(|dnsbl| dnsbl.map(Arc::new))
        .map_err(|e| ServerError::Dnsbl(e.to_string()))
}

/// The long-lived objects a reload gives new limits, keeping their counts.
#[derive(Clone)]
pub(crate) struct Tuned {
    /// Failed-login counting per address and account (`auth.max_failures_*` …).
    pub throttle: Arc<LoginThrottle>,
    /// Hourly message and recipient limits of SMTP senders.
    pub sending_limits: Arc<SendingLimits>,
    /// SMTP errors per client address (`smtp.max_errors_per_ip`).
    pub smtp_errors: Arc<ErrorCounts>,
    /// Recipient routing, shared with the queue's router (`smtp.postmaster`).
    pub resolver: Arc<Resolver>,
}

impl Tuned {
    /// The objects with the limits of `config`; `resolver` is the one the queue uses.
    pub(crate) fn new(config: &Config, resolver: Arc<Resolver>) -> Self {
        Tuned {
            throttle: Arc::new(LoginThrottle::new(ThrottleLimits::from_config(
                &config.auth,
            ))),
            sending_limits: Arc::new(SendingLimits::new(&config.smtp)),
            smtp_errors: Arc::new(ErrorCounts::new(
                config.smtp.max_errors_per_ip,
                error_window(config),
            )),
            resolver,
        }
    }

    /// Gives every object the limits of `config`; their counts stay.
    pub(crate) fn apply(&self, config: &Config) {
        self.throttle
            .set_limits(ThrottleLimits::from_config(&config.auth));
        self.sending_limits.set_limits(&config.smtp);
        self.smtp_errors
            .set_limits(config.smtp.max_errors_per_ip, error_window(config));
        self.resolver.set_postmaster(postmaster(config));
    }
}

fn error_window(config: &Config) -> Duration {
    Duration::from_secs(config.smtp.error_window_secs)
}

/// `smtp.postmaster` as an address (the config checked that it parses).
pub(crate) fn postmaster(config: &Config) -> Option<message::Address> {
    config
        .smtp
        .postmaster
        .as_deref()
        .and_then(|a| message::Address::parse(a).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::time::Instant;

    /// A configuration whose resolvers ask a loopback port nobody answers (never the
    /// system's name servers).
    pub(crate) fn config() -> Config {
        let mut config = Config::default();
        config.dns.nameservers = vec!["127.0.0.1:9".parse().unwrap()];
        config
    }

    #[test]
    fn only_what_depends_on_changed_keys_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let running = config().with_data_dir(dir.path().to_owned());
        let built = Built::new(&running).unwrap();
        assert!(built.dnsbl.is_none());

        let same = built.for_new_config(&running, &running.clone()).unwrap();
        assert!(Arc::ptr_eq(&same.mail_auth, &built.mail_auth));

        let mut new = running.clone();
        new.smtp.spf = !running.smtp.spf;
        new.smtp.dnsbl_zones = vec!["bl.test".into()];
        new.smtp.dnsbl_reject_at = config::DnsblRejectAt::Connect;
        let rebuilt = built.for_new_config(&running, &new).unwrap();
        assert!(!Arc::ptr_eq(&rebuilt.mail_auth, &built.mail_auth));
        assert!(rebuilt.dnsbl.as_ref().is_some_and(|d| d.at_connect));

        let mut none = new.clone();
        none.smtp.dnsbl_zones.clear();
        let kept = rebuilt.for_new_config(&new, &none).unwrap();
        assert!(Arc::ptr_eq(&kept.mail_auth, &rebuilt.mail_auth));
        assert!(kept.dnsbl.is_none(), "the zones were removed");
    }

    #[tokio::test]
    async fn new_limits_reach_every_counter_and_keep_its_counts() {
        let store: Arc<dyn store::Store> = Arc::new(store::memory::MemoryStore::new());
        let mut config = config();
        let resolver = Arc::new(Resolver::new(store, &config.hostname, None));
        let tuned = Tuned::new(&config, resolver);
        let ip = IpAddr::from([192, 0, 2, 7]);
        let now = Instant::now();
        tuned.throttle.failed(ip, "a@x", false, now);
        tuned.smtp_errors.add(ip, 2, now);
        let sender = crate::rate::Sender::Address(ip);
        tuned.sending_limits.take_message(&sender, now).unwrap();

        config.auth.max_failures_per_ip = 2;
        config.smtp.max_errors_per_ip = 2;
        config.smtp.max_messages_per_hour_per_ip = 1;
        tuned.apply(&config);
        assert!(
            tuned.throttle.failed(ip, "a@x", false, now),
            "second of two"
        );
        assert!(tuned.smtp_errors.blocked(ip, now));
        assert!(tuned.sending_limits.take_message(&sender, now).is_err());
    }
}
