//! The PARTIAL FETCH modifier (RFC 9394 §3.3): `UID FETCH 1:* (FLAGS) (PARTIAL -1:-50)`
//! answers for the last 50 messages of the set only.
//!
//! Where it sits: imap-codec knows FETCH's CHANGEDSINCE and VANISHED modifiers but not
//! PARTIAL, so such a command fails to parse and the driver offers it to
//! [`super::extended`], which asks [`split`] whether its modifier list holds PARTIAL.
//! [`split`] takes PARTIAL out (its range read by [`Range::parse`], as for SEARCH) and
//! leaves a FETCH imap-codec parses (any other modifiers kept; a `$` set goes through
//! [`super::searchres`] as usual). [`Session::fetch_partial`] runs it through
//! [`Session::fetch_with_partial`] (see `condstore.rs`), and `fetch.rs` narrows the
//! targets with [`window`] once the snapshot is fresh. Pure but for that: no I/O here;
//! the line is client input, read once from the end, no recursion.
//!
//! Rules, RFC 9394:
//! - §3.3: the modifier extends UID FETCH; a plain FETCH with it is a `BAD`.
//! - §3.3 and §4: the same syntax as the PARTIAL search return option
//!   (`modifier-partial = "PARTIAL" SP partial-range`), so the same `BAD`s; one
//!   PARTIAL per command (as §3.1 says for SEARCH).
//! - §3.3: "only return FETCH results for messages in the specified range": the range
//!   counts the messages of the set that exist, in UID order, 1 the first and -1 the
//!   last (§3.1); a range past them returns what is there, maybe nothing, and OK.
//! - §3.4: with CHANGEDSINCE (RFC 7162 §3.1.4) the range counts the changed messages
//!   (the filter first, then the window; the order of the two modifiers does not
//!   matter). VANISHED (EARLIER) still reports the expunged UIDs of the whole set:
//!   they are no messages, so no range counts them.
//! - Only the messages in the window are fetched, so only they get `\Seen` from a
//!   non-PEEK BODY[] (RFC 3501 §6.4.5).

use super::partial::Range;
use super::searchres::Rewritten;
use super::{Session, Status};
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::CommandBody;

/// A FETCH whose modifier list held PARTIAL.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Split {
    /// The command without PARTIAL and its range (CRLF-terminated; the other
    /// modifiers kept, the list left out when nothing else was in it).
    pub rest: Vec<u8>,
    /// The range, or the text of a `BAD`.
    pub range: Result<Range, String>,
}

/// Takes PARTIAL out of the modifier list that ends a FETCH line (RFC 4466
/// `fetch-modifiers`: a parenthesised list after the items); `None` when the line
/// ends with no such list or the list holds no PARTIAL.
pub(super) fn split(bytes: &[u8]) -> Option<Split> {
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let body = line.strip_suffix(b")")?;
    // The modifiers hold no parentheses (CHANGEDSINCE n, VANISHED, PARTIAL r), so the
    // list is what follows the last "(" (a line ending `(PARTIAL)])` is an item).
    let open = body.iter().rposition(|&b| b == b'(')?;
    let list = &body[open + 1..];
    if list.contains(&b')') || open == 0 || body[open - 1] != b' ' {
        return None;
    }
    let list = std::str::from_utf8(list).ok()?;
    let words: Vec<&str> = list.split(' ').collect();
    if !words.iter().any(|w| w.eq_ignore_ascii_case("PARTIAL")) {
        return None;
    }
    let mut kept = Vec::new();
    let mut range = None;
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        if !word.eq_ignore_ascii_case("PARTIAL") {
            if word.is_empty() {
                range = Some(Err("Invalid FETCH modifiers".into()));
            }
            kept.push(word);
            continue;
        }
        // RFC 9394 §4: `"PARTIAL" SP partial-range`, the range mandatory.
        let parsed = match words.next() {
            Some(text) => Range::parse(text),
            None => Err("PARTIAL needs a range (RFC 9394 section 4)".into()),
        };
        range = Some(match range {
            // One PARTIAL (RFC 9394 §3.1, as for SEARCH); the first error wins.
            Some(Ok(_)) => Err("Only one PARTIAL (RFC 9394 section 3.1)".into()),
            Some(Err(e)) => Err(e),
            None => parsed,
        });
    }
    let mut rest = line[..open - 1].to_vec();
    if !kept.is_empty() {
        rest.extend_from_slice(format!(" ({})", kept.join(" ")).as_bytes());
    }
    rest.extend_from_slice(b"\r\n");
    Some(Split {
        rest,
        range: range.unwrap_or_else(|| Err("Invalid FETCH modifiers".into())),
    })
}

/// The targets a PARTIAL range leaves (RFC 9394 §3.3): of `targets` (ascending by
/// UID), those `counts` keeps (the messages that exist and pass CHANGEDSINCE), then
/// the slice `range` names of them.
pub(super) fn window<T>(range: Range, targets: Vec<T>, counts: impl Fn(&T) -> bool) -> Vec<T> {
    let mut kept: Vec<T> = targets.into_iter().filter(|t| counts(t)).collect();
    let slice = range.window(kept.len());
    kept.truncate(slice.end);
    kept.drain(..slice.start);
    kept
}

