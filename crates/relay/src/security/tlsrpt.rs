//! TLS-RPT (RFC 8460): what each outbound TLS attempt is recorded as, the day's
//! results per recipient domain in the store, and the JSON report (§4.4) built from
//! them.
//!
//! Where it sits: [`crate::outbound::Relay`] calls [`Recorder::record`] after each
//! attempt at an MX host of a domain it applied a policy (or none) to; the server's
//! daily sender reads a finished day with [`Recorder::day`] and turns each domain's
//! [`DayRecord`] into a report with [`report_json`]. Records live under
//! `tls-rpt/YYYY-MM-DD/DOMAIN`. An attempt is counted in memory at once; the counts
//! reach the store at most [`FLUSH_EVERY`] later, merged read-modify-write under a
//! lock of this process (two nodes writing the same key at the same instant can lose
//! one count: reports are statistics, RFC 8460 §4.4 does not ask for more). Writing
//! each attempt through was a store write per delivery, one after another under that
//! lock, and capped the relay at the store's commit rate. A crash loses at most the
//! last [`FLUSH_EVERY`] of counts. Each policy keeps at most [`MAX_DETAILS`] distinct
//! failure details.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::values::Values;

/// The most distinct failure details kept per policy per domain per day.
pub const MAX_DETAILS: usize = 50;

/// How long counts may wait in memory before they are written to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The key prefix of the day records.
pub const PREFIX: &str = "tls-rpt/";

/// RFC 8460 §4.3 result types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    /// §4.3.1 `starttls-not-supported`.
    StarttlsNotSupported,
    /// §4.3.1 `certificate-host-mismatch`.
    CertificateHostMismatch,
    /// §4.3.1 `certificate-expired`.
    CertificateExpired,
    /// §4.3.1 `certificate-not-trusted`.
    CertificateNotTrusted,
    /// §4.3.1 `validation-failure`.
    ValidationFailure,
    /// §4.3.2.1 `tlsa-invalid`.
    TlsaInvalid,
    /// §4.3.2.1 `dnssec-invalid`.
    DnssecInvalid,
    /// §4.3.2.1 `dane-required`.
    DaneRequired,
    /// §4.3.2.2 `sts-policy-fetch-error`.
    StsPolicyFetchError,
    /// §4.3.2.2 `sts-policy-invalid`.
    StsPolicyInvalid,
    /// §4.3.2.2 `sts-webpki-invalid`.
    StsWebpkiInvalid,
}

impl ResultType {
    /// The report's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultType::StarttlsNotSupported => "starttls-not-supported",
            ResultType::CertificateHostMismatch => "certificate-host-mismatch",
            ResultType::CertificateExpired => "certificate-expired",
            ResultType::CertificateNotTrusted => "certificate-not-trusted",
            ResultType::ValidationFailure => "validation-failure",
            ResultType::TlsaInvalid => "tlsa-invalid",
            ResultType::DnssecInvalid => "dnssec-invalid",
            ResultType::DaneRequired => "dane-required",
            ResultType::StsPolicyFetchError => "sts-policy-fetch-error",
            ResultType::StsPolicyInvalid => "sts-policy-invalid",
            ResultType::StsWebpkiInvalid => "sts-webpki-invalid",
        }
    }

    /// The result type a certificate verification error (rustls's text) means.
    pub fn of_tls_error(text: &str) -> ResultType {
        let t = text.to_ascii_lowercase();
        // X.7.4: STARTTLS required but not offered (the client's own refusal).
        if t.starts_with("4.7.4") || t.starts_with("5.7.4") {
            return ResultType::StarttlsNotSupported;
        }
        if t.contains("notvalidforname") || t.contains("not valid for name") {
            ResultType::CertificateHostMismatch
        } else if t.contains("expired") {
            ResultType::CertificateExpired
        } else if t.contains("unknownissuer")
            || t.contains("unknown issuer")
            || t.contains("badsignature")
        {
            ResultType::CertificateNotTrusted
        } else if t.contains("starttls") && (t.contains("not offered") || t.contains("refused")) {
            ResultType::StarttlsNotSupported
        } else {
            ResultType::ValidationFailure
        }
    }
}

