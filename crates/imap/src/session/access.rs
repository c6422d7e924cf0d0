//! Which mailbox a name means for this session, and what the session may do there:
//! its own mailboxes with every right, and the mailboxes other accounts share with it
//! (RFC 4314 ACL) under `Other Users/OWNER/NAME` and `Shared/OWNER/NAME` (RFC 2342
//! namespaces, [`crate::acl::SharedName`]).
//!
//! Where it sits: every command that names a mailbox resolves it here
//! ([`Session::resolve_mailbox`]) instead of asking the store for the account's mailbox, and
//! checks the right it needs ([`Access::require`]); LIST, LSUB and NOTIFY list
//! [`Session::visible_mailboxes`]. A personal mailbox wins over a shared one of the
//! same name (one made before sharing existed stays reachable). Rights are read when
//! the command runs (for the selected mailbox: at SELECT).
//!
//! A mailbox the session may neither look up (`l`) nor read (`r`) does not exist for
//! it: `NO [NONEXISTENT]`, never a hint that it does (RFC 4314 §6). Missing another
//! right is `NO [NOPERM]` (RFC 5530).

use super::{Session, Status};
use crate::acl::{Rights, SharedName};
use store_api::{AccountId, Mailbox, SharedMailbox, StoreError};

/// What this session may do on one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The account the mailbox belongs to.
    pub owner: AccountId,
    /// This session's rights there (every right on its own mailboxes).
    pub rights: Rights,
    /// The name this session knows it by, for a mailbox of another account; `None`
    /// for its own (whose name is the store's).
    pub shared_name: Option<String>,
}

impl Access {
    /// A session's own mailbox.
    pub fn own(account: AccountId) -> Access {
        Access {
            owner: account,
            rights: Rights::ALL,
            shared_name: None,
        }
    }

    /// `Ok` when the session has every right of `needed`, else `NO [NOPERM]` naming
    /// what `action` needs.
    pub fn require(&self, needed: Rights, action: &str) -> Result<(), Status> {
        if self.rights.contains(needed) {
            Ok(())
        } else {
            Err(Status::No(format!(
                "[NOPERM] {action} needs the {needed} right on this mailbox (RFC 4314)"
            )))
        }
    }

    /// The name the session knows `mailbox` by.
    pub fn name<'m>(&'m self, mailbox: &'m Mailbox) -> &'m str {
        self.shared_name.as_deref().unwrap_or(&mailbox.name)
    }

    /// Whether the mailbox is another account's.
    pub fn is_shared(&self) -> bool {
        self.shared_name.is_some()
    }

    /// Drops from `flags` the ones this session may not set or clear (RFC 4314 §4:
    /// `\Seen` needs `s`, `\Deleted` needs `t`, every other flag and keyword `w`).
    pub fn permitted_flags(&self, flags: Vec<String>) -> Vec<String> {
        flags
            .into_iter()
            .filter(|flag| self.rights.contains(flag_right(flag)))
            .collect()
    }
}

/// The right a flag needs (RFC 4314 §4, STORE).
pub fn flag_right(flag: &str) -> Rights {
    if flag.eq_ignore_ascii_case("\\Seen") {
        Rights::SEEN
    } else if flag.eq_ignore_ascii_case("\\Deleted") {
        Rights::DELETE_MESSAGES
    } else {
        Rights::WRITE
    }
}

/// A mailbox a name resolved to.
pub struct Target {
    /// The store's record (with the owner's name for it).
    pub mailbox: Mailbox,
    pub access: Access,
}

impl Target {
    /// The name the session knows it by.
    pub fn name(&self) -> &str {
        self.access.name(&self.mailbox)
    }
}

/// The name `shared` has for the accounts it is shared with.
pub fn shared_name(shared: &SharedMailbox) -> String {
    SharedName {
        anyone: shared.anyone,
        owner: &shared.owner_address.to_string(),
        mailbox: &shared.mailbox.name,
    }
    .name()
}

/// The rights a store entry's letters give (letters the store holds were checked
/// when set; anything else counts as no right).
pub fn rights_of(letters: &str) -> Rights {
    Rights::parse(letters).unwrap_or(Rights::NONE)
}

