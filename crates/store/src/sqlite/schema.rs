//! Opening SQLite connections with Postie's settings, and creating or migrating the
//! schema.
//!
//! Where it sits: [`super::SqliteStore::open`] calls [`open_writer`] once (its connection
//! then belongs to the writer thread) and [`open_reader`] for each pooled reader.
//!
//! Settings (applied to every connection): WAL journal mode so readers never block the
//! writer and another process (`postie user add`) can use the same file at the same
//! time; `synchronous=FULL` so a commit is on stable storage when it returns (the
//! promise behind SMTP's "250 queued"); a 5 s busy timeout for waiting on the other
//! process's write lock; foreign keys on.
//!
//! The schema version lives in `PRAGMA user_version`. Migrations run inside one
//! `BEGIN IMMEDIATE` transaction that re-reads the version, so two processes opening a
//! fresh data directory at once do not both create tables. A database from a newer
//! Postie (higher version than [`SCHEMA_VERSION`]) is refused, never altered.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::{Result, StoreError};

/// The schema version this code writes and understands.
pub(crate) const SCHEMA_VERSION: i64 = 17;

/// How long a connection waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Version 1: domains, accounts, mailboxes, messages, the queue.
///
/// Notes on the columns:
/// - `accounts.address_key` is [`message::Address::normalized`], the lookup key;
///   `accounts.address` keeps the address as added, for display.
/// - `mailboxes.uid_validity` / `uid_next` are IMAP's UIDVALIDITY / UIDNEXT
///   (RFC 3501 §2.3.1.1); `meta.last_uid_validity` makes sure a mailbox re-created with
///   the same name never gets a UIDVALIDITY it had before.
/// - `messages.blob_id` names the body file shared with the queue entry it came from;
///   `prefix` holds the per-recipient header lines; `body_size` is the body file's
///   length, checked on every read; `size` is `prefix + body`.
/// - `queue.id` is `QueueId::as_u64` stored bit-for-bit as a signed 64-bit integer.
const MIGRATION_1: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE domains (
    name TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    address_key   TEXT NOT NULL UNIQUE,
    address       TEXT NOT NULL,
    domain        TEXT NOT NULL REFERENCES domains(name),
    password_hash TEXT NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain);

CREATE TABLE mailboxes (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    uid_validity INTEGER NOT NULL,
    uid_next     INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE messages (
    mailbox_id      INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid             INTEGER NOT NULL,
    blob_id         TEXT NOT NULL,
    prefix          BLOB NOT NULL,
    body_size       INTEGER NOT NULL,
    size            INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    queue_id        INTEGER NOT NULL,
    recipient_index INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid),
    UNIQUE (queue_id, recipient_index, mailbox_id)
) WITHOUT ROWID;
CREATE INDEX messages_blob ON messages(blob_id);

CREATE TABLE queue (
    id        INTEGER PRIMARY KEY,
    sender    TEXT,
    body_type TEXT NOT NULL,
    smtputf8  INTEGER NOT NULL,
    blob_id   TEXT NOT NULL,
    size      INTEGER NOT NULL,
    queued_at INTEGER NOT NULL
);
CREATE INDEX queue_blob ON queue(blob_id);

CREATE TABLE queue_recipients (
    queue_id     INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    address      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error   TEXT,
    PRIMARY KEY (queue_id, idx)
) WITHOUT ROWID;
CREATE INDEX queue_recipients_due ON queue_recipients(status, next_attempt);
";

