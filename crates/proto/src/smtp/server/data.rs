//! The DATA reader: un-stuffs dots and finds the end of the message (RFC 5321 §4.5.2),
//! while checking the rules that keep one message from leaking into another.
//!
//! Hand-written rather than smtp-proto's `DataReceiver` because Postie must *detect*
//! bare CR and bare LF (SMTP smuggling, RFC 5321 §2.3.8 and §4.1.1.4), NUL octets and
//! over-long lines, and must end DATA only at `CRLF . CRLF`, never at `LF . LF` or
//! `LF . CRLF`. It is a byte-at-a-time state machine (runs of ordinary bytes are
//! copied in one go), so chunk boundaries cannot change the result (tested below with
//! every chunk size).
//!
//! The body goes into a [`BodySpool`] as it arrives (memory or a temp file, the
//! driver's choice), never into a buffer of the reader's own. [`LineChecker`] applies
//! the same bare CR / bare LF / NUL / line-length rules to BDAT chunks, which carry no
//! dot-stuffing but must not smuggle line endings either.

use super::spool::{BodySpool, MemorySpool};

/// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF.
pub const MAX_TEXT_LINE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (also right after the DATA command).
    LineStart,
    /// A `.` at the start of a line.
    Dot,
    /// `.` then CR at the start of a line.
    DotCr,
    /// Inside a line.
    Mid,
    /// Inside a line, just after a CR.
    Cr,
}

/// What was wrong with a message, found while reading it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataFlaws {
    /// A CR not followed by LF, or an LF not preceded by CR.
    pub bare_line_ending: bool,
    /// A NUL octet.
    pub nul: bool,
    /// A line over [`MAX_TEXT_LINE`] octets.
    pub long_line: bool,
    /// More octets than the size limit.
    pub too_big: bool,
    /// The spool could not take the octets (disk full, say): a local error.
    pub spool_failed: bool,
}

/// Incremental DATA reader.
pub struct DataReader {
    state: State,
    line_len: usize,
    max_size: u64,
    body: Box<dyn BodySpool>,
    flaws: DataFlaws,
}

impl std::fmt::Debug for DataReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataReader")
            .field("state", &self.state)
            .field("octets", &self.body.len())
            .field("flaws", &self.flaws)
            .finish()
    }
}

impl DataReader {
    /// A reader that keeps at most `max_size` octets of body, in memory.
    pub fn new(max_size: u64) -> Self {
        Self::with_spool(max_size, Box::new(MemorySpool::default()))
    }

    /// A reader that appends at most `max_size` octets of body to `body`.
    pub fn with_spool(max_size: u64, body: Box<dyn BodySpool>) -> Self {
        DataReader {
            state: State::LineStart,
            line_len: 0,
            max_size,
            body,
            flaws: DataFlaws::default(),
        }
    }

    /// Octets of body taken so far.
    pub fn received(&self) -> u64 {
        self.body.len()
    }

    fn emit(&mut self, bytes: &[u8]) {
        if self.flaws.too_big || self.flaws.spool_failed {
            return;
        }
        if self.body.len() + bytes.len() as u64 > self.max_size {
            // Past the limit nothing more is kept: the spool (and its file) goes now.
            self.flaws.too_big = true;
            self.body = Box::new(MemorySpool::default());
            return;
        }
        if self.body.append(bytes).is_err() {
            self.flaws.spool_failed = true;
            self.body = Box::new(MemorySpool::default());
        }
    }

