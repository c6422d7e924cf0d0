//! Access rights on a mailbox (RFC 4314 §2.1) and the names under which other
//! accounts' mailboxes appear (RFC 2342 namespaces).
//!
//! Where it sits: the store keeps each mailbox's access control list as right letters
//! per grantee; the server's IMAP session turns them into [`Rights`] to decide what a
//! command may do on a mailbox another account shares (`session/access.rs`),
//! and `postie share` validates what an administrator types with [`Rights::parse`].
//! [`SharedName`] maps between a shared mailbox and its name in the session's
//! `Other Users/` or `Shared/` namespace. Pure code: no store, no I/O.

use std::fmt;

/// A set of RFC 4314 §2.1 rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Rights(u16);

/// The rights in RFC 4314 §2.1's order, with their letters.
const LETTERS: [(char, u16); 11] = [
    ('l', Rights::LOOKUP.0),
    ('r', Rights::READ.0),
    ('s', Rights::SEEN.0),
    ('w', Rights::WRITE.0),
    ('i', Rights::INSERT.0),
    ('p', Rights::POST.0),
    ('k', Rights::CREATE.0),
    ('x', Rights::DELETE_MAILBOX.0),
    ('t', Rights::DELETE_MESSAGES.0),
    ('e', Rights::EXPUNGE.0),
    ('a', Rights::ADMINISTER.0),
];

impl Rights {
    /// `l`: the mailbox is visible to LIST.
    pub const LOOKUP: Rights = Rights(1);
    /// `r`: SELECT, EXAMINE, STATUS, FETCH, SEARCH, COPY from it.
    pub const READ: Rights = Rights(1 << 1);
    /// `s`: keep `\Seen` across sessions.
    pub const SEEN: Rights = Rights(1 << 2);
    /// `w`: flags and keywords other than `\Seen` and `\Deleted`.
    pub const WRITE: Rights = Rights(1 << 3);
    /// `i`: APPEND, COPY and MOVE into it.
    pub const INSERT: Rights = Rights(1 << 4);
    /// `p`: post to its submission address (not enforced by IMAP).
    pub const POST: Rights = Rights(1 << 5);
    /// `k`: create mailboxes below it.
    pub const CREATE: Rights = Rights(1 << 6);
    /// `x`: delete (or rename) it.
    pub const DELETE_MAILBOX: Rights = Rights(1 << 7);
    /// `t`: set or clear `\Deleted`.
    pub const DELETE_MESSAGES: Rights = Rights(1 << 8);
    /// `e`: EXPUNGE, and the expunge of CLOSE.
    pub const EXPUNGE: Rights = Rights(1 << 9);
    /// `a`: GETACL, SETACL, DELETEACL, LISTRIGHTS.
    pub const ADMINISTER: Rights = Rights(1 << 10);
    /// No right.
    pub const NONE: Rights = Rights(0);
    /// Every right: what a mailbox's owner has.
    pub const ALL: Rights = Rights((1 << 11) - 1);

    /// The obsolete `c` of RFC 2086 (RFC 4314 §2.1.1): `k` and `x` together.
    const OBSOLETE_CREATE: Rights = Rights(Rights::CREATE.0 | Rights::DELETE_MAILBOX.0);
    /// The obsolete `d`: `t` and `e` together.
    const OBSOLETE_DELETE: Rights = Rights(Rights::DELETE_MESSAGES.0 | Rights::EXPUNGE.0);
    /// Any of these is enough for MYRIGHTS (RFC 4314 §4: MYRIGHTS needs one of
    /// `l`, `r`, `i`, `k`, `x`, `a`).
    const ANY_FOR_MYRIGHTS: Rights = Rights(
        Rights::LOOKUP.0
            | Rights::READ.0
            | Rights::INSERT.0
            | Rights::CREATE.0
            | Rights::DELETE_MAILBOX.0
            | Rights::ADMINISTER.0,
    );
    /// Any of these makes a SELECT read-write (RFC 4314 §4: without all of them the
    /// server may answer `[READ-ONLY]`).
    const ANY_WRITE: Rights = Rights(
        Rights::SEEN.0
            | Rights::WRITE.0
            | Rights::INSERT.0
            | Rights::DELETE_MESSAGES.0
            | Rights::EXPUNGE.0,
    );

    /// What `postie share add` grants when not told: read and write messages, not
    /// create or delete mailboxes, not administer.
    pub fn default_share() -> Rights {
        Rights::parse("lrswipte").unwrap_or(Rights::NONE)
    }

