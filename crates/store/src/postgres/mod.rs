//! [`PgStore`]: the PostgreSQL backend, for several Postie nodes sharing one database.
//!
//! Where it sits: chosen by [`crate::open`] when the configuration has
//! `[store] url = "postgres://…"`; every node (and every CLI command) then works on
//! the same accounts, mailboxes, bodies and queue. Per-node things (listeners, TLS
//! certificate files, the EHLO hostname, the queue runner's node name) stay in each
//! node's configuration and data directory.
//!
//! How it works:
//! - A pool of connections ([`deadpool_postgres`]); each trait method takes one, and
//!   writes run in one transaction (READ COMMITTED) whose row locks serialize the
//!   writers that must not interleave: every change to a mailbox's messages first
//!   updates the mailbox's row (UIDNEXT, HIGHESTMODSEQ), so UIDs and mod-sequences stay
//!   strictly increasing with appends from several nodes; quota checks lock the
//!   account's row; queue claims take `FOR UPDATE SKIP LOCKED`. Where one step locks
//!   two mailboxes (COPY, MOVE) it locks them in id order, so two nodes cannot
//!   deadlock each other.
//! - Bodies go through the [`BlobStore`] trait ([`PgBlobs`]: the table `blobs`), written
//!   and committed *before* the row naming them, deleted *after* the commit that removed
//!   the last row naming them, the same discipline as the embedded store's files; the
//!   orphan sweep at start deletes bodies older than [`ORPHAN_GRACE`] that no row names.
//! - Schema migrations are versioned and run by one node under an advisory lock
//!   ([`schema`]); a newer schema is refused.
//! - Every module below is plain SQL over a transaction or client; none of them
//!   begins a transaction another module's function is inside of.
//!
//! Security stance: the password comes from the URL, `PGPASSWORD` or a file and is
//! never logged (the URL is shown with its password replaced); TLS to the database
//! with `sslmode=require` (encrypted) or `sslmode=verify-full` (certificate checked
//! against `[store] ca_file`).

mod accounts;
mod acl;
mod aliases;
mod api_tokens;
mod app_passwords;
mod blobs;
pub(crate) mod connect;
mod counters;
mod dkim_keys;
mod feed;
pub mod import;
mod mailboxes;
mod maildrop;
mod messages;
#[cfg(test)]
mod nodes_tests;
mod queue;
mod quota;
pub(crate) mod schema;
#[cfg(test)]
pub(crate) mod testing;
mod values;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use message::{Address, Domain, Envelope, QueueId};

use crate::blob::BlobStore;
use crate::{
    Account, AccountId, AclEntry, Change, ChangeSink, Filing, FlagChange, FlagsResult, Grantee,
    ImapMessage, Mailbox, MailboxChanges, MailboxId, MessageMeta, NewMessage, QueuedMessage, Quota,
    QuotaUsage, RecipientOutcome, Result, SharedMailbox, Store, StoreError,
};
pub use blobs::PgBlobs;
pub use connect::{PgOptions, shown as shown_url};

/// Bodies younger than this are never treated as orphans (an `enqueue` on another node
/// may have written one and not yet committed the row naming it).
pub const ORPHAN_GRACE: Duration = Duration::from_secs(10 * 60);

/// The current time in unix seconds.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A database error as the store's error: an I/O error naming the database, with
/// PostgreSQL's own message (never the statement's parameters).
/// Commits `tx`, recording the COMMIT's round trip (the server's WAL flush) in the
/// histogram `postie_store_commit_seconds{backend="postgres"}`, as the SQLite writer
/// records its group commits under `backend="sqlite"`.
pub(crate) async fn commit(tx: deadpool_postgres::Transaction<'_>) -> Result<()> {
    let started = std::time::Instant::now();
    tx.commit().await.map_err(db_err)?;
    metrics::histogram!(crate::sqlite::writer::COMMIT_SECONDS, "backend" => "postgres")
        .record(started.elapsed().as_secs_f64());
    Ok(())
}

