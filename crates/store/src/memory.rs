//! [`MemoryStore`]: an in-memory [`Store`] with the same observable behaviour as the
//! SQLite backend, for unit tests of the queue, delivery and protocol drivers.
//!
//! Where it sits: beside [`crate::sqlite::SqliteStore`]; nothing in production uses it.
//! The shared behaviour suite (`src/suite.rs`) runs against both, so the two cannot
//! drift apart. Bodies are shared (`Arc`) between a queue entry and the messages filed
//! from it, as the SQLite backend shares body files.
//!
//! The IMAP side (mailbox management, flags, APPEND/COPY/MOVE/EXPUNGE) is in the child
//! module `imap` (`src/memory/imap.rs`).
//!
//! Security stance: no I/O at all. Nothing survives the value being dropped.

mod acl;
mod api_tokens;
mod app_passwords;
mod claims;
mod imap;
mod maildrop;
mod quota;
mod values;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use message::{Address, Domain, Envelope, QueueId};

use crate::mailbox_names::INBOX;
use crate::{
    Account, AccountId, AclEntry, FlagChange, FlagsResult, Grantee, ImapMessage, Mailbox,
    MailboxChanges, MailboxId, MessageMeta, NewMessage, QueuedMessage, QueuedRecipient, Quota,
    QuotaUsage, RecipientOutcome, RecipientStatus, Result, SharedMailbox, Store, StoreError,
};

/// A stored mailbox message.
#[derive(Debug, Clone)]
struct Message {
    prefix: Vec<u8>,
    body: Arc<Vec<u8>>,
    received_at: i64,
    queue_id: QueueId,
    /// The envelope recipient it was delivered for; `None` for an appended or copied
    /// message (only deliveries are deduplicated).
    recipient: Option<usize>,
    /// Canonical flags (see `crate::flags`).
    flags: Vec<String>,
    modseq: u64,
    /// The IMAP layer's summary, opaque (see `Store::message_append_with`).
    summary: Option<Arc<Vec<u8>>>,
}

/// A mailbox with its messages by UID.
#[derive(Debug)]
struct Folder {
    account: AccountId,
    name: String,
    uid_validity: u32,
    uid_next: u32,
    highest_modseq: u64,
    special_use: Option<String>,
    /// See [`Mailbox::recent_uid`].
    recent_uid: u32,
    messages: BTreeMap<u32, Message>,
    /// Tombstones: expunged UID → the mod-sequence of its expunge.
    expunged: BTreeMap<u32, u64>,
}

/// An alias: the address as added, and the account it delivers to.
#[derive(Debug, Clone)]
struct Alias {
    address: Address,
    account: i64,
}

/// A queue entry.
#[derive(Debug)]
struct Entry {
    envelope: Envelope,
    statuses: Vec<RecipientStatus>,
    queued_at: i64,
    body: Arc<Vec<u8>>,
    held: bool,
    warned: bool,
    /// Who works on it, until when (see `memory/claims.rs`).
    lease: Option<claims::Lease>,
}

/// Everything the store holds.
#[derive(Debug, Default)]
struct State {
    domains: BTreeSet<Domain>,
    /// Accounts by row id.
    accounts: BTreeMap<i64, Account>,
    /// Row id by normalized address.
    by_address: HashMap<String, i64>,
    /// Aliases by normalized address (never also a key of `by_address`).
    aliases: BTreeMap<String, Alias>,
    folders: BTreeMap<i64, Folder>,
    /// Subscribed mailbox names by account row id.
    subscriptions: BTreeMap<i64, BTreeSet<String>>,
    queue: HashMap<QueueId, Entry>,
    /// Quota limits by account row id; absent is unlimited (see `memory/quota.rs`).
    quotas: HashMap<i64, Quota>,
    /// App passwords by account row id, sorted by name (see `memory/app_passwords.rs`).
    app_passwords: BTreeMap<i64, Vec<crate::AppPassword>>,
    /// API tokens, server-wide, sorted by name (see `memory/api_tokens.rs`).
    api_tokens: Vec<crate::ApiToken>,
    /// Access control entries by mailbox row id, then grantee row id (`None` for
    /// `anyone`); see `memory/acl.rs`.
    acl: BTreeMap<i64, BTreeMap<Option<i64>, String>>,
    /// POP3 maildrop locks by mailbox row id (see `memory/maildrop.rs`).
    maildrop_locks: HashMap<i64, maildrop::MaildropLock>,
    /// The server's own values by key (see `memory/values.rs`).
    values: BTreeMap<String, Vec<u8>>,
    /// Named leases by name (see `memory/values.rs`).
    leases: HashMap<String, values::Lease>,
    next_id: i64,
    last_uid_validity: u32,
}

