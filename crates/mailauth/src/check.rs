//! Looking the records of [`crate::records::expected`] up in DNS and saying, for each,
//! whether it is there and right.
//!
//! Where it sits: behind `postie dns check DOMAIN`, with the resolver built from
//! `[dns] nameservers` ([`crate::resolver`]).
//!
//! What counts as right (so local additions do not show up as errors):
//! - MX: one of the domain's MX hosts is this server.
//! - SPF: exactly one `v=spf1` record (RFC 7208 §4.5), holding every term we suggest
//!   (`~all` is accepted for `-all`); more terms are fine.
//! - DKIM: a key record with the same `p=` (whitespace ignored, RFC 6376 §3.6.1).
//! - DMARC: exactly one `v=DMARC1` record with a `p=` tag (RFC 7489 §6.6.3); its policy
//!   is the domain owner's choice.
//! - SRV: a record with this server as target on the same port; for a listener that is
//!   off, the "not offered" record or none at all.
//! - MTA-STS: exactly one `v=STSv1` record, with the `id` of the policy served
//!   ([`crate::sts_publish::judge`]).
//!
//! Security stance: DNS queries only.

use mail_auth::MessageAuthenticator;
use mail_auth::hickory_resolver::net::{DnsError, NetError};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::hickory_resolver::proto::rr::{Name, RData, RecordType};

use crate::records::{Data, Kind, Record};

/// The verdict on one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Published as it should be.
    Ok,
    /// Not published.
    Missing,
    /// Published differently: what was found.
    Wrong(String),
    /// The lookup failed (time-out, SERVFAIL): no verdict.
    Error(String),
}

impl Status {
    /// The word printed for it.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Missing => "MISSING",
            Status::Wrong(_) => "WRONG",
            Status::Error(_) => "ERROR",
        }
    }
}

/// One record and its verdict.
#[derive(Debug, Clone)]
pub struct Checked {
    /// What should be published.
    pub record: Record,
    /// What DNS says.
    pub status: Status,
}

/// Checks every record in `expected`, in order.
pub async fn check(auth: &MessageAuthenticator, expected: &[Record]) -> Vec<Checked> {
    let mut out = Vec::with_capacity(expected.len());
    for record in expected {
        let status = match lookup(auth, record).await {
            Ok(found) => judge(record, &found),
            Err(e) => Status::Error(e),
        };
        out.push(Checked {
            record: record.clone(),
            status,
        });
    }
    out
}

/// What DNS has at the record's name, of the record's type (empty for NXDOMAIN or
/// NODATA).
async fn lookup(auth: &MessageAuthenticator, record: &Record) -> Result<Vec<Data>, String> {
    let mut name = Name::from_str_relaxed(record.name.trim_end_matches('.'))
        .map_err(|e| format!("{}: {e}", record.name))?;
    name.set_fqdn(true);
    let record_type = match record.data {
        Data::Mx { .. } => RecordType::MX,
        Data::Txt(_) => RecordType::TXT,
        Data::Srv { .. } => RecordType::SRV,
        Data::Cname(_) => RecordType::CNAME,
    };
    let lookup = match auth.resolver().lookup(name, record_type).await {
        Ok(lookup) => lookup,
        Err(NetError::Dns(DnsError::NoRecordsFound(no)))
            if matches!(
                no.response_code,
                ResponseCode::NXDomain | ResponseCode::NoError
            ) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e.to_string()),
    };
    Ok(lookup
        .answers()
        .iter()
        .filter_map(|answer| match &answer.data {
            RData::MX(mx) => Some(Data::Mx {
                preference: mx.preference,
                host: host_name(&mx.exchange),
            }),
            RData::TXT(txt) => Some(Data::Txt(
                txt.txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part).into_owned())
                    .collect(),
            )),
            RData::SRV(srv) => Some(Data::Srv {
                priority: srv.priority,
                weight: srv.weight,
                port: srv.port,
                target: host_name(&srv.target),
            }),
            RData::CNAME(cname) => Some(Data::Cname(host_name(&cname.0))),
            _ => None,
        })
        .collect())
}

/// A host name as compared: lower case, no final dot; the root stays `.`.
fn host_name(name: &Name) -> String {
    let text = name.to_ascii().to_ascii_lowercase();
    match text.trim_end_matches('.') {
        "" => ".".to_owned(),
        host => host.to_owned(),
    }
}

