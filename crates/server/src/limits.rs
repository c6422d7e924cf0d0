//! Connection limits: at most N connections in total and M per client IP
//! (config `smtp.max_connections`, `smtp.max_connections_per_ip`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Counts open connections.
#[derive(Debug)]
pub struct ConnectionLimits {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// Held while a connection is open; releases its slot when dropped.
#[derive(Debug)]
pub struct Slot {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    /// New limits.
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(ConnectionLimits {
            max_total,
            max_per_ip,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// Takes a slot for `ip`, or `None` when a limit is reached.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().expect("limits lock");
        let per_ip = open.1.get(&ip).copied().unwrap_or(0);
        if open.0 >= self.max_total || per_ip >= self.max_per_ip {
            return None;
        }
        open.0 += 1;
        open.1.insert(ip, per_ip + 1);
        Some(Slot {
            limits: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn open_count(&self) -> usize {
        self.open.lock().expect("limits lock").0
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().expect("limits lock");
        open.0 -= 1;
        if let Some(n) = open.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_and_per_ip() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let s1 = limits.acquire(a).unwrap();
        let _s2 = limits.acquire(a).unwrap();
        assert!(limits.acquire(a).is_none(), "per-IP limit");
        let _s3 = limits.acquire(b).unwrap();
        assert!(limits.acquire(b).is_none(), "total limit");
        drop(s1);
        let again = limits.acquire(a);
        assert!(again.is_some(), "a freed slot can be taken again");
        assert_eq!(limits.open_count(), 3);
        drop(again);
        assert_eq!(limits.open_count(), 2);
    }
}
