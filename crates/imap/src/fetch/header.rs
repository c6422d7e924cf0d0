//! Header fields of a raw header block, byte-exact.
//!
//! Where it sits: [`super::Parsed`] knows where each header block lies in the raw
//! message; this module splits one block into fields (RFC 5322 §2.2: a field is a
//! line `name ":" value` plus its folded continuation lines, §2.2.3) without decoding
//! anything. [`super::section`](mod@super::section) copies whole fields for `HEADER.FIELDS`, and
//! [`super::envelope`](mod@super::envelope) / [`super::structure`] read the unfolded values, because IMAP
//! wants header values as they were sent (RFC 3501 §7.4.2: RFC 2047 encoded words are
//! left to the client).

/// One header field as it appears in the message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    /// The field name, without the colon or surrounding white space.
    pub name: &'a [u8],
    /// The whole field: name, colon, value, folded lines, final line ending.
    pub raw: &'a [u8],
    /// The value: everything after the colon, folding included, final line ending
    /// excluded.
    pub value: &'a [u8],
}

/// The fields of a header block, in order. Stops at the blank line that ends the
/// block; lines that are neither a field nor a continuation (no colon) are skipped.
pub(crate) fn fields(block: &[u8]) -> Vec<Field<'_>> {
    let mut out: Vec<Field<'_>> = Vec::new();
    // (start, end) of the field being collected, end excluding nothing yet.
    let mut current: Option<(usize, usize)> = None;
    let mut pos = 0;
    while pos < block.len() {
        let end = block[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(block.len(), |i| pos + i + 1);
        let line = &block[pos..end];
        if is_blank(line) {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            // RFC 5322 §2.2.3: a line starting with WSP continues the field above.
            if let Some((_, cur_end)) = current.as_mut() {
                *cur_end = end;
            }
        } else {
            if let Some((s, e)) = current.take() {
                push_field(&mut out, &block[s..e]);
            }
            current = Some((pos, end));
        }
        pos = end;
    }
    if let Some((s, e)) = current {
        push_field(&mut out, &block[s..e]);
    }
    out
}

fn is_blank(line: &[u8]) -> bool {
    matches!(line, b"\n" | b"\r\n")
}

fn push_field<'a>(out: &mut Vec<Field<'a>>, raw: &'a [u8]) {
    let Some(colon) = raw.iter().position(|&b| b == b':') else {
        return;
    };
    let name = trim(&raw[..colon]);
    if name.is_empty() || name.contains(&b'\n') {
        return;
    }
    let value = strip_line_ending(&raw[colon + 1..]);
    out.push(Field { name, raw, value });
}

fn strip_line_ending(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// The value of the first field called `name` (ASCII case-insensitive).
pub(crate) fn first<'a>(fields: &[Field<'a>], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|f| f.value)
}

/// RFC 5322 §2.2.3 unfolding: drop every CR and LF (a fold is a line break followed
/// by WSP, so the WSP stays), then trim surrounding white space.
pub(crate) fn unfold(value: &[u8]) -> Vec<u8> {
    let kept: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    trim(&kept).to_vec()
}

/// `bytes` without leading and trailing SP / HT / CR / LF.
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = bytes.iter().position(|b| !ws(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_folded_fields_and_stops_at_blank_line() {
        let block = b"Subject: a\r\n b\r\nFrom: x@y\r\n\r\nBody: no\r\n";
        let f = fields(block);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, b"Subject");
        assert_eq!(f[0].raw, b"Subject: a\r\n b\r\n");
        assert_eq!(f[0].value, b" a\r\n b");
        assert_eq!(unfold(f[0].value), b"a b");
        assert_eq!(first(&f, "FROM"), Some(&b" x@y"[..]));
    }

    #[test]
    fn skips_lines_without_colon_and_handles_missing_final_newline() {
        let f = fields(b"junk line\nX-A: 1\nX-B: 2");
        let names: Vec<&[u8]> = f.iter().map(|f| f.name).collect();
        assert_eq!(names, [&b"X-A"[..], b"X-B"]);
        assert_eq!(f[1].raw, b"X-B: 2");
    }

    #[test]
    fn empty_value_is_some_empty() {
        let f = fields(b"Subject:\r\n\r\n");
        // Present but empty is Some(empty), which ENVELOPE tells from NIL (RFC 3501 §7.4.2).
        assert_eq!(first(&f, "subject").map(unfold), Some(Vec::new()));
        assert_eq!(first(&f, "date").map(unfold), None);
    }
}
