//! SORT and UID SORT (RFC 5256 §3) with the DISPLAYFROM and DISPLAYTO keys
//! (SORT=DISPLAY, RFC 5957).
//!
//! Where it sits: called by [`super::Session::command`] in the selected state with the
//! command as imap-codec parsed it; the keys select messages as SEARCH does
//! ([`super::search`]), then the matches are ordered by the criteria, ties by sequence
//! number (RFC 5256 §3). ARRIVAL and SIZE come from the mailbox's snapshot, the other
//! keys from each message's stored summary ([`crate::summary`]). Strings compare
//! with `i;ascii-casemap` (ASCII letters folded), display names with a Unicode case
//! fold. Addresses are the first address of the field (`addr-mailbox`, the local part,
//! for CC/FROM/TO), parsed as ENVELOPE parses them: comments inside an addr-spec are
//! dropped, and a group (`Cc: user2: blah@domain1.org;`) sorts on its own name
//! (`user2`) for CC/FROM/TO and DISPLAY*, as Dovecot does (see
//! `crate::summary`'s `address.rs`); SUBJECT is the base subject of [`base_subject`]; DATE is the Date
//! header in UTC, or the INTERNALDATE when it has none (RFC 5256 §3).
//!
//! ESORT (RFC 5267 §3): `SORT RETURN (...)` comes from [`super::extended`] as a raw
//! line ([`Session::esort`]); the return options are ESEARCH's
//! ([`super::esearch::return_options`]) and the answer is one ESEARCH in the sort
//! order: MIN and MAX are the first and last sorted messages (§3.1), ALL and PARTIAL
//! keep the order ([`ordered_set`], §3.2; PARTIAL pages the sorted list, §4.4), COUNT
//! as for ESEARCH; SAVE keeps the reported messages for `$` (RFC 5182). UPDATE opens
//! a live context ([`super::context`], CONTEXT=SORT).

use super::esearch::{Want, render_in, return_options};
use super::extended::Line;
use super::searchres::Rewritten;
use super::summaries::{self, BATCH, Repairs};
use super::{Session, Status, cpu, store_failed};
use crate::summary::{AddressField, Summary};
use crate::thread::base_subject;
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::extensions::sort::{SortCriterion, SortKey};
use imap_codec::imap_types::search::SearchKey;
use std::cmp::Ordering;
use std::sync::Arc;

