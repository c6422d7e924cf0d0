//! Reloading on SIGHUP: the config file is read again and everything that does not
//! need new sockets or a new data directory takes effect; the TLS certificate is read
//! again.
//!
//! Where it sits: [`crate::run_with_store`] waits for signals; on SIGHUP it calls
//! [`Reloader::reload`]. The configuration lives in a [`LiveConfig`], together with
//! the objects made from it ([`Built`]: mail authentication, DNS blocklists); each
//! connection takes a snapshot of both when accepted ([`crate::listen`]), so a reload
//! never changes a session mid-way: sessions accepted afterwards see the new values.
//! The long-lived counters ([`Tuned`]: login throttling, hourly sending limits, SMTP
//! errors per address) and recipient routing get the new limits in place and keep
//! their counts. `log.level` goes to the process's log filter through
//! [`ReloadSource::log_level`].
//!
//! The rules:
//! - a file that cannot be read or is not valid changes nothing (an error is logged);
//! - keys fixed at start ([`RESTART_KEYS`]: host name, data directory, listeners,
//!   connection pools, DNS servers, relay, queue) keep their running value; each that
//!   changed is named in a warning saying it needs a restart;
//! - the rest ([`RELOADABLE_KEYS`]) take effect, together with the certificate
//!   (`tls.cert`/`tls.key` re-read from disk, or the generated one);
//! - a certificate that cannot be loaded, a verifier or blocklist resolver that cannot
//!   be made, or a log filter that is refused, refuses the whole reload.

mod parts;

pub(crate) use parts::{Built, Tuned, postmaster};

use crate::tls::{Certificates, Loaded};
use config::Config;
use std::sync::{Arc, PoisonError, RwLock};

/// Where a reload gets the configuration from.
pub enum ConfigSource {
    /// No config file (the built-in defaults): a reload reads the certificate again.
    Defaults,
    /// Reads the configuration again: the config file, with the command line's
    /// overrides (`--data`) applied. The error is the reason, for the log.
    Reread(Box<dyn Fn() -> Result<Config, String> + Send + Sync>),
}

/// Sets the process's log filter to a `log.level` value; the error is the reason, for
/// the log. The logging set-up belongs to the binary, so it hands this in.
pub type LogLevelSetter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// What a reload reads, and how it changes what the server does not own.
pub struct ReloadSource {
    /// Where the configuration comes from.
    pub config: ConfigSource,
    /// Applies a changed `log.level`; `None`: the level stays as it started.
    pub log_level: Option<LogLevelSetter>,
}

impl From<ConfigSource> for ReloadSource {
    fn from(config: ConfigSource) -> Self {
        ReloadSource {
            config,
            log_level: None,
        }
    }
}

/// The configuration in force and the objects made from it; replaced whole by a reload.
pub(crate) struct LiveConfig(RwLock<InForce>);

/// What a connection takes when accepted: the configuration and the objects made from
/// it, both as they were at that moment.
#[derive(Clone)]
pub(crate) struct InForce {
    pub config: Arc<Config>,
    pub built: Built,
}

impl LiveConfig {
    pub(crate) fn new(config: Config, built: Built) -> Self {
        LiveConfig(RwLock::new(InForce {
            config: Arc::new(config),
            built,
        }))
    }

    /// The configuration as it is now; it stays the same for the holder.
    #[cfg(test)]
    pub(crate) fn get(&self) -> Arc<Config> {
        self.in_force().config
    }

    /// The configuration and the objects made from it, as they are now.
    pub(crate) fn in_force(&self) -> InForce {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, config: Config, built: Built) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = InForce {
            config: Arc::new(config),
            built,
        };
    }
}

/// The dotted name of a config key, from its field path.
macro_rules! key_name {
    ($first:ident $(. $rest:ident)*) => {
        concat!(stringify!($first) $(, ".", stringify!($rest))*)
    };
}

