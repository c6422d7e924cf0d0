//! REQUIRETLS on MAIL FROM (RFC 8689 §4.1), the receiving half: which misuses of the
//! parameter the command parser cannot see.
//!
//! Where it sits: [`super::Session::command`] calls [`misuse`] on every MAIL line
//! before handing it to smtp-proto, which only ORs a flag per keyword (so it cannot
//! tell a repeated `REQUIRETLS` from one) and calls `REQUIRETLS=x` an unknown
//! parameter. The rest of the rules are in [`super::Session::mail`]: the parameter
//! is accepted only over TLS (the extension is advertised only there, §4.1) and is
//! kept in the envelope, so the queue relays the message only over verified TLS
//! (§4.2; the outbound half).
//!
//! Bounded: the line is at most [`super::MAX_COMMAND_LINE`] octets and is scanned
//! once, without allocation.

use crate::reply::Reply;

/// The parameter keyword (RFC 8689 §4).
const KEYWORD: &[u8] = b"REQUIRETLS";

/// `Some(501 …)` when a MAIL line gives REQUIRETLS a value or gives it twice; `None`
/// for every other line (including any that is not MAIL at all).
pub(super) fn misuse(line: &[u8]) -> Option<Reply> {
    let params = mail_parameters(line)?;
    let mut seen = 0;
    for word in params
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        let (keyword, value) = match word.iter().position(|&b| b == b'=') {
            Some(at) => (&word[..at], Some(&word[at + 1..])),
            None => (word, None),
        };
        if !keyword.eq_ignore_ascii_case(KEYWORD) {
            continue;
        }
        if value.is_some() {
            return Some(Reply::requiretls_with_value());
        }
        seen += 1;
        if seen > 1 {
            return Some(Reply::requiretls_twice());
        }
    }
    None
}

/// The parameters of a `MAIL FROM:<path> params` line: what follows the path.
/// `None` when the line is not a MAIL command with a path.
fn mail_parameters(line: &[u8]) -> Option<&[u8]> {
    const MAIL_FROM: &[u8] = b"MAIL FROM:";
    if line.len() < MAIL_FROM.len() || !line[..MAIL_FROM.len()].eq_ignore_ascii_case(MAIL_FROM) {
        return None;
    }
    let rest = &line[MAIL_FROM.len()..];
    let start = rest.iter().position(|&b| b != b' ')?;
    let rest = &rest[start..];
    if rest.first() != Some(&b'<') {
        // No angle brackets: the parser refuses the path anyway.
        return None;
    }
    // The path ends at the first `>` outside a quoted local part (RFC 5321 §4.1.2:
    // a quoted-string may hold `>` and backslash-escaped quotes).
    let (mut quoted, mut escaped) = (false, false);
    for (i, &b) in rest.iter().enumerate().skip(1) {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'>' if !quoted => return Some(&rest[i + 1..]),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_parameters_after_the_path() {
        assert_eq!(
            mail_parameters(b"MAIL FROM:<a@b> SIZE=1\r\n"),
            Some(&b" SIZE=1\r\n"[..])
        );
        assert_eq!(
            mail_parameters(b"mail from: <\"x> REQUIRETLS\"@b>\r\n"),
            Some(&b"\r\n"[..])
        );
        assert_eq!(mail_parameters(b"RCPT TO:<a@b> REQUIRETLS\r\n"), None);
        assert_eq!(mail_parameters(b"MAIL FROM:a@b\r\n"), None);
    }

    #[test]
    fn only_a_second_keyword_or_a_value_is_misuse() {
        assert_eq!(misuse(b"MAIL FROM:<a@b> REQUIRETLS\r\n"), None);
        assert_eq!(misuse(b"MAIL FROM:<REQUIRETLS@b> requiretls\r\n"), None);
        assert_eq!(
            misuse(b"MAIL FROM:<a@b> REQUIRETLS SMTPUTF8 requiretls\r\n"),
            Some(Reply::requiretls_twice())
        );
        assert_eq!(
            misuse(b"MAIL FROM:<a@b> REQUIRETLS=yes\r\n"),
            Some(Reply::requiretls_with_value())
        );
        assert_eq!(
            misuse(b"MAIL FROM:<a@b> REQUIRETLS=\r\n"),
            Some(Reply::requiretls_with_value())
        );
    }
}