pub(crate) fn db_err(e: tokio_postgres::Error) -> StoreError {
    use tokio_postgres::error::SqlState;
    match e.as_db_error() {
        Some(db)
            if [
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::T_R_SERIALIZATION_FAILURE,
            ]
            .contains(db.code()) =>
        {
            StoreError::Io(format!("{TRANSIENT}: {}", db.message()))
        }
        Some(db) => StoreError::Io(format!("database: {}", db.message())),
        None => StoreError::Io(format!("database: {e}")),
    }
}

/// How [`db_err`] begins the message of an error PostgreSQL gave up on a transaction
/// for (a deadlock between nodes, a serialization failure): nothing was committed, so
/// [`retrying`] runs the whole step again.
const TRANSIENT: &str = "database: transient conflict";

/// How many times [`retrying`] runs a step that hit a transient conflict.
const ATTEMPTS: u32 = 4;

/// Runs `step` (one trait method: its own transaction, bodies written before it and
/// released if it fails) and, when PostgreSQL aborted its transaction for a deadlock
/// or a serialization failure, runs it again after a short random pause, up to
/// [`ATTEMPTS`] times. Safe because an aborted transaction committed nothing: the
/// rows and lock order of the two nodes' steps are left as they were, and the next
/// try usually finds the other node done.
pub(crate) async fn retrying<T, F, Fut>(step: F) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match step().await {
            Err(StoreError::Io(m)) if m.starts_with(TRANSIENT) && attempt < ATTEMPTS => {
                tracing::debug!(attempt, error = %m, "retrying after a transient conflict");
                let pause = rand::random_range(5..=20u64) * u64::from(attempt);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A pool error (no connection could be had) as the store's error.
pub(crate) fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Io(format!("database connection: {e}"))
}

/// True when `e` is a unique-constraint violation (SQLSTATE 23505).
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// True when `e` is a foreign-key violation (SQLSTATE 23503): the row named is gone.
pub(crate) fn is_foreign_key_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION)
}

/// The PostgreSQL store: a connection pool and the body store.
pub struct PgStore {
    pool: deadpool_postgres::Pool,
    blobs: Arc<dyn BlobStore>,
    /// Change notices to and from the other nodes.
    feed: feed::Feed,
    /// The URL with its password hidden, for messages.
    shown: String,
    /// The URL as given, for tests that open a second node.
    #[cfg(test)]
    url: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.shown).finish()
    }
}

