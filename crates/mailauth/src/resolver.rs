//! The DNS resolver behind every check: mail-auth's [`MessageAuthenticator`] (a
//! hickory resolver) pointed at the configured name servers.
//!
//! Where it sits: built once at server start (and by `postie dns check`) from `[dns]
//! nameservers`, the same list the outbound relay uses (`relay::dns::DnsResolver`), so
//! a test DNS on loopback answers both. Empty list: the system's resolver.
//!
//! Security stance: talks to the network (DNS only), to the configured servers.

use std::net::SocketAddr;
use std::time::Duration;

use mail_auth::MessageAuthenticator;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};

/// How long one round of a query may take (hickory resends within it). The client
/// waits for the reply to DATA meanwhile, so a dead name server costs one round per
/// lookup, not several.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Further rounds after the first.
const RETRIES: usize = 0;

/// Builds the authenticator. `nameservers` empty: `/etc/resolv.conf`; otherwise exactly
/// these servers (UDP, TCP for truncated answers), no hosts file, no search domains.
pub fn authenticator(nameservers: &[SocketAddr]) -> Result<MessageAuthenticator, String> {
    let (config, mut options) = if nameservers.is_empty() {
        mail_auth::hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("system resolver configuration: {e}"))?
    } else {
        let servers = nameservers.iter().map(|addr| name_server(*addr)).collect();
        let mut options = ResolverOpts::default();
        options.use_hosts_file = ResolveHosts::Never;
        (ResolverConfig::from_name_servers(servers), options)
    };
    options.timeout = TIMEOUT;
    options.attempts = RETRIES;
    // Every name we look up is absolute; never try search domains.
    options.ndots = 0;
    MessageAuthenticator::new(config, options).map_err(|e| format!("DNS resolver: {e}"))
}

/// One configured name server: UDP, and TCP for answers too big for UDP.
fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}
