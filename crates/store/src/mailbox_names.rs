//! Mailbox names and special uses: which names are valid, how INBOX is recognised,
//! which mailboxes a new account starts with, and how RENAME maps a hierarchy.
//!
//! Where it sits: both backends call these before touching their tables, so a name
//! means the same thing to either.
//!
//! Rules:
//! - `INBOX` matches case-insensitively and is always kept spelled `INBOX` (RFC 3501
//!   §5.1); every other name matches exactly.
//! - The hierarchy is by name with `/` as the separator: `a/b` is a child of `a`
//!   whether or not `a` exists. A name is not empty, has no empty level (no leading,
//!   trailing or doubled `/`) and no NUL, CR or LF.
//! - Special uses are the RFC 6154 §2 attributes, kept spelled as there.

use crate::{Result, StoreError};

/// The name of the mailbox every account has (RFC 3501 §5.1).
pub(crate) const INBOX: &str = "INBOX";

/// The hierarchy separator.
pub(crate) const SEPARATOR: char = '/';

/// The mailboxes a new account gets besides INBOX, with their special use (RFC 6154),
/// in creation order. All of them, and INBOX, start subscribed.
pub(crate) const DEFAULT_SPECIAL: [(&str, &str); 5] = [
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
];

/// The special-use attributes RFC 6154 §2 defines.
const SPECIAL_USES: [&str; 7] = [
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
];

/// True when `name` is INBOX, in any case.
pub(crate) fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case(INBOX)
}

/// Checks a mailbox name and spells INBOX canonically. `Invalid` for an empty name, an
/// empty hierarchy level or a control character that would break a protocol line.
pub(crate) fn canonical(name: &str) -> Result<String> {
    if is_inbox(name) {
        return Ok(INBOX.to_string());
    }
    let bad_level = name.split(SEPARATOR).any(str::is_empty);
    let bad_char = name.chars().any(|c| matches!(c, '\0' | '\r' | '\n'));
    if bad_level || bad_char {
        return Err(StoreError::Invalid(format!("bad mailbox name {name:?}")));
    }
    Ok(name.to_string())
}

/// Checks a special-use attribute and spells it as RFC 6154 does; `Invalid` otherwise.
pub(crate) fn special_use(attr: &str) -> Result<String> {
    SPECIAL_USES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(attr))
        .map(|s| (*s).to_string())
        .ok_or_else(|| StoreError::Invalid(format!("unknown special use {attr:?}")))
}

/// What `name` becomes when `from` is renamed to `to`: `to` for `from` itself,
/// `to/rest` for a child `from/rest`, `None` for names outside that hierarchy.
pub(crate) fn renamed(name: &str, from: &str, to: &str) -> Option<String> {
    if name == from {
        return Some(to.to_string());
    }
    let rest = name.strip_prefix(from)?.strip_prefix(SEPARATOR)?;
    Some(format!("{to}{SEPARATOR}{rest}"))
}

/// Checks a RENAME of two canonical names that are not INBOX: `to` may not be inside
/// `from`'s own hierarchy (`a` to `a/b`), which would make a mailbox its own ancestor.
pub(crate) fn check_rename(from: &str, to: &str) -> Result<()> {
    if renamed(to, from, "").is_some() && from != to {
        return Err(StoreError::Invalid(format!(
            "cannot rename {from:?} into its own hierarchy ({to:?})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(canonical("inBox").expect("inbox"), "INBOX");
        assert_eq!(canonical("Work/2024").expect("child"), "Work/2024");
        assert_eq!(canonical("inbox/x").expect("child of inbox"), "inbox/x");
        for bad in ["", "/a", "a/", "a//b", "a\r\nb", "nul\0"] {
            assert!(
                matches!(canonical(bad), Err(StoreError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn special_uses() {
        assert_eq!(special_use("\\sent").expect("sent"), "\\Sent");
        assert!(matches!(
            special_use("\\Important"),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn rename_mapping() {
        assert_eq!(renamed("a", "a", "b").as_deref(), Some("b"));
        assert_eq!(renamed("a/x/y", "a", "b/c").as_deref(), Some("b/c/x/y"));
        assert_eq!(renamed("ab", "a", "b"), None);
        assert_eq!(renamed("b", "a", "c"), None);
        assert!(check_rename("a", "a/b").is_err());
        assert!(check_rename("a", "ab").is_ok());
        assert!(check_rename("a/b", "a").is_ok());
    }
}
