//! Small message bodies kept inside the database, in the same transaction as the rows
//! that name them.
//!
//! Where it sits: under [`super::SqliteStore`], next to the body files of
//! `super::blobs`. A body of at most [`INLINE_MAX`] octets is written by the writer
//! thread into `inline_blobs` inside the group-committed job that inserts its queue
//! entry (or IMAP APPEND's messages), so a batch of messages costs the one WAL fsync of
//! its commit instead of a file fsync and a directory fsync each. Larger bodies stay
//! files (written and fsynced before the commit). A body is named by the same 32-hex-digit
//! id either way; readers look here first, then for a file, so data directories written
//! before this table existed (every body a file) read unchanged.
//!
//! A row is deleted in the very transaction that removes the last row naming it
//! (`super::queue::unreferenced`), so an inline body can never be orphaned; a rolled-back
//! job takes its rows with it (its savepoint).

use rusqlite::{Connection, OptionalExtension, params};

use crate::{Result, StoreError};

/// The largest body kept inline, in octets: small and medium messages (most mail)
/// share their commit's fsync; a large one is better as a file of its own than as
/// pages of the database and its WAL.
pub(crate) const INLINE_MAX: usize = 256 * 1024;

/// Stores `body` under `id`.
pub(super) fn insert(c: &Connection, id: &str, body: &[u8]) -> Result<()> {
    c.prepare_cached("INSERT INTO inline_blobs(id, body) VALUES (?1, ?2)")?
        .execute(params![id, body])?;
    Ok(())
}

/// Appends the inline body `id` to `out`, checking it has `expected_len` octets: true
/// when there is one, false when the body is not inline (it is a file, or gone).
pub(crate) fn read_into(
    c: &Connection,
    id: &str,
    expected_len: u64,
    out: &mut Vec<u8>,
) -> Result<bool> {
    let mut stmt = c.prepare_cached("SELECT body FROM inline_blobs WHERE id = ?1")?;
    let found = stmt
        .query_row([id], |r| {
            let body = r.get_ref(0)?.as_blob()?;
            if body.len() as u64 == expected_len {
                out.extend_from_slice(body);
                Ok(Ok(()))
            } else {
                Ok(Err(body.len()))
            }
        })
        .optional()?;
    match found {
        None => Ok(false),
        Some(Ok(())) => Ok(true),
        Some(Err(len)) => Err(StoreError::Damaged(format!(
            "body {id} has {len} octets, expected {expected_len}"
        ))),
    }
}

/// Deletes the inline bodies among `ids` (ids of files are not here: nothing happens).
pub(super) fn delete(c: &Connection, ids: &[String]) -> Result<()> {
    let mut stmt = c.prepare_cached("DELETE FROM inline_blobs WHERE id = ?1")?;
    for id in ids {
        stmt.execute([id])?;
    }
    Ok(())
}
