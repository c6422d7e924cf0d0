//! DKIM signing keys on PostgreSQL: the trait methods `dkim_key_*` of
//! [`super::PgStore`], and [`import_files`], which `postie store migrate --to` uses to
//! bring a data directory's key files along.
//!
//! Where it sits: with several nodes on one database the keys live here, so a key
//! generated through one node's configuration signs on every node (each node's signer
//! re-reads them periodically). The table `dkim_keys` is keyed by (domain, selector),
//! the domain in its A-label form; generating, loading and choosing keys stays in the
//! `mailauth` crate, which never depends on this one.
//!
//! Security stance: `private_key` is private key material. It is only ever a bound
//! parameter or a column read back, never part of an error or log message (errors name
//! the domain and selector); the table is the database role's own (`REVOKE ALL … FROM
//! PUBLIC` in the schema). Rows read back are validated: an unparsable domain, an
//! unknown algorithm or a negative time is `Damaged`.

use std::path::Path;

use deadpool_postgres::GenericClient;
use message::Domain;
use tokio_postgres::Row;

use super::{PgStore, db_err, is_unique_violation};
use crate::{DkimKey, Result, StoreError};

/// The columns [`checked`] reads.
const COLUMNS: &str = "domain, selector, algorithm, private_key, public_record, created_at";

/// The algorithms a key may have (`k=` names).
const ALGORITHMS: &[&str] = &["ed25519", "rsa"];

/// A selector is one or more DNS labels of letters, digits and hyphens (RFC 6376 §3.1).
fn valid_selector(selector: &str) -> bool {
    !selector.is_empty()
        && selector.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Checks a row of [`COLUMNS`] and builds the [`DkimKey`].
fn checked(r: &Row) -> Result<DkimKey> {
    let domain: String = r.try_get(0).map_err(db_err)?;
    let selector: String = r.try_get(1).map_err(db_err)?;
    let algorithm: String = r.try_get(2).map_err(db_err)?;
    let private_key_pem: String = r.try_get(3).map_err(db_err)?;
    let public_record: String = r.try_get(4).map_err(db_err)?;
    let created_at: i64 = r.try_get(5).map_err(db_err)?;
    let damaged =
        |why: &str| StoreError::Damaged(format!("DKIM key {selector:?} of {domain:?}: {why}"));
    let parsed = Domain::parse(&domain).map_err(|_| damaged("not a domain"))?;
    if !ALGORITHMS.contains(&algorithm.as_str()) {
        return Err(damaged("unknown algorithm"));
    }
    if created_at < 0 {
        return Err(damaged("negative time"));
    }
    Ok(DkimKey {
        domain: parsed,
        selector,
        algorithm,
        private_key_pem,
        public_record,
        created_at,
    })
}

/// Refuses a record that cannot be stored as it is.
fn valid(key: &DkimKey) -> Result<()> {
    let what = || format!("DKIM key {:?} of {}", key.selector, key.domain.as_str());
    if !valid_selector(&key.selector) {
        return Err(StoreError::Invalid(format!("{}: not a selector", what())));
    }
    if !ALGORITHMS.contains(&key.algorithm.as_str()) {
        return Err(StoreError::Invalid(format!(
            "{}: unknown algorithm {:?}",
            what(),
            key.algorithm
        )));
    }
    if key.private_key_pem.trim().is_empty() || key.public_record.trim().is_empty() {
        return Err(StoreError::Invalid(format!(
            "{}: empty key or record",
            what()
        )));
    }
    if key.created_at < 0 {
        return Err(StoreError::Invalid(format!("{}: negative time", what())));
    }
    Ok(())
}

/// Inserts one key; false (nothing written) when the domain has that selector already.
async fn insert(c: &impl GenericClient, key: &DkimKey) -> Result<bool> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO dkim_keys(domain, selector, algorithm, private_key, public_record,
                                   created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(db_err)?;
    let added = c
        .execute(
            &stmt,
            &[
                &key.domain.as_str(),
                &key.selector,
                &key.algorithm,
                &key.private_key_pem,
                &key.public_record,
                &key.created_at,
            ],
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Exists(format!(
                    "DKIM key {} of {}",
                    key.selector,
                    key.domain.as_str()
                ))
            } else {
                db_err(e)
            }
        })?;
    Ok(added == 1)
}

/// Stores a new key; `Exists` when the domain has a key with that selector.
pub(super) async fn dkim_key_put(s: &PgStore, key: &DkimKey) -> Result<()> {
    valid(key)?;
    let c = s.client().await?;
    if insert(&c, key).await? {
        Ok(())
    } else {
        Err(StoreError::Exists(format!(
            "DKIM key {} of {}",
            key.selector,
            key.domain.as_str()
        )))
    }
}

