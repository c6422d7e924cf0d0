//! SEARCH and UID SEARCH with result options (ESEARCH, RFC 4731; SAVE, RFC 5182), and
//! plain SEARCH once IMAP4rev2 is enabled (RFC 9051 §6.4.4: answered with ESEARCH).
//!
//! Where it sits: [`super::extended`] routes `SEARCH RETURN (...)` here, and
//! [`super::prepare`] routes an IMAP4rev2 session's SEARCH; the keys are evaluated by
//! [`super::search`]. The answer is one `* ESEARCH (TAG "t") [UID] ...` (RFC 4731
//! §3.1): MIN, MAX and ALL are left out when nothing matched, COUNT never is;
//! `RETURN ()` means `RETURN (ALL)`. With the MODSEQ key the answer ends with
//! `MODSEQ n` (RFC 7162 §3.1.5). SAVE keeps the hits for `$` ([`super::searchres`]):
//! all of them, or only the MIN and/or MAX ones when those are asked for too (RFC 5182
//! §2.1); SAVE alone sends no ESEARCH; a failed SEARCH with SAVE empties the saved
//! result (RFC 5182 §2.1). After ENABLE UTF8=ACCEPT a CHARSET is a `BAD` (RFC 6855 §3).
//!
//! `UPDATE` (CONTEXT=SEARCH, RFC 5267 §4.3) keeps the result live: see
//! [`super::context`]; `CONTEXT` (§4.2) is a hint we ignore.
//!
//! `PARTIAL m:n` (RFC 9394 §3.1, [`super::partial`]) returns one page of the hits as
//! `PARTIAL (m:n set-or-NIL)`; it excludes ALL and itself (§3.1: at most one PARTIAL
//! or ALL). MIN, MAX and COUNT still describe every hit; SAVE and MODSEQ cover the
//! page plus the MIN/MAX messages, or every hit when COUNT is asked (§3.2).

use super::extended::{Item, Line, search_program};
use super::partial::Range;
use super::searchres::keys_without_dollar;
use super::wire::string;
use super::{Session, Status};
use crate::sequence::SequenceSet;
use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::search::SearchKey;

/// The result options asked for (also by ESORT, [`super::sort`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Want {
    pub min: bool,
    pub max: bool,
    pub count: bool,
    pub all: bool,
    pub save: bool,
    /// RFC 9394 §3.1: one page of the hits.
    pub partial: Option<Range>,
    /// RFC 5267 §4.3: keep the result live (see [`super::context`]).
    pub update: bool,
}

impl Want {
    /// RETURN (ALL): what a plain SEARCH means.
    fn all() -> Self {
        Want {
            all: true,
            ..Want::default()
        }
    }

    /// Whether an ESEARCH response is due (RFC 5182 §2.1: not for SAVE alone; RFC
    /// 5267 §4.3: nor for UPDATE or CONTEXT alone).
    pub(super) fn reports(&self) -> bool {
        self.min || self.max || self.count || self.all || self.partial.is_some()
    }