/// The policy a result was under (RFC 8460 §4.4 "policy").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyId {
    /// `sts`, `tlsa` or `no-policy-found`.
    #[serde(rename = "policy-type")]
    pub policy_type: String,
    /// The policy as text lines (the STS file's lines, the TLSA records).
    #[serde(
        rename = "policy-string",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub policy_string: Vec<String>,
    /// The recipient domain.
    #[serde(rename = "policy-domain")]
    pub policy_domain: String,
    /// STS: the policy's mx patterns.
    #[serde(rename = "mx-host", default, skip_serializing_if = "Vec::is_empty")]
    pub mx_host: Vec<String>,
}

/// One failure detail (RFC 8460 §4.4 "failure-details"), with its count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureDetail {
    /// The result type.
    #[serde(rename = "result-type")]
    pub result_type: String,
    /// The MX host.
    #[serde(
        rename = "receiving-mx-hostname",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub receiving_mx_hostname: Option<String>,
    /// Its address.
    #[serde(
        rename = "receiving-ip",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub receiving_ip: Option<String>,
    /// Sessions that failed this way.
    #[serde(rename = "failed-session-count")]
    pub failed_session_count: u64,
    /// Free text.
    #[serde(
        rename = "failure-reason-code",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub failure_reason_code: Option<String>,
}

/// The results under one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyResults {
    /// The policy.
    pub policy: PolicyId,
    /// `total-successful-session-count` and `total-failure-session-count`.
    pub summary: Summary,
    /// Distinct failures, at most [`MAX_DETAILS`].
    #[serde(rename = "failure-details", default)]
    pub failure_details: Vec<FailureDetail>,
}

/// The summary counts (RFC 8460 §4.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Successful sessions.
    #[serde(rename = "total-successful-session-count")]
    pub successful: u64,
    /// Failed sessions.
    #[serde(rename = "total-failure-session-count")]
    pub failed: u64,
}

/// A domain's results for one UTC day: one entry per policy seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRecord {
    /// The policies.
    pub policies: Vec<PolicyResults>,
}

/// One attempt's result.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The policy applied.
    pub policy: PolicyId,
    /// `None`: the TLS session was set up as the policy asks.
    pub failure: Option<(ResultType, Option<String>)>,
    /// The MX host.
    pub host: Option<String>,
    /// Its address.
    pub ip: Option<String>,
}

impl DayRecord {
    /// Adds one attempt.
    pub fn add(&mut self, attempt: &Attempt) {
        let entry = self.policy_mut(&attempt.policy);
        let Some((kind, reason)) = &attempt.failure else {
            entry.summary.successful += 1;
            return;
        };
        entry.summary.failed += 1;
        entry.add_detail(FailureDetail {
            result_type: kind.as_str().to_owned(),
            receiving_mx_hostname: attempt.host.clone(),
            receiving_ip: attempt.ip.clone(),
            failed_session_count: 1,
            failure_reason_code: reason.as_ref().map(|r| r.chars().take(200).collect()),
        });
    }

    /// Adds the counts and details of `other` (the same domain and day) to these.
    pub fn merge(&mut self, other: DayRecord) {
        for theirs in other.policies {
            let entry = self.policy_mut(&theirs.policy);
            entry.summary.successful += theirs.summary.successful;
            entry.summary.failed += theirs.summary.failed;
            for detail in theirs.failure_details {
                entry.add_detail(detail);
            }
        }
    }

    /// The results of `policy`, added when first seen.
    fn policy_mut(&mut self, policy: &PolicyId) -> &mut PolicyResults {
        let index = match self.policies.iter().position(|p| &p.policy == policy) {
            Some(i) => i,
            None => {
                self.policies.push(PolicyResults {
                    policy: policy.clone(),
                    summary: Summary::default(),
                    failure_details: Vec::new(),
                });
                self.policies.len() - 1
            }
        };
        &mut self.policies[index]
    }
}

