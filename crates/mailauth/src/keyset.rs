//! DKIM keys kept somewhere other than files (a database several nodes share), handed
//! in as records: [`KeySet`] picks and loads each domain's signing keys from them, and
//! [`SharedKeys`] holds the current set for a signer that is refreshed while it runs.
//!
//! Where it sits: this crate does no storage I/O for these keys and never depends on
//! the `store` crate. The caller (the server's refresh task, `postie sendmail`) reads
//! the records from the store, turns each into a [`KeyRecord`] and hands them in; the
//! pipeline's signer asks [`SharedKeys::signing_keys`] for each message it signs. Keys
//! in files ([`crate::KeyStore`], the embedded store's way) are untouched by this.
//!
//! Choices: the same keys sign as with files: per domain, the newest key of each
//! algorithm by its selector's date and counter ([`crate::keys::newest_per_algorithm`]).
//! A rebuild loads only the keys whose selector or PEM changed since the set it
//! replaces (parsing an RSA key costs more than signing with it), and a key that does
//! not load is logged and skipped: the domain's other algorithm still signs.
//!
//! Security stance: the PEM text is private key material. [`KeyRecord`]'s `Debug`
//! leaves it out, and no error or log message quotes it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use crate::keys::{Algorithm, KeyInfo, LoadedKey, newest_per_algorithm, sort_oldest_first};

/// One key as a record handed in: what the store keeps, minus the published record
/// (derived again from the private key when it is loaded).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The signing domain (`d=`); any spelling, keys are grouped by its A-label form.
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// The algorithm, as recorded (checked against the key when it is loaded).
    pub algorithm: Algorithm,
    /// The private key, PKCS#8 PEM.
    pub private_pem: String,
}

impl KeyRecord {
    /// A record from a store's fields, the algorithm by its `k=` name (`ed25519`,
    /// `rsa`); `None` for an algorithm this crate does not sign with.
    pub fn from_parts(
        domain: &str,
        selector: &str,
        key_type: &str,
        private_pem: &str,
    ) -> Option<KeyRecord> {
        Some(KeyRecord {
            domain: domain.to_owned(),
            selector: selector.to_owned(),
            algorithm: Algorithm::from_key_type(key_type)?,
            private_pem: private_pem.to_owned(),
        })
    }
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// One domain's signing keys, and the (selector, PEM) pairs they were loaded from.
struct Signing {
    chosen: Vec<(String, String)>,
    keys: Arc<Vec<LoadedKey>>,
}

/// The signing keys of every domain, loaded from records.
#[derive(Default)]
pub struct KeySet {
    domains: HashMap<String, Signing>,
}

impl KeySet {
    /// The signing keys among `records`, reusing the loaded keys of `previous` where
    /// a domain's chosen keys did not change.
    pub fn build(records: &[KeyRecord], previous: &KeySet) -> KeySet {
        let mut by_domain: BTreeMap<String, Vec<&KeyRecord>> = BTreeMap::new();
        for record in records {
            match message::Domain::parse(&record.domain) {
                Ok(domain) => by_domain
                    .entry(domain.as_str().to_owned())
                    .or_default()
                    .push(record),
                Err(e) => {
                    tracing::warn!(domain = %record.domain, error = %e, "DKIM key skipped")
                }
            }
        }
        let mut domains = HashMap::with_capacity(by_domain.len());
        for (domain, records) in by_domain {
            let mut infos: Vec<KeyInfo> = records
                .iter()
                .map(|r| KeyInfo {
                    domain: domain.clone(),
                    selector: r.selector.clone(),
                    algorithm: r.algorithm,
                    record: String::new(),
                })
                .collect();
            sort_oldest_first(&mut infos);
            let chosen: Vec<(String, String)> = newest_per_algorithm(&infos)
                .into_iter()
                .filter_map(|info| {
                    records
                        .iter()
                        .find(|r| r.selector == info.selector)
                        .map(|r| (r.selector.clone(), r.private_pem.clone()))
                })
                .collect();
            if let Some(before) = previous.domains.get(&domain)
                && before.chosen == chosen
            {
                let keys = Arc::clone(&before.keys);
                domains.insert(domain, Signing { chosen, keys });
                continue;
            }
            let keys = load(&domain, &chosen, &records);
            domains.insert(
                domain,
                Signing {
                    chosen,
                    keys: Arc::new(keys),
                },
            );
        }
        KeySet { domains }
    }

    /// The keys to sign `domain`'s mail with (A-label form, as
    /// [`crate::sign::from_domain`] gives it); empty when it has none.
    pub fn signing_keys(&self, domain: &str) -> Arc<Vec<LoadedKey>> {
        self.domains
            .get(domain)
            .map(|s| Arc::clone(&s.keys))
            .unwrap_or_default()
    }

