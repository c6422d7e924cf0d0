//! The small shared values outbound transport security keeps: cached MTA-STS policies
//! (`mta-sts/DOMAIN`) and the day's TLS results (`tls-rpt/DAY/DOMAIN`).
//!
//! Where it sits: this crate does not know the store; the server implements [`Values`]
//! over `Store::value_get/value_put` so every node shares them. [`MemoryValues`] is
//! for tests and for a relay without a store.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

/// Get and put of small values by key. Failures are the implementation's to log:
/// a policy cache or a report that cannot be written must not stop delivery.
#[async_trait]
pub trait Values: Send + Sync {
    /// The value under `key`, if any (and readable).
    async fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Puts `value` under `key`.
    async fn put(&self, key: &str, value: &[u8]);
    /// Every value whose key starts with `prefix`.
    async fn list(&self, prefix: &str) -> Vec<(String, Vec<u8>)>;
    /// Removes `key`.
    async fn delete(&self, key: &str);
}

/// Values in memory.
#[derive(Default)]
pub struct MemoryValues(Mutex<BTreeMap<String, Vec<u8>>>);

#[async_trait]
impl Values for MemoryValues {
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.lock().ok()?.get(key).cloned()
    }
    async fn put(&self, key: &str, value: &[u8]) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(key.to_owned(), value.to_vec());
        }
    }
    async fn list(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        match self.0.lock() {
            Ok(map) => map
                .range(prefix.to_owned()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
    async fn delete(&self, key: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(key);
        }
    }
}
