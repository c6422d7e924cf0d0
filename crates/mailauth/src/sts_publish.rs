//! The MTA-STS policy this server publishes for its local domains (RFC 8461), and the
//! DNS records that announce it.
//!
//! Where it sits: the web face serves [`policy_text`] at
//! `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` (RFC 8461 §3.3); `postie dns
//! records|check` (through `admin::dns`) adds [`records`] to the domain's list and
//! [`crate::check`] judges the TXT record with [`judge`]. Pure: the caller reads
//! `[mta_sts]` and `hostname` from the configuration in force. (Applying other
//! domains' policies to outbound mail is the relay's business, not this file's.)
//!
//! The policy is the same for every local domain, since they share this server's MX
//! host: `version: STSv1`, the mode, an `mx:` line for `hostname` and for each extra
//! pattern, and `max_age` (§3.2), lines ending in CRLF. The TXT record's `id` (§3.1:
//! 1 to 32 letters and digits) is a hash of that text, so it changes exactly when the
//! policy does and every node of a cluster computes the same one.

use crate::records::{Data, Kind, Record};

/// The owner label of the policy record (RFC 8461 §3.1).
pub const TXT_LABEL: &str = "_mta-sts";

/// The host label the policy is fetched from (RFC 8461 §3.3).
pub const POLICY_HOST_LABEL: &str = "mta-sts";

/// The path of the policy on the policy host (RFC 8461 §3.3).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// The policy text (RFC 8461 §3.2): `mode` (`testing`, `enforce` or `none`), the MX
/// `hostname` and then each of `extra_mx` not already listed, and `max_age`.
pub fn policy_text(mode: &str, max_age: u64, hostname: &str, extra_mx: &[String]) -> String {
    let mut mx: Vec<String> = vec![hostname.trim_end_matches('.').to_ascii_lowercase()];
    for pattern in extra_mx {
        let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
        if !mx.contains(&pattern) {
            mx.push(pattern);
        }
    }
    let mut text = format!("version: STSv1\r\nmode: {mode}\r\n");
    for pattern in &mx {
        text.push_str(&format!("mx: {pattern}\r\n"));
    }
    text.push_str(&format!("max_age: {max_age}\r\n"));
    text
}

/// The `id` of the policy record for `text`: 16 lowercase hex digits of its 64-bit
/// FNV-1a hash. Stable across builds and nodes; not a secret, only a change marker
/// (RFC 8461 §3.1: senders refetch when it differs from the one they cached).
pub fn policy_id(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in text.as_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The TXT value announcing the policy with this `id` (RFC 8461 §3.1).
pub fn txt_value(id: &str) -> String {
    format!("v=STSv1; id={id}")
}

/// The records that publish `policy` (see [`policy_text`]) for `domain`, whose MX
/// host is `hostname`: `_mta-sts.DOMAIN` TXT, and `mta-sts.DOMAIN` as a CNAME of
/// `hostname`, whose web face serves the policy over HTTPS.
pub fn records(domain: &str, hostname: &str, policy: &str) -> Vec<Record> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let host = hostname.trim_end_matches('.').to_ascii_lowercase();
    vec![
        Record {
            kind: Kind::MtaSts,
            name: format!("{TXT_LABEL}.{domain}"),
            data: Data::Txt(txt_value(&policy_id(policy))),
            comment: Some(
                "MTA-STS (RFC 8461 §3.1): senders use TLS with a valid certificate; \
                 the id changes with the policy."
                    .into(),
            ),
        },
        Record {
            kind: Kind::Cname,
            name: format!("{POLICY_HOST_LABEL}.{domain}"),
            data: Data::Cname(host),
            comment: Some(format!(
                "The MTA-STS policy host: https://{POLICY_HOST_LABEL}.{domain}{POLICY_PATH} \
                 (its certificate must name {POLICY_HOST_LABEL}.{domain}; or use an A record)."
            )),
        },
    ]
}

/// The verdict on the `_mta-sts` TXT record given the TXT strings `found` there:
/// `want` is our [`txt_value`]. Exactly one `v=STSv1` record must exist (RFC 8461
/// §3.1: with several, senders act as if there were none), carrying our id (another
/// id means senders keep a policy that is not the one served).
pub fn judge<'a>(want: &str, found: impl Iterator<Item = &'a str>) -> crate::check::Status {
    use crate::check::Status;
    let sts: Vec<&str> = found
        .filter(|t| {
            t.trim_start()
                .get(..7)
                .is_some_and(|v| v.eq_ignore_ascii_case("v=STSv1"))
        })
        .collect();
    match sts.as_slice() {
        [] => Status::Missing,
        [one] if id_of(one) == id_of(want) && id_of(want).is_some() => Status::Ok,
        [one] => Status::Wrong(format!("\"{one}\"; the policy served has {want}")),
        _ => Status::Wrong(format!(
            "{} STSv1 records; RFC 8461 §3.1 wants one",
            sts.len()
        )),
    }
}

/// The `id=` value of a `v=STSv1; id=…` record.
fn id_of(text: &str) -> Option<&str> {
    text.split(';')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(key, _)| key.trim() == "id")
        .map(|(_, value)| value.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn the_policy_text_follows_rfc_8461() {
        let text = policy_text(
            "enforce",
            86400,
            "Mail.Example.org.",
            &["*.example.net".into(), "mail.example.org".into()],
        );
        assert_eq!(
            text,
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\n\
             mx: *.example.net\r\nmax_age: 86400\r\n"
        );
    }

    #[test]
    fn the_id_is_short_alphanumeric_and_follows_the_text() {
        let a = policy_id(&policy_text("testing", 604800, "mx.example", &[]));
        let b = policy_id(&policy_text("enforce", 604800, "mx.example", &[]));
        let c = policy_id(&policy_text("testing", 86400, "mx.example", &[]));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            a,
            policy_id(&policy_text("testing", 604800, "mx.example", &[]))
        );
        for id in [&a, &b, &c] {
            assert!((1..=32).contains(&id.len()), "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
    }

    #[test]
    fn records_name_the_txt_and_the_policy_host() {
        let policy = policy_text("testing", 604800, "mx.example", &[]);
        let r = records("Example.org", "mx.example", &policy);
        assert_eq!(
            r[0].to_string().lines().last().unwrap(),
            format!(
                "_mta-sts.example.org. 3600 IN TXT \"v=STSv1; id={}\"",
                policy_id(&policy)
            )
        );
        assert_eq!(
            r[1].to_string().lines().last().unwrap(),
            "mta-sts.example.org. 3600 IN CNAME mx.example."
        );
    }

    #[test]
    fn judging_the_txt_record() {
        let want = txt_value("abc123");
        let judge_of = |found: &[&str]| judge(&want, found.iter().copied());
        assert_eq!(judge_of(&[]), Status::Missing);
        assert_eq!(judge_of(&["v=spf1 -all"]), Status::Missing);
        assert_eq!(judge_of(&["v=STSv1; id=abc123"]), Status::Ok);
        assert_eq!(judge_of(&["v=STSv1;id=abc123;"]), Status::Ok);
        assert!(matches!(judge_of(&["v=STSv1; id=old1"]), Status::Wrong(w) if w.contains("old1")));
        assert!(matches!(
            judge_of(&["v=STSv1; id=abc123", "v=STSv1; id=x"]),
            Status::Wrong(w) if w.contains("2 STSv1")
        ));
    }
}
