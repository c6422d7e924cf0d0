//! TLS-RPT (RFC 8460) on the server: the relay's transport security over the store
//! ([`security`]), and the daily reports ([`send_day`], run once per UTC day by the
//! task [`spawn_daily`] under the store lease `tls-rpt-send`, so one node of a cluster
//! sends; `postie tls-rpt send` runs it at once).
//!
//! Where it sits: `outbound::relay` attaches [`security`]'s result to the relay, whose
//! deliveries record results under `tls-rpt/DAY/DOMAIN`; [`send_day`] reads a day's
//! records, and for each domain whose `_smtp._tls` TXT record names `rua` URIs builds
//! the JSON report (§4.4), gzips it and sends it: by mail through our own queue for
//! `mailto:` (§5.3: multipart/report, `application/tlsrpt+gzip`, the `TLS-Report-Domain`
//! and `TLS-Report-Submitter` fields), by HTTPS POST for `https:` (§5.4, 30 s). A sent
//! (or unreportable) domain's record is deleted.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use config::Config;
use message::{Address, BodyType, Envelope, QueueId};
use relay::dns::DnsResolver;
use relay::security::tlsrpt::{self, Recorder, Reporter};
use relay::security::values::Values;
use relay::security::{Security, sts};
use store::Store;
use tokio::sync::watch;

use crate::ServerError;

/// How long to wait for an MTA-STS policy host or an `https:` report receiver.
const HTTPS_TIMEOUT: Duration = Duration::from_secs(30);

/// [`Values`] over the store's server-owned values; failures are logged.
pub struct StoreValues(pub Arc<dyn Store>);

#[async_trait]
impl Values for StoreValues {
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.0.value_get(key).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(%key, error = %e, "reading a stored value failed");
                None
            }
        }
    }
    async fn put(&self, key: &str, value: &[u8]) {
        if let Err(e) = self.0.value_put(key, value).await {
            tracing::warn!(%key, error = %e, "storing a value failed");
        }
    }
    async fn list(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        self.0.value_list(prefix).await.unwrap_or_else(|e| {
            tracing::warn!(%prefix, error = %e, "listing stored values failed");
            Vec::new()
        })
    }
    async fn delete(&self, key: &str) {
        if let Err(e) = self.0.value_delete(key).await {
            tracing::warn!(%key, error = %e, "deleting a stored value failed");
        }
    }
}

/// The verifying TLS configuration for MX hosts under a policy, policy hosts and
/// report receivers: WebPKI roots plus `relay.tls_ca_file`.
pub fn verified_tls(config: &Config) -> Result<Arc<rustls::ClientConfig>, ServerError> {
    relay::tls::verified_config(config.relay.tls_ca_file.as_deref())
        .map_err(|e| ServerError::Relay(format!("relay.tls_ca_file: {e}")))
}

/// The relay's transport security as `config` says, keeping its values in `store`.
pub(crate) fn security(
    config: &Config,
    store: Arc<dyn Store>,
    dns: DnsResolver,
) -> Result<Security, ServerError> {
    let values: Arc<dyn Values> = Arc::new(StoreValues(store));
    let verified = verified_tls(config)?;
    let sts = config
        .relay
        .mta_sts
        .then(|| sts::StsResolver::new(dns, verified.clone(), values.clone(), HTTPS_TIMEOUT));
    Ok(Security {
        sts,
        dane: config.relay.dane && config.dns.dnssec,
        verified_tls: verified,
        recorder: config
            .tls_rpt
            .enabled
            .then(|| Recorder::new(values.clone())),
    })
}

/// Who the reports are from.
fn reporter(config: &Config) -> Reporter {
    let t = &config.tls_rpt;
    Reporter {
        organization: if t.organization.is_empty() {
            config.hostname.clone()
        } else {
            t.organization.clone()
        },
        contact: if t.contact.is_empty() {
            format!("postmaster@{}", config.hostname)
        } else {
            t.contact.clone()
        },
    }
}

/// What [`send_day`] did for one domain.
#[derive(Debug)]
pub struct Sent {
    /// The recipient domain reported on.
    pub domain: String,
    /// Each rua and what became of it (`queued <id>`, `posted`, or an error).
    pub results: Vec<(String, String)>,
}

