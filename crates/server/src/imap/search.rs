//! SEARCH and UID SEARCH (RFC 3501 §6.4.4).
//!
//! Where it sits: called by [`super::Session::command`] in the selected state. Every
//! message the client knows is tested against the criteria: flags, size and
//! INTERNALDATE from the store's listing, the rest from the message bytes, read only
//! when a criterion needs them. String matches are case-insensitive substring matches
//! (RFC 3501 §6.4.4) over the unfolded header field (SUBJECT also over its RFC 2047
//! decoded form), the body (BODY) or the whole message (TEXT). Dates compare by day,
//! ignoring time and zone: INTERNALDATE in UTC, SENT* the Date header's own day.
//! `\Recent` is never set here, so RECENT and NEW match nothing and OLD everything.
//! Charsets: UTF-8 and US-ASCII; others get `NO [BADCHARSET]`.

use super::{Session, Status, store_failed, wire};
use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::search::SearchKey;
use std::collections::HashMap;
use store::{ImapMessage, MailboxId, Store};

/// A message under test, its bytes read on first need.
struct Candidate<'m> {
    seq: u32,
    uid: u32,
    meta: &'m ImapMessage,
    raw: Option<Vec<u8>>,
}

impl Session<'_> {
    pub(super) async fn search(
        &mut self,
        charset: Option<Charset<'static>>,
        criteria: &[SearchKey<'static>],
        uid: bool,
    ) -> Status {
        let hits = match self.search_hits(charset, criteria).await {
            Ok(hits) => hits,
            Err(status) => return status,
        };
        let suffix = self.search_modseq_suffix(criteria, &hits).await;
        let list: Vec<String> = hits
            .iter()
            .map(|&(seq, id)| if uid { id } else { seq }.to_string())
            .collect();
        if list.is_empty() {
            self.untagged("SEARCH");
        } else {
            self.untagged(&format!("SEARCH {}{suffix}", list.join(" ")));
        }
        Status::Ok("SEARCH completed".into())
    }

    /// The messages matching `criteria`, as `(sequence number, UID)` in sequence order;
    /// also used by ESEARCH ([`super::esearch`]) and SORT ([`super::sort`]).
    pub(super) async fn search_hits(
        &mut self,
        charset: Option<Charset<'static>>,
        criteria: &[SearchKey<'static>],
    ) -> Result<Vec<(u32, u32)>, Status> {
        if let Some(charset) = &charset {
            let name = match charset {
                Charset::Atom(a) => a.inner().to_owned(),
                Charset::Quoted(q) => q.inner().to_owned(),
            };
            if !name.eq_ignore_ascii_case("UTF-8") && !name.eq_ignore_ascii_case("US-ASCII") {
                return Err(Status::No(
                    "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset".into(),
                ));
            }
        }
        let Some(open) = &self.selected else {
            return Err(Status::Bad("No mailbox selected".into()));
        };
        let mailbox = open.mailbox.id;
        let store = self.shared.store.clone();
        let listing = match store.message_list_imap(mailbox).await {
            Ok(l) => l,
            Err(e) => return Err(store_failed("SEARCH", &e)),
        };
        let by_uid: HashMap<u32, &ImapMessage> = listing.iter().map(|m| (m.uid, m)).collect();
        let known: Vec<(u32, u32)> = open.view.messages().collect();
        let mut hits = Vec::new();
        for (seq, id) in known {
            let Some(meta) = by_uid.get(&id) else {
                continue; // expunged: it matches nothing
            };
            let mut c = Candidate {
                seq,
                uid: id,
                meta,
                raw: None,
            };
            let mut ok = true;
            for key in criteria {
                match self.test(store.as_ref(), mailbox, &mut c, key).await {
                    Ok(true) => {}
                    Ok(false) => {
                        ok = false;
                        break;
                    }
                    Err(status) => return Err(status),
                }
            }
            if ok {
                hits.push((seq, id));
            }
        }
        Ok(hits)
    }

    /// Whether the candidate matches one key. Boxed for recursion (NOT, OR, AND).
    fn test<'s>(
        &'s self,
        store: &'s dyn Store,
        mailbox: MailboxId,
        c: &'s mut Candidate<'_>,
        key: &'s SearchKey<'static>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, Status>> + Send + 's>> {
        Box::pin(async move {
            use SearchKey as K;
            let has = |flag: &str| c.meta.flags.iter().any(|f| f.eq_ignore_ascii_case(flag));
            let day = |unix: i64| {
                time::OffsetDateTime::from_unix_timestamp(unix)
                    .map(|t| t.date())
                    .unwrap_or(time::Date::MIN)
            };
            Ok(match key {
                K::All | K::Old => true,
                K::New | K::Recent => false,
                K::Answered => has("\\Answered"),
                K::Deleted => has("\\Deleted"),
                K::Draft => has("\\Draft"),
                K::Flagged => has("\\Flagged"),
                K::Seen => has("\\Seen"),
                K::Unanswered => !has("\\Answered"),
                K::Undeleted => !has("\\Deleted"),
                K::Undraft => !has("\\Draft"),
                K::Unflagged => !has("\\Flagged"),
                K::Unseen => !has("\\Seen"),
                K::Keyword(k) => has(&wire::atom_text(k)),
                K::Unkeyword(k) => !has(&wire::atom_text(k)),
                K::Larger(n) => c.meta.size > u64::from(*n),
                // RFC 7162 §3.1.5; per-flag entries use the message's own mod-sequence.
                K::ModSequence { modseq, .. } => c.meta.modseq >= *modseq,
                K::Smaller(n) => c.meta.size < u64::from(*n),
                K::Before(d) => day(c.meta.received_at) < date(d),
                K::On(d) => day(c.meta.received_at) == date(d),
                K::Since(d) => day(c.meta.received_at) >= date(d),
                K::SequenceSet(set) => {
                    let Some(open) = &self.selected else {
                        return Ok(false);
                    };
                    match open.view.resolve(&wire::sequence_set(set), false) {
                        Ok(list) => list.iter().any(|&(s, _)| s == c.seq),
                        Err(e) => return Err(Status::Bad(format!("Invalid sequence set: {e}"))),
                    }
                }
                K::Uid(set) => {
                    let Some(open) = &self.selected else {
                        return Ok(false);
                    };
                    open.view
                        .resolve(&wire::sequence_set(set), true)
                        .is_ok_and(|list| list.iter().any(|&(_, u)| u == c.uid))
                }
                K::Not(inner) => !self.test(store, mailbox, c, inner).await?,
                K::Or(a, b) => {
                    self.test(store, mailbox, c, a).await?
                        || self.test(store, mailbox, c, b).await?
                }
                K::And(keys) => {
                    for k in keys.as_ref() {
                        if !self.test(store, mailbox, c, k).await? {
                            return Ok(false);
                        }
                    }
                    true
                }
                other => {
                    let raw = match &c.raw {
                        Some(raw) => raw,
                        None => match store.message_read(mailbox, c.uid).await {
                            Ok(raw) => c.raw.insert(raw),
                            Err(_) => return Ok(false),
                        },
                    };
                    content_matches(raw, other)
                }
            })
        })
    }
}

