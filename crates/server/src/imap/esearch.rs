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

use super::extended::{Item, Line, search_program};
use super::searchres::keys_without_dollar;
use super::wire::string;
use super::{Session, Status};
use imap::sequence::SequenceSet;
use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::search::SearchKey;

/// The result options asked for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Want {
    min: bool,
    max: bool,
    count: bool,
    all: bool,
    save: bool,
}

impl Want {
    /// RETURN (ALL): what a plain SEARCH means.
    fn all() -> Self {
        Want {
            all: true,
            ..Want::default()
        }
    }

    /// Whether an ESEARCH response is due (RFC 5182 §2.1: not for SAVE alone).
    fn reports(&self) -> bool {
        self.min || self.max || self.count || self.all
    }

    /// The hits (ascending) an ESEARCH reports on, for its MODSEQ (RFC 7162 §3.1.5,
    /// RFC 4731 §3.2): with MIN and/or MAX but neither ALL nor COUNT, only the
    /// lowest and/or highest; otherwise all of them.
    fn returned(&self, hits: &[(u32, u32)]) -> Vec<(u32, u32)> {
        if !(self.min || self.max) || self.all || self.count {
            return hits.to_vec();
        }
        let mut out = Vec::new();
        if self.min {
            out.extend(hits.first());
        }
        if self.max {
            out.extend(hits.last().filter(|_| !self.min || hits.len() > 1));
        }
        out
    }

    /// The hits SAVE keeps (RFC 5182 §2.1): MIN and/or MAX alone, else all.
    fn saved(&self, values: &[u32]) -> Vec<u32> {
        if !(self.min || self.max) || self.all || self.count {
            return values.to_vec();
        }
        let mut out = Vec::new();
        if self.min {
            out.extend(values.iter().min());
        }
        if self.max {
            out.extend(values.iter().max());
        }
        out
    }
}

/// Reads `RETURN (opts)` (RFC 4731 §3.1 `search-return-opts`).
fn return_options(line: &mut Line<'_>) -> Result<Want, String> {
    if !line.next_is("RETURN") {
        return Err("Expected RETURN".into());
    }
    line.atom();
    if !line.space() {
        return Err("Expected RETURN options".into());
    }
    let items = line.list().ok_or("Invalid RETURN options")?;
    let mut want = Want::default();
    for item in items {
        let Item::Word(word) = item else {
            return Err("Invalid RETURN option".into());
        };
        match word.to_ascii_uppercase().as_str() {
            "MIN" => want.min = true,
            "MAX" => want.max = true,
            "COUNT" => want.count = true,
            "ALL" => want.all = true,
            "SAVE" => want.save = true,
            _ => return Err(format!("Unsupported RETURN option {word}")),
        }
    }
    if want == Want::default() {
        want.all = true;
    }
    Ok(want)
}

/// The `* ESEARCH` response text for `values` (UIDs or sequence numbers, ascending);
/// `modseq` is the highest mod-sequence of the hits when the MODSEQ key was used.
fn render(tag: &str, uid: bool, want: &Want, values: &[u32], modseq: Option<u64>) -> String {
    let mut text = format!("ESEARCH (TAG {})", string(tag));
    if uid {
        text.push_str(" UID");
    }
    if let (Some(min), Some(max)) = (values.iter().min(), values.iter().max()) {
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
    if want.all && !values.is_empty() {
        text.push_str(&format!(" ALL {}", SequenceSet::from_values(values)));
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
        // neither ALL nor COUNT is asked).
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
        assert_eq!(save.saved(&[4, 2, 9]), vec![4, 2, 9]);
        let min_max =
            return_options(&mut Line::new(b"RETURN (SAVE MIN MAX) ALL")).expect("options");
        assert!(min_max.reports());
        assert_eq!(min_max.saved(&[4, 2, 9]), vec![2, 9]);
        let min_all =
            return_options(&mut Line::new(b"RETURN (SAVE MIN ALL) ALL")).expect("options");
        assert_eq!(min_all.saved(&[4, 2, 9]), vec![4, 2, 9]);
        assert_eq!(min_max.saved(&[]), Vec::<u32>::new());
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
