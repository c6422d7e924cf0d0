//! [`SqliteStore`]: the embedded backend. One SQLite database (`postie.db`, WAL mode)
//! for the index and small message bodies, larger bodies as files under `blobs/`, all
//! in one data directory.
//!
//! Where it sits: the default [`Store`] that `postie serve` and the `postie user …` CLI
//! open. Both may have the same data directory open at once: SQLite's locking (with a
//! 5 s busy timeout) arbitrates between the two processes.
//!
//! How it works:
//! - Writes go to one writer thread (module `writer`) that group-commits whatever is waiting
//!   in one transaction; each call still gets its own result.
//! - Reads use a small pool of `query_only` connections inside `spawn_blocking`.
//! - `enqueue` (and IMAP APPEND) puts a body of at most 256 KiB into the database, in
//!   the same group-committed job as the row that names it (module `inline_blobs`), so
//!   a batch of messages costs one fsync. A larger body is a file, written and fsynced
//!   (in `spawn_blocking`) before the row that names it is committed, so a committed row
//!   always has its body on disk. A crash in between leaves an unreferenced file;
//!   [`SqliteStore::open`] deletes such orphans once they are older than
//!   [`ORPHAN_GRACE`] (younger ones may belong to an `enqueue` still in flight in
//!   another process).
//! - Inline bodies no row references any more are deleted in the transaction that
//!   released them; files only after that commit. An unreferenced body can never become referenced again (delivery only files
//!   bodies of queue entries that still exist), so deleting after the commit is safe.
//! - Everything read back is validated: a missing or wrong-sized body file, a malformed
//!   row, is [`StoreError::Damaged`], never a panic.
//!
//! Security stance: creates and deletes files only inside the data directory; never
//! logs passwords or hashes.

mod accounts;
pub(crate) mod acl;
mod aliases;
mod api_tokens;
mod app_passwords;
pub(crate) mod blobs;
mod idn_keys;
mod imap;
pub(crate) mod inline_blobs;
mod mailboxes;
mod maildrop;
mod messages;
mod perms;
mod queue;
mod quota;
pub(crate) mod schema;
mod values;
pub(crate) mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use message::{Address, Domain, Envelope, QueueId};
use rusqlite::Connection;

use crate::{
    Account, AccountId, AclEntry, Filing, FlagChange, FlagsResult, Grantee, ImapMessage, Mailbox,
    MailboxChanges, MailboxId, MessageMeta, NewMessage, QueuedMessage, Quota, QuotaUsage,
    RecipientOutcome, Result, SharedMailbox, Store, StoreError,
};
use blobs::Blobs;
use writer::{WriteError, Writer};

/// Body files younger than this are never treated as orphans.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(10 * 60);

/// How many read-only connections the pool keeps.
const READERS: usize = 3;

/// The database file's name inside the data directory.
pub(crate) const DB_FILE: &str = "postie.db";
/// The body folder's name inside the data directory.
pub(crate) const BLOB_DIR: &str = "blobs";

// `?` turns a `rusqlite::Error` into `StoreError::Io` through the `From` impl in
// store-api (its `rusqlite` feature): the orphan rule keeps that impl out of this crate.

/// The current time in unix seconds.
fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What reads share with the blocking tasks that run them.
struct Shared {
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    blobs: Blobs,
}

impl Shared {
    /// Runs `f` on a free reader connection (blocking).
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let f = match self.with_free_reader(f) {
            Ok(done) => return done,
            Err(f) => f,
        };
        let start = self.next_reader.load(Ordering::Relaxed) % self.readers.len();
        // All busy: queue behind one. A reader poisoned by a panic is still usable
        // (statements were finalized on unwind), so take it back.
        let conn = self.readers[start]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&conn)
    }

    /// Runs `f` on a reader connection no one is using, or gives `f` back when every
    /// one is busy (never waits).
    fn with_free_reader<T, F>(&self, f: F) -> std::result::Result<Result<T>, F>
    where
        F: FnOnce(&Connection) -> Result<T>,
    {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed) % n;
        for k in 0..n {
            if let Ok(conn) = self.readers[(start + k) % n].try_lock() {
                return Ok(f(&conn));
            }
        }
        Err(f)
    }
}

/// The embedded store: SQLite plus body files in one data directory.
pub struct SqliteStore {
    dir: PathBuf,
    shared: Arc<Shared>,
    writer: Writer,
    /// Bodies up to this many octets go inline (`inline_blobs::INLINE_MAX`; 0 in the
    /// tests of the file layout).
    inline_max: usize,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("dir", &self.dir)
            .finish()
    }
}

