//! [`BlobStore`]: where message bodies live, apart from the index that names them.
//!
//! Where it sits: under a store backend. A body is written once, under a fresh random
//! id ([`new_blob_id`]), durably, *before* the row that names it commits; it is deleted
//! only *after* the commit that removed the last row naming it. A crash in between
//! leaves an unreferenced body, which the backend's orphan sweep deletes once it is
//! older than a grace period ([`BlobStore::older_than`]). Queue entries and the mailbox
//! messages delivered from them share one body.
//!
//! The PostgreSQL backend keeps bodies in a `blobs` table
//! ([`crate::postgres::PgBlobs`]); the embedded store keeps them as files. The trait is
//! the seam where an S3-compatible store can come later.

use std::time::Duration;

use async_trait::async_trait;

use crate::Result;

/// Length of a blob id in hex digits.
pub(crate) const BLOB_ID_LEN: usize = 32;

/// A fresh random blob id (128 bits, lower-case hex).
pub fn new_blob_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// True when `id` has the shape [`new_blob_id`] makes.
pub fn valid_blob_id(id: &str) -> bool {
    id.len() == BLOB_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Message bodies by id. Every method is safe to call concurrently.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `body` under `id` (from [`new_blob_id`]); on stable storage when it
    /// returns. An id is written once.
    async fn put(&self, id: &str, body: &[u8]) -> Result<()>;
    /// Appends the body `id` to `out`, checking that it has `len` octets: a missing or
    /// wrong-sized body is [`crate::StoreError::Damaged`].
    async fn read_into(&self, id: &str, len: u64, out: &mut Vec<u8>) -> Result<()>;
    /// Deletes the bodies `ids`; unknown ids are ignored.
    async fn delete(&self, ids: &[String]) -> Result<()>;
    /// The ids of bodies written more than `age` ago (candidates for the orphan sweep,
    /// which keeps those a row still names).
    async fn older_than(&self, age: Duration) -> Result<Vec<String>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_fresh() {
        let (a, b) = (new_blob_id(), new_blob_id());
        assert!(valid_blob_id(&a) && valid_blob_id(&b), "{a} {b}");
        assert_ne!(a, b);
        assert!(!valid_blob_id("../../etc/passwd"));
        assert!(!valid_blob_id(&a.to_uppercase()));
        assert!(!valid_blob_id(&a[1..]));
    }
}
