//! The names an ACME certificate carries: `hostname`, then with
//! `acme.include_service_names` `autoconfig.DOMAIN` and `mta-sts.DOMAIN` for every
//! local domain (the names mail clients and MTA-STS senders fetch over HTTPS).
//!
//! Where it sits: [`super::task`] and `postie cert renew` compute them before an
//! order, and compare them with the stored certificate's names (a new domain means a
//! new order).

/// The DNS names to order, lower case, without duplicates, `hostname` first.
/// Names that are not DNS names (an IP address, no dot such as `localhost`) are left
/// out: a public CA cannot validate them.
pub fn wanted(hostname: &str, domains: &[String], include_service_names: bool) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |name: String| {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if orderable(&name) && !names.contains(&name) {
            names.push(name);
        }
    };
    add(hostname.to_owned());
    if include_service_names {
        for domain in domains {
            add(format!("autoconfig.{domain}"));
            add(format!("mta-sts.{domain}"));
        }
    }
    names
}

/// Whether `name` is a DNS name a CA could validate: dotted LDH labels (RFC 1123
/// §2.1) of at most 63 octets, 253 in all, not an IP address.
fn orderable(name: &str) -> bool {
    name.contains('.')
        && name.parse::<std::net::IpAddr>().is_err()
        && message::domain::is_ldh_name(name)
}

/// Whether a certificate naming `have` covers every name of `want`.
pub fn covers(have: &[String], want: &[String]) -> bool {
    want.iter()
        .all(|w| have.iter().any(|h| h.eq_ignore_ascii_case(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_host_name_alone_by_default() {
        let domains = s(&["example.org"]);
        assert_eq!(
            wanted("MX.Example.org.", &domains, false),
            s(&["mx.example.org"])
        );
    }

    #[test]
    fn service_names_for_every_domain_when_asked() {
        let domains = s(&["example.org", "example.net"]);
        assert_eq!(
            wanted("mx.example.org", &domains, true),
            s(&[
                "mx.example.org",
                "autoconfig.example.org",
                "mta-sts.example.org",
                "autoconfig.example.net",
                "mta-sts.example.net"
            ])
        );
    }

    #[test]
    fn names_a_ca_cannot_validate_are_left_out() {
        assert!(wanted("localhost", &[], false).is_empty());
        assert!(wanted("192.0.2.1", &[], false).is_empty());
        assert!(wanted("bad_name.example", &[], false).is_empty());
        assert!(wanted(&format!("{}.example", "a".repeat(64)), &[], false).is_empty());
    }

    #[test]
    fn coverage_ignores_case_and_order() {
        assert!(covers(
            &s(&["B.example", "a.example"]),
            &s(&["a.example", "b.example"])
        ));
        assert!(!covers(&s(&["a.example"]), &s(&["a.example", "b.example"])));
    }
}
