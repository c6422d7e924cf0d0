//! [`Config::validate`]: the checks a value's type cannot express. Each failure
//! names the dotted key it is about.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use crate::error::os_reason;
use crate::{Config, ConfigError};

impl Config {
    /// Checks the values that parse but make no sense: an empty hostname, half a
    /// TLS setting, zero limits or timeouts, an address in two listeners. [`crate::load`] and
    /// [`crate::parse`] call it; call it again after changing a `Config` by hand.
    ///
    /// Besides looking at the values it checks that the TLS certificate and key
    /// files exist (without reading them).
    ///
    /// # Errors
    ///
    /// The first problem found, as [`ConfigError::Invalid`]. Called on its own it
    /// cannot know the file name, so the error's origin is `configuration`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_hostname(&self.hostname).map_err(|m| ConfigError::invalid("hostname", m))?;
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
        self.check_listen()?;
        self.check_tls()?;
        self.check_acme()?;
        self.check_auth()?;
        self.check_smtp()?;
        self.check_pop3()?;
        self.check_imap()?;
        self.check_outbound()?;
        self.check_store()?;
        self.check_autoconfig()?;
        self.mta_sts.check()?;
        if self.capture.max_messages == 0 {
            return Err(ConfigError::invalid(
                "capture.max_messages",
                "must be at least 1",
            ));
        }
        check_log_level(&self.log.level).map_err(|m| ConfigError::invalid("log.level", m))
    }

    /// `[store]`: a PostgreSQL URL when set, a pool size in range.
    fn check_store(&self) -> Result<(), ConfigError> {
        let s = &self.store;
        if let Some(url) = &s.url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                "store.url",
                "must be a PostgreSQL URL, postgres://USER@HOST:PORT/DB",
            ));
        }
        if s.url.is_none() && (s.password_file.is_some() || s.ca_file.is_some()) {
            return Err(ConfigError::invalid(
                "store.url",
                "is needed when store.password_file or store.ca_file is set",
            ));
        }
        if !(1..=1000).contains(&s.pool_size) {
            return Err(ConfigError::invalid("store.pool_size", "must be 1 to 1000"));
        }
        Ok(())
    }

    /// `[autoconfig]`: a port told to clients is never 0 (that is "any free port" to
    /// a listener, but no client can connect to it).
    fn check_autoconfig(&self) -> Result<(), ConfigError> {
        let a = &self.autoconfig;
        for (key, port) in [
            ("autoconfig.imaps_port", a.imaps_port),
            ("autoconfig.pop3s_port", a.pop3s_port),
            ("autoconfig.submissions_port", a.submissions_port),
        ] {
            if port == Some(0) {
                return Err(ConfigError::invalid(key, "must be 1 to 65535"));
            }
        }
        Ok(())
    }

    /// No address in two listeners (or twice in one): the second bind would fail.
    /// Port 0 (any free port, as tests use) can repeat.
    fn check_listen(&self) -> Result<(), ConfigError> {
        let l = &self.listen;
        let lists: [(&str, &[SocketAddr]); 9] = [
            ("listen.smtp", &l.smtp),
            ("listen.submission", &l.submission),
            ("listen.submissions", &l.submissions),
            ("listen.pop3", &l.pop3),
            ("listen.pop3s", &l.pop3s),
            ("listen.imap", &l.imap),
            ("listen.imaps", &l.imaps),
            ("listen.http", &l.http),
            ("listen.https", &l.https),
        ];
        let mut seen: HashMap<SocketAddr, &str> = HashMap::new();
        for (key, addrs) in lists {
            for addr in addrs.iter().filter(|a| a.port() != 0) {
                if let Some(first) = seen.insert(*addr, key) {
                    let message = if first == key {
                        format!("{addr} is listed twice")
                    } else {
                        format!("{addr} is also in {first}")
                    };
                    return Err(ConfigError::invalid(key, message));
                }
            }
        }
        Ok(())
    }

    fn check_tls(&self) -> Result<(), ConfigError> {
        match (&self.tls.cert, &self.tls.key) {
            (None, None) => Ok(()),
            (Some(_), None) => Err(ConfigError::invalid(
                "tls.key",
                "must be set when tls.cert is set (set both, or neither for a self-signed certificate)",
            )),
            (None, Some(_)) => Err(ConfigError::invalid(
                "tls.cert",
                "must be set when tls.key is set (set both, or neither for a self-signed certificate)",
            )),
            (Some(cert), Some(key)) => {
                check_file(cert).map_err(|m| ConfigError::invalid("tls.cert", m))?;
                check_file(key).map_err(|m| ConfigError::invalid("tls.key", m))
            }
        }
    }

    fn check_acme(&self) -> Result<(), ConfigError> {
        let Some(acme) = &self.acme else {
            return Ok(());
        };
        if self.tls.cert.is_some() {
            return Err(ConfigError::invalid(
                "tls.cert",
                "cannot be set with [acme] (the certificate comes from the ACME CA; remove one)",
            ));
        }
        if let Some((key, message)) = acme.problem() {
            return Err(ConfigError::invalid(key, message));
        }
        if let Some(ca) = &acme.ca_file {
            check_file(ca).map_err(|m| ConfigError::invalid("acme.ca_file", m))?;
        }
        let (listener, key) = match acme.challenge {
            crate::AcmeChallenge::TlsAlpn01 => (&self.listen.https, "listen.https"),
            crate::AcmeChallenge::Http01 => (&self.listen.http, "listen.http"),
        };
        if listener.is_empty() {
            return Err(ConfigError::invalid(
                "acme.challenge",
                format!(
                    "needs a {key} listener for the CA to reach (port 443 for tls-alpn-01, 80 for http-01)"
                ),
            ));
        }
        Ok(())
    }

    fn check_auth(&self) -> Result<(), ConfigError> {
        let a = &self.auth;
        at_least(
            "auth.max_failures_per_ip",
            u64::from(a.max_failures_per_ip),
            1,
        )?;
        at_least("auth.failure_window_secs", a.failure_window_secs, 1)?;
        at_least("auth.lockout_secs", a.lockout_secs, 1)?;
        at_least(
            "auth.max_failures_per_account",
            u64::from(a.max_failures_per_account),
            1,
        )?;
        at_least(
            "auth.max_failure_delay_ms",
            a.max_failure_delay_ms,
            a.failure_delay_ms,
        )
    }

    fn check_smtp(&self) -> Result<(), ConfigError> {
        let s = &self.smtp;
        at_least("smtp.max_message_size", s.max_message_size, 1024)?;
        // RFC 5321 §4.5.3.1.8 wants 100; fewer is allowed for a private server.
        at_least("smtp.max_recipients", wide(s.max_recipients), 1)?;
        at_least("smtp.max_connections", wide(s.max_connections), 1)?;
        at_least(
            "smtp.max_connections_per_ip",
            wide(s.max_connections_per_ip),
            1,
        )?;
        for (key, value) in [
            (
                "smtp.submission_max_connections",
                s.submission_max_connections,
            ),
            (
                "smtp.submission_max_connections_per_ip",
                s.submission_max_connections_per_ip,
            ),
            (
                "smtp.submissions_max_connections",
                s.submissions_max_connections,
            ),
            (
                "smtp.submissions_max_connections_per_ip",
                s.submissions_max_connections_per_ip,
            ),
        ] {
            at_least(key, wide(value), 1)?;
        }
        at_least("smtp.command_timeout_secs", s.command_timeout_secs, 1)?;
        at_least("smtp.data_timeout_secs", s.data_timeout_secs, 1)?;
        at_least("smtp.max_auth_failures", u64::from(s.max_auth_failures), 1)?;
        at_least("smtp.max_errors", u64::from(s.max_errors), 1)?;
        at_least("smtp.max_errors_per_ip", u64::from(s.max_errors_per_ip), 1)?;
        at_least("smtp.error_window_secs", s.error_window_secs, 1)?;
        if let Some(postmaster) = &s.postmaster
            && let Err(e) = message::Address::parse(postmaster)
        {
            return Err(ConfigError::invalid(
                "smtp.postmaster",
                format!("{postmaster:?} is not a mail address: {e}"),
            ));
        }
        for zone in &s.dnsbl_zones {
            check_dns_zone(zone).map_err(|m| ConfigError::invalid("smtp.dnsbl_zones", m))?;
        }
        Ok(())
    }

    fn check_pop3(&self) -> Result<(), ConfigError> {
        let p = &self.pop3;
        // RFC 1939 §3 wants at least 600; less is allowed for tests.
        at_least("pop3.idle_timeout_secs", p.idle_timeout_secs, 1)?;
        at_least("pop3.max_connections", wide(p.max_connections), 1)?;
        at_least(
            "pop3.max_connections_per_ip",
            wide(p.max_connections_per_ip),
            1,
        )?;
        at_least(
            "pop3.pop3s_max_connections",
            wide(p.pop3s_max_connections),
            1,
        )?;
        at_least(
            "pop3.pop3s_max_connections_per_ip",
            wide(p.pop3s_max_connections_per_ip),
            1,
        )?;
        at_least("pop3.max_auth_failures", u64::from(p.max_auth_failures), 1)?;
        at_least("pop3.max_errors", u64::from(p.max_errors), 1)
    }

    fn check_imap(&self) -> Result<(), ConfigError> {
        let i = &self.imap;
        // RFC 9051 §5.4 wants at least 1800; less is allowed for tests.
        at_least("imap.idle_timeout_secs", i.idle_timeout_secs, 1)?;
        at_least("imap.max_connections", wide(i.max_connections), 1)?;
        at_least(
            "imap.max_connections_per_ip",
            wide(i.max_connections_per_ip),
            1,
        )?;
        at_least(
            "imap.imaps_max_connections",
            wide(i.imaps_max_connections),
            1,
        )?;
        at_least(
            "imap.imaps_max_connections_per_ip",
            wide(i.imaps_max_connections_per_ip),
            1,
        )?;
        at_least("imap.max_auth_failures", u64::from(i.max_auth_failures), 1)?;
        at_least(
            "imap.max_sessions_per_user",
            wide(i.max_sessions_per_user),
            1,
        )?;
        at_least("imap.max_mailboxes", wide(i.max_mailboxes), 10)?;
        at_least("imap.max_line_length", wide(i.max_line_length), 1024)?;
        at_least("imap.max_literal_size", u64::from(i.max_literal_size), 1024)
    }
}