    /// Parses right letters (RFC 4314 §2.1), taking the obsolete `c` as `kx` and `d`
    /// as `te` (§2.1.1). Letters may repeat and come in any order. An unknown letter
    /// is an error naming it (the `BAD` of SETACL, RFC 4314 §3.1).
    pub fn parse(text: &str) -> Result<Rights, String> {
        let mut rights = Rights::NONE;
        for c in text.chars() {
            rights = rights.with(match c {
                'c' => Rights::OBSOLETE_CREATE,
                'd' => Rights::OBSOLETE_DELETE,
                _ => match LETTERS.iter().find(|(letter, _)| *letter == c) {
                    Some((_, bit)) => Rights(*bit),
                    None => return Err(format!("unknown right {c:?} (RFC 4314: lrswipkxtea)")),
                },
            });
        }
        Ok(rights)
    }

    /// Applies SETACL's rights argument to `self` (RFC 4314 §3.1): `+letters` adds,
    /// `-letters` removes, plain letters replace.
    pub fn modify(self, change: &str) -> Result<Rights, String> {
        if let Some(added) = change.strip_prefix('+') {
            Ok(self.with(Rights::parse(added)?))
        } else if let Some(removed) = change.strip_prefix('-') {
            Ok(self.without(Rights::parse(removed)?))
        } else {
            Rights::parse(change)
        }
    }

    /// These rights and `other`'s.
    pub fn with(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// These rights without `other`'s.
    pub fn without(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }

    /// Every right of `other` is here.
    pub fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// No right at all.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// MYRIGHTS may be answered (RFC 4314 §4).
    pub fn may_see_rights(self) -> bool {
        self.0 & Rights::ANY_FOR_MYRIGHTS.0 != 0
    }

    /// A SELECT of the mailbox is read-write (RFC 4314 §4).
    pub fn may_write(self) -> bool {
        self.0 & Rights::ANY_WRITE.0 != 0
    }

    /// The letters with RFC 2086's `c` and `d` added when any of their member rights
    /// is present, as MYRIGHTS and GETACL answer (RFC 4314 §2.1.1: "When any of the
    /// "create" member rights is set ... the server MUST also include the "c" right";
    /// its example turns `lrswikda` into `lrswikcdeta`).
    pub fn with_obsolete_letters(self) -> String {
        let mut text = self.to_string();
        if self.0 & Rights::OBSOLETE_CREATE.0 != 0 {
            text.push('c');
        }
        if self.0 & Rights::OBSOLETE_DELETE.0 != 0 {
            text.push('d');
        }
        text
    }
}

impl fmt::Display for Rights {
    /// The letters in RFC 4314 §2.1's order (`lrswipkxtea`), each once.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (letter, bit) in LETTERS {
            if self.0 & bit != 0 {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// The RIGHTS= capability (RFC 4314 §2.1): the rights beyond RFC 2086 this server
/// keeps apart.
pub const CAPABILITIES: [&str; 2] = ["ACL", "RIGHTS=texk"];

/// LISTRIGHTS' answer for a grantee other than the owner (RFC 4314 §3.7): nothing is
/// granted always, every right can be granted on its own.
pub const LISTRIGHTS_OTHERS: &str = "\"\" l r s w i p k x t e a c d";

/// The namespace of mailboxes other accounts share with one account by name
/// (RFC 2342 §5 "Other Users' Namespace").
pub const OTHER_USERS: &str = "Other Users";

/// The namespace of mailboxes shared with every account (`anyone`; RFC 2342 §5
/// "Shared Namespace").
pub const SHARED: &str = "Shared";

/// Where a shared mailbox appears to the accounts it is shared with:
/// `Other Users/OWNER/NAME`, or `Shared/OWNER/NAME` when it is shared with `anyone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedName<'a> {
    /// Shared with `anyone` (the `Shared/` namespace).
    pub anyone: bool,
    /// The owner's address.
    pub owner: &'a str,
    /// The mailbox's name in the owner's account.
    pub mailbox: &'a str,
}

impl<'a> SharedName<'a> {
    /// The name the session sees.
    pub fn name(&self) -> String {
        let root = if self.anyone { SHARED } else { OTHER_USERS };
        format!("{root}/{}/{}", self.owner, self.mailbox)
    }