/// The verdict for `record` given what was `found`.
pub fn judge(record: &Record, found: &[Data]) -> Status {
    let txts = || {
        found.iter().filter_map(|d| match d {
            Data::Txt(t) => Some(t.as_str()),
            _ => None,
        })
    };
    let listing = || {
        found
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (&record.kind, &record.data) {
        (Kind::Mx, Data::Mx { host, .. }) => {
            if found.is_empty() {
                Status::Missing
            } else if found
                .iter()
                .any(|d| matches!(d, Data::Mx { host: h, .. } if h.eq_ignore_ascii_case(host)))
            {
                Status::Ok
            } else {
                Status::Wrong(listing())
            }
        }
        (Kind::Spf, Data::Txt(want)) => {
            let spf: Vec<&str> = txts().filter(|t| starts_with_tag(t, "v=spf1")).collect();
            match spf.as_slice() {
                [] => Status::Missing,
                [one] if spf_covers(one, want) => Status::Ok,
                [one] => Status::Wrong(format!("\"{one}\"")),
                _ => Status::Wrong(format!(
                    "{} SPF records; RFC 7208 §4.5 allows one",
                    spf.len()
                )),
            }
        }
        (Kind::Dkim, Data::Txt(want)) => {
            let want_p = tag(want, "p").unwrap_or_default();
            let keys: Vec<&str> = txts().collect();
            if keys.is_empty() {
                Status::Missing
            } else if keys.iter().any(|t| tag(t, "p").as_deref() == Some(&want_p)) {
                Status::Ok
            } else {
                Status::Wrong(listing())
            }
        }
        (Kind::Dmarc, Data::Txt(_)) => {
            let dmarc: Vec<&str> = txts().filter(|t| starts_with_tag(t, "v=DMARC1")).collect();
            match dmarc.as_slice() {
                [] => Status::Missing,
                [one] if tag(one, "p").is_some() => Status::Ok,
                [one] => Status::Wrong(format!("\"{one}\" has no p= policy")),
                _ => Status::Wrong(format!(
                    "{} DMARC records; RFC 7489 §6.6.3 allows one",
                    dmarc.len()
                )),
            }
        }
        // RFC 8460 §3: one `v=TLSRPTv1` record with a `rua`.
        (Kind::TlsRpt, Data::Txt(_)) => {
            let rpt: Vec<&str> = txts()
                .filter(|t| starts_with_tag(t, "v=TLSRPTv1"))
                .collect();
            match rpt.as_slice() {
                [] => Status::Missing,
                [one] if tag(one, "rua").is_some() => Status::Ok,
                [one] => Status::Wrong(format!("\"{one}\" has no rua=")),
                _ => Status::Wrong(format!(
                    "{} TLS-RPT records; RFC 8460 §3 allows one",
                    rpt.len()
                )),
            }
        }
        (Kind::Srv, Data::Srv { port, target, .. }) => {
            let matches = found.iter().any(|d| {
                matches!(d, Data::Srv { port: p, target: t, .. }
                    if (target == "." && t == ".")
                        || (p == port && t.eq_ignore_ascii_case(target)))
            });
            if matches || (found.is_empty() && target == ".") {
                Status::Ok
            } else if found.is_empty() {
                Status::Missing
            } else {
                Status::Wrong(listing())
            }
        }
        (Kind::Cname, Data::Cname(target)) => {
            if found
                .iter()
                .any(|d| matches!(d, Data::Cname(t) if t.eq_ignore_ascii_case(target)))
            {
                Status::Ok
            } else if found.is_empty() {
                Status::Missing
            } else {
                Status::Wrong(listing())
            }
        }
        (Kind::MtaSts, Data::Txt(want)) => crate::sts_publish::judge(want, txts()),
        _ => Status::Error("internal: record kind and data disagree".into()),
    }
}

/// True when `text` starts with the version tag `version` (case-insensitive), followed
/// by a separator or nothing.
fn starts_with_tag(text: &str, version: &str) -> bool {
    let text = text.trim_start();
    text.len() >= version.len()
        && text[..version.len()].eq_ignore_ascii_case(version)
        && text[version.len()..]
            .chars()
            .next()
            .is_none_or(|c| c == ' ' || c == ';' || c == '\t')
}

/// The value of tag `name` in a `tag=value; …` list (RFC 6376 §3.2), whitespace
/// removed.
fn tag(text: &str, name: &str) -> Option<String> {
    text.split(';').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.chars().filter(|c| !c.is_whitespace()).collect())
    })
}

