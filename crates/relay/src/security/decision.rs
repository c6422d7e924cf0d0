//! The policy decision for one MX host of a recipient domain: which TLS it must be
//! reached with, or that it must not be used at all.
//!
//! Where it sits: pure. [`crate::outbound::Relay`] gathers the inputs (the domain's
//! MTA-STS policy from [`super::sts`], the host's TLSA records when DNSSEC is trusted,
//! the message's REQUIRETLS and `TLS-Required: No`) and connects, or skips the host, as
//! [`plan`] says.
//!
//! The table, in order:
//! 1. `TLS-Required: No` without REQUIRETLS (RFC 8689 §5): policies do not stop
//!    delivery; MTA-STS is applied as if in testing mode, DANE opportunistically.
//! 2. TLSA answers that failed DNSSEC validation (RFC 7672 §2.1): skip the host.
//! 3. Usable, authenticated TLSA records: DANE (wins over MTA-STS, RFC 8461 §2).
//! 4. MTA-STS `enforce` (RFC 8461 §5): a host that matches the policy is reached with
//!    a WebPKI-verified certificate; one that does not is skipped.
//! 5. MTA-STS `testing`: delivered as without a policy; failures are reported.
//! 6. Otherwise opportunistic TLS (RFC 7435).
//!
//! Then REQUIRETLS (RFC 8689 §4.2.1): a host reached without a verified certificate is
//! skipped, permanently (5.7.30) when no host is left.

use super::sts_policy::{Mode, Policy};
use super::tlsa::Tlsa;
use super::tlsrpt::ResultType;

/// What DNS said about the host's TLSA records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dane {
    /// No DANE: none found, DANE off, or the answer not authenticated.
    None,
    /// Authenticated records, usable ones among them.
    Usable(Vec<Tlsa>),
    /// DNSSEC validation failed (a SERVFAIL from a validating resolver).
    Bogus,
}

/// How to reach the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// STARTTLS when offered, any certificate, clear text as a fallback.
    Opportunistic,
    /// STARTTLS required, certificate verified (WebPKI + extra CAs) for the host name.
    Verified,
    /// Try [`Tls::Verified`]; when TLS fails, report it and go on opportunistically.
    VerifiedOrReport,
    /// STARTTLS required, certificate matching these records.
    Dane(Vec<Tlsa>),
}

/// The policy a result counts under, for TLS-RPT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Under {
    /// `sts`.
    Sts,
    /// `tlsa`.
    Tlsa,
    /// `no-policy-found`.
    NoPolicy,
}

/// The decision for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Connect.
    Connect {
        /// With this TLS.
        tls: Tls,
        /// Counted under this policy.
        under: Under,
        /// A failure to report even if the session succeeds (a host outside a testing
        /// policy).
        report: Option<ResultType>,
    },
    /// Do not use this host.
    Skip {
        /// Counted under this policy.
        under: Under,
        /// Why, for TLS-RPT.
        result: ResultType,
        /// For the queue: permanent (REQUIRETLS cannot be met) or temporary.
        permanent: bool,
        /// The reason, with an enhanced status code.
        reason: String,
    },
}

/// What the message asks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Asks {
    /// REQUIRETLS was given on MAIL FROM (RFC 8689 §4).
    pub require_tls: bool,
    /// The message has `TLS-Required: No` (RFC 8689 §5).
    pub tls_optional: bool,
}

