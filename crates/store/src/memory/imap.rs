//! The IMAP side of [`super::MemoryStore`]: creating, renaming and deleting mailboxes,
//! subscriptions, flags with mod-sequences (RFC 7162), APPEND/COPY/MOVE and expunge
//! with tombstones, as methods on the locked state.
//!
//! Where it sits: the `Store` impl in `memory.rs` locks the state and calls these; the
//! SQLite backend does the same in SQL (`sqlite/mailboxes.rs`, `sqlite/imap.rs`), and
//! the behaviour suite (`src/suite/imap.rs`) holds the two to one contract.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Folder, Message, State, now_unix};
use crate::mailbox_names::{self, DEFAULT_SPECIAL, INBOX};
use crate::{
    AccountId, FlagChange, FlagsResult, ImapMessage, Mailbox, MailboxChanges, MailboxId,
    NewMessage, Result, StoreError,
};

/// The public view of a stored message.
pub(super) fn view(uid: u32, m: &Message) -> ImapMessage {
    ImapMessage {
        uid,
        flags: m.flags.clone(),
        modseq: m.modseq,
        size: (m.prefix.len() + m.body.len()) as u64,
        received_at: m.received_at,
    }
}

/// Sorted, deduplicated UIDs.
fn sorted(uids: &[u32]) -> Vec<u32> {
    let mut v = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

impl Folder {
    /// A new, empty mailbox.
    fn new(
        account: AccountId,
        name: String,
        uid_validity: u32,
        special_use: Option<String>,
    ) -> Self {
        Folder {
            account,
            name,
            uid_validity,
            uid_next: 1,
            highest_modseq: 1,
            special_use,
            recent_uid: 0,
            messages: BTreeMap::new(),
            expunged: BTreeMap::new(),
        }
    }

    /// Files `message` under the next UID with the next mod-sequence; returns the UID.
    pub(super) fn add(&mut self, mut message: Message) -> Result<u32> {
        let uid = self.uid_next;
        // RFC 3501 §2.3.1.1: UIDs are 32-bit; UIDNEXT itself must stay representable.
        if uid == u32::MAX {
            return Err(StoreError::Invalid("mailbox has used up its UIDs".into()));
        }
        self.highest_modseq += 1;
        message.modseq = self.highest_modseq;
        self.messages.insert(uid, message);
        self.uid_next = uid + 1;
        Ok(uid)
    }

    /// Every message, by ascending UID.
    pub(super) fn list_imap(&self) -> Vec<ImapMessage> {
        self.messages.iter().map(|(uid, m)| view(*uid, m)).collect()
    }

    /// APPEND: files a new message without a prefix; `flags` is canonical.
    pub(super) fn append(
        &mut self,
        body: &[u8],
        flags: Vec<String>,
        received_at: i64,
        summary: Option<&[u8]>,
    ) -> Result<u32> {
        self.add(Message {
            prefix: Vec::new(),
            body: Arc::new(body.to_vec()),
            received_at,
            queue_id: crate::arrival_id(),
            recipient: None,
            flags,
            modseq: 0,
            summary: summary.map(|s| Arc::new(s.to_vec())),
        })
    }

    /// MULTIAPPEND: files `messages` in order with consecutive UIDs, all or none (see
    /// [`crate::Store::message_append_many`]); `flags` holds each one's canonical flags.
    pub(super) fn append_many(
        &mut self,
        messages: &[NewMessage<'_>],
        flags: Vec<Vec<String>>,
    ) -> Result<Vec<u32>> {
        // RFC 3501 §2.3.1.1: room for every UID, UIDNEXT after them still representable,
        // checked before the first goes in (`add` refuses at `u32::MAX`).
        let room = u32::MAX - self.uid_next;
        if messages.len() as u64 > u64::from(room) {
            return Err(StoreError::Invalid("mailbox has used up its UIDs".into()));
        }
        messages
            .iter()
            .zip(flags)
            .map(|(m, flags)| self.append(m.body, flags, m.received_at, m.summary))
            .collect()
    }

    /// What changed after `since` (see [`crate::Store::message_changes_since`]);
    /// `mailbox` is this folder's public record.
    pub(super) fn changes_since(&self, mailbox: Mailbox, since: u64) -> MailboxChanges {
        if since == 0 || since > self.highest_modseq {
            return MailboxChanges {
                mailbox,
                full: true,
                changed: self.list_imap(),
                expunged: Vec::new(),
            };
        }
        MailboxChanges {
            mailbox,
            full: false,
            changed: self
                .messages
                .iter()
                .filter(|(_, m)| m.modseq > since)
                .map(|(uid, m)| view(*uid, m))
                .collect(),
            expunged: self.expunged_since(since),
        }
    }

    /// The stored summaries of `uids`, by ascending UID (unknown UIDs skipped).
    pub(super) fn summaries(&self, uids: &[u32]) -> Vec<(u32, Option<Vec<u8>>)> {
        sorted(uids)
            .into_iter()
            .filter_map(|uid| {
                let m = self.messages.get(&uid)?;
                Some((uid, m.summary.as_ref().map(|s| s.to_vec())))
            })
            .collect()
    }

    /// Stores summaries (unknown UIDs skipped; no mod-sequence moves).
    pub(super) fn set_summaries(&mut self, items: &[(u32, Vec<u8>)]) {
        for (uid, summary) in items {
            if let Some(m) = self.messages.get_mut(uid) {
                m.summary = Some(Arc::new(summary.clone()));
            }
        }
    }

    /// EXPUNGE (or UID EXPUNGE with `only`): removes the messages flagged `\Deleted`.
    pub(super) fn expunge_deleted(&mut self, only: Option<&[u32]>) -> Vec<u32> {
        let doomed: Vec<u32> = self
            .messages
            .iter()
            .filter(|(uid, m)| {
                crate::flags::has_deleted(&m.flags) && only.is_none_or(|o| o.contains(uid))
            })
            .map(|(uid, _)| *uid)
            .collect();
        self.expunge(&doomed)
    }

    /// UIDs expunged by changes above `modseq`, ascending.
    pub(super) fn expunged_since(&self, modseq: u64) -> Vec<u32> {
        self.expunged
            .iter()
            .filter(|(_, m)| **m > modseq)
            .map(|(uid, _)| *uid)
            .collect()
    }

    /// Removes the given messages (unknown UIDs skipped), leaving tombstones that share
    /// one new mod-sequence. Returns the removed UIDs, ascending.
    pub(super) fn expunge(&mut self, uids: &[u32]) -> Vec<u32> {
        let removed: Vec<u32> = sorted(uids)
            .into_iter()
            .filter(|uid| self.messages.remove(uid).is_some())
            .collect();
        if !removed.is_empty() {
            self.highest_modseq += 1;
            for uid in &removed {
                self.expunged.insert(*uid, self.highest_modseq);
            }
        }
        removed
    }

    /// STORE with CONDSTORE semantics; see [`crate::Store::message_flags_set`].
    /// `given` is canonical.
    pub(super) fn set_flags(
        &mut self,
        uids: &[u32],
        change: FlagChange,
        given: &[String],
        unchanged_since: Option<u64>,
    ) -> FlagsResult {
        let mut result = FlagsResult::default();
        for uid in sorted(uids) {
            let Some(m) = self.messages.get_mut(&uid) else {
                continue;
            };
            if unchanged_since.is_some_and(|since| m.modseq > since) {
                result.modified.push(uid);
                continue;
            }
            let flags = crate::flags::apply(&m.flags, change, given);
            if flags != m.flags {
                self.highest_modseq += 1;
                m.flags = flags;
                m.modseq = self.highest_modseq;
                result.changed.push(view(uid, m));
            }
        }
        result
    }
}

impl State {
    /// A UIDVALIDITY no mailbox had before: the current time, but above every value
    /// handed out so far (RFC 3501 §2.3.1.1); never zero.
    fn new_uid_validity(&mut self) -> u32 {
        let now = u32::try_from(now_unix().max(1)).unwrap_or(u32::MAX);
        let value = now.max(self.last_uid_validity.saturating_add(1)).max(1);
        self.last_uid_validity = value;
        value
    }

    /// Creates an empty mailbox; the name must be canonical and free.
    fn create_folder(
        &mut self,
        account: AccountId,
        name: &str,
        special_use: Option<String>,
    ) -> i64 {
        let uid_validity = self.new_uid_validity();
        let id = self.new_id();
        let folder = Folder::new(account, name.to_string(), uid_validity, special_use);
        self.folders.insert(id, folder);
        id
    }

    /// A new account's INBOX and special-use mailboxes, all subscribed.
    pub(super) fn create_defaults(&mut self, account: AccountId) {
        self.create_folder(account, INBOX, None);
        let subs = self.subscriptions.entry(account.0).or_default();
        subs.insert(INBOX.to_string());
        for (name, _) in DEFAULT_SPECIAL {
            subs.insert(name.to_string());
        }
        for (name, special) in DEFAULT_SPECIAL {
            self.create_folder(account, name, Some(special.to_string()));
        }
    }

    /// The public view of a mailbox.
    pub(super) fn mailbox_view(&self, id: i64, f: &Folder) -> Mailbox {
        let subscribed = self
            .subscriptions
            .get(&f.account.0)
            .is_some_and(|s| s.contains(&f.name));
        Mailbox {
            id: MailboxId(id),
            name: f.name.clone(),
            uid_validity: f.uid_validity,
            uid_next: f.uid_next,
            highest_modseq: f.highest_modseq,
            subscribed,
            special_use: f.special_use.clone(),
            recent_uid: f.recent_uid,
        }
    }

    /// How an error names the mailbox: `mailbox "INBOX" of alice@example.org`.
    pub(super) fn describe(&self, mailbox: MailboxId) -> String {
        let Some(folder) = self.folders.get(&mailbox.0) else {
            return "a mailbox that was deleted".to_owned();
        };
        match self.accounts.get(&folder.account.0) {
            Some(a) => crate::mailbox_label(&folder.name, &a.address.to_string()),
            None => format!("mailbox {:?}", folder.name),
        }
    }

    /// A mailbox by id, or `NotFound`.
    pub(super) fn folder(&self, mailbox: MailboxId) -> Result<&Folder> {
        self.folders
            .get(&mailbox.0)
            .ok_or_else(StoreError::mailbox_gone)
    }

    /// A mailbox by id, or `NotFound`.
    pub(super) fn folder_mut(&mut self, mailbox: MailboxId) -> Result<&mut Folder> {
        self.folders
            .get_mut(&mailbox.0)
            .ok_or_else(StoreError::mailbox_gone)
    }

    /// The row id of the account's mailbox named `name` (canonical).
    fn find(&self, account: AccountId, name: &str) -> Option<i64> {
        self.folders
            .iter()
            .find(|(_, f)| f.account == account && f.name == name)
            .map(|(id, _)| *id)
    }

    /// `NotFound` unless the account exists.
    fn known_account(&self, account: AccountId) -> Result<()> {
        if !self.accounts.contains_key(&account.0) {
            return Err(StoreError::account_gone());
        }
        Ok(())
    }

    pub(super) fn mailbox_get(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
        let name = mailbox_names::canonical(name)?;
        Ok(self
            .find(account, &name)
            .map(|id| self.mailbox_view(id, &self.folders[&id])))
    }

    pub(super) fn mailbox_create(
        &mut self,
        account: AccountId,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<Mailbox> {
        let name = mailbox_names::canonical(name)?;
        let special_use = special_use.map(mailbox_names::special_use).transpose()?;
        self.known_account(account)?;
        if self.find(account, &name).is_some() {
            return Err(StoreError::Exists(format!("mailbox {name}")));
        }
        let id = self.create_folder(account, &name, special_use);
        Ok(self.mailbox_view(id, &self.folders[&id]))
    }

    pub(super) fn mailbox_delete(&mut self, account: AccountId, name: &str) -> Result<()> {
        let name = mailbox_names::canonical(name)?;
        if name == INBOX {
            return Err(StoreError::Invalid("INBOX cannot be deleted".into()));
        }
        let id = self
            .find(account, &name)
            .ok_or_else(|| StoreError::NotFound(format!("mailbox {name}")))?;
        self.folders.remove(&id);
        Ok(())
    }

    pub(super) fn mailbox_rename(
        &mut self,
        account: AccountId,
        from: &str,
        to: &str,
    ) -> Result<()> {
        let (from, to) = (
            mailbox_names::canonical(from)?,
            mailbox_names::canonical(to)?,
        );
        let source = self
            .find(account, &from)
            .ok_or_else(|| StoreError::NotFound(format!("mailbox {from}")))?;
        if self.find(account, &to).is_some() {
            return Err(StoreError::Exists(format!("mailbox {to}")));
        }
        if from == INBOX {
            return self.rename_inbox(account, source, &to);
        }
        mailbox_names::check_rename(&from, &to)?;
        let moves: Vec<(i64, String)> = self
            .folders
            .iter()
            .filter(|(_, f)| f.account == account)
            .filter_map(|(id, f)| Some((*id, mailbox_names::renamed(&f.name, &from, &to)?)))
            .collect();
        // A new name may only clash with a mailbox that stays where it is.
        let staying = |name: &str| {
            self.find(account, name)
                .is_some_and(|id| !moves.iter().any(|(m, _)| *m == id))
        };
        if let Some((_, taken)) = moves.iter().find(|(_, name)| staying(name)) {
            return Err(StoreError::Exists(format!("mailbox {taken}")));
        }
        for (id, name) in moves {
            if let Some(f) = self.folders.get_mut(&id) {
                f.name = name;
            }
        }
        Ok(())
    }

    /// RENAME INBOX (RFC 3501 §6.3.5): a new mailbox `to` takes all of INBOX's
    /// messages, which INBOX records as expunged.
    fn rename_inbox(&mut self, account: AccountId, inbox: i64, to: &str) -> Result<()> {
        let target = self.create_folder(account, to, None);
        let source = self.folder_mut(MailboxId(inbox))?;
        let messages = std::mem::take(&mut source.messages);
        let uids: Vec<u32> = messages.keys().copied().collect();
        let (uid_next, modseq, recent) =
            (source.uid_next, source.highest_modseq, source.recent_uid);
        if !uids.is_empty() {
            source.highest_modseq += 1;
            for uid in uids {
                source.expunged.insert(uid, source.highest_modseq);
            }
        }
        let target = self.folder_mut(MailboxId(target))?;
        target.messages = messages;
        target.uid_next = uid_next;
        target.highest_modseq = modseq;
        // The same messages under the same UIDs: their \Recent stays claimed.
        target.recent_uid = recent;
        Ok(())
    }

    pub(super) fn subscribe(&mut self, account: AccountId, name: &str, on: bool) -> Result<()> {
        let name = mailbox_names::canonical(name)?;
        self.known_account(account)?;
        let subs = self.subscriptions.entry(account.0).or_default();
        if on {
            subs.insert(name);
        } else {
            subs.remove(&name);
        }
        Ok(())
    }

    pub(super) fn subscriptions(&self, account: AccountId) -> Result<Vec<String>> {
        self.known_account(account)?;
        Ok(self
            .subscriptions
            .get(&account.0)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default())
    }

    /// COPY (and MOVE when `remove`); see [`crate::Store::message_copy`].
    pub(super) fn copy(
        &mut self,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
        remove: bool,
    ) -> Result<Vec<(u32, u32)>> {
        let source = self.folder(from)?;
        self.folder(to)?;
        let picked: Vec<(u32, Message)> = sorted(uids)
            .into_iter()
            .filter_map(|uid| Some((uid, source.messages.get(&uid)?.clone())))
            .collect();
        let target = self.folder_mut(to)?;
        // All or nothing: refuse before filing any copy if the UIDs would run out.
        if u64::from(target.uid_next) + picked.len() as u64 > u64::from(u32::MAX) {
            return Err(StoreError::Invalid("mailbox has used up its UIDs".into()));
        }
        let mut pairs = Vec::with_capacity(picked.len());
        for (uid, mut m) in picked {
            m.recipient = None;
            pairs.push((uid, target.add(m)?));
        }
        if remove {
            let moved: Vec<u32> = pairs.iter().map(|(uid, _)| *uid).collect();
            self.folder_mut(from)?.expunge(&moved);
        }
        Ok(pairs)
    }
}
