//! Message flags as the store keeps them (RFC 3501 §2.3.2): checking and spelling
//! them one way, combining them for STORE, and the one-line text form SQLite keeps.
//!
//! Where it sits: both backends call [`normalize`] on the flags a caller hands in
//! (`message_flags_set`, `message_append`) and [`apply`] to work out a message's new
//! flags, so the two backends cannot disagree on what a flag list is.
//!
//! The canonical form: system flags spelled `\Seen`, `\Answered`, `\Flagged`,
//! `\Deleted`, `\Draft` whatever case they came in; keywords kept as first given;
//! system flags first, then keywords, each sorted case-insensitively, with
//! case-insensitive duplicates dropped. `\Recent` is never stored: it
//! belongs to a session (RFC 3501 §2.3.2), so it is silently left out.

use crate::{FlagChange, Result, StoreError};

/// The system flags a client may set, spelled as the store keeps them.
const SYSTEM: [&str; 5] = ["\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen"];

/// The flag EXPUNGE looks for (RFC 3501 §6.4.3).
pub(crate) const DELETED: &str = "\\Deleted";

/// The session flag the store never keeps.
const RECENT: &str = "\\Recent";

/// True for a byte a `flag-keyword` (an IMAP `atom`, RFC 3501 §9) may contain:
/// printable ASCII except the atom-specials `( ) { SP % * " \ ]`.
fn atom_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && !b"(){%*\"\\]".contains(&b)
}

/// Checks one flag and spells it canonically; `None` for `\Recent`.
fn canonical(flag: &str) -> Result<Option<String>> {
    if let Some(name) = flag.strip_prefix('\\') {
        if RECENT[1..].eq_ignore_ascii_case(name) {
            return Ok(None);
        }
        return SYSTEM
            .iter()
            .find(|s| s[1..].eq_ignore_ascii_case(name))
            .map(|s| Some((*s).to_string()))
            .ok_or_else(|| StoreError::Invalid(format!("unknown system flag {flag:?}")));
    }
    if flag.is_empty() || !flag.bytes().all(atom_char) {
        return Err(StoreError::Invalid(format!(
            "malformed flag keyword {flag:?}"
        )));
    }
    Ok(Some(flag.to_string()))
}

/// Sorts (system flags first, then case-insensitively) and drops case-insensitive
/// duplicates (the first spelling stays). The input's system flags must already be canonical.
fn tidy(mut flags: Vec<String>) -> Vec<String> {
    flags.sort_by_cached_key(|f| (!f.starts_with('\\'), f.to_ascii_lowercase()));
    flags.dedup_by(|later, earlier| later.eq_ignore_ascii_case(earlier));
    flags
}

/// Checks flags a caller hands in and puts them in canonical form. `Invalid` for an
/// unknown system flag or a keyword that is not an IMAP atom.
pub(crate) fn normalize(flags: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(flags.len());
    for f in flags {
        out.extend(canonical(f)?);
    }
    Ok(tidy(out))
}

/// A message's flags after `change` with `given` (both canonical); canonical too.
pub(crate) fn apply(current: &[String], change: FlagChange, given: &[String]) -> Vec<String> {
    match change {
        FlagChange::Replace => given.to_vec(),
        FlagChange::Add => tidy(current.iter().chain(given).cloned().collect()),
        FlagChange::Remove => current
            .iter()
            .filter(|f| !given.iter().any(|g| g.eq_ignore_ascii_case(f)))
            .cloned()
            .collect(),
    }
}

/// True when the (canonical) flags include `\Deleted`.
pub(crate) fn has_deleted(flags: &[String]) -> bool {
    flags.iter().any(|f| f == DELETED)
}

/// The stored text form: canonical flags separated by single spaces (no flag contains
/// a space, so this round-trips).
pub(crate) fn encode(flags: &[String]) -> String {
    flags.join(" ")
}

/// Reads the stored text form back.
pub(crate) fn decode(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn normalizes_spelling_order_and_duplicates() {
        let got = normalize(&strings(&[
            "work",
            "\\SEEN",
            "$Label1",
            "\\recent",
            "Work",
            "\\flagged",
            "\\Seen",
        ]))
        .expect("valid");
        assert_eq!(got, strings(&["\\Flagged", "\\Seen", "$Label1", "work"]));
        assert!(normalize(&[]).expect("empty").is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_flag() {
        for bad in [
            "",
            "\\Bogus",
            "two words",
            "par(en",
            "star*",
            "br]acket",
            "é",
        ] {
            assert!(
                matches!(normalize(&strings(&[bad])), Err(StoreError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn apply_adds_removes_replaces() {
        let cur = strings(&["\\Seen", "work"]);
        assert_eq!(
            apply(&cur, FlagChange::Add, &strings(&["\\Deleted", "WORK"])),
            strings(&["\\Deleted", "\\Seen", "work"])
        );
        assert_eq!(
            apply(&cur, FlagChange::Remove, &strings(&["Work", "\\Draft"])),
            strings(&["\\Seen"])
        );
        assert_eq!(
            apply(&cur, FlagChange::Replace, &strings(&["\\Draft"])),
            strings(&["\\Draft"])
        );
        assert!(has_deleted(&strings(&["\\Deleted"])));
        assert!(!has_deleted(&cur));
    }

    #[test]
    fn text_form_round_trips() {
        let flags = strings(&["\\Answered", "\\Seen", "$Forwarded"]);
        assert_eq!(encode(&flags), "\\Answered \\Seen $Forwarded");
        assert_eq!(decode(&encode(&flags)), flags);
        assert!(decode("").is_empty());
    }
}