impl PgStore {
    /// Connects to the database `options` names, migrates its schema (one node at a
    /// time, under an advisory lock; a newer schema is refused) and sweeps orphan
    /// bodies older than [`ORPHAN_GRACE`].
    pub async fn connect(options: &PgOptions) -> Result<PgStore> {
        let (pool, dial, shown) = connect::pool(options)?;
        let mut client = pool
            .get()
            .await
            .map_err(|e| StoreError::Io(format!("cannot connect to the database {shown}: {e}")))?;
        schema::migrate(&mut client).await?;
        drop(client);
        let blobs: Arc<dyn BlobStore> = Arc::new(PgBlobs::new(pool.clone()));
        let store = PgStore {
            pool,
            blobs,
            feed: feed::Feed::new(dial),
            shown,
            #[cfg(test)]
            url: options.url.clone(),
        };
        match store.sweep_orphans(ORPHAN_GRACE).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(count = n, "deleted orphan message bodies"),
            Err(e) => tracing::warn!(error = %e, "could not look for orphan message bodies"),
        }
        tracing::debug!(url = %store.shown, "store opened");
        Ok(store)
    }

    /// The database URL, its password hidden.
    pub fn url_shown(&self) -> &str {
        &self.shown
    }

    /// The URL this store was opened with, password and all (tests open a second
    /// node on it).
    #[cfg(test)]
    pub(crate) fn url_for_tests(&self) -> &str {
        &self.url
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client> {
        self.pool.get().await.map_err(pool_err)
    }

    /// The body store.
    pub(crate) fn blobs(&self) -> &dyn BlobStore {
        self.blobs.as_ref()
    }

    /// Writes `bodies` to the body store (durably, each under a fresh id) and returns
    /// their (id, size), in order. If one fails, those already written are deleted.
    pub(crate) async fn put_blobs(&self, bodies: &[&[u8]]) -> Result<Vec<(String, u64)>> {
        let mut written: Vec<(String, u64)> = Vec::with_capacity(bodies.len());
        for body in bodies {
            let id = crate::blob::new_blob_id();
            if let Err(e) = self.blobs.put(&id, body).await {
                let ids: Vec<String> = written.into_iter().map(|(id, _)| id).collect();
                self.release(ids).await;
                return Err(e);
            }
            written.push((id, body.len() as u64));
        }
        Ok(written)
    }

    /// Deletes bodies a committed transaction released (or that a transaction that
    /// definitely did not commit would have named). A failure is logged: the orphan
    /// sweep catches what is left.
    pub(crate) async fn release(&self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        if let Err(e) = self.blobs.delete(&ids).await {
            tracing::warn!(error = %e, count = ids.len(), "could not delete released bodies");
        }
    }

    /// Deletes bodies older than `grace` that no queue entry or message names.
    async fn sweep_orphans(&self, grace: Duration) -> Result<usize> {
        let candidates = self.blobs.older_than(grace).await?;
        if candidates.is_empty() {
            return Ok(0);
        }
        let client = self.client().await?;
        let orphans = unreferenced(&client, &candidates).await?;
        drop(client);
        for id in &orphans {
            tracing::warn!(blob = %id, "deleting orphan message body (no row names it)");
        }
        let n = orphans.len();
        self.release(orphans).await;
        Ok(n)
    }
}

/// Which of the bodies `ids` no queue entry and no message names (any more). Run it
/// after the statement that removed the rows, inside their transaction, so a body
/// another transaction is just starting to share is seen (it locks the row it copies
/// from, which the removing transaction waits for).
pub(crate) async fn unreferenced(
    c: &impl deadpool_postgres::GenericClient,
    ids: &[String],
) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = c
        .query(
            "SELECT b FROM unnest($1::text[]) AS b
             WHERE NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = b)
               AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = b)",
            &[&ids],
        )
        .await
        .map_err(db_err)?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

#[async_trait]
impl Store for PgStore {
    async fn domain_add(&self, domain: &Domain) -> Result<()> {
        retrying(|| accounts::domain_add(self, domain)).await
    }

    async fn domain_remove(&self, domain: &Domain) -> Result<()> {
        retrying(|| accounts::domain_remove(self, domain)).await
    }

    async fn domain_list(&self) -> Result<Vec<Domain>> {
        retrying(|| accounts::domain_list(self)).await
    }

    async fn domain_is_local(&self, domain: &Domain) -> Result<bool> {
        retrying(|| accounts::domain_is_local(self, domain)).await
    }

    async fn account_add(&self, address: &Address, password_hash: &str) -> Result<AccountId> {
        retrying(|| accounts::account_add(self, address, password_hash)).await
    }

    async fn account_set_password(&self, address: &Address, password_hash: &str) -> Result<()> {
        retrying(|| accounts::account_set_password(self, address, password_hash)).await
    }

    async fn account_remove(&self, address: &Address) -> Result<()> {
        retrying(|| accounts::account_remove(self, address)).await
    }

    async fn account_list(&self) -> Result<Vec<Account>> {
        retrying(|| accounts::account_list(self)).await
    }

    async fn account_get(&self, address: &Address) -> Result<Option<Account>> {
        retrying(|| accounts::account_get(self, address)).await
    }

    async fn account_set_admin(&self, address: &Address, admin: bool) -> Result<()> {
        retrying(|| accounts::account_set_admin(self, address, admin)).await
    }

