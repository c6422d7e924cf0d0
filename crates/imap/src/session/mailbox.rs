//! Mailbox management: CREATE, DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE and STATUS
//! (RFC 3501 §6.3.3–6.3.7, §6.3.10; STATUS=SIZE RFC 8438).
//!
//! Where it sits: called by [`super::Session::command`] in the authenticated and
//! selected states; LIST/LSUB are in [`super::list`]. Errors carry the RFC 5530 codes
//! (`NONEXISTENT`, `ALREADYEXISTS`, `CANNOT`). CREATE and RENAME also create the
//! missing superior names, which RFC 3501 §6.3.3/§6.3.5 say the server SHOULD. Names
//! arrive in UTF-8 (decoded by [`super::names`]); STATUS writes its name back in the
//! connection's encoding. A new name (CREATE, RENAME, SUBSCRIBE) is at most
//! [`MAX_NAME`] octets, so LIST's matching and hierarchy work stays bounded.

use super::list::DELIMITER;
use super::{Session, Status, store_failed};
use crate::acl::{Rights, SharedName};
use imap_codec::imap_types::status::StatusDataItemName;
use store_api::{AccountId, StoreError};

/// The longest mailbox name a client may create, in UTF-8 octets (RFC 3501 sets no
/// limit; Dovecot's default is similar). Longer names get `NO [LIMIT]` (RFC 5530).
pub const MAX_NAME: usize = 1024;

/// `NO [LIMIT]` for a name past [`MAX_NAME`].
fn too_long(name: &str) -> Option<Status> {
    (name.len() > MAX_NAME).then(|| Status::No("[LIMIT] Mailbox name too long".into()))
}

