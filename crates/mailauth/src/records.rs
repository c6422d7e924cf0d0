//! The DNS records a local domain publishes, in zone-file syntax: MX, SPF, DKIM,
//! DMARC and the RFC 6186 / RFC 8314 SRV records mail clients use to find the server.
//!
//! Where it sits: `postie dns records DOMAIN` prints [`expected`]; `postie dns check
//! DOMAIN` compares the same list with what DNS answers ([`crate::check`]). Pure: the
//! caller supplies the host name, the listeners and the keys.
//!
//! Defaults (see docs/mailauth.md):
//! - MX: `10 HOSTNAME.` — this server takes the domain's mail.
//! - SPF: `v=spf1 mx -all`, plus `ip4:`/`ip6:` for each public address the `smtp`
//!   listener is bound to: mail for the domain leaves from its MX host, and `-all`
//!   says nothing else sends it (RFC 7208 §5.1). With a smarthost, mail leaves from the
//!   smarthost instead, and a comment says to add its provider's SPF `include:`.
//! - DKIM: one TXT per key, `SELECTOR._domainkey.DOMAIN` (RFC 6376 §3.6.2.1).
//! - DMARC: `v=DMARC1; p=quarantine; rua=mailto:postmaster@DOMAIN` (RFC 7489 §6.3):
//!   mail that fails both aligned SPF and DKIM goes to spam, and aggregate reports go
//!   to the postmaster every server must have (RFC 5321 §4.5.1).
//! - SRV: `_submissions`, `_submission`, `_imaps`, `_imap`, `_pop3s`, `_pop3` over
//!   `_tcp`, pointing at HOSTNAME on the first configured port of that listener;
//!   a listener that is off gets the "not offered" record `0 0 0 .` (RFC 6186 §4,
//!   RFC 2782). Implicit TLS gets priority 0 and STARTTLS priority 10 (RFC 8314 §5.1
//!   prefers implicit TLS).
//! - Mail-client autoconfiguration (the web face, docs/web.md): `autoconfig.DOMAIN`
//!   (Thunderbird) and `autodiscover.DOMAIN` (Outlook) as CNAMEs of HOSTNAME, and
//!   `_autodiscover._tcp.DOMAIN` SRV pointing at HOSTNAME on the first `listen.https`
//!   port (Outlook's last resort; "not offered" when the HTTPS listener is off).

use std::fmt;
use std::net::IpAddr;

use crate::keys::KeyInfo;

/// TTL of every printed record, in seconds.
pub const TTL: u32 = 3600;

/// A mail-client service with an SRV record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Message submission over implicit TLS (RFC 8314 §5.1).
    Submissions,
    /// Message submission with STARTTLS (RFC 6186 §3.1).
    Submission,
    /// IMAP over implicit TLS (RFC 8314 §5.1 / RFC 6186 §3.2).
    Imaps,
    /// IMAP with STARTTLS (RFC 6186 §3.2).
    Imap,
    /// POP3 over implicit TLS (RFC 6186 §3.3).
    Pop3s,
    /// POP3 with STLS (RFC 6186 §3.3).
    Pop3,
}

impl Service {
    /// Every service, in the order printed.
    pub const ALL: [Service; 6] = [
        Service::Submissions,
        Service::Submission,
        Service::Imaps,
        Service::Imap,
        Service::Pop3s,
        Service::Pop3,
    ];

    /// The `_service` label.
    pub fn label(self) -> &'static str {
        match self {
            Service::Submissions => "_submissions",
            Service::Submission => "_submission",
            Service::Imaps => "_imaps",
            Service::Imap => "_imap",
            Service::Pop3s => "_pop3s",
            Service::Pop3 => "_pop3",
        }
    }

    /// SRV priority: implicit TLS first (RFC 8314 §5.1).
    fn priority(self) -> u16 {
        match self {
            Service::Submissions | Service::Imaps | Service::Pop3s => 0,
            Service::Submission | Service::Imap | Service::Pop3 => 10,
        }
    }
}

/// Everything the records are made from.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// The mail domain.
    pub domain: &'a str,
    /// This server's host name (the MX and SRV target).
    pub hostname: &'a str,
    /// The addresses the `smtp` listener is bound to (non-public ones are left out).
    pub smtp_addresses: Vec<IpAddr>,
    /// Each service and the port it is offered on, `None` when off.
    pub services: Vec<(Service, Option<u16>)>,
    /// The domain's DKIM keys.
    pub keys: Vec<KeyInfo>,
    /// The smarthost, when outbound mail goes through one.
    pub smarthost: Option<&'a str>,
    /// The port of the web face's HTTPS listener (autoconfiguration), `None` when off.
    pub https_port: Option<u16>,
}