    async fn account_set_display_name(&self, address: &Address, name: Option<&str>) -> Result<()> {
        retrying(|| accounts::account_set_display_name(self, address, name)).await
    }

    async fn quota_set(&self, address: &Address, quota: Quota) -> Result<()> {
        retrying(|| quota::quota_set(self, address, quota)).await
    }

    async fn quota_get(&self, account: AccountId) -> Result<Quota> {
        retrying(|| quota::quota_get(self, account)).await
    }

    async fn quota_usage(&self, account: AccountId) -> Result<QuotaUsage> {
        retrying(|| quota::quota_usage(self, account)).await
    }

    async fn alias_add(&self, alias: &Address, target: &Address) -> Result<()> {
        retrying(|| aliases::alias_add(self, alias, target)).await
    }

    async fn alias_remove(&self, alias: &Address) -> Result<()> {
        retrying(|| aliases::alias_remove(self, alias)).await
    }

    async fn alias_list(&self) -> Result<Vec<(Address, Address)>> {
        retrying(|| aliases::alias_list(self)).await
    }

    async fn resolve_recipient(&self, address: &Address) -> Result<Option<Account>> {
        retrying(|| accounts::resolve_recipient(self, address)).await
    }

    async fn app_password_add(
        &self,
        account: AccountId,
        name: &str,
        id: &str,
        hash: &str,
        created_at: i64,
    ) -> Result<()> {
        retrying(|| app_passwords::app_password_add(self, account, name, id, hash, created_at))
            .await
    }

    async fn app_password_list(&self, account: AccountId) -> Result<Vec<crate::AppPassword>> {
        retrying(|| app_passwords::app_password_list(self, account)).await
    }

    async fn app_password_get(
        &self,
        account: AccountId,
        id: &str,
    ) -> Result<Option<crate::AppPassword>> {
        retrying(|| app_passwords::app_password_get(self, account, id)).await
    }

    async fn app_password_revoke(&self, account: AccountId, name: &str) -> Result<()> {
        retrying(|| app_passwords::app_password_revoke(self, account, name)).await
    }

    async fn app_password_used(&self, account: AccountId, id: &str, when: i64) -> Result<()> {
        retrying(|| app_passwords::app_password_used(self, account, id, when)).await
    }

    async fn token_add(&self, token: &crate::ApiToken) -> Result<()> {
        retrying(|| api_tokens::token_add(self, token)).await
    }

    async fn token_list(&self) -> Result<Vec<crate::ApiToken>> {
        retrying(|| api_tokens::token_list(self)).await
    }

    async fn token_get(&self, id: &str) -> Result<Option<crate::ApiToken>> {
        retrying(|| api_tokens::token_get(self, id)).await
    }

    async fn token_revoke(&self, name: &str) -> Result<()> {
        retrying(|| api_tokens::token_revoke(self, name)).await
    }

    async fn token_used(&self, id: &str, when: i64) -> Result<()> {
        retrying(|| api_tokens::token_used(self, id, when)).await
    }

    async fn mailbox_list(&self, account: AccountId) -> Result<Vec<Mailbox>> {
        retrying(|| mailboxes::mailbox_list(self, account)).await
    }

    async fn message_list(&self, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
        retrying(|| messages::message_list(self, mailbox)).await
    }

    async fn message_read(&self, mailbox: MailboxId, uid: u32) -> Result<Vec<u8>> {
        retrying(|| messages::message_read(self, mailbox, uid)).await
    }

    async fn message_remove(&self, mailbox: MailboxId, uids: &[u32]) -> Result<()> {
        retrying(|| messages::message_remove(self, mailbox, uids)).await
    }

    async fn mailbox_get(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
        retrying(|| mailboxes::mailbox_get(self, account, name)).await
    }