impl Session<'_> {
    pub(super) async fn create(&mut self, name: &str) -> Status {
        // A trailing delimiter only says the client means to create names under it.
        let name = name.strip_suffix(DELIMITER).unwrap_or(name);
        if let Some(status) = too_long(name) {
            return status;
        }
        if name.eq_ignore_ascii_case("INBOX") {
            return Status::No("[ALREADYEXISTS] INBOX always exists".into());
        }
        if crate::acl::in_shared_namespace(name) {
            return self.create_shared(name).await;
        }
        if let Err(status) = self.room_for(self.account_id(), name, true).await {
            return status;
        }
        if let Err(status) = self.create_parents(name).await {
            return status;
        }
        let store = self.shared.store();
        match store.mailbox_create(self.account_id(), name, None).await {
            Ok(_) => {
                self.publish_change();
                Status::Ok("CREATE completed".into())
            }
            Err(e) => mailbox_error("CREATE", &e),
        }
    }

    /// `NO [LIMIT]` when `owner` cannot have the mailboxes CREATE `name` would add
    /// (`name`, and with `parents` its missing superior names) under
    /// `imap.max_mailboxes`. Checked before anything is created; two CREATEs at the
    /// same moment may each pass with one place left (the limit is a bound on work,
    /// not an exact count).
    async fn room_for(&self, owner: AccountId, name: &str, parents: bool) -> Result<(), Status> {
        let store = self.shared.store();
        let existing = store
            .mailbox_list(owner)
            .await
            .map_err(|e| store_failed("CREATE", &e))?;
        let have: std::collections::HashSet<&str> =
            existing.iter().map(|m| m.name.as_str()).collect();
        let superiors = name
            .char_indices()
            .filter(|&(i, c)| parents && c == DELIMITER && i > 0)
            .map(|(i, _)| &name[..i]);
        let new = superiors
            .chain(std::iter::once(name))
            .filter(|n| !have.contains(n))
            .count();
        let limit = self.shared.settings().max_mailboxes;
        if existing.len() + new > limit {
            return Err(Status::No(format!(
                "[LIMIT] An account may have at most {limit} mailboxes"
            )));
        }
        Ok(())
    }

    /// Creates every missing superior name of `name` (`a` and `a/b` for `a/b/c`).
    async fn create_parents(&mut self, name: &str) -> Result<(), Status> {
        let store = self.shared.store();
        let account = self.account_id();
        for (i, c) in name.char_indices() {
            if c != DELIMITER || i == 0 {
                continue;
            }
            let parent = &name[..i];
            match store.mailbox_create(account, parent, None).await {
                Ok(_) | Err(StoreError::Exists(_)) => {}
                Err(e) => return Err(mailbox_error("CREATE", &e)),
            }
        }
        Ok(())
    }

    pub(super) async fn delete(&mut self, name: &str) -> Status {
        if name.eq_ignore_ascii_case("INBOX") {
            return Status::No("[CANNOT] INBOX cannot be deleted".into());
        }
        let store = self.shared.store();
        // Another account's mailbox needs `x` (RFC 4314 §4) and is deleted in its
        // owner's account; a name nothing resolves to is deleted (or not) as the
        // account's own, for the store's answer.
        let (owner, owner_name) = match self.resolve_mailbox(name).await {
            Ok(Some(target)) if target.access.is_shared() => {
                if let Err(refused) = target.access.require(Rights::DELETE_MAILBOX, "DELETE") {
                    return refused;
                }
                if target.mailbox.name == "INBOX" {
                    return Status::No("[CANNOT] INBOX cannot be deleted".into());
                }
                (target.access.owner, target.mailbox.name)
            }
            Ok(_) => (self.account_id(), name.to_owned()),
            Err(e) => return store_failed("DELETE", &e),
        };
        if self
            .selected
            .as_ref()
            .is_some_and(|open| open.name() == name)
        {
            self.selected = None;
        }
        match store.mailbox_delete(owner, &owner_name).await {
            Ok(()) => {
                self.publish_change();
                self.publish_change_of(owner);
                Status::Ok("DELETE completed".into())
            }
            Err(e) => mailbox_error("DELETE", &e),
        }
    }

    pub(super) async fn rename(&mut self, from: &str, to: &str) -> Status {
        let to = to.strip_suffix(DELIMITER).unwrap_or(to);
        if let Some(status) = too_long(to) {
            return status;
        }
        if crate::acl::in_shared_namespace(to) || crate::acl::in_shared_namespace(from) {
            // The mailboxes under Other Users/ and Shared/ are renamed by their
            // owners (who can also move them out of the way).
            return match self.resolve_mailbox(from).await {
                Ok(Some(target)) if target.access.is_shared() => Status::No(
                    "[NOPERM] Only the owner can rename another account's mailbox".into(),
                ),
                Ok(Some(_)) | Err(_) => Status::No(
                    "[NOPERM] Other Users/ and Shared/ hold other accounts' mailboxes".into(),
                ),
                Ok(None) => Status::No("[NONEXISTENT] No such mailbox".into()),
            };
        }
        // The superior names RENAME makes count against the limit like CREATE's.
        if let Some((parent, _)) = to.rsplit_once(DELIMITER)
            && let Err(status) = self.room_for(self.account_id(), parent, true).await
        {
            return status;
        }
        if let Err(status) = self.create_parents(to).await {
            return status;
        }
        let store = self.shared.store();
        match store.mailbox_rename(self.account_id(), from, to).await {
            Ok(()) => {
                self.publish_change();
                Status::Ok("RENAME completed".into())
            }
            Err(e) => mailbox_error("RENAME", &e),
        }
    }

    pub(super) async fn subscribe(&mut self, name: &str, on: bool) -> Status {
        let store = self.shared.store();
        let verb = if on { "SUBSCRIBE" } else { "UNSUBSCRIBE" };
        if on && let Some(status) = too_long(name) {
            return status;
        }
        match store.mailbox_subscribe(self.account_id(), name, on).await {
            Ok(()) => {
                // NOTIFY's SubscriptionChange (RFC 5465 §5.5) in other sessions.
                self.publish_change();
                Status::Ok(format!("{verb} completed"))
            }
            Err(e) => mailbox_error(verb, &e),
        }
    }

    pub(super) async fn status(&mut self, name: &str, items: &[StatusDataItemName]) -> Status {
        // RFC 7162 §3.1: `STATUS (HIGHESTMODSEQ)` is a CONDSTORE enabling command,
        // whatever mailbox it names and however it ends (see `condstore.rs`).
        if items.contains(&StatusDataItemName::HighestModSeq) {
            self.use_condstore();
        }
        let store = self.shared.store();
        let (mailbox, shown) = match self.resolve_mailbox(name).await {
            // RFC 4314 §4: STATUS needs `r`.
            Ok(Some(target)) => match target.access.require(Rights::READ, "STATUS") {
                Ok(()) => (target.name().to_owned(), target.mailbox),
                Err(refused) => return refused,
            },
            Ok(None) => return Status::No("[NONEXISTENT] No such mailbox".into()),
            Err(e) => return store_failed("STATUS", &e),
        };
        let (mailbox, shown) = (shown, mailbox);
        let messages = match store.message_list_imap(mailbox.id).await {
            Ok(m) => m,
            Err(e) => return store_failed("STATUS", &e),
        };
        let has = |m: &store_api::ImapMessage, flag: &str| m.flags.iter().any(|f| f == flag);
        let mut parts = Vec::new();
        for item in items {
            let part = match item {
                StatusDataItemName::Messages => format!("MESSAGES {}", messages.len()),
                StatusDataItemName::Recent => {
                    format!("RECENT {}", self.status_recent(&mailbox, &messages))
                }
                StatusDataItemName::UidNext => format!("UIDNEXT {}", mailbox.uid_next),
                StatusDataItemName::UidValidity => {
                    format!("UIDVALIDITY {}", mailbox.uid_validity)
                }
                StatusDataItemName::Unseen => format!(
                    "UNSEEN {}",
                    messages.iter().filter(|m| !has(m, "\\Seen")).count()
                ),
                StatusDataItemName::Deleted => format!(
                    "DELETED {}",
                    messages.iter().filter(|m| has(m, "\\Deleted")).count()
                ),
                // RFC 9208 §4.2.4 (required with QUOTA=RES-STORAGE): what an EXPUNGE
                // would free, in the STORAGE resource's 1024-octet units, rounded up
                // like the usage GETQUOTA reports.
                StatusDataItemName::DeletedStorage => {
                    let octets: u64 = messages
                        .iter()
                        .filter(|m| has(m, "\\Deleted"))
                        .map(|m| m.size)
                        .sum();
                    format!("DELETED-STORAGE {}", octets.div_ceil(1024))
                }
                // RFC 7162 §3.1.6 (CONDSTORE, see `condstore.rs`).
                StatusDataItemName::HighestModSeq => {
                    format!("HIGHESTMODSEQ {}", mailbox.highest_modseq)
                }
                StatusDataItemName::Size => {
                    format!("SIZE {}", messages.iter().map(|m| m.size).sum::<u64>())
                }
            };
            parts.push(part);
        }
        let name = self.name_out(&shown);
        self.untagged(&format!("STATUS {name} ({})", parts.join(" ")));
        Status::Ok("STATUS completed".into())
    }
}