/// Keys fixed at start, and the function that keeps their running values in a new
/// configuration, returning the names of those that differed.
macro_rules! restart_keys {
    ($($first:ident $(. $rest:ident)*),* $(,)?) => {
        /// The keys a reload does not apply: they need a restart.
        pub const RESTART_KEYS: &[&str] = &[$(key_name!($first $(. $rest)*)),*];

        /// Sets every key of [`RESTART_KEYS`] in `new` back to its value in `old`;
        /// returns the names of those that differed.
        fn keep_restart_keys(old: &Config, new: &mut Config) -> Vec<&'static str> {
            let mut changed = Vec::new();
            $(
                if new.$first $(.$rest)* != old.$first $(.$rest)* {
                    changed.push(key_name!($first $(. $rest)*));
                    new.$first $(.$rest)* = old.$first $(.$rest)*.clone();
                }
            )*
            changed
        }
    };
}

/// Keys read per session (or per message, or per handshake), and the function naming
/// those that differ between two configurations.
macro_rules! reloadable_keys {
    ($($first:ident $(. $rest:ident)*),* $(,)?) => {
        /// The keys a reload applies: sessions accepted afterwards use the new value.
        pub const RELOADABLE_KEYS: &[&str] = &[$(key_name!($first $(. $rest)*)),*];

        /// The names of the keys of [`RELOADABLE_KEYS`] whose values differ.
        fn changed_reloadable(old: &Config, new: &Config) -> Vec<&'static str> {
            let mut changed = Vec::new();
            $(
                if new.$first $(.$rest)* != old.$first $(.$rest)* {
                    changed.push(key_name!($first $(. $rest)*));
                }
            )*
            changed
        }
    };
}

// Fixed at start: the sockets (listen), the store ([store], and data_dir with the spool
// and DKIM keys), the
// host name (the generated certificate's name, the greeting of sessions in flight),
// the connection pools (*max_connections*, IMAP sessions per user), the name servers
// every resolver was made with, and the outbound relay and the queue runner.
restart_keys!(
    hostname,
    data_dir,
    listen.smtp,
    listen.submission,
    listen.submissions,
    listen.pop3,
    listen.pop3s,
    listen.imap,
    listen.imaps,
    listen.http,
    listen.https,
    smtp.max_connections,
    smtp.max_connections_per_ip,
    smtp.submission_max_connections,
    smtp.submission_max_connections_per_ip,
    smtp.submissions_max_connections,
    smtp.submissions_max_connections_per_ip,
    pop3.max_connections,
    pop3.max_connections_per_ip,
    pop3.pop3s_max_connections,
    pop3.pop3s_max_connections_per_ip,
    imap.max_connections,
    imap.max_connections_per_ip,
    imap.imaps_max_connections,
    imap.imaps_max_connections_per_ip,
    imap.max_sessions_per_user,
    dns.nameservers,
    dns.dnssec,
    relay.smarthost,
    relay.smarthost_tls,
    relay.smarthost_user,
    relay.smarthost_password,
    relay.smarthost_ca,
    relay.domains,
    relay.require_tls,
    relay.max_connections,
    relay.max_connections_per_host,
    relay.idle_secs,
    relay.mta_sts,
    relay.dane,
    relay.tls_ca_file,
    tls_rpt.enabled,
    tls_rpt.organization,
    tls_rpt.contact,
    tls_rpt.rua,
    queue.retry_schedule_secs,
    queue.max_age_secs,
    queue.delay_warning_secs,
    queue.lease_secs,
    store.url,
    store.password_file,
    store.ca_file,
    store.pool_size,
    capture.enabled,
    capture.max_messages,
    capture.starttls,
    acme,
);

