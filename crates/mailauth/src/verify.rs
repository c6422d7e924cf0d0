//! Inbound verification: SPF (RFC 7208) on the HELO and MAIL FROM identities, DKIM
//! (RFC 6376, RFC 8463), DMARC (RFC 7489) alignment and policy, summed up in one
//! `Authentication-Results` field (RFC 8601) and an [`Action`].
//!
//! Where it sits: the pipeline calls [`Verifier::check`] at the end of DATA for mail
//! that arrived on the `smtp` listener from a client that did not authenticate; the SMTP
//! driver turns [`Action::Reject`] into 550 5.7.1 and [`Action::Quarantine`] into
//! filing into the recipients' Junk folders. Which checks run is [`Checks`], from the
//! `[smtp]` config keys `spf`, `dkim_verify` and `dmarc`.
//!
//! Security stance: talks to DNS only (through [`crate::resolver`]); all input is
//! untrusted and handled by mail-auth, which bounds its own lookups (RFC 7208 §4.6.4:
//! at most 10 DNS-querying terms per SPF evaluation).

use std::net::IpAddr;

use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcResult,
    MessageAuthenticator, SpfOutput, SpfResult,
};

/// What DMARC is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcMode {
    /// Evaluate, and act on a failing domain's policy: `p=reject` is refused,
    /// `p=quarantine` goes to Junk (RFC 7489 §6.6.4, §6.7).
    Enforce,
    /// Evaluate and record the result, never act on it.
    ReportOnly,
    /// Do not evaluate.
    Off,
}

/// Which checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// SPF on HELO and MAIL FROM.
    pub spf: bool,
    /// DKIM signature verification.
    pub dkim: bool,
    /// DMARC.
    pub dmarc: DmarcMode,
}

impl Checks {
    /// True when nothing at all is checked (and no header is added).
    pub fn none(&self) -> bool {
        !self.spf && !self.dkim && self.dmarc == DmarcMode::Off
    }
}

/// What the SMTP session says about where a message came from.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    /// The client's address.
    pub ip: IpAddr,
    /// Its EHLO/HELO name.
    pub helo: &'a str,
    /// The MAIL FROM address; `None` for the null reverse-path `<>`.
    pub mail_from: Option<&'a str>,
}

/// What to do with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deliver normally.
    Accept,
    /// Deliver into the recipients' Junk folders (DMARC `p=quarantine` failed).
    Quarantine,
    /// Refuse with 550 5.7.1 (DMARC `p=reject` failed).
    Reject,
}

/// The outcome of [`Verifier::check`].
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The complete `Authentication-Results:` field, CRLF-terminated; empty when no
    /// check ran.
    pub header: String,
    /// What to do.
    pub action: Action,
    /// The author (`From`) domain DMARC was evaluated for, if any: for logs and the
    /// rejection text.
    pub dmarc_domain: Option<String>,
    /// One line for the log: `spf=pass dkim=pass dmarc=pass`.
    pub summary: String,
}

/// Runs the inbound checks with one resolver.
#[derive(Clone)]
pub struct Verifier {
    authenticator: MessageAuthenticator,
    hostname: String,
    checks: Checks,
}

impl Verifier {
    /// A verifier that writes results under `hostname` (the authserv-id).
    pub fn new(authenticator: MessageAuthenticator, hostname: &str, checks: Checks) -> Self {
        Verifier {
            authenticator,
            hostname: hostname.to_owned(),
            checks,
        }
    }

    /// Which checks run.
    pub fn checks(&self) -> Checks {
        self.checks
    }

