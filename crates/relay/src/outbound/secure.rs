//! Delivery to a domain's MX hosts under its transport security policies: MTA-STS
//! (RFC 8461 §5), DANE (RFC 7672) and REQUIRETLS (RFC 8689 §4.2.1), recording each TLS
//! attempt for TLS-RPT (RFC 8460).
//!
//! Where it sits: [`super::Relay::deliver_domain`] calls [`Relay::deliver_secure`] for a
//! domain that does not go through the smarthost. Per host, [`decision::plan`] says
//! which client settings to use or that the host is skipped; a verified session that
//! fails its TLS check moves on to the next host (or, under a testing policy, is
//! retried opportunistically after recording the failure). Without an attached
//! [`crate::security::Security`], only REQUIRETLS applies (and then no host verifies).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::client::{ClientConfig, ClientError, TlsMode};
use crate::security::Security;
use crate::security::decision::{self, Asks, Dane, Plan, Tls, Under};
use crate::security::sts::Found;
use crate::security::tlsa::{self, Tlsa};
use crate::security::tlsrpt::{Attempt, PolicyId, ResultType};

use super::route::Target;
use super::tried::{Failure, Tried};
use super::{Message, Outcome, Relay, outcome_of};

impl Relay {
    /// Tries `targets` in order for `recipients` of `domain`; the outcomes once a host
    /// decided, else nothing (with each host's failure in `tried` and `all_permanent`
    /// updated).
    pub(super) async fn deliver_secure(
        &self,
        message: &Message<'_>,
        domain: &str,
        targets: &[Target],
        recipients: &[usize],
        tried: &mut Tried,
        all_permanent: &mut bool,
    ) -> Vec<(usize, Outcome)> {
        let security = self.security.as_deref();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let day = utc_day(now);
        let found = match security.and_then(|s| s.sts.as_ref()) {
            Some(sts) => sts.policy(domain, now).await,
            None => Found::None,
        };
        let sts = match &found {
            Found::Policy(cached) => Some(cached),
            Found::Failed(kind, why) => {
                let policy = policy_id("sts", domain, Vec::new(), Vec::new());
                record(
                    security,
                    &day,
                    domain,
                    policy,
                    Some((*kind, Some(why.clone()))),
                    None,
                    None,
                )
                .await;
                None
            }
            Found::None => None,
        };
        let asks = Asks {
            require_tls: message.require_tls,
            tls_optional: crate::security::tls_required_no(message.body),
        };
        for target in targets {
            let dane = self.dane_of(security, &target.name).await;
            let under_id = |under: Under| match under {
                Under::Sts => policy_id(
                    "sts",
                    domain,
                    sts.map(|c| c.text.clone()).unwrap_or_default(),
                    sts.map(|c| c.policy.mx.clone()).unwrap_or_default(),
                ),
                Under::Tlsa => {
                    let records = match &dane {
                        Dane::Usable(r) => r.iter().map(Tlsa::presentation).collect(),
                        _ => Vec::new(),
                    };
                    policy_id("tlsa", domain, records, Vec::new())
                }
                Under::NoPolicy => policy_id("no-policy-found", domain, Vec::new(), Vec::new()),
            };
            let plan = decision::plan(&target.name, &dane, sts.map(|c| &c.policy), asks);
            let (tls, under, report) = match plan {
                Plan::Skip {
                    under,
                    result,
                    permanent,
                    reason,
                } => {
                    tracing::info!(%domain, host = %target.name, %reason, "host skipped by policy");
                    record(
                        security,
                        &day,
                        domain,
                        under_id(under),
                        Some((result, Some(reason.clone()))),
                        Some(&target.name),
                        None,
                    )
                    .await;
                    *all_permanent &= permanent;
                    tried.push(Failure::skipped(&target.name, &reason));
                    continue;
                }
                Plan::Connect { tls, under, report } => (tls, under, report),
            };
            let configs: Vec<(Arc<ClientConfig>, bool)> = match &tls {
                Tls::Opportunistic => vec![(target.config.clone(), false)],
                Tls::Verified => vec![(self.verified_mx.clone(), true)],
                Tls::VerifiedOrReport => vec![
                    (self.verified_mx.clone(), true),
                    (target.config.clone(), false),
                ],
                Tls::Dane(records) => vec![(self.dane_config(&target.name, records), true)],
            };
            for &addr in &target.addresses {
                let peer = format!("{}[{}]", target.name, addr.ip());
                let ip = Some(addr.ip().to_string());
                let mut reported = false;
                for (config, verified) in &configs {
                    let attempt_target = Target {
                        config: config.clone(),
                        ..target.clone()
                    };
                    match self
                        .try_address(message, &attempt_target, addr, recipients)
                        .await
                    {
                        Ok((results, dsn_passed)) => {
                            if !reported {
                                let failure = report.map(|r| {
                                    (r, Some(format!("{} is not in the policy", target.name)))
                                });
                                record(
                                    security,
                                    &day,
                                    domain,
                                    under_id(under),
                                    failure,
                                    Some(&target.name),
                                    ip.clone(),
                                )
                                .await;
                            }
                            return recipients
                                .iter()
                                .zip(results)
                                .map(|(i, result)| (*i, outcome_of(&peer, &result, dsn_passed)))
                                .collect();
                        }
                        Err(e) if *verified && is_tls_failure(&e) => {
                            tracing::info!(%domain, host = %peer, error = %e, "verified TLS failed");
                            let kind = ResultType::of_tls_error(&e.message);
                            let kind = match (&tls, kind) {
                                (
                                    Tls::Verified | Tls::VerifiedOrReport,
                                    ResultType::ValidationFailure,
                                ) if e.message.contains("certificate") => {
                                    ResultType::CertificateNotTrusted
                                }
                                (_, kind) => kind,
                            };
                            record(
                                security,
                                &day,
                                domain,
                                under_id(under),
                                Some((kind, Some(e.message.clone()))),
                                Some(&target.name),
                                ip.clone(),
                            )
                            .await;
                            reported = true;
                            *all_permanent = false;
                            tried.push(Failure::ours(
                                &peer,
                                "4.7.5",
                                &format!(
                                    "TLS as the recipient domain's policy requires failed: {}",
                                    e.message
                                ),
                            ));
                            // Under a testing policy: on, opportunistically.
                        }
                        Err(e) => {
                            tracing::info!(%domain, host = %peer, error = %e, "host failed; trying the next");
                            *all_permanent &= e.permanent;
                            tried.push(Failure::client_error(&peer, &e));
                            break;
                        }
                    }
                }
            }
        }
        Vec::new()
    }