// Read from the connection's snapshot: the session policy (greeting limits, AUTH,
// VRFY/EXPN), the deadlines and the tarpit, login checks, the sender check, the spool
// threshold; made again ([`Built`]): SPF/DKIM/DMARC, the DNS blocklists; new limits
// for the counters ([`Tuned`]): login throttling, hourly sending limits, errors per
// address, and the postmaster fallback; the log filter; and the certificate.
reloadable_keys!(
    tls.cert,
    tls.key,
    auth.allow_plaintext,
    auth.max_failures_per_ip,
    auth.failure_window_secs,
    auth.lockout_secs,
    auth.max_failures_per_account,
    auth.failure_delay_ms,
    auth.max_failure_delay_ms,
    auth.account_password,
    smtp.max_message_size,
    smtp.max_recipients,
    smtp.command_timeout_secs,
    smtp.data_timeout_secs,
    smtp.max_auth_failures,
    smtp.max_errors,
    smtp.soft_error_limit,
    smtp.error_delay_ms,
    smtp.junk_command_limit,
    smtp.spool_threshold,
    smtp.max_errors_per_ip,
    smtp.error_window_secs,
    smtp.vrfy,
    smtp.expn,
    smtp.postmaster,
    smtp.max_messages_per_hour_per_user,
    smtp.max_recipients_per_hour_per_user,
    smtp.max_messages_per_hour_per_ip,
    smtp.max_recipients_per_hour_per_ip,
    smtp.dnsbl_zones,
    smtp.dnsbl_reject_at,
    smtp.spf,
    smtp.dkim_verify,
    smtp.dmarc,
    smtp.sender_check,
    pop3.idle_timeout_secs,
    pop3.max_auth_failures,
    pop3.max_errors,
    pop3.expire_days,
    imap.idle_timeout_secs,
    imap.max_auth_failures,
    imap.max_literal_size,
    imap.max_line_length,
    imap.max_mailboxes,
    log.level,
    autoconfig.imaps_port,
    autoconfig.pop3s_port,
    autoconfig.submissions_port,
    mta_sts.mode,
    mta_sts.max_age,
    mta_sts.mx,
);

/// What a new configuration means for the running one.
#[derive(Debug, PartialEq)]
pub(crate) struct Plan {
    /// The configuration to put in force: the new one, with the keys of
    /// [`RESTART_KEYS`] as they are running.
    pub config: Config,
    /// Reloadable keys that changed.
    pub applied: Vec<&'static str>,
    /// Keys that changed but need a restart.
    pub need_restart: Vec<&'static str>,
}

/// Compares the running configuration with a new one.
pub(crate) fn plan(running: &Config, new: Config) -> Plan {
    let mut config = new;
    let need_restart = keep_restart_keys(running, &mut config);
    let applied = changed_reloadable(running, &config);
    Plan {
        config,
        applied,
        need_restart,
    }
}

/// Carries out reloads: reads the configuration, swaps in what may change.
pub(crate) struct Reloader {
    source: ConfigSource,
    log_level: Option<LogLevelSetter>,
    live: Arc<LiveConfig>,
    certificates: Arc<Certificates>,
    tuned: Tuned,
}

impl Reloader {
    pub(crate) fn new(
        source: ReloadSource,
        live: Arc<LiveConfig>,
        certificates: Arc<Certificates>,
        tuned: Tuned,
    ) -> Self {
        Reloader {
            source: source.config,
            log_level: source.log_level,
            live,
            certificates,
            tuned,
        }
    }