/// One sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
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
pub(super) type Criterion = (Key, bool);

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
        let sorted = match self.sorted(&criteria, &hits).await {
            Ok(sorted) => sorted,
            Err(status) => return status,
        };
        let mut text = "SORT".to_owned();
        for (seq, id) in sorted {
            text.push_str(&format!(" {}", if uid { id } else { seq }));
        }
        self.untagged(&text);
        Status::Ok("SORT completed".into())
    }

    /// `hits` (`(sequence number, UID)`, from [`Self::search_hits`]) in the order of
    /// `criteria`; also used by ESORT and CONTEXT=SORT (RFC 5267).
    pub(super) async fn sorted(
        &mut self,
        criteria: &[Criterion],
        hits: &[(u32, u32)],
    ) -> Result<Vec<(u32, u32)>, Status> {
        let Some(open) = &self.selected else {
            return Err(Status::Bad("No mailbox selected".into()));
        };
        let mailbox = open.mailbox.id;
        // search_hits brought the snapshot up to date.
        let latest = Arc::clone(open.view.latest());
        let store = self.shared.store();
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
                    Err(e) => return Err(store_failed("SORT", &e)),
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
                        Err(e) => return Err(store_failed("SORT", &e)),
                    },
                    None => {}
                }
                values.push(v);
            }
            cpu::breathe().await;
        }
        repairs.flush(store.as_ref(), mailbox).await;
        cpu::maybe_heavy(values.len() > cpu::HEAVY_MESSAGES, || {
            order(&mut values, criteria)
        });
        Ok(values.iter().map(|v| (v.seq, v.uid)).collect())
    }

    /// `[UID] SORT RETURN (...) (criteria) charset keys` (ESORT, RFC 5267 §3); `line`
    /// stands at `RETURN`. Answered with one ESEARCH, as an extended SEARCH would be
    /// (§3), but in the requested order (§3.1).
    pub(super) async fn esort(&mut self, tag: &str, uid: bool, line: &mut Line<'_>) -> Status {
        let want = match return_options(line) {
            Ok(want) => want,
            Err(why) => return Status::Bad(why),
        };
        let status = self.esort_program(tag, uid, &want, line).await;
        self.saved_after(&want, status)
    }

    async fn esort_program(
        &mut self,
        tag: &str,
        uid: bool,
        want: &Want,
        line: &mut Line<'_>,
    ) -> Status {
        if !line.space() {
            return Status::Bad("Expected sort criteria".into());
        }
        // `(criteria) charset keys`, read by imap-codec as a plain SORT (`$` first
        // replaced by the saved UIDs, RFC 5182, as `searchres.rs` does for SORT).
        let mut command = format!("{tag} SORT ").into_bytes();
        command.extend_from_slice(line.rest());
        command.extend_from_slice(b"\r\n");
        let parsed = match self.saved_result_command(&command) {
            Some(Ok(Rewritten::Command(command))) => Ok(command),
            Some(Ok(Rewritten::Answer(status)) | Err(status)) => return status,
            None => CommandCodec::default()
                .decode(&command)
                .map(|(_, command)| command.into_static())
                .map_err(|_| ()),
        };
        let (sort_criteria, charset, keys) = match parsed {
            Ok(Command {
                body:
                    CommandBody::Sort {
                        sort_criteria,
                        charset,
                        search_criteria,
                        ..
                    },
                ..
            }) => (
                criteria(sort_criteria.as_ref()),
                charset.into_static(),
                search_criteria
                    .as_ref()
                    .iter()
                    .map(|k| k.clone().into_static())
                    .collect::<Vec<_>>(),
            ),
            _ => return Status::Bad("Invalid sort program".into()),
        };
        if want.update && self.contexts.has(tag) {
            // RFC 5267 §4.3: a tag already naming an updating context.
            return Status::Bad("Tag reuse (RFC 5267 section 4.3)".into());
        }
        let hits = match self.search_hits(Some(charset.clone()), &keys).await {
            Ok(hits) => hits,
            Err(status) => return status,
        };
        let sorted = match self.sorted(&sort_criteria, &hits).await {
            Ok(sorted) => sorted,
            Err(status) => return status,
        };
        // RFC 7162 §3.1.5 / RFC 4731 §3.2 as for ESEARCH: MODSEQ over the messages
        // returned.
        let returned = returned(want, &sorted);
        let suffix = self.search_modseq_suffix(&keys, &returned).await;
        let modseq = suffix
            .trim()
            .strip_prefix("(MODSEQ ")
            .and_then(|s| s.strip_suffix(')'))
            .and_then(|n| n.parse().ok());
        if want.save {
            // `$` is a set: kept as UIDs (see `searchres.rs`).
            self.saved_search
                .set(returned.iter().map(|&(_, id)| id).collect());
        }
        let values: Vec<u32> = sorted
            .iter()
            .map(|&(seq, id)| if uid { id } else { seq })
            .collect();
        if want.reports() {
            self.untagged(&render_in(tag, uid, want, &values, modseq, true));
        }
        if want.update {
            self.open_context(tag, uid, Some(sort_criteria), keys, &sorted);
        }
        Status::Ok("SORT completed".into())
    }
}

/// The messages an ESORT reports on, ascending by sequence number (for MODSEQ and
/// SAVE, as [`super::esearch`] does for SEARCH): with MIN, MAX and/or PARTIAL but
/// neither ALL nor COUNT, the first and/or last in sort order (RFC 5267 §3.1) and/or
/// the page (RFC 9394 §3.2); otherwise all of them.
fn returned(want: &Want, sorted: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = if !(want.min || want.max || want.partial.is_some()) || want.all || want.count {
        sorted.to_vec()
    } else {
        let mut out = Vec::new();
        if let Some(range) = want.partial {
            out.extend_from_slice(&sorted[range.window(sorted.len())]);
        }
        if want.min {
            out.extend(sorted.first());
        }
        if want.max {
            out.extend(sorted.last());
        }
        out
    };
    out.sort_unstable();
    out.dedup();
    out
}