/// `value` is at least `min`, or an error about `key` that says so.
impl Config {
    /// `[relay]` and `[queue]`: a well-formed smarthost with user and password both or
    /// neither, a trust file that exists, and a usable retry schedule.
    fn check_outbound(&self) -> Result<(), ConfigError> {
        let r = &self.relay;
        if r.smarthost.is_some() && r.smarthost_parts().is_none() {
            return Err(ConfigError::invalid(
                "relay.smarthost",
                r#"want "host:port", like "smtp.example.net:587""#,
            ));
        }
        if r.smarthost_user.is_some() != r.smarthost_password.is_some() {
            return Err(ConfigError::invalid(
                "relay.smarthost_user",
                "smarthost_user and smarthost_password go together",
            ));
        }
        if let Some(ca) = &r.tls_ca_file {
            check_file(ca).map_err(|m| ConfigError::invalid("relay.tls_ca_file", m))?;
        }
        if let Some(m) = self.tls_rpt.problem() {
            return Err(ConfigError::invalid("tls_rpt.rua", m));
        }
        if let Some(ca) = &r.smarthost_ca {
            check_file(ca).map_err(|m| ConfigError::invalid("relay.smarthost_ca", m))?;
        }
        if !r.domains.is_empty() && r.smarthost.is_none() {
            return Err(ConfigError::invalid(
                "relay.domains",
                "names the smarthost's domains, but relay.smarthost is not set",
            ));
        }
        at_least("relay.max_connections", wide(r.max_connections), 1)?;
        at_least(
            "relay.max_connections_per_host",
            wide(r.max_connections_per_host),
            1,
        )?;
        let q = &self.queue;
        if q.retry_schedule_secs.is_empty() || q.retry_schedule_secs.contains(&0) {
            return Err(ConfigError::invalid(
                "queue.retry_schedule_secs",
                "must list at least one delay, each at least 1",
            ));
        }
        at_least("queue.max_age_secs", q.max_age_secs, 1)?;
        if !(3..=86400).contains(&q.lease_secs) {
            return Err(ConfigError::invalid(
                "queue.lease_secs",
                "must be 3 to 86400 (seconds)",
            ));
        }
        Ok(())
    }
}

