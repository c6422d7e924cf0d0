//! Small pieces of IMAP syntax the session writes by hand: strings, flag lists,
//! dates, and mailbox names taken out of imap-codec's parsed commands.
//!
//! Where it sits: used by every command family in [`super`]; FETCH responses, which
//! carry literals and nested structures, are encoded by imap-codec instead
//! (see [`super::fetch`]).

use crate::sequence::{SeqBound, SeqRange};
use imap_codec::imap_types::core::{AString, Atom};
use imap_codec::imap_types::flag::Flag;
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox};
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

/// The mailbox name as text; INBOX in any case is `INBOX` (RFC 3501 §5.1). Names in
/// dispatched commands are already UTF-8 (decoded by `names.rs`), so this is lossless.
pub fn mailbox_name(mailbox: &Mailbox<'_>) -> String {
    match mailbox {
        Mailbox::Inbox => "INBOX".to_owned(),
        Mailbox::Other(other) => astring_text(other.inner()),
    }
}

/// An astring's bytes as text (lossy for invalid UTF-8).
pub fn astring_text(s: &AString<'_>) -> String {
    String::from_utf8_lossy(s.as_ref()).into_owned()
}

/// LIST's mailbox pattern as text.
pub fn list_pattern(pattern: &ListMailbox<'_>) -> String {
    match pattern {
        ListMailbox::Token(t) => String::from_utf8_lossy(t.as_ref()).into_owned(),
        ListMailbox::String(s) => String::from_utf8_lossy(s.as_ref()).into_owned(),
    }
}

/// imap-codec's sequence set as the selected-mailbox state's own type.
pub fn sequence_set(set: &SequenceSet) -> crate::sequence::SequenceSet {
    let bound = |b: &SeqOrUid| match b {
        SeqOrUid::Value(v) => SeqBound::Value(v.get()),
        SeqOrUid::Asterisk => SeqBound::Star,
    };
    crate::sequence::SequenceSet(
        set.0
            .as_ref()
            .iter()
            .map(|s| match s {
                Sequence::Single(x) => SeqRange(bound(x), bound(x)),
                Sequence::Range(a, b) => SeqRange(bound(a), bound(b)),
            })
            .collect(),
    )
}

/// An IMAP string (RFC 3501 §4.3): quoted when the text allows it, else a literal.
pub fn string(text: &str) -> String {
    let quotable = text
        .bytes()
        .all(|b| (0x01..=0x7f).contains(&b) && b != b'\r' && b != b'\n');
    if quotable {
        quoted(text)
    } else {
        format!("{{{}}}\r\n{text}", text.len())
    }
}

/// `text` as a quoted string, `"` and `\` escaped; the caller checked it has no
/// CR, LF or NUL (RFC 3501 §4.3 `quoted`; RFC 6855 §3 allows UTF-8 in it).
pub fn quoted(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// A parenthesised flag list: `(\Seen $Label)`.
pub fn flag_list(flags: &[String]) -> String {
    format!("({})", flags.join(" "))
}

/// A parsed flag as the store spells it.
pub fn flag_text(flag: &Flag<'_>) -> String {
    flag.to_string()
}

/// An atom's text.
pub fn atom_text(atom: &Atom<'_>) -> String {
    atom.inner().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_or_literal() {
        assert_eq!(string("INBOX"), "\"INBOX\"");
        assert_eq!(string("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
        assert_eq!(string("Ünïcode"), "{9}\r\nÜnïcode");
    }
}