/// The keys of `domain` (or of every domain), by domain, then oldest first.
pub(super) async fn dkim_key_list(s: &PgStore, domain: Option<&Domain>) -> Result<Vec<DkimKey>> {
    let c = s.client().await?;
    let order = "ORDER BY domain, created_at, selector";
    let rows = match domain {
        Some(domain) => {
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM dkim_keys WHERE domain = $1 {order}"
                ))
                .await
                .map_err(db_err)?;
            c.query(&stmt, &[&domain.as_str()]).await
        }
        None => {
            let stmt = c
                .prepare_cached(&format!("SELECT {COLUMNS} FROM dkim_keys {order}"))
                .await
                .map_err(db_err)?;
            c.query(&stmt, &[]).await
        }
    }
    .map_err(db_err)?;
    rows.iter().map(checked).collect()
}

/// Removes one key; `NotFound` when there is none.
pub(super) async fn dkim_key_remove(s: &PgStore, domain: &Domain, selector: &str) -> Result<()> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached("DELETE FROM dkim_keys WHERE domain = $1 AND selector = $2")
        .await
        .map_err(db_err)?;
    match c
        .execute(&stmt, &[&domain.as_str(), &selector])
        .await
        .map_err(db_err)?
    {
        0 => Err(StoreError::NotFound(format!(
            "DKIM key {selector} of {}",
            domain.as_str()
        ))),
        _ => Ok(()),
    }
}