impl SqliteStore {
    /// [`Store::enqueue_and_file`] and [`Store::enqueue_and_file_junk`]: the filings go
    /// to each account's Junk mailbox when `junk`.
    async fn enqueue_filed(
        &self,
        id: QueueId,
        envelope: &Envelope,
        body: &[u8],
        filings: &[Filing],
        junk: bool,
    ) -> Result<Vec<usize>> {
        if envelope.recipients.is_empty() {
            return Err(StoreError::Invalid(
                "a message needs at least one recipient".into(),
            ));
        }
        let (envelope, now) = (envelope.clone(), now_unix());
        let filings = filings.to_vec();
        // One job, so one savepoint: the entry and its filings commit together.
        self.with_new_blob(body, move |c, blob, size| {
            queue::insert(c, id, &envelope, blob, size, now)?;
            // Every recipient was just written pending, with this body: nothing to look
            // up again before filing.
            let mut filed = Vec::with_capacity(filings.len());
            for f in &filings {
                // Over quota: left pending for the queue, which retries it.
                let octets = size.saturating_add(f.prefix.len() as u64);
                match quota::admit(c, f.account, octets, 1) {
                    Ok(()) => {}
                    Err(StoreError::OverQuota(why)) => {
                        tracing::info!(queue_id = %id, recipient = f.recipient, %why, "not filed");
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                let pending = messages::Pending {
                    id,
                    recipient: f.recipient,
                    account: f.account,
                    prefix: &f.prefix,
                    blob,
                    body_size: size,
                    summary: f.summary.as_deref(),
                };
                messages::file_pending(c, &pending, now, junk)?;
                filed.push(f.recipient);
            }
            Ok(filed)
        })
        .await
    }

    /// Opens the store in `data_dir`, creating the directory, `postie.db` and `blobs/`
    /// as needed and migrating the schema. Deletes orphan body files older than
    /// [`ORPHAN_GRACE`]. Blocking: call it at start-up, or from `spawn_blocking`.
    pub fn open(data_dir: &Path) -> Result<SqliteStore> {
        Self::open_with_grace(data_dir, ORPHAN_GRACE)
    }

    /// [`SqliteStore::open`] with a chosen orphan grace period.
    fn open_with_grace(data_dir: &Path, grace: Duration) -> Result<SqliteStore> {
        perms::create_private_dir(data_dir)
            .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", data_dir.display())))?;
        let blobs = Blobs::open(data_dir.join(BLOB_DIR))?;
        let db = data_dir.join(DB_FILE);
        let write_conn = schema::open_writer(&db)?;
        let readers = (0..READERS)
            .map(|_| schema::open_reader(&db).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        // Owner only, whatever the umask: `postie.db` holds password hashes. This also
        // repairs a directory an older version left readable by everyone. SQLite gives
        // the -wal and -shm files it makes later the mode of `postie.db`.
        perms::tighten(data_dir, &[DB_FILE, "postie.db-wal", "postie.db-shm"]);
        let shared = Arc::new(Shared {
            readers,
            next_reader: AtomicUsize::new(0),
            blobs,
        });
        match shared.with_reader(|c| sweep_orphans(c, &shared.blobs, grace)) {
            Ok(0) => {}
            Ok(n) => tracing::warn!(count = n, "deleted orphan message body files"),
            Err(e) => tracing::warn!(error = %e, "could not look for orphan body files"),
        }
        let writer = Writer::start(write_conn)?;
        tracing::debug!(dir = %data_dir.display(), "store opened");
        Ok(SqliteStore {
            dir: data_dir.to_path_buf(),
            shared,
            writer,
            inline_max: inline_blobs::INLINE_MAX,
        })
    }

    /// This store writing every body as a file, as versions before `inline_blobs` did
    /// (for the tests of the file layout and of reading such data directories).
    #[cfg(test)]
    pub(crate) fn files_only(mut self) -> Self {
        self.inline_max = 0;
        self
    }

    /// The data directory this store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// How many write transactions this store's writer thread has committed. With
    /// group commit, many concurrent writes share one; tests and metrics read it.
    pub fn commit_count(&self) -> u64 {
        self.writer.commit_count()
    }

    /// Runs a read on a pooled connection in `spawn_blocking`.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        blocking_read(move || shared.with_reader(f)).await
    }

    /// Runs a point read (one row, or a few, by primary key or a unique index) right
    /// here on the async worker: such a read of cached pages takes microseconds, less
    /// than handing the worker's other tasks away for it (`block_in_place` wakes a
    /// thread to take them over, and that hand-off was a quarter of the CPU of SMTP
    /// acceptance: recipients are resolved and checked with such reads). Reads whose
    /// size a mailbox or the queue decides go through [`Self::read`].
    /// When every reader is busy (long reads under way), it waits for one the way
    /// [`Self::read`] does, off the worker, rather than block the worker behind them.
    async fn read_point<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        match self.shared.with_free_reader(f) {
            Ok(done) => done,
            Err(f) => self.read(f).await,
        }
    }

    /// Runs blocking file work on the body folder in `spawn_blocking`.
    async fn files<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Blobs) -> Result<T> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || f(&shared.blobs))
            .await
            .map_err(|e| StoreError::Io(format!("file task failed: {e}")))?
    }

    /// Runs a write on the writer thread (group-committed).
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        Ok(self.writer.run(f).await?)
    }

    /// Deletes body files a committed write released.
    async fn release(&self, blobs: Vec<String>) -> Result<()> {
        if blobs.is_empty() {
            return Ok(());
        }
        self.files(move |b| {
            for id in &blobs {
                b.remove(id);
            }
            Ok(())
        })
        .await
    }

    /// Writes `body` to a new body file (durably), then runs `insert` with its id and
    /// size on the writer thread. If the write job definitely failed the file is taken
    /// back; if its fate is unknown the file is left for the orphan sweep.
    async fn with_new_blob<T, F>(&self, body: &[u8], insert: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str, u64) -> Result<T> + Send + 'static,
    {
        self.with_new_blobs(vec![body.to_vec()], move |c, blobs| {
            let (blob, size) = &blobs[0];
            insert(c, blob, *size)
        })
        .await
    }

    /// [`SqliteStore::with_new_blob`] for several bodies and one write job: every file
    /// written first (those already written are taken back if one fails), then made
    /// durable by the writer thread with the rest of its batch's files, then `insert`
    /// with the (id, size) of each, in order. A job that definitely failed takes all the
    /// files back; one whose fate is unknown leaves them to the sweep.
    async fn with_new_blobs<T, F>(&self, bodies: Vec<Vec<u8>>, insert: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &[(String, u64)]) -> Result<T> + Send + 'static,
    {
        let blobs: Vec<(String, u64)> = bodies
            .iter()
            .map(|body| (blobs::new_id(), body.len() as u64))
            .collect();
        // Small bodies go into the write job itself (one fsync for the whole batch);
        // large ones are files, synced by the writer thread once per batch (data, then
        // each folder once) before the rows that name them commit.
        let inline_max = self.inline_max;
        let (inline, large): (Vec<_>, Vec<_>) = blobs
            .iter()
            .map(|(id, _)| id.clone())
            .zip(bodies)
            .partition(|(_, body)| body.len() <= inline_max);
        let files: Vec<String> = large.iter().map(|(id, _)| id.clone()).collect();
        let unsynced = if large.is_empty() {
            Vec::new()
        } else {
            self.files(move |b| {
                let mut written = Vec::with_capacity(large.len());
                for (i, (id, data)) in large.iter().enumerate() {
                    match b.write_unsynced(id, data) {
                        Ok(file) => written.push(file),
                        Err(e) => {
                            // The failed one too: it may be half written.
                            drop(written);
                            for (id, _) in &large[..=i] {
                                b.remove(id);
                            }
                            return Err(e);
                        }
                    }
                }
                Ok(written)
            })
            .await?
        };
        let job = move |c: &Connection| {
            for (id, body) in &inline {
                inline_blobs::insert(c, id, body)?;
            }
            insert(c, &blobs)
        };
        match self.writer.run_with_files(unsynced, job).await {
            Ok(value) => Ok(value),
            Err(WriteError::Failed(e)) => {
                // Definitely not committed: the files are ours to take back (the inline
                // bodies went with the job's savepoint).
                self.release(files).await?;
                Err(e)
            }
            // Outcome unknown: leave the files; the orphan sweep decides later.
            Err(gone) => Err(gone.into()),
        }
    }

    /// Reads a body (inline or a file), checking its length. A missing file whose row has meanwhile
    /// been removed (a concurrent expunge or collect) is `NotFound`, not `Damaged`.
    async fn read_body<F>(&self, blob: String, len: u64, still_there: F) -> Result<Vec<u8>>
    where
        F: FnOnce(&Connection) -> Result<bool> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        let read = blocking_read(move || {
            let mut body = Vec::new();
            if shared.with_reader(|c| inline_blobs::read_into(c, &blob, len, &mut body))? {
                return Ok(body);
            }
            shared.blobs.read_into(&blob, len, &mut body)?;
            Ok(body)
        });
        match read.await {
            Err(StoreError::Damaged(why)) => {
                if self.read(still_there).await? {
                    Err(StoreError::Damaged(why))
                } else {
                    Err(StoreError::NotFound("removed while being read".into()))
                }
            }
            other => other,
        }
    }
}

