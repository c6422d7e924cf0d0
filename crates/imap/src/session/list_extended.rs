//! LIST with selection and return options (LIST-EXTENDED, RFC 5258), the STATUS return
//! option (LIST-STATUS, RFC 5819) and the SPECIAL-USE selection option (RFC 6154 §5.3).
//!
//! Where it sits: [`super::extended`] routes every LIST imap-codec could not parse
//! here; the plain form stays in [`super::list`], whose pattern matching this shares.
//! Selection options: SUBSCRIBED (subscribed names, existing or not: `\NonExistent`),
//! REMOTE (no remote mailboxes here, so nothing changes), SPECIAL-USE (only mailboxes
//! with a special use) and RECURSIVEMATCH (RFC 5258 §3.5: also a matching name whose
//! non-matching descendants meet the selection, with a `CHILDINFO` item). Return
//! options: SUBSCRIBED (`\Subscribed`), CHILDREN and SPECIAL-USE (always returned, as by
//! plain LIST) and STATUS, answered by a `* STATUS` after each selectable mailbox's
//! `* LIST` (RFC 5819 §2). Unknown options are a `BAD` (RFC 5258 §3). The reference
//! and patterns are decoded, and names encoded, per the connection's name encoding
//! ([`Session::name_in`], [`Session::name_out`]).

use super::extended::{Item, Line};
use super::list::{DELIMITER, matches};
use super::{Session, Status, cpu, store_failed};
use imap_codec::imap_types::status::StatusDataItemName;
use std::collections::{BTreeMap, BTreeSet};

/// A parsed extended LIST.
#[derive(Debug, Default)]
struct Request {
    subscribed: bool,
    special_use: bool,
    recursive: bool,
    return_subscribed: bool,
    status: Option<Vec<StatusDataItemName>>,
    /// The reference and patterns as sent (decoded by [`Session::name_in`]).
    reference: Vec<u8>,
    patterns: Vec<Vec<u8>>,
}

/// Reads the command after `LIST`.
fn parse(line: &mut Line<'_>) -> Result<Request, String> {
    let mut req = Request::default();
    if !line.space() {
        return Err("Expected arguments".into());
    }
    if line.peek() == Some(b'(') {
        for item in line.list().ok_or("Invalid selection options")? {
            let Item::Word(word) = item else {
                return Err("Invalid selection option".into());
            };
            match word.to_ascii_uppercase().as_str() {
                "SUBSCRIBED" => req.subscribed = true,
                "SPECIAL-USE" => req.special_use = true,
                "RECURSIVEMATCH" => req.recursive = true,
                "REMOTE" => {}
                _ => return Err(format!("Unsupported selection option {word}")),
            }
        }
        // RFC 5258 §3.1: RECURSIVEMATCH alone (or only with REMOTE) is a BAD.
        if req.recursive && !req.subscribed && !req.special_use {
            return Err("RECURSIVEMATCH needs another selection option".into());
        }
        if !line.space() {
            return Err("Expected reference".into());
        }
    }
    req.reference = line.astring_bytes().ok_or("Invalid reference")?;
    if !line.space() {
        return Err("Expected mailbox pattern".into());
    }
    if line.peek() == Some(b'(') {
        for item in line.list().ok_or("Invalid patterns")? {
            let Item::Word(pattern) = item else {
                return Err("Invalid pattern".into());
            };
            // Lossless for UTF-8; invalid UTF-8 in a list only ever matches nothing.
            req.patterns.push(pattern.into_bytes());
        }
        if req.patterns.is_empty() {
            return Err("No mailbox pattern".into());
        }
    } else {
        req.patterns
            .push(line.astring_bytes().ok_or("Invalid mailbox pattern")?);
    }
    if line.at_end() {
        return Ok(req);
    }
    if !(line.space() && line.next_is("RETURN")) {
        return Err("Unexpected arguments".into());
    }
    line.atom();
    if !line.space() {
        return Err("Expected return options".into());
    }
    let mut items = line.list().ok_or("Invalid return options")?.into_iter();
    while let Some(item) = items.next() {
        let Item::Word(word) = item else {
            return Err("Invalid return option".into());
        };
        match word.to_ascii_uppercase().as_str() {
            "SUBSCRIBED" => req.return_subscribed = true,
            "CHILDREN" | "SPECIAL-USE" => {}
            "STATUS" => {
                let Some(Item::List(names)) = items.next() else {
                    return Err("STATUS needs a list of items".into());
                };
                req.status = Some(status_items(&names)?);
            }
            _ => return Err(format!("Unsupported return option {word}")),
        }
    }
    if !line.at_end() {
        return Err("Unexpected arguments".into());
    }
    Ok(req)
}

