//! Dot-stuffing for the SMTP DATA and POP3 RETR wire forms (RFC 5321 §4.5.2,
//! RFC 1939 §3). Un-stuffing on receipt lives in the SMTP session, which must also
//! police line endings while it reads.

/// Returns `body` in its wire form: see [`dot_stuff_into`].
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 5);
    dot_stuff_into(body, &mut out);
    out
}

/// Appends `body` to `out` in the wire form both SMTP DATA and POP3 RETR use: every
/// line ends in CRLF (a bare LF gets its CR), a line starting with `.` gets another `.`,
/// a last line without a line end gets one, and the terminating `.CRLF` follows.
/// Scans for line ends with memchr, so long messages cost little more than a copy.
pub fn dot_stuff_into(body: &[u8], out: &mut Vec<u8>) {
    out.reserve(body.len() + body.len() / 64 + 5);
    let mut line_start = 0;
    for lf in memchr::memchr_iter(b'\n', body) {
        let line = &body[line_start..lf];
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        if line.last() != Some(&b'\r') {
            out.push(b'\r');
        }
        out.push(b'\n');
        line_start = lf + 1;
    }
    let tail = &body[line_start..];
    if !tail.is_empty() {
        if tail[0] == b'.' {
            out.push(b'.');
        }
        out.extend_from_slice(tail);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffs_leading_dots() {
        assert_eq!(
            dot_stuff(b"a\r\n.b\r\n..c\r\n"),
            b"a\r\n..b\r\n...c\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b".\r\n"), b"..\r\n.\r\n");
        assert_eq!(dot_stuff(b"no newline"), b"no newline\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(dot_stuff(b".a\nb\n.\n"), b"..a\r\nb\r\n..\r\n.\r\n");
        assert_eq!(dot_stuff(b"x\r\n.tail"), b"x\r\n..tail\r\n.\r\n");
        let mut out = b"+OK\r\n".to_vec();
        dot_stuff_into(b"a\r\n", &mut out);
        assert_eq!(out, b"+OK\r\na\r\n.\r\n");
    }
}
