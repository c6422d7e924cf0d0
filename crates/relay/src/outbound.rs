//! Outbound delivery of one queued message to its remote recipients: route each
//! recipient domain (smarthost or MX), try its hosts in order, and report one outcome
//! per recipient.
//!
//! Where it sits: `delivery::Router` takes the remote recipients of a due queue entry
//! from [`Relay::deliver_each`], which delivers to each recipient domain as its own job
//! ([`Relay::deliver_domain`]), up to [`DOMAINS_AT_ONCE`] of them concurrently, and
//! yields each domain's outcomes as soon as its transaction ends; the router hands
//! them to the queue at once, so that a slow or silent server of one domain holds up
//! neither the other domains nor the recording of what their servers took
//! ([`Relay::deliver`] collects them all). [`route`] decides where a domain's mail
//! goes, [`pool`] keeps connections for reuse and enforces the connection limits (in
//! total and per host, across all messages), [`tried`] words failures for the queue,
//! the [`crate::client`] speaks SMTP.
//!
//! Rules (RFC 5321 §5.1): the hosts of a domain are tried in MX preference order, each
//! of its addresses in turn, until one takes a decision on the recipients; a
//! connection-level failure (refused, timeout, 4xx/5xx greeting) moves to the next
//! address. Recipient replies are final for this attempt: 2xx delivered, 5xx failed,
//! 4xx deferred.

pub mod pool;
pub mod route;
mod secure;
pub mod tried;

pub use secure::utc_day;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, Stream, StreamExt};
use message::Address;
use message::dsn::Dsn;

use crate::client::{ClientError, RecipientResult, Transaction};
use crate::dns::DnsResolver;
use pool::Pool;
use route::{Routes, Target};
use tried::{Failure, Tried};

/// The most recipient domains of one message delivered at once (Postfix's default
/// destination concurrency is 20 too). Connections are bounded by the [`pool`]'s
/// limits in any case; this keeps one message with a thousand domains from taking
/// every connection (and doing a thousand DNS lookups) while other messages wait.
pub const DOMAINS_AT_ONCE: usize = 20;

/// Client settings per MX host and TLSA record set.
type DaneConfigs =
    HashMap<(String, Vec<crate::security::tlsa::Tlsa>), Arc<crate::client::ClientConfig>>;

/// The outcome for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A server took the message; `dsn_passed` when it offered DSN (RFC 3461), so it
    /// carries the sender's DSN requests on from here.
    Delivered {
        /// The next hop supports DSN.
        dsn_passed: bool,
    },
    /// Try again later, and why: `host[ip] said: <reply>` for a server's reply, else
    /// our own `X.Y.Z host[ip]: text` or `X.Y.Z text`; when several hosts failed, one
    /// more line each (see [`tried`]).
    Temporary(String),
    /// Failed for good, with a reason written as for `Temporary`.
    Permanent(String),
}

/// What [`Relay::deliver`] needs of a queued message.
pub struct Message<'a> {
    /// The reverse-path, `None` for `<>`.
    pub sender: Option<&'a Address>,
    /// Every recipient of the envelope (indexes refer to it).
    pub recipients: &'a [Address],
    /// The DSN requests of the envelope.
    pub dsn: &'a Dsn,
    /// Body type and SMTPUTF8, as accepted.
    pub body_type: message::BodyType,
    /// The message needs SMTPUTF8.
    pub smtputf8: bool,
    /// The message itself.
    pub body: &'a [u8],
    /// REQUIRETLS was asked for (RFC 8689 §4): only verified TLS, REQUIRETLS passed on.
    pub require_tls: bool,
}

/// The outbound relay: routes, the connection pool and the DNS resolver.
pub struct Relay {
    routes: Routes,
    pool: Arc<Pool>,
    dns: DnsResolver,
    /// MTA-STS, DANE and TLS-RPT, when attached ([`Relay::with_security`]).
    security: Option<Arc<crate::security::Security>>,
    /// MX client settings with a verified certificate (MTA-STS), one for the pool.
    verified_mx: Arc<crate::client::ClientConfig>,
    /// MX client settings per host and TLSA record set (DANE), kept so that pooled
    /// connections are reused only under the same records.
    dane_configs: Mutex<DaneConfigs>,
}

