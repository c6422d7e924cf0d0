//! DNS blocklists (RFC 5782) for the `smtp` listener (config `smtp.dnsbl_zones`,
//! `smtp.dnsbl_reject_at`): is the client's address listed?
//!
//! Where it sits: the SMTP driver starts [`Dnsbl::lookup`] when an unauthenticated
//! client connects to the `smtp` listener and uses the answer at connect or at RCPT.
//!
//! The query for client 192.0.2.99 and zone `zen.example` is `99.2.0.192.zen.example`
//! A (RFC 5782 §2.1); for IPv6, the 32 nibbles in reverse (§2.4). An answer in
//! 127.0.0.0/24 means listed (§2.1: lists answer 127.0.0.2 and up); other answers (a
//! list's 127.255.255.x error codes for, say, queries through a public resolver) are
//! logged and ignored. All zones are asked at once; NXDOMAIN means not listed; a
//! timeout or DNS failure is logged and counts as not listed (fail open: a broken list
//! never stops mail).
//!
//! Security stance: sends DNS queries to the configured name servers (`dns.nameservers`);
//! the client controls nothing in the query but its own address.

use relay::dns::{DnsError, DnsResolver};
use std::net::IpAddr;
use std::time::Duration;

/// How long one lookup (all zones) may take before it counts as "not listed".
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The configured blocklists and the resolver that asks them.
#[derive(Debug, Clone)]
pub struct Dnsbl {
    zones: Vec<String>,
    resolver: DnsResolver,
    /// Refuse at connect (true) or at RCPT.
    pub at_connect: bool,
}

impl Dnsbl {
    /// Blocklists from the config; `None` when no zone is configured.
    pub fn from_config(config: &config::Config) -> Result<Option<Dnsbl>, DnsError> {
        let smtp = &config.smtp;
        if smtp.dnsbl_zones.is_empty() {
            return Ok(None);
        }
        // One try of 2 s per server: a slow list must not hold the greeting for long.
        let resolver =
            DnsResolver::with_options(&config.dns.nameservers, Duration::from_secs(2), 2)?;
        Ok(Some(Dnsbl {
            zones: smtp
                .dnsbl_zones
                .iter()
                .map(|z| z.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            resolver,
            at_connect: smtp.dnsbl_reject_at == config::DnsblRejectAt::Connect,
        }))
    }

    /// The first zone (in config order) that lists `ip`, if any.
    pub async fn lookup(&self, ip: IpAddr) -> Option<String> {
        let mut asks = tokio::task::JoinSet::new();
        for (order, zone) in self.zones.iter().enumerate() {
            let (resolver, zone) = (self.resolver.clone(), zone.clone());
            asks.spawn(async move { (order, ask(&resolver, ip, &zone).await.then_some(zone)) });
        }
        let mut listed = Vec::new();
        let all = async {
            while let Some(done) = asks.join_next().await {
                if let Ok((order, Some(zone))) = done {
                    listed.push((order, zone));
                }
            }
        };
        if tokio::time::timeout(LOOKUP_TIMEOUT, all).await.is_err() {
            // The lists that answered in time still count; the others are dropped.
            tracing::warn!(%ip, "DNSBL lookups timed out; unanswered lists count as not listing");
        }
        listed.sort();
        listed.into_iter().next().map(|(_, zone)| zone)
    }
}

/// Asks one zone whether it lists `ip`.
async fn ask(resolver: &DnsResolver, ip: IpAddr, zone: &str) -> bool {
    let name = query_name(ip, zone);
    match resolver.addresses(&name).await {
        Ok(answers) if answers.iter().any(|a| is_listing(*a)) => {
            tracing::info!(%ip, zone, answers = ?answers, "client listed by DNSBL");
            true
        }
        Ok(answers) => {
            tracing::warn!(%ip, zone, answers = ?answers, "DNSBL answered outside 127.0.0.0/24 (an error code?); ignored");
            false
        }
        Err(DnsError::NotFound(_)) => false,
        Err(e) => {
            tracing::warn!(%ip, zone, error = %e, "DNSBL lookup failed; treating the client as not listed");
            false
        }
    }
}

/// RFC 5782 §2.1: an A record in 127.0.0.0/24 is a listing.
fn is_listing(answer: IpAddr) -> bool {
    matches!(answer, IpAddr::V4(a) if a.octets()[..3] == [127, 0, 0])
}

/// The DNS name to look up for `ip` in `zone` (RFC 5782 §2.1, §2.4). An IPv4-mapped
/// IPv6 address is asked as the IPv4 address.
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.{zone}")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(64 + zone.len() + 1);
            for byte in v6.octets().iter().rev() {
                name.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            name.push_str(zone);
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// The address RFC 5782 §5 says every list must show as listed.
    const TEST_LISTED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

    #[test]
    fn query_names() {
        assert_eq!(
            query_name("192.0.2.99".parse().unwrap(), "zen.example"),
            "99.2.0.192.zen.example"
        );
        assert_eq!(
            query_name(TEST_LISTED.into(), "bl.test"),
            "2.0.0.127.bl.test"
        );
        assert_eq!(
            query_name("::ffff:192.0.2.1".parse().unwrap(), "zen.example"),
            "1.2.0.192.zen.example"
        );
        // RFC 5782 §2.4's example.
        assert_eq!(
            query_name(
                "2001:db8:1:2:3:4:567:89ab".parse().unwrap(),
                "ugly.example.com"
            ),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com"
        );
    }

    #[test]
    fn only_127_0_0_x_is_a_listing() {
        assert!(is_listing("127.0.0.2".parse().unwrap()));
        assert!(is_listing("127.0.0.11".parse().unwrap()));
        assert!(!is_listing("127.255.255.254".parse().unwrap()));
        assert!(!is_listing("192.0.2.1".parse().unwrap()));
        assert!(!is_listing("::1".parse().unwrap()));
    }

    #[tokio::test]
    async fn an_unreachable_list_fails_open() {
        // Nothing answers on the discard port: the lookup times out as "not listed".
        let mut config = config::Config::default();
        config.smtp.dnsbl_zones = vec!["zen.example".into()];
        config.dns.nameservers = vec!["127.0.0.1:9".parse().unwrap()];
        let dnsbl = Dnsbl::from_config(&config).unwrap().unwrap();
        assert!(!dnsbl.at_connect, "rcpt is the default");
        let started = std::time::Instant::now();
        assert_eq!(dnsbl.lookup(TEST_LISTED.into()).await, None);
        assert!(started.elapsed() <= LOOKUP_TIMEOUT + Duration::from_secs(1));
        assert!(
            Dnsbl::from_config(&config::Config::default())
                .unwrap()
                .is_none()
        );
    }
}
