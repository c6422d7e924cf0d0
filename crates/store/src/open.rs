//! [`open`]: the one place that turns a configuration into a store. The server and every
//! CLI command call it and then work on the [`Store`] trait object, so none of them
//! names a backend.
//!
//! Two choices: the embedded SQLite store ([`crate::sqlite::SqliteStore`]) in
//! `config.data_dir` by default, or, with `[store] url = "postgres://…"`, the
//! PostgreSQL database several nodes share ([`crate::postgres::PgStore`]).

use std::sync::Arc;

use crate::{Result, Store, StoreError};

/// Opens the store `config` names: the PostgreSQL database of `[store] url` when set
/// (connecting, migrating its schema under an advisory lock), else the embedded SQLite
/// store in `config.data_dir`, creating the directory, the database and `blobs/` as
/// needed and migrating the schema.
///
/// Call it at start-up: the embedded store opens files in place (blocking briefly).
///
/// Errors keep their [`StoreError`] kind and say what could not be opened:
/// `cannot open the data directory ./postie-data: …`, or the database's URL with its
/// password hidden.
pub async fn open(config: &config::Config) -> Result<Arc<dyn Store>> {
    if let Some(url) = &config.store.url {
        let options = crate::postgres::PgOptions {
            url: url.clone(),
            password_file: config.store.password_file.clone(),
            ca_file: config.store.ca_file.clone(),
            pool_size: config.store.pool_size,
        };
        let shown = crate::postgres::connect::shown(url);
        return match crate::postgres::PgStore::connect(&options).await {
            Ok(store) => Ok(Arc::new(store)),
            Err(e) => Err(in_context(e, &format!("cannot open the database {shown}"))),
        };
    }
    let data_dir = &config.data_dir;
    match crate::sqlite::SqliteStore::open(data_dir) {
        Ok(store) => Ok(Arc::new(store)),
        Err(e) => Err(in_context(
            e,
            &format!("cannot open the data directory {}", data_dir.display()),
        )),
    }
}

/// `e` of the same kind, its message prefixed by `context` and a colon.
fn in_context(e: StoreError, context: &str) -> StoreError {
    let wrap = |message: String| format!("{context}: {message}");
    match e {
        StoreError::Io(m) => StoreError::Io(wrap(m)),
        StoreError::NotFound(m) => StoreError::NotFound(wrap(m)),
        StoreError::Exists(m) => StoreError::Exists(wrap(m)),
        StoreError::Invalid(m) => StoreError::Invalid(wrap(m)),
        StoreError::Damaged(m) => StoreError::Damaged(wrap(m)),
        StoreError::OverQuota(m) => StoreError::OverQuota(wrap(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use message::Domain;

    fn config_in(dir: &std::path::Path) -> config::Config {
        config::Config::default().with_data_dir(dir.to_path_buf())
    }

    #[tokio::test]
    async fn what_one_open_writes_the_next_open_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config_in(&dir.path().join("data"));
        let domain = Domain::parse("example.org").expect("domain");
        {
            let store = open(&config).await.expect("first open");
            store.domain_add(&domain).await.expect("domain_add");
        }
        let store = open(&config).await.expect("second open");
        assert_eq!(store.domain_list().await.expect("list"), vec![domain]);
    }

    #[tokio::test]
    async fn an_unusable_data_dir_is_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A file where the directory should be: it can be neither created nor used.
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"").expect("write");
        let Err(e) = open(&config_in(&file)).await else {
            panic!("opened a store in a plain file");
        };
        assert!(matches!(e, StoreError::Io(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains(&format!(
                "cannot open the data directory {}: ",
                file.display()
            )),
            "{text}"
        );
    }
}

#[cfg(test)]
mod postgres_tests {
    use super::*;

    #[tokio::test]
    async fn a_store_url_opens_the_database_and_nodes_share_it() {
        let Some(first) = crate::postgres::testing::fresh_store().await else {
            return;
        };
        let url = first.url_for_tests().to_string();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = config::Config::default().with_data_dir(dir.path().join("a"));
        config.store.url = Some(url.clone());
        let node_a = open(&config).await.expect("node a");
        let mut config_b = config::Config::default().with_data_dir(dir.path().join("b"));
        config_b.store.url = Some(url);
        let node_b = open(&config_b).await.expect("node b");
        let domain = message::Domain::parse("example.org").expect("domain");
        node_a.domain_add(&domain).await.expect("add on a");
        assert_eq!(node_b.domain_list().await.expect("list on b"), vec![domain]);
        // Neither node made an embedded store.
        assert!(!dir.path().join("a").join("postie.db").exists());
    }

    #[tokio::test]
    async fn an_unreachable_database_is_named_without_its_password() {
        let mut config = config::Config::default();
        // Port 1 on loopback: nothing listens there.
        config.store.url =
            Some("postgres://postie:hunter2@127.0.0.1:1/mail?connect_timeout=2".into());
        let Err(e) = open(&config).await else {
            panic!("opened a database nobody serves");
        };
        let text = e.to_string();
        assert!(matches!(e, StoreError::Io(_)), "{e:?}");
        assert!(
            text.contains("cannot open the database postgres://postie:***@127.0.0.1:1/mail"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
}