impl Session<'_> {
    /// CREATE under `Other Users/OWNER/` or `Shared/OWNER/`: a new mailbox in the
    /// owner's account below one this session has the `k` right on, with that
    /// parent's access control list (as Dovecot gives new mailboxes). Superior names
    /// are not created there.
    async fn create_shared(&mut self, name: &str) -> Status {
        let refused = || {
            Status::No("[NOPERM] Other Users/ and Shared/ hold other accounts' mailboxes".into())
        };
        let Some((parent_name, _)) = name.rsplit_once(DELIMITER) else {
            return refused();
        };
        let parent = match self.resolve_mailbox(parent_name).await {
            Ok(Some(parent)) if parent.access.is_shared() => parent,
            Ok(_) => return refused(),
            Err(e) => return store_failed("CREATE", &e),
        };
        if let Err(status) = parent.access.require(Rights::CREATE, "CREATE") {
            return status;
        }
        let Some(wanted) = SharedName::parse(name) else {
            return refused();
        };
        let store = self.shared.store();
        let owner = parent.access.owner;
        if let Err(status) = self.room_for(owner, wanted.mailbox, false).await {
            return status;
        }
        let created = match store.mailbox_create(owner, wanted.mailbox, None).await {
            Ok(created) => created,
            Err(e) => return mailbox_error("CREATE", &e),
        };
        let inherited = match store.acl_list(parent.mailbox.id).await {
            Ok(entries) => entries,
            Err(e) => return store_failed("CREATE", &e),
        };
        for entry in inherited {
            if let Err(e) = store
                .acl_set(created.id, entry.grantee, &entry.rights)
                .await
            {
                return store_failed("CREATE", &e);
            }
        }
        self.publish_change_of(owner);
        Status::Ok("CREATE completed".into())
    }
}

/// A tagged NO for a failed mailbox operation, with its RFC 5530 code.
pub fn mailbox_error(what: &str, e: &StoreError) -> Status {
    match e {
        StoreError::NotFound(_) => Status::No("[NONEXISTENT] No such mailbox".into()),
        StoreError::Exists(_) => Status::No("[ALREADYEXISTS] Mailbox already exists".into()),
        // Response text is US-ASCII (RFC 3501 §9 `TEXT-CHAR`); the store's reason may
        // quote a UTF-8 name.
        StoreError::Invalid(why) => Status::No(format!(
            "[CANNOT] {what}: {}",
            why.chars()
                .map(|c| if c.is_ascii() {
                    c.to_string()
                } else {
                    c.escape_unicode().to_string()
                })
                .collect::<String>()
        )),
        _ => store_failed(what, e),
    }
}