/// A sequence set that keeps `values`' order (RFC 5267 §3.1: ESORT's ALL is "in the
/// requested sort order"): a range only for a run ascending by one, since a range
/// always means ascending numbers and `12:10` should not be sent (§3.2).
pub(super) fn ordered_set(values: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < values.len() {
        let start = values[i];
        let mut end = start;
        while i + 1 < values.len() && end.checked_add(1) == Some(values[i + 1]) {
            end = values[i + 1];
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if end == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
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

    #[test]
    fn ordered_sets_keep_the_sort_order() {
        // RFC 5267 §3.1: ALL in the requested order; §3.2: a range only where the
        // numbers ascend by one (never 12:10).
        let table: &[(&[u32], &str)] = &[
            (&[], ""),
            (&[7], "7"),
            (&[1, 2, 3], "1:3"),
            (&[3, 2, 1], "3,2,1"),
            (&[23765, 23764, 23763, 23761], "23765,23764,23763,23761"),
            (&[9, 1, 2, 3, 7, 8, 4], "9,1:3,7:8,4"),
            (&[5, 6, 5, 6], "5:6,5:6"),
            (&[u32::MAX, 1], "4294967295,1"),
        ];
        for (values, want) in table {
            assert_eq!(ordered_set(values), *want, "{values:?}");
        }
    }

    fn want(options: &str) -> Want {
        return_options(&mut Line::new(
            format!("RETURN ({options}) (DATE)").as_bytes(),
        ))
        .expect("options")
    }

    #[test]
    fn sort_return_options_parse() {
        // (options, min, max, count, all, partial, update)
        let table: &[(&str, [bool; 6])] = &[
            ("", [false, false, false, true, false, false]),
            ("MIN MAX", [true, true, false, false, false, false]),
            ("count", [false, false, true, false, false, false]),
            ("ALL", [false, false, false, true, false, false]),
            ("PARTIAL 1:5", [false, false, false, false, true, false]),
            ("UPDATE", [false, false, false, false, false, true]),
            (
                "CONTEXT COUNT UPDATE",
                [false, false, true, false, false, true],
            ),
            ("MIN MAX COUNT ALL", [true, true, true, true, false, false]),
        ];
        for (options, flags) in table {
            let w = want(options);
            let got = [w.min, w.max, w.count, w.all, w.partial.is_some(), w.update];
            assert_eq!(&got, flags, "{options}");
        }
        for bad in ["PARTIAL 1:5 ALL", "FROB", "PARTIAL"] {
            let line = format!("RETURN ({bad}) (DATE)");
            assert!(
                return_options(&mut Line::new(line.as_bytes())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn esort_renders_in_sort_order() {
        // Sort order 9, 3, 4, 1 (not ascending): MIN is the first, MAX the last.
        let values = [9, 3, 4, 1];
        let r = |options: &str| render_in("E", true, &want(options), &values, None, true);
        assert_eq!(
            r("MIN MAX COUNT ALL"),
            "ESEARCH (TAG \"E\") UID MIN 9 MAX 1 COUNT 4 ALL 9,3:4,1"
        );
        assert_eq!(r(""), "ESEARCH (TAG \"E\") UID ALL 9,3:4,1");
        // RFC 5267 §4.4 / RFC 9394: pages of the sorted list.
        assert_eq!(
            r("PARTIAL 1:2"),
            "ESEARCH (TAG \"E\") UID PARTIAL (1:2 9,3)"
        );
        assert_eq!(
            r("PARTIAL -1:-2"),
            "ESEARCH (TAG \"E\") UID PARTIAL (-1:-2 4,1)"
        );
        assert_eq!(
            r("PARTIAL 2:3"),
            "ESEARCH (TAG \"E\") UID PARTIAL (2:3 3:4)"
        );
        assert_eq!(
            r("PARTIAL 5:9"),
            "ESEARCH (TAG \"E\") UID PARTIAL (5:9 NIL)"
        );
        assert_eq!(
            render_in("E", false, &want("MIN MAX COUNT"), &[], None, true),
            "ESEARCH (TAG \"E\") COUNT 0"
        );
    }

    #[test]
    fn esort_reports_on_the_first_last_and_page_in_sort_order() {
        // (seq, uid) in sort order.
        let sorted = [(4, 40), (1, 10), (3, 30), (2, 20)];
        assert_eq!(returned(&want("MIN"), &sorted), vec![(4, 40)]);
        assert_eq!(returned(&want("MAX"), &sorted), vec![(2, 20)]);
        assert_eq!(
            returned(&want("MIN PARTIAL 2:3"), &sorted),
            vec![(1, 10), (3, 30), (4, 40)]
        );
        assert_eq!(returned(&want("MIN COUNT"), &sorted).len(), 4);
        assert_eq!(returned(&want(""), &sorted).len(), 4);
    }
}