/// imap-codec's date as a calendar day.
fn date(d: &imap_codec::imap_types::datetime::NaiveDate) -> time::Date {
    use chrono::Datelike;
    let d: &chrono::NaiveDate = d.as_ref();
    time::Month::try_from(d.month() as u8)
        .ok()
        .and_then(|m| time::Date::from_calendar_date(d.year(), m, d.day() as u8).ok())
        .unwrap_or(time::Date::MIN)
}

/// The criteria that look at the message bytes.
fn content_matches(raw: &[u8], key: &SearchKey<'_>) -> bool {
    use SearchKey as K;
    let (header, body) = split(raw);
    let field = |name: &str, needle: &[u8]| {
        header_values(header, name)
            .iter()
            .any(|v| contains(v, needle))
    };
    match key {
        K::From(s) => field("From", s.as_ref()),
        K::To(s) => field("To", s.as_ref()),
        K::Cc(s) => field("Cc", s.as_ref()),
        K::Bcc(s) => field("Bcc", s.as_ref()),
        K::Subject(s) => {
            field("Subject", s.as_ref())
                || parse(raw)
                    .subject()
                    .is_some_and(|subj| contains(subj.as_bytes(), s.as_ref()))
        }
        K::Header(name, value) => {
            let name = String::from_utf8_lossy(name.as_ref());
            let values = header_values(header, &name);
            // RFC 3501: an empty string matches every message that has the field.
            !values.is_empty() && values.iter().any(|v| contains(v, value.as_ref()))
        }
        K::Body(s) => contains(body, s.as_ref()),
        K::Text(s) => contains(raw, s.as_ref()),
        K::SentBefore(d) => sent(raw).is_some_and(|s| s < date(d)),
        K::SentOn(d) => sent(raw).is_some_and(|s| s == date(d)),
        K::SentSince(d) => sent(raw).is_some_and(|s| s >= date(d)),
        _ => false,
    }
}

fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default()
        .parse_headers(raw)
        .unwrap_or_default()
}

/// The Date header's calendar day, in the sender's own zone.
fn sent(raw: &[u8]) -> Option<time::Date> {
    let message = parse(raw);
    let d = message.date()?;
    let month = time::Month::try_from(d.month).ok()?;
    time::Date::from_calendar_date(i32::from(d.year), month, d.day).ok()
}

/// Header and body: split at the first empty line.
fn split(raw: &[u8]) -> (&[u8], &[u8]) {
    if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
        return (&raw[..i + 2], &raw[i + 4..]);
    }
    if let Some(i) = raw.windows(2).position(|w| w == b"\n\n") {
        return (&raw[..i + 1], &raw[i + 2..]);
    }
    (raw, &[])
}

/// Every value of header field `name` (case-insensitive), unfolded.
fn header_values(header: &[u8], name: &str) -> Vec<Vec<u8>> {
    let mut values: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in header.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            if let Some(v) = current.as_mut() {
                v.extend_from_slice(line);
            }
            continue;
        }
        values.extend(current.take());
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && line[..colon]
                .trim_ascii()
                .eq_ignore_ascii_case(name.as_bytes())
        {
            current = Some(line[colon + 1..].trim_ascii().to_vec());
        }
    }
    values.extend(current);
    values
}

/// Case-insensitive (ASCII) substring test; the empty needle is always found.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_unfold_and_match_case_insensitively() {
        let raw =
            b"From: Alice <alice@example.org>\r\nSubject: Hello\r\n  World\r\n\r\nBody text\r\n";
        let (header, body) = split(raw);
        assert_eq!(
            header_values(header, "subject"),
            vec![b"Hello  World".to_vec()]
        );
        assert!(contains(body, b"BODY"));
        assert!(!contains(body, b"absent"));
        let from = AStringLike("ALICE@");
        assert!(content_matches(raw, &SearchKey::From(from.into())));
        assert!(!content_matches(
            raw,
            &SearchKey::To(AStringLike("alice").into())
        ));
    }

    struct AStringLike(&'static str);

    impl From<AStringLike> for imap_codec::imap_types::core::AString<'static> {
        fn from(s: AStringLike) -> Self {
            imap_codec::imap_types::core::AString::try_from(s.0).expect("astring")
        }
    }
}