    /// How many domains have signing keys.
    pub fn domain_count(&self) -> usize {
        self.domains.len()
    }
}

/// Loads the chosen keys of one domain, skipping (and logging) those that fail to load
/// or are not of the algorithm their record says.
fn load(domain: &str, chosen: &[(String, String)], records: &[&KeyRecord]) -> Vec<LoadedKey> {
    let mut keys = Vec::with_capacity(chosen.len());
    for (selector, pem) in chosen {
        match LoadedKey::from_pem(domain, selector, pem.as_bytes()) {
            Ok(key) => {
                let recorded = records
                    .iter()
                    .find(|r| &r.selector == selector)
                    .map(|r| r.algorithm);
                if recorded == Some(key.info.algorithm) {
                    keys.push(key);
                } else {
                    tracing::error!(%domain, %selector, "DKIM key skipped: its algorithm is not the recorded one");
                }
            }
            Err(e) => tracing::error!(%domain, %selector, error = %e, "DKIM key skipped"),
        }
    }
    keys
}

/// The current [`KeySet`] of a running signer, replaced whole by each refresh.
#[derive(Default)]
pub struct SharedKeys {
    current: RwLock<Arc<KeySet>>,
}

impl SharedKeys {
    /// No keys yet.
    pub fn new() -> SharedKeys {
        SharedKeys::default()
    }

    /// Makes the keys of `records` the current ones (loading only what changed).
    pub fn replace(&self, records: &[KeyRecord]) {
        let next = Arc::new(KeySet::build(records, &self.snapshot()));
        if let Ok(mut current) = self.current.write() {
            *current = next;
        }
    }

    /// The keys to sign `domain`'s mail with, from the current set.
    pub fn signing_keys(&self, domain: &str) -> Arc<Vec<LoadedKey>> {
        self.snapshot().signing_keys(domain)
    }

    /// The current set.
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.current
            .read()
            .map(|c| Arc::clone(&c))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_pem;

    const NOV_2026: i64 = 1_793_750_400;

    fn record(domain: &str, algorithm: Algorithm, existing: &[KeyInfo]) -> (KeyInfo, KeyRecord) {
        let (info, pem) = generate_pem(domain, algorithm, NOV_2026, existing).unwrap();
        let record = KeyRecord {
            domain: info.domain.clone(),
            selector: info.selector.clone(),
            algorithm,
            private_pem: pem,
        };
        (info, record)
    }

    #[test]
    fn the_newest_key_of_each_algorithm_signs_and_unchanged_ones_are_reused() {
        let (e1, r1) = record("example.org", Algorithm::Ed25519, &[]);
        let (e2, r2) = record("example.org", Algorithm::Ed25519, std::slice::from_ref(&e1));
        assert_eq!(
            (e1.selector.as_str(), e2.selector.as_str()),
            ("202611e", "202611e2")
        );
        let shared = SharedKeys::new();
        assert!(shared.signing_keys("example.org").is_empty());
        shared.replace(&[r2.clone(), r1.clone()]);
        let keys = shared.signing_keys("example.org");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].info, e2, "the record is derived from the key");
        // The same records again: the loaded keys are the same ones.
        shared.replace(&[r1.clone(), r2.clone()]);
        assert!(Arc::ptr_eq(&keys, &shared.signing_keys("example.org")));
        // A U-label spelling is grouped under the A-label; the older key alone signs
        // once the newer one is gone.
        let mut old = r1.clone();
        old.domain = "EXAMPLE.org".into();
        shared.replace(&[old]);
        assert_eq!(
            shared.signing_keys("example.org")[0].info.selector,
            "202611e"
        );
        shared.replace(&[]);
        assert!(shared.signing_keys("example.org").is_empty());
    }

    #[test]
    fn a_broken_or_mislabelled_key_is_skipped_and_the_other_still_signs() {
        let (_, ed) = record("example.org", Algorithm::Ed25519, &[]);
        let (_, mut rsa) = record("example.org", Algorithm::Rsa, &[]);
        rsa.private_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into();
        let set = KeySet::build(&[ed.clone(), rsa], &KeySet::default());
        let keys = set.signing_keys("example.org");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].info.algorithm, Algorithm::Ed25519);
        let mut wrong = ed;
        wrong.algorithm = Algorithm::Rsa;
        let set = KeySet::build(&[wrong], &KeySet::default());
        assert!(set.signing_keys("example.org").is_empty());
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let (_, r) = record("example.org", Algorithm::Ed25519, &[]);
        let shown = format!("{r:?}");
        assert!(shown.contains("202611e"), "{shown}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
    }
}