impl Session<'_> {
    /// A FETCH line with the PARTIAL modifier, as [`split`] left it.
    pub(super) async fn fetch_partial(&mut self, uid: bool, split: Split) -> Status {
        let range = match split.range {
            Ok(range) => range,
            Err(text) => return Status::Bad(text),
        };
        // RFC 9394 §3.3: "extends the UID FETCH command".
        if !uid {
            return Status::Bad("PARTIAL is a UID FETCH modifier (RFC 9394 section 3.3)".into());
        }
        let command = match CommandCodec::default().decode(&split.rest) {
            Ok((_, command)) => command.into_static(),
            // `UID FETCH $ ...` (RFC 5182, see `searchres.rs`).
            Err(_) => match self.saved_result_command(&split.rest) {
                Some(Ok(Rewritten::Command(command))) => command,
                Some(Ok(Rewritten::Answer(status)) | Err(status)) => return status,
                None => return Status::Bad("Syntax error".into()),
            },
        };
        let CommandBody::Fetch {
            sequence_set,
            macro_or_item_names,
            uid,
            modifiers,
        } = command.body
        else {
            return Status::Bad("Syntax error".into());
        };
        self.fetch_with_partial(
            &sequence_set,
            macro_or_item_names,
            uid,
            &modifiers,
            Some(range),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> Range {
        Range::parse(text).expect("parses")
    }

    #[test]
    fn partial_is_taken_out_of_the_modifier_list() {
        let ok = |rest: &str, r: &str| {
            Some(Split {
                rest: format!("{rest}\r\n").into_bytes(),
                range: Ok(range(r)),
            })
        };
        let table: &[(&str, Option<Split>)] = &[
            (
                "a UID FETCH 1:* (FLAGS) (PARTIAL -1:-50)\r\n",
                ok("a UID FETCH 1:* (FLAGS)", "-1:-50"),
            ),
            (
                "a UID FETCH 1:* FLAGS (partial 1:5)",
                ok("a UID FETCH 1:* FLAGS", "1:5"),
            ),
            (
                "a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7 PARTIAL 5:1)\r\n",
                ok("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7)", "5:1"),
            ),
            (
                "a UID FETCH 1:* (FLAGS) (PARTIAL -3:-1 CHANGEDSINCE 7 VANISHED)\r\n",
                ok("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7 VANISHED)", "-3:-1"),
            ),
            (
                "a UID FETCH $ (BODY.PEEK[HEADER.FIELDS (SUBJECT)]) (PARTIAL 1:2)\r\n",
                ok("a UID FETCH $ (BODY.PEEK[HEADER.FIELDS (SUBJECT)])", "1:2"),
            ),
            // No PARTIAL modifier: not this module's.
            ("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7)\r\n", None),
            ("a UID FETCH 1 (BODY[HEADER.FIELDS (PARTIAL)])\r\n", None),
            ("a UID FETCH 1 BODY[HEADER.FIELDS (PARTIAL)]\r\n", None),
            ("a UID FETCH 1 FLAGS\r\n", None),
        ];
        for (line, want) in table {
            assert_eq!(&split(line.as_bytes()), want, "{line}");
        }
    }

    #[test]
    fn malformed_partial_modifiers_are_bad() {
        for line in [
            "a UID FETCH 1:* FLAGS (PARTIAL)",
            "a UID FETCH 1:* FLAGS (PARTIAL 0:5)",
            "a UID FETCH 1:* FLAGS (PARTIAL -1:5)",
            "a UID FETCH 1:* FLAGS (PARTIAL 1:*)",
            "a UID FETCH 1:* FLAGS (PARTIAL 1:4294967296)",
            "a UID FETCH 1:* FLAGS (PARTIAL 5)",
            "a UID FETCH 1:* FLAGS (PARTIAL CHANGEDSINCE 5)",
            "a UID FETCH 1:* FLAGS (PARTIAL 1:5 PARTIAL 1:2)",
            "a UID FETCH 1:* FLAGS (PARTIAL 1:5  CHANGEDSINCE 5)",
        ] {
            let split = split(line.as_bytes()).expect("has PARTIAL");
            assert!(split.range.is_err(), "{line} should be a BAD");
        }
    }

    #[test]
    fn the_window_counts_what_the_filter_keeps() {
        let uids: Vec<u32> = (1..=10).collect();
        let all = |_: &u32| true;
        let even = |u: &u32| u.is_multiple_of(2);
        // (range, keep only even UIDs?, what is fetched)
        let table: &[(&str, bool, &[u32])] = &[
            ("1:3", false, &[1, 2, 3]),
            ("-1:-3", false, &[8, 9, 10]),
            ("-3:-1", false, &[8, 9, 10]),
            ("9:20", false, &[9, 10]),
            ("11:20", false, &[]),
            ("-10:-10", false, &[1]),
            ("-11:-20", false, &[]),
            ("-1:-100", false, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
            // CHANGEDSINCE first, then the window over what it kept.
            ("1:2", true, &[2, 4]),
            ("-1:-2", true, &[8, 10]),
            ("5:9", true, &[10]),
            ("6:9", true, &[]),
        ];
        for (text, filtered, want) in table {
            let got = if *filtered {
                window(range(text), uids.clone(), even)
            } else {
                window(range(text), uids.clone(), all)
            };
            assert_eq!(&got, want, "{text} filtered={filtered}");
        }
        assert!(window(range("1:5"), Vec::<u32>::new(), all).is_empty());
    }
}