/// Runs a short blocking read (an indexed SQLite query, a body file from the page
/// cache). On the multi-threaded runtime it runs in place with `block_in_place`, which
/// lets the runtime move this worker's other tasks elsewhere: handing each read to the
/// blocking pool instead cost more than the read itself (POP3 RETR ran 3x slower).
/// On a current-thread runtime (unit tests) it falls back to `spawn_blocking`.
async fn blocking_read<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(f)
    } else {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| StoreError::Io(format!("read task failed: {e}")))?
    }
}

/// Deletes body files older than `grace` that no row references. Blocking.
fn sweep_orphans(c: &Connection, blobs: &Blobs, grace: Duration) -> Result<usize> {
    let candidates = blobs.older_than(grace)?;
    if candidates.is_empty() {
        return Ok(0);
    }
    let referenced = queue::referenced_blobs(c)?;
    let mut removed = 0;
    for id in candidates.iter().filter(|id| !referenced.contains(*id)) {
        tracing::warn!(blob = %id, "deleting orphan body file (no row references it)");
        blobs.remove(id);
        removed += 1;
    }
    Ok(removed)
}

#[async_trait]
impl Store for SqliteStore {
    async fn domain_add(&self, domain: &Domain) -> Result<()> {
        let domain = domain.clone();
        self.write(move |c| accounts::domain_add(c, &domain)).await
    }

