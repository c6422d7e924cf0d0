//! DKIM signing keys of local domains: generate (and so rotate), list, remove.
//!
//! Where it sits: the admin operations behind `postie dkim …` and the web face's
//! DKIM pages. With the embedded store the keys are files in the data directory
//! (`DATA_DIR/dkim`, [`mailauth::KeyStore`]); the server notices new and removed keys
//! with the next message it signs. A store several nodes share (`[store] url`,
//! PostgreSQL) keeps them instead (`Store::keeps_dkim_keys`): keys are made with the
//! same mailauth code and stored as records, and every node signs with them
//! (`server::dkim_keys`). See docs/mailauth.md.
//!
//! The functions that only read or remove keys take the store as an `Option`: the
//! CLI passes [`shared_store`]'s answer, so with keys in files it never opens the
//! embedded store for them; the web face passes the store it has open, and its
//! `keeps_dkim_keys` decides.

use crate::{AdminError, Result, accounts};
use mailauth::{Algorithm, KeyInfo, KeyStore};
use std::sync::Arc;
use store::Store;

/// The configured store when it keeps the DKIM keys (a shared one, `[store] url`);
/// `None` when they are the data directory's files (the embedded store, which is not
/// even opened then).
pub async fn shared_store(config: &config::Config) -> Result<Option<Arc<dyn Store>>> {
    if config.store.url.is_none() {
        return Ok(None);
    }
    let store = store::open(config)
        .await
        .map_err(|e| AdminError::Failed(e.to_string()))?;
    Ok(store.keeps_dkim_keys().then_some(store))
}

/// `store` when it keeps the keys.
fn keeping(store: Option<&dyn Store>) -> Option<&dyn Store> {
    store.filter(|s| s.keeps_dkim_keys())
}

/// Makes an Ed25519 key (RFC 8463) and an RSA-2048 key (RFC 6376) for `domain`, which
/// must be local, under dated selectors, and returns what to publish for each. Mail
/// is signed with the newest key of each kind; older ones stay valid until removed.
pub async fn generate(
    config: &config::Config,
    store: &dyn Store,
    domain: &str,
) -> Result<Vec<KeyInfo>> {
    let parsed = accounts::parse_domain(domain)?;
    if !store.domain_is_local(&parsed).await? {
        return Err(AdminError::Invalid(format!(
            "{domain} is not a local domain (add it first: postie domain add {domain})"
        )));
    }
    let now = crate::now_unix();
    let files = KeyStore::new(&config.data_dir);
    let mut made = Vec::new();
    for algorithm in [Algorithm::Ed25519, Algorithm::Rsa] {
        made.push(match keeping(Some(store)) {
            Some(store) => generate_stored(store, &parsed, algorithm, now).await?,
            None => files.generate(parsed.as_str(), algorithm, now)?,
        });
    }
    Ok(made)
}

/// The keys of `domain` (of every domain with `None`), by domain, then oldest first.
pub async fn list(
    config: &config::Config,
    store: Option<&dyn Store>,
    domain: Option<&str>,
) -> Result<Vec<KeyInfo>> {
    let domain = domain.map(accounts::parse_domain).transpose()?;
    Ok(match keeping(store) {
        Some(store) => stored_infos(&store.dkim_key_list(domain.as_ref()).await?),
        None => {
            let files = KeyStore::new(&config.data_dir);
            match &domain {
                Some(domain) => files.domain_keys(domain.as_str())?,
                None => files.list()?,
            }
        }
    })
}

/// Deletes the key `selector` of `domain`; `NotFound` when there is none. Remove its
/// DNS record only once mail signed with it is delivered.
pub async fn remove(
    config: &config::Config,
    store: Option<&dyn Store>,
    domain: &str,
    selector: &str,
) -> Result<()> {
    match keeping(store) {
        Some(store) => {
            let parsed = accounts::parse_domain(domain)?;
            Ok(store.dkim_key_remove(&parsed, selector).await?)
        }
        None => Ok(KeyStore::new(&config.data_dir).remove(domain, selector)?),
    }
}

/// The store's key records as mailauth lists keys, each domain's oldest first (the
/// private keys stay behind).
pub fn stored_infos(stored: &[store::DkimKey]) -> Vec<KeyInfo> {
    let mut infos: Vec<KeyInfo> = stored
        .iter()
        .filter_map(|k| {
            Some(KeyInfo {
                domain: k.domain.as_str().to_owned(),
                selector: k.selector.clone(),
                algorithm: Algorithm::from_key_type(&k.algorithm)?,
                record: k.public_record.clone(),
            })
        })
        .collect();
    infos.sort_by(|a, b| a.domain.cmp(&b.domain));
    for domain in infos.chunk_by_mut(|a, b| a.domain == b.domain) {
        mailauth::keys::sort_oldest_first(domain);
    }
    infos
}