/// Version 2: mail aliases.
///
/// - `aliases.address` is [`message::Address::normalized`], the lookup key; `display`
///   keeps the alias as added. An address is never both an alias and an account
///   (`accounts.address_key`); the store checks that inside the writing transaction.
/// - `account_id` is the account the alias delivers to; removing the account removes
///   its aliases (ON DELETE CASCADE, indexed so the cascade does not scan).
/// - There is no domain column: the domain is what follows the last `@` of `address`,
///   which `domain_remove` matches to refuse removing a domain that still has aliases.
const MIGRATION_2: &str = "
CREATE TABLE aliases (
    address    TEXT PRIMARY KEY,
    display    TEXT NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX aliases_account ON aliases(account_id);
";

/// Version 3: outbound relay.
///
/// - `dsn_ret` / `dsn_envid`: RET and ENVID from MAIL (RFC 3461), NULL when not given;
///   `notify` / `orcpt` on each recipient likewise (`notify` in its RCPT parameter form).
/// - `held`: set by `postie queue hold`; a held entry is never due.
/// - `warned`: the delay warning for the entry has been sent.
const MIGRATION_3: &str = "
ALTER TABLE queue ADD COLUMN dsn_ret TEXT;
ALTER TABLE queue ADD COLUMN dsn_envid TEXT;
ALTER TABLE queue ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue_recipients ADD COLUMN notify TEXT;
ALTER TABLE queue_recipients ADD COLUMN orcpt TEXT;
";

/// Version 4: IMAP (RFC 3501/9051) with CONDSTORE/QRESYNC (RFC 7162) and SPECIAL-USE
/// (RFC 6154).
///
/// - `mailboxes.highest_modseq` is HIGHESTMODSEQ (RFC 7162 §3.1.1); every change to
///   the mailbox's messages takes the next value. `special_use` is an RFC 6154 §2
///   attribute (`\Sent`, …) or NULL.
/// - `messages` is rebuilt (SQLite cannot drop a table constraint): `flags` is the
///   message's canonical flags separated by spaces (see `crate::flags`; `\Recent` is
///   never stored), `modseq` its mod-sequence; `recipient_index` is NULL for a message
///   that was appended or copied rather than delivered. The old table-wide
///   UNIQUE (queue_id, recipient_index, mailbox_id), which keeps a delivery from being
///   filed twice, becomes the unique index `messages_filed`, which NULL indexes never
///   trip, so a copy of a delivered message may sit beside it. The primary key
///   (mailbox_id, uid) is the per-mailbox index in UID order. Rows carried over get
///   no flags and mod-sequence 1, as do their mailboxes.
/// - `subscriptions` is the LSUB/LIST (SUBSCRIBED) list: by name, so it may name
///   mailboxes that do not exist (RFC 3501 §6.3.6).
/// - `expunged` holds tombstones: the UID and the mod-sequence of the expunge that
///   removed it, for QRESYNC's VANISHED (RFC 7162 §3.2.10).
/// - Every account gets the special-use mailboxes new accounts start with (`Sent`,
///   `Drafts`, `Trash`, `Junk`, `Archive`, unless it has one by that name already), with
///   UIDVALIDITY values continuing `meta.last_uid_validity`; they and INBOX are
///   subscribed.
const MIGRATION_4: &str = r"
CREATE TABLE messages_v4 (
    mailbox_id      INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid             INTEGER NOT NULL,
    blob_id         TEXT NOT NULL,
    prefix          BLOB NOT NULL,
    body_size       INTEGER NOT NULL,
    size            INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    queue_id        INTEGER NOT NULL,
    recipient_index INTEGER,
    flags           TEXT NOT NULL DEFAULT '',
    modseq          INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
INSERT INTO messages_v4(mailbox_id, uid, blob_id, prefix, body_size, size, received_at,
                        queue_id, recipient_index)
    SELECT mailbox_id, uid, blob_id, prefix, body_size, size, received_at,
           queue_id, recipient_index
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v4 RENAME TO messages;
CREATE INDEX messages_blob ON messages(blob_id);
CREATE UNIQUE INDEX messages_filed ON messages(queue_id, recipient_index, mailbox_id);

ALTER TABLE mailboxes ADD COLUMN highest_modseq INTEGER NOT NULL DEFAULT 1;
ALTER TABLE mailboxes ADD COLUMN special_use TEXT;

CREATE TABLE subscriptions (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    modseq     INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);

INSERT INTO meta(key, value) VALUES ('last_uid_validity', 0) ON CONFLICT(key) DO NOTHING;
WITH wanted(ord, name, special_use) AS (
    VALUES (1, 'Sent', '\Sent'), (2, 'Drafts', '\Drafts'), (3, 'Trash', '\Trash'),
           (4, 'Junk', '\Junk'), (5, 'Archive', '\Archive')
), missing AS (
    SELECT a.id AS account_id, w.ord, w.name, w.special_use
    FROM accounts a CROSS JOIN wanted w
    WHERE NOT EXISTS
        (SELECT 1 FROM mailboxes m WHERE m.account_id = a.id AND m.name = w.name)
)
INSERT INTO mailboxes(account_id, name, uid_validity, uid_next, highest_modseq, special_use)
SELECT account_id, name,
       max(CAST(strftime('%s', 'now') AS INTEGER),
           (SELECT value FROM meta WHERE key = 'last_uid_validity') + 1)
           + row_number() OVER (ORDER BY account_id, ord) - 1,
       1, 1, special_use
FROM missing ORDER BY account_id, ord;
UPDATE meta SET value = max(value, (SELECT coalesce(max(uid_validity), 0) FROM mailboxes))
WHERE key = 'last_uid_validity';

WITH wanted(name) AS (
    VALUES ('INBOX'), ('Sent'), ('Drafts'), ('Trash'), ('Junk'), ('Archive')
)
INSERT OR IGNORE INTO subscriptions(account_id, name)
SELECT a.id, w.name FROM accounts a CROSS JOIN wanted w;
";

/// Version 5: per-account quotas (RFC 9208; NULL is unlimited) and each message's
/// summary, parsed once when it is filed so that FETCH ENVELOPE/BODYSTRUCTURE, SEARCH
/// and SORT need not re-read and re-parse the body (NULL until computed).
const MIGRATION_5: &str = r"
ALTER TABLE accounts ADD COLUMN quota_storage INTEGER;
ALTER TABLE accounts ADD COLUMN quota_messages INTEGER;
ALTER TABLE messages ADD COLUMN summary BLOB;
";

/// Version 6: IMAP sessions keep each mailbox's list in memory and move it forward
/// with what changed after the mod-sequence they last saw (RFC 7162 §3.1 gives every
/// change a new one); `messages_modseq` finds those messages without reading the
/// mailbox (`expunged_modseq` already does it for the expunged UIDs).
const MIGRATION_6: &str = r"
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
";

/// Version 7: app passwords (`postie user app-password`, used by
/// `super::app_passwords`): the id is the public part of the password, the hash
/// covers its secret part. Written out here, not shared with that module, so a
/// migration never changes once released.
const MIGRATION_7: &str = r"
CREATE TABLE app_passwords (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    id         TEXT NOT NULL UNIQUE,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used  INTEGER,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
";

/// Version 9: the `\Recent` flag (RFC 3501 §2.3.2) is owned by the first session
/// that selects a mailbox after a message arrives: `recent_uid` is the highest UID
/// claimed so far (see `Store::mailbox_recent_claim`). Mailboxes that exist already
/// start with everything claimed, so an upgrade does not make old mail recent.
const MIGRATION_9: &str = r"
ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET recent_uid = uid_next - 1 WHERE uid_next > 1;
";

/// Version 10: IMAP access control lists (RFC 4314, see `super::acl`): one row per
/// mailbox and grantee, `grantee_id` NULL for `anyone`. The owner is never stored.
/// Rows go with their mailbox and with the grantee's account (ON DELETE CASCADE, so
/// also when the owner's account takes its mailboxes with it); a rename keeps them
/// (by id). The unique index allows one `anyone` row per mailbox (account ids are
/// positive, so 0 never clashes); `mailbox_acl_grantee` finds an account's entries.
const MIGRATION_10: &str = r"
CREATE TABLE mailbox_acl (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    grantee_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    rights     TEXT NOT NULL
);
CREATE UNIQUE INDEX mailbox_acl_entry ON mailbox_acl(mailbox_id, coalesce(grantee_id, 0));
CREATE INDEX mailbox_acl_grantee ON mailbox_acl(grantee_id);
";

/// Version 11: queue claims (`Store::queue_claim`, see `super::queue`): the node
/// working on an entry and when its lease expires, both NULL when nobody holds it.
/// A runner claims only entries with no live lease, so several nodes (or processes)
/// share one queue without attempting a message twice at once; a dead node's entries
/// wait until its lease expires. Entries carried over start unclaimed.
const MIGRATION_11: &str = r"
ALTER TABLE queue ADD COLUMN lease_node TEXT;
ALTER TABLE queue ADD COLUMN lease_until INTEGER;
";

/// Version 12: POP3 maildrop locks (`Store::maildrop_lock`, see `super::maildrop`):
/// one row per locked mailbox, the session holding it and when its lease expires, so
/// POP3's one-session-per-maildrop (RFC 1939 §8) holds across nodes and processes. A
/// row goes with its mailbox; a dead node's rows stay until their lease expires and
/// are then taken over (or dropped by the next unlock). Existing mailboxes start
/// unlocked.
const MIGRATION_12: &str = r"
CREATE TABLE maildrop_locks (
    mailbox_id  INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    holder      TEXT NOT NULL,
    lease_until INTEGER NOT NULL
);
";

/// Version 13: accounts get a display name (NULL: none) and an administrator flag
/// (`Store::account_set_admin`; existing accounts are not administrators), and the
/// HTTP API's tokens (`super::api_tokens`) get a table: server-wide, so no account
/// column, name and id each unique, `hash` the SHA-256 of the secret
/// (`crate::api_token::hash_secret`).
const MIGRATION_13: &str = r"
ALTER TABLE accounts ADD COLUMN display_name TEXT NULL;
ALTER TABLE accounts ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
CREATE TABLE api_tokens (
    name       TEXT NOT NULL UNIQUE,
    id         TEXT NOT NULL UNIQUE,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used  INTEGER
);
";

/// Version 14: the server's own small values (`Store::value_put`, see `super::values`:
/// ACME certificates, SCRAM keys, MTA-STS policies, TLS-RPT results) and named leases
/// (`Store::lease_take`: the one node renewing certificates), each keyed by a name.
const MIGRATION_14: &str = r"
CREATE TABLE server_values (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    lease_until INTEGER NOT NULL
);
";

/// Version 15: a queue entry remembers that its sender asked for REQUIRETLS (RFC 8689;
/// `Envelope::require_tls`). Entries carried over did not.
const MIGRATION_15: &str = r"
ALTER TABLE queue ADD COLUMN require_tls INTEGER NOT NULL DEFAULT 0;
";

/// Version 16: small message bodies inside the database (`super::inline_blobs`),
/// committed with the rows that name them, so a batch of messages costs one fsync.
/// Bodies written before stay files and read as before.
const MIGRATION_16: &str = r"
CREATE TABLE inline_blobs (
    id   TEXT PRIMARY KEY,
    body BLOB NOT NULL
);
";

/// Version 17: each mailbox keeps the count and total size of its messages
/// (`used_messages`, `used_octets`), kept by triggers on every insert, delete and move
/// of a message row, however it happens (filing, APPEND, COPY, EXPUNGE, a mailbox
/// deleted or renamed). A quota check then adds up the account's few mailbox rows
/// instead of reading every message it holds, on the writer thread, for each filing.
/// Existing mailboxes are counted once here.
const MIGRATION_17: &str = r"
ALTER TABLE mailboxes ADD COLUMN used_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN used_octets INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET
    used_messages = (SELECT count(*) FROM messages WHERE mailbox_id = mailboxes.id),
    used_octets = (SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = mailboxes.id);
CREATE TRIGGER messages_usage_insert AFTER INSERT ON messages BEGIN
    UPDATE mailboxes SET used_messages = used_messages + 1, used_octets = used_octets + NEW.size
    WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER messages_usage_delete AFTER DELETE ON messages BEGIN
    UPDATE mailboxes SET used_messages = used_messages - 1, used_octets = used_octets - OLD.size
    WHERE id = OLD.mailbox_id;
END;
CREATE TRIGGER messages_usage_update AFTER UPDATE OF mailbox_id, size ON messages BEGIN
    UPDATE mailboxes SET used_messages = used_messages - 1, used_octets = used_octets - OLD.size
    WHERE id = OLD.mailbox_id;
    UPDATE mailboxes SET used_messages = used_messages + 1, used_octets = used_octets + NEW.size
    WHERE id = NEW.mailbox_id;
END;
";

/// One migration: SQL, or Rust code for a change SQL cannot express.
enum Migration {
    /// Statements run as one batch.
    Sql(&'static str),
    /// A function over the connection (inside the migration transaction).
    Code(fn(&Connection) -> Result<()>),
}

/// Every migration, in order: entry `i` takes the schema from version `i` to `i + 1`.
///
/// Version 8 re-keys domains, accounts and aliases to the A-label form of their domain
/// (IDNA, RFC 5890), which only Rust code can compute: see `super::idn_keys`.
const MIGRATIONS: &[Migration] = &[
    Migration::Sql(MIGRATION_1),
    Migration::Sql(MIGRATION_2),
    Migration::Sql(MIGRATION_3),
    Migration::Sql(MIGRATION_4),
    Migration::Sql(MIGRATION_5),
    Migration::Sql(MIGRATION_6),
    Migration::Sql(MIGRATION_7),
    Migration::Code(super::idn_keys::migrate),
    Migration::Sql(MIGRATION_9),
    Migration::Sql(MIGRATION_10),
    Migration::Sql(MIGRATION_11),
    Migration::Sql(MIGRATION_12),
    Migration::Sql(MIGRATION_13),
    Migration::Sql(MIGRATION_14),
    Migration::Sql(MIGRATION_15),
    Migration::Sql(MIGRATION_16),
    Migration::Sql(MIGRATION_17),
];

impl Migration {
    /// Applies this migration to `conn`.
    fn apply(&self, conn: &Connection) -> Result<()> {
        match self {
            Migration::Sql(sql) => Ok(conn.execute_batch(sql)?),
            Migration::Code(step) => step(conn),
        }
    }
}

/// Applies the settings every connection shares.
fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // journal_mode answers with the mode now in force; anything else than WAL (e.g. a
    // file system without shared memory) would break concurrent readers: refuse it.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Io(format!(
            "database refused WAL journal mode (got {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Opens (creating if needed) the database for writing and brings its schema up to
/// [`SCHEMA_VERSION`].
pub(crate) fn open_writer(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    migrate(&conn)?;
    Ok(conn)
}

/// Creates a database at `path` as an older Postie would have left it: the migrations up
/// to `version` only, with `user_version` set to it. For migration tests.
#[cfg(test)]
pub(crate) fn create_at_version(path: &Path, version: i64) -> Result<Connection> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    for migration in MIGRATIONS.iter().take(version as usize) {
        migration.apply(&conn)?;
    }
    conn.pragma_update(None, "user_version", version)?;
    Ok(conn)
}

/// Opens a connection that only reads (`query_only`), for the reader pool.
pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(conn)
}

/// Reads `PRAGMA user_version`.
fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Runs the migrations the database still lacks, all in one transaction.
fn migrate(conn: &Connection) -> Result<()> {
    // Cheap check first, without taking the write lock.
    let seen = user_version(conn)?;
    if seen == SCHEMA_VERSION {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = migrate_locked(conn);
    match result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(_) => {
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "rollback of a failed migration failed");
            }
        }
    }
    result
}