    async fn domain_remove(&self, domain: &Domain) -> Result<()> {
        let domain = domain.clone();
        self.write(move |c| accounts::domain_remove(c, &domain))
            .await
    }

    async fn domain_list(&self) -> Result<Vec<Domain>> {
        self.read(accounts::domain_list).await
    }

    async fn domain_is_local(&self, domain: &Domain) -> Result<bool> {
        let domain = domain.clone();
        self.read_point(move |c| accounts::domain_is_local(c, &domain))
            .await
    }

    async fn account_add(&self, address: &Address, password_hash: &str) -> Result<AccountId> {
        let (address, hash) = (address.clone(), password_hash.to_string());
        let now = now_unix();
        self.write(move |c| accounts::account_add(c, &address, &hash, now))
            .await
    }

    async fn account_set_password(&self, address: &Address, password_hash: &str) -> Result<()> {
        let (address, hash) = (address.clone(), password_hash.to_string());
        self.write(move |c| accounts::account_set_password(c, &address, &hash))
            .await
    }

    async fn account_remove(&self, address: &Address) -> Result<()> {
        let address = address.clone();
        let freed = self
            .write(move |c| accounts::account_remove(c, &address))
            .await?;
        self.release(freed).await
    }

    async fn account_list(&self) -> Result<Vec<Account>> {
        self.read(accounts::account_list).await
    }

    async fn account_get(&self, address: &Address) -> Result<Option<Account>> {
        let address = address.clone();
        self.read_point(move |c| accounts::account_get(c, &address))
            .await
    }

    async fn account_set_admin(&self, address: &Address, admin: bool) -> Result<()> {
        let address = address.clone();
        self.write(move |c| accounts::account_set_admin(c, &address, admin))
            .await
    }

    async fn account_set_display_name(&self, address: &Address, name: Option<&str>) -> Result<()> {
        let (address, name) = (address.clone(), name.map(str::to_owned));
        self.write(move |c| accounts::account_set_display_name(c, &address, name.as_deref()))
            .await
    }

    async fn quota_set(&self, address: &Address, limits: Quota) -> Result<()> {
        let address = address.clone();
        self.write(move |c| quota::set(c, &address, limits)).await
    }

    async fn quota_get(&self, account: AccountId) -> Result<Quota> {
        self.read_point(move |c| quota::get(c, account)).await
    }

