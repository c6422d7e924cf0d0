//! Removing `Authentication-Results` fields that claim to be ours (RFC 8601 §5).
//!
//! Where it sits: the pipeline runs [`strip_ours`] on every message it accepts, before
//! it adds its own results, so a sender cannot plant a `dkim=pass` that a reader (or
//! our own quarantine filing) would take as our verdict. This is the one place where
//! the pipeline rewrites the client's bytes instead of only prefixing them; everything
//! else in the message stays byte for byte.

use std::borrow::Cow;

use crate::fields::fields;

/// `message` without the `Authentication-Results` header fields whose
/// authentication service identifier is `hostname` (compared without case). Borrowed
/// when there is nothing to remove.
pub fn strip_ours<'a>(message: &'a [u8], hostname: &str) -> Cow<'a, [u8]> {
    let forged: Vec<(usize, usize)> = fields(message)
        .into_iter()
        .filter(|f| f.name.eq_ignore_ascii_case(b"Authentication-Results"))
        .filter(|f| {
            authserv_id(f.value).is_some_and(|id| id.eq_ignore_ascii_case(hostname.as_bytes()))
        })
        .map(|f| (f.start, f.end))
        .collect();
    if forged.is_empty() {
        return Cow::Borrowed(message);
    }
    let mut out = Vec::with_capacity(message.len());
    let mut pos = 0;
    for (start, end) in forged {
        out.extend_from_slice(&message[pos..start]);
        pos = end;
    }
    out.extend_from_slice(&message[pos..]);
    tracing::info!("removed an Authentication-Results field that claimed our name");
    Cow::Owned(out)
}

/// The authserv-id of an `Authentication-Results` value (RFC 8601 §2.2: the first
/// token, after optional folding whitespace and comments, ending at whitespace, `;`
/// or a comment).
fn authserv_id(value: &[u8]) -> Option<&[u8]> {
    let mut rest = value;
    loop {
        rest = trim_start(rest);
        if rest.first() == Some(&b'(') {
            rest = skip_comment(rest)?;
        } else {
            break;
        }
    }
    let end = rest
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b';' || *b == b'(')
        .unwrap_or(rest.len());
    let id = &rest[..end];
    // A quoted authserv-id is a quoted-string; compare its content.
    let id = id
        .strip_prefix(b"\"")
        .and_then(|i| i.strip_suffix(b"\""))
        .unwrap_or(id);
    (!id.is_empty()).then_some(id)
}

fn trim_start(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    &s[start..]
}

/// What follows a (possibly nested) comment that starts `s`; `None` if it never ends.
fn skip_comment(s: &[u8]) -> Option<&[u8]> {
    let mut depth = 0usize;
    let mut escaped = false;
    for (i, &b) in s.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'(' => depth += 1,
            b')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&s[i + 1..]);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_is_removed_with_its_folded_lines_and_others_stay() {
        let m = b"Received: x\r\nAuthentication-Results: MX.Example.org;\r\n\tdkim=pass\r\n\
authentication-results: other.example; spf=pass\r\nSubject: s\r\n\r\nbody\r\n";
        let out = strip_ours(m, "mx.example.org");
        assert_eq!(
            &out[..],
            &b"Received: x\r\nauthentication-results: other.example; spf=pass\r\nSubject: s\r\n\r\nbody\r\n"[..]
        );
    }

    #[test]
    fn versions_comments_and_quotes_are_understood() {
        for value in [
            &b" mx.example.org 1; none"[..],
            b" (comment (nested)) mx.example.org; dkim=pass",
            b" \"mx.example.org\"; spf=pass",
            b"\r\n mx.example.org;dmarc=pass",
        ] {
            assert_eq!(
                authserv_id(value),
                Some(&b"mx.example.org"[..]),
                "{value:?}"
            );
        }
        assert_eq!(authserv_id(b" (open"), None);
        assert_eq!(authserv_id(b" "), None);
    }

    #[test]
    fn nothing_to_remove_borrows_and_the_body_is_never_touched() {
        let m = b"Subject: s\r\n\r\nAuthentication-Results: mx.example.org; dkim=pass\r\n";
        assert!(matches!(strip_ours(m, "mx.example.org"), Cow::Borrowed(_)));
        // A similar name is not ours.
        let m = b"Authentication-Results: mx.example.org.evil; dkim=pass\r\n\r\n";
        assert!(matches!(strip_ours(m, "mx.example.org"), Cow::Borrowed(_)));
    }
}