    /// The hits (ascending) an ESEARCH reports on, for its MODSEQ (RFC 7162 §3.1.5,
    /// RFC 4731 §3.2) and for SAVE (RFC 5182 §2.1): with MIN, MAX and/or PARTIAL but
    /// neither ALL nor COUNT, only the lowest, the highest and/or the page (RFC 9394
    /// §3.2); otherwise all of them.
    fn returned<T: Copy + Ord>(&self, hits: &[T]) -> Vec<T> {
        if !(self.min || self.max || self.partial.is_some()) || self.all || self.count {
            return hits.to_vec();
        }
        let mut out = Vec::new();
        if let Some(range) = self.partial {
            // RFC 9394 §3.2: the messages the PARTIAL result option returns.
            out.extend_from_slice(&hits[range.window(hits.len())]);
        }
        if self.min {
            out.extend(hits.first());
        }
        if self.max {
            out.extend(hits.last());
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The hits SAVE keeps (RFC 5182 §2.1, RFC 9394 §3.2): MIN, MAX and/or the
    /// PARTIAL page alone, else all (ascending).
    fn saved(&self, values: &[u32]) -> Vec<u32> {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        self.returned(&sorted)
    }
}

/// Reads `RETURN (opts)` (RFC 4731 §3.1 `search-return-opts`; RFC 5267 §5 adds
/// CONTEXT, UPDATE and PARTIAL); also ESORT's (RFC 5267 §3).
pub(super) fn return_options(line: &mut Line<'_>) -> Result<Want, String> {
    if !line.next_is("RETURN") {
        return Err("Expected RETURN".into());
    }
    line.atom();
    if !line.space() {
        return Err("Expected RETURN options".into());
    }
    let items = line.list().ok_or("Invalid RETURN options")?;
    let mut want = Want::default();
    let mut items = items.into_iter();
    while let Some(item) = items.next() {
        let Item::Word(word) = item else {
            return Err("Invalid RETURN option".into());
        };
        match word.to_ascii_uppercase().as_str() {
            "MIN" => want.min = true,
            "MAX" => want.max = true,
            "COUNT" => want.count = true,
            "ALL" => want.all = true,
            "SAVE" => want.save = true,
            // RFC 5267 §4.2: a hint a server may ignore; we do.
            "CONTEXT" => {}
            // RFC 5267 §4.3: see `context.rs`.
            "UPDATE" => want.update = true,
            // RFC 9394 §4: `"PARTIAL" SP partial-range`, the range mandatory.
            "PARTIAL" => {
                let Some(Item::Word(range)) = items.next() else {
                    return Err("PARTIAL needs a range (RFC 9394 section 4)".into());
                };
                if want.partial.is_some() {
                    return Err("Only one PARTIAL (RFC 9394 section 3.1)".into());
                }
                want.partial = Some(Range::parse(&range)?);
            }
            _ => return Err(format!("Unsupported RETURN option {word}")),
        }
    }
    // RFC 9394 §3.1: "either one PARTIAL, one ALL, or neither PARTIAL nor ALL".
    if want.all && want.partial.is_some() {
        return Err("PARTIAL and ALL exclude each other (RFC 9394 section 3.1)".into());
    }
    // RFC 4731 §3.1: `RETURN ()` is `RETURN (ALL)`. (RFC 5267 §4.3: UPDATE does not
    // interact with the others, so `RETURN (UPDATE)` reports nothing at once.)
    if want == Want::default() {
        want.all = true;
    }
    Ok(want)
}

/// The `* ESEARCH` response text for `values` (UIDs or sequence numbers, ascending);
/// `modseq` is the highest mod-sequence of the hits when the MODSEQ key was used.
fn render(tag: &str, uid: bool, want: &Want, values: &[u32], modseq: Option<u64>) -> String {
    render_in(tag, uid, want, values, modseq, false)
}

/// [`render`] for `values` in mailbox order (`sorted` false) or in a SORT's order
/// (ESORT, RFC 5267 §3.1: MIN and MAX are the first and last in that order, ALL and
/// PARTIAL keep it, writing a range only where numbers ascend by one, §3.2).
pub(super) fn render_in(
    tag: &str,
    uid: bool,
    want: &Want,
    values: &[u32],
    modseq: Option<u64>,
    sorted: bool,
) -> String {
    let mut text = format!("ESEARCH (TAG {})", string(tag));
    if uid {
        text.push_str(" UID");
    }
    let ends = if sorted {
        values.first().zip(values.last())
    } else {
        values.iter().min().zip(values.iter().max())
    };
    if let Some((min, max)) = ends {
        if want.min {
            text.push_str(&format!(" MIN {min}"));
        }
        if want.max {
            text.push_str(&format!(" MAX {max}"));
        }
    }
    if want.count {
        text.push_str(&format!(" COUNT {}", values.len()));
    }
    let set = |page: &[u32]| {
        if sorted {
            super::sort::ordered_set(page)
        } else {
            SequenceSet::from_values(page).to_string()
        }
    };
    if want.all && !values.is_empty() {
        text.push_str(&format!(" ALL {}", set(values)));
    }
    // RFC 9394 §3.1: sent even when empty, as `PARTIAL (m:n NIL)`.
    if let Some(range) = &want.partial {
        text.push(' ');
        if sorted {
            text.push_str(&range.render_with(values, set));
        } else {
            text.push_str(&range.render(values));
        }
    }
    if let Some(modseq) = modseq {
        text.push_str(&format!(" MODSEQ {modseq}"));
    }
    text
}

impl Session<'_> {
    /// `[UID] SEARCH RETURN (...) keys`; `line` stands at `RETURN`.
    pub(super) async fn esearch(&mut self, tag: &str, uid: bool, line: &mut Line<'_>) -> Status {
        let want = match return_options(line) {
            Ok(want) => want,
            Err(why) => return Status::Bad(why),
        };
        let status = self.esearch_keys(tag, uid, &want, line).await;
        self.saved_after(&want, status)
    }

    /// `status`, after emptying `$` if the command asked to SAVE and failed (RFC 5182
    /// §2.1). For every `RETURN (...)` command: SEARCH and SORT.
    pub(super) fn saved_after(&mut self, want: &Want, status: Status) -> Status {
        if want.save && !matches!(status, Status::Ok(_)) {
            self.saved_search.clear();
        }
        status
    }

    /// The keys after `RETURN (...)`, parsed and run.
    async fn esearch_keys(
        &mut self,
        tag: &str,
        uid: bool,
        want: &Want,
        line: &mut Line<'_>,
    ) -> Status {
        if !line.space() {
            return Status::Bad("Expected search criteria".into());
        }
        let Some(keys) = keys_without_dollar(self, line.rest()) else {
            return Status::Bad("Invalid search criteria".into());
        };
        let (charset, criteria) = match search_program(tag, None, &keys) {
            Ok(program) => program,
            Err(status) => return status,
        };
        if want.update && self.contexts.has(tag) {
            // RFC 5267 §4.3: a tag already naming an updating context.
            return Status::Bad("Tag reuse (RFC 5267 section 4.3)".into());
        }
        self.run_esearch(tag, uid, want, charset, &criteria).await
    }

    /// SEARCH once IMAP4rev2 is enabled: an ESEARCH with ALL (RFC 9051 §6.4.4).
    pub(super) async fn search_rev2(
        &mut self,
        tag: &str,
        charset: Option<Charset<'static>>,
        criteria: &[SearchKey<'static>],
        uid: bool,
    ) -> Status {
        self.run_esearch(tag, uid, &Want::all(), charset, criteria)
            .await
    }

    async fn run_esearch(
        &mut self,
        tag: &str,
        uid: bool,
        want: &Want,
        charset: Option<Charset<'static>>,
        criteria: &[SearchKey<'static>],
    ) -> Status {
        if charset.is_some() && self.enabled.utf8 {
            return utf8_charset_refused();
        }
        let hits = match self.search_hits(charset, criteria).await {
            Ok(hits) => hits,
            Err(status) => return status,
        };
        // RFC 7162 §3.1.5: " (MODSEQ n)" from the SEARCH form, as ESEARCH's "MODSEQ n",
        // over the messages returned (RFC 4731 §3.2: only the MIN/MAX ones when
        // neither ALL nor COUNT is asked; RFC 9394 §3.2: and the PARTIAL page).
        let returned = want.returned(&hits);
        let suffix = self.search_modseq_suffix(criteria, &returned).await;
        let modseq = suffix
            .trim()
            .strip_prefix("(MODSEQ ")
            .and_then(|s| s.strip_suffix(')'))
            .and_then(|n| n.parse().ok());
        let values: Vec<u32> = hits
            .iter()
            .map(|&(seq, id)| if uid { id } else { seq })
            .collect();
        if want.save {
            let saved = want.saved(&values);
            // Kept as UIDs whichever form the SEARCH had (see `searchres.rs`).
            let uids = if uid {
                saved
            } else {
                hits.iter()
                    .filter(|(seq, _)| saved.contains(seq))
                    .map(|&(_, id)| id)
                    .collect()
            };
            self.saved_search.set(uids);
        }
        if want.reports() {
            self.untagged(&render(tag, uid, want, &values, modseq));
        }
        if want.update {
            // RFC 5267 §4.3: the result as it stands, kept live (`context.rs`).
            self.open_context(tag, uid, None, criteria.to_vec(), &hits);
        }
        Status::Ok("SEARCH completed".into())
    }
}

/// RFC 6855 §3: once UTF8=ACCEPT is enabled, SEARCH takes no CHARSET.
pub(super) fn utf8_charset_refused() -> Status {
    Status::Bad("[CLIENTBUG] No CHARSET after ENABLE UTF8=ACCEPT (RFC 6855 section 3)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_rendering() {
        let mut line = Line::new(b"RETURN (MIN max COUNT ALL) UNSEEN");
        let want = return_options(&mut line).expect("options");
        assert_eq!(
            render("a1", true, &want, &[2, 3, 4, 9], None),
            "ESEARCH (TAG \"a1\") UID MIN 2 MAX 9 COUNT 4 ALL 2:4,9"
        );
        assert_eq!(
            render("a1", false, &want, &[], None),
            "ESEARCH (TAG \"a1\") COUNT 0"
        );
        assert_eq!(
            render("a1", false, &Want::all(), &[1, 2], Some(7)),
            "ESEARCH (TAG \"a1\") ALL 1:2 MODSEQ 7"
        );
        let empty = return_options(&mut Line::new(b"RETURN () ALL")).expect("options");
        assert!(empty.all && !empty.count);
        assert!(return_options(&mut Line::new(b"RETURN (FROB) ALL")).is_err());
        assert!(return_options(&mut Line::new(b"RETURN MIN ALL")).is_err());
    }

    #[test]
    fn save_keeps_what_rfc_5182_says() {
        let save = return_options(&mut Line::new(b"RETURN (SAVE) ALL")).expect("options");
        assert!(save.save && !save.reports());
        assert_eq!(save.saved(&[4, 2, 9]), vec![2, 4, 9]);
        let min_max =
            return_options(&mut Line::new(b"RETURN (SAVE MIN MAX) ALL")).expect("options");
        assert!(min_max.reports());
        assert_eq!(min_max.saved(&[4, 2, 9]), vec![2, 9]);
        let min_all =
            return_options(&mut Line::new(b"RETURN (SAVE MIN ALL) ALL")).expect("options");
        assert_eq!(min_all.saved(&[4, 2, 9]), vec![2, 4, 9]);
        assert_eq!(min_max.saved(&[]), Vec::<u32>::new());
    }

    fn want(options: &str) -> Result<Want, String> {
        return_options(&mut Line::new(format!("RETURN ({options}) ALL").as_bytes()))
    }

    #[test]
    fn partial_options_parse_and_exclude_all() {
        let page = want("partial -1:-2").expect("options");
        assert_eq!(page.partial, Range::parse("-1:-2").ok());
        assert!(page.reports() && !page.all);
        // RFC 9394 §3.1: one PARTIAL or one ALL, never both or two PARTIALs.
        for bad in [
            "PARTIAL 1:5 ALL",
            "ALL PARTIAL 1:5",
            "PARTIAL 1:5 PARTIAL 6:9",
            "PARTIAL",
            "PARTIAL (1:5)",
            "PARTIAL 0:5",
            "PARTIAL -1:5",
            "PARTIAL 1:*",
            "PARTIAL 1:4294967296",
        ] {
            assert!(want(bad).is_err(), "{bad}");
        }
        let all = want("MIN PARTIAL 2:3 MAX COUNT SAVE").expect("options");
        assert!(all.min && all.max && all.count && all.save && all.partial.is_some());
    }

    #[test]
    fn partial_renders_beside_min_max_count() {
        let values = [2, 3, 4, 9];
        let r = |options: &str, values: &[u32]| {
            render("a", true, &want(options).expect("options"), values, None)
        };
        assert_eq!(
            r("PARTIAL 1:2", &values),
            "ESEARCH (TAG \"a\") UID PARTIAL (1:2 2:3)"
        );
        // RFC 9394 §3.2: MIN, MAX and COUNT still describe every hit.
        assert_eq!(
            r("MIN MAX COUNT PARTIAL -1:-2", &values),
            "ESEARCH (TAG \"a\") UID MIN 2 MAX 9 COUNT 4 PARTIAL (-1:-2 4,9)"
        );
        assert_eq!(
            r("COUNT PARTIAL 5:9", &values),
            "ESEARCH (TAG \"a\") UID COUNT 4 PARTIAL (5:9 NIL)"
        );
        assert_eq!(
            r("PARTIAL 1:100", &[]),
            "ESEARCH (TAG \"a\") UID PARTIAL (1:100 NIL)"
        );
    }

    #[test]
    fn save_and_modseq_follow_rfc_9394_section_3_2() {
        let values = [1, 2, 3, 4, 5, 6];
        let saved = |options: &str| want(options).expect("options").saved(&values);
        // The page alone; with MIN/MAX their messages too; with COUNT every hit.
        assert_eq!(saved("SAVE PARTIAL 3:4"), vec![3, 4]);
        assert_eq!(saved("SAVE PARTIAL -1:-2"), vec![5, 6]);
        assert_eq!(saved("SAVE MIN PARTIAL 3:4"), vec![1, 3, 4]);
        assert_eq!(saved("SAVE MAX PARTIAL 3:4"), vec![3, 4, 6]);
        assert_eq!(saved("SAVE MIN MAX PARTIAL 3:4"), vec![1, 3, 4, 6]);
        assert_eq!(saved("SAVE MIN MAX PARTIAL 1:1"), vec![1, 6]);
        assert_eq!(saved("SAVE COUNT PARTIAL 3:4"), values.to_vec());
        assert_eq!(saved("SAVE PARTIAL 7:9"), Vec::<u32>::new());
        let hits = [(1, 10), (2, 20), (3, 30)];
        let page = want("PARTIAL -1:-1").expect("options");
        assert_eq!(page.returned(&hits), vec![(3, 30)]);
    }

    #[test]
    fn modseq_covers_only_the_messages_returned() {
        let hits = [(1, 10), (2, 20), (3, 30)];
        let min = return_options(&mut Line::new(b"RETURN (MIN) ALL")).expect("options");
        assert_eq!(min.returned(&hits), vec![(1, 10)]);
        let max = return_options(&mut Line::new(b"RETURN (MAX) ALL")).expect("options");
        assert_eq!(max.returned(&hits), vec![(3, 30)]);
        let both = return_options(&mut Line::new(b"RETURN (MIN MAX) ALL")).expect("options");
        assert_eq!(both.returned(&hits), vec![(1, 10), (3, 30)]);
        assert_eq!(both.returned(&hits[..1]), vec![(1, 10)]);
        let count = return_options(&mut Line::new(b"RETURN (MIN COUNT) ALL")).expect("options");
        assert_eq!(count.returned(&hits), hits.to_vec());
        assert_eq!(Want::all().returned(&hits), hits.to_vec());
    }
}