    async fn quota_usage(&self, account: AccountId) -> Result<QuotaUsage> {
        self.read(move |c| quota::usage(c, account)).await
    }

    async fn alias_add(&self, alias: &Address, target: &Address) -> Result<()> {
        let (alias, target) = (alias.clone(), target.clone());
        self.write(move |c| aliases::alias_add(c, &alias, &target))
            .await
    }

    async fn alias_remove(&self, alias: &Address) -> Result<()> {
        let alias = alias.clone();
        self.write(move |c| aliases::alias_remove(c, &alias)).await
    }

    async fn alias_list(&self) -> Result<Vec<(Address, Address)>> {
        self.read(aliases::alias_list).await
    }

    async fn resolve_recipient(&self, address: &Address) -> Result<Option<Account>> {
        let address = address.clone();
        self.read_point(move |c| aliases::resolve(c, &address))
            .await
    }

    async fn app_password_add(
        &self,
        account: AccountId,
        name: &str,
        id: &str,
        hash: &str,
        created_at: i64,
    ) -> Result<()> {
        let (name, id, hash) = (name.to_owned(), id.to_owned(), hash.to_owned());
        self.write(move |c| app_passwords::add(c, account, &name, &id, &hash, created_at))
            .await
    }

    async fn app_password_list(&self, account: AccountId) -> Result<Vec<crate::AppPassword>> {
        self.read(move |c| app_passwords::list(c, account)).await
    }

    async fn app_password_get(
        &self,
        account: AccountId,
        id: &str,
    ) -> Result<Option<crate::AppPassword>> {
        let id = id.to_owned();
        self.read_point(move |c| app_passwords::get(c, account, &id))
            .await
    }

    async fn app_password_revoke(&self, account: AccountId, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.write(move |c| app_passwords::revoke(c, account, &name))
            .await
    }

    async fn app_password_used(&self, account: AccountId, id: &str, when: i64) -> Result<()> {
        let id = id.to_owned();
        self.write(move |c| app_passwords::used(c, account, &id, when))
            .await
    }

    async fn token_add(&self, token: &crate::ApiToken) -> Result<()> {
        let token = token.clone();
        self.write(move |c| api_tokens::add(c, &token)).await
    }

    async fn token_list(&self) -> Result<Vec<crate::ApiToken>> {
        self.read(api_tokens::list).await
    }

    async fn token_get(&self, id: &str) -> Result<Option<crate::ApiToken>> {
        let id = id.to_owned();
        self.read_point(move |c| api_tokens::get(c, &id)).await
    }

    async fn token_revoke(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.write(move |c| api_tokens::revoke(c, &name)).await
    }

    async fn token_used(&self, id: &str, when: i64) -> Result<()> {
        let id = id.to_owned();
        self.write(move |c| api_tokens::used(c, &id, when)).await
    }

    async fn mailbox_list(&self, account: AccountId) -> Result<Vec<Mailbox>> {
        self.read(move |c| mailboxes::list(c, account)).await
    }

    async fn message_list(&self, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
        self.read(move |c| messages::list(c, mailbox)).await
    }

    async fn message_read(&self, mailbox: MailboxId, uid: u32) -> Result<Vec<u8>> {
        // One blocking read for the row and the body (inline, else its file): POP3 RETR
        // and IMAP FETCH call this once per message.
        let shared = Arc::clone(&self.shared);
        let read = blocking_read(move || {
            shared.with_reader(|c| {
                let loc = messages::locate(c, mailbox, uid)?;
                let mut full = loc.prefix;
                if !inline_blobs::read_into(c, &loc.blob, loc.body_size, &mut full)? {
                    shared
                        .blobs
                        .read_into(&loc.blob, loc.body_size, &mut full)?;
                }
                Ok(full)
            })
        })
        .await;
        match read {
            Err(StoreError::Damaged(why)) => {
                let still_there = self
                    .read(move |c| Ok(messages::locate(c, mailbox, uid).is_ok()))
                    .await?;
                Err(if still_there {
                    tracing::error!(mailbox = mailbox.0, uid, error = %why, "message body is damaged");
                    StoreError::Damaged(why)
                } else {
                    // Expunged by another session between the row and the file: the
                    // reader answers as for any expunged message (RFC 5530
                    // EXPUNGEISSUED), no damage.
                    tracing::debug!(mailbox = mailbox.0, uid, "message removed while being read");
                    StoreError::NotFound("removed while being read".into())
                })
            }
            other => other,
        }
    }

