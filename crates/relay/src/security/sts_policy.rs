//! MTA-STS (RFC 8461) as text: the `_mta-sts` TXT record (§3.1) and the policy file
//! (§3.2), and whether an MX host name matches the policy's `mx` patterns (§4.1).
//!
//! Where it sits: pure; [`super::sts`] feeds it what DNS and the HTTPS fetch returned
//! and keeps the parsed [`Policy`] in the store; [`super::decision`] asks
//! [`Policy::matches`] for each MX host.

use serde::{Deserialize, Serialize};

/// The largest `max_age` a policy may have (RFC 8461 §3.2: 31557600 seconds, a year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// What a policy asks of senders (RFC 8461 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Deliver only to matching MX hosts over verified TLS; otherwise defer.
    Enforce,
    /// Deliver as without a policy, but report failures (TLS-RPT).
    Testing,
    /// No policy is in effect.
    None,
}

impl Mode {
    /// The keyword, as in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A parsed policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// `mode`.
    pub mode: Mode,
    /// `mx` patterns, lower case, without trailing dots: `mx.example.com` or
    /// `*.example.com`.
    pub mx: Vec<String>,
    /// `max_age` in seconds.
    pub max_age: u64,
}

/// The `id` of a `v=STSv1` TXT record (RFC 8461 §3.1), or `None` when the record is
/// not one (no `v=STSv1` first, no valid `id`).
pub fn parse_txt(record: &str) -> Option<String> {
    let mut fields = record.split(';').map(str::trim).filter(|f| !f.is_empty());
    let version = fields.next()?;
    if version.replace(' ', "") != "v=STSv1" {
        return None;
    }
    let mut id = None;
    for field in fields {
        let (key, value) = field.split_once('=')?;
        if key.trim() == "id" {
            let value = value.trim();
            // §3.1: 1*32(ALPHA / DIGIT)
            if value.is_empty()
                || value.len() > 32
                || !value.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return None;
            }
            id = Some(value.to_owned());
        }
    }
    id
}

/// Parses a policy file (RFC 8461 §3.2): `key: value` lines (CRLF or LF), `version:
/// STSv1`, `mode`, at least one `mx` unless the mode is `none`, `max_age` up to
/// [`MAX_AGE_LIMIT`]; unknown keys are ignored.
pub fn parse_policy(text: &str) -> Result<Policy, String> {
    let mut version = None;
    let mut mode = None;
    let mut mx = Vec::new();
    let mut max_age = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("line without a colon: {:?}", truncate(line)));
        };
        let value = value.trim();
        match key.trim() {
            "version" => version = Some(value.to_owned()),
            "mode" => {
                mode = Some(match value {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    other => return Err(format!("unknown mode {:?}", truncate(other))),
                })
            }
            "mx" => {
                let pattern = value.trim_end_matches('.').to_ascii_lowercase();
                if pattern.is_empty() || pattern.contains(char::is_whitespace) {
                    return Err(format!("bad mx pattern {:?}", truncate(value)));
                }
                if mx.len() < 100 {
                    mx.push(pattern);
                }
            }
            "max_age" => {
                let age: u64 = value
                    .parse()
                    .map_err(|_| format!("bad max_age {:?}", truncate(value)))?;
                max_age = Some(age.min(MAX_AGE_LIMIT));
            }
            _ => {}
        }
    }
    if version.as_deref() != Some("STSv1") {
        return Err("no \"version: STSv1\"".into());
    }
    let mode = mode.ok_or("no mode")?;
    let max_age = max_age.ok_or("no max_age")?;
    if mx.is_empty() && mode != Mode::None {
        return Err("no mx".into());
    }
    Ok(Policy { mode, mx, max_age })
}

impl Policy {
    /// Whether the MX host `host` matches one of the `mx` patterns (RFC 8461 §4.1): an
    /// exact name, or `*.suffix` matching exactly one more leftmost label.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx
            .iter()
            .any(|pattern| match pattern.strip_prefix("*.") {
                Some(suffix) => host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
                None => *pattern == host,
            })
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_records() {
        assert_eq!(
            parse_txt("v=STSv1; id=20160831085700Z;").as_deref(),
            Some("20160831085700Z")
        );
        assert_eq!(parse_txt("v=STSv1;id=abc").as_deref(), Some("abc"));
        assert_eq!(parse_txt("v=STSv2; id=abc"), None);
        assert_eq!(parse_txt("id=abc; v=STSv1"), None);
        assert_eq!(parse_txt("v=STSv1; id=a-b"), None);
        assert_eq!(parse_txt("v=STSv1;"), None);
        assert_eq!(parse_txt(&format!("v=STSv1; id={}", "a".repeat(33))), None);
    }

    #[test]
    fn the_rfc_example_parses() {
        let text = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n\
                    mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";
        let p = parse_policy(text).unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604800);
        assert!(p.matches("mail.example.com"));
        assert!(p.matches("MAIL.example.com."));
        assert!(p.matches("mx1.example.net"));
        assert!(!p.matches("example.net"));
        assert!(!p.matches("a.b.example.net"));
        assert!(!p.matches("mail.example.org"));
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(parse_policy("mode: enforce\nmx: a\nmax_age: 1\n").is_err());
        assert!(parse_policy("version: STSv1\nmode: enforce\nmax_age: 1\n").is_err());
        assert!(parse_policy("version: STSv1\nmode: bogus\nmx: a\nmax_age: 1\n").is_err());
        assert!(parse_policy("version: STSv1\nmode: enforce\nmx: a\n").is_err());
        assert!(parse_policy("version: STSv1\nmode: enforce\nmx: a\nmax_age: x\n").is_err());
        assert!(parse_policy("garbage").is_err());
        let none = parse_policy("version: STSv1\nmode: none\nmax_age: 99999999999\n").unwrap();
        assert_eq!(none.max_age, MAX_AGE_LIMIT);
    }
}