    /// Consumes bytes; returns `Some(n)` when the end-of-data line was seen after `n`
    /// bytes of `input` (the rest belongs to the next command), `None` if more is needed.
    pub fn feed(&mut self, input: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Mid {
                // Fast path: copy the run of ordinary bytes up to the next CR, LF or NUL
                // in one go; only those three need the byte-at-a-time machine below.
                let rest = &input[i..];
                let run = memchr::memchr3(b'\r', b'\n', 0, rest).unwrap_or(rest.len());
                if run > 0 {
                    self.line_len += run;
                    if self.line_len > MAX_TEXT_LINE {
                        self.flaws.long_line = true;
                    }
                    self.emit(&rest[..run]);
                    i += run;
                    continue;
                }
            }
            let b = input[i];
            i += 1;
            self.line_len += 1;
            if self.line_len > MAX_TEXT_LINE {
                self.flaws.long_line = true;
            }
            if b == 0 {
                self.flaws.nul = true;
            }
            match self.state {
                State::LineStart if b == b'.' => self.state = State::Dot,
                State::Dot if b == b'\r' => self.state = State::DotCr,
                State::DotCr if b == b'\n' => return Some(i),
                State::DotCr => {
                    // ".\r" then something else: the dot was stuffing, the CR is bare.
                    self.flaws.bare_line_ending = true;
                    self.emit(b"\r");
                    self.state = State::Mid;
                    self.mid(b);
                }
                // A leading dot followed by anything else was stuffing: drop it.
                State::Dot | State::LineStart | State::Mid => {
                    self.state = State::Mid;
                    self.mid(b);
                }
                State::Cr if b == b'\n' => {
                    self.emit(b"\r\n");
                    self.state = State::LineStart;
                    self.line_len = 0;
                }
                State::Cr => {
                    self.flaws.bare_line_ending = true;
                    self.emit(b"\r");
                    self.state = State::Mid;
                    self.mid(b);
                }
            }
        }
        None
    }

    fn mid(&mut self, b: u8) {
        match b {
            b'\r' => self.state = State::Cr,
            b'\n' => {
                // A bare LF does not start a new line: `LF . CRLF` must not end DATA.
                self.flaws.bare_line_ending = true;
                self.emit(b"\n");
            }
            _ => self.emit(&[b]),
        }
    }

    /// The body (un-stuffed, CRLF line ends) and what was wrong with it.
    pub fn finish(self) -> (Box<dyn BodySpool>, DataFlaws) {
        (self.body, self.flaws)
    }
}

/// Checks BDAT chunks (RFC 3030) for what [`DataReader`] refuses in DATA: a bare CR or
/// bare LF (RFC 5321 §2.3.8; a BDAT body relayed on with DATA would otherwise carry
/// the SMTP smuggling shape `\r.\r\n` out), a NUL octet, a line over
/// [`MAX_TEXT_LINE`]. Chunks may cut anywhere, even between CR and LF. Not used for
/// `BODY=BINARYMIME`, where any octet is allowed (RFC 3030 §3).
#[derive(Debug, Default)]
pub struct LineChecker {
    after_cr: bool,
    line_len: usize,
    flaws: DataFlaws,
}

impl LineChecker {
    /// Checks the next octets of the body.
    pub fn feed(&mut self, input: &[u8]) {
        let mut i = 0;
        while i < input.len() {
            if !self.after_cr {
                // Fast path: the run of ordinary octets up to the next CR, LF or NUL.
                let rest = &input[i..];
                let run = memchr::memchr3(b'\r', b'\n', 0, rest).unwrap_or(rest.len());
                self.line_len += run;
                i += run;
                if self.line_len > MAX_TEXT_LINE {
                    self.flaws.long_line = true;
                }
                if i == input.len() {
                    break;
                }
            }
            let b = input[i];
            i += 1;
            // Like DATA, the CRLF counts towards the 1000 octets (RFC 5321 §4.5.3.1.6).
            self.line_len += 1;
            if self.line_len > MAX_TEXT_LINE {
                self.flaws.long_line = true;
            }
            match (self.after_cr, b) {
                (true, b'\n') => {
                    self.after_cr = false;
                    self.line_len = 0;
                }
                (true, _) => {
                    self.flaws.bare_line_ending = true;
                    self.after_cr = b == b'\r';
                    self.flaws.nul |= b == 0;
                }
                (false, b'\r') => self.after_cr = true,
                (false, b'\n') => {
                    self.flaws.bare_line_ending = true;
                    self.line_len = 0;
                }
                // NUL, the only other octet the fast path stops at.
                (false, _) => self.flaws.nul = true,
            }
        }
    }

