//! The header fields of a raw message as byte ranges, for the two jobs that need
//! positions rather than parsed values: choosing which fields to sign and cutting out
//! forged `Authentication-Results` fields ([`crate::strip`]).
//!
//! Hand-written because mail-parser gives decoded values, not the exact raw span of a
//! field including its folded lines and line ending; this is the RFC 5322 §2.2 rule
//! alone: a field starts at the beginning of a line that is not whitespace, continues
//! over lines that begin with SP or HTAB (§2.2.3 folding), and the header section ends
//! at the first empty line. Bare LF line endings are accepted like CRLF.

/// One header field: its name and the range of its raw bytes, ending included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field name, as written (no colon).
    pub name: &'a [u8],
    /// The value: after the colon, up to (not including) the final line ending.
    pub value: &'a [u8],
    /// Where the field starts in the message.
    pub start: usize,
    /// One past its final line ending.
    pub end: usize,
}

/// The header fields of `message`, in order. A line without a colon ends the header
/// section (it cannot be a field, so what follows is treated as body).
pub fn fields(message: &[u8]) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < message.len() {
        let line_end = next_line(message, pos);
        let line = &message[pos..line_end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            break;
        };
        if matches!(line.first(), Some(b' ' | b'\t')) {
            break; // a continuation with no field to continue: malformed, stop here
        }
        let mut end = line_end;
        while end < message.len() && matches!(message[end], b' ' | b'\t') {
            end = next_line(message, end);
        }
        let mut value_end = end;
        if message[..value_end].ends_with(b"\n") {
            value_end -= 1;
        }
        if message[..value_end].ends_with(b"\r") {
            value_end -= 1;
        }
        out.push(Field {
            name: trim_end(&line[..colon]),
            value: &message[(pos + colon + 1).min(value_end)..value_end],
            start: pos,
            end,
        });
        pos = end;
    }
    out
}

/// One past the end of the line starting at `pos` (its LF included).
fn next_line(message: &[u8], pos: usize) -> usize {
    match message[pos..].iter().position(|&b| b == b'\n') {
        Some(i) => pos + i + 1,
        None => message.len(),
    }
}

fn trim_end(name: &[u8]) -> &[u8] {
    let len = name
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &name[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_folding_and_both_line_endings() {
        let m = b"From: a@b\r\nSubject: one\r\n two\r\nX-Lf: y\n\r\nbody: not a field\r\n";
        let f = fields(m);
        let names: Vec<&[u8]> = f.iter().map(|f| f.name).collect();
        assert_eq!(names, [&b"From"[..], b"Subject", b"X-Lf"]);
        assert_eq!(f[1].value, b" one\r\n two");
        assert_eq!(&m[f[1].start..f[1].end], b"Subject: one\r\n two\r\n");
        assert_eq!(&m[f[2].start..f[2].end], b"X-Lf: y\n");
    }

    #[test]
    fn a_line_without_colon_ends_the_header() {
        let f = fields(b"A: 1\r\nnot a header\r\nB: 2\r\n\r\n");
        assert_eq!(f.len(), 1);
        assert!(fields(b"").is_empty());
        assert_eq!(fields(b"A: no line end").len(), 1);
    }
}