/// True when the SPF record `found` has every term of `want` (`~all` stands in for
/// `-all`).
fn spf_covers(found: &str, want: &str) -> bool {
    let terms: Vec<String> = found
        .split_whitespace()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    want.split_whitespace().skip(1).all(|term| {
        let term = term.to_ascii_lowercase();
        terms.contains(&term) || (term == "-all" && terms.iter().any(|t| t == "~all"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Data;

    fn record(kind: Kind, data: Data) -> Record {
        Record {
            kind,
            name: "example.test".into(),
            data,
            comment: None,
        }
    }

    fn txt(t: &str) -> Data {
        Data::Txt(t.into())
    }

    #[test]
    fn tls_rpt_records_are_judged_by_version_and_rua() {
        let want = record(Kind::TlsRpt, txt("v=TLSRPTv1; rua=mailto:a@b.test"));
        assert_eq!(
            judge(&want, &[txt("v=TLSRPTv1; rua=mailto:x@y.test")]),
            Status::Ok
        );
        assert_eq!(judge(&want, &[txt("v=spf1 -all")]), Status::Missing);
        assert!(matches!(
            judge(&want, &[txt("v=TLSRPTv1;")]),
            Status::Wrong(_)
        ));
    }

    #[test]
    fn spf_judgements() {
        let want = record(Kind::Spf, txt("v=spf1 mx -all"));
        assert_eq!(judge(&want, &[]), Status::Missing);
        assert_eq!(
            judge(&want, &[txt("unrelated"), txt("v=spf1 a mx ~all")]),
            Status::Ok
        );
        assert!(matches!(
            judge(&want, &[txt("v=spf1 a -all")]),
            Status::Wrong(_)
        ));
        assert!(matches!(
            judge(&want, &[txt("v=spf1 mx -all"), txt("v=spf1 mx -all")]),
            Status::Wrong(_)
        ));
        // v=spf10 is not SPF.
        assert_eq!(judge(&want, &[txt("v=spf10 mx -all")]), Status::Missing);
    }

    #[test]
    fn dkim_compares_the_key_not_the_spelling() {
        let want = record(Kind::Dkim, txt("v=DKIM1; k=ed25519; p=AbC="));
        assert_eq!(
            judge(&want, &[txt("k=ed25519;p=A bC=; v=DKIM1")]),
            Status::Ok
        );
        assert!(matches!(
            judge(&want, &[txt("v=DKIM1; p=XYZ")]),
            Status::Wrong(_)
        ));
        assert_eq!(judge(&want, &[]), Status::Missing);
    }

    #[test]
    fn dmarc_needs_one_record_with_a_policy() {
        let want = record(Kind::Dmarc, txt("v=DMARC1; p=quarantine"));
        assert_eq!(judge(&want, &[txt("v=DMARC1; p=reject")]), Status::Ok);
        assert!(matches!(
            judge(&want, &[txt("v=DMARC1; rua=mailto:a@b")]),
            Status::Wrong(_)
        ));
        assert_eq!(judge(&want, &[]), Status::Missing);
    }

    #[test]
    fn cname_names_the_host() {
        let want = record(Kind::Cname, Data::Cname("mx.example.test".into()));
        assert_eq!(
            judge(&want, &[Data::Cname("MX.example.test".into())]),
            Status::Ok
        );
        assert_eq!(judge(&want, &[]), Status::Missing);
        assert!(matches!(
            judge(&want, &[Data::Cname("web.example.test".into())]),
            Status::Wrong(_)
        ));
    }

    #[test]
    fn mx_and_srv() {
        let mx = record(
            Kind::Mx,
            Data::Mx {
                preference: 10,
                host: "mx.example.test".into(),
            },
        );
        let other = Data::Mx {
            preference: 5,
            host: "MX.example.test".into(),
        };
        assert_eq!(judge(&mx, std::slice::from_ref(&other)), Status::Ok);
        let elsewhere = Data::Mx {
            preference: 5,
            host: "mail.elsewhere.test".into(),
        };
        assert_eq!(
            judge(&mx, &[elsewhere]),
            Status::Wrong("5 mail.elsewhere.test.".into())
        );
        let srv = |port, target: &str| Data::Srv {
            priority: 0,
            weight: 1,
            port,
            target: target.into(),
        };
        let want = record(Kind::Srv, srv(465, "mx.example.test"));
        assert_eq!(judge(&want, &[srv(465, "mx.example.test")]), Status::Ok);
        assert!(matches!(
            judge(&want, &[srv(587, "mx.example.test")]),
            Status::Wrong(_)
        ));
        assert_eq!(judge(&want, &[]), Status::Missing);
        let off = record(Kind::Srv, srv(0, "."));
        assert_eq!(judge(&off, &[]), Status::Ok);
    }
}