/// What a record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// `MX preference exchange`.
    Mx {
        /// Preference.
        preference: u16,
        /// Exchange host, without the final dot.
        host: String,
    },
    /// A TXT record's text (split into strings of at most 255 octets when printed).
    Txt(String),
    /// `SRV priority weight port target`; target `.` means "not offered".
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host without the final dot, or `.`.
        target: String,
    },
    /// A CNAME's target host, without the final dot.
    Cname(String),
}

/// What a record is for: decides how [`crate::check`] compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The MX record.
    Mx,
    /// The SPF TXT record.
    Spf,
    /// A DKIM key record.
    Dkim,
    /// The DMARC policy record.
    Dmarc,
    /// The TLS-RPT record (RFC 8460 §3): where to report TLS failures to us.
    TlsRpt,
    /// An SRV record.
    Srv,
    /// A CNAME (the autoconfiguration host names).
    Cname,
    /// The `_mta-sts` TXT record announcing our MTA-STS policy
    /// ([`crate::sts_publish`]).
    MtaSts,
}

/// One record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What it is for.
    pub kind: Kind,
    /// Owner name without the final dot.
    pub name: String,
    /// The data.
    pub data: Data,
    /// A `;` comment printed above it, if any.
    pub comment: Option<String>,
}

impl Record {
    /// The record type mnemonic.
    pub fn type_name(&self) -> &'static str {
        match self.data {
            Data::Mx { .. } => "MX",
            Data::Txt(_) => "TXT",
            Data::Srv { .. } => "SRV",
            Data::Cname(_) => "CNAME",
        }
    }
}

impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Data::Mx { preference, host } => write!(f, "{preference} {}", absolute(host)),
            Data::Txt(text) => f.write_str(&quote_txt(text)),
            Data::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(f, "{priority} {weight} {port} {}", absolute(target)),
            Data::Cname(target) => f.write_str(&absolute(target)),
        }
    }
}

impl fmt::Display for Record {
    /// Zone-file syntax (RFC 1035 §5.1): `name TTL IN TYPE data`, with the comment on
    /// the line above.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(comment) = &self.comment {
            writeln!(f, "; {comment}")?;
        }
        write!(
            f,
            "{} {TTL} IN {} {}",
            absolute(&self.name),
            self.type_name(),
            self.data
        )
    }
}

/// `name.`, and `.` for the root.
fn absolute(name: &str) -> String {
    if name == "." || name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

/// A TXT value as zone-file character-strings: quoted, `"` and `\` escaped, split
/// every 255 octets (RFC 1035 §3.3.14 caps one string at 255; RFC 7208 §3.3 and
/// RFC 6376 §3.6.2.2 say the strings are joined without spaces when read).
pub fn quote_txt(text: &str) -> String {
    let mut parts = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let mut end = (start + 255).min(bytes.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        parts.push(&text[start..end]);
        start = end;
    }
    if parts.is_empty() {
        parts.push("");
    }
    parts
        .iter()
        .map(|p| format!("\"{}\"", p.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The SPF record text for `plan`.
pub fn spf_text(plan: &Plan<'_>) -> String {
    let mut text = String::from("v=spf1 mx");
    for ip in plan.smtp_addresses.iter().filter(|ip| is_public(ip)) {
        match ip {
            IpAddr::V4(v4) => text.push_str(&format!(" ip4:{v4}")),
            IpAddr::V6(v6) => text.push_str(&format!(" ip6:{v6}")),
        }
    }
    text.push_str(" -all");
    text
}

/// The DMARC record text for `domain`.
pub fn dmarc_text(domain: &str) -> String {
    format!("v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}")
}

/// True for an address other servers can see mail come from.
fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_documentation()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_unique_local()
                || v6.is_unicast_link_local())
        }
    }
}