/// The plan for `host` (see the module's table).
pub fn plan(host: &str, dane: &Dane, sts: Option<&Policy>, asks: Asks) -> Plan {
    let sts = sts.filter(|p| p.mode != Mode::None);
    let relaxed = asks.tls_optional && !asks.require_tls;
    let plan = match (dane, sts) {
        (Dane::Usable(records), _) if relaxed => {
            let _ = records;
            Plan::Connect {
                tls: Tls::Opportunistic,
                under: Under::Tlsa,
                report: None,
            }
        }
        (Dane::Bogus, _) if !relaxed => Plan::Skip {
            under: Under::Tlsa,
            result: ResultType::DnssecInvalid,
            permanent: false,
            reason: format!("4.7.5 DNSSEC validation of the TLSA records of {host} failed"),
        },
        (Dane::Usable(records), _) => Plan::Connect {
            tls: Tls::Dane(records.clone()),
            under: Under::Tlsa,
            report: None,
        },
        (_, Some(policy)) => {
            let matches = policy.matches(host);
            let enforce = policy.mode == Mode::Enforce && !relaxed;
            match (enforce, matches) {
                (true, true) => Plan::Connect {
                    tls: Tls::Verified,
                    under: Under::Sts,
                    report: None,
                },
                (true, false) => Plan::Skip {
                    under: Under::Sts,
                    result: ResultType::ValidationFailure,
                    permanent: false,
                    reason: format!(
                        "4.7.5 MX host {host} is not in the recipient domain's MTA-STS policy"
                    ),
                },
                (false, true) => Plan::Connect {
                    tls: Tls::VerifiedOrReport,
                    under: Under::Sts,
                    report: None,
                },
                (false, false) => Plan::Connect {
                    tls: Tls::Opportunistic,
                    under: Under::Sts,
                    report: Some(ResultType::ValidationFailure),
                },
            }
        }
        _ => Plan::Connect {
            tls: Tls::Opportunistic,
            under: Under::NoPolicy,
            report: None,
        },
    };
    match plan {
        Plan::Connect {
            tls: Tls::Opportunistic | Tls::VerifiedOrReport,
            under,
            ..
        } if asks.require_tls => Plan::Skip {
            under,
            result: if under == Under::NoPolicy {
                ResultType::ValidationFailure
            } else {
                ResultType::CertificateNotTrusted
            },
            permanent: true,
            reason: format!(
                "5.7.30 REQUIRETLS support required: no DANE or MTA-STS enforce policy verifies {host}"
            ),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(mode: Mode) -> Policy {
        Policy {
            mode,
            mx: vec!["*.example.test".into()],
            max_age: 86400,
        }
    }

    fn tlsa() -> Vec<Tlsa> {
        vec![Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: vec![0; 32],
        }]
    }

    const PLAIN: Asks = Asks {
        require_tls: false,
        tls_optional: false,
    };
    const REQUIRE: Asks = Asks {
        require_tls: true,
        tls_optional: false,
    };
    const OPTIONAL: Asks = Asks {
        require_tls: false,
        tls_optional: true,
    };

    fn tls(p: &Plan) -> Option<&Tls> {
        match p {
            Plan::Connect { tls, .. } => Some(tls),
            Plan::Skip { .. } => None,
        }
    }

    #[test]
    fn no_policy_is_opportunistic() {
        let p = plan("mx.example.test", &Dane::None, None, PLAIN);
        assert_eq!(
            p,
            Plan::Connect {
                tls: Tls::Opportunistic,
                under: Under::NoPolicy,
                report: None
            }
        );
        let p = plan(
            "mx.example.test",
            &Dane::None,
            Some(&policy(Mode::None)),
            PLAIN,
        );
        assert_eq!(tls(&p), Some(&Tls::Opportunistic));
    }

    #[test]
    fn enforce_verifies_matching_hosts_and_skips_others() {
        let enforce = policy(Mode::Enforce);
        assert_eq!(
            tls(&plan("mx.example.test", &Dane::None, Some(&enforce), PLAIN)),
            Some(&Tls::Verified)
        );
        match plan("mx.evil.test", &Dane::None, Some(&enforce), PLAIN) {
            Plan::Skip {
                permanent,
                result,
                reason,
                ..
            } => {
                assert!(!permanent);
                assert_eq!(result, ResultType::ValidationFailure);
                assert!(reason.starts_with("4.7.5"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn testing_delivers_and_reports() {
        let testing = policy(Mode::Testing);
        assert_eq!(
            tls(&plan("mx.example.test", &Dane::None, Some(&testing), PLAIN)),
            Some(&Tls::VerifiedOrReport)
        );
        assert_eq!(
            plan("mx.evil.test", &Dane::None, Some(&testing), PLAIN),
            Plan::Connect {
                tls: Tls::Opportunistic,
                under: Under::Sts,
                report: Some(ResultType::ValidationFailure)
            }
        );
    }

    #[test]
    fn dane_wins_over_sts_and_bogus_dnssec_skips() {
        let enforce = policy(Mode::Enforce);
        // Even a host outside the STS policy is reached under DANE.
        assert_eq!(
            tls(&plan(
                "mx.evil.test",
                &Dane::Usable(tlsa()),
                Some(&enforce),
                PLAIN
            )),
            Some(&Tls::Dane(tlsa()))
        );
        assert!(matches!(
            plan("mx.example.test", &Dane::Bogus, None, PLAIN),
            Plan::Skip {
                result: ResultType::DnssecInvalid,
                permanent: false,
                ..
            }
        ));
    }

    #[test]
    fn requiretls_needs_dane_or_enforce() {
        let testing = policy(Mode::Testing);
        let enforce = policy(Mode::Enforce);
        for (dane, sts) in [(Dane::None, None), (Dane::None, Some(&testing))] {
            match plan("mx.example.test", &dane, sts, REQUIRE) {
                Plan::Skip {
                    permanent: true,
                    reason,
                    ..
                } => assert!(reason.starts_with("5.7.30")),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            tls(&plan(
                "mx.example.test",
                &Dane::None,
                Some(&enforce),
                REQUIRE
            )),
            Some(&Tls::Verified)
        );
        assert_eq!(
            tls(&plan("mx.x.test", &Dane::Usable(tlsa()), None, REQUIRE)),
            Some(&Tls::Dane(tlsa()))
        );
        // REQUIRETLS and TLS-Required: No together: REQUIRETLS wins.
        let both = Asks {
            require_tls: true,
            tls_optional: true,
        };
        assert_eq!(
            tls(&plan("mx.example.test", &Dane::None, Some(&enforce), both)),
            Some(&Tls::Verified)
        );
    }

    #[test]
    fn tls_required_no_relaxes_policies() {
        let enforce = policy(Mode::Enforce);
        assert_eq!(
            tls(&plan(
                "mx.example.test",
                &Dane::None,
                Some(&enforce),
                OPTIONAL
            )),
            Some(&Tls::VerifiedOrReport)
        );
        assert_eq!(
            plan("mx.evil.test", &Dane::None, Some(&enforce), OPTIONAL),
            Plan::Connect {
                tls: Tls::Opportunistic,
                under: Under::Sts,
                report: Some(ResultType::ValidationFailure)
            }
        );
        assert_eq!(
            tls(&plan("mx.x.test", &Dane::Usable(tlsa()), None, OPTIONAL)),
            Some(&Tls::Opportunistic)
        );
        assert_eq!(
            tls(&plan("mx.x.test", &Dane::Bogus, None, OPTIONAL)),
            Some(&Tls::Opportunistic)
        );
    }
}