impl PolicyResults {
    /// Counts `detail`'s sessions into the same failure at the same host, or keeps it
    /// as a new one while there are fewer than [`MAX_DETAILS`].
    fn add_detail(&mut self, detail: FailureDetail) {
        let room = self.failure_details.len() < MAX_DETAILS;
        let same = self.failure_details.iter_mut().find(|d| {
            d.result_type == detail.result_type
                && d.receiving_mx_hostname == detail.receiving_mx_hostname
                && d.receiving_ip == detail.receiving_ip
        });
        match same {
            Some(d) => d.failed_session_count += detail.failed_session_count,
            None if room => self.failure_details.push(detail),
            None => {}
        }
    }
}

/// Records attempts into the day records. Cloning shares the counts.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<RecorderInner>,
}

struct RecorderInner {
    values: Arc<dyn Values>,
    /// Counts not yet in the store, by key, and whether a flush is on its way.
    pending: std::sync::Mutex<Pending>,
    /// Held while the store's records are read, merged and written back.
    lock: Mutex<()>,
}

#[derive(Default)]
struct Pending {
    records: HashMap<String, DayRecord>,
    flush_scheduled: bool,
    last_flush: Option<Instant>,
}

impl Recorder {
    /// Records into `values`.
    pub fn new(values: Arc<dyn Values>) -> Self {
        Recorder {
            inner: Arc::new(RecorderInner {
                values,
                pending: std::sync::Mutex::new(Pending::default()),
                lock: Mutex::new(()),
            }),
        }
    }

    /// Adds `attempt` to `domain`'s record of `day` (`YYYY-MM-DD`): counted in memory
    /// now, written to the store at once when nothing was written for
    /// [`FLUSH_EVERY`], else by a flush that follows within that time.
    pub async fn record(&self, day: &str, domain: &str, attempt: &Attempt) {
        let key = format!("{PREFIX}{day}/{}", domain.to_ascii_lowercase());
        let flush_now = {
            let mut pending = self.inner.pending.lock().expect("tls-rpt counts");
            pending.records.entry(key).or_default().add(attempt);
            if pending.flush_scheduled {
                false
            } else if pending
                .last_flush
                .is_none_or(|at| at.elapsed() >= FLUSH_EVERY)
            {
                true
            } else {
                pending.flush_scheduled = true;
                let recorder = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(FLUSH_EVERY).await;
                    recorder.flush().await;
                });
                false
            }
        };
        tracing::debug!("TLS-RPT result recorded");
        if flush_now {
            self.flush().await;
        }
    }

    /// Writes the counts kept in memory to the store, each merged into the stored
    /// record of its key.
    pub async fn flush(&self) {
        let _guard = self.inner.lock.lock().await;
        let records = {
            let mut pending = self.inner.pending.lock().expect("tls-rpt counts");
            pending.flush_scheduled = false;
            pending.last_flush = Some(Instant::now());
            std::mem::take(&mut pending.records)
        };
        let values = &self.inner.values;
        for (key, counted) in records {
            let mut record: DayRecord = values
                .get(&key)
                .await
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default();
            record.merge(counted);
            if let Ok(bytes) = serde_json::to_vec(&record) {
                values.put(&key, &bytes).await;
            }
        }
    }

    /// Every domain's record of `day`.
    pub async fn day(&self, day: &str) -> Vec<(String, DayRecord)> {
        self.flush().await;
        let prefix = format!("{PREFIX}{day}/");
        self.inner
            .values
            .list(&prefix)
            .await
            .into_iter()
            .filter_map(|(key, bytes)| {
                let domain = key.strip_prefix(&prefix)?.to_owned();
                Some((domain, serde_json::from_slice(&bytes).ok()?))
            })
            .collect()
    }

    /// Forgets `domain`'s record of `day` (after it was reported).
    pub async fn forget(&self, day: &str, domain: &str) {
        self.inner
            .values
            .delete(&format!("{PREFIX}{day}/{domain}"))
            .await;
    }
}