impl Session<'_> {
    /// The mailbox `name` means for this session (see the module docs); `None` when
    /// there is none it may know of.
    pub async fn resolve_mailbox(&self, name: &str) -> Result<Option<Target>, StoreError> {
        let store = self.shared.store();
        let account = self.account_id();
        if let Some(mailbox) = store.mailbox_get(account, name).await? {
            return Ok(Some(Target {
                mailbox,
                access: Access::own(account),
            }));
        }
        let Some(wanted) = SharedName::parse(name) else {
            return Ok(None);
        };
        let found = store
            .acl_shared_with(account)
            .await?
            .into_iter()
            .find(|s| is_named(s, &wanted));
        Ok(found.and_then(|shared| {
            let rights = rights_of(&shared.rights);
            if !rights.contains(Rights::LOOKUP) && !rights.contains(Rights::READ) {
                return None;
            }
            let access = Access {
                owner: shared.owner,
                rights,
                shared_name: Some(shared_name(&shared)),
            };
            Some(Target {
                mailbox: shared.mailbox,
                access,
            })
        }))
    }

    /// The mailbox APPEND, COPY or MOVE (`verb`) files into: `NO [TRYCREATE]` when
    /// there is none (RFC 3501 §6.3.11), `NO [NOPERM]` without the `i` right
    /// (RFC 4314 §4).
    pub async fn insert_target(&self, name: &str, verb: &str) -> Result<Target, Status> {
        match self.resolve_mailbox(name).await {
            Ok(Some(target)) => {
                target.access.require(Rights::INSERT, verb)?;
                Ok(target)
            }
            Ok(None) => Err(Status::No("[TRYCREATE] No such mailbox".into())),
            Err(e) => Err(super::store_failed(verb, &e)),
        }
    }

    /// Every mailbox this session may list: its own, then those shared with it where
    /// it has the `l` right, named as the session knows them and without a special
    /// use (another account's `\Sent` is not this one's).
    pub async fn visible_mailboxes(&self) -> Result<Vec<Mailbox>, StoreError> {
        let store = self.shared.store();
        let account = self.account_id();
        let mut mailboxes = store.mailbox_list(account).await?;
        for shared in store.acl_shared_with(account).await? {
            if !rights_of(&shared.rights).contains(Rights::LOOKUP) {
                continue;
            }
            let name = shared_name(&shared);
            mailboxes.push(Mailbox {
                name,
                special_use: None,
                subscribed: false,
                ..shared.mailbox
            });
        }
        Ok(mailboxes)
    }
}

impl Session<'_> {
    /// The PERMANENTFLAGS of a selected mailbox of another account where this
    /// session lacks `w`: only the system flags its `s` and `t` rights allow, no
    /// keywords (RFC 4314 §4). `None` when every flag is permitted.
    pub fn limited_permanent_flags(&self) -> Option<String> {
        let open = self.selected.as_ref()?;
        if open.access.rights.contains(Rights::WRITE) {
            return None;
        }
        let flags = open
            .access
            .permitted_flags(vec!["\\Deleted".into(), "\\Seen".into()]);
        Some(flags.join(" "))
    }
}

/// Whether `shared` is the mailbox `wanted` names: same namespace, the owner's
/// address (ASCII case aside), the mailbox (INBOX in any case).
fn is_named(shared: &SharedMailbox, wanted: &SharedName<'_>) -> bool {
    let same_mailbox = shared.mailbox.name == wanted.mailbox
        || (shared.mailbox.name == "INBOX" && wanted.mailbox.eq_ignore_ascii_case("INBOX"));
    shared.anyone == wanted.anyone
        && same_mailbox
        && shared
            .owner_address
            .to_string()
            .eq_ignore_ascii_case(wanted.owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_need_their_rights() {
        let access = Access {
            owner: AccountId(2),
            rights: Rights::parse("lrs").unwrap(),
            shared_name: Some("Other Users/bob@example.org/INBOX".into()),
        };
        let flags = ["\\Seen", "\\Deleted", "\\Flagged", "$Junk"].map(String::from);
        assert_eq!(access.permitted_flags(flags.to_vec()), ["\\Seen"]);
        let writer = Access {
            rights: Rights::parse("lrwt").unwrap(),
            ..access.clone()
        };
        assert_eq!(
            writer.permitted_flags(flags.to_vec()),
            ["\\Deleted", "\\Flagged", "$Junk"]
        );
        assert!(access.require(Rights::READ, "SELECT").is_ok());
        let Err(Status::No(text)) = access.require(Rights::EXPUNGE, "EXPUNGE") else {
            panic!("EXPUNGE without e");
        };
        assert!(
            text.starts_with("[NOPERM] EXPUNGE needs the e right"),
            "{text}"
        );
        let own = Access::own(AccountId(1));
        assert!(!own.is_shared());
        assert_eq!(own.permitted_flags(flags.to_vec()).len(), 4);
    }
}
