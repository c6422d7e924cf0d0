//! Capture mode's inboxes (`postie capture`, issue 17): every captured message goes to
//! the inbox named by the SMTP AUTH user name (`default` without AUTH), and an IMAP or
//! POP3 login's user name names the inbox it reads. Each inbox is an ordinary account
//! of the store, `NAME@capture.invalid` ([`CAPTURE_DOMAIN`], a name RFC 2606 reserves,
//! so it can never be a real destination), made on first use.
//!
//! Where it sits: the server (SMTP acceptance, IMAP/POP3 login) and the web face (the
//! capture API's `?inbox=` filter and the UI's inbox switcher) all turn names into
//! addresses here, so they agree on which inbox is which.
//!
//! Security stance: pure functions; any input (an AUTH user name is a stranger's
//! text) gives a valid, bounded inbox name.

use crate::{Address, Domain};

/// The domain of every capture inbox's account.
pub const CAPTURE_DOMAIN: &str = "capture.invalid";

/// The inbox of mail sent without AUTH (and of an empty user name).
pub const DEFAULT_INBOX: &str = "default";

/// The longest inbox name, in bytes.
pub const MAX_INBOX_NAME: usize = 64;

/// The inbox a user name names: lower-cased, every character outside
/// `a-z 0-9 . _ -` replaced by `-` (so `Team A` is `team-a`, `ci@example.com` is
/// `ci-example.com`), leading and trailing `.` and `-` dropped, at most
/// [`MAX_INBOX_NAME`] bytes; [`DEFAULT_INBOX`] when nothing is left or `raw` is `None`.
pub fn inbox_name(raw: Option<&str>) -> String {
    let Some(raw) = raw else {
        return DEFAULT_INBOX.to_owned();
    };
    let mapped: String = raw
        .chars()
        .take(MAX_INBOX_NAME)
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c| c == '.' || c == '-');
    // No ".." either: a local part may not hold two dots in a row (RFC 5322 dot-atom).
    let mut name = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        if c == '.' && name.ends_with('.') {
            continue;
        }
        name.push(c);
    }
    if name.is_empty() {
        DEFAULT_INBOX.to_owned()
    } else {
        name
    }
}

/// The account address of inbox `name` (a name [`inbox_name`] made).
pub fn inbox_address(name: &str) -> Address {
    let name = inbox_name(Some(name));
    Address::parse(&format!("{name}@{CAPTURE_DOMAIN}")).unwrap_or_else(|_| {
        Address::parse(&format!("{DEFAULT_INBOX}@{CAPTURE_DOMAIN}")).expect("a valid address")
    })
}

/// The capture domain as a [`Domain`].
pub fn capture_domain() -> Domain {
    Domain::parse(CAPTURE_DOMAIN).expect("a valid domain")
}

/// The inbox name of a capture account's address; `None` for any other address.
pub fn inbox_of(address: &Address) -> Option<String> {
    if !address
        .domain()
        .as_str()
        .eq_ignore_ascii_case(CAPTURE_DOMAIN)
    {
        return None;
    }
    Some(address.local().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_mapped_to_safe_local_parts() {
        assert_eq!(inbox_name(None), "default");
        assert_eq!(inbox_name(Some("")), "default");
        assert_eq!(inbox_name(Some("Team A")), "team-a");
        assert_eq!(inbox_name(Some("ci@example.com")), "ci-example.com");
        assert_eq!(inbox_name(Some("..x..y--")), "x.y");
        assert_eq!(inbox_name(Some("\u{0}\r\n")), "default");
        assert_eq!(inbox_name(Some("é")), "default");
        assert_eq!(inbox_name(Some(&"a".repeat(500))).len(), MAX_INBOX_NAME);
    }

    #[test]
    fn addresses_round_trip() {
        for raw in ["project-a", "Team A", "x.y_z", "", "\"quoted\""] {
            let name = inbox_name(Some(raw));
            let address = inbox_address(&name);
            assert_eq!(address.domain().as_str(), CAPTURE_DOMAIN);
            assert_eq!(inbox_of(&address).as_deref(), Some(name.as_str()));
        }
        let other = Address::parse("alice@example.org").unwrap();
        assert_eq!(inbox_of(&other), None);
    }
}