/// The body of [`migrate`], run while holding the write lock.
fn migrate_locked(conn: &Connection) -> Result<()> {
    // Re-read: another process may have migrated while we waited for the lock.
    let version = user_version(conn)?;
    if !(0..=SCHEMA_VERSION).contains(&version) {
        return Err(StoreError::Invalid(format!(
            "database schema version {version} is not one this Postie knows \
             (at most {SCHEMA_VERSION}); refusing to touch it"
        )));
    }
    for (from, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tracing::debug!(from, to = from + 1, "migrating database schema");
        migration.apply(conn)?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    // One line, not one per step: a first start is not news seven times over.
    if version == 0 {
        tracing::info!(version = SCHEMA_VERSION, "created the database");
    } else {
        tracing::info!(
            from = version,
            to = SCHEMA_VERSION,
            "migrated the database schema"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_then_reopens_and_refuses_newer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let conn = open_writer(&path).expect("open");
        assert_eq!(user_version(&conn).expect("version"), SCHEMA_VERSION);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("sync");
        assert_eq!(sync, 2, "synchronous=FULL");
        drop(conn);
        // Reopening is a no-op migration.
        let conn = open_writer(&path).expect("reopen");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
        drop(conn);
        assert!(matches!(open_writer(&path), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn readers_cannot_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let _w = open_writer(&path).expect("open");
        let r = open_reader(&path).expect("reader");
        assert!(
            r.execute("INSERT INTO domains(name) VALUES ('x')", [])
                .is_err()
        );
    }
}
