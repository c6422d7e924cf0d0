//! Where a recipient domain's mail goes: the configured smarthost, or the domain's MX
//! hosts (RFC 5321 §5.1) with their addresses, each with the client settings to use.
//!
//! Where it sits: [`super::Relay`] asks [`Routes::targets`] once per domain per
//! attempt; DNS answers are cached by the resolver.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::client::ClientConfig;
use crate::dns::{DnsError, DnsResolver, MailHosts, MxHost};

use super::Outcome;
use super::tried::Failure;

/// The SMTP port of MX hosts (RFC 5321 §4.5.4... and IANA).
pub const SMTP_PORT: u16 = 25;

/// Most mail hosts of one domain looked up and tried in one attempt, best preference
/// first (after the hosts at or past this server's own preference are dropped). A
/// domain is free to publish hundreds of MX records; each one costs an address look-up
/// and connection attempts, so without a cap one attempt could take hours. RFC 5321
/// §5.1 lets a client limit the hosts it tries; Postfix caps the same thing
/// (`smtp_mx_address_limit`).
pub const MAX_MX_HOSTS: usize = 10;

/// Most addresses tried in one attempt, over all of a domain's hosts (or a smarthost's
/// name): a host name may resolve to hundreds of addresses.
pub const MAX_ADDRESSES: usize = 10;

/// One host to try, with its addresses in order.
#[derive(Clone)]
pub struct Target {
    /// Its name (for SNI, certificate checks and messages).
    pub name: String,
    /// Where to connect.
    pub addresses: Vec<SocketAddr>,
    /// How to talk to it.
    pub config: Arc<ClientConfig>,
}

/// A smarthost and the domains it takes.
pub struct Smarthost {
    /// Host name or IP address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS, credentials and timeouts for it.
    pub config: Arc<ClientConfig>,
    /// Lower-case recipient domains it takes; empty: all.
    pub domains: Vec<String>,
}

/// The hosts to try for a domain.
pub struct Targets {
    /// In order.
    pub hosts: Vec<Target>,
    /// A host that could not be resolved for now (DNS timeout, SERVFAIL): if every host
    /// in `hosts` then refuses for good, the mail must still wait for that one.
    pub unresolved: Option<String>,
    /// The mail hosts left out because their address look-up failed or found no
    /// address, in MX order: the relay lists them first among the hosts it tried
    /// when no host takes the mail. Worded 4.x.x: one such host decides nothing.
    pub no_address: Vec<Failure>,
}

/// The routing table of the relay.
pub struct Routes {
    smarthost: Option<Smarthost>,
    mx_config: Arc<ClientConfig>,
    mx_port: u16,
    /// This server's own host names, lower case without a trailing dot.
    own_names: Vec<String>,
}

impl Routes {
    /// Everything via MX, talking to MX hosts with `mx_config` (opportunistic TLS).
    pub fn mx(mx_config: ClientConfig) -> Self {
        Routes {
            smarthost: None,
            mx_config: Arc::new(mx_config),
            mx_port: SMTP_PORT,
            own_names: Vec::new(),
        }
    }

    /// Names this server answers to: an MX host with one of them is this server.
    pub fn with_own_names<I: IntoIterator<Item = String>>(mut self, names: I) -> Self {
        self.own_names = names.into_iter().map(|n| normalise(&n)).collect();
        self
    }

    /// Sends the smarthost's domains (or everything) through it.
    pub fn with_smarthost(mut self, smarthost: Smarthost) -> Self {
        self.smarthost = Some(smarthost);
        self
    }

    /// Connects to MX hosts on `port` instead of 25 (for tests and benchmarks that
    /// cannot bind port 25).
    pub fn with_mx_port(mut self, port: u16) -> Self {
        self.mx_port = port;
        self
    }

    /// The client settings for MX hosts.
    pub fn mx_config(&self) -> &Arc<ClientConfig> {
        &self.mx_config
    }

    /// Whether mail for `domain` goes through the smarthost.
    pub fn is_smarthost(&self, domain: &str) -> bool {
        self.smarthost.as_ref().is_some_and(|s| {
            s.domains.is_empty() || s.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
        })
    }

