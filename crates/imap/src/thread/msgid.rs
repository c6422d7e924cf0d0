//! Message IDs out of `Message-ID`, `References` and `In-Reply-To` header values, in
//! the normalised form REFERENCES threading compares (RFC 5256 §3).
//!
//! Where it sits: [`super::references`] calls [`ids`] on the raw (possibly folded)
//! header values of each message. Hand-written because the rules are THREAD's own:
//! mail-parser keeps quoting as sent, and RFC 5256 §3 requires that
//! `<"01KF8JCEOCBS0045PS"@xxx.yyy.com>` and `<01KF8JCEOCBS0045PS@xxx.yyy.com>` be the
//! same Message ID.
//!
//! Rules:
//! - A msg-id is `"<" id-left "@" id-right ">"` (RFC 5322 §3.6.4). Text outside angle
//!   brackets (comments, the phrases of obsolete `In-Reply-To` values, commas) is
//!   skipped; a comment or quoted string outside brackets may hold `<` without it
//!   starting an ID.
//! - Normalising: quoted strings lose their quotes and backslash escapes, white space
//!   and comments inside the brackets (RFC 5322 §4.5.4 obsolete CFWS) are dropped,
//!   everything else is kept as sent. Comparison is then byte-exact (RFC 5256 §3:
//!   case-sensitive).
//! - Valid means: something on both sides of an `@`, no `<` inside and a closing
//!   `>`. Anything else is not a Message ID and is skipped.

/// Every valid Message ID in `value`, normalised, in order.
pub fn ids(value: &str) -> Vec<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        match bytes[pos] {
            b'(' => pos = skip_comment(bytes, pos),
            b'"' => pos = skip_quoted(bytes, pos, &mut Vec::new()),
            b'<' => {
                let (end, id) = bracketed(bytes, pos);
                out.extend(id);
                pos = end;
            }
            _ => pos += 1,
        }
    }
    out
}

/// The first valid Message ID in `value`, normalised.
pub fn first(value: &str) -> Option<String> {
    ids(value).into_iter().next()
}

/// Reads `<...>` starting at the `<` at `start`: the position after it and the
/// normalised ID if it is valid.
fn bracketed(bytes: &[u8], start: usize) -> (usize, Option<String>) {
    let mut id = Vec::new();
    let mut pos = start + 1;
    while pos < bytes.len() {
        match bytes[pos] {
            b'>' => {
                let valid = id
                    .iter()
                    .position(|&b| b == b'@')
                    .is_some_and(|at| at > 0 && at + 1 < id.len());
                let id = valid.then(|| String::from_utf8_lossy(&id).into_owned());
                return (pos + 1, id);
            }
            // A new `<` abandons this one; it may start a valid ID itself.
            b'<' => return (pos, None),
            b'"' => pos = skip_quoted(bytes, pos, &mut id),
            b'(' => pos = skip_comment(bytes, pos),
            b' ' | b'\t' | b'\r' | b'\n' => pos += 1,
            b => {
                id.push(b);
                pos += 1;
            }
        }
    }
    (pos, None)
}

/// Skips a quoted string starting at the `"` at `start`, appending its unescaped
/// content to `into`; returns the position after the closing quote (or the end).
fn skip_quoted(bytes: &[u8], start: usize, into: &mut Vec<u8>) -> usize {
    let mut pos = start + 1;
    while pos < bytes.len() {
        match bytes[pos] {
            b'"' => return pos + 1,
            b'\\' if pos + 1 < bytes.len() => {
                into.push(bytes[pos + 1]);
                pos += 2;
            }
            b'\r' | b'\n' => pos += 1,
            b => {
                into.push(b);
                pos += 1;
            }
        }
    }
    pos
}

/// Skips a comment (nested parentheses, backslash escapes) starting at the `(` at
/// `start`; returns the position after it (or the end).
fn skip_comment(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut pos = start;
    while pos < bytes.len() {
        match bytes[pos] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return pos + 1;
                }
            }
            b'\\' => pos += 1,
            _ => {}
        }
        pos += 1;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn message_ids_are_found_and_normalised() {
        let table: &[(&str, &[&str])] = &[
            ("<a@b>", &["a@b"]),
            ("  <a@b.example> (comment)", &["a@b.example"]),
            // RFC 5256 §3: quoting does not make a different ID.
            (
                "<\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>",
                &["01KF8JCEOCBS0045PS@xxx.yyy.com"],
            ),
            ("<\"a\\\"b\"@c>", &["a\"b@c"]),
            ("<a@b> <c@d>\r\n <e@f>", &["a@b", "c@d", "e@f"]),
            ("<a@b>,<c@d>", &["a@b", "c@d"]),
            // Folded and obsolete CFWS inside the brackets.
            ("<a.b\r\n @c (x) .d>", &["a.b@c.d"]),
            ("<a@[127.0.0.1]>", &["a@[127.0.0.1]"]),
            // Case is kept: IDs compare case-sensitively.
            ("<A@B>", &["A@B"]),
            // Obsolete In-Reply-To with a phrase around the ID.
            (
                "Your message of \"Mon, 1 Jan <x>\" <id@host> (Alice)",
                &["id@host"],
            ),
            ("(a comment with <no@id>) <yes@id>", &["yes@id"]),
            // Not Message IDs.
            ("", &[]),
            ("a@b", &[]),
            ("<ab>", &[]),
            ("<@b>", &[]),
            ("<a@>", &[]),
            ("<a@b", &[]),
            ("<<a@b>", &["a@b"]),
            ("<a<b@c>", &["b@c"]),
            ("<>", &[]),
        ];
        for (input, want) in table {
            assert_eq!(&ids(input), want, "ids({input:?})");
        }
        assert_eq!(first("x <a@b> <c@d>").as_deref(), Some("a@b"));
        assert_eq!(first("none"), None);
    }

    proptest! {
        #[test]
        fn never_panics_and_ids_are_valid(s in "([<>()\"\\\\@ a.\r\n]|\\PC){0,60}") {
            for id in ids(&s) {
                let at = id.find('@');
                prop_assert!(at.is_some_and(|at| at > 0 && at + 1 < id.len()), "{:?}", id);
            }
        }
    }
}