/// Generates a key of `algorithm` for `domain` with mailauth's code, under a selector
/// none of the domain's stored keys has, and stores it. When another node stored that
/// selector meanwhile (two admins generating at once), it tries the next one.
async fn generate_stored(
    store: &dyn Store,
    domain: &message::Domain,
    algorithm: Algorithm,
    now: i64,
) -> Result<KeyInfo> {
    let mut tries = 0;
    loop {
        tries += 1;
        let existing = stored_infos(&store.dkim_key_list(Some(domain)).await?);
        let (info, pem) = mailauth::keys::generate_pem(domain.as_str(), algorithm, now, &existing)?;
        let key = store::DkimKey {
            domain: domain.clone(),
            selector: info.selector.clone(),
            algorithm: algorithm.key_type().to_owned(),
            private_key_pem: pem,
            public_record: info.record.clone(),
            created_at: now,
        };
        match store.dkim_key_put(&key).await {
            Ok(()) => return Ok(info),
            Err(store::StoreError::Exists(_)) if tries < 3 => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path) -> config::Config {
        config::Config::default().with_data_dir(dir.to_path_buf())
    }

    #[tokio::test]
    async fn files_generate_list_remove() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path());
        let store = crate::test_store().await;
        let made = generate(&config, store.as_ref(), "example.org")
            .await
            .expect("generate");
        let kinds: Vec<Algorithm> = made.iter().map(|k| k.algorithm).collect();
        assert_eq!(kinds, [Algorithm::Ed25519, Algorithm::Rsa]);
        assert!(dir.path().join("dkim").exists(), "keys are files");

        // The memory store keeps no keys, so the files are what is listed, with or
        // without the store.
        for store in [None, Some(store.as_ref())] {
            let all = list(&config, store, None).await.expect("list");
            assert_eq!(all.len(), 2);
            let one = list(&config, store, Some("example.org"))
                .await
                .expect("list");
            assert_eq!(one.len(), 2);
            let other = list(&config, store, Some("example.net"))
                .await
                .expect("list");
            assert!(other.is_empty());
        }

        let selector = made[0].selector.clone();
        remove(&config, None, "example.org", &selector)
            .await
            .expect("remove");
        let err = remove(&config, None, "example.org", &selector)
            .await
            .unwrap_err();
        assert!(matches!(err, AdminError::NotFound(_)), "{err}");
        assert_eq!(list(&config, None, None).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn generate_refuses_a_domain_that_is_not_local() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::test_store().await;
        let err = generate(&config(dir.path()), store.as_ref(), "example.net")
            .await
            .unwrap_err();
        assert_eq!(
            err,
            AdminError::Invalid(
                "example.net is not a local domain (add it first: postie domain add example.net)"
                    .into()
            )
        );
        let err = generate(&config(dir.path()), store.as_ref(), "not a domain")
            .await
            .unwrap_err();
        assert!(matches!(err, AdminError::Invalid(_)), "{err}");
    }

    #[test]
    fn stored_keys_list_by_domain_then_oldest_selector_first() {
        let key = |domain: &str, selector: &str, algorithm: &str| store::DkimKey {
            domain: message::Domain::parse(domain).unwrap(),
            selector: selector.into(),
            algorithm: algorithm.into(),
            private_key_pem: "PEM".into(),
            public_record: format!("v=DKIM1; k={algorithm}; p=x"),
            created_at: 1,
        };
        let infos = stored_infos(&[
            key("example.org", "202612e", "ed25519"),
            key("a.example", "202611r", "rsa"),
            key("example.org", "202611e2", "ed25519"),
            key("example.org", "202611e", "ed25519"),
            key("example.org", "x", "dsa"),
        ]);
        let names: Vec<(&str, &str)> = infos
            .iter()
            .map(|k| (k.domain.as_str(), k.selector.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("a.example", "202611r"),
                ("example.org", "202611e"),
                ("example.org", "202611e2"),
                ("example.org", "202612e"),
            ]
        );
        assert_eq!(infos[0].record, "v=DKIM1; k=rsa; p=x");
    }
}
