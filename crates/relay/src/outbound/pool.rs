//! Outbound connections: the limits on how many are open (in total and per destination
//! host) and the idle connections kept for the next message to the same host.
//!
//! Where it sits: [`super::Relay`] leases a connection for each transaction and gives it
//! back afterwards. A connection that is still usable waits, idle, for up to
//! `idle_for`; the sweeper started by [`Pool::spawn_sweeper`] says QUIT to the ones
//! nobody took. Limits count connections in use, so a busy destination cannot take
//! every connection (Postfix's destination concurrency limit does the same job).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::client::{ClientConfig, ClientError, Connection};

/// Identifies connections that can stand in for one another: same address, same host
/// name, same client settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    addr: SocketAddr,
    name: String,
    config: usize,
}

impl Key {
    fn new(addr: SocketAddr, name: &str, config: &Arc<ClientConfig>) -> Self {
        Key {
            addr,
            name: name.to_owned(),
            config: Arc::as_ptr(config) as usize,
        }
    }
}

/// A connection on loan, with the permits that count it against the limits.
pub struct Lease {
    connection: Option<Connection>,
    key: Key,
    reused: bool,
    _host: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

impl Lease {
    /// The connection.
    pub fn connection(&mut self) -> &mut Connection {
        self.connection
            .as_mut()
            .expect("a lease holds its connection until given back")
    }

    /// Whether the connection had already carried mail before this lease.
    pub fn reused(&self) -> bool {
        self.reused
    }
}

/// The connection limits and the idle connections.
pub struct Pool {
    idle: Mutex<HashMap<Key, Vec<(Connection, Instant)>>>,
    per_host: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    total: Arc<Semaphore>,
    per_host_limit: usize,
    idle_for: Duration,
}

impl Pool {
    /// At most `total` connections in use, `per_host` to one address; idle ones kept
    /// for `idle_for` (zero: none kept).
    pub fn new(total: usize, per_host: usize, idle_for: Duration) -> Self {
        Pool {
            idle: Mutex::new(HashMap::new()),
            per_host: Mutex::new(HashMap::new()),
            total: Arc::new(Semaphore::new(total.max(1))),
            per_host_limit: per_host.max(1),
            idle_for,
        }
    }

    /// A connection to `addr`: an idle one when there is one, else a new one. Waits
    /// while the limits are reached.
    pub async fn lease(
        &self,
        addr: SocketAddr,
        name: &str,
        config: &Arc<ClientConfig>,
    ) -> Result<Lease, ClientError> {
        let key = Key::new(addr, name, config);
        let (host, total) = self.permits(addr.ip()).await;
        if let Some(connection) = self.take_idle(&key) {
            return Ok(Lease {
                connection: Some(connection),
                key,
                reused: true,
                _host: host,
                _total: total,
            });
        }
        let connection = Connection::connect(addr, name, config).await?;
        Ok(Lease {
            connection: Some(connection),
            key,
            reused: false,
            _host: host,
            _total: total,
        })
    }

    /// A new connection to `addr`, never an idle one.
    pub async fn lease_fresh(
        &self,
        addr: SocketAddr,
        name: &str,
        config: &Arc<ClientConfig>,
    ) -> Result<Lease, ClientError> {
        let (host, total) = self.permits(addr.ip()).await;
        let connection = Connection::connect(addr, name, config).await?;
        Ok(Lease {
            connection: Some(connection),
            key: Key::new(addr, name, config),
            reused: false,
            _host: host,
            _total: total,
        })
    }

    /// Takes a connection back: kept idle when it is still usable, else closed.
    pub fn give_back(&self, mut lease: Lease) {
        let Some(connection) = lease.connection.take() else {
            return;
        };
        if connection.is_reusable() && !self.idle_for.is_zero() {
            let mut idle = self.idle.lock().expect("idle connections");
            let list = idle.entry(lease.key.clone()).or_default();
            if list.len() < self.per_host_limit {
                list.push((connection, Instant::now()));
                return;
            }
        }
        tokio::spawn(connection.quit());
    }

    /// Closes idle connections older than `idle_for` every second until `shutdown`,
    /// then closes them all.
    pub fn spawn_sweeper(self: &Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let pool = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => {}
                }
                let Some(pool) = pool.upgrade() else { return };
                let stopping = *shutdown.borrow();
                for connection in pool.expired(stopping) {
                    connection.quit().await;
                }
                if stopping {
                    return;
                }
            }
        });
    }

    /// Removes and returns the idle connections past their time (all when `all`).
    fn expired(&self, all: bool) -> Vec<Connection> {
        let mut idle = self.idle.lock().expect("idle connections");
        let mut out = Vec::new();
        for list in idle.values_mut() {
            let (old, fresh): (Vec<_>, Vec<_>) = list
                .drain(..)
                .partition(|(_, since)| all || since.elapsed() >= self.idle_for);
            *list = fresh;
            out.extend(old.into_iter().map(|(c, _)| c));
        }
        idle.retain(|_, list| !list.is_empty());
        out
    }

    /// The freshest idle connection for `key` that is not past its time.
    fn take_idle(&self, key: &Key) -> Option<Connection> {
        let mut idle = self.idle.lock().expect("idle connections");
        let list = idle.get_mut(key)?;
        while let Some((connection, since)) = list.pop() {
            if since.elapsed() < self.idle_for {
                return Some(connection);
            }
            tokio::spawn(connection.quit());
        }
        None
    }

    /// Waits for a per-host permit, then a total one.
    async fn permits(&self, ip: IpAddr) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
        let host = {
            let mut per_host = self.per_host.lock().expect("per-host limits");
            per_host
                .entry(ip)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host_limit)))
                .clone()
        };
        let host = host
            .acquire_owned()
            .await
            .expect("semaphores are never closed");
        let total = self
            .total
            .clone()
            .acquire_owned()
            .await
            .expect("semaphores are never closed");
        (host, total)
    }
}
