//! DKIM signing keys from a store several nodes share: loading them into the
//! pipeline's signer and keeping them fresh.
//!
//! Where it sits: when the store keeps the keys (`Store::keeps_dkim_keys`, PostgreSQL),
//! [`crate::ListenerSet::bind`] calls [`start`] and hands the [`SharedKeys`] it returns
//! to every `pipeline::MailAuth` it builds (reloads included), instead of the data
//! directory's key files; `postie sendmail` and `postie send` load them once with
//! [`load`]. With the embedded store nothing here runs and the files sign, as before.
//!
//! Freshness: the keys are re-read every [`REFRESH`], so a key generated on another node
//! (or by `postie dkim generate` anywhere) signs here within that time; only keys whose
//! text changed are parsed again ([`pipeline::SharedKeys::replace`]). A failed read is
//! logged and the keys already loaded keep signing.
//!
//! Security stance: the private keys travel from the store into memory only; nothing
//! here logs them (logs name domains and selectors, and count keys).

use std::sync::{Arc, Weak};
use std::time::Duration;

use pipeline::{KeyRecord, SharedKeys};
use store::Store;

/// How often the keys are re-read from the store.
pub const REFRESH: Duration = Duration::from_secs(30);

/// The store's keys as the signer's records; a key of an algorithm mailauth does not
/// sign with is logged and left out.
pub fn records(keys: &[store::DkimKey]) -> Vec<KeyRecord> {
    keys.iter()
        .filter_map(|k| {
            let record = KeyRecord::from_parts(
                k.domain.as_str(),
                &k.selector,
                &k.algorithm,
                &k.private_key_pem,
            );
            if record.is_none() {
                tracing::warn!(domain = k.domain.as_str(), selector = %k.selector, algorithm = %k.algorithm, "DKIM key of an unknown algorithm skipped");
            }
            record
        })
        .collect()
}

/// Re-reads every key of `store` into `keys`; returns how many keys it read.
pub async fn refresh(store: &dyn Store, keys: &SharedKeys) -> store::Result<usize> {
    let stored = store.dkim_key_list(None).await?;
    keys.replace(&records(&stored));
    Ok(stored.len())
}

/// The store's keys, read once, when it keeps them (`None`: the data directory's files
/// sign). A failed read is logged and gives an empty set (the refresh of [`start`]
/// tries again).
pub async fn load(store: &dyn Store) -> Option<Arc<SharedKeys>> {
    if !store.keeps_dkim_keys() {
        return None;
    }
    let keys = Arc::new(SharedKeys::new());
    match refresh(store, &keys).await {
        Ok(n) => tracing::info!(keys = n, "DKIM keys read from the store"),
        Err(e) => tracing::warn!(error = %e, "cannot read the DKIM keys from the store"),
    }
    Some(keys)
}

/// [`load`], then re-reads the keys every [`REFRESH`] in the background for as long as
/// the returned keys are in use.
pub async fn start(store: &Arc<dyn Store>) -> Option<Arc<SharedKeys>> {
    let keys = load(store.as_ref()).await?;
    let weak: Weak<SharedKeys> = Arc::downgrade(&keys);
    let store = Arc::clone(store);
    tokio::spawn(async move {
        let mut last = None;
        loop {
            tokio::time::sleep(REFRESH).await;
            let Some(keys) = weak.upgrade() else {
                return;
            };
            match refresh(store.as_ref(), &keys).await {
                Ok(n) => {
                    if last.is_some_and(|l| l != n) {
                        tracing::info!(keys = n, "DKIM keys re-read from the store");
                    }
                    last = Some(n);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot re-read the DKIM keys from the store; the loaded ones keep signing")
                }
            }
        }
    });
    Some(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_store_that_keeps_no_keys_leaves_the_files_to_sign() {
        let store: Arc<dyn Store> = Arc::new(store::memory::MemoryStore::new());
        assert!(start(&store).await.is_none());
    }

    #[test]
    fn unknown_algorithms_are_left_out() {
        let key = |algorithm: &str| store::DkimKey {
            domain: message::Domain::parse("example.org").unwrap(),
            selector: "s1".into(),
            algorithm: algorithm.into(),
            private_key_pem: "PEM".into(),
            public_record: "v=DKIM1".into(),
            created_at: 1,
        };
        let records = records(&[key("ed25519"), key("dsa"), key("rsa")]);
        assert_eq!(records.len(), 2);
    }
}