impl State {
    /// A fresh row id (accounts and mailboxes share the sequence; only uniqueness
    /// matters).
    fn new_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Builds the public view of a queue entry.
    fn view(id: QueueId, e: &Entry) -> QueuedMessage {
        QueuedMessage {
            id,
            envelope: e.envelope.clone(),
            recipients: e
                .envelope
                .recipients
                .iter()
                .zip(&e.statuses)
                .map(|(address, status)| QueuedRecipient {
                    address: address.clone(),
                    status: status.clone(),
                })
                .collect(),
            queued_at: e.queued_at,
            size: e.body.len() as u64,
            held: e.held,
            warned: e.warned,
        }
    }

    /// Queue entries matching `keep`, oldest first (arrival second, then id).
    fn queue_sorted(&self, keep: impl Fn(&Entry) -> bool) -> Vec<QueuedMessage> {
        let mut out: Vec<_> = self
            .queue
            .iter()
            .filter(|(_, e)| keep(e))
            .map(|(id, e)| State::view(*id, e))
            .collect();
        out.sort_by_key(|m| (m.queued_at, m.id));
        out
    }

    /// The status of one recipient, or `NotFound`.
    fn status_mut(&mut self, id: QueueId, recipient: usize) -> Result<&mut RecipientStatus> {
        let entry = self
            .queue
            .get_mut(&id)
            .ok_or_else(|| StoreError::NotFound(format!("queue entry {id}")))?;
        entry.statuses.get_mut(recipient).ok_or_else(|| {
            StoreError::NotFound(format!("recipient {recipient} of queue entry {id}"))
        })
    }
}

/// The current time in unix seconds.
fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The attempts counted so far for a pending recipient (0 once final).
fn attempts_of(status: &RecipientStatus) -> u32 {
    match status {
        RecipientStatus::Pending { attempts, .. } => *attempts,
        _ => 0,
    }
}

/// An in-memory store, for tests. Cheap to create; all methods are safe to call
/// concurrently.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store: no domains, no accounts, an empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `change` to queue entry `id`, or `NotFound`.
    fn entry_mut(&self, id: QueueId, change: impl FnOnce(&mut Entry)) -> Result<()> {
        let mut s = self.lock();
        let entry = s
            .queue
            .get_mut(&id)
            .ok_or_else(|| StoreError::NotFound(format!("queue entry {id}")))?;
        change(entry);
        Ok(())
    }

    /// Locks the state. A panic while holding the lock is a bug in this file.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("memory store mutex poisoned")
    }
}

