//! The storage interface of Postie: the [`Store`] trait, its errors ([`StoreError`],
//! [`Result`]) and the plain data it passes in and out (accounts, mailboxes, messages,
//! queue entries, quotas, ACLs, app passwords), without any backend.
//!
//! Where it sits: between the parts of Postie that keep or read mail and the backends
//! that keep it. The `store` crate implements the trait (SQLite and in-memory) and
//! re-exports everything here, so `store::Store` and friends are these items; the
//! sans-I/O crates (`imap`'s session in particular) name the trait and its types from
//! here without depending on `store`'s backends, rusqlite or tokio.
//!
//! The invariants every backend keeps are listed in the `store` crate's documentation
//! and on each method below.
//!
//! Security stance: no I/O, no tokio, nothing but the interface; depends only on
//! `message`, `async-trait` and `thiserror` (a test below checks that). The one
//! exception is the optional `rusqlite` feature, off by default and turned on only by
//! `store`: it adds `From<rusqlite::Error> for StoreError`, which the orphan rule keeps
//! out of `store` itself.

mod api_token;
mod app_password;
mod dkim_key;
mod types;

pub use api_token::ApiToken;
pub use app_password::AppPassword;
pub use dkim_key::DkimKey;
pub use types::*;

use async_trait::async_trait;
use message::{Address, Domain, Envelope, QueueId};

/// Everything that can go wrong in a store. Callers map these to protocol replies
/// (a temporary 451/421 for I/O trouble), never showing the details to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Disk or database failure.
    #[error("storage I/O error: {0}")]
    Io(String),
    /// The thing named does not exist (domain, account, mailbox, message, queue entry).
    #[error("not found: {0}")]
    NotFound(String),
    /// The thing being created already exists.
    #[error("already exists: {0}")]
    Exists(String),
    /// A request that makes no sense (e.g. an account in a domain we don't serve).
    #[error("invalid: {0}")]
    Invalid(String),
    /// Data read back from disk failed validation; the record is set aside.
    #[error("damaged record: {0}")]
    Damaged(String),
    /// Filing the message(s) would take the account past one of its [`Quota`] limits;
    /// nothing was written (IMAP `NO [OVERQUOTA]`, RFC 9208 §4.3.1; SMTP 4.2.2).
    #[error("over quota: {0}")]
    OverQuota(String),
}

impl StoreError {
    /// `NotFound` for a mailbox id with no mailbox (any more: deleted while in use),
    /// for backends. Errors name mailboxes by name (`mailbox "INBOX" of
    /// alice@example.org`); a row id would mean nothing to the person reading it, so a
    /// mailbox that is gone has no number either.
    pub fn mailbox_gone() -> StoreError {
        StoreError::NotFound("the mailbox (it was deleted)".into())
    }

    /// `NotFound` for an account id with no account (any more), by the same rule; for
    /// backends.
    pub fn account_gone() -> StoreError {
        StoreError::NotFound("the account (it was deleted)".into())
    }
}

/// A database error of the SQLite backend (`store::sqlite`) is an I/O error, so `?`
/// converts it there. Behind the `rusqlite` feature, which only `store` turns on: the
/// orphan rule lets only this crate (or rusqlite) write the impl.
#[cfg(feature = "rusqlite")]
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Io(format!("database: {e}"))
    }
}

/// The longest display name an account may have, in bytes.
pub const MAX_DISPLAY_NAME: usize = 200;