    /// What was wrong with the whole body; a CR at its very end is bare.
    pub fn finish(mut self) -> DataFlaws {
        if self.after_cr {
            self.flaws.bare_line_ending = true;
        }
        self.flaws
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], chunk: usize) -> (Option<usize>, Vec<u8>, DataFlaws) {
        let mut r = DataReader::new(10_000);
        let mut consumed = 0;
        let mut end = None;
        for piece in input.chunks(chunk) {
            if let Some(n) = r.feed(piece) {
                end = Some(consumed + n);
                break;
            }
            consumed += piece.len();
        }
        let (body, flaws) = r.finish();
        (end, body.into_bytes().unwrap(), flaws)
    }

    #[test]
    fn table_and_every_chunk_size() {
        let clean = DataFlaws::default();
        let bare = DataFlaws {
            bare_line_ending: true,
            ..clean
        };
        type Case = (&'static [u8], Option<usize>, &'static [u8], DataFlaws);
        let cases: Vec<Case> = vec![
            (b".\r\n", Some(3), b"", clean),
            (b"a\r\n.\r\nQUIT\r\n", Some(6), b"a\r\n", clean),
            (b"..a\r\n.\r\n", Some(8), b".a\r\n", clean),
            (b"a\r\n..\r\n.\r\n", Some(10), b"a\r\n.\r\n", clean),
            (b"a.\r\n.\r\n", Some(7), b"a.\r\n", clean),
            (b"no end\r\n", None, b"no end\r\n", clean),
            // Smuggling shapes: none of these end the message.
            (b"a\n.\nb\r\n.\r\n", Some(10), b"a\n.\nb\r\n", bare),
            (b"a\n.\r\nb\r\n.\r\n", Some(11), b"a\n.\r\nb\r\n", bare),
            (b"a\r.\r\nb\r\n.\r\n", Some(11), b"a\r.\r\nb\r\n", bare),
            (b"a\r\n.\nb\r\n.\r\n", Some(11), b"a\r\n\nb\r\n", bare),
            (b".\rx\r\n.\r\n", Some(8), b"\rx\r\n", bare),
            (
                b"a\0b\r\n.\r\n",
                Some(8),
                b"a\0b\r\n",
                DataFlaws { nul: true, ..clean },
            ),
        ];
        for (input, end, body, flaws) in &cases {
            for chunk in [1, 2, 3, 4, 8, 16, 64, 512] {
                let got = read_all(input, chunk);
                assert_eq!(got.0, *end, "end of {input:?} chunk {chunk}");
                assert_eq!(got.1, *body, "body of {input:?} chunk {chunk}");
                assert_eq!(got.2, *flaws, "flaws of {input:?} chunk {chunk}");
            }
        }
    }

    #[test]
    fn line_length_and_size_limits() {
        let mut ok = vec![b'x'; 998];
        ok.extend_from_slice(b"\r\n.\r\n");
        assert_eq!(read_all(&ok, 7).2, DataFlaws::default());
        let mut long = vec![b'x'; 999];
        long.extend_from_slice(b"\r\n.\r\n");
        assert!(read_all(&long, 7).2.long_line);

        let mut r = DataReader::new(10);
        assert_eq!(r.feed(b"0123456789\r\n.\r\n"), Some(15));
        let (body, flaws) = r.finish();
        assert!(flaws.too_big);
        assert!(body.is_empty());
    }

    fn check_all(input: &[u8], chunk: usize) -> DataFlaws {
        let mut c = LineChecker::default();
        for piece in input.chunks(chunk.max(1)) {
            c.feed(piece);
        }
        c.finish()
    }

    #[test]
    fn bdat_line_checks_table_and_every_chunk_size() {
        let clean = DataFlaws::default();
        let bare = DataFlaws {
            bare_line_ending: true,
            ..clean
        };
        let nul = DataFlaws { nul: true, ..clean };
        let cases: Vec<(&[u8], DataFlaws)> = vec![
            (b"", clean),
            (b"a\r\nb\r\n", clean),
            (b"no final line end", clean),
            (b"a\nb\r\n", bare),
            (b"a\rb\r\n", bare),
            (b"x\r.\r\n", bare),
            (b"\r\r\n", bare),
            (b"a\r\n\n", bare),
            (b"ends in cr\r", bare),
            (b"a\0b\r\n", nul),
            (b"\r\0", DataFlaws { nul: true, ..bare }),
        ];
        for (input, want) in &cases {
            for chunk in [1, 2, 3, 4, 8, 16, 64, 512] {
                assert_eq!(check_all(input, chunk), *want, "{input:?} chunk {chunk}");
            }
        }
        let mut long = vec![b'x'; 999];
        long.extend_from_slice(b"\r\n");
        assert!(check_all(&long, 7).long_line);
        let mut ok = vec![b'x'; 998];
        ok.extend_from_slice(b"\r\nshort\r\n");
        assert_eq!(check_all(&ok, 7), clean);
    }

    #[test]
    fn a_failing_spool_is_a_flaw_not_a_partial_body() {
        #[derive(Default)]
        struct Full(u64);
        impl BodySpool for Full {
            fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
                if self.0 + bytes.len() as u64 > 4 {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 += bytes.len() as u64;
                Ok(())
            }
            fn len(&self) -> u64 {
                self.0
            }
            fn into_bytes(self: Box<Self>) -> std::io::Result<Vec<u8>> {
                Ok(Vec::new())
            }
        }
        let mut r = DataReader::with_spool(1000, Box::new(Full::default()));
        assert_eq!(r.feed(b"hello world\r\n.\r\n"), Some(16));
        let (_, flaws) = r.finish();
        assert!(flaws.spool_failed);
    }
}
