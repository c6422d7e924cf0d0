//! SORT and UID SORT (RFC 5256 §3) with the DISPLAYFROM and DISPLAYTO keys
//! (SORT=DISPLAY, RFC 5957).
//!
//! Where it sits: called by [`super::Session::command`] in the selected state with the
//! command as imap-codec parsed it; the keys select messages as SEARCH does
//! ([`super::search`]), then the matches are ordered by the criteria, ties by sequence
//! number (RFC 5256 §3). ARRIVAL and SIZE come from the mailbox's snapshot, the other
//! keys from each message's stored summary ([`imap::summary`]). Strings compare
//! with `i;ascii-casemap` (ASCII letters folded), display names with a Unicode case
//! fold. Addresses are the first address of the field (`addr-mailbox`, the local part,
//! for CC/FROM/TO), parsed as ENVELOPE parses them: comments inside an addr-spec are
//! dropped, and a group (`Cc: user2: blah@domain1.org;`) sorts on its own name
//! (`user2`) for CC/FROM/TO and DISPLAY*, as Dovecot does (see
//! `imap::summary`'s `address.rs`); SUBJECT is the base subject of [`base_subject`]; DATE is the Date
//! header in UTC, or the INTERNALDATE when it has none (RFC 5256 §3).

use super::summaries::{self, BATCH, Repairs};
use super::{Session, Status, cpu, store_failed};
use imap::summary::{AddressField, Summary};
use imap::thread::base_subject;
use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::extensions::sort::{SortCriterion, SortKey};
use imap_codec::imap_types::search::SearchKey;
use std::cmp::Ordering;
use std::sync::Arc;

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
    /// Fills the header-derived values from the message's summary.
    fn read_summary(&mut self, summary: &Summary<'_>) {
        self.date = summary.sent_timestamp().unwrap_or(self.arrival);
        self.subject = base_subject(summary.subject_text().as_deref().unwrap_or(""));
        let first = |field: AddressField| {
            let (name, spec) = summary.first_address(field).unwrap_or((None, None));
            let spec = spec.map(|s| s.into_owned()).unwrap_or_default();
            let local = spec.rsplit_once('@').map_or(spec.as_str(), |(l, _)| l);
            let local = local.to_ascii_uppercase();
            // RFC 5957 §3: the display name, or the address when there is none.
            let display = match name.as_deref().map(str::trim) {
                Some(name) if !name.is_empty() => name.to_owned(),
                _ => spec.clone(),
            };
            (local, display.to_uppercase())
        };
        (self.from, self.display_from) = first(AddressField::From);
        (self.to, self.display_to) = first(AddressField::To);
        (self.cc, _) = first(AddressField::Cc);
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
        // search_hits brought the snapshot up to date.
        let latest = Arc::clone(open.view.latest());
        let store = self.shared.store.clone();
        let needs_headers = criteria
            .iter()
            .any(|(k, _)| !matches!(k, Key::Arrival | Key::Size));
        let mut values = Vec::with_capacity(hits.len());
        let mut repairs = Repairs::default();
        for chunk in hits.chunks(BATCH) {
            let batch = if needs_headers {
                let uids: Vec<u32> = chunk.iter().map(|&(_, uid)| uid).collect();
                match summaries::load(store.as_ref(), mailbox, &uids).await {
                    Ok(batch) => Some(batch),
                    Err(e) => return store_failed("SORT", &e),
                }
            } else {
                None
            };
            for &(seq, id) in chunk {
                let Some(m) = latest.get(id) else { continue };
                let mut v = Values {
                    seq,
                    uid: id,
                    arrival: m.received_at,
                    size: u64::from(m.size),
                    date: m.received_at,
                    ..Values::default()
                };
                match batch.as_ref().and_then(|b| b.entry(id)) {
                    Some(Ok(summary)) => v.read_summary(&summary),
                    Some(Err(e)) => match repairs.fix(store.as_ref(), mailbox, id, &e).await {
                        Ok(Some(fresh)) => {
                            if let Ok(summary) = Summary::decode(&fresh) {
                                v.read_summary(&summary);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => return store_failed("SORT", &e),
                    },
                    None => {}
                }
                values.push(v);
            }
            cpu::breathe().await;
        }
        repairs.flush(store.as_ref(), mailbox).await;
        cpu::maybe_heavy(values.len() > cpu::HEAVY_MESSAGES, || {
            order(&mut values, &criteria)
        });
        let mut text = "SORT".to_owned();
        for v in &values {
            text.push_str(&format!(" {}", if uid { v.uid } else { v.seq }));
        }
        self.untagged(&text);
        Status::Ok("SORT completed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
