//! Storage for everything Postie keeps: domains, accounts, aliases, mailboxes, messages,
//! and the durable queue, behind the [`Store`] trait.
//!
//! The trait, [`StoreError`], [`Result`] and the data types live in the `store-api`
//! crate (no I/O, no tokio, so the sans-I/O crates can name them); this crate
//! re-exports all of it, so `store::Store`, `store::Mailbox`, ... are those items, and
//! adds the backends and the password helpers.
//!
//! Where it sits: below the SMTP driver (which asks "is this a local user?" and
//! "is this password right?"), the queue (which enqueues accepted mail and records
//! delivery outcomes) and local delivery (which files messages into mailboxes). POP3 and
//! IMAP read mailboxes through the same trait; IMAP also manages mailboxes, flags with
//! CONDSTORE mod-sequences (RFC 7162), APPEND/COPY/MOVE/EXPUNGE and subscriptions.
//!
//! Backends:
//! - [`sqlite::SqliteStore`], the embedded default: one SQLite database in WAL mode
//!   plus message bodies as files, written and fsynced before the row that names them is
//!   committed. All writes go through one writer thread that commits whatever is waiting
//!   in one transaction (group commit), so many sessions share one fsync.
//! - [`memory::MemoryStore`], an in-memory fake with the same behaviour, for unit tests.
//!
//! [`open()`] picks the backend from the configuration (today always SQLite in
//! `data_dir`); the server and the CLI open the store only through it.
//!
//! Invariants every backend keeps:
//! - `enqueue` returns only once body and envelope are on stable storage.
//! - `deliver_to_mailbox` is atomic and idempotent per (queue id, recipient): the message
//!   is filed and the recipient marked done in one step, so a crash and a retry never
//!   file a message twice.
//! - UIDs in a mailbox ascend and are never reused; UIDVALIDITY is never handed out twice
//!   (RFC 3501 §2.3.1.1); HIGHESTMODSEQ only grows (RFC 7162 §3.1.1).
//! - A new account has INBOX plus `Sent`, `Drafts`, `Trash`, `Junk` and `Archive` with
//!   those special uses (RFC 6154), all subscribed.
//! - Passwords are stored only as argon2 hashes (see [`password`]); so are the secrets
//!   of app passwords (see [`app_password`]). API tokens are stored only as SHA-256
//!   hashes of their random secrets (see [`api_token`]).
//! - An address (normalized) is an account or an alias, never both; an alias always
//!   points to an existing account, so removing an account removes its aliases.
//!
//! Security stance: writes files under the data directory only; never logs passwords.

pub mod api_token;
pub mod app_password;
pub mod blob;
mod flags;
mod mailbox_names;
pub mod memory;
mod open;
pub mod password;
pub mod postgres;
mod queue_rows;
pub mod scram;
mod secret_form;
pub mod sqlite;
mod values;

#[cfg(test)]
mod suite;

pub use open::open;
pub use store_api::*;

use message::QueueId;

/// Checks a display name for `Store::account_set_display_name`: at most
/// [`MAX_DISPLAY_NAME`] bytes and no control characters (it is shown in web pages, API
/// answers and terminals, where a line break or an escape sequence could mislead), else
/// `Invalid`.
/// Every backend calls this, so they refuse the same names.
pub fn check_display_name(name: &str) -> Result<()> {
    if name.len() > MAX_DISPLAY_NAME {
        return Err(StoreError::Invalid(format!(
            "display name of {} bytes (at most {MAX_DISPLAY_NAME})",
            name.len()
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "display name holds a control character".to_string(),
        ));
    }
    Ok(())
}

/// How errors name a mailbox: `mailbox "INBOX" of alice@example.org`.
pub(crate) fn mailbox_label(name: &str, account: &str) -> String {
    format!("mailbox {name:?} of {account}")
}

/// The queue id an appended message is listed under ([`MessageMeta::queue_id`]): a
/// fresh one, as if it had just been queued, so every message has one.
pub(crate) fn arrival_id() -> QueueId {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    QueueId::generate(millis)
}
