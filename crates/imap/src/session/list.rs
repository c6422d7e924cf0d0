//! LIST and LSUB (RFC 3501 §6.3.8–6.3.9) with the CHILDREN (RFC 3348) and SPECIAL-USE
//! (RFC 6154) attributes.
//!
//! Where it sits: called by [`super::Session::command`]. The hierarchy is by name with
//! `/` as delimiter; a name that only exists as the parent of others (e.g. after its
//! mailbox was deleted) is listed with `\Noselect` (RFC 3501 §6.3.8). The reference is
//! prepended to the pattern; `*` matches any run of characters, `%` any run without the
//! delimiter; INBOX matches case-insensitively (RFC 3501 §5.1). Names go out in the
//! connection's encoding ([`Session::name_out`], modified UTF-7 or UTF-8).

use super::{Session, Status, cpu, store_failed};
use std::collections::BTreeMap;

/// The hierarchy delimiter.
pub const DELIMITER: char = '/';

/// Names past which listing them (attributes look at every other name) counts as
/// heavy work (see [`super::cpu`]).
pub const HEAVY_NAMES: usize = 1_000;

/// Names times pattern octets past which matching counts as heavy work.
pub const HEAVY_MATCHING: usize = 1 << 20;

/// One name to list with its attributes.
struct Entry {
    selectable: bool,
    special_use: Option<String>,
}

/// Every name to list: the mailboxes, and the parents that are only names (their
/// mailbox does not exist).
fn hierarchy(mailboxes: &[store_api::Mailbox]) -> BTreeMap<String, Entry> {
    let mut names: BTreeMap<String, Entry> = BTreeMap::new();
    for m in mailboxes {
        names.insert(
            m.name.clone(),
            Entry {
                selectable: true,
                special_use: m.special_use.clone(),
            },
        );
    }
    for m in mailboxes {
        for (i, c) in m.name.char_indices() {
            if c == DELIMITER {
                names.entry(m.name[..i].to_owned()).or_insert(Entry {
                    selectable: false,
                    special_use: None,
                });
            }
        }
    }
    names
}

/// LIST's attributes for `name` (RFC 3501 §7.2.2, RFC 3348, RFC 6154).
fn attributes(names: &BTreeMap<String, Entry>, name: &str, entry: &Entry) -> String {
    let prefix = format!("{name}{DELIMITER}");
    let mut attrs = Vec::new();
    if !entry.selectable {
        attrs.push("\\Noselect");
    }
    attrs.push(if names.keys().any(|n| n.starts_with(&prefix)) {
        "\\HasChildren"
    } else {
        "\\HasNoChildren"
    });
    if let Some(special) = &entry.special_use {
        attrs.push(special);
    }
    attrs.join(" ")
}

/// LSUB's answer: each name with whether it is `\Noselect`. The subscribed names
/// that match, `\Noselect` when no mailbox of that name can be selected; and, for a
/// pattern with `%`, every unsubscribed parent of a subscribed name that does not
/// match, when the parent does: RFC 3501 §6.3.9 ("foo/bar" subscribed, "foo" not:
/// `LSUB "" %` returns "foo", flagged `\Noselect`). Without `%` such parents are left
/// out, as Dovecot does (`*` reaches the subscribed name itself).
fn lsub_names(
    subscribed: &[String],
    names: &BTreeMap<String, Entry>,
    pattern: &str,
) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    let is_subscribed: std::collections::BTreeSet<&str> =
        subscribed.iter().map(String::as_str).collect();
    for name in subscribed {
        if matches(name, pattern) {
            let selectable = names.get(name).is_some_and(|e| e.selectable);
            out.insert(name.clone(), !selectable);
            continue;
        }
        if !pattern.contains('%') {
            continue;
        }
        for (i, c) in name.char_indices() {
            let parent = &name[..i];
            if c == DELIMITER && !is_subscribed.contains(parent) && matches(parent, pattern) {
                out.insert(parent.to_owned(), true);
            }
        }
    }
    out
}

impl Session<'_> {
    pub(super) async fn list(&mut self, reference: &str, pattern: &str, lsub: bool) -> Status {
        let verb = if lsub { "LSUB" } else { "LIST" };
        if pattern.is_empty() && !lsub {
            // RFC 3501 §6.3.8: the delimiter and the root of the reference's hierarchy.
            let root = match reference.find(DELIMITER) {
                Some(i) => &reference[..=i],
                None => "",
            };
            let root = self.name_out(root);
            self.untagged(&format!("LIST (\\Noselect) \"/\" {root}"));
            return Status::Ok("LIST completed".into());
        }
        let store = self.shared.store();
        let account = self.account_id();
        // Its own and the ones shared with it (`access.rs`).
        let mailboxes = match self.visible_mailboxes().await {
            Ok(m) => m,
            Err(e) => return store_failed(verb, &e),
        };
        let names = hierarchy(&mailboxes);
        let full = format!("{reference}{pattern}");
        let subscribed = if lsub {
            match store.mailbox_subscriptions(account).await {
                Ok(s) => s,
                Err(e) => return store_failed(verb, &e),
            }
        } else {
            Vec::new()
        };
        // Many names or a long pattern make this heavy: off the async workers then.
        let count = names.len().max(subscribed.len());
        let heavy = count > HEAVY_NAMES || count.saturating_mul(full.len()) > HEAVY_MATCHING;
        let lines = cpu::maybe_heavy(heavy, || {
            let mut lines = Vec::new();
            if lsub {
                for (name, noselect) in lsub_names(&subscribed, &names, &full) {
                    let attrs = if noselect { "\\Noselect" } else { "" };
                    lines.push(format!("LSUB ({attrs}) \"/\" {}", self.name_out(&name)));
                }
            } else {
                for (name, entry) in names.iter().filter(|(n, _)| matches(n, &full)) {
                    let attrs = attributes(&names, name, entry);
                    lines.push(format!("LIST ({attrs}) \"/\" {}", self.name_out(name)));
                }
            }
            lines
        });
        for line in lines {
            self.untagged(&line);
        }
        Status::Ok(format!("{verb} completed"))
    }

    /// The `LIST` response for one existing mailbox (no `* `), as IMAP4rev2's SELECT
    /// and EXAMINE send it (RFC 9051 §6.3.2: with accurate attributes); `None` if the
    /// store cannot say.
    pub(super) async fn list_one(&mut self, name: &str) -> Option<String> {
        let mailboxes = match self.visible_mailboxes().await {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "cannot list mailboxes");
                return None;
            }
        };
        let names = hierarchy(&mailboxes);
        let entry = names.get(name)?;
        let attrs = attributes(&names, name, entry);
        Some(format!("LIST ({attrs}) \"/\" {}", self.name_out(name)))
    }
}