    /// Splits a session's name into namespace, owner and mailbox; `None` for a name
    /// outside the two namespaces or without an owner and a mailbox. The owner is
    /// what comes before the next `/` (an address with a `/` in its local part cannot
    /// be reached this way).
    pub fn parse(name: &'a str) -> Option<SharedName<'a>> {
        let (anyone, rest) = if let Some(rest) = strip_root(name, OTHER_USERS) {
            (false, rest)
        } else {
            (true, strip_root(name, SHARED)?)
        };
        let (owner, mailbox) = rest.split_once('/')?;
        if owner.is_empty() || mailbox.is_empty() {
            return None;
        }
        Some(SharedName {
            anyone,
            owner,
            mailbox,
        })
    }
}

/// `name` without `root/` in front, if it starts so.
fn strip_root<'n>(name: &'n str, root: &str) -> Option<&'n str> {
    name.strip_prefix(root)?.strip_prefix('/')
}

/// Whether `name` is one of the namespace roots or inside one (`Other Users`,
/// `Shared/x`, ...): names a personal mailbox should not be created under.
pub fn in_shared_namespace(name: &str) -> bool {
    [OTHER_USERS, SHARED]
        .iter()
        .any(|root| name == *root || strip_root(name, root).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_round_trip_in_rfc_order() {
        assert_eq!(
            Rights::parse("aetxkpiwsrl").unwrap().to_string(),
            "lrswipkxtea"
        );
        assert_eq!(Rights::ALL.to_string(), "lrswipkxtea");
        assert_eq!(Rights::parse("rrl").unwrap().to_string(), "lr");
        assert_eq!(Rights::parse("").unwrap(), Rights::NONE);
        assert_eq!(Rights::default_share().to_string(), "lrswipte");
    }

    #[test]
    fn obsolete_letters_expand_and_come_back() {
        // RFC 4314 §2.1.1.
        assert_eq!(Rights::parse("c").unwrap().to_string(), "kx");
        assert_eq!(Rights::parse("d").unwrap().to_string(), "te");
        assert_eq!(Rights::ALL.with_obsolete_letters(), "lrswipkxteacd");
        // Any member right brings its letter (§2.1.1), as in the RFC's example.
        assert_eq!(
            Rights::parse("lrk").unwrap().with_obsolete_letters(),
            "lrkc"
        );
        assert_eq!(
            Rights::parse("lrt").unwrap().with_obsolete_letters(),
            "lrtd"
        );
        assert_eq!(Rights::parse("lrs").unwrap().with_obsolete_letters(), "lrs");
        assert_eq!(
            Rights::parse("lrswikda").unwrap().with_obsolete_letters(),
            "lrswikteacd"
        );
    }

    #[test]
    fn unknown_letters_are_refused() {
        assert!(Rights::parse("lrz").unwrap_err().contains("'z'"));
        assert!(Rights::parse("LR").is_err(), "rights are lower case");
    }

    #[test]
    fn modifiers_add_remove_replace() {
        let lr = Rights::parse("lr").unwrap();
        assert_eq!(lr.modify("+sw").unwrap().to_string(), "lrsw");
        assert_eq!(lr.modify("-r").unwrap().to_string(), "l");
        assert_eq!(lr.modify("ie").unwrap().to_string(), "ie");
        assert_eq!(lr.modify("-").unwrap(), lr);
        assert!(lr.modify("+q").is_err());
    }

    #[test]
    fn rights_for_commands() {
        let read_only = Rights::parse("lr").unwrap();
        assert!(!read_only.may_write());
        assert!(read_only.may_see_rights());
        assert!(Rights::parse("lrs").unwrap().may_write());
        assert!(!Rights::parse("p").unwrap().may_see_rights());
        assert!(Rights::ALL.contains(Rights::ADMINISTER));
        assert!(!read_only.contains(Rights::parse("lrw").unwrap()));
    }

    #[test]
    fn shared_names_both_ways() {
        let other = SharedName {
            anyone: false,
            owner: "bob@example.org",
            mailbox: "INBOX/Reports",
        };
        assert_eq!(other.name(), "Other Users/bob@example.org/INBOX/Reports");
        assert_eq!(SharedName::parse(&other.name()), Some(other));
        let shared = SharedName::parse("Shared/info@example.org/INBOX").unwrap();
        assert!(shared.anyone);
        assert_eq!(
            (shared.owner, shared.mailbox),
            ("info@example.org", "INBOX")
        );
        for name in [
            "Other Users",
            "Other Users/bob",
            "Other Users//INBOX",
            "Sharedx/a/b",
            "INBOX",
        ] {
            assert_eq!(SharedName::parse(name), None, "{name}");
        }
        assert!(in_shared_namespace("Other Users"));
        assert!(in_shared_namespace("Shared/x"));
        assert!(!in_shared_namespace("Shared stuff"));
        assert!(!in_shared_namespace("INBOX/Shared"));
    }
}