    /// One reload, logged: what took effect, what needs a restart, or why nothing
    /// changed. Blocking (file reads, maybe a new certificate, new resolvers): run it
    /// off the async workers.
    pub(crate) fn reload(&self) {
        let running = self.live.in_force();
        let plan = match &self.source {
            ConfigSource::Defaults => plan(&running.config, Config::clone(&running.config)),
            ConfigSource::Reread(read) => match read() {
                Ok(new) => plan(&running.config, new),
                Err(reason) => {
                    tracing::error!(
                        %reason,
                        "reload refused: the config file is not valid; the running configuration stays"
                    );
                    return;
                }
            },
        };
        // Everything that can fail comes before anything changes.
        let built = match running.built.for_new_config(&running.config, &plan.config) {
            Ok(built) => built,
            Err(e) => {
                tracing::error!(
                    reason = %e,
                    "reload refused: cannot set up a changed check; the running configuration stays"
                );
                return;
            }
        };
        let loaded = match Loaded::from_config(&plan.config) {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!(
                    reason = %e,
                    "reload refused: cannot load the TLS certificate; the running configuration and certificate stay"
                );
                return;
            }
        };
        // Last of the fallible steps, since it takes effect at once.
        if plan.applied.contains(&"log.level")
            && let Some(set) = &self.log_level
            && let Err(reason) = set(&plan.config.log.level)
        {
            tracing::error!(
                %reason,
                "reload refused: cannot apply log.level; the running configuration stays"
            );
            return;
        }
        for key in &plan.need_restart {
            tracing::warn!(
                key,
                "reload: {key} changed but needs a restart to take effect"
            );
        }
        loaded.log("reload");
        self.certificates.install(loaded);
        // A certificate another process stored (`postie cert renew`) is installed now.
        crate::acme::task::wake();
        self.tuned.apply(&plan.config);
        let applied = if plan.applied.is_empty() {
            "none".to_owned()
        } else {
            plan.applied.join(",")
        };
        self.live.set(plan.config, built);
        tracing::info!(
            changed = %applied,
            restart_needed = plan.need_restart.len(),
            "reloaded the configuration; new sessions use it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn a_reloadable_change_is_applied() {
        let running = Config::default();
        let mut new = running.clone();
        new.smtp.max_message_size = 1234;
        new.auth.allow_plaintext = config::PlaintextAuth::Never;
        let plan = plan(&running, new.clone());
        assert_eq!(plan.config, new);
        assert_eq!(
            plan.applied,
            ["auth.allow_plaintext", "smtp.max_message_size"]
        );
        assert!(plan.need_restart.is_empty());
    }

    #[test]
    fn restart_keys_are_named_and_keep_their_running_value() {
        let running = Config::default();
        let mut new = running.clone();
        new.listen.smtp = vec!["127.0.0.1:2525".parse().unwrap()];
        new.dns.nameservers = vec!["127.0.0.1:53".parse().unwrap()];
        new.hostname = "other.example".into();
        new.smtp.max_connections = 7;
        new.smtp.max_recipients = 5;
        let plan = plan(&running, new);
        assert_eq!(
            plan.need_restart,
            [
                "hostname",
                "listen.smtp",
                "smtp.max_connections",
                "dns.nameservers"
            ]
        );
        assert_eq!(plan.applied, ["smtp.max_recipients"]);
        let mut expected = running.clone();
        expected.smtp.max_recipients = 5;
        assert_eq!(plan.config, expected);
    }

    #[test]
    fn the_same_configuration_changes_nothing() {
        let running = Config::default();
        let plan = plan(&running, running.clone());
        assert_eq!(plan.config, running);
        assert!(plan.applied.is_empty() && plan.need_restart.is_empty());
    }

    /// A reloader over a generated certificate in a temporary data directory.
    /// Its resolvers ask a loopback port nobody answers (never the system's servers).
    fn reloader(source: ConfigSource) -> (tempfile::TempDir, Reloader) {
        let dir = tempfile::tempdir().unwrap();
        let config = start_config(dir.path());
        let certificates = Arc::new(Certificates::new(Loaded::from_config(&config).unwrap()));
        let store: Arc<dyn store::Store> = Arc::new(store::memory::MemoryStore::new());
        let resolver = Arc::new(delivery::route::Resolver::new(
            store,
            &config.hostname,
            None,
        ));
        let tuned = Tuned::new(&config, resolver);
        let live = Arc::new(LiveConfig::new(
            config.clone(),
            Built::new(&config).unwrap(),
        ));
        (dir, Reloader::new(source.into(), live, certificates, tuned))
    }

    /// The configuration the test reloader starts with (and its files read again).
    fn start_config(data: &std::path::Path) -> Config {
        let mut config = Config::default().with_data_dir(data.to_owned());
        config.dns.nameservers = vec!["127.0.0.1:9".parse().unwrap()];
        config
    }

