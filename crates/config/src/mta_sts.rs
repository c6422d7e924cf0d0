//! The `[mta_sts]` section: the MTA-STS policy (RFC 8461) this server publishes for
//! its local domains, telling other servers to deliver to it only over TLS with a
//! valid certificate.
//!
//! Where it sits: read by the web face, which serves the policy at
//! `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` (RFC 8461 §3.3), and by
//! `postie dns records`, which prints the `_mta-sts.DOMAIN` TXT record whose `id`
//! follows the policy text (§3.1). The text itself is made by
//! `mailauth::sts_publish`. Both read the configuration in force, so a reload
//! changes what is served and printed.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// RFC 8461 §3.2: `max_age` is at most 31557600 seconds (about a year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// What sending servers do when they cannot deliver over verified TLS (RFC 8461
/// §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MtaStsMode {
    /// Deliver anyway, and report the failure (TLS-RPT). The default: the safe
    /// first step while the certificate and the MX names are checked.
    #[default]
    Testing,
    /// Do not deliver without verified TLS to a listed MX.
    Enforce,
    /// No policy: the way to withdraw one that senders have cached (§5 / §8.3).
    None,
}

impl MtaStsMode {
    /// The `mode:` value of the policy (RFC 8461 §3.2).
    pub fn as_str(self) -> &'static str {
        match self {
            MtaStsMode::Testing => "testing",
            MtaStsMode::Enforce => "enforce",
            MtaStsMode::None => "none",
        }
    }
}

/// The `[mta_sts]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MtaSts {
    /// `"testing"`, `"enforce"` or `"none"`. Default `"testing"`.
    pub mode: MtaStsMode,
    /// Seconds senders may cache the policy. Default 604800 (one week); 1 to
    /// 31557600 (RFC 8461 §3.2).
    pub max_age: u64,
    /// MX host patterns besides `hostname`, which is always listed: host names or
    /// `*.` wildcards of one label (RFC 8461 §4.1). Default empty.
    pub mx: Vec<String>,
}

impl Default for MtaSts {
    fn default() -> Self {
        MtaSts {
            mode: MtaStsMode::default(),
            max_age: 604_800,
            mx: Vec::new(),
        }
    }
}

impl MtaSts {
    /// `max_age` in range; each `mx` pattern a host name, optionally `*.`-prefixed.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_AGE_LIMIT).contains(&self.max_age) {
            return Err(ConfigError::invalid(
                "mta_sts.max_age",
                format!("must be 1 to {MAX_AGE_LIMIT} (RFC 8461 §3.2)"),
            ));
        }
        for pattern in &self.mx {
            if !mx_pattern_ok(pattern) {
                return Err(ConfigError::invalid(
                    "mta_sts.mx",
                    format!(
                        "{pattern:?} is not a host name or a `*.` wildcard of one \
                         (RFC 8461 §4.1)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A host name (letters, digits, hyphens; labels of 1 to 63 octets, 253 in all),
/// optionally `*.` plus a host name of at least two labels.
fn mx_pattern_ok(pattern: &str) -> bool {
    let (wildcard, host) = match pattern.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let labels: Vec<&str> = host.split('.').collect();
    !host.is_empty()
        && host.len() <= 253
        && (!wildcard || labels.len() >= 2)
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_parses_and_is_checked() {
        let c = crate::parse(
            "[mta_sts]\nmode = \"enforce\"\nmax_age = 86400\nmx = [\"*.example.net\"]\n",
            "f.toml",
        )
        .unwrap();
        assert_eq!(c.mta_sts.mode, MtaStsMode::Enforce);
        assert_eq!(c.mta_sts.max_age, 86400);
        assert_eq!(c.mta_sts.mx, ["*.example.net"]);
        assert_eq!(crate::Config::default().mta_sts.mode.as_str(), "testing");
        for (text, key) in [
            ("max_age = 31557601", "mta_sts.max_age"),
            ("max_age = 0", "mta_sts.max_age"),
            ("mx = [\"a b\"]", "mta_sts.mx"),
            ("mode = \"strict\"", "mta_sts.mode"),
        ] {
            let e = crate::parse(&format!("[mta_sts]\n{text}\n"), "f.toml").unwrap_err();
            assert!(e.to_string().contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn mx_patterns() {
        for ok in ["mail.example.org", "*.example.org", "mx1", "a-b.example"] {
            assert!(mx_pattern_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "*.",
            "*.org",
            "a..b",
            "-a.example",
            "a b",
            "*x.example",
            "mail.example.org.",
        ] {
            assert!(!mx_pattern_ok(bad), "{bad}");
        }
    }
}
