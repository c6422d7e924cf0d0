//! Captured mail in the store: list, search, read, mark read and delete across the
//! inboxes. Each inbox is the account `NAME@capture.invalid` (`message::capture`) and
//! its mail is that account's `INBOX`; a message's ID is `{inbox}-{uid}` ([`Id`]).
//!
//! Where it sits: under the capture API ([`super::api`]) and UI ([`super::ui`]),
//! over the [`Store`]. Lists come from the store's metadata (`message_list_imap`:
//! UID, size, flags, arrival time) joined with a [`parsed::Summary`] of each message,
//! which is parsed once on the blocking pool and then kept in a bounded in-memory
//! cache keyed by (store, mailbox, UID) ([`MAX_CACHED`]).
//!
//! Security stance: IDs and queries are a client's text: [`Id::parse`] validates both
//! parts, [`Query::parse`] is bounded by [`MAX_QUERY`]. Messages are parsed only on
//! the blocking pool.

use super::parsed::{self, Summary};
use message::capture::{capture_domain, inbox_address, inbox_name, inbox_of};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use store::{FlagChange, MailboxId, Store, StoreError};

/// The longest search query, in bytes.
pub const MAX_QUERY: usize = 1024;
/// The most summaries the cache keeps per store (it is emptied when full).
pub const MAX_CACHED: usize = 20_000;
/// How many messages are parsed per trip to the blocking pool.
const PARSE_BATCH: usize = 256;
/// The flag that marks a message read.
const SEEN: &str = "\\Seen";

/// A message's ID in the API: `{inbox}-{uid}`, split at the last `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Id {
    /// The inbox name (as [`inbox_name`] makes them).
    pub inbox: String,
    /// The UID in the inbox's `INBOX`.
    pub uid: u32,
}

impl Id {
    /// Parses `{inbox}-{uid}`; `None` unless the inbox part is a name [`inbox_name`]
    /// would make and the UID a positive number without sign or leading zero.
    pub fn parse(text: &str) -> Option<Id> {
        let (inbox, uid) = text.rsplit_once('-')?;
        if inbox.is_empty() || inbox_name(Some(inbox)) != inbox {
            return None;
        }
        if uid.is_empty() || uid.starts_with('0') || !uid.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Id {
            inbox: inbox.to_owned(),
            uid: uid.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.inbox, self.uid)
    }
}

/// One capture inbox: its name and its `INBOX` mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbox {
    /// The name (`default`, `project-a`…).
    pub name: String,
    /// The account's `INBOX`.
    pub mailbox: MailboxId,
    /// UIDNEXT of that mailbox when read: every message filed later has a UID at or
    /// above it.
    pub uid_next: u32,
}

/// One captured message as a list shows it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its ID.
    pub id: Id,
    /// The mailbox it is in.
    pub mailbox: MailboxId,
    /// Size in bytes of the stored message.
    pub size: u64,
    /// When it arrived, unix seconds.
    pub received_at: i64,
    /// Flagged `\Seen`.
    pub read: bool,
    /// What parsing it gave.
    pub summary: Arc<Summary>,
}

