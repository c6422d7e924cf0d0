//! Finding a recipient domain's MTA-STS policy (RFC 8461 §3, §5.1): the `_mta-sts`
//! TXT record, the policy file over verified HTTPS, and the cache in the store under
//! `mta-sts/DOMAIN`.
//!
//! Where it sits: [`crate::outbound::Relay`] asks [`StsResolver::policy`] once per
//! domain per delivery attempt; the answer feeds [`super::decision::plan`].
//!
//! Rules: a cached policy is used while it is younger than its `max_age` and the TXT
//! `id` is unchanged (or the TXT record is missing or cannot be looked up, §5.1);
//! otherwise the policy is fetched from `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`
//! with a verified certificate, no redirects, at most 64 KiB (§3.3) and a deadline.
//! A failed fetch falls back to the cached policy while it is unexpired (§5.1), else the
//! domain has no policy (and the failure is reported, RFC 8460 §4.3.2.2).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::https;
use super::sts_policy::{self, Policy};
use super::tlsrpt::ResultType;
use super::values::Values;
use crate::dns::DnsResolver;

/// The most a policy file may be (RFC 8461 §3.3).
pub const POLICY_MAX: usize = 64 * 1024;

/// The key prefix of cached policies.
pub const PREFIX: &str = "mta-sts/";

/// A policy as cached.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cached {
    /// The TXT record's id when fetched.
    pub id: String,
    /// When fetched (Unix seconds).
    pub fetched: i64,
    /// The policy.
    pub policy: Policy,
    /// The file's lines (for TLS-RPT's policy-string).
    pub text: Vec<String>,
}

impl Cached {
    fn fresh(&self, now: i64) -> bool {
        now < self.fetched.saturating_add(self.policy.max_age as i64)
    }
}

/// What [`StsResolver::policy`] found.
#[derive(Debug, Clone)]
pub enum Found {
    /// No policy (no TXT record, mode none, nothing cached).
    None,
    /// A policy to apply.
    Policy(Cached),
    /// Discovery failed and nothing usable is cached: no policy, but a failure to report.
    Failed(ResultType, String),
}

/// Looks up policies, with the cache.
pub struct StsResolver {
    dns: DnsResolver,
    tls: Arc<rustls::ClientConfig>,
    values: Arc<dyn Values>,
    timeout: Duration,
}

impl StsResolver {
    /// Fetches with `tls` (a verifying configuration), caches in `values`.
    pub fn new(
        dns: DnsResolver,
        tls: Arc<rustls::ClientConfig>,
        values: Arc<dyn Values>,
        timeout: Duration,
    ) -> Self {
        StsResolver {
            dns,
            tls,
            values,
            timeout,
        }
    }

    /// The policy of `domain` at `now` (Unix seconds).
    pub async fn policy(&self, domain: &str, now: i64) -> Found {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let key = format!("{PREFIX}{domain}");
        let cached: Option<Cached> = self
            .values
            .get(&key)
            .await
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .filter(|c: &Cached| c.fresh(now));
        let id = match self.dns.txt(&format!("_mta-sts.{domain}")).await {
            Ok(records) => {
                let ids: Vec<String> = records
                    .iter()
                    .filter_map(|r| sts_policy::parse_txt(r))
                    .collect();
                // §3.1: more than one STSv1 record is as good as none.
                if ids.len() == 1 {
                    ids.into_iter().next()
                } else {
                    None
                }
            }
            Err(e) => {
                tracing::debug!(%domain, error = %e, "MTA-STS TXT lookup failed");
                None
            }
        };
        let Some(id) = id else {
            return cached.map_or(Found::None, found);
        };
        if let Some(c) = cached.as_ref().filter(|c| c.id == id) {
            return found(c.clone());
        }
        match self.fetch(&domain).await {
            Ok((policy, text)) => {
                let entry = Cached {
                    id,
                    fetched: now,
                    policy,
                    text,
                };
                if let Ok(bytes) = serde_json::to_vec(&entry) {
                    self.values.put(&key, &bytes).await;
                }
                found(entry)
            }
            Err((kind, why)) => {
                tracing::info!(%domain, error = %why, "MTA-STS policy fetch failed");
                match cached {
                    Some(c) => found(c),
                    None => Found::Failed(kind, why),
                }
            }
        }
    }

    async fn fetch(&self, domain: &str) -> Result<(Policy, Vec<String>), (ResultType, String)> {
        let host = format!("mta-sts.{domain}");
        let response = https::get(
            &self.dns,
            self.tls.clone(),
            &host,
            "/.well-known/mta-sts.txt",
            POLICY_MAX,
            self.timeout,
        )
        .await
        .map_err(|e| {
            let kind = match &e {
                https::HttpsError::Tls(text)
                    if text.to_ascii_lowercase().contains("certificate") =>
                {
                    ResultType::StsWebpkiInvalid
                }
                _ => ResultType::StsPolicyFetchError,
            };
            (kind, format!("{host}: {e}"))
        })?;
        if response.status != 200 {
            return Err((
                ResultType::StsPolicyFetchError,
                format!("{host}: HTTP status {}", response.status),
            ));
        }
        let text = String::from_utf8(response.body).map_err(|_| {
            (
                ResultType::StsPolicyInvalid,
                format!("{host}: policy not UTF-8"),
            )
        })?;
        let policy = sts_policy::parse_policy(&text)
            .map_err(|e| (ResultType::StsPolicyInvalid, format!("{host}: {e}")))?;
        let lines = text
            .lines()
            .map(|l| l.trim_end_matches('\r').to_owned())
            .filter(|l| !l.is_empty())
            .take(110)
            .collect();
        Ok((policy, lines))
    }
}

fn found(c: Cached) -> Found {
    if c.policy.mode == sts_policy::Mode::None {
        Found::None
    } else {
        Found::Policy(c)
    }
}
