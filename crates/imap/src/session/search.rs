//! SEARCH and UID SEARCH (RFC 3501 §6.4.4).
//!
//! Where it sits: called by [`super::Session::command`] in the selected state. Every
//! message the client knows is tested against the criteria: flags, size, INTERNALDATE
//! and MODSEQ from the mailbox's snapshot in memory; the header keys (FROM, TO, CC,
//! BCC, SUBJECT, SENT*, and HEADER for the fields a summary keeps) from the message's
//! stored summary ([`crate::summary`], read a batch at a time by [`super::summaries`]);
//! BODY, TEXT and HEADER of any other field from the message bytes, read only for the
//! messages the rest of the criteria leave undecided. String matches are
//! case-insensitive substring matches (RFC 3501 §6.4.4) over each occurrence of the
//! unfolded header field (SUBJECT also over its RFC 2047 decoded form; FROM, TO, CC
//! and BCC also over each address without its comments), the body (BODY)
//! or the whole message (TEXT). Dates compare by day, ignoring time and zone:
//! INTERNALDATE in UTC, SENT* the Date header's own day.
//! RECENT, NEW (RECENT UNSEEN) and OLD (NOT RECENT) test this session's own `\Recent`
//! (RFC 3501 §6.4.4; see [`crate::selected::Recent`]).
//! Sequence numbers past the last message match nothing rather than failing, as
//! Dovecot answers (`SEARCH 1:100` in a 3-message mailbox is `1 2 3`; an empty
//! mailbox gives an empty result); `*` is the last message, or the highest UID for
//! UID keys (RFC 3501 §6.4.8, §9 `seq-range`).
//! Charsets: UTF-8 and US-ASCII; others get `NO [BADCHARSET]`.

use super::summaries::{self, BATCH, Repairs};
use super::{Session, Status, cpu, store_failed, wire};
use crate::selected::snapshot::system as flag;
use crate::selected::{Recent, Record, Snapshot};
use crate::summary::{Summary, contains_ignore_case as contains, raw_header_contains};
use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use std::sync::Arc;

/// A message under test.
struct Candidate<'m> {
    seq: u32,
    uid: u32,
    record: &'m Record,
    /// Its summary, when the criteria have header keys (`None`: unreadable).
    summary: Option<&'m Summary<'m>>,
}

/// What the criteria are tested against besides each candidate.
struct Context<'c> {
    latest: &'c Snapshot,
    /// `*` for sequence-number keys: the number of messages the client knows.
    last_seq: u32,
    /// `*` for UID keys: the highest UID the client knows.
    last_uid: u32,
    /// This session's `\Recent` messages (`None`: it shows none, IMAP4rev2).
    recent: Option<&'c Recent>,
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
        let mut line = String::with_capacity(7 + hits.len() * 7 + suffix.len());
        line.push_str("SEARCH");
        for &(seq, id) in &hits {
            use std::fmt::Write;
            let _ = write!(line, " {}", if uid { id } else { seq });
        }
        if !hits.is_empty() {
            line.push_str(&suffix);
        }
        self.untagged(&line);
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
        // Answer from the newest snapshot.
        self.resync().await;
        self.search_current(criteria).await
    }

    /// [`Self::search_hits`] against the snapshot the session already has (no resync,
    /// no charset check): how an UPDATE context (RFC 5267 §4.3, [`super::context`])
    /// re-runs its search program after the updates were sent.
    pub(super) async fn search_current(
        &mut self,
        criteria: &[SearchKey<'static>],
    ) -> Result<Vec<(u32, u32)>, Status> {
        let Some(open) = &self.selected else {
            return Err(Status::Bad("No mailbox selected".into()));
        };
        let mailbox = open.mailbox.id;
        let latest: Arc<Snapshot> = Arc::clone(open.view.latest());
        let known: Vec<(u32, u32)> = open.view.messages().collect();
        let recent = open.view.recent().cloned();
        let context = Context {
            latest: &latest,
            last_seq: open.view.exists(),
            last_uid: known.last().map_or(0, |&(_, uid)| uid),
            recent: recent.as_ref(),
        };
        let wants_summary = criteria.iter().any(needs_summary);
        let store = self.shared.store();
        let mut hits = Vec::new();
        let mut repairs = Repairs::default();
        // The client's messages and the snapshot's records are both in UID order: one
        // walk over both finds each message's record (a look-up per message cost two
        // binary searches, most of a flag SEARCH's time on a big mailbox).
        let mut records = latest.list().iter().peekable();
        for chunk in known.chunks(BATCH) {
            let batch = if wants_summary {
                let uids: Vec<u32> = chunk
                    .iter()
                    .map(|&(_, uid)| uid)
                    .filter(|&uid| latest.get(uid).is_some())
                    .collect();
                match summaries::load(store.as_ref(), mailbox, &uids).await {
                    Ok(batch) => Some(batch),
                    Err(e) => return Err(store_failed("SEARCH", &e)),
                }
            } else {
                None
            };
            for &(seq, uid) in chunk {
                while records.next_if(|r| r.uid < uid).is_some() {}
                let Some(record) = records.next_if(|r| r.uid == uid) else {
                    continue; // expunged: it matches nothing
                };
                let fresh;
                let summary = match batch.as_ref().and_then(|b| b.entry(uid)) {
                    Some(Ok(summary)) => Some(summary),
                    Some(Err(e)) => {
                        fresh = match repairs.fix(store.as_ref(), mailbox, uid, &e).await {
                            Ok(fresh) => fresh,
                            Err(e) => return Err(store_failed("SEARCH", &e)),
                        };
                        fresh.as_deref().and_then(|b| Summary::decode(b).ok())
                    }
                    None => None,
                };
                let c = Candidate {
                    seq,
                    uid,
                    record,
                    summary: summary.as_ref(),
                };
                let verdict = match all(&context, &c, criteria, None) {
                    Some(verdict) => verdict,
                    // Only the message bytes can tell.
                    None => match store.message_read(mailbox, uid).await {
                        // A big message's bytes are matched off the async workers.
                        Ok(raw) => cpu::maybe_heavy(raw.len() > cpu::HEAVY_BYTES, || {
                            all(&context, &c, criteria, Some(&raw)) == Some(true)
                        }),
                        Err(_) => false,
                    },
                };
                if verdict {
                    hits.push((seq, uid));
                }
            }
            // Other sessions get the worker between batches.
            cpu::breathe().await;
        }
        repairs.flush(store.as_ref(), mailbox).await;
        Ok(hits)
    }
}