impl MemoryStore {
    /// Files queue entry `id` for `recipient` into `account`'s INBOX, or its Junk
    /// mailbox (special use `\Junk`, else INBOX) when `junk`.
    fn deliver_into(
        &self,
        id: QueueId,
        recipient: usize,
        account: AccountId,
        prefix: &[u8],
        junk: bool,
    ) -> Result<Option<u32>> {
        let mut s = self.lock();
        let body = match s.queue.get(&id) {
            Some(e) => Arc::clone(&e.body),
            None => return Err(StoreError::NotFound(format!("queue entry {id}"))),
        };
        if !matches!(
            s.status_mut(id, recipient)?,
            RecipientStatus::Pending { .. }
        ) {
            return Ok(None);
        }
        s.quota_admit(account, (prefix.len() + body.len()) as u64, 1)?;
        let is_junk =
            |f: &Folder| f.account == account && f.special_use.as_deref() == Some("\\Junk");
        let to_junk = junk && s.folders.values().any(is_junk);
        let folder = s
            .folders
            .values_mut()
            .find(|f| {
                if to_junk {
                    is_junk(f)
                } else {
                    f.account == account && f.name == INBOX
                }
            })
            .ok_or_else(StoreError::account_gone)?;
        let already = folder
            .messages
            .values()
            .any(|m| m.queue_id == id && m.recipient == Some(recipient));
        if already {
            // Belt and braces, as the SQLite backend's unique key.
            *s.status_mut(id, recipient)? = RecipientStatus::Delivered;
            return Ok(None);
        }
        let uid = folder.add(Message {
            prefix: prefix.to_vec(),
            body,
            received_at: now_unix(),
            queue_id: id,
            recipient: Some(recipient),
            flags: Vec::new(),
            modseq: 0,
            summary: None,
        })?;
        *s.status_mut(id, recipient)? = RecipientStatus::Delivered;
        Ok(Some(uid))
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn domain_add(&self, domain: &Domain) -> Result<()> {
        if !self.lock().domains.insert(domain.clone()) {
            return Err(StoreError::Exists(format!("domain {domain}")));
        }
        Ok(())
    }

    async fn domain_remove(&self, domain: &Domain) -> Result<()> {
        let mut s = self.lock();
        if !s.domains.contains(domain) {
            return Err(StoreError::NotFound(format!("domain {domain}")));
        }
        let accounts = s
            .accounts
            .values()
            .filter(|a| a.address.domain() == domain)
            .count();
        if accounts > 0 {
            return Err(StoreError::Invalid(format!(
                "domain {domain} still has {accounts} account(s)"
            )));
        }
        let aliases = s
            .aliases
            .values()
            .filter(|a| a.address.domain() == domain)
            .count();
        if aliases > 0 {
            return Err(StoreError::Invalid(format!(
                "domain {domain} still has {aliases} alias(es)"
            )));
        }
        s.domains.remove(domain);
        Ok(())
    }

    async fn domain_list(&self) -> Result<Vec<Domain>> {
        Ok(self.lock().domains.iter().cloned().collect())
    }

    async fn domain_is_local(&self, domain: &Domain) -> Result<bool> {
        Ok(self.lock().domains.contains(domain))
    }

    async fn account_add(&self, address: &Address, password_hash: &str) -> Result<AccountId> {
        let mut s = self.lock();
        if !s.domains.contains(address.domain()) {
            return Err(StoreError::Invalid(format!(
                "{} is not a local domain",
                address.domain()
            )));
        }
        let key = address.normalized();
        if s.by_address.contains_key(&key) {
            return Err(StoreError::Exists(format!("account {address}")));
        }
        if s.aliases.contains_key(&key) {
            return Err(StoreError::Exists(format!("alias {address}")));
        }
        let id = s.new_id();
        s.accounts.insert(
            id,
            Account {
                id: AccountId(id),
                address: address.clone(),
                password_hash: password_hash.to_string(),
                display_name: None,
                admin: false,
            },
        );
        s.by_address.insert(key, id);
        s.create_defaults(AccountId(id));
        Ok(AccountId(id))
    }

    async fn account_set_password(&self, address: &Address, password_hash: &str) -> Result<()> {
        let mut s = self.lock();
        let id = s
            .by_address
            .get(&address.normalized())
            .copied()
            .ok_or_else(|| StoreError::NotFound(format!("account {address}")))?;
        if let Some(account) = s.accounts.get_mut(&id) {
            account.password_hash = password_hash.to_string();
        }
        Ok(())
    }

    async fn account_remove(&self, address: &Address) -> Result<()> {
        let mut s = self.lock();
        let id = s
            .by_address
            .remove(&address.normalized())
            .ok_or_else(|| StoreError::NotFound(format!("account {address}")))?;
        s.accounts.remove(&id);
        s.folders.retain(|_, f| f.account != AccountId(id));
        s.subscriptions.remove(&id);
        s.quotas.remove(&id);
        // Its aliases go with it, as the SQLite backend's ON DELETE CASCADE.
        s.aliases.retain(|_, a| a.account != id);
        s.acl_prune();
        Ok(())
    }

    async fn account_list(&self) -> Result<Vec<Account>> {
        let s = self.lock();
        let mut accounts: Vec<Account> = s.accounts.values().cloned().collect();
        accounts.sort_by_key(|a| a.address.normalized());
        Ok(accounts)
    }

    async fn account_get(&self, address: &Address) -> Result<Option<Account>> {
        let s = self.lock();
        Ok(s.by_address
            .get(&address.normalized())
            .and_then(|id| s.accounts.get(id))
            .cloned())
    }

    async fn account_set_admin(&self, address: &Address, admin: bool) -> Result<()> {
        self.lock().account_set_admin(address, admin)
    }

    async fn account_set_display_name(&self, address: &Address, name: Option<&str>) -> Result<()> {
        self.lock().account_set_display_name(address, name)
    }

    async fn quota_set(&self, address: &Address, quota: Quota) -> Result<()> {
        self.lock().quota_set(address, quota)
    }

    async fn quota_get(&self, account: AccountId) -> Result<Quota> {
        self.lock().quota_get(account)
    }

    async fn quota_usage(&self, account: AccountId) -> Result<QuotaUsage> {
        let s = self.lock();
        s.quota_get(account)?;
        Ok(s.quota_usage(account))
    }

    async fn alias_add(&self, alias: &Address, target: &Address) -> Result<()> {
        let mut s = self.lock();
        if !s.domains.contains(alias.domain()) {
            return Err(StoreError::Invalid(format!(
                "{} is not a local domain",
                alias.domain()
            )));
        }
        let Some(account) = s.by_address.get(&target.normalized()).copied() else {
            return Err(StoreError::Invalid(format!(
                "alias target {target} is not an account"
            )));
        };
        let key = alias.normalized();
        if s.by_address.contains_key(&key) {
            return Err(StoreError::Exists(format!("account {alias}")));
        }
        if s.aliases.contains_key(&key) {
            return Err(StoreError::Exists(format!("alias {alias}")));
        }
        s.aliases.insert(
            key,
            Alias {
                address: alias.clone(),
                account,
            },
        );
        Ok(())
    }

    async fn alias_remove(&self, alias: &Address) -> Result<()> {
        match self.lock().aliases.remove(&alias.normalized()) {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(format!("alias {alias}"))),
        }
    }