/// STATUS item names (RFC 3501 §6.3.10, RFC 8438 SIZE).
fn status_items(names: &[Item]) -> Result<Vec<StatusDataItemName>, String> {
    let mut out = Vec::new();
    for name in names {
        let Item::Word(word) = name else {
            return Err("Invalid STATUS item".into());
        };
        out.push(match word.to_ascii_uppercase().as_str() {
            "MESSAGES" => StatusDataItemName::Messages,
            "RECENT" => StatusDataItemName::Recent,
            "UIDNEXT" => StatusDataItemName::UidNext,
            "UIDVALIDITY" => StatusDataItemName::UidValidity,
            "UNSEEN" => StatusDataItemName::Unseen,
            "DELETED" => StatusDataItemName::Deleted,
            "SIZE" => StatusDataItemName::Size,
            _ => return Err(format!("Unsupported STATUS item {word}")),
        });
    }
    if out.is_empty() {
        return Err("Empty STATUS item list".into());
    }
    Ok(out)
}

/// What is known of one name: whether its mailbox exists, and its special use.
struct Known {
    selectable: bool,
    special_use: Option<String>,
}

impl Session<'_> {
    /// An extended LIST; `line` stands right after `LIST`.
    pub(super) async fn list_extended(&mut self, line: &mut Line<'_>) -> Status {
        let req = match parse(line) {
            Ok(req) => req,
            Err(why) => return Status::Bad(why),
        };
        let reference = match self.name_in(&req.reference) {
            Ok(name) => name,
            Err(status) => return status,
        };
        let mut patterns = Vec::new();
        for pattern in &req.patterns {
            match self.name_in(pattern) {
                Ok(pattern) => patterns.push(format!("{reference}{pattern}")),
                Err(status) => return status,
            }
        }
        let store = self.shared.store();
        let account = self.account_id();
        // Its own and the ones shared with it (`access.rs`).
        let mailboxes = match self.visible_mailboxes().await {
            Ok(m) => m,
            Err(e) => return store_failed("LIST", &e),
        };
        let mut names: BTreeMap<String, Known> = BTreeMap::new();
        for m in &mailboxes {
            names.insert(
                m.name.clone(),
                Known {
                    selectable: true,
                    special_use: m.special_use.clone(),
                },
            );
        }
        for m in &mailboxes {
            for (i, c) in m.name.char_indices() {
                if c == DELIMITER {
                    names.entry(m.name[..i].to_owned()).or_insert(Known {
                        selectable: false,
                        special_use: None,
                    });
                }
            }
        }
        let subs: BTreeSet<String> = if req.subscribed || req.return_subscribed {
            match store.mailbox_subscriptions(account).await {
                Ok(s) => s.into_iter().collect(),
                Err(e) => return store_failed("LIST", &e),
            }
        } else {
            BTreeSet::new()
        };
        let matched = |name: &str| patterns.iter().any(|p| matches(name, p));
        // The names the selection options pick.
        let meets = |name: &str| {
            (if req.subscribed {
                subs.contains(name)
            } else {
                names.contains_key(name)
            }) && (!req.special_use || names.get(name).is_some_and(|k| k.special_use.is_some()))
        };
        let mut universe: BTreeSet<&str> = names.keys().map(String::as_str).collect();
        if req.subscribed {
            universe.extend(subs.iter().map(String::as_str));
        }
        if req.subscribed && req.recursive {
            // RFC 5258 §3.5: a matching parent of a subscribed name gets its
            // CHILDINFO even when no mailbox has its name (then `\NonExistent`):
            // LSUB's `%` rule (RFC 3501 §6.3.9) in LIST-EXTENDED form.
            for sub in &subs {
                for (i, c) in sub.char_indices() {
                    if c == DELIMITER {
                        universe.insert(&sub[..i]);
                    }
                }
            }
        }
        let mut childinfo_items = Vec::new();
        if req.subscribed {
            childinfo_items.push("\"SUBSCRIBED\"");
        }
        if req.special_use {
            childinfo_items.push("\"SPECIAL-USE\"");
        }
        // Each line, with the name and whether a STATUS may follow it. Many names
        // or long patterns make this heavy: off the async workers then.
        let pattern_bytes: usize = patterns.iter().map(String::len).sum();
        let heavy = universe.len() > super::list::HEAVY_NAMES
            || universe.len().saturating_mul(pattern_bytes) > super::list::HEAVY_MATCHING;
        let out = cpu::maybe_heavy(heavy, || {
            let mut out: Vec<(String, &str, bool)> = Vec::new();
            for &name in universe.iter().filter(|n| matched(n)) {
                let prefix = format!("{name}{DELIMITER}");
                let childinfo = req.recursive
                    && universe
                        .iter()
                        .any(|d| d.starts_with(&prefix) && meets(d) && !matched(d));
                if !meets(name) && !childinfo {
                    continue;
                }
                let known = names.get(name);
                let mut attrs = Vec::new();
                match known {
                    None => attrs.push("\\NonExistent"),
                    Some(k) if !k.selectable => attrs.push("\\Noselect"),
                    Some(_) => {}
                }
                if known.is_some() {
                    attrs.push(if names.keys().any(|n| n.starts_with(&prefix)) {
                        "\\HasChildren"
                    } else {
                        "\\HasNoChildren"
                    });
                }
                if let Some(special) = known.and_then(|k| k.special_use.as_deref()) {
                    attrs.push(special);
                }
                if (req.subscribed || req.return_subscribed) && subs.contains(name) {
                    attrs.push("\\Subscribed");
                }
                let mut text = format!("LIST ({}) \"/\" {}", attrs.join(" "), self.name_out(name));
                if childinfo {
                    text.push_str(&format!(" (\"CHILDINFO\" ({}))", childinfo_items.join(" ")));
                }
                out.push((text, name, known.is_some_and(|k| k.selectable)));
            }
            out.into_iter()
                .map(|(text, name, selectable)| (text, name.to_owned(), selectable))
                .collect::<Vec<(String, String, bool)>>()
        });
        for (text, name, selectable) in out {
            self.untagged(&text);
            if let (Some(items), true) = (&req.status, selectable) {
                // A failure (the mailbox just vanished) leaves the STATUS out.
                let _ = self.status(&name, items).await;
            }
        }
        Status::Ok("LIST completed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        let req = parse(&mut Line::new(
            b" (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" Work/*) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))",
        ))
        .expect("parses");
        assert!(req.subscribed && req.recursive);
        assert_eq!(req.patterns, vec![b"INBOX".to_vec(), b"Work/*".to_vec()]);
        assert_eq!(req.status.map(|s| s.len()), Some(2));
        assert!(parse(&mut Line::new(b" (RECURSIVEMATCH) \"\" *")).is_err());
        assert!(parse(&mut Line::new(b" \"\" * RETURN (FROB)")).is_err());
        assert!(parse(&mut Line::new(b" (FROB) \"\" *")).is_err());
        assert!(parse(&mut Line::new(b" \"\" * RETURN (STATUS)")).is_err());
    }
}