/// Who is reporting (RFC 8460 §4.4).
#[derive(Debug, Clone)]
pub struct Reporter {
    /// `organization-name`.
    pub organization: String,
    /// `contact-info`.
    pub contact: String,
}

/// The JSON report (RFC 8460 §4.4) of `record` for `day` (`YYYY-MM-DD`, the whole UTC
/// day), with `report_id`.
pub fn report_json(reporter: &Reporter, day: &str, report_id: &str, record: &DayRecord) -> String {
    let policies: Vec<serde_json::Value> = record
        .policies
        .iter()
        .map(|p| {
            serde_json::json!({
                "policy": p.policy,
                "summary": p.summary,
                "failure-details": p.failure_details,
            })
        })
        .collect();
    serde_json::json!({
        "organization-name": reporter.organization,
        "date-range": {
            "start-datetime": format!("{day}T00:00:00Z"),
            "end-datetime": format!("{day}T23:59:59Z"),
        },
        "contact-info": reporter.contact,
        "report-id": report_id,
        "policies": policies,
    })
    .to_string()
}

/// The `rua` URIs of a `_smtp._tls` TXT record (RFC 8460 §3: `v=TLSRPTv1; rua=a,b`),
/// or `None` when it is not one.
pub fn parse_txt(record: &str) -> Option<Vec<String>> {
    let mut fields = record.split(';').map(str::trim).filter(|f| !f.is_empty());
    if fields.next()?.replace(' ', "") != "v=TLSRPTv1" {
        return None;
    }
    for field in fields {
        if let Some(("rua", value)) = field.split_once('=').map(|(k, v)| (k.trim(), v)) {
            let uris: Vec<String> = value
                .split(',')
                .map(|u| u.trim().to_owned())
                .filter(|u| u.starts_with("mailto:") || u.starts_with("https:"))
                .take(10)
                .collect();
            return (!uris.is_empty()).then_some(uris);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::values::MemoryValues;

    fn sts() -> PolicyId {
        PolicyId {
            policy_type: "sts".into(),
            policy_string: vec!["version: STSv1".into(), "mode: testing".into()],
            policy_domain: "example.test".into(),
            mx_host: vec!["mx.example.test".into()],
        }
    }

    #[tokio::test]
    async fn counts_and_details_add_up() {
        let recorder = Recorder::new(Arc::new(MemoryValues::default()));
        let ok = Attempt {
            policy: sts(),
            failure: None,
            host: Some("mx".into()),
            ip: None,
        };
        let bad = Attempt {
            failure: Some((ResultType::CertificateNotTrusted, None)),
            ..ok.clone()
        };
        recorder.record("2026-12-05", "Example.test", &ok).await;
        recorder.record("2026-12-05", "example.test", &bad).await;
        recorder.record("2026-12-05", "example.test", &bad).await;
        let day = recorder.day("2026-12-05").await;
        assert_eq!(day.len(), 1);
        let (domain, record) = &day[0];
        assert_eq!(domain, "example.test");
        let p = &record.policies[0];
        assert_eq!((p.summary.successful, p.summary.failed), (1, 2));
        assert_eq!(p.failure_details.len(), 1);
        assert_eq!(p.failure_details[0].failed_session_count, 2);
        let reporter = Reporter {
            organization: "Org".into(),
            contact: "pm@x".into(),
        };
        let json: serde_json::Value =
            serde_json::from_str(&report_json(&reporter, "2026-12-05", "id1", record)).unwrap();
        assert_eq!(json["policies"][0]["policy"]["policy-type"], "sts");
        assert_eq!(
            json["policies"][0]["summary"]["total-failure-session-count"],
            2
        );
        assert_eq!(
            json["policies"][0]["failure-details"][0]["result-type"],
            "certificate-not-trusted"
        );
        assert_eq!(json["date-range"]["start-datetime"], "2026-12-05T00:00:00Z");
    }

    /// The successful sessions the store holds for `example.test` on the test's day.
    async fn stored_successes(values: &MemoryValues) -> u64 {
        values
            .get("tls-rpt/2026-12-05/example.test")
            .await
            .and_then(|bytes| serde_json::from_slice::<DayRecord>(&bytes).ok())
            .map_or(0, |r| r.policies[0].summary.successful)
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_attempts_is_one_write_within_the_flush_interval() {
        let values = Arc::new(MemoryValues::default());
        let recorder = Recorder::new(values.clone());
        let ok = Attempt {
            policy: sts(),
            failure: None,
            host: Some("mx".into()),
            ip: None,
        };
        for _ in 0..100 {
            recorder.record("2026-12-05", "example.test", &ok).await;
        }
        // The first went to the store at once; the rest wait for the next flush.
        assert_eq!(stored_successes(&values).await, 1);
        tokio::time::sleep(FLUSH_EVERY + Duration::from_millis(10)).await;
        assert_eq!(stored_successes(&values).await, 100);
        // Counts of another process (or before a restart) are added to, not replaced.
        let other = Recorder::new(values.clone());
        other.record("2026-12-05", "example.test", &ok).await;
        let day = recorder.day("2026-12-05").await;
        assert_eq!(day[0].1.policies[0].summary.successful, 101);
    }

    #[test]
    fn merged_details_add_up_and_stay_bounded() {
        let failing = |host: String| Attempt {
            policy: sts(),
            failure: Some((ResultType::ValidationFailure, None)),
            host: Some(host),
            ip: None,
        };
        let mut stored = DayRecord::default();
        let mut counted = DayRecord::default();
        for i in 0..40 {
            stored.add(&failing(format!("mx{i}")));
            counted.add(&failing(format!("mx{}", i + 20)));
        }
        stored.merge(counted);
        let p = &stored.policies[0];
        assert_eq!(p.summary.failed, 80);
        assert_eq!(p.failure_details.len(), MAX_DETAILS);
        let mx20 = p
            .failure_details
            .iter()
            .find(|d| d.receiving_mx_hostname.as_deref() == Some("mx20"));
        assert_eq!(mx20.unwrap().failed_session_count, 2);
    }

    #[test]
    fn details_are_bounded() {
        let mut record = DayRecord::default();
        for i in 0..(MAX_DETAILS + 20) {
            record.add(&Attempt {
                policy: sts(),
                failure: Some((ResultType::ValidationFailure, None)),
                host: Some(format!("mx{i}")),
                ip: None,
            });
        }
        assert_eq!(record.policies[0].failure_details.len(), MAX_DETAILS);
        assert_eq!(record.policies[0].summary.failed, (MAX_DETAILS + 20) as u64);
    }

    #[test]
    fn rua_records() {
        assert_eq!(
            parse_txt("v=TLSRPTv1; rua=mailto:a@b.test,https://r.test/x").unwrap(),
            ["mailto:a@b.test", "https://r.test/x"]
        );
        assert_eq!(parse_txt("v=TLSRPTv2; rua=mailto:a@b"), None);
        assert_eq!(parse_txt("v=TLSRPTv1;"), None);
        assert_eq!(
            ResultType::of_tls_error("invalid peer certificate: UnknownIssuer"),
            ResultType::CertificateNotTrusted
        );
        assert_eq!(
            ResultType::of_tls_error("4.7.4 TLS is required, but was not offered by 192.0.2.1:25"),
            ResultType::StarttlsNotSupported
        );
        assert_eq!(
            ResultType::of_tls_error(
                "4.7.5 TLS handshake failed: invalid peer certificate: NotValidForName"
            ),
            ResultType::CertificateHostMismatch
        );
        assert_eq!(
            ResultType::of_tls_error(
                "4.7.5 TLS handshake failed: invalid peer certificate: Expired"
            ),
            ResultType::CertificateExpired
        );
    }
}
