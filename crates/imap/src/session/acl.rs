//! The ACL commands (RFC 4314 §3): SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS.
//!
//! Where it sits: imap-codec does not parse these, so the driver hands their raw line
//! to [`super::extended`], which calls [`Session::acl_command`]. Mailbox names resolve
//! as every command's do ([`Session::resolve_mailbox`], `access.rs`): a session's own
//! mailboxes, where it has every right, and the ones other accounts share with it.
//!
//! Identifiers are account addresses and `anyone` (every account of the server). The
//! owner always has every right: its entry is shown by GETACL and cannot be changed.
//! Negative rights (`-identifier`, RFC 4314 §2) are not kept: `NO [CANNOT]`. Rights
//! with a letter RFC 4314 does not define are a `BAD` (§3.1: invalid arguments).
//! GETACL, SETACL, DELETEACL and LISTRIGHTS need the `a` right; MYRIGHTS needs any
//! right that shows the mailbox (§4).

use super::access::{Target, rights_of};
use super::extended::Line;
use super::{Session, Status, store_failed, wire};
use crate::acl::{LISTRIGHTS_OTHERS, Rights};
use store_api::{AccountId, Grantee};

/// One of the commands of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AclCommand {
    SetAcl,
    DeleteAcl,
    GetAcl,
    ListRights,
    MyRights,
}

impl AclCommand {
    /// The command a (upper-case) name is.
    pub fn named(name: &str) -> Option<AclCommand> {
        Some(match name {
            "SETACL" => AclCommand::SetAcl,
            "DELETEACL" => AclCommand::DeleteAcl,
            "GETACL" => AclCommand::GetAcl,
            "LISTRIGHTS" => AclCommand::ListRights,
            "MYRIGHTS" => AclCommand::MyRights,
            _ => return None,
        })
    }

    /// How many astrings follow the mailbox (RFC 4314 §3 syntax).
    fn arguments(self) -> usize {
        match self {
            AclCommand::SetAcl => 2,
            AclCommand::DeleteAcl | AclCommand::ListRights => 1,
            AclCommand::GetAcl | AclCommand::MyRights => 0,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            AclCommand::SetAcl => "SETACL",
            AclCommand::DeleteAcl => "DELETEACL",
            AclCommand::GetAcl => "GETACL",
            AclCommand::ListRights => "LISTRIGHTS",
            AclCommand::MyRights => "MYRIGHTS",
        }
    }
}

/// Who an identifier is.
enum Identified {
    Owner,
    Other(Grantee),
}

