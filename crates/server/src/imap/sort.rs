//! SORT and UID SORT (RFC 5256 §3) with the DISPLAYFROM and DISPLAYTO keys
//! (SORT=DISPLAY, RFC 5957).
//!
//! Where it sits: called by [`super::Session::command`] in the selected state with the
//! command as imap-codec parsed it; the keys select messages as SEARCH does ([`super::search`]), then the matches are
//! ordered by the criteria, ties by sequence number (RFC 5256 §3). Strings compare
//! with `i;ascii-casemap` (ASCII letters folded), display names with a Unicode case
//! fold. Addresses are the first address of the field (`addr-mailbox`, the local part,
//! for CC/FROM/TO); SUBJECT is the base subject of [`base_subject`]; DATE is the Date
//! header in UTC, or the INTERNALDATE when it has none (RFC 5256 §3).

use super::{Session, Status, store_failed};
use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::extensions::sort::{SortCriterion, SortKey};
use imap_codec::imap_types::search::SearchKey;
use std::cmp::Ordering;
use std::collections::HashMap;

/// One sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

/// A key with its direction.
type Criterion = (Key, bool);

/// imap-codec's sort criteria as ours.
fn criteria(parsed: &[SortCriterion]) -> Vec<Criterion> {
    parsed
        .iter()
        .map(|c| {
            let key = match c.key {
                SortKey::Arrival => Key::Arrival,
                SortKey::Cc => Key::Cc,
                SortKey::Date => Key::Date,
                SortKey::From => Key::From,
                SortKey::Size => Key::Size,
                SortKey::Subject => Key::Subject,
                SortKey::To => Key::To,
                SortKey::DisplayFrom => Key::DisplayFrom,
                SortKey::DisplayTo => Key::DisplayTo,
            };
            (key, c.reverse)
        })
        .collect()
}

/// What a message is sorted by.
#[derive(Debug, Default, Clone)]
struct Values {
    seq: u32,
    uid: u32,
    arrival: i64,
    size: u64,
    date: i64,
    subject: String,
    from: String,
    to: String,
    cc: String,
    display_from: String,
    display_to: String,
}

impl Values {
    /// Fills the header-derived values from the message.
    fn read_headers(&mut self, raw: &[u8]) {
        let message = mail_parser::MessageParser::default()
            .parse_headers(raw)
            .unwrap_or_default();
        self.date = message
            .date()
            .map_or(self.arrival, mail_parser::DateTime::to_timestamp);
        self.subject = base_subject(message.subject().unwrap_or(""));
        let first = |a: Option<&mail_parser::Address<'_>>| {
            let addr = a.and_then(mail_parser::Address::first);
            let spec = addr.and_then(|a| a.address()).unwrap_or("").to_owned();
            let local = spec.rsplit_once('@').map_or(spec.as_str(), |(l, _)| l);
            let local = local.to_ascii_uppercase();
            // RFC 5957 §3: the display name, or the address when there is none.
            let display = match addr.and_then(|a| a.name()).map(str::trim) {
                Some(name) if !name.is_empty() => name.to_owned(),
                _ => spec.clone(),
            };
            (local, display.to_uppercase())
        };
        (self.from, self.display_from) = first(message.from());
        (self.to, self.display_to) = first(message.to());
        (self.cc, _) = first(message.cc());
    }

    fn compare(&self, other: &Self, key: Key) -> Ordering {
        match key {
            Key::Arrival => self.arrival.cmp(&other.arrival),
            Key::Cc => self.cc.cmp(&other.cc),
            Key::Date => self.date.cmp(&other.date),
            Key::From => self.from.cmp(&other.from),
            Key::Size => self.size.cmp(&other.size),
            Key::Subject => self.subject.cmp(&other.subject),
            Key::To => self.to.cmp(&other.to),
            Key::DisplayFrom => self.display_from.cmp(&other.display_from),
            Key::DisplayTo => self.display_to.cmp(&other.display_to),
        }
    }
}