    /// Checks `message` (as the client sent it, our own results already stripped).
    pub async fn check(&self, origin: &Origin<'_>, message: &[u8]) -> Verdict {
        if self.checks.none() {
            return Verdict {
                header: String::new(),
                action: Action::Accept,
                dmarc_domain: None,
                summary: String::new(),
            };
        }
        let auth = &self.authenticator;
        let host = self.hostname.as_str();
        let helo = origin.helo.trim_end_matches('.');
        let helo_is_domain = helo.contains('.') && !helo.starts_with('[');
        let mut results = AuthenticationResults::new(host);
        let mut summary = Vec::new();
        let parsed = AuthenticatedMessage::parse(message);

        // The independent lookups run side by side: SPF for HELO and for MAIL FROM,
        // and the DKIM keys. DMARC needs their results, so it comes after.
        let spf_helo = async {
            if self.checks.spf && helo_is_domain {
                let params = SpfParameters::verify_ehlo(origin.ip, helo, host);
                Some(auth.verify_spf(params).await)
            } else {
                None
            }
        };
        let spf_mail_from = async {
            match origin.mail_from {
                Some(from) if self.checks.spf => {
                    let params = SpfParameters::verify_mail_from(origin.ip, helo, host, from);
                    Some(auth.verify_spf(params).await)
                }
                _ => None,
            }
        };
        let dkim = async {
            match &parsed {
                Some(parsed) if self.checks.dkim => auth.verify_dkim(parsed).await,
                _ => Vec::new(),
            }
        };
        let (helo_spf, from_spf, dkim): (_, _, Vec<DkimOutput<'_>>) =
            tokio::join!(spf_helo, spf_mail_from, dkim);

        // SPF (RFC 7208 §2.3, §2.4): HELO when it is a domain; MAIL FROM, or
        // postmaster@HELO for the null reverse-path, is the identity DMARC uses.
        if let Some(out) = &helo_spf {
            results = results.with_spf_ehlo_result(out, origin.ip, helo);
        }
        let spf_for_dmarc: Option<(SpfOutput, String)> = match (origin.mail_from, from_spf) {
            (Some(from), Some(out)) => {
                results = results.with_spf_mailfrom_result(&out, origin.ip, from, helo);
                let domain = from.rsplit_once('@').map_or(helo, |(_, d)| d);
                Some((out, domain.to_owned()))
            }
            (None, _) => helo_spf.map(|out| (out, helo.to_owned())),
            (Some(_), None) => None,
        };
        if let Some((out, _)) = &spf_for_dmarc {
            summary.push(format!("spf={}", spf_word(out.result())));
        }

        let Some(parsed) = parsed.as_ref() else {
            // No header section at all: nothing to verify or align.
            return self.finish(results, summary, Action::Accept, None);
        };
        let from_domain = parsed
            .from
            .first()
            .and_then(|f| f.rsplit_once('@'))
            .map(|(_, d)| d.to_owned())
            .unwrap_or_default();

        if self.checks.dkim {
            if dkim.is_empty() {
                // RFC 8601 §2.7.1: "none" when the message was not signed; mail-auth
                // writes nothing then, so `finish` adds it.
                summary.push("dkim=none".to_owned());
            } else {
                results = results.with_dkim_results(&dkim, &from_domain);
                let best = dkim
                    .iter()
                    .map(|o| o.result())
                    .min_by_key(|r| dkim_rank(r))
                    .map_or("none", dkim_word);
                summary.push(format!("dkim={best}"));
            }
        }

        if self.checks.dmarc == DmarcMode::Off {
            return self.finish(results, summary, Action::Accept, None);
        }
        let (spf_output, spf_domain) = spf_for_dmarc.unwrap_or_else(|| {
            let domain = origin
                .mail_from
                .and_then(|f| f.rsplit_once('@'))
                .map_or(helo, |(_, d)| d)
                .to_owned();
            (SpfOutput::new(domain.clone()), domain)
        });
        let dmarc = auth
            .verify_dmarc(DmarcParameters::new(
                parsed,
                &dkim,
                &spf_domain,
                &spf_output,
            ))
            .await;
        results = results.with_dmarc_result(&dmarc);
        let result = dmarc.result();
        summary.push(format!("dmarc={}", dmarc_word(&result)));
        let action = match (self.checks.dmarc, &result, dmarc.policy()) {
            (DmarcMode::Enforce, DmarcResult::Fail(_), Policy::Reject) => Action::Reject,
            (DmarcMode::Enforce, DmarcResult::Fail(_), Policy::Quarantine) => Action::Quarantine,
            _ => Action::Accept,
        };
        let domain = (!dmarc.domain().is_empty()).then(|| dmarc.domain().to_owned());
        self.finish(results, summary, action, domain)
    }

    fn finish(
        &self,
        results: AuthenticationResults<'_>,
        summary: Vec<String>,
        action: Action,
        dmarc_domain: Option<String>,
    ) -> Verdict {
        let mut header = results.to_header();
        if summary.iter().any(|s| s == "dkim=none") {
            header = with_dkim_none(&header);
        }
        Verdict {
            header,
            action,
            dmarc_domain,
            summary: summary.join(" "),
        }
    }
}

/// `header` with a `dkim=none` result added at its end (or in place of `none`, when
/// it had no results).
fn with_dkim_none(header: &str) -> String {
    let body = header.strip_suffix("\r\n").unwrap_or(header);
    let body = body.strip_suffix("; none").unwrap_or(body);
    format!("{body};\r\n\tdkim=none\r\n")
}

/// RFC 8601 §2.7.2 result words for SPF.
fn spf_word(result: SpfResult) -> &'static str {
    match result {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

/// RFC 8601 §2.7.1 result words for DKIM.
fn dkim_word(result: &DkimResult) -> &'static str {
    match result {
        DkimResult::Pass => "pass",
        DkimResult::Neutral(_) => "neutral",
        DkimResult::Fail(_) => "fail",
        DkimResult::PermError(_) => "permerror",
        DkimResult::TempError(_) => "temperror",
        DkimResult::None => "none",
    }
}

/// Best first, for the one-word log summary.
fn dkim_rank(result: &DkimResult) -> u8 {
    match result {
        DkimResult::Pass => 0,
        DkimResult::TempError(_) => 1,
        DkimResult::Neutral(_) => 2,
        DkimResult::PermError(_) => 3,
        DkimResult::Fail(_) => 4,
        DkimResult::None => 5,
    }
}

/// RFC 7489 §11.2 result words for DMARC.
fn dmarc_word(result: &DmarcResult) -> &'static str {
    match result {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}