/// Sends the reports of `day` (`YYYY-MM-DD`) for every recorded domain that asks for
/// them; returns what was done.
pub async fn send_day(
    config: &Config,
    store: Arc<dyn Store>,
    day: &str,
) -> Result<Vec<Sent>, ServerError> {
    let dns = DnsResolver::new(&config.dns.nameservers)
        .map_err(|e| ServerError::Relay(format!("DNS resolver: {e}")))?;
    let tls = verified_tls(config)?;
    let recorder = Recorder::new(Arc::new(StoreValues(store.clone())));
    let reporter = reporter(config);
    let mut out = Vec::new();
    for (domain, record) in recorder.day(day).await {
        let rua = match dns.txt(&format!("_smtp._tls.{domain}")).await {
            Ok(records) => records.iter().find_map(|r| tlsrpt::parse_txt(r)),
            Err(e) => {
                // Kept for the next run.
                tracing::info!(%domain, error = %e, "TLS-RPT record lookup failed");
                let what = format!("_smtp._tls.{domain}");
                let why = format!("lookup failed, results kept: {e}");
                out.push(Sent {
                    domain,
                    results: vec![(what, why)],
                });
                continue;
            }
        };
        let mut results = Vec::new();
        if let Some(rua) = rua {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let report_id = format!(
                "{day}_{domain}_{}@{}",
                rand::random::<u32>(),
                config.hostname
            );
            let json = tlsrpt::report_json(&reporter, day, &report_id, &record);
            let gz = gzip(json.as_bytes());
            for uri in rua {
                let result = if let Some(to) = uri.strip_prefix("mailto:") {
                    let body = mail(
                        &reporter,
                        &config.hostname,
                        &domain,
                        day,
                        &report_id,
                        &gz,
                        now,
                    );
                    enqueue(store.as_ref(), &reporter, to, &body, now).await
                } else {
                    post(&dns, tls.clone(), &uri, &gz).await
                };
                tracing::info!(%domain, %uri, %result, "TLS-RPT report");
                results.push((uri, result));
            }
        }
        recorder.forget(day, &domain).await;
        out.push(Sent { domain, results });
    }
    Ok(out)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// The report mail (RFC 8460 §5.3).
fn mail(
    reporter: &Reporter,
    hostname: &str,
    domain: &str,
    day: &str,
    report_id: &str,
    gz: &[u8],
    now: u64,
) -> Vec<u8> {
    let boundary = format!("tlsrpt-{:08x}", rand::random::<u32>());
    let date = time::OffsetDateTime::from_unix_timestamp(now as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_default();
    let org = &reporter.organization;
    let encoded = base64::engine::general_purpose::STANDARD.encode(gz);
    let mut wrapped = String::new();
    for chunk in encoded.as_bytes().chunks(76) {
        wrapped.push_str(&String::from_utf8_lossy(chunk));
        wrapped.push_str("\r\n");
    }
    let filename = format!("{hostname}!{domain}!{day}T00:00:00Z!{day}T23:59:59Z.json.gz");
    format!(
        "From: <{from}>\r\n\
         Date: {date}\r\n\
         Subject: Report Domain: {domain} Submitter: {org} Report-ID: <{report_id}>\r\n\
         TLS-Report-Domain: {domain}\r\n\
         TLS-Report-Submitter: {org}\r\n\
         Message-ID: <{report_id}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"{boundary}\"\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         This is an aggregate TLS report from {org} about mail to {domain} on {day}.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: application/tlsrpt+gzip\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"{filename}\"\r\n\
         \r\n\
         {wrapped}\
         --{boundary}--\r\n",
        from = reporter.contact,
    )
    .into_bytes()
}

async fn enqueue(
    store: &dyn Store,
    reporter: &Reporter,
    to: &str,
    body: &[u8],
    now: u64,
) -> String {
    let to = match Address::parse(to) {
        Ok(a) => a,
        Err(e) => return format!("bad address: {e}"),
    };
    let envelope = Envelope {
        sender: Address::parse(&reporter.contact).ok(),
        recipients: vec![to],
        body_type: BodyType::SevenBit,
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    };
    let id = QueueId::generate(now * 1000);
    match store.enqueue(id, &envelope, body).await {
        Ok(()) => {
            let _ = store.change_announce(store::Change::Queue).await;
            format!("queued {id}")
        }
        Err(e) => format!("queueing failed: {e}"),
    }
}

async fn post(dns: &DnsResolver, tls: Arc<rustls::ClientConfig>, uri: &str, gz: &[u8]) -> String {
    let Some(rest) = uri.strip_prefix("https://") else {
        return "not an https URI".into();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().unwrap_or(443)),
        None => (authority, 443),
    };
    match relay::security::https::post(
        dns,
        tls,
        host,
        port,
        path,
        "application/tlsrpt+gzip",
        gz,
        HTTPS_TIMEOUT,
    )
    .await
    {
        Ok(r) if (200..300).contains(&r.status) => "posted".into(),
        Ok(r) => format!("HTTP status {}", r.status),
        Err(e) => format!("post failed: {e}"),
    }
}

/// Once per UTC day, sends the previous day's reports, under the store lease
/// `tls-rpt-send` so that one node of a cluster does it; a day's run is remembered
/// under `tls-rpt-sent/DAY`. Looks every 10 minutes until `stop`.
pub fn spawn_daily(config: Config, store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
    if !config.tls_rpt.enabled {
        return;
    }
    tokio::spawn(async move {
        let holder = format!("{}-{}", config.hostname, std::process::id());
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let yesterday = relay::outbound::utc_day(now - 86_400);
            let marker = format!("tls-rpt-sent/{yesterday}");
            if matches!(store.value_get(&marker).await, Ok(None))
                && store
                    .lease_take("tls-rpt-send", &holder, now, now + 3600)
                    .await
                    .unwrap_or(false)
            {
                match send_day(&config, store.clone(), &yesterday).await {
                    Ok(sent) => {
                        tracing::info!(day = %yesterday, domains = sent.len(), "TLS-RPT reports sent");
                        let _ = store.value_put(&marker, b"1").await;
                    }
                    Err(e) => {
                        tracing::warn!(day = %yesterday, error = %e, "TLS-RPT reports failed")
                    }
                }
                let _ = store.lease_drop("tls-rpt-send", &holder).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(600)) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    });
}
