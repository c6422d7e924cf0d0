//! The pure part of mail routing: ordering MX records and recognising the null MX.
//!
//! Where it sits: [`super::resolver`] looks the MX records up and hands them to
//! [`order_mx`]; the delivery router walks the resulting [`MailHosts`] in order.

use rand::Rng;
use rand::seq::SliceRandom;

/// Where mail for a domain goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailHosts {
    /// RFC 7505 null MX ("MX 0 ."): the domain accepts no mail — an immediate bounce
    /// (556 5.1.10, RFC 7505 §4.1).
    NullMx,
    /// Hosts to try in order: MX targets sorted by preference, equal preferences
    /// shuffled; or, with no MX records at all, the domain itself (implicit MX,
    /// RFC 5321 §5.1).
    Hosts(Vec<MxHost>),
}

/// One host to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// Host name in ASCII (A-labels), without the trailing dot.
    pub name: String,
    /// MX preference; 0 for the implicit MX.
    pub preference: u16,
    /// True when the domain had no MX records and this is the domain itself.
    pub implicit: bool,
}

/// Orders MX records for delivery attempts.
///
/// RFC 5321 §5.1: MX records are sorted by preference, lower numbers first, and
/// destinations of equal preference are randomized to spread the load across the
/// domain's mail exchangers — with `rng` here (tests pass a seeded one).
///
/// RFC 7505 §3: a null MX is an MX whose exchange is the root name ".". If every record
/// is one, the domain takes no mail ([`MailHosts::NullMx`]); a "." among real hosts is a
/// misconfiguration and is ignored. Trailing dots are stripped from the targets. An empty
/// list gives an empty [`MailHosts::Hosts`]; the caller handles the implicit MX.
pub fn order_mx(records: Vec<(u16, String)>, rng: &mut impl Rng) -> MailHosts {
    let had_records = !records.is_empty();
    let mut hosts: Vec<MxHost> = records
        .into_iter()
        .filter_map(|(preference, target)| {
            let name = target.trim_end_matches('.');
            (!name.is_empty()).then(|| MxHost {
                name: name.to_owned(),
                preference,
                implicit: false,
            })
        })
        .collect();
    if had_records && hosts.is_empty() {
        return MailHosts::NullMx;
    }
    // Shuffle first, then a stable sort: equal preferences keep their random order.
    hosts.shuffle(rng);
    hosts.sort_by_key(|host| host.preference);
    MailHosts::Hosts(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::collections::BTreeSet;

    fn names(hosts: &MailHosts) -> Vec<&str> {
        match hosts {
            MailHosts::Hosts(hosts) => hosts.iter().map(|h| h.name.as_str()).collect(),
            MailHosts::NullMx => panic!("unexpected null MX"),
        }
    }

    fn records(list: &[(u16, &str)]) -> Vec<(u16, String)> {
        list.iter().map(|(p, n)| (*p, n.to_string())).collect()
    }

    #[test]
    fn sorted_by_preference_lowest_first() {
        let input = records(&[(30, "c.example."), (10, "a.example."), (20, "b.example.")]);
        let out = order_mx(input, &mut StdRng::seed_from_u64(1));
        let MailHosts::Hosts(hosts) = &out else {
            panic!("expected hosts")
        };
        assert_eq!(names(&out), ["a.example", "b.example", "c.example"]);
        assert_eq!(
            hosts.iter().map(|h| h.preference).collect::<Vec<_>>(),
            [10, 20, 30]
        );
        assert!(hosts.iter().all(|h| !h.implicit));
    }

    #[test]
    fn equal_preferences_are_shuffled_but_stay_behind_better_ones() {
        let input = records(&[
            (20, "late.example"),
            (10, "x.example"),
            (10, "y.example"),
            (10, "z.example"),
        ]);
        let mut seen = BTreeSet::new();
        for seed in 0..64 {
            let out = order_mx(input.clone(), &mut StdRng::seed_from_u64(seed));
            let order = names(&out);
            // Every order holds all hosts, the worse preference last.
            assert_eq!(order.len(), 4);
            assert_eq!(order[3], "late.example");
            let mut first3 = order[..3].to_vec();
            first3.sort();
            assert_eq!(first3, ["x.example", "y.example", "z.example"]);
            seen.insert(order[..3].join(","));
        }
        // 3 equal hosts have 6 orders; 64 seeds see more than one of them (in practice all).
        assert!(seen.len() > 1, "no shuffling: always {seen:?}");
    }

    #[test]
    fn two_equal_hosts_come_in_both_orders() {
        let input = records(&[(5, "a.example"), (5, "b.example")]);
        let orders: BTreeSet<Vec<String>> = (0..32)
            .map(|seed| {
                let out = order_mx(input.clone(), &mut StdRng::seed_from_u64(seed));
                names(&out).into_iter().map(String::from).collect()
            })
            .collect();
        assert_eq!(orders.len(), 2, "{orders:?}");
    }

    #[test]
    fn same_seed_same_order() {
        let input = records(&[(5, "a"), (5, "b"), (5, "c"), (5, "d")]);
        let one = order_mx(input.clone(), &mut StdRng::seed_from_u64(7));
        let two = order_mx(input, &mut StdRng::seed_from_u64(7));
        assert_eq!(one, two);
    }

    #[test]
    fn lone_root_target_is_null_mx() {
        let mut rng = StdRng::seed_from_u64(0);
        assert_eq!(order_mx(records(&[(0, ".")]), &mut rng), MailHosts::NullMx);
        // RFC 7505 says preference 0; any preference still means "no mail".
        assert_eq!(order_mx(records(&[(10, ".")]), &mut rng), MailHosts::NullMx);
        assert_eq!(order_mx(records(&[(0, "")]), &mut rng), MailHosts::NullMx);
    }

    #[test]
    fn root_target_among_real_hosts_is_ignored() {
        let input = records(&[(0, "."), (10, "mx.example.")]);
        let out = order_mx(input, &mut StdRng::seed_from_u64(0));
        assert_eq!(
            out,
            MailHosts::Hosts(vec![MxHost {
                name: "mx.example".into(),
                preference: 10,
                implicit: false,
            }])
        );
    }

    #[test]
    fn no_records_is_empty_hosts_not_null_mx() {
        let out = order_mx(Vec::new(), &mut StdRng::seed_from_u64(0));
        assert_eq!(out, MailHosts::Hosts(Vec::new()));
    }
}