/// Orders by the criteria, then by sequence number.
fn order(values: &mut [Values], criteria: &[Criterion]) {
    values.sort_by(|a, b| {
        criteria
            .iter()
            .map(|&(key, reverse)| {
                let o = a.compare(b, key);
                if reverse { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.seq.cmp(&b.seq))
    });
}

impl Session<'_> {
    /// `[UID] SORT (criteria) charset keys`.
    pub(super) async fn sort(
        &mut self,
        sort_criteria: &[SortCriterion],
        charset: Charset<'static>,
        keys: &[SearchKey<'static>],
        uid: bool,
    ) -> Status {
        let criteria = criteria(sort_criteria);
        let hits = match self.search_hits(Some(charset), keys).await {
            Ok(hits) => hits,
            Err(status) => return status,
        };
        let Some(open) = &self.selected else {
            return Status::Bad("No mailbox selected".into());
        };
        let mailbox = open.mailbox.id;
        let store = self.shared.store.clone();
        let listing = match store.message_list_imap(mailbox).await {
            Ok(l) => l,
            Err(e) => return store_failed("SORT", &e),
        };
        let meta: HashMap<u32, &store::ImapMessage> = listing.iter().map(|m| (m.uid, m)).collect();
        let needs_headers = criteria
            .iter()
            .any(|(k, _)| !matches!(k, Key::Arrival | Key::Size));
        let mut values = Vec::with_capacity(hits.len());
        for (seq, id) in hits {
            let Some(m) = meta.get(&id) else { continue };
            let mut v = Values {
                seq,
                uid: id,
                arrival: m.received_at,
                size: m.size,
                date: m.received_at,
                ..Values::default()
            };
            if needs_headers && let Ok(raw) = store.message_read(mailbox, id).await {
                v.read_headers(&raw);
            }
            values.push(v);
        }
        order(&mut values, &criteria);
        let mut text = "SORT".to_owned();
        for v in &values {
            text.push_str(&format!(" {}", if uid { v.uid } else { v.seq }));
        }
        self.untagged(&text);
        Status::Ok("SORT completed".into())
    }
}

/// The base subject (RFC 5256 §2.1), upper-cased for `i;ascii-casemap` comparison.
/// `subject` is already RFC 2047-decoded (step 1's first half).
pub(crate) fn base_subject(subject: &str) -> String {
    // Step 1: runs of whitespace become one space.
    let mut s = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    loop {
        // Step 2: trailing "(fwd)" and whitespace.
        loop {
            let t = s.trim_end();
            if t.len() >= 5 && t[t.len() - 5..].eq_ignore_ascii_case("(fwd)") {
                s = t[..t.len() - 5].to_owned();
            } else {
                s = t.to_owned();
                break;
            }
        }
        // Steps 3-5: leading subj-leaders, then a leading subj-blob if text remains.
        loop {
            let t = s.trim_start();
            if let Some(rest) = strip_refwd(t) {
                s = rest.to_owned();
                continue;
            }
            if let Some(rest) = strip_blob(t)
                && !rest.trim().is_empty()
            {
                s = rest.to_owned();
                continue;
            }
            s = t.to_owned();
            break;
        }
        // Step 6: "[fwd:" ... "]" is unwrapped, and the whole thing repeats.
        if s.len() >= 6 && s[..5].eq_ignore_ascii_case("[fwd:") && s.ends_with(']') {
            s = s[5..s.len() - 1].to_owned();
            continue;
        }
        return s.to_ascii_uppercase();
    }
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP`: the text after it.
fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find([']', '['])?;
    rest[end..]
        .strip_prefix(']')
        .map(|r| r.trim_start_matches([' ', '\t']))
}

/// `*subj-blob subj-refwd`, with `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob]
/// ":"`: the text after it.
fn strip_refwd(s: &str) -> Option<&str> {
    let mut t = s;
    while let Some(rest) = strip_blob(t) {
        t = rest;
    }
    let lower = t.get(..3).unwrap_or(t).to_ascii_lowercase();
    let word = if lower.starts_with("fwd") {
        3
    } else if lower.starts_with("fw") || lower.starts_with("re") {
        2
    } else {
        return None;
    };
    let mut t = t[word..].trim_start_matches([' ', '\t']);
    if let Some(rest) = strip_blob(t) {
        t = rest;
    }
    t.strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_subjects() {
        assert_eq!(base_subject("Hello"), "HELLO");
        assert_eq!(base_subject("Re: hello"), "HELLO");
        assert_eq!(base_subject("RE: Fwd: [list] Re: hello (fwd)"), "HELLO");
        assert_eq!(base_subject("[list]  Re[2]: hello\tworld"), "HELLO WORLD");
        assert_eq!(base_subject("[Fwd: Re: hello]"), "HELLO");
        assert_eq!(base_subject("[only blob]"), "[ONLY BLOB]");
        assert_eq!(base_subject("Reply"), "REPLY");
        assert_eq!(base_subject(""), "");
    }

    #[test]
    fn ties_go_by_sequence_number() {
        let v = |seq, size| Values {
            seq,
            size,
            ..Values::default()
        };
        let mut values = vec![v(1, 10), v(2, 5), v(3, 10)];
        order(&mut values, &[(Key::Size, true)]);
        let seqs: Vec<u32> = values.iter().map(|v| v.seq).collect();
        assert_eq!(seqs, vec![1, 3, 2]);
    }
}