impl Session<'_> {
    /// Runs one ACL command whose line `line` is positioned after its name.
    pub(super) async fn acl_command(&mut self, command: AclCommand, line: &mut Line<'_>) -> Status {
        let verb = command.verb();
        let Some((name, args)) = arguments(line, command.arguments()) else {
            return Status::Bad(format!(
                "{verb}: expected a mailbox name and {} more arguments",
                command.arguments()
            ));
        };
        let name = match self.name_in(&name) {
            Ok(name) => name,
            Err(status) => return status,
        };
        let target = match self.resolve_mailbox(&name).await {
            Ok(Some(target)) => target,
            Ok(None) => return Status::No("[NONEXISTENT] No such mailbox".into()),
            Err(e) => return store_failed(verb, &e),
        };
        if command == AclCommand::MyRights {
            if !target.access.rights.may_see_rights() {
                return Status::No("[NONEXISTENT] No such mailbox".into());
            }
            let shown = self.name_out(target.name());
            let rights = target.access.rights.with_obsolete_letters();
            self.untagged(&format!("MYRIGHTS {shown} {}", wire::quoted(&rights)));
            return Status::Ok("MYRIGHTS completed".into());
        }
        if let Err(refused) = target.access.require(Rights::ADMINISTER, verb) {
            return refused;
        }
        match command {
            AclCommand::GetAcl => self.get_acl(&target).await,
            AclCommand::ListRights => self.list_rights(&target, &args[0]).await,
            AclCommand::SetAcl => self.set_acl(&target, &args[0], Some(&args[1])).await,
            AclCommand::DeleteAcl => self.set_acl(&target, &args[0], None).await,
            AclCommand::MyRights => Status::Ok("MYRIGHTS completed".into()),
        }
    }

    /// GETACL (RFC 4314 §3.3): the owner, then the stored entries.
    async fn get_acl(&mut self, target: &Target) -> Status {
        let store = self.shared.store();
        let entries = match store.acl_list(target.mailbox.id).await {
            Ok(entries) => entries,
            Err(e) => return store_failed("GETACL", &e),
        };
        let owner = match self.owner_address(target.access.owner).await {
            Ok(owner) => owner,
            Err(status) => return status,
        };
        let mut line = format!("ACL {}", self.name_out(target.name()));
        let mut push = |identifier: &str, rights: Rights| {
            line.push(' ');
            line.push_str(&wire::string(identifier));
            line.push(' ');
            line.push_str(&wire::quoted(&rights.with_obsolete_letters()));
        };
        push(&owner, Rights::ALL);
        for entry in entries {
            push(&entry.identifier, rights_of(&entry.rights));
        }
        self.untagged(&line);
        Status::Ok("GETACL completed".into())
    }

    /// LISTRIGHTS (RFC 4314 §3.4): the owner has every right, always; anyone else can
    /// be given each right on its own.
    async fn list_rights(&mut self, target: &Target, identifier: &str) -> Status {
        let rights = match self.identify(target, identifier).await {
            Ok(Identified::Owner) => Rights::ALL.to_string(),
            Ok(Identified::Other(_)) => LISTRIGHTS_OTHERS.to_owned(),
            Err(status) => return status,
        };
        let shown = self.name_out(target.name());
        self.untagged(&format!(
            "LISTRIGHTS {shown} {} {rights}",
            wire::string(identifier)
        ));
        Status::Ok("LISTRIGHTS completed".into())
    }

    /// SETACL with `rights` (RFC 4314 §3.1: `+` adds, `-` removes, else replaces),
    /// DELETEACL without (§3.2).
    async fn set_acl(&mut self, target: &Target, identifier: &str, rights: Option<&str>) -> Status {
        let verb = if rights.is_some() {
            "SETACL"
        } else {
            "DELETEACL"
        };
        let grantee = match self.identify(target, identifier).await {
            Ok(Identified::Other(grantee)) => grantee,
            Ok(Identified::Owner) => {
                return Status::No("[CANNOT] The owner always has every right".into());
            }
            Err(status) => return status,
        };
        let store = self.shared.store();
        let new = match rights {
            None => Rights::NONE,
            Some(change) => {
                let entries = match store.acl_list(target.mailbox.id).await {
                    Ok(entries) => entries,
                    Err(e) => return store_failed(verb, &e),
                };
                let current = entries
                    .iter()
                    .find(|e| e.grantee == grantee)
                    .map_or(Rights::NONE, |e| rights_of(&e.rights));
                match current.modify(change) {
                    Ok(new) => new,
                    Err(why) => return Status::Bad(format!("{verb}: {why}")),
                }
            }
        };
        match store
            .acl_set(target.mailbox.id, grantee, &new.to_string())
            .await
        {
            Ok(()) => {
                // Their LIST (and NOTIFY) now shows the mailbox, or no longer does.
                if let Grantee::Account(account) = grantee {
                    self.publish_change_of(account);
                }
                Status::Ok(format!("{verb} completed"))
            }
            Err(e) => store_failed(verb, &e),
        }
    }

    /// Who `identifier` is for `target`'s ACL: its owner, `anyone` or an account.
    async fn identify(&self, target: &Target, identifier: &str) -> Result<Identified, Status> {
        if identifier.starts_with('-') {
            return Err(Status::No(
                "[CANNOT] Negative rights are not supported".into(),
            ));
        }
        if identifier.eq_ignore_ascii_case("anyone") {
            return Ok(Identified::Other(Grantee::Anyone));
        }
        let not_found = || Status::No(format!("[NONEXISTENT] No account {identifier}"));
        let Ok(address) = message::Address::parse(identifier) else {
            return Err(not_found());
        };
        let store = self.shared.store();
        match store.account_get(&address).await {
            Ok(Some(account)) if account.id == target.access.owner => Ok(Identified::Owner),
            Ok(Some(account)) => Ok(Identified::Other(Grantee::Account(account.id))),
            Ok(None) => Err(not_found()),
            Err(e) => Err(store_failed("ACL", &e)),
        }
    }

    /// The address of `owner`, for GETACL.
    async fn owner_address(&self, owner: AccountId) -> Result<String, Status> {
        if owner == self.account_id()
            && let Some(account) = &self.account
        {
            return Ok(account.address.to_string());
        }
        let store = self.shared.store();
        match store.acl_shared_with(self.account_id()).await {
            Ok(shared) => Ok(shared
                .into_iter()
                .find(|s| s.owner == owner)
                .map(|s| s.owner_address.to_string())
                .unwrap_or_default()),
            Err(e) => Err(store_failed("GETACL", &e)),
        }
    }
}

/// The mailbox and `count` more astrings, space-separated, to the end of the line.
fn arguments(line: &mut Line<'_>, count: usize) -> Option<(Vec<u8>, Vec<String>)> {
    if !line.space() {
        return None;
    }
    let mailbox = line.astring_bytes()?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        if !line.space() {
            return None;
        }
        args.push(line.astring()?);
    }
    line.at_end().then_some((mailbox, args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_counts() {
        let parse = |text: &str, count| {
            let mut line = Line::new(text.as_bytes());
            arguments(&mut line, count)
        };
        let (mailbox, args) = parse(" INBOX bob@example.org +lr", 2).unwrap();
        assert_eq!(
            (mailbox.as_slice(), args.as_slice()),
            (
                &b"INBOX"[..],
                &["bob@example.org".to_owned(), "+lr".to_owned()][..]
            )
        );
        let (mailbox, args) = parse(" \"Other Users/x@y/INBOX\"", 0).unwrap();
        assert_eq!(mailbox, b"Other Users/x@y/INBOX");
        assert!(args.is_empty());
        assert_eq!(parse(" INBOX", 1), None, "missing identifier");
        assert_eq!(parse(" INBOX bob lr extra", 2), None, "too many");
        assert_eq!(parse("", 0), None);
    }

    #[test]
    fn command_names() {
        assert_eq!(AclCommand::named("GETACL"), Some(AclCommand::GetAcl));
        assert_eq!(
            AclCommand::named("MYRIGHTS").map(AclCommand::arguments),
            Some(0)
        );
        assert_eq!(
            AclCommand::named("SETACL").map(AclCommand::arguments),
            Some(2)
        );
        assert_eq!(AclCommand::named("ACL"), None);
    }
}