/// A DNS zone name for a blocklist: dot-separated labels of letters, digits, `-` and
/// `_`, each 1-63 octets, at most 253 in all (RFC 1035 §2.3.4); a trailing dot is allowed.
fn check_dns_zone(zone: &str) -> Result<(), String> {
    let name = zone.strip_suffix('.').unwrap_or(zone);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(format!("{zone:?} is not a DNS zone name"));
    }
    Ok(())
}

fn at_least(key: &str, value: u64, min: u64) -> Result<(), ConfigError> {
    if value < min {
        Err(ConfigError::invalid(key, format!("must be at least {min}")))
    } else {
        Ok(())
    }
}

/// A count as `u64`, for [`at_least`].
fn wide(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Non-empty, at most 255 octets (RFC 5321 §4.5.3.1.2), and nothing that could
/// break the greeting or a header: no whitespace, no control characters.
fn check_hostname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if name.len() > 255 {
        return Err("must be at most 255 characters (RFC 5321 §4.5.3.1.2)".to_owned());
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{name:?} must not contain spaces or control characters"
        ));
    }
    Ok(())
}

/// The file exists and is a file (it is read later, by the server).
fn check_file(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(format!("{:?} is not a file", path.display().to_string())),
        Err(e) => Err(format!(
            "cannot read {:?}: {}",
            path.display().to_string(),
            os_reason(&e)
        )),
    }
}