/// Every record `plan.domain` should publish, in print order.
pub fn expected(plan: &Plan<'_>) -> Vec<Record> {
    let domain = plan.domain.trim_end_matches('.').to_ascii_lowercase();
    let host = plan.hostname.trim_end_matches('.').to_ascii_lowercase();
    let mut out = vec![
        Record {
            kind: Kind::Mx,
            name: domain.clone(),
            data: Data::Mx {
                preference: 10,
                host: host.clone(),
            },
            comment: Some("Mail for the domain comes to this server (RFC 5321 §5.1).".into()),
        },
        Record {
            kind: Kind::Spf,
            name: domain.clone(),
            data: Data::Txt(spf_text(plan)),
            comment: Some(match plan.smarthost {
                Some(smarthost) => format!(
                    "SPF (RFC 7208). Outbound mail goes through the smarthost {smarthost}: \
                     add its provider's include: before -all."
                ),
                None => "SPF (RFC 7208): only this domain's MX hosts send its mail.".into(),
            }),
        },
    ];
    for key in &plan.keys {
        out.push(Record {
            kind: Kind::Dkim,
            name: key.record_name(),
            data: Data::Txt(key.record.clone()),
            comment: Some(format!(
                "DKIM key {} ({}) (RFC 6376, RFC 8463).",
                key.selector,
                key.algorithm.key_type()
            )),
        });
    }
    out.push(Record {
        kind: Kind::Dmarc,
        name: format!("_dmarc.{domain}"),
        data: Data::Txt(dmarc_text(&domain)),
        comment: Some("DMARC (RFC 7489): unauthenticated mail goes to spam.".into()),
    });
    for (service, port) in &plan.services {
        let data = match port {
            Some(port) => Data::Srv {
                priority: service.priority(),
                weight: 1,
                port: *port,
                target: host.clone(),
            },
            None => Data::Srv {
                priority: 0,
                weight: 0,
                port: 0,
                target: ".".into(),
            },
        };
        out.push(Record {
            kind: Kind::Srv,
            name: format!("{}._tcp.{domain}", service.label()),
            data,
            comment: (*service == Service::Submissions)
                .then(|| "Where mail clients find the server (RFC 6186, RFC 8314).".into()),
        });
    }
    // Where mail clients fetch their settings from the web face (docs/web.md). A CNAME
    // may not sit beside other data at its name (RFC 1034 §3.6.2): an A/AAAA record
    // for the same address serves as well.
    for (label, client) in [("autoconfig", "Thunderbird"), ("autodiscover", "Outlook")] {
        out.push(Record {
            kind: Kind::Cname,
            name: format!("{label}.{domain}"),
            data: Data::Cname(host.clone()),
            comment: Some(format!(
                "{client} fetches its settings from https://{label}.{domain}/ (or use an A record)."
            )),
        });
    }
    out.push(Record {
        kind: Kind::Srv,
        name: format!("_autodiscover._tcp.{domain}"),
        data: match plan.https_port {
            Some(port) => Data::Srv {
                priority: 0,
                weight: 1,
                port,
                target: host.clone(),
            },
            None => Data::Srv {
                priority: 0,
                weight: 0,
                port: 0,
                target: ".".into(),
            },
        },
        comment: Some("Outlook's Autodiscover by SRV ([MS-OXDISCO] §3.1.5.2).".into()),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Algorithm;

    fn plan(keys: Vec<KeyInfo>) -> Plan<'static> {
        Plan {
            domain: "Example.org",
            hostname: "mx.example.org",
            smtp_addresses: vec![
                "0.0.0.0".parse().unwrap(),
                "203.0.113.7".parse().unwrap(),
                "127.0.0.1".parse().unwrap(),
                "2001:4860::25".parse().unwrap(),
            ],
            services: vec![
                (Service::Submissions, Some(465)),
                (Service::Submission, Some(587)),
                (Service::Pop3, None),
            ],
            keys,
            smarthost: None,
            https_port: Some(443),
        }
    }

    #[test]
    fn every_record_in_zone_file_syntax() {
        let key = KeyInfo {
            domain: "example.org".into(),
            selector: "202611e".into(),
            algorithm: Algorithm::Ed25519,
            record: "v=DKIM1; k=ed25519; p=abc=".into(),
        };
        let lines: Vec<String> = expected(&plan(vec![key]))
            .iter()
            .map(|r| {
                r.to_string()
                    .lines()
                    .filter(|l| !l.starts_with(';'))
                    .collect()
            })
            .collect();
        assert_eq!(
            lines,
            [
                "example.org. 3600 IN MX 10 mx.example.org.",
                // 203.0.113.7 is a documentation address: not public, left out.
                "example.org. 3600 IN TXT \"v=spf1 mx ip6:2001:4860::25 -all\"",
                "202611e._domainkey.example.org. 3600 IN TXT \"v=DKIM1; k=ed25519; p=abc=\"",
                "_dmarc.example.org. 3600 IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org\"",
                "_submissions._tcp.example.org. 3600 IN SRV 0 1 465 mx.example.org.",
                "_submission._tcp.example.org. 3600 IN SRV 10 1 587 mx.example.org.",
                "_pop3._tcp.example.org. 3600 IN SRV 0 0 0 .",
                "autoconfig.example.org. 3600 IN CNAME mx.example.org.",
                "autodiscover.example.org. 3600 IN CNAME mx.example.org.",
                "_autodiscover._tcp.example.org. 3600 IN SRV 0 1 443 mx.example.org.",
            ]
        );
    }

    #[test]
    fn long_txt_values_are_split_and_quotes_escaped() {
        let long = "p=".to_owned() + &"A".repeat(400);
        let quoted = quote_txt(&long);
        assert_eq!(quoted.matches('"').count(), 4);
        assert!(quoted.starts_with(&format!("\"p={}", "A".repeat(253))));
        assert_eq!(quote_txt("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn a_smarthost_is_mentioned_in_the_spf_comment() {
        let mut p = plan(Vec::new());
        p.smarthost = Some("smtp.provider.example:587");
        let spf = &expected(&p)[1];
        assert!(
            spf.to_string()
                .contains("smarthost smtp.provider.example:587")
        );
    }
}