    /// The host's DANE state: only with DANE on and DNSSEC trusted.
    async fn dane_of(&self, security: Option<&Security>, host: &str) -> Dane {
        if !security.is_some_and(|s| s.dane) {
            return Dane::None;
        }
        let name = format!("_25._tcp.{}", host.trim_end_matches('.'));
        match self.dns.tlsa(&name).await {
            Ok((records, true)) if records.iter().any(Tlsa::usable) => Dane::Usable(records),
            Ok(_) => Dane::None,
            // RFC 7672 §2.1: a failed lookup at a validating resolver may hide records
            // an attacker suppressed; the host is not used.
            Err(e) => {
                tracing::info!(%host, error = %e, "TLSA lookup failed");
                Dane::Bogus
            }
        }
    }

    /// The client settings verifying `host` against `records` (kept per record set).
    fn dane_config(&self, host: &str, records: &[Tlsa]) -> Arc<ClientConfig> {
        let key = (host.to_ascii_lowercase(), records.to_vec());
        let mut map = self.dane_configs.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key)
            .or_insert_with(|| {
                Arc::new(ClientConfig {
                    tls: TlsMode::Required,
                    tls_config: tlsa::dane_config(records.to_vec()),
                    ..(**self.routes.mx_config()).clone()
                })
            })
            .clone()
    }
}

/// A failure of TLS itself: STARTTLS missing or refused (X.7.4), or the handshake or
/// certificate check failing (X.7.5).
fn is_tls_failure(e: &ClientError) -> bool {
    e.message.starts_with("4.7.4") || e.message.starts_with("4.7.5") || e.message.contains("4.7.5 ")
}

fn policy_id(kind: &str, domain: &str, strings: Vec<String>, mx: Vec<String>) -> PolicyId {
    PolicyId {
        policy_type: kind.to_owned(),
        policy_string: strings,
        policy_domain: domain.to_ascii_lowercase(),
        mx_host: mx,
    }
}

async fn record(
    security: Option<&Security>,
    day: &str,
    domain: &str,
    policy: PolicyId,
    failure: Option<(ResultType, Option<String>)>,
    host: Option<&str>,
    ip: Option<String>,
) {
    let Some(recorder) = security.and_then(|s| s.recorder.as_ref()) else {
        return;
    };
    let attempt = Attempt {
        policy,
        failure,
        host: host.map(str::to_owned),
        ip,
    };
    recorder.record(day, domain, &attempt).await;
}

/// `YYYY-MM-DD` of the Unix time `now`, in UTC.
pub fn utc_day(now: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(now) {
        Ok(t) => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        Err(_) => "1970-01-01".into(),
    }
}
