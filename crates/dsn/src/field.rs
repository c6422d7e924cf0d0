//! Making untrusted text safe to put in a report: every header field and
//! delivery-status field [`crate::render()`] writes goes through [`field`], and every
//! human-readable line through [`lay_out`].
//!
//! Much of what a report repeats comes from outside: remote servers' replies, addresses,
//! the ORCPT and ENVID a client gave. [`clean`] turns control characters (CR and LF
//! above all, which would end the field and start a forged one) into spaces. The
//! result is then folded at spaces (RFC 5322 §2.2.3; RFC 3464 §2.1.1 lets DSN fields
//! fold the same way) to about 78 octets a line, and a single word too long for that is
//! cut into pieces so that no line ever exceeds the 998-octet limit of RFC 5322 §2.1.1.

/// Lines are folded to this length where the words allow (RFC 5322 §2.1.1 SHOULD).
const SOFT_LIMIT: usize = 78;

/// Longest piece of one unbroken word on a line. A word longer than this is cut (its
/// pieces are then separated by a space once unfolded); with the short prefixes used
/// here a line stays far below the 998-octet limit.
const MAX_PIECE: usize = 900;

/// `text` on one line: control characters (CR, LF, TAB, NUL, DEL, C1…) become spaces,
/// and with `ascii_only` every non-ASCII character becomes `?` (for the 7-bit
/// `message/delivery-status` part, RFC 3464 §2.1.1).
pub(crate) fn clean(text: &str, ascii_only: bool) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                ' '
            } else if ascii_only && !c.is_ascii() {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// A header or delivery-status field `Name: value`, cleaned and folded, ending in CRLF.
pub(crate) fn field(name: &str, value: &str, ascii_only: bool) -> String {
    let mut out = lay_out(&format!("{name}: "), " ", &clean(value, ascii_only)).join("\r\n");
    out.push_str("\r\n");
    out
}

/// Lays the space-separated words of `text` out in lines: the first starts with
/// `first`, the rest with `rest`. A line is broken before a word that would take it
/// past [`SOFT_LIMIT`]; runs of spaces collapse to one. Lines have no terminator.
///
/// For a header field `rest` is a single space, so unfolding (removing the CRLFs) gives
/// back the words separated by single spaces (RFC 5322 §2.2.3).
pub(crate) fn lay_out(first: &str, rest: &str, text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut has_word = false;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        for piece in pieces(word) {
            if has_word && line.len() + 1 + piece.len() > SOFT_LIMIT {
                lines.push(std::mem::replace(&mut line, rest.to_string()));
                has_word = false;
            }
            if has_word {
                line.push(' ');
            }
            line.push_str(piece);
            has_word = true;
        }
    }
    lines.push(line);
    lines
}

/// `word` cut at character boundaries into pieces of at most [`MAX_PIECE`] octets.
fn pieces(word: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = word;
    while rest.len() > MAX_PIECE {
        let mut cut = MAX_PIECE;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_removes_line_breaks_and_optionally_non_ascii() {
        assert_eq!(clean("a\r\nX-Evil: 1\tb\0", false), "a  X-Evil: 1 b ");
        assert_eq!(clean("b\u{f8}b\u{85}", false), "b\u{f8}b ");
        assert_eq!(clean("b\u{f8}b", true), "b?b");
    }

    #[test]
    fn short_fields_stay_on_one_line() {
        assert_eq!(field("Status", "5.1.1", true), "Status: 5.1.1\r\n");
    }

    #[test]
    fn long_fields_fold_at_spaces_and_unfold_to_the_same_words() {
        let words: Vec<String> = (0..60).map(|i| format!("word{i}")).collect();
        let value = words.join(" ");
        let f = field("Diagnostic-Code", &format!("smtp; {value}"), true);
        assert!(f.lines().count() > 3);
        for line in f.split("\r\n") {
            assert!(line.len() <= SOFT_LIMIT, "{line:?}");
        }
        // Continuation lines start with white space (RFC 5322 §2.2.3).
        for line in f.trim_end().split("\r\n").skip(1) {
            assert!(line.starts_with(' '));
        }
        let unfolded = f.trim_end().replace("\r\n", "");
        assert_eq!(unfolded, format!("Diagnostic-Code: smtp; {value}"));
    }

    #[test]
    fn one_huge_word_is_cut_below_the_hard_limit() {
        let word = "\u{e9}".repeat(1500); // 3000 octets, cut points inside characters
        let lines = lay_out("Name: ", " ", &word);
        assert!(lines.len() >= 4);
        for line in &lines {
            assert!(line.len() <= 998);
        }
        let joined: String = lines.concat().replace(' ', "");
        assert_eq!(joined, format!("Name:{word}"));
    }
}