/// The capture inboxes, by name; only `name` when given (none when it has no
/// account yet).
pub async fn inboxes(store: &dyn Store, name: Option<&str>) -> Result<Vec<Inbox>, StoreError> {
    let accounts = match name {
        Some(name) => store
            .account_get(&inbox_address(name))
            .await?
            .into_iter()
            .collect(),
        None => {
            let domain = capture_domain();
            store
                .account_list()
                .await?
                .into_iter()
                .filter(|a| a.address.domain() == &domain)
                .collect::<Vec<_>>()
        }
    };
    let mut out = Vec::with_capacity(accounts.len());
    for account in accounts {
        let Some(name) = inbox_of(&account.address) else {
            continue;
        };
        if let Some(mailbox) = store.mailbox_get(account.id, "INBOX").await? {
            out.push(Inbox {
                name,
                mailbox: mailbox.id,
                uid_next: mailbox.uid_next,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Every message of the inboxes (of inbox `inbox` only when given), newest first:
/// by arrival time, then by UID within an inbox.
pub async fn list(store: &Arc<dyn Store>, inbox: Option<&str>) -> Result<Vec<Entry>, StoreError> {
    let mut metas = Vec::new();
    for ib in inboxes(store.as_ref(), inbox).await? {
        for m in store.message_list_imap(ib.mailbox).await? {
            metas.push((ib.name.clone(), ib.mailbox, m));
        }
    }
    // Summaries: from the cache, else parsed now.
    let mut summaries: Vec<Option<Arc<Summary>>> = {
        let cache = cache_for(store);
        let cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        metas
            .iter()
            .map(|(_, mb, m)| cache.get(&(*mb, m.uid, m.size)).cloned())
            .collect()
    };
    let missing: Vec<usize> = (0..metas.len())
        .filter(|&i| summaries[i].is_none())
        .collect();
    for batch in missing.chunks(PARSE_BATCH) {
        let mut raws = Vec::with_capacity(batch.len());
        for &i in batch {
            let (_, mb, m) = &metas[i];
            match store.message_read(*mb, m.uid).await {
                Ok(raw) => raws.push(raw),
                // Removed meanwhile: an empty summary, it leaves the list next time.
                Err(StoreError::NotFound(_)) => raws.push(Vec::new()),
                Err(e) => return Err(e),
            }
        }
        let parsed = tokio::task::spawn_blocking(move || {
            raws.iter()
                .map(|r| Arc::new(parsed::summary(r)))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| StoreError::Io(format!("parsing: {e}")))?;
        let cache = cache_for(store);
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() + parsed.len() > MAX_CACHED {
            cache.clear();
        }
        for (&i, s) in batch.iter().zip(parsed) {
            let (_, mb, m) = &metas[i];
            cache.insert((*mb, m.uid, m.size), s.clone());
            summaries[i] = Some(s);
        }
    }
    let mut entries: Vec<Entry> = metas
        .into_iter()
        .zip(summaries)
        .map(|((name, mailbox, m), s)| Entry {
            id: Id {
                inbox: name,
                uid: m.uid,
            },
            mailbox,
            size: m.size,
            received_at: m.received_at,
            read: m.flags.iter().any(|f| f.eq_ignore_ascii_case(SEEN)),
            summary: s.unwrap_or_default(),
        })
        .collect();
    entries.sort_by(|a, b| {
        (b.received_at, b.mailbox.0, b.id.uid).cmp(&(a.received_at, a.mailbox.0, a.id.uid))
    });
    Ok(entries)
}

/// The message `id`: its mailbox and its bytes; `None` when there is no such message.
pub async fn raw(store: &dyn Store, id: &Id) -> Result<Option<(MailboxId, Vec<u8>)>, StoreError> {
    let Some(ib) = inboxes(store, Some(&id.inbox)).await?.pop() else {
        return Ok(None);
    };
    match store.message_read(ib.mailbox, id.uid).await {
        Ok(raw) => Ok(Some((ib.mailbox, raw))),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The list entry of message `id` (read from the store's metadata and parsed now).
pub async fn entry(store: &dyn Store, id: &Id) -> Result<Option<Entry>, StoreError> {
    Ok(read(store, id).await?.map(|(entry, _)| entry))
}

/// The list entry of message `id` and its bytes, read once (the summary parsed on
/// the blocking pool); `None` when there is no such message.
pub async fn read(store: &dyn Store, id: &Id) -> Result<Option<(Entry, Vec<u8>)>, StoreError> {
    let Some(ib) = inboxes(store, Some(&id.inbox)).await?.pop() else {
        return Ok(None);
    };
    let Some(meta) = store
        .message_list_imap(ib.mailbox)
        .await?
        .into_iter()
        .find(|m| m.uid == id.uid)
    else {
        return Ok(None);
    };
    let raw = match store.message_read(ib.mailbox, id.uid).await {
        Ok(raw) => raw,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (summary, raw) = tokio::task::spawn_blocking(move || (parsed::summary(&raw), raw))
        .await
        .map_err(|e| StoreError::Io(format!("parsing: {e}")))?;
    let entry = Entry {
        id: id.clone(),
        mailbox: ib.mailbox,
        size: meta.size,
        received_at: meta.received_at,
        read: meta.flags.iter().any(|f| f.eq_ignore_ascii_case(SEEN)),
        summary: Arc::new(summary),
    };
    Ok(Some((entry, raw)))
}

/// Marks the messages `ids` read or unread; `None` marks every message (of `inbox`
/// when given). Unknown IDs are skipped.
pub async fn set_read(
    store: &Arc<dyn Store>,
    inbox: Option<&str>,
    ids: Option<&[Id]>,
    read: bool,
) -> Result<(), StoreError> {
    let change = if read {
        FlagChange::Add
    } else {
        FlagChange::Remove
    };
    for (mailbox, uids) in targets(store, inbox, ids).await? {
        store
            .message_flags_set(mailbox, &uids, change, &[SEEN.to_owned()], None)
            .await?;
    }
    Ok(())
}

/// Deletes the messages `ids`; `None` deletes every message (of `inbox` when given).
/// Unknown IDs are skipped. Returns how many messages were asked for.
pub async fn delete(
    store: &Arc<dyn Store>,
    inbox: Option<&str>,
    ids: Option<&[Id]>,
) -> Result<usize, StoreError> {
    let mut count = 0;
    for (mailbox, uids) in targets(store, inbox, ids).await? {
        count += uids.len();
        store.message_remove(mailbox, &uids).await?;
    }
    Ok(count)
}

/// The (mailbox, UIDs) pairs that `ids` (or everything in `inbox`) name.
async fn targets(
    store: &Arc<dyn Store>,
    inbox: Option<&str>,
    ids: Option<&[Id]>,
) -> Result<Vec<(MailboxId, Vec<u32>)>, StoreError> {
    let mut out = Vec::new();
    match ids {
        None => {
            for ib in inboxes(store.as_ref(), inbox).await? {
                let uids: Vec<u32> = store
                    .message_list_imap(ib.mailbox)
                    .await?
                    .into_iter()
                    .map(|m| m.uid)
                    .collect();
                if !uids.is_empty() {
                    out.push((ib.mailbox, uids));
                }
            }
        }
        Some(ids) => {
            let mut by_inbox: HashMap<&str, Vec<u32>> = HashMap::new();
            for id in ids {
                if inbox.is_none_or(|i| i == id.inbox) {
                    by_inbox.entry(&id.inbox).or_default().push(id.uid);
                }
            }
            for (name, mut uids) in by_inbox {
                if let Some(ib) = inboxes(store.as_ref(), Some(name)).await?.pop() {
                    uids.sort_unstable();
                    uids.dedup();
                    out.push((ib.mailbox, uids));
                }
            }
        }
    }
    Ok(out)
}

/// Where each inbox stands now: (mailbox, UIDNEXT) per inbox (of `inbox` when given).
/// A message is newer than this mark when its UID is at or above its mailbox's
/// UIDNEXT here, or its mailbox was not there ([`is_after`]).
pub async fn mark(
    store: &dyn Store,
    inbox: Option<&str>,
) -> Result<HashMap<MailboxId, u32>, StoreError> {
    Ok(inboxes(store, inbox)
        .await?
        .into_iter()
        .map(|ib| (ib.mailbox, ib.uid_next))
        .collect())
}

/// True when `entry` arrived after `mark` was taken ([`mark`]).
pub fn is_after(entry: &Entry, mark: &HashMap<MailboxId, u32>) -> bool {
    mark.get(&entry.mailbox)
        .is_none_or(|&uid_next| entry.id.uid >= uid_next)
}

// ---- search ---------------------------------------------------------------------------

/// Which part of a message a search term looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Subject, From, To/Cc/Bcc and the start of the text ([`Summary::search_text`]).
    Any,
    /// `subject:`.
    Subject,
    /// `from:` (name or address).
    From,
    /// `to:` (To, Cc or Bcc, name or address).
    To,
    /// `is:read` / `is:unread` (the text is `read` or `unread`).
    Is,
    /// `has:attachment`.
    Has,
}

/// One term of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// What it looks at.
    pub field: Field,
    /// What it looks for, lower-case (a substring).
    pub text: String,
    /// Written with a leading `-` or `!`: messages that do not match.
    pub negated: bool,
}

/// A search query, Mailpit's syntax (a subset): words and `"quoted phrases"`, each
/// optionally prefixed `subject:`, `from:`, `to:`, and `is:read`, `is:unread`,
/// `has:attachment`; a leading `-` or `!` negates a term. Every term must match
/// (case-insensitive substrings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// The terms, all of which must match.
    pub terms: Vec<Term>,
}

impl Query {
    /// Parses a query; `None` when it is longer than [`MAX_QUERY`] bytes.
    pub fn parse(text: &str) -> Option<Query> {
        if text.len() > MAX_QUERY {
            return None;
        }
        let mut terms = Vec::new();
        let mut chars = text.chars().peekable();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.peek().is_none() {
                break;
            }
            // One token: quotes group, whitespace ends it outside quotes.
            let mut token = String::new();
            let mut quoted = false;
            while let Some(&c) = chars.peek() {
                if c == '"' {
                    quoted = !quoted;
                } else if c.is_whitespace() && !quoted {
                    break;
                } else {
                    token.push(c);
                }
                chars.next();
            }
            let (negated, rest) = match token.strip_prefix(['-', '!']) {
                Some(rest) if !rest.is_empty() => (true, rest),
                _ => (false, token.as_str()),
            };
            let lower = rest.to_lowercase();
            let (field, value) = match lower.split_once(':') {
                Some(("subject", v)) => (Field::Subject, v),
                Some(("from", v)) => (Field::From, v),
                Some(("to", v)) => (Field::To, v),
                Some(("is", v)) => (Field::Is, v),
                Some(("has", v)) => (Field::Has, v),
                _ => (Field::Any, lower.as_str()),
            };
            if !value.is_empty() {
                terms.push(Term {
                    field,
                    text: value.to_owned(),
                    negated,
                });
            }
        }
        Some(Query { terms })
    }

    /// True when `entry` matches every term.
    pub fn matches(&self, entry: &Entry) -> bool {
        self.terms
            .iter()
            .all(|t| term_matches(t, entry) != t.negated)
    }
}

fn term_matches(term: &Term, entry: &Entry) -> bool {
    let s = &entry.summary;
    let has = |text: &str| text.to_lowercase().contains(&term.text);
    let addr = |a: &parsed::Addr| has(&a.name) || has(&a.address);
    let to = || s.to.iter().chain(&s.cc).chain(&s.bcc).any(addr);
    match term.field {
        Field::Subject => has(&s.subject),
        Field::From => addr(&s.from),
        Field::To => to(),
        Field::Is => match term.text.as_str() {
            "read" | "seen" => entry.read,
            "unread" | "unseen" => !entry.read,
            _ => false,
        },
        Field::Has => {
            matches!(term.text.as_str(), "attachment" | "attachments") && s.attachments > 0
        }
        Field::Any => {
            has(&s.subject) || addr(&s.from) || to() || s.search_text.contains(&term.text)
        }
    }
}

// ---- the summary cache ----------------------------------------------------------------

/// Summaries by (mailbox, UID, size).
type Summaries = HashMap<(MailboxId, u32, u64), Arc<Summary>>;

/// The caches, one per store, each held by a weak reference to its store (so a store
/// dropped and another made at the same address never share one).
#[allow(clippy::type_complexity)]
static CACHES: Mutex<Vec<(Weak<dyn Store>, Arc<Mutex<Summaries>>)>> = Mutex::new(Vec::new());

/// The cache of `store`, made on first use; caches of dropped stores are let go.
fn cache_for(store: &Arc<dyn Store>) -> Arc<Mutex<Summaries>> {
    let mut caches = CACHES.lock().unwrap_or_else(|e| e.into_inner());
    caches.retain(|(weak, _)| weak.strong_count() > 0);
    let weak = Arc::downgrade(store);
    if let Some((_, cache)) = caches.iter().find(|(w, _)| w.ptr_eq(&weak)) {
        return cache.clone();
    }
    let cache = Arc::new(Mutex::new(Summaries::new()));
    caches.push((weak, cache.clone()));
    cache
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert_eq!(
            Id::parse("project-a-12"),
            Some(Id {
                inbox: "project-a".into(),
                uid: 12
            })
        );
        assert_eq!(Id::parse("default-1").unwrap().to_string(), "default-1");
        for bad in [
            "",
            "-1",
            "default-",
            "default-0",
            "default-01",
            "default-+1",
            "Default-1",
            "a b-1",
            "default-99999999999",
            "x",
        ] {
            assert_eq!(Id::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn queries_parse() {
        let q = Query::parse(r#"subject:"hello world" from:Alice -to:bob "two words" x !is:read"#)
            .unwrap();
        let got: Vec<(Field, &str, bool)> = q
            .terms
            .iter()
            .map(|t| (t.field, t.text.as_str(), t.negated))
            .collect();
        assert_eq!(
            got,
            [
                (Field::Subject, "hello world", false),
                (Field::From, "alice", false),
                (Field::To, "bob", true),
                (Field::Any, "two words", false),
                (Field::Any, "x", false),
                (Field::Is, "read", true),
            ]
        );
        assert!(Query::parse(&"x".repeat(MAX_QUERY + 1)).is_none());
        assert_eq!(Query::parse("  ").unwrap().terms, []);
    }
}