/// Shorthand for store results.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The storage every part of Postie uses. All methods are safe to call concurrently.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- domains -------------------------------------------------------------------

    /// Adds a local domain. `Exists` when it already is one.
    async fn domain_add(&self, domain: &Domain) -> Result<()>;
    /// Removes a local domain; `Invalid` while it still has accounts or aliases,
    /// `NotFound` if absent.
    async fn domain_remove(&self, domain: &Domain) -> Result<()>;
    /// All local domains, sorted.
    async fn domain_list(&self) -> Result<Vec<Domain>>;
    /// True when mail for `domain` is delivered here.
    async fn domain_is_local(&self, domain: &Domain) -> Result<bool>;

    // ---- accounts ------------------------------------------------------------------

    /// Creates an account with its INBOX and the special-use mailboxes (`Sent`,
    /// `Drafts`, `Trash`, `Junk`, `Archive`, RFC 6154), all subscribed. The domain must
    /// be local (`Invalid` otherwise); `Exists` if the address is taken by an account or
    /// an alias. `password_hash` comes from `store::password::hash`.
    async fn account_add(&self, address: &Address, password_hash: &str) -> Result<AccountId>;
    /// Replaces an account's password hash.
    async fn account_set_password(&self, address: &Address, password_hash: &str) -> Result<()>;
    /// Deletes an account, its mailboxes and messages, and every alias pointing to it.
    async fn account_remove(&self, address: &Address) -> Result<()>;
    /// All accounts, sorted by address.
    async fn account_list(&self) -> Result<Vec<Account>>;
    /// Looks an account up by address (case-insensitive).
    async fn account_get(&self, address: &Address) -> Result<Option<Account>>;
    /// Sets or clears the account's administrator flag; `NotFound` for an unknown
    /// account.
    async fn account_set_admin(&self, address: &Address, admin: bool) -> Result<()>;
    /// Sets (or with `None` clears) the account's display name; `NotFound` for an
    /// unknown account; `Invalid` for a name longer than
    /// [`MAX_DISPLAY_NAME`] bytes or holding a control character.
    async fn account_set_display_name(&self, address: &Address, name: Option<&str>) -> Result<()>;

    // ---- quotas (RFC 9208) -----------------------------------------------------------
    //
    // Usage counts every message in every mailbox of the account at its RFC822.SIZE.
    // Whatever files mail checks the limits in the same atomic step that files it:
    // `message_append`, `message_copy`, `deliver_to_mailbox` and the filings of
    // `enqueue_and_file` refuse with `OverQuota` (nothing written) when the new
    // messages would take usage past a limit; `message_move` within the account never
    // adds, so it is never refused. Lowering a limit below the usage removes nothing.

    /// Sets the account's limits (both at once; `None` is unlimited). `NotFound` for an
    /// unknown account; `Invalid` for a limit too large to store (above `i64::MAX`).
    async fn quota_set(&self, address: &Address, quota: Quota) -> Result<()>;
    /// The account's limits; `NotFound` for an unknown account.
    async fn quota_get(&self, account: AccountId) -> Result<Quota>;
    /// What the account uses (one indexed aggregate, however many messages);
    /// `NotFound` for an unknown account.
    async fn quota_usage(&self, account: AccountId) -> Result<QuotaUsage>;
    /// True when the account cannot take even one more message (SMTP RCPT's
    /// "452 4.2.2 Mailbox full"). Reads usage only when a limit is set.
    async fn quota_full(&self, account: AccountId) -> Result<bool> {
        let quota = self.quota_get(account).await?;
        if quota.is_unlimited() {
            return Ok(false);
        }
        Ok(quota.is_full(&self.quota_usage(account).await?))
    }

    // ---- aliases -------------------------------------------------------------------

    /// Adds an alias: mail for `alias` (in a local domain) is delivered to the account
    /// `target`. `Invalid` if alias's domain is not local, or target is not an existing
    /// account (an alias cannot point to another alias); `Exists` if the alias address is
    /// already an alias or an account. Both addresses compare case-insensitively; the
    /// alias is kept as written, for display.
    async fn alias_add(&self, alias: &Address, target: &Address) -> Result<()>;
    /// Removes an alias (case-insensitive); `NotFound` if absent.
    async fn alias_remove(&self, alias: &Address) -> Result<()>;
    /// All aliases as (alias as added, target account's address), sorted by the alias's
    /// normalized form.
    async fn alias_list(&self) -> Result<Vec<(Address, Address)>>;
    /// The account mail for `address` goes to: the account itself when one exists, else
    /// the account an alias points to, else None. Case-insensitive like `account_get`.
    async fn resolve_recipient(&self, address: &Address) -> Result<Option<Account>>;

    // ---- app passwords (see `store::app_password`) ----------------------------------------
    //
    // Removing an account removes its app passwords.

    /// Adds an app password named `name` to the account, with its id and the argon2
    /// hash of its secret. `Exists` when the account has one by that name (or the id is
    /// taken); `NotFound` for an unknown account; `Invalid` for a name
    /// `store::app_password::valid_name` refuses.
    async fn app_password_add(
        &self,
        account: AccountId,
        name: &str,
        id: &str,
        hash: &str,
        created_at: i64,
    ) -> Result<()>;
    /// The account's app passwords, sorted by name; `NotFound` for an unknown account.
    async fn app_password_list(&self, account: AccountId) -> Result<Vec<AppPassword>>;
    /// The account's app password with this id, if any.
    async fn app_password_get(&self, account: AccountId, id: &str) -> Result<Option<AppPassword>>;
    /// Removes the account's app password named `name`; `NotFound` if there is none.
    async fn app_password_revoke(&self, account: AccountId, name: &str) -> Result<()>;
    /// Records a login with the app password `id` at `when` (unix seconds); an id that
    /// has meanwhile been revoked is ignored.
    async fn app_password_used(&self, account: AccountId, id: &str, when: i64) -> Result<()>;

    // ---- API tokens (see `store::api_token`) -----------------------------------------
    //
    // Server-wide bearer tokens for the HTTP API (`postie token create`); each acts as
    // an administrator. Stored as a hash of the secret, found by the id part.

    /// Adds a token. `Exists` when one has that name (or id); `Invalid` for a name
    /// `store::api_token::valid_name` refuses.
    async fn token_add(&self, token: &ApiToken) -> Result<()>;
    /// Every token, sorted by name.
    async fn token_list(&self) -> Result<Vec<ApiToken>>;
    /// The token with this id, if any.
    async fn token_get(&self, id: &str) -> Result<Option<ApiToken>>;
    /// Removes the token named `name`; `NotFound` if there is none.
    async fn token_revoke(&self, name: &str) -> Result<()>;
    /// Records a use of the token `id` at `when` (unix seconds); an unknown id is
    /// ignored.
    async fn token_used(&self, id: &str, when: i64) -> Result<()>;

    // ---- DKIM signing keys (stores several nodes share) ------------------------------
    //
    // With several nodes on one database, the DKIM keys live in the store, so a key
    // made on one node signs on every node. A store only one process uses (embedded,
    // in memory) keeps the defaults: it does not keep keys (`mailauth::KeyStore` keeps
    // them as files in the data directory), lists none and refuses the writes.
    // Domains are compared in their A-label form; the private key is never logged.

    /// True when DKIM keys live in this store (the methods below work) rather than in
    /// the data directory's files.
    fn keeps_dkim_keys(&self) -> bool {
        false
    }
    /// Stores a new key. `Exists` when the domain already has a key with that
    /// selector; `Invalid` when this store does not keep keys.
    async fn dkim_key_put(&self, key: &DkimKey) -> Result<()> {
        let _ = key;
        Err(StoreError::Invalid(
            "this store does not keep DKIM keys (they are files in the data directory)".into(),
        ))
    }
    /// The keys of `domain` (of every domain when `None`), by domain, then oldest first
    /// (by creation time, then selector). Empty when this store does not keep keys.
    async fn dkim_key_list(&self, domain: Option<&Domain>) -> Result<Vec<DkimKey>> {
        let _ = domain;
        Ok(Vec::new())
    }
    /// Removes one key; `NotFound` when there is none (`Invalid` when this store does
    /// not keep keys).
    async fn dkim_key_remove(&self, domain: &Domain, selector: &str) -> Result<()> {
        let _ = (domain, selector);
        Err(StoreError::Invalid(
            "this store does not keep DKIM keys (they are files in the data directory)".into(),
        ))
    }

    // ---- mailboxes and messages ----------------------------------------------------

    /// The account's mailboxes in creation order (INBOX first), with their UID and
    /// mod-sequence counters; `NotFound` for an unknown account.
    async fn mailbox_list(&self, account: AccountId) -> Result<Vec<Mailbox>>;
    /// The messages in one mailbox, by ascending UID.
    async fn message_list(&self, mailbox: MailboxId) -> Result<Vec<MessageMeta>>;
    /// The full message as delivered: the per-recipient prefix headers, then the body.
    async fn message_read(&self, mailbox: MailboxId, uid: u32) -> Result<Vec<u8>>;
    /// Removes messages by UID whatever their flags (POP3's DELE + QUIT); unknown UIDs
    /// are ignored. Atomic. Like an IMAP expunge it records the removed UIDs for
    /// [`Store::mailbox_expunged_since`] and bumps HIGHESTMODSEQ, so an IMAP session
    /// on the same mailbox learns of it.
    async fn message_remove(&self, mailbox: MailboxId, uids: &[u32]) -> Result<()>;

    // ---- IMAP: mailboxes -----------------------------------------------------------
    //
    // Names: `INBOX` matches case-insensitively and is always spelled `INBOX`; other
    // names match exactly. The hierarchy is by name with `/` as separator (`a/b` is a
    // child of `a`, which need not exist). A malformed name (empty, an empty level,
    // NUL/CR/LF) is `Invalid`.

    /// One of the account's mailboxes by name, `None` when it has no such mailbox.
    async fn mailbox_get(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>>;
    /// Creates a mailbox (RFC 3501 §6.3.3), with `special_use` as in RFC 6154's
    /// CREATE-SPECIAL-USE (`Invalid` for an attribute RFC 6154 §2 does not define).
    /// `Exists` when the account already has that name; `NotFound` for an unknown
    /// account. The new mailbox gets a UIDVALIDITY no mailbox of the store had before
    /// (so a re-created name never repeats one, RFC 3501 §2.3.1.1), UIDNEXT 1 and
    /// HIGHESTMODSEQ 1. Parents are not created: the hierarchy is by name.
    async fn mailbox_create(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<Mailbox>;
    /// Deletes a mailbox and its messages (RFC 3501 §6.3.4), releasing bodies no other
    /// message or queue entry needs. `Invalid` for INBOX; `NotFound` if absent.
    /// Children stay (the hierarchy is by name); subscriptions stay (RFC 3501 §6.3.6).
    /// Its [`MailboxId`] is never handed out again: a session still holding it gets
    /// `NotFound`, never another mailbox's messages.
    async fn mailbox_delete(&self, account: AccountId, name: &str) -> Result<()>;
    /// Renames `from` and every `from/...` child to `to` / `to/...`, keeping their
    /// UIDVALIDITY, messages and special use (RFC 3501 §6.3.5). `NotFound` when `from`
    /// does not exist; `Exists` when `to` (or a child's new name) does; `Invalid` when
    /// `to` is inside `from`'s own hierarchy. Renaming INBOX moves all its messages
    /// into a new mailbox `to` (new UIDVALIDITY, same UIDs) and leaves INBOX there,
    /// empty (its messages count as expunged); INBOX's children are not renamed.
    /// Subscriptions are by name and are not changed.
    async fn mailbox_rename(&self, account: AccountId, from: &str, to: &str) -> Result<()>;
    /// Adds (`true`) or removes (`false`) `name` in the account's subscription list
    /// (RFC 3501 §6.3.6). The name need not be an existing mailbox. Idempotent;
    /// `NotFound` for an unknown account.
    async fn mailbox_subscribe(
        &self,
        account: AccountId,
        name: &str,
        subscribed: bool,
    ) -> Result<()>;
    /// The account's subscription list, sorted (byte order); `NotFound` for an unknown
    /// account.
    async fn mailbox_subscriptions(&self, account: AccountId) -> Result<Vec<String>>;

    // ---- IMAP: messages ------------------------------------------------------------
    //
    // Every change to a mailbox's messages takes a new mod-sequence from the mailbox's
    // HIGHESTMODSEQ (RFC 7162 §3.1): each new or changed message gets its own new
    // value; an expunge takes one for all the messages it removes. Flags handed in are
    // checked and spelled as in [`ImapMessage::flags`] (`Invalid` for an unknown system
    // flag or a keyword that is not an IMAP atom; `\Recent` is dropped). An unknown
    // mailbox is `NotFound`; unknown UIDs are skipped.

    /// Every message of the mailbox with its flags and mod-sequence, by ascending UID.
    /// One query however large the mailbox (IMAP STATUS reads this).
    async fn message_list_imap(&self, mailbox: MailboxId) -> Result<Vec<ImapMessage>>;
    /// What changed in the mailbox after mod-sequence `since`, read in one consistent
    /// step with the mailbox's current record (IMAP sessions keep a list of the
    /// messages and move it forward with this instead of re-reading it): the messages
    /// whose mod-sequence is above `since` (new ones included, each change gives a
    /// message a new mod-sequence, RFC 7162 §3.1) and the UIDs expunged by changes
    /// above `since`. With `since` 0, or above the mailbox's HIGHESTMODSEQ (which never
    /// happens to a live mailbox), every message is listed and [`MailboxChanges::full`]
    /// is set. Nothing changed costs a few indexed look-ups however large the mailbox.
    async fn message_changes_since(&self, mailbox: MailboxId, since: u64)
    -> Result<MailboxChanges>;
    /// The stored summaries (opaque bytes, see [`Store::message_append_with`]) of the
    /// messages `uids`, by ascending UID: `None` for a message filed without one.
    /// Unknown UIDs are skipped; one range read for many UIDs.
    async fn message_summaries(
        &self,
        mailbox: MailboxId,
        uids: &[u32],
    ) -> Result<Vec<(u32, Option<Vec<u8>>)>>;
    /// Stores summaries computed after filing (a message filed without one, or whose
    /// stored one did not decode), one atomic step. Unknown UIDs are skipped. Not a
    /// change IMAP sees: no mod-sequence moves.
    async fn message_summaries_set(
        &self,
        mailbox: MailboxId,
        summaries: &[(u32, Vec<u8>)],
    ) -> Result<()>;
    /// Changes the flags of the messages `uids` in one atomic step (RFC 3501 §6.4.6).
    /// With `unchanged_since` (CONDSTORE's UNCHANGEDSINCE, RFC 7162 §3.1.3), messages
    /// whose mod-sequence is above it are left alone and listed in
    /// [`FlagsResult::modified`]. Each message whose flags really change gets the next
    /// mod-sequence and is listed, in its new state, in [`FlagsResult::changed`];
    /// a message the change leaves as it was keeps its mod-sequence.
    async fn message_flags_set(
        &self,
        mailbox: MailboxId,
        uids: &[u32],
        change: FlagChange,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsResult>;
    /// Adds a message (IMAP APPEND, RFC 3501 §6.3.11) with `flags` and INTERNALDATE
    /// `received_at`; returns its UID (for UIDPLUS APPENDUID, RFC 4315). Durable when
    /// it returns: the body is on stable storage before the row naming it commits.
    /// Same as [`Store::message_append_with`] without a summary.
    async fn message_append(
        &self,
        mailbox: MailboxId,
        body: &[u8],
        flags: &[String],
        received_at: i64,
    ) -> Result<u32> {
        self.message_append_with(mailbox, body, flags, received_at, None)
            .await
    }
    /// [`Store::message_append`] with the message's `summary`: what the IMAP layer
    /// parsed from it once (ENVELOPE, BODYSTRUCTURE, SEARCH and SORT keys), kept as
    /// opaque bytes beside it, copied with it by COPY/MOVE, read back by
    /// [`Store::message_summaries`].
    async fn message_append_with(
        &self,
        mailbox: MailboxId,
        body: &[u8],
        flags: &[String],
        received_at: i64,
        summary: Option<&[u8]>,
    ) -> Result<u32>;
    /// Adds several messages to one mailbox in one atomic step, all or none
    /// (MULTIAPPEND, RFC 3502 §6.3.11): each as [`Store::message_append_with`] would,
    /// in order, with consecutive UIDs and a mod-sequence each; returns their UIDs.
    /// The account's quota must take them all together (`OverQuota`, nothing stored);
    /// any refusal (an unknown mailbox `NotFound`, a bad flag `Invalid`, a failed write)
    /// leaves no message behind, and no other reader ever sees a part of them. Durable
    /// when it returns: every body is on stable storage before the rows commit. An
    /// empty list stores nothing.
    async fn message_append_many(
        &self,
        mailbox: MailboxId,
        messages: &[NewMessage<'_>],
    ) -> Result<Vec<u32>>;
    /// Copies messages to `to` (RFC 3501 §6.4.7) with their flags and INTERNALDATE,
    /// sharing the stored body. Returns (source UID, new UID) pairs by ascending source
    /// UID (UIDPLUS COPYUID, RFC 4315 §3). The mailboxes may belong to two accounts
    /// (a mailbox shared with ACL, RFC 4314): the copies count against `to`'s
    /// account's quota, `OverQuota` and nothing copied when it cannot take them.
    async fn message_copy(
        &self,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Vec<(u32, u32)>>;
    /// [`Store::message_copy`], then removes the originals as an expunge would, all in
    /// one atomic step (MOVE, RFC 6851 §3.3). Within one account the usage does not
    /// change and the quota is not checked; into another account's mailbox its quota
    /// is, as for a copy.
    async fn message_move(
        &self,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Vec<(u32, u32)>>;
    /// Removes the messages flagged `\Deleted` (RFC 3501 §6.4.3), only among `uids`
    /// when given (UID EXPUNGE, RFC 4315 §2.1). Returns the removed UIDs ascending;
    /// records them for [`Store::mailbox_expunged_since`]; releases bodies no longer
    /// needed.
    async fn message_expunge(&self, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<Vec<u32>>;
    /// The UIDs removed from the mailbox by a change whose mod-sequence is above
    /// `modseq`, ascending (QRESYNC's VANISHED (EARLIER), RFC 7162 §3.2.10).
    async fn mailbox_expunged_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Vec<u32>>;
    /// Claims the `\Recent` flag (RFC 3501 §2.3.2) of the messages up to UID `up_to`
    /// for the calling session, in one atomic step: raises [`Mailbox::recent_uid`] to
    /// `up_to` (never lowers it, never past the highest UID handed out) and returns the
    /// value it had. The caller's recent messages are those above the returned value
    /// and up to `up_to`; no other caller ever gets them (Dovecot's model: the first
    /// session told of a message owns its `\Recent`). Not a change IMAP sees: no
    /// mod-sequence moves. `NotFound` for an unknown mailbox.
    async fn mailbox_recent_claim(&self, mailbox: MailboxId, up_to: u32) -> Result<u32>;

    // ---- IMAP: access control (RFC 4314) -------------------------------------------
    //
    // A mailbox's owner always has every right and is never stored. The entries here
    // are for other accounts and `anyone`; rights are RFC 4314 §2.1 letters, kept as
    // given (the caller normalises them). An account's effective rights on a mailbox
    // are its own entry's and `anyone`'s together (no negative rights).

    /// Sets `grantee`'s rights on `mailbox` (RFC 4314 §3.1 SETACL), replacing any it
    /// had; empty `rights` remove the entry (§3.2 DELETEACL). `NotFound` for an
    /// unknown mailbox or grantee account.
    async fn acl_set(&self, mailbox: MailboxId, grantee: Grantee, rights: &str) -> Result<()>;
    /// The stored entries of `mailbox` (GETACL without the owner): `anyone` first,
    /// then accounts by address. `NotFound` for an unknown mailbox.
    async fn acl_list(&self, mailbox: MailboxId) -> Result<Vec<AclEntry>>;
    /// The mailboxes of other accounts that have an entry for `account` or `anyone`,
    /// with the rights `account` has there; ordered by owner address, then as
    /// [`Store::mailbox_list`] orders each owner's mailboxes. Deleting a mailbox or
    /// the grantee's account removes its entries.
    async fn acl_shared_with(&self, account: AccountId) -> Result<Vec<SharedMailbox>>;

    // ---- queue ---------------------------------------------------------------------

    /// Durably stores a message and its envelope under `id`, all recipients pending.
    /// Returns only after both are on stable storage (group-committed with other callers).
    async fn enqueue(&self, id: QueueId, envelope: &Envelope, body: &[u8]) -> Result<()>;
    /// Like [`Store::enqueue`], and files the message for the local recipients in
    /// `filings` as [`Store::deliver_to_mailbox`] would, all in one atomic step: when it
    /// returns, the message is both queued and in those INBOXes, or neither. Returns the
    /// recipient indexes filed, in `filings` order: a filing its account's quota cannot
    /// take is skipped and stays pending, like the recipients not in `filings`, for the
    /// queue (which retries it). The default runs the steps one after the other (enough
    /// for the in-memory fake, which has no crashes to survive).
    async fn enqueue_and_file(
        &self,
        id: QueueId,
        envelope: &Envelope,
        body: &[u8],
        filings: &[Filing],
    ) -> Result<Vec<usize>> {
        self.enqueue(id, envelope, body).await?;
        let mut filed = Vec::with_capacity(filings.len());
        for f in filings {
            match self
                .deliver_to_mailbox(id, f.recipient, f.account, &f.prefix)
                .await
            {
                Ok(uid) => {
                    filed.push(f.recipient);
                    if let (Some(uid), Some(summary)) = (uid, &f.summary)
                        && let Some(inbox) = self.mailbox_get(f.account, "INBOX").await?
                    {
                        self.message_summaries_set(inbox.id, &[(uid, summary.clone())])
                            .await?;
                    }
                }
                Err(StoreError::OverQuota(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filed)
    }
    /// Like [`Store::enqueue_and_file`], but the filings go into each account's Junk
    /// mailbox (the one with special use `\Junk`, RFC 6154; INBOX when it has none):
    /// mail that DMARC quarantines (RFC 7489 §6.6.4). Recipients left for the queue
    /// (not in `filings`, or over quota) are filed into INBOX later, like any mail.
    async fn enqueue_and_file_junk(
        &self,
        id: QueueId,
        envelope: &Envelope,
        body: &[u8],
        filings: &[Filing],
    ) -> Result<Vec<usize>>;
    /// Queue entries with at least one pending recipient whose next attempt is due at or
    /// before `now_unix`, oldest first, at most `limit`.
    async fn queue_due(&self, now_unix: i64, limit: usize) -> Result<Vec<QueuedMessage>>;
    /// The ids of what [`Store::queue_due`] would return, without loading the entries.
    /// Leases are not looked at: the queue runner takes its work with
    /// [`Store::queue_claim`] instead.
    async fn queue_due_ids(&self, now_unix: i64, limit: usize) -> Result<Vec<QueueId>> {
        Ok(self
            .queue_due(now_unix, limit)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect())
    }

    // ---- queue claims: who works on what ---------------------------------------------
    //
    // Several queue runners (several nodes on one database, or a second process) share
    // one queue. A runner attempts only the entries it has claimed: a claim sets the
    // entry's lease, a (node, expiry) pair, and no other node can claim the entry while
    // that lease is live (its expiry is after the `now_unix` the other node asks with).
    // A node renews its leases while its attempts are under way and releases each when
    // the attempt is over; a node that dies simply stops renewing, and its entries
    // become claimable by the others once its leases expire. Every backend keeps this
    // contract: the claim's read and write are one atomic step (SQLite: one write
    // transaction; in memory: one lock; PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`
    // and the `UPDATE` in one transaction), so two claimers racing never both get an
    // entry. Node names are opaque strings chosen by the caller, unique per running
    // runner. Leases change nothing else: `queue_due` and `queue_list` still show
    // leased entries, and `queue_hold`, `queue_flush`, `queue_mark`, `queue_delete`
    // work on them as on any other.

    /// Claims for `node`, in one atomic step, up to `limit` of the entries
    /// [`Store::queue_due`] would return at `now_unix` (not held, a pending recipient due
    /// at or before `now_unix`), in its order, skipping those under another node's live
    /// lease: an entry is claimable when it has no lease, when its lease expired
    /// (`lease_until <= now_unix`), or when the lease is already `node`'s. Every entry
    /// returned now carries the lease (`node`, `lease_until`). An entry with nothing
    /// pending (finished, waiting for collection) is never claimed.
    async fn queue_claim(
        &self,
        node: &str,
        now_unix: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<QueueId>>;
    /// Extends to `lease_until` the leases `node` still holds among `ids`, and returns
    /// those ids (in `ids` order): an id missing from the answer is no longer `node`'s
    /// (another node claimed it after the lease expired, or the entry is gone), so
    /// its attempt may be running twice. A lease that expired but that no other node
    /// has claimed since is still `node`'s and is extended.
    async fn queue_renew(
        &self,
        node: &str,
        ids: &[QueueId],
        lease_until: i64,
    ) -> Result<Vec<QueueId>>;
    /// Drops the lease on `id` if it is `node`'s, so any node may claim the entry
    /// again (when it is due). Another node's lease, no lease, or no such entry: nothing
    /// happens, and that is not an error (the entry may have been collected).
    async fn queue_release(&self, node: &str, id: QueueId) -> Result<()>;

    // ---- POP3 maildrop locks: one session per maildrop, across nodes -----------------
    //
    // RFC 1939 §8 gives a POP3 session an exclusive lock on its maildrop. With several
    // nodes (or processes) on one database that lock lives in the store, as a lease: a
    // (holder, expiry) pair on the mailbox. A holder is an opaque string chosen by the
    // caller, unique per session (node and session). The session renews its lease
    // while it lives and unlocks at its end; a node that dies simply stops renewing,
    // and the maildrop is free once the lease expires (`until_unix <= now_unix`).
    // Every backend keeps this contract: the check and the set are one atomic step
    // (SQLite: one write transaction; in memory: one lock; PostgreSQL: one
    // `INSERT … ON CONFLICT DO UPDATE … WHERE` or a `SELECT … FOR UPDATE` and the write
    // in one transaction), so two sessions racing never both get the maildrop.
    // Deleting the mailbox (or its account) drops its lock. The lock only guards
    // POP3 against POP3: IMAP and deliveries work on a locked mailbox as on any other.

    /// Takes or extends the maildrop lock on `mailbox` for `holder` until `until_unix`:
    /// true when the mailbox was free (no lock, or one that expired at or before
    /// `now_unix`) or already `holder`'s (its lease is now extended); false, changing
    /// nothing, when another holder's lease is live. An unknown mailbox is `NotFound`.
    async fn maildrop_lock(
        &self,
        mailbox: MailboxId,
        holder: &str,
        now_unix: i64,
        until_unix: i64,
    ) -> Result<bool>;
    /// Drops the maildrop lock on `mailbox` if it is `holder`'s. Another holder's lock,
    /// no lock, or no such mailbox: nothing happens, and that is not an error (the
    /// mailbox may have been deleted during the session).
    async fn maildrop_unlock(&self, mailbox: MailboxId, holder: &str) -> Result<()>;

    /// Every queue entry (for `postie queue list`), oldest first.
    async fn queue_list(&self) -> Result<Vec<QueuedMessage>>;
    /// One queue entry, `None` when there is none with that id.
    async fn queue_get(&self, id: QueueId) -> Result<Option<QueuedMessage>>;
    /// The queued message's body bytes.
    async fn queue_body(&self, id: QueueId) -> Result<Vec<u8>>;
    /// Holds (`true`) or releases (`false`) an entry; a held entry is never due.
    /// `NotFound` when there is no such entry.
    async fn queue_hold(&self, id: QueueId, held: bool) -> Result<()>;
    /// Makes pending recipients due at `now_unix`: those of entry `id` when given, else
    /// those in `domain` when given, else all. Held entries stay held. Returns how many
    /// recipients were made due.
    async fn queue_flush(
        &self,
        id: Option<QueueId>,
        domain: Option<&Domain>,
        now_unix: i64,
    ) -> Result<usize>;
    /// Removes an entry whatever its recipients' state (`postie queue delete`),
    /// releasing its body unless a mailbox shares it. `NotFound` when there is none.
    async fn queue_delete(&self, id: QueueId) -> Result<()>;
    /// Records that the entry's delay warning has been sent.
    async fn queue_set_warned(&self, id: QueueId) -> Result<()>;
    /// Files the queued message into `account`'s INBOX for recipient number `recipient`
    /// with `prefix` (e.g. `Return-Path:`/`Delivered-To:` lines) before the body, and marks
    /// that recipient delivered, in one atomic step. If the recipient is already marked
    /// done, does nothing and returns `Ok(None)`; otherwise the new message's UID.
    /// `OverQuota` (recipient left pending) when the account's quota cannot take it.
    async fn deliver_to_mailbox(
        &self,
        id: QueueId,
        recipient: usize,
        account: AccountId,
        prefix: &[u8],
    ) -> Result<Option<u32>>;
    /// Records a non-delivery outcome for one recipient: `Failed` is final, `Deferred`
    /// sets the next attempt time and counts an attempt.
    async fn queue_mark(
        &self,
        id: QueueId,
        recipient: usize,
        outcome: &RecipientOutcome,
    ) -> Result<()>;
    /// Removes queue entries none of whose recipients is still pending, releasing bodies
    /// no mailbox references. Returns how many entries were removed.
    async fn queue_collect(&self) -> Result<usize>;
    /// How many queue entries still have a pending recipient (held ones included;
    /// finished entries waiting for [`Store::queue_collect`] are not counted): the
    /// server's `postie_queue_messages` gauge, sampled every few seconds. One
    /// aggregate query over the pending recipients, no entry loaded.
    async fn queue_pending_count(&self) -> Result<u64>;

    // ---- shared counters: limits that hold across nodes --------------------------------
    //
    // The login-failure throttle and the hourly sending limits count in each node's
    // memory; with several nodes on one database they also count here, so an attacker
    // spreading attempts over N nodes meets the limits once, not N times. A counter is
    // named by an opaque `key` (at most [`COUNTER_KEY_MAX`] bytes, like
    // `login-ip:192.0.2.1`) and is the sum of *parts* (an opaque `part`, at most as
    // long, "" when the caller needs only one), so one part can be forgotten alone
    // (a successful login forgets that address's failures against that account).
    //
    // Counts are kept in fixed buckets of `max(1, window_secs / 60)` seconds: a total
    // "within the window" counts what was added in the last `window_secs` plus at most
    // one bucket before that (it never under-counts). Buckets older than their window
    // are deleted by the backend in bounded batches. A store only one process uses
    // (embedded, in memory) keeps the defaults: `None` without any I/O, meaning "not
    // shared: your own in-memory count is the whole count".

    /// True when this store keeps counters shared with other nodes (the methods below
    /// answer `Some`); callers skip them entirely when false.
    fn counters_shared(&self) -> bool {
        false
    }
    /// Adds `amount` at `now_unix` to the part `part` of counter `key`, and returns the
    /// counter's total (every part) within the last `window_secs` after adding. `None`:
    /// counters are not shared. `Invalid` for a key or part longer than
    /// [`COUNTER_KEY_MAX`].
    async fn counter_add(
        &self,
        key: &str,
        part: &str,
        amount: u64,
        window_secs: u64,
        now_unix: i64,
    ) -> Result<Option<u64>> {
        let _ = (key, part, amount, window_secs, now_unix);
        Ok(None)
    }
    /// The totals of several counters in one step: for each `(key, window_secs)`, its
    /// total (every part) within the last `window_secs` at `now_unix`, in order (0 for
    /// a counter never added to). `None`: counters are not shared.
    async fn counter_get(&self, keys: &[(&str, u64)], now_unix: i64) -> Result<Option<Vec<u64>>> {
        let _ = (keys, now_unix);
        Ok(None)
    }
    /// Forgets counter `key`'s part `part`, or every part when `None`. Nothing to
    /// forget is no error.
    async fn counter_clear(&self, key: &str, part: Option<&str>) -> Result<()> {
        let _ = (key, part);
        Ok(())
    }

    // ---- the server's own small values, and named leases ---------------------------
    //
    // What the server keeps for itself beyond mail and accounts: ACME certificates and
    // the ACME account key, SCRAM keys, cached MTA-STS policies, TLS-RPT results. A
    // value is opaque bytes (at most [`VALUE_MAX`]) under a key of at most
    // [`VALUE_KEY_MAX`] bytes; by convention the key starts with its owner
    // (`acme/`, `scram/`, `mta-sts/`, `tls-rpt/`). Every backend keeps them, so every
    // node on one database sees the same values. A lease names a job only one node
    // may do at a time (renewing certificates, sending TLS reports); it follows the
    // maildrop lock's contract: taking it is one atomic check-and-set.

    /// The value under `key`, `None` when there is none.
    async fn value_get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Puts `value` under `key`, replacing what was there. `Invalid` for a key longer
    /// than [`VALUE_KEY_MAX`] or a value longer than [`VALUE_MAX`].
    async fn value_put(&self, key: &str, value: &[u8]) -> Result<()>;
    /// Removes the value under `key`; no value is no error.
    async fn value_delete(&self, key: &str) -> Result<()>;
    /// Every value whose key starts with `prefix`, by key.
    async fn value_list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>>;
    /// Takes or extends the lease `name` for `holder` until `until_unix`: true when it
    /// was free (none, or expired at or before `now_unix`) or already `holder`'s; false,
    /// changing nothing, when another holder's lease is live.
    async fn lease_take(
        &self,
        name: &str,
        holder: &str,
        now_unix: i64,
        until_unix: i64,
    ) -> Result<bool>;
    /// Drops the lease `name` if it is `holder`'s; otherwise nothing happens.
    async fn lease_drop(&self, name: &str, holder: &str) -> Result<()>;

    // ---- change feed: telling the other nodes ------------------------------------------
    //
    // Within one process, changes travel by in-process broadcasts (the server's). With
    // several nodes on one database, a node also announces each change through the
    // store, and every other node hears it (PostgreSQL: NOTIFY / LISTEN) and wakes its
    // IDLE sessions or its queue runner. Notices are best effort and carry no data:
    // whoever hears one re-reads the store (IMAP by MODSEQ), so a lost notice costs
    // latency (the periodic polls catch up), never a wrong view. A store only one
    // process uses (embedded, in memory) keeps the defaults: nothing to tell.

    /// Tells the other nodes sharing this store that `change` happened here.
    async fn change_announce(&self, change: Change) -> Result<()> {
        let _ = change;
        Ok(())
    }
    /// Starts handing the changes *other* nodes announce to `sink` (from a background
    /// task, for as long as the store lives; it reconnects by itself). False when this
    /// store has no other nodes to hear (the default), true when listening started.
    fn change_listen(&self, sink: ChangeSink) -> bool {
        let _ = sink;
        false
    }
}

/// The longest key or part of a shared counter (see [`Store::counter_add`]), in bytes.
pub const COUNTER_KEY_MAX: usize = 256;

/// The longest key of a stored value (see [`Store::value_put`]) or lease, in bytes.
pub const VALUE_KEY_MAX: usize = 256;

/// The longest stored value (see [`Store::value_put`]), in bytes: certificate chains and
/// a day's TLS results fit many times over.
pub const VALUE_MAX: usize = 1024 * 1024;

/// What a change notice says (see [`Store::change_announce`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Something in this account's mailboxes changed (new mail, flags, expunges,
    /// mailboxes, subscriptions).
    Mailboxes(AccountId),
    /// The queue has new or newly due work.
    Queue,
}

/// Where [`Store::change_listen`] hands the changes it hears.
pub type ChangeSink = std::sync::Arc<dyn Fn(Change) + Send + Sync>;

#[cfg(test)]
mod tests {
    /// The interface stays pure: no backend, no runtime, no I/O crate may creep into
    /// its dependencies (the sans-I/O crates depend on it). The only optional one is
    /// rusqlite, for `store`'s `From` impl, behind the `rusqlite` feature.
    #[test]
    fn depends_on_nothing_with_io() {
        let manifest = include_str!("../Cargo.toml");
        let table = |name: &str| -> Vec<String> {
            manifest
                .split(&format!("\n[{name}]\n"))
                .nth(1)
                .unwrap_or_default()
                .lines()
                .take_while(|l| !l.starts_with('['))
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        let names: Vec<String> = table("dependencies")
            .iter()
            .map(|l| {
                l.split(['.', '=', ' '])
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            names,
            ["message", "async-trait", "thiserror", "rusqlite"],
            "{manifest}"
        );
        let rusqlite = table("dependencies").pop().unwrap_or_default();
        assert!(rusqlite.contains("optional = true"), "{rusqlite}");
        assert_eq!(
            table("features"),
            [r#"rusqlite = ["dep:rusqlite"]"#],
            "{manifest}"
        );
        assert!(!manifest.contains("default ="), "no default features");
        assert!(
            !manifest.contains("[target."),
            "no platform-specific dependencies"
        );
    }
}
