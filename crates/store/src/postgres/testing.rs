//! A fresh PostgreSQL database per test, for the store suite's `postgres_backend`.
//!
//! Where it sits: test-only. The first test of the test binary starts one throw-away
//! cluster with `scripts/pg-test-cluster` (its watchdog stops it when the test process
//! exits), unless `POSTIE_TEST_POSTGRES_URL` names one already running; every test then
//! gets a database of its own (`CREATE DATABASE`), so tests run in parallel without
//! seeing each other's rows.
//!
//! Without PostgreSQL's server binaries the tests skip with a loud message, unless
//! `POSTIE_REQUIRE_POSTGRES=1` (set by `scripts/test`, hence CI), which makes that a
//! failure.

use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{PgOptions, PgStore};

/// The URL of the test cluster's maintenance database, or why there is none.
fn cluster_url() -> &'static std::result::Result<String, String> {
    static URL: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("POSTIE_TEST_POSTGRES_URL") {
            return Ok(url);
        }
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let dir = std::env::temp_dir().join(format!("postie-pg-store-{}", std::process::id()));
        let out = Command::new(format!("{root}/scripts/pg-test-cluster"))
            .arg("start")
            .arg(&dir)
            .arg("--owner-pid")
            .arg(std::process::id().to_string())
            .output()
            .map_err(|e| format!("cannot run scripts/pg-test-cluster: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "the PostgreSQL test cluster did not start (exit {:?}):\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    })
}

/// A store on a new, empty database of the test cluster; `None` (after a loud message)
/// when PostgreSQL is not available and not required.
pub(crate) async fn fresh_store() -> Option<PgStore> {
    let url = match cluster_url() {
        Ok(url) => url.clone(),
        Err(why) => {
            if std::env::var("POSTIE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("POSTIE_REQUIRE_POSTGRES=1 but {why}");
            }
            eprintln!("!!! SKIPPED PostgreSQL store test: {why}");
            return None;
        }
    };
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "t{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test cluster");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let base = url.rsplit_once('/').expect("url has a database").0;
    let options = PgOptions::from_url(&format!("{base}/{name}"));
    Some(PgStore::connect(&options).await.expect("connect a PgStore"))
}