    /// A reloader whose file, read again, is the start configuration changed by `edit`.
    fn reloader_with(
        edit: impl Fn(&mut Config) + Send + Sync + 'static,
    ) -> (tempfile::TempDir, Reloader) {
        let (dir, mut reloader) = reloader(ConfigSource::Defaults);
        let data = dir.path().to_owned();
        reloader.source = ConfigSource::Reread(Box::new(move || {
            let mut new = start_config(&data);
            edit(&mut new);
            Ok(new)
        }));
        (dir, reloader)
    }

    #[test]
    fn a_reload_gives_the_counters_new_limits_and_keeps_their_counts() {
        let (_dir, reloader) = reloader_with(|c| {
            c.auth.max_failures_per_ip = 2;
            c.smtp.postmaster = Some("pm@example.org".into());
        });
        let ip = std::net::IpAddr::from([192, 0, 2, 9]);
        let now = std::time::Instant::now();
        let throttle = reloader.tuned.throttle.clone();
        assert!(!throttle.failed(ip, "a@x", false, now), "one of ten");
        reloader.reload();
        assert_eq!(reloader.live.get().auth.max_failures_per_ip, 2);
        assert!(
            throttle.failed(ip, "a@x", false, now),
            "the first failure still counts: the second of two locks"
        );
    }

    #[test]
    fn a_reload_makes_the_blocklists_of_the_new_file() {
        let (_dir, reloader) = reloader_with(|c| c.smtp.dnsbl_zones = vec!["bl.test".into()]);
        assert!(reloader.live.in_force().built.dnsbl.is_none());
        let before = reloader.live.in_force().built.mail_auth;
        reloader.reload();
        let now = reloader.live.in_force();
        assert!(now.built.dnsbl.is_some());
        assert!(
            Arc::ptr_eq(&now.built.mail_auth, &before),
            "SPF/DKIM/DMARC did not change: the same verifier"
        );
    }

    #[test]
    fn the_log_level_is_set_when_it_changed() {
        let (_dir, mut reloader) = reloader_with(|c| c.log.level = "debug".into());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        reloader.log_level = Some(Box::new(move |level| {
            record.lock().unwrap().push(level.to_owned());
            Ok(())
        }));
        reloader.reload();
        reloader.reload();
        assert_eq!(
            *seen.lock().unwrap(),
            ["debug"],
            "once: then it is unchanged"
        );
        assert_eq!(reloader.live.get().log.level, "debug");
    }

    #[test]
    fn a_refused_log_level_refuses_the_whole_reload() {
        let (_dir, mut reloader) = reloader_with(|c| {
            c.log.level = "debug".into();
            c.auth.max_failures_per_ip = 1;
        });
        reloader.log_level = Some(Box::new(|_| Err("no".into())));
        let before = reloader.live.get();
        reloader.reload();
        assert!(Arc::ptr_eq(&before, &reloader.live.get()));
        let ip = std::net::IpAddr::from([192, 0, 2, 9]);
        assert!(
            !reloader
                .tuned
                .throttle
                .failed(ip, "a@x", false, std::time::Instant::now()),
            "the limits did not change either"
        );
    }

    #[test]
    fn without_a_config_file_a_reload_reads_the_certificate_again() {
        let (dir, reloader) = reloader(ConfigSource::Defaults);
        let before = reloader.live.get();
        let cert = crate::tls::certificate_path(&before);
        std::fs::remove_file(&cert).unwrap();
        reloader.reload();
        assert!(cert.exists(), "the generated certificate is made again");
        assert_eq!(*reloader.live.get(), *before);
        drop(dir);
    }

    #[test]
    fn an_invalid_file_changes_nothing() {
        let (_dir, reloader) = reloader(ConfigSource::Reread(Box::new(|| {
            Err("postie.toml: smtp.max_recipent: unknown key".into())
        })));
        let before = reloader.live.get();
        reloader.reload();
        assert!(Arc::ptr_eq(&before, &reloader.live.get()));
    }