    async fn alias_list(&self) -> Result<Vec<(Address, Address)>> {
        let s = self.lock();
        // BTreeMap order is the normalized address's, as SQLite's ORDER BY.
        Ok(s.aliases
            .values()
            .filter_map(|a| {
                let target = s.accounts.get(&a.account)?;
                Some((a.address.clone(), target.address.clone()))
            })
            .collect())
    }

    async fn resolve_recipient(&self, address: &Address) -> Result<Option<Account>> {
        let s = self.lock();
        let key = address.normalized();
        let id = s
            .by_address
            .get(&key)
            .or_else(|| s.aliases.get(&key).map(|a| &a.account));
        Ok(id.and_then(|id| s.accounts.get(id)).cloned())
    }

    async fn app_password_add(
        &self,
        account: AccountId,
        name: &str,
        id: &str,
        hash: &str,
        created_at: i64,
    ) -> Result<()> {
        self.lock()
            .app_password_add(account, name, id, hash, created_at)
    }

    async fn app_password_list(&self, account: AccountId) -> Result<Vec<crate::AppPassword>> {
        self.lock().app_password_list(account)
    }

    async fn app_password_get(
        &self,
        account: AccountId,
        id: &str,
    ) -> Result<Option<crate::AppPassword>> {
        Ok(self.lock().app_password_get(account, id))
    }

    async fn app_password_revoke(&self, account: AccountId, name: &str) -> Result<()> {
        self.lock().app_password_revoke(account, name)
    }

    async fn app_password_used(&self, account: AccountId, id: &str, when: i64) -> Result<()> {
        self.lock().app_password_used(account, id, when);
        Ok(())
    }

    async fn token_add(&self, token: &crate::ApiToken) -> Result<()> {
        self.lock().token_add(token)
    }

    async fn token_list(&self) -> Result<Vec<crate::ApiToken>> {
        Ok(self.lock().api_tokens.clone())
    }

    async fn token_get(&self, id: &str) -> Result<Option<crate::ApiToken>> {
        Ok(self.lock().token_get(id))
    }

    async fn token_revoke(&self, name: &str) -> Result<()> {
        self.lock().token_revoke(name)
    }

    async fn token_used(&self, id: &str, when: i64) -> Result<()> {
        self.lock().token_used(id, when);
        Ok(())
    }

    async fn mailbox_list(&self, account: AccountId) -> Result<Vec<Mailbox>> {
        let s = self.lock();
        if !s.accounts.contains_key(&account.0) {
            return Err(StoreError::account_gone());
        }
        Ok(s.folders
            .iter()
            .filter(|(_, f)| f.account == account)
            .map(|(id, f)| s.mailbox_view(*id, f))
            .collect())
    }

    async fn message_list(&self, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
        let s = self.lock();
        let folder = s
            .folders
            .get(&mailbox.0)
            .ok_or_else(StoreError::mailbox_gone)?;
        Ok(folder
            .messages
            .iter()
            .map(|(uid, m)| MessageMeta {
                uid: *uid,
                size: (m.prefix.len() + m.body.len()) as u64,
                received_at: m.received_at,
                queue_id: m.queue_id,
            })
            .collect())
    }