/// Whether `name` matches the LIST pattern (`*` and `%` wildcards). INBOX, in any
/// case, is matched as `INBOX`.
pub fn matches(name: &str, pattern: &str) -> bool {
    if glob(name.as_bytes(), pattern.as_bytes()) {
        return true;
    }
    // RFC 3501 §5.1: INBOX is case-insensitive, also as the start of a pattern.
    if name == "INBOX" || name.starts_with("INBOX/") {
        let p = pattern.as_bytes();
        if p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"INBOX") {
            let mut fixed = b"INBOX".to_vec();
            fixed.extend_from_slice(&p[5..]);
            return glob(name.as_bytes(), &fixed);
        }
    }
    false
}

/// `*` and `%` matching, in O(name × pattern) steps (see [`crate::wildcard`]): a
/// hostile pattern like `*a*a*a*a*a*a*a*ab` costs microseconds, not minutes.
fn glob(name: &[u8], pattern: &[u8]) -> bool {
    crate::wildcard::matches(name, pattern, DELIMITER as u8)
}

#[cfg(test)]
mod tests {
    use super::{Entry, lsub_names, matches};

    #[test]
    fn lsub_percent_gives_unsubscribed_parents_as_noselect() {
        // The mailboxes a/b, a/b/c and Sent; "a" is only a name.
        let names = [("a", false), ("a/b", true), ("a/b/c", true), ("Sent", true)]
            .into_iter()
            .map(|(name, selectable)| {
                let entry = Entry {
                    selectable,
                    special_use: None,
                };
                (name.to_owned(), entry)
            })
            .collect();
        let subs = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let lsub = |subscribed: &[&str], pattern: &str| {
            lsub_names(&subs(subscribed), &names, pattern)
                .into_iter()
                .collect::<Vec<_>>()
        };
        let one = |name: &str, noselect: bool| vec![(name.to_owned(), noselect)];
        // RFC 3501 §6.3.9.
        assert_eq!(lsub(&["a/b/c"], "a/%"), one("a/b", true));
        assert_eq!(lsub(&["a/b/c"], "%"), one("a", true));
        assert_eq!(lsub(&["a/b/c"], "*"), one("a/b/c", false));
        assert_eq!(lsub(&["a/b/c"], "a/b/%"), one("a/b/c", false));
        // A subscribed parent is itself; a subscribed name with no mailbox is Noselect.
        assert_eq!(lsub(&["a/b", "a/b/c"], "a/%"), one("a/b", false));
        assert_eq!(lsub(&["x/y"], "x"), Vec::new());
        assert_eq!(lsub(&["x/y"], "%"), one("x", true));
        assert_eq!(lsub(&["x/y"], "x/%"), one("x/y", true));
        assert_eq!(lsub(&["Sent"], "%"), one("Sent", false));
    }

    #[test]
    fn wildcards() {
        assert!(matches("a/b/c", "*"));
        assert!(matches("a/b/c", "a/*"));
        assert!(!matches("a/b/c", "a/%"));
        assert!(matches("a/b", "a/%"));
        assert!(matches("a", "%"));
        assert!(!matches("a/b", "%"));
        assert!(matches("Sent", "S%t"));
        assert!(!matches("Sent", "Trash"));
        assert!(matches("INBOX", "inbox"));
        assert!(matches("INBOX/x", "Inbox/%"));
        assert!(
            !matches("Archive", "arch*"),
            "only INBOX is case-insensitive"
        );
    }

    #[test]
    fn hostile_patterns_are_quick_and_need_no_stack() {
        // Issue 12: this took 93 s with the recursive glob, and a 20,000-byte
        // pattern overflowed the stack.
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let start = std::time::Instant::now();
                let name = "a".repeat(60);
                assert!(!matches(&name, "*a*a*a*a*a*a*a*a*ab"));
                assert!(!matches(
                    &name,
                    &"*".repeat(20_000)[..19_999].replace("**", "*a")
                ));
                assert!(matches(&name, &"%".repeat(20_000)));
                assert!(!matches("INBOX", &format!("inbox{}x", "*".repeat(20_000))));
                assert!(start.elapsed() < std::time::Duration::from_secs(5));
            })
            .expect("thread");
        handle.join().expect("no overflow");
    }
}