/// Whether the candidate matches every key (RFC 3501 §6.4.4: keys are ANDed); `None`
/// when that depends on keys that need the message bytes and `raw` is not given.
fn all(
    cx: &Context<'_>,
    c: &Candidate<'_>,
    keys: &[SearchKey<'_>],
    raw: Option<&[u8]>,
) -> Option<bool> {
    let mut verdict = Some(true);
    for key in keys {
        match test(cx, c, key, raw) {
            Some(false) => return Some(false),
            Some(true) => {}
            None => verdict = None,
        }
    }
    verdict
}

/// Whether the candidate matches one key: three-valued, `None` meaning "only the
/// message bytes can tell" (and `raw` is not given). NOT, OR and AND combine so that a
/// known answer is given whenever the known parts decide it. Recursive over the key
/// tree, whose depth is bounded: imap-codec builds no search key deeper than 9
/// levels, and the framing gate refuses lines nested past 64 before any parse (see
/// `search_key_trees_are_shallow`).
fn test(
    cx: &Context<'_>,
    c: &Candidate<'_>,
    key: &SearchKey<'_>,
    raw: Option<&[u8]>,
) -> Option<bool> {
    use SearchKey as K;
    let has = |flag: &str| cx.latest.has_flag(c.record.flags, flag);
    let system = |bit: u8| cx.latest.system_flags(c.record.flags) & bit != 0;
    let recent = || cx.recent.is_some_and(|r| r.contains(c.uid));
    let day = |unix: i64| {
        time::OffsetDateTime::from_unix_timestamp(unix)
            .map(|t| t.date())
            .unwrap_or(time::Date::MIN)
    };
    let summary = |f: &dyn Fn(&Summary<'_>) -> bool| Some(c.summary.is_some_and(f));
    let sent = || {
        c.summary.and_then(Summary::sent_day).and_then(|(y, m, d)| {
            time::Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()
        })
    };
    Some(match key {
        K::All => true,
        // RFC 3501 §6.4.4: NEW is RECENT UNSEEN, OLD is NOT RECENT.
        K::Recent => recent(),
        K::New => recent() && !system(flag::SEEN),
        K::Old => !recent(),
        K::Answered => system(flag::ANSWERED),
        K::Deleted => system(flag::DELETED),
        K::Draft => system(flag::DRAFT),
        K::Flagged => system(flag::FLAGGED),
        K::Seen => system(flag::SEEN),
        K::Unanswered => !system(flag::ANSWERED),
        K::Undeleted => !system(flag::DELETED),
        K::Undraft => !system(flag::DRAFT),
        K::Unflagged => !system(flag::FLAGGED),
        K::Unseen => !system(flag::SEEN),
        K::Keyword(k) => has(&wire::atom_text(k)),
        K::Unkeyword(k) => !has(&wire::atom_text(k)),
        K::Larger(n) => c.record.size > *n,
        // RFC 7162 §3.1.5; per-flag entries use the message's own mod-sequence.
        K::ModSequence { modseq, .. } => c.record.modseq >= *modseq,
        K::Smaller(n) => c.record.size < *n,
        K::Before(d) => day(c.record.received_at) < date(d),
        K::On(d) => day(c.record.received_at) == date(d),
        K::Since(d) => day(c.record.received_at) >= date(d),
        K::SequenceSet(set) => in_set(set, c.seq, cx.last_seq),
        K::Uid(set) => in_set(set, c.uid, cx.last_uid),
        K::Not(inner) => !test(cx, c, inner, raw)?,
        K::Or(a, b) => match (test(cx, c, a, raw), test(cx, c, b, raw)) {
            (Some(true), _) | (_, Some(true)) => true,
            (Some(false), Some(false)) => false,
            _ => return None,
        },
        K::And(keys) => return all(cx, c, keys.as_ref(), raw),
        // The field as sent, or its addresses without comments (see `address_contains`).
        K::From(s) => return summary(&|m| m.address_contains(b"From", s.as_ref()) == Some(true)),
        K::To(s) => return summary(&|m| m.address_contains(b"To", s.as_ref()) == Some(true)),
        K::Cc(s) => return summary(&|m| m.address_contains(b"Cc", s.as_ref()) == Some(true)),
        K::Bcc(s) => return summary(&|m| m.address_contains(b"Bcc", s.as_ref()) == Some(true)),
        K::Subject(s) => return summary(&|m| m.subject_contains(s.as_ref())),
        K::SentBefore(d) => sent().is_some_and(|s| s < date(d)),
        K::SentOn(d) => sent().is_some_and(|s| s == date(d)),
        K::SentSince(d) => sent().is_some_and(|s| s >= date(d)),
        K::Header(name, value) => {
            let (name, value) = (name.as_ref(), value.as_ref());
            match c.summary.map(|m| m.header_contains(name, value)) {
                Some(Some(known)) => known,
                // A field the summary does not keep: the message bytes.
                _ => raw_header_contains(raw?, name, value),
            }
        }
        K::Body(s) => contains(split(raw?).1, s.as_ref()),
        K::Text(s) => contains(raw?, s.as_ref()),
    })
}

/// Whether `value` is in an imap-codec sequence set whose `*` is `star` (ranges in
/// either order, RFC 3501 §9; `n:*` holds `star` even when `n` is above it, §6.4.8).
fn in_set(set: &SequenceSet, value: u32, star: u32) -> bool {
    let bound = |b: &SeqOrUid| match b {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => star,
    };
    set.0.as_ref().iter().any(|s| {
        let (a, b) = match s {
            Sequence::Single(x) => (bound(x), bound(x)),
            Sequence::Range(a, b) => (bound(a), bound(b)),
        };
        (a.min(b)..=a.max(b)).contains(&value)
    })
}

/// `keys` with every message-sequence-number key replaced by the UIDs it names now
/// (RFC 5267 §4.3: the sequence numbers of an UPDATE context's program are evaluated
/// when the command is received, so later renumbering changes nothing). `messages` are
/// the view's `(seq, uid)`, `last_seq` its `*`. Recursive like [`test`], over the
/// same bounded key trees.
pub(super) fn pin_sequence_numbers(
    keys: &[SearchKey<'static>],
    messages: &[(u32, u32)],
    last_seq: u32,
) -> Vec<SearchKey<'static>> {
    keys.iter().map(|k| pin(k, messages, last_seq)).collect()
}

fn pin(key: &SearchKey<'static>, messages: &[(u32, u32)], last: u32) -> SearchKey<'static> {
    use SearchKey as K;
    match key {
        K::SequenceSet(set) => {
            let uids: Vec<u32> = messages
                .iter()
                .filter(|&&(seq, _)| in_set(set, seq, last))
                .map(|&(_, uid)| uid)
                .collect();
            let text = crate::sequence::SequenceSet::from_values(&uids).to_string();
            match SequenceSet::try_from(text.as_str()) {
                Ok(set) => K::Uid(set),
                // None of the messages: a key nothing matches.
                Err(_) => K::Not(Box::new(K::All)),
            }
        }
        K::Not(inner) => K::Not(Box::new(pin(inner, messages, last))),
        K::Or(a, b) => K::Or(
            Box::new(pin(a, messages, last)),
            Box::new(pin(b, messages, last)),
        ),
        K::And(keys) => {
            let pinned: Vec<SearchKey<'static>> = keys
                .as_ref()
                .iter()
                .map(|k| pin(k, messages, last))
                .collect();
            match imap_codec::imap_types::core::Vec1::try_from(pinned) {
                Ok(keys) => K::And(keys),
                Err(_) => key.clone(),
            }
        }
        other => other.clone(),
    }
}

/// Whether a key (at any depth) reads a message's summary.
fn needs_summary(key: &SearchKey<'_>) -> bool {
    use SearchKey as K;
    match key {
        K::From(_)
        | K::To(_)
        | K::Cc(_)
        | K::Bcc(_)
        | K::Subject(_)
        | K::Header(..)
        | K::SentBefore(_)
        | K::SentOn(_)
        | K::SentSince(_) => true,
        K::Not(inner) => needs_summary(inner),
        K::Or(a, b) => needs_summary(a) || needs_summary(b),
        K::And(list) => list.as_ref().iter().any(needs_summary),
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::imap_types::core::AString;

    fn key(text: &'static str) -> SearchKey<'static> {
        SearchKey::Subject(AString::try_from(text).expect("astring"))
    }

    #[test]
    fn search_key_trees_are_shallow() {
        // `test` and `needs_summary` recurse over the tree: no parse may build a
        // deep one (issue 12, finding 2).
        use imap_codec::CommandCodec;
        use imap_codec::decode::Decoder;
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                for unit in ["NOT ", "OR ALL ", "("] {
                    let deep = format!("a SEARCH {}ALL\r\n", unit.repeat(64));
                    assert!(CommandCodec::default().decode(deep.as_bytes()).is_err());
                }
                let shallow = b"a SEARCH NOT NOT OR ALL (SEEN)\r\n";
                assert!(CommandCodec::default().decode(shallow).is_ok());
            })
            .expect("thread");
        handle.join().expect("no overflow");
    }

    #[test]
    fn sets_hold_their_ranges_in_either_order() {
        let set = SequenceSet::try_from("5:3,9,12:*").expect("set");
        let hits: Vec<u32> = (1..=20).filter(|&v| in_set(&set, v, 14)).collect();
        assert_eq!(hits, [3, 4, 5, 9, 12, 13, 14]);
        // RFC 3501 §6.4.8: 559:* holds the last UID even below 559.
        let high = SequenceSet::try_from("559:*").expect("set");
        assert!(in_set(&high, 50, 50) && !in_set(&high, 49, 50));
    }

    #[test]
    fn header_keys_make_a_search_read_summaries_at_any_depth() {
        assert!(needs_summary(&key("x")));
        assert!(needs_summary(&SearchKey::Not(Box::new(key("x")))));
        assert!(needs_summary(&SearchKey::Or(
            Box::new(SearchKey::Seen),
            Box::new(key("x"))
        )));
        assert!(!needs_summary(&SearchKey::Seen));
        assert!(!needs_summary(&SearchKey::Body(
            AString::try_from("x").expect("astring")
        )));
        let (head, body) = split(b"A: b\r\n\r\nbody\r\n");
        assert_eq!((head, body), (&b"A: b\r\n"[..], &b"body\r\n"[..]));
    }

    #[test]
    fn sequence_numbers_are_pinned_to_uids() {
        use imap_codec::CommandCodec;
        use imap_codec::decode::Decoder;
        let keys = |text: &str| -> Vec<SearchKey<'static>> {
            let line = format!("a SEARCH {text}\r\n");
            match CommandCodec::default().decode(line.as_bytes()) {
                Ok((_, cmd)) => match cmd.body {
                    imap_codec::imap_types::command::CommandBody::Search { criteria, .. } => {
                        use imap_codec::imap_types::IntoStatic;
                        criteria
                            .as_ref()
                            .iter()
                            .map(|k| k.clone().into_static())
                            .collect()
                    }
                    _ => panic!("not a search"),
                },
                Err(e) => panic!("{e:?}"),
            }
        };
        // Sequence numbers 1..4 hold UIDs 10, 20, 30, 40.
        let messages = [(1, 10), (2, 20), (3, 30), (4, 40)];
        let table = [
            ("2:3", "UID 20,30"),
            ("1:4", "UID 10,20,30,40"),
            ("4:*", "UID 40"),
            ("NOT 1", "NOT UID 10"),
            ("OR 1 (SEEN 3)", "OR UID 10 (SEEN UID 30)"),
            ("9", "NOT ALL"),
            ("UID 1:* SEEN", "UID 1:* SEEN"),
        ];
        for (text, want) in table {
            assert_eq!(
                pin_sequence_numbers(&keys(text), &messages, 4),
                keys(want),
                "{text}"
            );
        }
    }
}
