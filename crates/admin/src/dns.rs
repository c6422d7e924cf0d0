//! The DNS records a local domain publishes (MX, SPF, DKIM, DMARC, the SRV and
//! autoconfig names, MTA-STS), and a live check of what DNS has.
//!
//! Where it sits: the admin operations behind `postie dns records|check` and the web
//! face's DNS page. [`records`] is offline: it reads the config (host name,
//! listeners, smarthost) and the domain's DKIM keys ([`crate::dkim::list`]); [`check`]
//! asks the resolver of `[dns] nameservers`. What the records are and what counts as
//! right is in [`mailauth::records`] and [`mailauth::check`]; docs/mailauth.md
//! explains them.

use crate::{AdminError, Result, accounts};
use mailauth::check::Checked;
use mailauth::records::{Plan, Record, Service};
use store::Store;

/// What a domain should publish, and a note for the administrator when something is
/// missing on this side (no DKIM keys yet).
#[derive(Debug, Clone)]
pub struct Records {
    /// Every record, in the order to show them.
    pub records: Vec<Record>,
    /// `note: … has no DKIM keys yet …` when the domain has none; `None` otherwise.
    pub note: Option<String>,
}

/// The records `domain` should publish under this configuration, its DKIM keys from
/// `store` when it keeps them, else from the data directory (see [`crate::dkim`] for
/// the `Option`).
pub async fn records(
    config: &config::Config,
    store: Option<&dyn Store>,
    domain: &str,
) -> Result<Records> {
    let domain = accounts::parse_domain(domain)?;
    let keys = crate::dkim::list(config, store, Some(domain.as_str())).await?;
    let note = keys.is_empty().then(|| {
        format!(
            "note: {} has no DKIM keys yet, so its mail is not signed \
             (postie dkim generate {})",
            domain.as_str(),
            domain.as_str()
        )
    });
    let listen = &config.listen;
    let port = |addrs: &[std::net::SocketAddr]| addrs.first().map(|a| a.port());
    let services = Service::ALL
        .iter()
        .map(|&service| {
            let addrs = match service {
                Service::Submissions => &listen.submissions,
                Service::Submission => &listen.submission,
                Service::Imaps => &listen.imaps,
                Service::Imap => &listen.imap,
                Service::Pop3s => &listen.pop3s,
                Service::Pop3 => &listen.pop3,
            };
            (service, port(addrs))
        })
        .collect();
    let plan = Plan {
        domain: domain.as_str(),
        hostname: &config.hostname,
        smtp_addresses: listen.smtp.iter().map(|a| a.ip()).collect(),
        services,
        keys,
        smarthost: config.relay.smarthost.as_deref(),
        https_port: port(&listen.https),
    };
    let mut records = mailauth::records::expected(&plan);
    records.extend(mta_sts_records(config, domain.as_str()));
    records.push(tls_rpt_record(config, domain.as_str()));
    Ok(Records { records, note })
}

/// `_mta-sts` TXT and the `mta-sts` policy host (RFC 8461), for the policy of
/// `[mta_sts]` that the web face serves ([`mailauth::sts_publish`]).
fn mta_sts_records(config: &config::Config, domain: &str) -> Vec<mailauth::records::Record> {
    let m = &config.mta_sts;
    let policy =
        mailauth::sts_publish::policy_text(m.mode.as_str(), m.max_age, &config.hostname, &m.mx);
    mailauth::sts_publish::records(domain, &config.hostname, &policy)
}

/// Our `_smtp._tls` record (RFC 8460 §3): where other servers send TLS reports about
/// mail to `domain`: `tls_rpt.rua`, or `mailto:postmaster@DOMAIN`.
fn tls_rpt_record(config: &config::Config, domain: &str) -> Record {
    let rua = if config.tls_rpt.rua.is_empty() {
        format!("mailto:postmaster@{domain}")
    } else {
        config.tls_rpt.rua.join(",")
    };
    Record {
        kind: mailauth::records::Kind::TlsRpt,
        name: format!("_smtp._tls.{domain}"),
        data: mailauth::records::Data::Txt(format!("v=TLSRPTv1; rua={rua}")),
        comment: Some("TLS-RPT (RFC 8460): where senders report TLS failures towards us".into()),
    }
}

/// Looks `expected` up through `config.dns.nameservers` (the system's resolvers when
/// empty) and says for each whether DNS has it. `Failed` only when no resolver can be
/// set up; a failed look-up is that record's status.
pub async fn check(config: &config::Config, expected: &[Record]) -> Result<Vec<Checked>> {
    let auth =
        mailauth::resolver::authenticator(&config.dns.nameservers).map_err(AdminError::Failed)?;
    Ok(mailauth::check::check(&auth, expected).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailauth::records::Kind;

    #[tokio::test]
    async fn records_with_and_without_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config::Config::default().with_data_dir(dir.path().to_path_buf());
        let store = crate::test_store().await;
        let before = records(&config, None, "example.org")
            .await
            .expect("records");
        let note = before.note.expect("a note without keys");
        assert!(note.contains("example.org has no DKIM keys yet"), "{note}");
        assert!(before.records.iter().any(|r| r.kind == Kind::Mx));
        assert!(!before.records.iter().any(|r| r.kind == Kind::Dkim));

        crate::dkim::generate(&config, store.as_ref(), "example.org")
            .await
            .expect("generate");
        let after = records(&config, Some(store.as_ref()), "example.org")
            .await
            .expect("records");
        assert_eq!(after.note, None);
        let dkim = after
            .records
            .iter()
            .filter(|r| r.kind == Kind::Dkim)
            .count();
        assert_eq!(dkim, 2);

        // The MTA-STS record's id follows the policy: a new mode, a new id.
        let sts = |records: &Records| {
            let r = records.records.iter().find(|r| r.kind == Kind::MtaSts);
            r.expect("an _mta-sts record").to_string()
        };
        assert!(sts(&after).contains("_mta-sts.example.org. 3600 IN TXT \"v=STSv1; id="));
        assert!(
            after
                .records
                .iter()
                .any(|r| r.name == "mta-sts.example.org")
        );
        let mut enforcing = config.clone();
        enforcing.mta_sts.mode = config::MtaStsMode::Enforce;
        let changed = records(&enforcing, Some(store.as_ref()), "example.org")
            .await
            .expect("records");
        assert_ne!(sts(&after), sts(&changed));

        let err = records(&config, None, "not a domain").await.unwrap_err();
        assert!(matches!(err, AdminError::Invalid(_)), "{err}");
    }
}