impl Relay {
    /// A relay that routes with `routes`, resolves with `dns` and keeps connections in
    /// `pool`.
    pub fn new(routes: Routes, dns: DnsResolver, pool: Arc<Pool>) -> Self {
        let verified_mx = routes.mx_config().clone();
        Relay {
            routes,
            pool,
            dns,
            security: None,
            verified_mx,
            dane_configs: Mutex::new(HashMap::new()),
        }
    }

    /// Applies recipients' MTA-STS policies and DANE records, and records TLS results,
    /// as `security` says.
    pub fn with_security(mut self, security: crate::security::Security) -> Self {
        self.verified_mx = Arc::new(crate::client::ClientConfig {
            tls: crate::client::TlsMode::Required,
            tls_config: security.verified_tls.clone(),
            ..(**self.routes.mx_config()).clone()
        });
        self.security = Some(Arc::new(security));
        self
    }

    /// Delivers `message` to its recipients at `indexes`, the domains concurrently (as
    /// [`Relay::deliver_each`]); one outcome per index, in the order they were known.
    pub async fn deliver(&self, message: &Message<'_>, indexes: &[usize]) -> Vec<(usize, Outcome)> {
        let mut out = Vec::with_capacity(indexes.len());
        let mut each = std::pin::pin!(self.deliver_each(message, indexes));
        while let Some(done) = each.next().await {
            out.extend(done);
        }
        out
    }

