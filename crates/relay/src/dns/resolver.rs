//! The DNS lookups for outbound mail: MX with the implicit-MX fallback, and addresses.
//!
//! Where it sits: the delivery router calls [`DnsResolver::mail_hosts`] for a recipient
//! domain, then [`DnsResolver::addresses`] for each host in order, and connects with
//! [`crate::client`]. Lookups go through hickory-resolver, which caches answers for
//! their TTL, so the address lookup behind an implicit MX is answered from the cache
//! when the caller asks for the host's addresses next.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::error::{DnsError, Failure, classify};
use super::mx::{MailHosts, MxHost, order_mx};

/// How long to wait for one answer before trying again.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many times a query is sent to the name servers before giving up.
pub const DEFAULT_ATTEMPTS: usize = 2;

/// Resolves mail routes. Cheap to clone: clones share one resolver and its cache.
#[derive(Clone)]
pub struct DnsResolver {
    inner: Arc<TokioResolver>,
    /// The servers asked directly for TLSA (see `tlsa_query`), and for how long.
    servers: Arc<Vec<SocketAddr>>,
    timeout: Duration,
}

impl fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsResolver").finish_non_exhaustive()
    }
}

impl DnsResolver {
    /// `nameservers` empty: the system's resolver (/etc/resolv.conf). Otherwise exactly
    /// these servers (UDP, with TCP for truncated answers), no search domains, no hosts
    /// file. Timeout 5 s, 2 attempts.
    pub fn new(nameservers: &[SocketAddr]) -> Result<DnsResolver, DnsError> {
        Self::with_options(nameservers, DEFAULT_TIMEOUT, DEFAULT_ATTEMPTS)
    }

    /// Like [`DnsResolver::new`] with a per-query `timeout` and the number of `attempts`
    /// (total sends of a query, at least 1). These override the system configuration's.
    pub fn with_options(
        nameservers: &[SocketAddr],
        timeout: Duration,
        attempts: usize,
    ) -> Result<DnsResolver, DnsError> {
        let mut builder = if nameservers.is_empty() {
            TokioResolver::builder_tokio()
                .map_err(|e| DnsError::Config(format!("system resolver configuration: {e}")))?
        } else {
            let servers = nameservers.iter().map(|addr| name_server(*addr)).collect();
            let mut builder = TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            );
            builder.options_mut().use_hosts_file = ResolveHosts::Never;
            builder
        };
        let options = builder.options_mut();
        options.timeout = timeout;
        // hickory counts retries after the first send.
        options.attempts = attempts.max(1) - 1;
        let resolver = builder
            .build()
            .map_err(|e| DnsError::Config(format!("building the resolver: {e}")))?;
        let servers = if nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map(|(config, _)| {
                    let mut ips: Vec<SocketAddr> = config
                        .name_servers()
                        .iter()
                        .map(|s| SocketAddr::new(s.ip, 53))
                        .collect();
                    ips.dedup();
                    ips
                })
                .unwrap_or_default()
        } else {
            nameservers.to_vec()
        };
        Ok(DnsResolver {
            inner: Arc::new(resolver),
            servers: Arc::new(servers),
            timeout,
        })
    }

    /// The hosts to try for mail to `domain`, in order (RFC 5321 §5.1).
    ///
    /// `domain` may be an IDN U-label; it is converted to A-labels (punycode). MX
    /// records present: ordered by [`order_mx`] (null MX included). No MX records
    /// (NODATA): the implicit MX, the domain itself, if it has an A or AAAA record
    /// (RFC 5321 §5.1). NXDOMAIN, or no MX and no address: [`DnsError::NotFound`].
    /// Whether an MX target's own addresses resolve is for the caller, per host, with
    /// [`DnsResolver::addresses`].
    pub async fn mail_hosts(&self, domain: &str) -> Result<MailHosts, DnsError> {
        let name = fqdn(domain)?;
        let records: Vec<(u16, String)> = match self.inner.mx_lookup(name.clone()).await {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                    _ => None,
                })
                .collect(),
            Err(err) => match classify(&err) {
                Failure::NxDomain => {
                    return Err(DnsError::NotFound(format!(
                        "{domain}: no such domain (NXDOMAIN)"
                    )));
                }
                Failure::NoData => Vec::new(),
                Failure::Temporary(msg) => {
                    return Err(DnsError::Temporary(format!(
                        "MX lookup for {domain}: {msg}"
                    )));
                }
            },
        };
        if records.is_empty() {
            return self.implicit_mx(name, domain).await;
        }
        Ok(order_mx(records, &mut rand::rng()))
    }

    /// A and AAAA addresses of `host`: IPv4 first, then IPv6 (RFC 5321 §5.1 leaves the
    /// order open). An IP address given as `host` is returned as is.
    ///
    /// When one family fails temporarily and the other has addresses, those are
    /// returned. No addresses: [`DnsError::Temporary`] if a lookup failed, else
    /// [`DnsError::NotFound`].
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        self.lookup_addresses(fqdn(host)?, host).await
    }

    /// The TXT records at `name`, each one string (its character-strings joined, RFC
    /// 7208 §3.3 style), lossily decoded; at most 50 records of at most 4 KiB are kept.
    /// NXDOMAIN or no TXT records: an empty list.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let lookup = match self.inner.lookup(fqdn(name)?, RecordType::TXT).await {
            Ok(lookup) => lookup,
            Err(err) => {
                return match classify(&err) {
                    Failure::NxDomain | Failure::NoData => Ok(Vec::new()),
                    Failure::Temporary(msg) => {
                        Err(DnsError::Temporary(format!("TXT lookup for {name}: {msg}")))
                    }
                };
            }
        };
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => {
                    let joined: Vec<u8> = txt
                        .txt_data
                        .iter()
                        .flat_map(|c| c.iter().copied())
                        .take(4096)
                        .collect();
                    Some(String::from_utf8_lossy(&joined).into_owned())
                }
                _ => None,
            })
            .take(50)
            .collect())
    }

    /// The TLSA records at `name` (RFC 6698 §2) and whether the answer came with the
    /// AD bit set (RFC 4035 §3.2.3: the resolver validated it); at most 20 records.
    /// NXDOMAIN or no records: an empty list. Only a resolver the operator trusts to
    /// validate DNSSEC may be believed about AD (RFC 7672 §2.1). Asked directly of the
    /// configured servers with AD set on the query (RFC 6840 §5.7), not through the
    /// cache, which does not ask for AD.
    pub async fn tlsa(
        &self,
        name: &str,
    ) -> Result<(Vec<crate::security::tlsa::Tlsa>, bool), DnsError> {
        super::tlsa_query::tlsa(&self.servers, &fqdn(name)?, self.timeout).await
    }

    /// RFC 5321 §5.1: with no MX records, the domain is treated as its own mail
    /// exchanger with preference 0 — provided it has an address.
    async fn implicit_mx(&self, name: Name, domain: &str) -> Result<MailHosts, DnsError> {
        let host = ascii_host(&name);
        match self.lookup_addresses(name, domain).await {
            Ok(_) => Ok(MailHosts::Hosts(vec![MxHost {
                name: host,
                preference: 0,
                implicit: true,
            }])),
            Err(DnsError::NotFound(_)) => Err(DnsError::NotFound(format!(
                "{domain}: no MX and no A or AAAA records"
            ))),
            Err(other) => Err(other),
        }
    }

    async fn lookup_addresses(&self, name: Name, label: &str) -> Result<Vec<IpAddr>, DnsError> {
        let (v4, v6) = tokio::join!(
            self.inner.ipv4_lookup(name.clone()),
            self.inner.ipv6_lookup(name)
        );
        let mut addresses = Vec::new();
        let mut temporary = None;
        for result in [v4, v6] {
            match result {
                Ok(lookup) => {
                    addresses.extend(lookup.answers().iter().filter_map(
                        |record| match &record.data {
                            RData::A(a) => Some(IpAddr::V4(a.0)),
                            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                            _ => None,
                        },
                    ));
                }
                Err(err) => {
                    if let Failure::Temporary(msg) = classify(&err) {
                        temporary.get_or_insert(msg);
                    }
                }
            }
        }
        match (addresses.is_empty(), temporary) {
            (false, temporary) => {
                if let Some(msg) = temporary {
                    tracing::debug!(host = label, error = %msg, "one address family failed");
                }
                Ok(addresses)
            }
            (true, Some(msg)) => Err(DnsError::Temporary(format!(
                "address lookup for {label}: {msg}"
            ))),
            (true, None) => Err(DnsError::NotFound(format!("{label}: no A or AAAA records"))),
        }
    }
}