    async fn message_remove(&self, mailbox: MailboxId, uids: &[u32]) -> Result<()> {
        let uids = uids.to_vec();
        let freed = self
            .write(move |c| messages::remove(c, mailbox, &uids))
            .await?;
        self.release(freed).await
    }

    async fn mailbox_get(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
        let name = name.to_string();
        self.read_point(move |c| mailboxes::get(c, account, &name))
            .await
    }

    async fn mailbox_create(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<Mailbox> {
        let (name, special_use) = (name.to_string(), special_use.map(str::to_string));
        let now = now_unix();
        self.write(move |c| mailboxes::create(c, account, &name, special_use.as_deref(), now))
            .await
    }

    async fn mailbox_delete(&self, account: AccountId, name: &str) -> Result<()> {
        let name = name.to_string();
        let freed = self
            .write(move |c| mailboxes::delete(c, account, &name))
            .await?;
        self.release(freed).await
    }

    async fn mailbox_rename(&self, account: AccountId, from: &str, to: &str) -> Result<()> {
        let (from, to, now) = (from.to_string(), to.to_string(), now_unix());
        self.write(move |c| mailboxes::rename(c, account, &from, &to, now))
            .await
    }

    async fn mailbox_subscribe(
        &self,
        account: AccountId,
        name: &str,
        subscribed: bool,
    ) -> Result<()> {
        let name = name.to_string();
        self.write(move |c| mailboxes::subscribe(c, account, &name, subscribed))
            .await
    }

    async fn mailbox_subscriptions(&self, account: AccountId) -> Result<Vec<String>> {
        self.read(move |c| mailboxes::subscriptions(c, account))
            .await
    }

    async fn message_list_imap(&self, mailbox: MailboxId) -> Result<Vec<ImapMessage>> {
        self.read(move |c| imap::list(c, mailbox)).await
    }

    async fn message_changes_since(
        &self,
        mailbox: MailboxId,
        since: u64,
    ) -> Result<MailboxChanges> {
        self.read(move |c| imap::changes_since(c, mailbox, since))
            .await
    }

    async fn message_summaries(
        &self,
        mailbox: MailboxId,
        uids: &[u32],
    ) -> Result<Vec<(u32, Option<Vec<u8>>)>> {
        let uids = uids.to_vec();
        self.read(move |c| imap::summaries(c, mailbox, &uids)).await
    }

    async fn message_summaries_set(
        &self,
        mailbox: MailboxId,
        summaries: &[(u32, Vec<u8>)],
    ) -> Result<()> {
        let summaries = summaries.to_vec();
        self.write(move |c| imap::summaries_set(c, mailbox, &summaries))
            .await
    }

    async fn message_flags_set(
        &self,
        mailbox: MailboxId,
        uids: &[u32],
        change: FlagChange,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsResult> {
        let (uids, flags) = (uids.to_vec(), crate::flags::normalize(flags)?);
        self.write(move |c| imap::flags_set(c, mailbox, &uids, change, &flags, unchanged_since))
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
        let flags = crate::flags::normalize(flags)?;
        let arrival = crate::arrival_id();
        let summary = summary.map(<[u8]>::to_vec);
        self.with_new_blob(body, move |c, blob, size| {
            quota::admit_append(c, mailbox, size)?;
            let appended = imap::Appended {
                flags: &flags,
                received_at,
                arrival,
                summary: summary.as_deref(),
            };
            imap::append(c, mailbox, blob, size, &appended)
        })
        .await
    }

    async fn message_append_many(
        &self,
        mailbox: MailboxId,
        messages: &[NewMessage<'_>],
    ) -> Result<Vec<u32>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let metas = messages
            .iter()
            .map(|m| {
                Ok((
                    crate::flags::normalize(m.flags)?,
                    m.received_at,
                    crate::arrival_id(),
                    m.summary.map(<[u8]>::to_vec),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let bodies = messages.iter().map(|m| m.body.to_vec()).collect();
        // One job, so one transaction: the quota takes them together, and any refusal
        // rolls back every row (and `with_new_blobs` takes the files back).
        self.with_new_blobs(bodies, move |c, blobs| {
            let octets = blobs.iter().map(|(_, size)| size).sum();
            quota::admit_appends(c, mailbox, octets, blobs.len() as u64)?;
            blobs
                .iter()
                .zip(&metas)
                .map(|((blob, size), (flags, received_at, arrival, summary))| {
                    let appended = imap::Appended {
                        flags,
                        received_at: *received_at,
                        arrival: *arrival,
                        summary: summary.as_deref(),
                    };
                    imap::append(c, mailbox, blob, *size, &appended)
                })
                .collect()
        })
        .await
    }

    async fn message_copy(
        &self,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Vec<(u32, u32)>> {
        let uids = uids.to_vec();
        let (pairs, _) = self
            .write(move |c| {
                let copied = imap::copy(c, from, &uids, to, false)?;
                quota::check_copied(c, to, copied.0.len())?;
                Ok(copied)
            })
            .await?;
        Ok(pairs)
    }

    async fn message_move(
        &self,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Vec<(u32, u32)>> {
        let uids = uids.to_vec();
        let (pairs, freed) = self
            .write(move |c| imap::copy(c, from, &uids, to, true))
            .await?;
        self.release(freed).await?;
        Ok(pairs)
    }

    async fn message_expunge(&self, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<Vec<u32>> {
        let uids = uids.map(<[u32]>::to_vec);
        let (removed, freed) = self
            .write(move |c| imap::expunge_deleted(c, mailbox, uids.as_deref()))
            .await?;
        self.release(freed).await?;
        Ok(removed)
    }

    async fn mailbox_expunged_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Vec<u32>> {
        self.read(move |c| imap::expunged_since(c, mailbox, modseq))
            .await
    }

    async fn mailbox_recent_claim(&self, mailbox: MailboxId, up_to: u32) -> Result<u32> {
        self.write(move |c| mailboxes::recent_claim(c, mailbox, up_to))
            .await
    }

    async fn acl_set(&self, mailbox: MailboxId, grantee: Grantee, rights: &str) -> Result<()> {
        let rights = rights.to_owned();
        self.write(move |c| acl::set(c, mailbox, grantee, &rights))
            .await
    }

    async fn acl_list(&self, mailbox: MailboxId) -> Result<Vec<AclEntry>> {
        self.read(move |c| acl::list(c, mailbox)).await
    }

    async fn acl_shared_with(&self, account: AccountId) -> Result<Vec<SharedMailbox>> {
        self.read(move |c| acl::shared_with(c, account)).await
    }

    async fn enqueue(&self, id: QueueId, envelope: &Envelope, body: &[u8]) -> Result<()> {
        self.enqueue_and_file(id, envelope, body, &[]).await?;
        Ok(())
    }

    async fn enqueue_and_file(
        &self,
        id: QueueId,
        envelope: &Envelope,
        body: &[u8],
        filings: &[Filing],
    ) -> Result<Vec<usize>> {
        self.enqueue_filed(id, envelope, body, filings, false).await
    }

    async fn enqueue_and_file_junk(
        &self,
        id: QueueId,
        envelope: &Envelope,
        body: &[u8],
        filings: &[Filing],
    ) -> Result<Vec<usize>> {
        self.enqueue_filed(id, envelope, body, filings, true).await
    }

    async fn queue_due(&self, now_unix: i64, limit: usize) -> Result<Vec<QueuedMessage>> {
        self.read(move |c| queue::due(c, now_unix, limit)).await
    }

    async fn queue_due_ids(&self, now_unix: i64, limit: usize) -> Result<Vec<QueueId>> {
        self.read(move |c| queue::due_ids(c, now_unix, limit)).await
    }

    async fn queue_claim(
        &self,
        node: &str,
        now_unix: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<QueueId>> {
        let node = node.to_owned();
        // Most passes find nothing to claim (an idle server looks every second): a
        // pooled reader answers those without taking the write lock or a commit. An
        // entry committed after this read comes with its own wake-up of the runner.
        let looked = node.clone();
        if !self
            .read(move |c| queue::claimable(c, &looked, now_unix))
            .await?
        {
            return Ok(Vec::new());
        }
        self.write(move |c| queue::claim(c, &node, now_unix, lease_until, limit))
            .await
    }

    async fn queue_renew(
        &self,
        node: &str,
        ids: &[QueueId],
        lease_until: i64,
    ) -> Result<Vec<QueueId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (node, ids) = (node.to_owned(), ids.to_vec());
        self.write(move |c| queue::renew(c, &node, &ids, lease_until))
            .await
    }

    async fn queue_release(&self, node: &str, id: QueueId) -> Result<()> {
        let node = node.to_owned();
        self.write(move |c| queue::release(c, &node, id)).await
    }

    async fn value_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let key = key.to_owned();
        self.read_point(move |c| values::get(c, &key)).await
    }

    async fn value_put(&self, key: &str, value: &[u8]) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.write(move |c| values::put(c, &key, &value)).await
    }

    async fn value_delete(&self, key: &str) -> Result<()> {
        let key = key.to_owned();
        self.write(move |c| values::delete(c, &key)).await
    }

    async fn value_list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let prefix = prefix.to_owned();
        self.read(move |c| values::list(c, &prefix)).await
    }

    async fn lease_take(
        &self,
        name: &str,
        holder: &str,
        now_unix: i64,
        until_unix: i64,
    ) -> Result<bool> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |c| values::lease_take(c, &name, &holder, now_unix, until_unix))
            .await
    }

    async fn lease_drop(&self, name: &str, holder: &str) -> Result<()> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |c| values::lease_drop(c, &name, &holder))
            .await
    }

    async fn maildrop_lock(
        &self,
        mailbox: MailboxId,
        holder: &str,
        now_unix: i64,
        until_unix: i64,
    ) -> Result<bool> {
        let holder = holder.to_owned();
        self.write(move |c| maildrop::lock(c, mailbox, &holder, now_unix, until_unix))
            .await
    }

    async fn maildrop_unlock(&self, mailbox: MailboxId, holder: &str) -> Result<()> {
        let holder = holder.to_owned();
        self.write(move |c| maildrop::unlock(c, mailbox, &holder))
            .await
    }

    async fn queue_list(&self) -> Result<Vec<QueuedMessage>> {
        self.read(queue::list).await
    }

    async fn queue_get(&self, id: QueueId) -> Result<Option<QueuedMessage>> {
        self.read_point(move |c| queue::get(c, id)).await
    }

    async fn queue_hold(&self, id: QueueId, held: bool) -> Result<()> {
        self.write(move |c| queue::hold(c, id, held)).await
    }

    async fn queue_flush(
        &self,
        id: Option<QueueId>,
        domain: Option<&Domain>,
        now_unix: i64,
    ) -> Result<usize> {
        let domain = domain.cloned();
        self.write(move |c| queue::flush(c, id, domain.as_ref(), now_unix))
            .await
    }

    async fn queue_delete(&self, id: QueueId) -> Result<()> {
        let freed = self.write(move |c| queue::delete(c, id)).await?;
        self.release(freed).await
    }

    async fn queue_set_warned(&self, id: QueueId) -> Result<()> {
        self.write(move |c| queue::set_warned(c, id)).await
    }

    async fn queue_body(&self, id: QueueId) -> Result<Vec<u8>> {
        let Some((blob, size)) = self.read(move |c| queue::blob_of(c, id)).await? else {
            return Err(StoreError::NotFound(format!("queue entry {id}")));
        };
        self.read_body(blob, size, move |c| Ok(queue::blob_of(c, id)?.is_some()))
            .await
    }

    async fn deliver_to_mailbox(
        &self,
        id: QueueId,
        recipient: usize,
        account: AccountId,
        prefix: &[u8],
    ) -> Result<Option<u32>> {
        let (prefix, now) = (prefix.to_vec(), now_unix());
        self.write(move |c| {
            quota::admit_delivery(c, id, recipient, account, prefix.len())?;
            messages::deliver(c, id, recipient, account, &prefix, now)
        })
        .await
    }

    async fn queue_mark(
        &self,
        id: QueueId,
        recipient: usize,
        outcome: &RecipientOutcome,
    ) -> Result<()> {
        let outcome = outcome.clone();
        self.write(move |c| queue::mark(c, id, recipient, &outcome))
            .await
    }

    async fn queue_pending_count(&self) -> Result<u64> {
        // Answered from the (status, next_attempt) index alone, which carries the
        // primary key (queue_id, idx): only pending recipients are read.
        self.read(|c| {
            let count: i64 = c
                .prepare_cached(
                    "SELECT COUNT(DISTINCT queue_id) FROM queue_recipients
                     WHERE status = 'pending'",
                )?
                .query_row([], |r| r.get(0))?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }

    async fn queue_collect(&self) -> Result<usize> {
        // Looked for on a reader first: an idle runner's sweep that finds nothing
        // takes no write lock and makes no commit.
        if !self.read(queue::any_finished).await? {
            return Ok(0);
        }
        let (count, freed) = self.write(queue::collect).await?;
        self.release(freed).await?;
        Ok(count)
    }
}