/// The level names `tracing` knows (`LevelFilter`'s `FromStr`), plus `0` to `5`.
const LEVELS: [&str; 12] = [
    "off", "error", "warn", "info", "debug", "trace", "0", "1", "2", "3", "4", "5",
];

fn is_level(s: &str) -> bool {
    LEVELS.iter().any(|l| l.eq_ignore_ascii_case(s))
}

/// A plausibility check of an `EnvFilter` string, without depending on
/// `tracing-subscriber`: comma-separated directives, each a level (`info`) or
/// `target[span{field=value}]=level`. Stricter than `EnvFilter` in one way: a
/// bare word must be a level, since `EnvFilter` would take a misspelt level
/// (`"inf"`) as a target and log nothing else.
fn check_log_level(filter: &str) -> Result<(), String> {
    if filter.trim().is_empty() {
        return Err(r#"must not be empty (try "info")"#.to_owned());
    }
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let first = directive.chars().next().unwrap_or(' ');
        if !(first == '[' || first.is_alphanumeric() || "-:_".contains(first)) {
            return Err(format!("{directive:?} is not a filter directive"));
        }
        // The level follows the last '=' that is outside `[...]` and `{...}`.
        let mut depth = 0i32;
        let mut eq = None;
        for (i, c) in directive.char_indices() {
            match c {
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                '=' if depth == 0 => eq = Some(i),
                _ => {}
            }
        }
        match eq {
            Some(i) => {
                let level = directive[i + 1..].trim();
                if !is_level(level) {
                    return Err(format!(
                        "{directive:?}: {level:?} is not a level (trace, debug, info, warn, error, off)"
                    ));
                }
            }
            None if !directive.contains('[') && !is_level(directive) => {
                return Err(format!(
                    "{directive:?} is not a level (trace, debug, info, warn, error, off); \
                     for one target write target=level"
                ));
            }
            None => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_log_level;

    #[test]
    fn log_levels() {
        for ok in [
            "info",
            "INFO",
            "warn,server=debug",
            "server::smtp=trace, proto=off",
            "3",
            "[session{id=7}]=debug",
            "server[conn]=info",
            "info,",
        ] {
            assert_eq!(check_log_level(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "  ",
            "inf",
            "server=loud",
            "server=",
            "*=info",
            "info,debgu",
        ] {
            assert!(check_log_level(bad).is_err(), "{bad}");
        }
    }
}
