//! Content-Transfer-Encoding decoders for BINARY (RFC 2045 §6.7, §6.8).
//!
//! Where it sits: [`super::binary`](mod@super::binary) decodes a leaf part's body with these before
//! answering `BINARY[part]` (RFC 3516). Both are lenient the way RFC 2045 asks
//! receivers to be, so a slightly broken part still decodes and never errors.

/// Base64 (RFC 2045 §6.8): characters outside the alphabet are ignored ("Any
/// characters outside of the base64 alphabet are to be ignored"), `=` ends the data,
/// and a final group of 2 or 3 characters yields 1 or 2 octets.
pub(crate) fn base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut n = 0;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&acc.to_be_bytes()[1..]);
            acc = 0;
            n = 0;
        }
    }
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&((acc >> 2) as u16).to_be_bytes()),
        _ => {}
    }
    out
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` is an octet (lower-case hex accepted,
/// as §6.7 rule 1 recommends), `=` at the end of a line is a soft line break,
/// trailing white space on a line is transport padding and dropped (rule 3), and an
/// `=` that starts neither is kept as it is.
pub(crate) fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for line in input.split_inclusive(|&b| b == b'\n') {
        let (content, line_break) = split_line_break(line);
        let content = trim_end_wsp(content);
        let (content, soft) = match content.strip_suffix(b"=") {
            Some(c) => (c, true),
            None => (content, false),
        };
        let mut i = 0;
        while i < content.len() {
            if content[i] == b'='
                && let (Some(h), Some(l)) = (
                    content.get(i + 1).and_then(|&b| hex(b)),
                    content.get(i + 2).and_then(|&b| hex(b)),
                )
            {
                out.push(h << 4 | l);
                i += 3;
            } else {
                out.push(content[i]);
                i += 1;
            }
        }
        if !soft {
            out.extend_from_slice(line_break);
        }
    }
    out
}

fn split_line_break(line: &[u8]) -> (&[u8], &[u8]) {
    let cut = if line.ends_with(b"\r\n") {
        line.len() - 2
    } else if line.ends_with(b"\n") {
        line.len() - 1
    } else {
        line.len()
    };
    line.split_at(cut)
}

fn trim_end_wsp(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors_with_line_breaks() {
        // RFC 4648 §10 test vectors.
        for (enc, dec) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(base64(enc.as_bytes()), dec.as_bytes(), "{enc}");
        }
        assert_eq!(base64(b"Zm9v\r\nYmFy\r\n"), b"foobar");
        assert_eq!(base64(b"Zm9vYg"), b"foob", "missing padding");
        assert_eq!(base64(b"Zm9v!YmFy"), b"foobar", "junk ignored");
    }

    #[test]
    fn quoted_printable_rules() {
        assert_eq!(quoted_printable(b"caf=C3=A9\r\n"), "café\r\n".as_bytes());
        assert_eq!(quoted_printable(b"soft=\r\nbreak"), b"softbreak");
        assert_eq!(quoted_printable(b"pad   \r\nx"), b"pad\r\nx");
        assert_eq!(quoted_printable(b"a=3d=ZZ="), b"a==ZZ");
        assert_eq!(quoted_printable(b"lf=\nonly\n"), b"lfonly\n");
    }
}
