//! Builds the outbound relay from the `[dns]`, `[relay]` and `[tls_rpt]` config
//! sections: the DNS resolver, the MX and smarthost client settings, the connection
//! pool, and the transport security (MTA-STS, DANE, TLS-RPT records) over the store.
//!
//! Where it sits: [`crate::run_with_store`] calls [`relay`] once at start and plugs the
//! result into the delivery router the queue runner uses.

use std::sync::Arc;
use std::time::Duration;

use config::{Config, SmarthostTls};
use relay::client::{ClientConfig, TlsMode};
use relay::dns::DnsResolver;
use relay::outbound::Relay;
use relay::outbound::pool::Pool;
use relay::outbound::route::{Routes, Smarthost};
use tokio::sync::watch;

use crate::ServerError;

/// The relay the configuration describes; its idle connections are closed when `stop`
/// turns true.
pub(crate) fn relay(
    config: &Config,
    store: Option<Arc<dyn store::Store>>,
    stop: watch::Receiver<bool>,
) -> Result<Arc<Relay>, ServerError> {
    let dns = DnsResolver::new(&config.dns.nameservers)
        .map_err(|e| ServerError::Relay(format!("DNS resolver: {e}")))?;
    let r = &config.relay;
    let mx = ClientConfig {
        tls: if r.require_tls {
            TlsMode::Required
        } else {
            TlsMode::Opportunistic
        },
        ..ClientConfig::new(config.hostname.clone())
    };
    let mut routes = Routes::mx(mx).with_own_names([config.hostname.clone()]);
    if let Some((host, port)) = r.smarthost_parts() {
        let tls_config = relay::tls::verified_config(r.smarthost_ca.as_deref())
            .map_err(|e| ServerError::Relay(format!("relay.smarthost_ca: {e}")))?;
        let tls = match r.smarthost_tls {
            SmarthostTls::Starttls => TlsMode::Required,
            SmarthostTls::Tls => TlsMode::Implicit,
            SmarthostTls::None => TlsMode::Disabled,
        };
        let credentials = r.smarthost_user.clone().zip(r.smarthost_password.clone());
        let client = ClientConfig {
            tls,
            tls_config,
            credentials,
            ..ClientConfig::new(config.hostname.clone())
        };
        routes = routes.with_smarthost(Smarthost {
            host,
            port,
            config: Arc::new(client),
            domains: r.domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
        });
    }
    let pool = Arc::new(Pool::new(
        r.max_connections,
        r.max_connections_per_host,
        Duration::from_secs(r.idle_secs),
    ));
    pool.spawn_sweeper(stop);
    let mut relay = Relay::new(routes, dns.clone(), pool);
    if let Some(store) = store {
        relay = relay.with_security(crate::tls_rpt::security(config, store, dns)?);
    }
    Ok(Arc::new(relay))
}