    async fn message_read(&self, mailbox: MailboxId, uid: u32) -> Result<Vec<u8>> {
        let s = self.lock();
        let message = s
            .folders
            .get(&mailbox.0)
            .and_then(|f| f.messages.get(&uid))
            .ok_or_else(|| {
                let label = s.describe(mailbox);
                StoreError::NotFound(format!("message {uid} in {label}"))
            })?;
        let mut full = message.prefix.clone();
        full.extend_from_slice(&message.body);
        Ok(full)
    }

    async fn message_remove(&self, mailbox: MailboxId, uids: &[u32]) -> Result<()> {
        self.lock().folder_mut(mailbox)?.expunge(uids);
        Ok(())
    }

    async fn mailbox_get(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
        self.lock().mailbox_get(account, name)
    }

    async fn mailbox_create(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<Mailbox> {
        self.lock().mailbox_create(account, name, special_use)
    }

    async fn mailbox_delete(&self, account: AccountId, name: &str) -> Result<()> {
        let mut s = self.lock();
        s.mailbox_delete(account, name)?;
        s.acl_prune();
        Ok(())
    }

    async fn mailbox_rename(&self, account: AccountId, from: &str, to: &str) -> Result<()> {
        self.lock().mailbox_rename(account, from, to)
    }

    async fn mailbox_subscribe(
        &self,
        account: AccountId,
        name: &str,
        subscribed: bool,
    ) -> Result<()> {
        self.lock().subscribe(account, name, subscribed)
    }

    async fn mailbox_subscriptions(&self, account: AccountId) -> Result<Vec<String>> {
        self.lock().subscriptions(account)
    }

    async fn message_list_imap(&self, mailbox: MailboxId) -> Result<Vec<ImapMessage>> {
        Ok(self.lock().folder(mailbox)?.list_imap())
    }

    async fn message_flags_set(
        &self,
        mailbox: MailboxId,
        uids: &[u32],
        change: FlagChange,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsResult> {
        let flags = crate::flags::normalize(flags)?;
        let mut s = self.lock();
        Ok(s.folder_mut(mailbox)?
            .set_flags(uids, change, &flags, unchanged_since))
    }

    async fn message_changes_since(
        &self,
        mailbox: MailboxId,
        since: u64,
    ) -> Result<MailboxChanges> {
        let s = self.lock();
        let folder = s.folder(mailbox)?;
        Ok(folder.changes_since(s.mailbox_view(mailbox.0, folder), since))
    }

    async fn message_summaries(
        &self,
        mailbox: MailboxId,
        uids: &[u32],
    ) -> Result<Vec<(u32, Option<Vec<u8>>)>> {
        Ok(self.lock().folder(mailbox)?.summaries(uids))
    }

    async fn message_summaries_set(
        &self,
        mailbox: MailboxId,
        summaries: &[(u32, Vec<u8>)],
    ) -> Result<()> {
        self.lock().folder_mut(mailbox)?.set_summaries(summaries);
        Ok(())
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
        let mut s = self.lock();
        s.quota_admit_append(mailbox, body.len() as u64)?;
        s.folder_mut(mailbox)?
            .append(body, flags, received_at, summary)
    }

    async fn message_append_many(
        &self,
        mailbox: MailboxId,
        messages: &[NewMessage<'_>],
    ) -> Result<Vec<u32>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        // Everything that can refuse is checked under one lock before the first goes in.
        let flags = messages
            .iter()
            .map(|m| crate::flags::normalize(m.flags))
            .collect::<Result<Vec<_>>>()?;
        let mut s = self.lock();
        let account = s.folder(mailbox)?.account;
        let octets = messages.iter().map(|m| m.body.len() as u64).sum();
        s.quota_admit(account, octets, messages.len() as u64)?;
        s.folder_mut(mailbox)?.append_many(messages, flags)
    }

    async fn message_copy(
        &self,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Vec<(u32, u32)>> {
        let mut s = self.lock();
        s.quota_admit_copy(from, uids, to)?;
        s.copy(from, uids, to, false)
    }

    async fn message_move(
        &self,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Vec<(u32, u32)>> {
        let mut s = self.lock();
        // Into another account's mailbox (shared with ACL): its quota, as for a copy.
        if s.folder(from)?.account != s.folder(to)?.account {
            s.quota_admit_copy(from, uids, to)?;
        }
        s.copy(from, uids, to, true)
    }

    async fn message_expunge(&self, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<Vec<u32>> {
        Ok(self.lock().folder_mut(mailbox)?.expunge_deleted(uids))
    }

    async fn mailbox_expunged_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Vec<u32>> {
        Ok(self.lock().folder(mailbox)?.expunged_since(modseq))
    }

    async fn mailbox_recent_claim(&self, mailbox: MailboxId, up_to: u32) -> Result<u32> {
        let mut s = self.lock();
        let folder = s.folder_mut(mailbox)?;
        let before = folder.recent_uid;
        // Never past the highest UID handed out, never backwards.
        let top = up_to.min(folder.uid_next.saturating_sub(1));
        folder.recent_uid = before.max(top);
        Ok(before)
    }

    async fn acl_set(&self, mailbox: MailboxId, grantee: Grantee, rights: &str) -> Result<()> {
        self.lock().acl_set(mailbox, grantee, rights)
    }

    async fn acl_list(&self, mailbox: MailboxId) -> Result<Vec<AclEntry>> {
        self.lock().acl_list(mailbox)
    }

    async fn acl_shared_with(&self, account: AccountId) -> Result<Vec<SharedMailbox>> {
        self.lock().acl_shared_with(account)
    }

    async fn enqueue(&self, id: QueueId, envelope: &Envelope, body: &[u8]) -> Result<()> {
        if envelope.recipients.is_empty() {
            return Err(StoreError::Invalid(
                "a message needs at least one recipient".into(),
            ));
        }
        let mut s = self.lock();
        if s.queue.contains_key(&id) {
            return Err(StoreError::Exists(format!("queue entry {id}")));
        }
        let now = now_unix();
        let statuses = envelope
            .recipients
            .iter()
            .map(|_| RecipientStatus::Pending {
                attempts: 0,
                next_attempt: now,
                last_error: None,
            })
            .collect();
        // As the SQLite backend reads it back: one DSN record per recipient.
        let mut envelope = envelope.clone();
        envelope.dsn.recipients = (0..envelope.recipients.len())
            .map(|i| envelope.dsn.recipient(i))
            .collect();
        s.queue.insert(
            id,
            Entry {
                envelope,
                statuses,
                queued_at: now,
                body: Arc::new(body.to_vec()),
                held: false,
                warned: false,
                lease: None,
            },
        );
        Ok(())
    }

    async fn queue_due(&self, now_unix: i64, limit: usize) -> Result<Vec<QueuedMessage>> {
        let s = self.lock();
        let mut due = s.queue_sorted(|e| {
            !e.held && e.statuses.iter().any(|st| {
                matches!(st, RecipientStatus::Pending { next_attempt, .. } if *next_attempt <= now_unix)
            })
        });
        due.truncate(limit);
        Ok(due)
    }

    async fn queue_claim(
        &self,
        node: &str,
        now_unix: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<QueueId>> {
        Ok(self.lock().queue_claim(node, now_unix, lease_until, limit))
    }

    async fn queue_renew(
        &self,
        node: &str,
        ids: &[QueueId],
        lease_until: i64,
    ) -> Result<Vec<QueueId>> {
        Ok(self.lock().queue_renew(node, ids, lease_until))
    }

    async fn queue_release(&self, node: &str, id: QueueId) -> Result<()> {
        self.lock().queue_release(node, id);
        Ok(())
    }

    async fn value_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.lock().values.get(key).cloned())
    }

    async fn value_put(&self, key: &str, value: &[u8]) -> Result<()> {
        self.lock().value_put(key, value)
    }

    async fn value_delete(&self, key: &str) -> Result<()> {
        self.lock().values.remove(key);
        Ok(())
    }

    async fn value_list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(self.lock().value_list(prefix))
    }

    async fn lease_take(
        &self,
        name: &str,
        holder: &str,
        now_unix: i64,
        until_unix: i64,
    ) -> Result<bool> {
        self.lock().lease_take(name, holder, now_unix, until_unix)
    }

    async fn lease_drop(&self, name: &str, holder: &str) -> Result<()> {
        self.lock().lease_drop(name, holder);
        Ok(())
    }

    async fn maildrop_lock(
        &self,
        mailbox: MailboxId,
        holder: &str,
        now_unix: i64,
        until_unix: i64,
    ) -> Result<bool> {
        self.lock()
            .maildrop_lock(mailbox, holder, now_unix, until_unix)
    }

    async fn maildrop_unlock(&self, mailbox: MailboxId, holder: &str) -> Result<()> {
        self.lock().maildrop_unlock(mailbox, holder);
        Ok(())
    }

    async fn queue_list(&self) -> Result<Vec<QueuedMessage>> {
        Ok(self.lock().queue_sorted(|_| true))
    }

    async fn queue_get(&self, id: QueueId) -> Result<Option<QueuedMessage>> {
        let s = self.lock();
        Ok(s.queue.get(&id).map(|e| State::view(id, e)))
    }

    async fn queue_hold(&self, id: QueueId, held: bool) -> Result<()> {
        self.entry_mut(id, |e| e.held = held)
    }

    async fn queue_flush(
        &self,
        id: Option<QueueId>,
        domain: Option<&Domain>,
        now_unix: i64,
    ) -> Result<usize> {
        let mut s = self.lock();
        let mut changed = 0;
        for (entry_id, e) in s.queue.iter_mut() {
            if id.is_some_and(|id| id != *entry_id) {
                continue;
            }
            for (address, status) in e.envelope.recipients.iter().zip(&mut e.statuses) {
                let in_domain = id.is_some() || domain.is_none_or(|d| address.domain() == d);
                if let RecipientStatus::Pending { next_attempt, .. } = status
                    && in_domain
                {
                    *next_attempt = now_unix;
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    async fn queue_delete(&self, id: QueueId) -> Result<()> {
        match self.lock().queue.remove(&id) {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(format!("queue entry {id}"))),
        }
    }

    async fn queue_set_warned(&self, id: QueueId) -> Result<()> {
        self.entry_mut(id, |e| e.warned = true)
    }

    async fn queue_body(&self, id: QueueId) -> Result<Vec<u8>> {
        let s = self.lock();
        s.queue
            .get(&id)
            .map(|e| e.body.as_ref().clone())
            .ok_or_else(|| StoreError::NotFound(format!("queue entry {id}")))
    }

    async fn enqueue_and_file_junk(
        &self,
        id: QueueId,
        envelope: &Envelope,
        body: &[u8],
        filings: &[crate::Filing],
    ) -> Result<Vec<usize>> {
        self.enqueue(id, envelope, body).await?;
        let mut filed = Vec::with_capacity(filings.len());
        for f in filings {
            match self.deliver_into(id, f.recipient, f.account, &f.prefix, true) {
                Ok(_) => filed.push(f.recipient),
                Err(StoreError::OverQuota(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filed)
    }

    async fn deliver_to_mailbox(
        &self,
        id: QueueId,
        recipient: usize,
        account: AccountId,
        prefix: &[u8],
    ) -> Result<Option<u32>> {
        self.deliver_into(id, recipient, account, prefix, false)
    }

    async fn queue_mark(
        &self,
        id: QueueId,
        recipient: usize,
        outcome: &RecipientOutcome,
    ) -> Result<()> {
        let mut s = self.lock();
        let status = s.status_mut(id, recipient)?;
        if !matches!(status, RecipientStatus::Pending { .. }) {
            // A final state stays final.
            return Ok(());
        }
        *status = match outcome {
            RecipientOutcome::Deferred {
                next_attempt,
                reason,
            } => RecipientStatus::Pending {
                attempts: attempts_of(status).saturating_add(1),
                next_attempt: *next_attempt,
                last_error: Some(reason.clone()),
            },
            RecipientOutcome::Failed { reason } => RecipientStatus::Failed(reason.clone()),
            RecipientOutcome::Delivered => RecipientStatus::Delivered,
        };
        Ok(())
    }

    async fn queue_pending_count(&self) -> Result<u64> {
        let s = self.lock();
        let pending = s.queue.values().filter(|e| {
            e.statuses
                .iter()
                .any(|st| matches!(st, RecipientStatus::Pending { .. }))
        });
        Ok(pending.count() as u64)
    }

    async fn queue_collect(&self) -> Result<usize> {
        let mut s = self.lock();
        let before = s.queue.len();
        s.queue.retain(|_, e| {
            e.statuses
                .iter()
                .any(|st| matches!(st, RecipientStatus::Pending { .. }))
        });
        Ok(before - s.queue.len())
    }
}