    #[test]
    fn a_new_file_applies_reloadable_keys_only() {
        let (dir, mut reloader) = reloader(ConfigSource::Defaults);
        let data = dir.path().to_owned();
        reloader.source = ConfigSource::Reread(Box::new(move || {
            let mut new = Config::default().with_data_dir(data.clone());
            new.smtp.max_message_size = 4321;
            new.listen.smtp = vec!["127.0.0.1:2525".parse().unwrap()];
            Ok(new)
        }));
        let before = reloader.live.get();
        reloader.reload();
        let now = reloader.live.get();
        assert_eq!(now.smtp.max_message_size, 4321);
        assert_eq!(now.listen.smtp, before.listen.smtp, "needs a restart");
    }

    /// Every key of the config (every leaf of its TOML form, with each optional key
    /// set) is in exactly one of the lists: a new key must be classified here.
    #[test]
    fn every_key_is_reloadable_or_needs_a_restart() {
        let mut config = Config::default();
        config.tls.cert = Some("c.pem".into());
        config.tls.key = Some("k.pem".into());
        config.smtp.postmaster = Some("postmaster@example.org".into());
        config.pop3.expire_days = Some(30);
        config.relay.smarthost = Some("smarthost.example:587".into());
        config.relay.smarthost_user = Some("u".into());
        config.relay.smarthost_password = Some("p".into());
        config.relay.smarthost_ca = Some("ca.pem".into());
        config.relay.tls_ca_file = Some("ca.pem".into());
        config.store.url = Some("postgres://u@h/d".into());
        config.store.password_file = Some("pw".into());
        config.store.ca_file = Some("ca.pem".into());
        config.autoconfig.imaps_port = Some(993);
        config.autoconfig.pop3s_port = Some(995);
        config.autoconfig.submissions_port = Some(465);
        config.acme = Some(config::Acme {
            contact: Some("mailto:a@example.org".into()),
            ca_file: Some("ca.pem".into()),
            ..config::Acme::default()
        });
        let tree = toml::Value::try_from(&config).unwrap();
        let mut keys = Vec::new();
        leaves(&tree, "", &mut keys);
        // A whole optional table (`acme`) is one restart key for all of its leaves.
        let listed = |key: &str| {
            let table = key.split_once('.').map_or(key, |(table, _)| table);
            RESTART_KEYS.contains(&key) || RESTART_KEYS.contains(&table)
        };
        let mut covered = BTreeSet::new();
        for key in &keys {
            let restart = listed(key);
            let reload = RELOADABLE_KEYS.contains(&key.as_str());
            assert!(restart ^ reload, "{key}: in both lists or in neither");
            let table = key.split_once('.').map_or(key.as_str(), |(t, _)| t);
            covered.insert(if RESTART_KEYS.contains(&table) {
                table
            } else {
                key.as_str()
            });
        }
        assert_eq!(covered.len(), RESTART_KEYS.len() + RELOADABLE_KEYS.len());
    }

    /// docs/config.md's "Reloading (SIGHUP)" section lists each key where it belongs
    /// (a restart key may be covered by "every `section.*`").
    #[test]
    fn the_reloading_docs_match_the_lists() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md");
        let docs = std::fs::read_to_string(path).unwrap();
        let section = docs.split("## Reloading (SIGHUP)").nth(1).unwrap();
        let section = section.split("\n## ").next().unwrap();
        let (reload, restart) = section.split_once("Need a restart").unwrap();
        let reload = reload.split_once("Take effect on reload").unwrap().1;
        for key in RELOADABLE_KEYS {
            assert!(
                reload.contains(&format!("`{key}`")),
                "{key} not listed as reloadable"
            );
            assert!(
                !restart.contains(&format!("`{key}`")),
                "{key} listed as needing a restart"
            );
        }
        for key in RESTART_KEYS {
            let every = key
                .split_once('.')
                .map(|(table, _)| format!("every `{table}.*`"));
            assert!(
                restart.contains(&format!("`{key}`"))
                    || every.is_some_and(|every| restart.contains(&every)),
                "{key} not listed as needing a restart"
            );
            assert!(
                !reload.contains(&format!("`{key}`")),
                "{key} listed as reloadable"
            );
        }
    }

    fn leaves(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            toml::Value::Table(table) => {
                for (k, v) in table {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(v, &name, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }
}
