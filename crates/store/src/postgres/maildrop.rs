//! POP3 maildrop locks (`Store::maildrop_lock`, `maildrop_unlock`) on PostgreSQL: one
//! session per maildrop across every node on the database (RFC 1939 §8).
//!
//! Where it sits: called by [`super::PgStore`]'s `Store` impl; the table is
//! `maildrop_locks` (one row per locked mailbox, going with its mailbox by
//! `ON DELETE CASCADE`). The lock is a single upsert whose `WHERE` lets it replace only
//! an expired lease or the holder's own: PostgreSQL runs `INSERT … ON CONFLICT` as one
//! atomic step (a concurrent insert of the same key waits for the other and then takes
//! the `DO UPDATE` path), so two sessions on two nodes can never both get the lock. The
//! same statement as the embedded store's (`crate::sqlite::maildrop`).

use super::{PgStore, db_err, is_foreign_key_violation};
use crate::{MailboxId, Result, StoreError};

/// Takes or extends the lock (see `Store::maildrop_lock`): true when `holder` now
/// holds it until `until_unix`; `NotFound` for an unknown mailbox (the foreign key).
pub(super) async fn maildrop_lock(
    s: &PgStore,
    mailbox: MailboxId,
    holder: &str,
    now_unix: i64,
    until_unix: i64,
) -> Result<bool> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached(
            "INSERT INTO maildrop_locks(mailbox_id, holder, lease_until) VALUES ($1, $2, $3)
             ON CONFLICT (mailbox_id) DO UPDATE
                SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
              WHERE maildrop_locks.holder = EXCLUDED.holder
                 OR maildrop_locks.lease_until <= $4",
        )
        .await
        .map_err(db_err)?;
    match c
        .execute(&stmt, &[&mailbox.0, &holder, &until_unix, &now_unix])
        .await
    {
        Ok(changed) => Ok(changed == 1),
        Err(e) if is_foreign_key_violation(&e) => Err(StoreError::mailbox_gone()),
        Err(e) => Err(db_err(e)),
    }
}

/// Drops the lock if it is `holder`'s (see `Store::maildrop_unlock`); anything else
/// (another holder's lock, no lock, no such mailbox) is no error.
pub(super) async fn maildrop_unlock(s: &PgStore, mailbox: MailboxId, holder: &str) -> Result<()> {
    let c = s.client().await?;
    let stmt = c
        .prepare_cached("DELETE FROM maildrop_locks WHERE mailbox_id = $1 AND holder = $2")
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&mailbox.0, &holder])
        .await
        .map_err(db_err)?;
    Ok(())
}