/// One configured name server: UDP, and TCP for answers too big for UDP.
fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

/// `domain` as an absolute name (so no search domains apply), IDN converted to
/// A-labels. A name that cannot be a domain is a permanent failure.
fn fqdn(domain: &str) -> Result<Name, DnsError> {
    let relative = domain.strip_suffix('.').unwrap_or(domain);
    if relative.is_empty() {
        return Err(DnsError::NotFound(format!("{domain:?}: empty domain name")));
    }
    let mut name = Name::from_str_relaxed(relative)
        .map_err(|e| DnsError::NotFound(format!("{domain}: not a valid domain name: {e}")))?;
    name.set_fqdn(true);
    Ok(name)
}

/// The name in A-labels without the trailing dot, as hosts are reported.
fn ascii_host(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_absolute_a_labels() {
        assert_eq!(fqdn("example.test").unwrap().to_ascii(), "example.test.");
        assert_eq!(fqdn("example.test.").unwrap().to_ascii(), "example.test.");
        assert!(fqdn("example.test").unwrap().is_fqdn());
        assert_eq!(
            ascii_host(&fqdn("bücher.test").unwrap()),
            "xn--bcher-kva.test"
        );
    }

    #[test]
    fn empty_or_invalid_domains_are_permanent() {
        for bad in ["", ".", "a..b", &"x".repeat(64)] {
            let err = fqdn(bad).unwrap_err();
            assert!(err.is_permanent(), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn explicit_servers_build_without_a_runtime() {
        let addr: SocketAddr = "127.0.0.1:53".parse().unwrap();
        DnsResolver::new(&[addr]).expect("resolver");
    }

    #[test]
    fn lookups_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let addr: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let resolver = DnsResolver::new(&[addr]).unwrap();
        // Futures are lazy: nothing is sent by creating them.
        assert_send(&resolver.mail_hosts("example.test"));
        assert_send(&resolver.addresses("example.test"));
    }
}