    async fn mailbox_create(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<Mailbox> {
        retrying(|| mailboxes::mailbox_create(self, account, name, special_use)).await
    }

    async fn mailbox_delete(&self, account: AccountId, name: &str) -> Result<()> {
        retrying(|| mailboxes::mailbox_delete(self, account, name)).await
    }

    async fn mailbox_rename(&self, account: AccountId, from: &str, to: &str) -> Result<()> {
        retrying(|| mailboxes::mailbox_rename(self, account, from, to)).await
    }

    async fn mailbox_subscribe(
        &self,
        account: AccountId,
        name: &str,
        subscribed: bool,
    ) -> Result<()> {
        retrying(|| mailboxes::mailbox_subscribe(self, account, name, subscribed)).await
    }

    async fn mailbox_subscriptions(&self, account: AccountId) -> Result<Vec<String>> {
        retrying(|| mailboxes::mailbox_subscriptions(self, account)).await
    }

    async fn message_list_imap(&self, mailbox: MailboxId) -> Result<Vec<ImapMessage>> {
        retrying(|| messages::message_list_imap(self, mailbox)).await
    }

    async fn message_changes_since(
        &self,
        mailbox: MailboxId,
        since: u64,
    ) -> Result<MailboxChanges> {
        retrying(|| messages::message_changes_since(self, mailbox, since)).await
    }

    async fn message_summaries(
        &self,
        mailbox: MailboxId,
        uids: &[u32],
    ) -> Result<Vec<(u32, Option<Vec<u8>>)>> {
        retrying(|| messages::message_summaries(self, mailbox, uids)).await
    }

    async fn message_summaries_set(
        &self,
        mailbox: MailboxId,
        summaries: &[(u32, Vec<u8>)],
    ) -> Result<()> {
        retrying(|| messages::message_summaries_set(self, mailbox, summaries)).await
    }

    async fn message_flags_set(
        &self,
        mailbox: MailboxId,
        uids: &[u32],
        change: FlagChange,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsResult> {
        retrying(|| {
            messages::message_flags_set(self, mailbox, uids, change, flags, unchanged_since)
        })
        .await
    }

    async fn message_append_with(
        &self,
        mailbox: MailboxId,
        body: &[u8],
        flags: &[String],
        received_at: i64,
        summary: Option<&[u8]>,
    ) -> Result<u32> {
        retrying(|| messages::message_append_with(self, mailbox, body, flags, received_at, summary))
            .await
    }

    async fn message_append_many(
        &self,
        mailbox: MailboxId,
        messages: &[NewMessage<'_>],
    ) -> Result<Vec<u32>> {
        retrying(|| messages::message_append_many(self, mailbox, messages)).await
    }

    async fn message_copy(
        &self,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Vec<(u32, u32)>> {
        retrying(|| messages::message_copy(self, from, uids, to)).await
    }

    async fn message_move(
        &self,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Vec<(u32, u32)>> {
        retrying(|| messages::message_move(self, from, uids, to)).await
    }

    async fn message_expunge(&self, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<Vec<u32>> {
        retrying(|| messages::message_expunge(self, mailbox, uids)).await
    }

    async fn mailbox_expunged_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Vec<u32>> {
        retrying(|| messages::mailbox_expunged_since(self, mailbox, modseq)).await
    }

    async fn mailbox_recent_claim(&self, mailbox: MailboxId, up_to: u32) -> Result<u32> {
        retrying(|| mailboxes::mailbox_recent_claim(self, mailbox, up_to)).await
    }

    async fn acl_set(&self, mailbox: MailboxId, grantee: Grantee, rights: &str) -> Result<()> {
        retrying(|| acl::acl_set(self, mailbox, grantee, rights)).await
    }

    async fn acl_list(&self, mailbox: MailboxId) -> Result<Vec<AclEntry>> {
        retrying(|| acl::acl_list(self, mailbox)).await
    }

    async fn acl_shared_with(&self, account: AccountId) -> Result<Vec<SharedMailbox>> {
        retrying(|| acl::acl_shared_with(self, account)).await
    }

    async fn enqueue(&self, id: QueueId, envelope: &Envelope, body: &[u8]) -> Result<()> {
        retrying(|| queue::enqueue(self, id, envelope, body)).await
    }

    async fn enqueue_and_file(
        &self,
        id: QueueId,
        envelope: &Envelope,
        body: &[u8],
        filings: &[Filing],
    ) -> Result<Vec<usize>> {
        retrying(|| queue::enqueue_and_file(self, id, envelope, body, filings)).await
    }

    async fn enqueue_and_file_junk(
        &self,
        id: QueueId,
        envelope: &Envelope,
        body: &[u8],
        filings: &[Filing],
    ) -> Result<Vec<usize>> {
        retrying(|| queue::enqueue_and_file_junk(self, id, envelope, body, filings)).await
    }

    async fn queue_due(&self, now_unix: i64, limit: usize) -> Result<Vec<QueuedMessage>> {
        retrying(|| queue::queue_due(self, now_unix, limit)).await
    }

    async fn queue_claim(
        &self,
        node: &str,
        now_unix: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<QueueId>> {
        retrying(|| queue::queue_claim(self, node, now_unix, lease_until, limit)).await
    }

    async fn queue_renew(
        &self,
        node: &str,
        ids: &[QueueId],
        lease_until: i64,
    ) -> Result<Vec<QueueId>> {
        retrying(|| queue::queue_renew(self, node, ids, lease_until)).await
    }

    async fn queue_release(&self, node: &str, id: QueueId) -> Result<()> {
        retrying(|| queue::queue_release(self, node, id)).await
    }

    async fn value_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        retrying(|| values::get(self, key)).await
    }

    async fn value_put(&self, key: &str, value: &[u8]) -> Result<()> {
        retrying(|| values::put(self, key, value)).await
    }

    async fn value_delete(&self, key: &str) -> Result<()> {
        retrying(|| values::delete(self, key)).await
    }

    async fn value_list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        retrying(|| values::list(self, prefix)).await
    }

    async fn lease_take(
        &self,
        name: &str,
        holder: &str,
        now_unix: i64,
        until_unix: i64,
    ) -> Result<bool> {
        retrying(|| values::lease_take(self, name, holder, now_unix, until_unix)).await
    }

    async fn lease_drop(&self, name: &str, holder: &str) -> Result<()> {
        retrying(|| values::lease_drop(self, name, holder)).await
    }

    async fn maildrop_lock(
        &self,
        mailbox: MailboxId,
        holder: &str,
        now_unix: i64,
        until_unix: i64,
    ) -> Result<bool> {
        retrying(|| maildrop::maildrop_lock(self, mailbox, holder, now_unix, until_unix)).await
    }

    async fn maildrop_unlock(&self, mailbox: MailboxId, holder: &str) -> Result<()> {
        retrying(|| maildrop::maildrop_unlock(self, mailbox, holder)).await
    }

    async fn queue_list(&self) -> Result<Vec<QueuedMessage>> {
        retrying(|| queue::queue_list(self)).await
    }

    async fn queue_get(&self, id: QueueId) -> Result<Option<QueuedMessage>> {
        retrying(|| queue::queue_get(self, id)).await
    }

    async fn queue_body(&self, id: QueueId) -> Result<Vec<u8>> {
        retrying(|| queue::queue_body(self, id)).await
    }

    async fn queue_hold(&self, id: QueueId, held: bool) -> Result<()> {
        retrying(|| queue::queue_hold(self, id, held)).await
    }

    async fn queue_flush(
        &self,
        id: Option<QueueId>,
        domain: Option<&Domain>,
        now_unix: i64,
    ) -> Result<usize> {
        retrying(|| queue::queue_flush(self, id, domain, now_unix)).await
    }

    async fn queue_delete(&self, id: QueueId) -> Result<()> {
        retrying(|| queue::queue_delete(self, id)).await
    }

    async fn queue_set_warned(&self, id: QueueId) -> Result<()> {
        retrying(|| queue::queue_set_warned(self, id)).await
    }

    async fn deliver_to_mailbox(
        &self,
        id: QueueId,
        recipient: usize,
        account: AccountId,
        prefix: &[u8],
    ) -> Result<Option<u32>> {
        retrying(|| queue::deliver_to_mailbox(self, id, recipient, account, prefix)).await
    }

    async fn queue_mark(
        &self,
        id: QueueId,
        recipient: usize,
        outcome: &RecipientOutcome,
    ) -> Result<()> {
        retrying(|| queue::queue_mark(self, id, recipient, outcome)).await
    }

    async fn queue_collect(&self) -> Result<usize> {
        retrying(|| queue::queue_collect(self)).await
    }

    async fn queue_pending_count(&self) -> Result<u64> {
        // One read, no transaction: nothing to retry.
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT count(DISTINCT queue_id) FROM queue_recipients
                 WHERE status = 'pending'",
            )
            .await
            .map_err(db_err)?;
        let row = c.query_one(&stmt, &[]).await.map_err(db_err)?;
        let count: i64 = row.try_get(0).map_err(db_err)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn change_announce(&self, change: Change) -> Result<()> {
        let client = self.client().await?;
        self.feed.announce(&client, change).await
    }

    fn change_listen(&self, sink: ChangeSink) -> bool {
        self.feed.listen(sink)
    }

    fn counters_shared(&self) -> bool {
        true
    }

    async fn counter_add(
        &self,
        key: &str,
        part: &str,
        amount: u64,
        window_secs: u64,
        now_unix: i64,
    ) -> Result<Option<u64>> {
        counters::counter_add(self, key, part, amount, window_secs, now_unix).await
    }

    async fn counter_get(&self, keys: &[(&str, u64)], now_unix: i64) -> Result<Option<Vec<u64>>> {
        counters::counter_get(self, keys, now_unix).await
    }

    async fn counter_clear(&self, key: &str, part: Option<&str>) -> Result<()> {
        counters::counter_clear(self, key, part).await
    }

    fn keeps_dkim_keys(&self) -> bool {
        true
    }

    async fn dkim_key_put(&self, key: &crate::DkimKey) -> Result<()> {
        dkim_keys::dkim_key_put(self, key).await
    }

    async fn dkim_key_list(&self, domain: Option<&Domain>) -> Result<Vec<crate::DkimKey>> {
        dkim_keys::dkim_key_list(self, domain).await
    }

    async fn dkim_key_remove(&self, domain: &Domain, selector: &str) -> Result<()> {
        dkim_keys::dkim_key_remove(self, domain, selector).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_transient_conflict_is_retried_and_other_errors_are_not() {
        let tries = AtomicU32::new(0);
        let answer = retrying(|| async {
            match tries.fetch_add(1, Ordering::Relaxed) {
                0 | 1 => Err(StoreError::Io(format!("{TRANSIENT}: deadlock detected"))),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(answer.unwrap(), 7);
        assert_eq!(tries.load(Ordering::Relaxed), 3);

        let tries = AtomicU32::new(0);
        let answer: Result<()> = retrying(|| async {
            tries.fetch_add(1, Ordering::Relaxed);
            Err(StoreError::Io(format!("{TRANSIENT}: again")))
        })
        .await;
        assert!(answer.is_err());
        assert_eq!(tries.load(Ordering::Relaxed), ATTEMPTS);

        let tries = AtomicU32::new(0);
        let answer: Result<()> = retrying(|| async {
            tries.fetch_add(1, Ordering::Relaxed);
            Err(StoreError::Exists("x".into()))
        })
        .await;
        assert!(matches!(answer, Err(StoreError::Exists(_))));
        assert_eq!(tries.load(Ordering::Relaxed), 1);
    }
}
