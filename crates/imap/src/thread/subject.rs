//! The base subject of RFC 5256 §2.1, and whether a subject marks a reply or forward.
//!
//! Where it sits: SORT (`SUBJECT` key, in the server's `imap/sort.rs`) compares base
//! subjects; THREAD ([`super`]) groups messages by them (ORDEREDSUBJECT, and step 5 of
//! REFERENCES, which also needs to know whether extracting the base subject removed a
//! reply or forward marker). Pure string code: the caller has already decoded RFC 2047
//! encoded words (the first half of step 1).
//!
//! The text is cut only right after ASCII bytes it matched, so a subject in any
//! script is safe to slice (never a panic on a multi-byte character).

/// A subject's base subject and whether extracting it removed a reply or forward
/// marker (`Re:`, `Fwd:`, `Fw:`, a trailing `(fwd)`, or a `[fwd: ...]` wrapper).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseSubject {
    /// The base subject, ASCII upper-cased for `i;ascii-casemap` comparison.
    pub text: String,
    /// Whether the message is a reply or forward (RFC 5256 §3, REFERENCES step 5).
    pub reply_or_forward: bool,
}

/// The base subject (RFC 5256 §2.1), upper-cased for `i;ascii-casemap` comparison.
/// `subject` is already RFC 2047-decoded (step 1's first half).
pub fn base_subject(subject: &str) -> String {
    analyse(subject).text
}

/// The base subject and the reply-or-forward mark of `subject` (RFC 5256 §2.1).
pub fn analyse(subject: &str) -> BaseSubject {
    let mut reply_or_forward = false;
    // Step 1: runs of whitespace become one space.
    let mut s = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    loop {
        // Step 2: trailing subj-trailer ("(fwd)" / WSP), repeatedly.
        loop {
            let t = s.trim_end();
            match strip_suffix_ignore_case(t, "(fwd)") {
                Some(rest) => {
                    reply_or_forward = true;
                    s = rest.to_owned();
                }
                None => {
                    s = t.to_owned();
                    break;
                }
            }
        }
        // Steps 3-5: leading subj-leaders, then a leading subj-blob if text remains,
        // until neither matches.
        loop {
            let t = s.trim_start();
            if let Some(rest) = strip_refwd(t) {
                reply_or_forward = true;
                s = rest.to_owned();
                continue;
            }
            if let Some(rest) = strip_blob(t)
                && !rest.trim().is_empty()
            {
                s = rest.to_owned();
                continue;
            }
            s = t.to_owned();
            break;
        }
        // Step 6: "[fwd:" subject "]" is unwrapped, and the whole thing repeats.
        if s.len() >= 6
            && let Some(inner) = strip_prefix_ignore_case(&s, "[fwd:")
            && let Some(inner) = inner.strip_suffix(']')
        {
            reply_or_forward = true;
            s = inner.to_owned();
            continue;
        }
        // Step 7: what is left is the base subject.
        return BaseSubject {
            text: s.to_ascii_uppercase(),
            reply_or_forward,
        };
    }
}

/// `s` without the ASCII `prefix` (any case). Safe on any UTF-8: a match ends on an
/// ASCII byte, which is always a character boundary.
fn strip_prefix_ignore_case<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.as_bytes().get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix.as_bytes())
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// `s` without the ASCII `suffix` (any case); as safe as [`strip_prefix_ignore_case`].
fn strip_suffix_ignore_case<'s>(s: &'s str, suffix: &str) -> Option<&'s str> {
    let at = s.len().checked_sub(suffix.len())?;
    let tail = s.as_bytes().get(at..)?;
    tail.eq_ignore_ascii_case(suffix.as_bytes())
        .then(|| s.get(..at))
        .flatten()
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP`: the text after it.
fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find([']', '['])?;
    rest[end..]
        .strip_prefix(']')
        .map(|r| r.trim_start_matches([' ', '\t']))
}

/// `*subj-blob subj-refwd`, with `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob]
/// ":"`: the text after it.
fn strip_refwd(s: &str) -> Option<&str> {
    let mut t = s;
    while let Some(rest) = strip_blob(t) {
        t = rest;
    }
    let t = ["fwd", "fw", "re"]
        .iter()
        .find_map(|word| strip_prefix_ignore_case(t, word))?;
    let mut t = t.trim_start_matches([' ', '\t']);
    if let Some(rest) = strip_blob(t) {
        t = rest;
    }
    t.strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn base_subjects() {
        assert_eq!(base_subject("Hello"), "HELLO");
        assert_eq!(base_subject("Re: hello"), "HELLO");
        assert_eq!(base_subject("RE: Fwd: [list] Re: hello (fwd)"), "HELLO");
        assert_eq!(base_subject("[list]  Re[2]: hello\tworld"), "HELLO WORLD");
        assert_eq!(base_subject("[Fwd: Re: hello]"), "HELLO");
        assert_eq!(base_subject("[only blob]"), "[ONLY BLOB]");
        assert_eq!(base_subject("Reply"), "REPLY");
        assert_eq!(base_subject("Fw : x"), "X");
        assert_eq!(base_subject("Re: [fwd: hello]"), "HELLO");
        assert_eq!(base_subject(""), "");
    }

    #[test]
    fn reply_or_forward_marks() {
        let mark = |s: &str| analyse(s).reply_or_forward;
        for replied in [
            "Re: x",
            "FWD: x",
            "fw: x",
            "[list] Re: x",
            "x (fwd)",
            "[Fwd: x]",
            "Re[3]: x",
        ] {
            assert!(mark(replied), "{replied:?} is a reply or forward");
        }
        for plain in ["x", "[list] x", "Regarding: x", "Reply", "[fwd x]", ""] {
            assert!(!mark(plain), "{plain:?} is not a reply or forward");
        }
    }

    #[test]
    fn non_ascii_subjects_are_cut_on_character_boundaries() {
        // Each of these once sliced a string inside a multi-byte character.
        assert_eq!(base_subject("Grüße €€"), "GRüßE €€");
        assert_eq!(base_subject("abcd€x]"), "ABCD€X]");
        assert_eq!(base_subject("Re: 日本語 (fwd)"), "日本語");
        assert_eq!(base_subject("[fwd:€]"), "€");
        assert_eq!(base_subject("€"), "€");
    }

    proptest! {
        #[test]
        fn never_panics_and_is_idempotent(
            s in "(\\PC|[\\[\\]():]|Re|Fwd|fw| |\t){0,40}"
        ) {
            let once = analyse(&s);
            // The base subject of a base subject is itself (upper case aside).
            prop_assert_eq!(base_subject(&once.text), once.text.clone());
            prop_assert!(!once.text.starts_with(' ') && !once.text.ends_with(' '));
        }
    }
}