    /// Delivers `message` to its recipients at `indexes`, each domain as its own job
    /// ([`Relay::deliver_domain`]), up to [`DOMAINS_AT_ONCE`] at a time: one item per
    /// domain, with its recipients' outcomes, as soon as that domain's transaction ends.
    pub fn deliver_each<'a>(
        &'a self,
        message: &'a Message<'a>,
        indexes: &[usize],
    ) -> impl Stream<Item = Vec<(usize, Outcome)>> + Send + 'a {
        stream::iter(Self::domains(message, indexes))
            .map(move |(domain, group)| async move {
                self.deliver_domain(message, &domain, &group).await
            })
            .buffer_unordered(DOMAINS_AT_ONCE)
    }

    /// The recipients at `indexes` grouped by domain (lower case), in domain order: one
    /// group per transaction of [`Relay::deliver_domain`].
    pub fn domains(message: &Message<'_>, indexes: &[usize]) -> BTreeMap<String, Vec<usize>> {
        let mut by_domain: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &i in indexes {
            let domain = message.recipients[i].domain().as_str().to_ascii_lowercase();
            by_domain.entry(domain).or_default().push(i);
        }
        by_domain
    }

    /// Delivers to the recipients `group`, all in `domain` (as [`Relay::domains`]
    /// grouped them); one outcome per recipient of `group`.
    pub async fn deliver_domain(
        &self,
        message: &Message<'_>,
        domain: &str,
        group: &[usize],
    ) -> Vec<(usize, Outcome)> {
        let everyone = |outcome: Outcome| group.iter().map(|&i| (i, outcome.clone())).collect();
        let (targets, unresolved, no_address) = match self.routes.targets(&self.dns, domain).await {
            Ok(t) => (t.hosts, t.unresolved, t.no_address),
            Err(outcome) => return everyone(outcome),
        };
        let mut undecided: Vec<usize> = group.to_vec();
        let mut decided = Vec::with_capacity(group.len());
        let mut tried = Tried::default();
        // Hosts without an address come first in the list of hosts tried: their
        // look-ups were the first thing that failed.
        for failure in no_address {
            tried.push(failure);
        }
        let mut all_permanent = true;
        if self.routes.is_smarthost(domain) {
            // A smarthost's certificate is always verified (WebPKI), so REQUIRETLS
            // holds unless its TLS is off (RFC 8689 §4.2.1).
            if message.require_tls
                && targets
                    .iter()
                    .any(|t| t.config.tls == crate::client::TlsMode::Disabled)
            {
                return everyone(Outcome::Permanent(
                    "5.7.30 REQUIRETLS support required: the smarthost is configured without TLS"
                        .into(),
                ));
            }
            'smarthost: for target in &targets {
                for &addr in &target.addresses {
                    let peer = format!("{}[{}]", target.name, addr.ip());
                    match self.try_address(message, target, addr, &undecided).await {
                        Ok((results, dsn_passed)) => {
                            for (i, result) in undecided.iter().zip(results) {
                                decided.push((*i, outcome_of(&peer, &result, dsn_passed)));
                            }
                            undecided.clear();
                            break 'smarthost;
                        }
                        Err(e) => {
                            tracing::info!(%domain, host = %peer, error = %e, "host failed; trying the next");
                            all_permanent &= e.permanent;
                            tried.push(Failure::client_error(&peer, &e));
                        }
                    }
                }
            }
        } else {
            let done = self
                .deliver_secure(
                    message,
                    domain,
                    &targets,
                    &undecided,
                    &mut tried,
                    &mut all_permanent,
                )
                .await;
            if !done.is_empty() {
                decided = done;
                undecided.clear();
            }
        }
        if !undecided.is_empty() {
            let reason = tried
                .reason()
                .unwrap_or_else(|| format!("4.4.4 no address to deliver to for {domain}"));
            // Only when every host refused for good (e.g. 5xx greetings everywhere) is
            // it final; not while a host could not even be looked up, and a smarthost's
            // refusal (a wrong password) is always temporary so that fixing the
            // configuration delivers the queue.
            let final_refusal = all_permanent
                && !targets.is_empty()
                && unresolved.is_none()
                && !self.routes.is_smarthost(domain);
            let outcome = if final_refusal {
                Outcome::Permanent(reason)
            } else {
                Outcome::Temporary(reason)
            };
            decided.extend(undecided.iter().map(|&i| (i, outcome.clone())));
        }
        decided
    }

    /// One transaction for `recipients` at `addr`, over a pooled connection when one
    /// is idle; also says whether the server offered DSN. A pooled connection the
    /// server has given up on meanwhile (closed, or 421) is replaced by a fresh one.
    async fn try_address(
        &self,
        message: &Message<'_>,
        target: &Target,
        addr: SocketAddr,
        recipients: &[usize],
    ) -> Result<(Vec<RecipientResult>, bool), ClientError> {
        let tx = Transaction {
            sender: message.sender,
            recipients: recipients
                .iter()
                .map(|&i| (&message.recipients[i], message.dsn.recipient(i)))
                .collect(),
            body: message.body,
            body_type: message.body_type,
            smtputf8: message.smtputf8,
            ret: message.dsn.ret,
            envid: message.dsn.envid.as_deref(),
            require_tls: message.require_tls,
        };
        let mut lease = self.pool.lease(addr, &target.name, &target.config).await?;
        let mut results = lease.connection().send(&tx).await;
        // A pooled connection the server gave up on meanwhile fails at once, or answers
        // 421 (e.g. its idle timer fired): either way, try a fresh one.
        let stale = match &results {
            Err(_) => true,
            Ok(results) => {
                !lease.connection().is_reusable()
                    && results.iter().all(
                        |r| matches!(r, RecipientResult::Temporary(reply) if reply.code == 421),
                    )
            }
        };
        if stale && lease.reused() {
            self.pool.give_back(lease);
            lease = self
                .pool
                .lease_fresh(addr, &target.name, &target.config)
                .await?;
            results = lease.connection().send(&tx).await;
        }
        let dsn_passed = lease.connection().dsn_passed_on();
        self.pool.give_back(lease);
        Ok((results?, dsn_passed))
    }
}

/// The outcome a client result means for the queue: a server's reply quoted as what
/// `peer` said, one the client made up (a SIZE or SMTPUTF8 refusal, a connection lost
/// after the data) worded as ours (see [`tried`]).
fn outcome_of(peer: &str, result: &RecipientResult, dsn_passed: bool) -> Outcome {
    match result {
        RecipientResult::Accepted(_) => Outcome::Delivered { dsn_passed },
        RecipientResult::Temporary(reply) => {
            Outcome::Temporary(Failure::reply(peer, reply).summary)
        }
        RecipientResult::Permanent(reply) => {
            Outcome::Permanent(Failure::reply(peer, reply).summary)
        }
    }
}