    /// The hosts to try for `domain`, in order, or the outcome for all its recipients
    /// when there is none (null MX, no such domain, DNS failure).
    pub async fn targets(&self, dns: &DnsResolver, domain: &str) -> Result<Targets, Outcome> {
        if let Some(smarthost) = self
            .smarthost
            .as_ref()
            .filter(|_| self.is_smarthost(domain))
        {
            let addresses = match smarthost.host.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => dns.addresses(&smarthost.host).await.map_err(|e| {
                    Outcome::Temporary(format!(
                        "4.4.3 cannot resolve smarthost {}: {e}",
                        smarthost.host
                    ))
                })?,
            };
            let hosts = vec![Target {
                name: smarthost.host.clone(),
                addresses: addresses
                    .into_iter()
                    .take(MAX_ADDRESSES)
                    .map(|ip| SocketAddr::new(ip, smarthost.port))
                    .collect(),
                config: smarthost.config.clone(),
            }];
            return Ok(Targets {
                hosts,
                unresolved: None,
                no_address: Vec::new(),
            });
        }
        let mut hosts = match dns.mail_hosts(domain).await {
            Ok(MailHosts::Hosts(hosts)) => self.before_self(domain, hosts)?,
            // RFC 7505 §4.1: fail at once, 5.1.10.
            Ok(MailHosts::NullMx) => {
                return Err(Outcome::Permanent(format!(
                    "5.1.10 {domain} accepts no mail (null MX, RFC 7505)"
                )));
            }
            Err(DnsError::NotFound(why)) => {
                return Err(Outcome::Permanent(format!(
                    "5.1.2 domain {domain} not found: {why}"
                )));
            }
            Err(e) => {
                return Err(Outcome::Temporary(format!(
                    "4.4.3 DNS lookup for {domain} failed: {e}"
                )));
            }
        };
        if hosts.len() > MAX_MX_HOSTS {
            tracing::info!(
                %domain,
                hosts = hosts.len(),
                tried = MAX_MX_HOSTS,
                "domain has more mail hosts than one attempt tries"
            );
            hosts.truncate(MAX_MX_HOSTS);
        }
        let mut targets = Vec::with_capacity(hosts.len());
        let mut temporary = None;
        let mut no_address = Vec::new();
        let mut room = MAX_ADDRESSES;
        for host in hosts {
            if room == 0 {
                break;
            }
            match dns.addresses(&host.name).await {
                Ok(ips) if !ips.is_empty() => {
                    let addresses: Vec<SocketAddr> = ips
                        .into_iter()
                        .take(room)
                        .map(|ip| SocketAddr::new(ip, self.mx_port))
                        .collect();
                    room -= addresses.len();
                    targets.push(Target {
                        addresses,
                        name: host.name,
                        config: self.mx_config.clone(),
                    });
                }
                Ok(_) | Err(DnsError::NotFound(_)) => {
                    no_address.push(Failure::ours(&host.name, "4.4.4", "no address"));
                }
                Err(e) => {
                    temporary = Some(format!("4.4.3 DNS lookup for {} failed: {e}", host.name));
                    let what = format!("address lookup failed: {e}");
                    no_address.push(Failure::ours(&host.name, "4.4.3", &what));
                }
            }
        }
        if targets.is_empty() {
            return Err(match temporary {
                Some(why) => Outcome::Temporary(why),
                None => {
                    Outcome::Permanent(format!("5.4.4 no mail host of {domain} has an address"))
                }
            });
        }
        Ok(Targets {
            hosts: targets,
            unresolved: temporary,
            no_address,
        })
    }

    /// RFC 5321 §5.1: when this server is one of the MX hosts, it and every host of
    /// the same or a worse preference are dropped, so mail goes only towards better
    /// ones; when none is better, the mail would loop back here, which is a permanent
    /// 5.4.6 (Postfix's "mail for D loops back to myself").
    fn before_self(&self, domain: &str, hosts: Vec<MxHost>) -> Result<Vec<MxHost>, Outcome> {
        let own = hosts
            .iter()
            .filter(|h| self.own_names.contains(&normalise(&h.name)))
            .map(|h| h.preference)
            .min();
        let Some(own) = own else { return Ok(hosts) };
        let better: Vec<MxHost> = hosts.into_iter().filter(|h| h.preference < own).collect();
        if better.is_empty() {
            return Err(Outcome::Permanent(format!(
                "5.4.6 mail for {domain} loops back to myself (this server is its best MX host)"
            )));
        }
        Ok(better)
    }
}

/// A host name compared case-insensitively, without the root's trailing dot.
fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}
