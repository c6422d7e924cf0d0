//! [`open`]: the one place that turns a configuration into a store. The server and every
//! CLI command call it and then work on the [`Store`] trait object, so none of them
//! names a backend.
//!
//! Today there is one choice: the embedded SQLite store ([`crate::sqlite::SqliteStore`])
//! in `config.data_dir`. This is where a `[store] url = "postgres://…"` key will choose
//! the PostgreSQL backend for several nodes (issue 15); that key does not exist yet.

use std::sync::Arc;

use crate::{Result, Store, StoreError};

/// Opens the store `config` names: today always the embedded SQLite store in
/// `config.data_dir`, creating the directory, the database and `blobs/` as needed and
/// migrating the schema.
///
/// Blocking (it opens files and may migrate): call it at start-up, or from
/// `spawn_blocking`.
///
/// Errors keep their [`StoreError`] kind and say which directory could not be opened:
/// `cannot open the data directory ./postie-data: …`.
pub fn open(config: &config::Config) -> Result<Arc<dyn Store>> {
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
            let store = open(&config).expect("first open");
            store.domain_add(&domain).await.expect("domain_add");
        }
        let store = open(&config).expect("second open");
        assert_eq!(store.domain_list().await.expect("list"), vec![domain]);
    }

    #[test]
    fn an_unusable_data_dir_is_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A file where the directory should be: it can be neither created nor used.
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"").expect("write");
        let Err(e) = open(&config_in(&file)) else {
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