/// Copies the key files of `data_dir` (`dkim/<domain>/<selector>.key` with its `.pub`
/// record, as `mailauth::KeyStore` writes them) into `dkim_keys` through `c` (the
/// migration's transaction), and returns how many. The algorithm comes from the
/// record's `k=` tag and the creation time from the key file's modification time; the
/// PEM text is copied as it is (signers load and check it). A key without a readable
/// `.pub` record is skipped with a warning (`postie dkim list` on the embedded store
/// writes nothing, but `postie dkim generate` always writes both). A key the database
/// has already is `Exists`.
pub(crate) async fn import_files(c: &impl GenericClient, data_dir: &Path) -> Result<u64> {
    let root = data_dir.join("dkim");
    let io = |path: &Path, e: std::io::Error| StoreError::Io(format!("{}: {e}", path.display()));
    let folders = match std::fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(&root, e)),
    };
    let mut keys = Vec::new();
    for folder in folders {
        let folder = folder.map_err(|e| io(&root, e))?.path();
        let Some(name) = folder.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        // A U-label folder of an older Postie is its A-label domain.
        let Ok(domain) = Domain::parse(name) else {
            continue;
        };
        if !folder.is_dir() || domain.as_str().starts_with('[') {
            continue;
        }
        let files = std::fs::read_dir(&folder).map_err(|e| io(&folder, e))?;
        for file in files {
            let path = file.map_err(|e| io(&folder, e))?.path();
            let Some(selector) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".key"))
                .filter(|s| valid_selector(s))
            else {
                continue;
            };
            let pem = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            let created_at = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            let record = std::fs::read_to_string(path.with_extension("pub"))
                .map(|r| r.trim().to_owned())
                .unwrap_or_default();
            let algorithm = record
                .split(';')
                .filter_map(|tag| tag.trim().strip_prefix("k="))
                .map(str::trim)
                .find(|k| ALGORITHMS.contains(k))
                .map(str::to_owned);
            let Some(algorithm) = algorithm else {
                tracing::warn!(
                    domain = domain.as_str(),
                    selector,
                    "DKIM key not copied: its .pub record is missing or has no k= tag"
                );
                continue;
            };
            keys.push(DkimKey {
                domain: domain.clone(),
                selector: selector.to_owned(),
                algorithm,
                private_key_pem: pem,
                public_record: record,
                created_at,
            });
        }
    }
    let mut copied = 0;
    for key in &keys {
        valid(key)?;
        if !insert(c, key).await? {
            return Err(StoreError::Exists(format!(
                "DKIM key {} of {}",
                key.selector,
                key.domain.as_str()
            )));
        }
        copied += 1;
    }
    Ok(copied)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Store;
    use crate::postgres::PgOptions;

    fn key(domain: &str, selector: &str, created_at: i64) -> DkimKey {
        DkimKey {
            domain: Domain::parse(domain).unwrap(),
            selector: selector.into(),
            algorithm: if selector.contains('r') {
                "rsa"
            } else {
                "ed25519"
            }
            .into(),
            private_key_pem: format!(
                "-----BEGIN PRIVATE KEY-----\n{selector}\n-----END PRIVATE KEY-----\n"
            ),
            public_record: "v=DKIM1; k=ed25519; p=AAAA".into(),
            created_at,
        }
    }

    #[tokio::test]
    async fn keys_put_on_one_node_are_listed_and_removed_on_another() {
        let Some(a) = crate::postgres::testing::fresh_store().await else {
            return;
        };
        let b = PgStore::connect(&PgOptions::from_url(a.url_for_tests()))
            .await
            .expect("second node");
        assert!(a.keeps_dkim_keys() && b.keeps_dkim_keys());
        assert!(b.dkim_key_list(None).await.unwrap().is_empty());

        let e1 = key("example.org", "202611e", 100);
        let e2 = key("example.org", "202611e2", 200);
        let r1 = key("Bücher.example", "202611r", 150);
        for k in [&e2, &r1, &e1] {
            a.dkim_key_put(k).await.unwrap();
        }
        // The same selector again is refused, on either node.
        assert!(matches!(
            b.dkim_key_put(&e1).await,
            Err(StoreError::Exists(m)) if m.contains("202611e")
        ));
        // By domain (A-label), then oldest first; the PEM comes back as it went in.
        let all = b.dkim_key_list(None).await.unwrap();
        assert_eq!(all, [e1.clone(), e2.clone(), r1.clone()]);
        let idn = Domain::parse("xn--bcher-kva.example").unwrap();
        assert_eq!(
            b.dkim_key_list(Some(&idn)).await.unwrap(),
            std::slice::from_ref(&r1)
        );
        let org = Domain::parse("EXAMPLE.org").unwrap();
        assert_eq!(
            b.dkim_key_list(Some(&org)).await.unwrap(),
            [e1.clone(), e2.clone()]
        );

        b.dkim_key_remove(&org, "202611e").await.unwrap();
        assert_eq!(
            a.dkim_key_list(Some(&org)).await.unwrap(),
            std::slice::from_ref(&e2)
        );
        assert!(matches!(
            a.dkim_key_remove(&org, "202611e").await,
            Err(StoreError::NotFound(_))
        ));
        // Nonsense is refused before it reaches the table.
        let mut bad = key("example.org", "../x", 1);
        assert!(matches!(
            a.dkim_key_put(&bad).await,
            Err(StoreError::Invalid(_))
        ));
        bad = key("example.org", "s1", 1);
        bad.algorithm = "dsa".into();
        assert!(matches!(
            a.dkim_key_put(&bad).await,
            Err(StoreError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn the_embedded_store_keeps_no_keys() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::sqlite::SqliteStore::open(dir.path()).unwrap();
        assert!(!s.keeps_dkim_keys());
        assert!(s.dkim_key_list(None).await.unwrap().is_empty());
        assert!(matches!(
            s.dkim_key_put(&key("example.org", "202611e", 1)).await,
            Err(StoreError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn key_files_are_imported_with_their_record_and_algorithm() {
        let Some(store) = crate::postgres::testing::fresh_store().await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            import_files(&store.client().await.unwrap(), dir.path())
                .await
                .unwrap(),
            0
        );
        write_key_files(dir.path());
        let c = store.client().await.unwrap();
        assert_eq!(import_files(&c, dir.path()).await.unwrap(), 2);
        let all = store.dkim_key_list(None).await.unwrap();
        let names: Vec<(&str, &str, &str)> = all
            .iter()
            .map(|k| (k.domain.as_str(), k.selector.as_str(), k.algorithm.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("example.org", "202611r", "rsa"),
                ("xn--bcher-kva.example", "202611e", "ed25519")
            ]
        );
        assert_eq!(all[0].public_record, "v=DKIM1; k=rsa; p=BBBB");
        assert_eq!(all[0].private_key_pem, "PEM r\n");
        assert!(all[0].created_at > 0);
        // A second import finds them there.
        assert!(matches!(
            import_files(&c, dir.path()).await,
            Err(StoreError::Exists(_))
        ));
    }

    /// Key files as `mailauth::KeyStore` lays them out (the PEM text is not parsed on
    /// import), plus a key without its record and stray files, which are skipped.
    pub(crate) fn write_key_files(data_dir: &Path) {
        let org = data_dir.join("dkim/example.org");
        let idn = data_dir.join("dkim/bücher.example");
        std::fs::create_dir_all(&org).unwrap();
        std::fs::create_dir_all(&idn).unwrap();
        std::fs::write(org.join("202611r.key"), "PEM r\n").unwrap();
        std::fs::write(org.join("202611r.pub"), "v=DKIM1; k=rsa; p=BBBB\n").unwrap();
        std::fs::write(org.join("202610e.key"), "PEM lost its record\n").unwrap();
        std::fs::write(org.join("notes.txt"), "x").unwrap();
        std::fs::write(idn.join("202611e.key"), "PEM e\n").unwrap();
        std::fs::write(idn.join("202611e.pub"), "v=DKIM1; k=ed25519; p=AAAA\n").unwrap();
    }
}
