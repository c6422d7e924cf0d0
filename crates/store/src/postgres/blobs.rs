//! [`PgBlobs`]: message bodies in the PostgreSQL table `blobs`, one row per body.
//!
//! Where it sits: the [`BlobStore`] of [`super::PgStore`]. Each `put` commits on its
//! own (the body is durable, on the database's stable storage, before the row that
//! names it is written), as the embedded store fsyncs a body file first.
//!
//! Invariants: a body is written once and never modified; reads check the length the
//! naming row recorded, so a missing or wrong-sized body is
//! [`StoreError::Damaged`], never a wrong message.

use std::time::Duration;

use async_trait::async_trait;

use super::{db_err, now_unix, pool_err};
use crate::blob::{BlobStore, valid_blob_id};
use crate::{Result, StoreError};

/// Bodies as rows of the table `blobs`, through a connection pool.
#[derive(Clone)]
pub struct PgBlobs {
    pool: deadpool_postgres::Pool,
}

impl PgBlobs {
    /// Bodies in the database `pool` connects to (its schema already migrated).
    pub fn new(pool: deadpool_postgres::Pool) -> PgBlobs {
        PgBlobs { pool }
    }
}

/// `Damaged` for an id that is not one [`crate::blob::new_blob_id`] makes.
fn check_id(id: &str) -> Result<()> {
    if valid_blob_id(id) {
        Ok(())
    } else {
        Err(StoreError::Damaged(format!("malformed body id {id:?}")))
    }
}

#[async_trait]
impl BlobStore for PgBlobs {
    async fn put(&self, id: &str, body: &[u8]) -> Result<()> {
        check_id(id)?;
        let client = self.pool.get().await.map_err(pool_err)?;
        let stmt = client
            .prepare_cached("INSERT INTO blobs(id, data, created_at) VALUES ($1, $2, $3)")
            .await
            .map_err(db_err)?;
        client
            .execute(&stmt, &[&id, &body, &now_unix()])
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn read_into(&self, id: &str, len: u64, out: &mut Vec<u8>) -> Result<()> {
        check_id(id)?;
        let client = self.pool.get().await.map_err(pool_err)?;
        let stmt = client
            .prepare_cached("SELECT data FROM blobs WHERE id = $1")
            .await
            .map_err(db_err)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(db_err)?;
        let Some(row) = row else {
            return Err(StoreError::Damaged(format!("message body {id} is missing")));
        };
        let data: &[u8] = row.get(0);
        if data.len() as u64 != len {
            return Err(StoreError::Damaged(format!(
                "message body {id} has {} octets, expected {len}",
                data.len()
            )));
        }
        out.extend_from_slice(data);
        Ok(())
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let client = self.pool.get().await.map_err(pool_err)?;
        client
            .execute("DELETE FROM blobs WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn older_than(&self, age: Duration) -> Result<Vec<String>> {
        let cutoff = now_unix().saturating_sub(i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
        let client = self.pool.get().await.map_err(pool_err)?;
        let rows = client
            .query("SELECT id FROM blobs WHERE created_at < $1", &[&cutoff])
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }
}
