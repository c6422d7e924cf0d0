//! The outgoing body in its wire form, produced block by block: every line ending
//! made CRLF, and for DATA also dot-stuffed and terminated.
//!
//! Why: a bare CR or a bare LF must never leave this server. RFC 5321 §2.3.8 allows
//! CR and LF only together, as CRLF; receivers that take a bare CR or LF as a line end
//! read `\r.\r\n` as the end of the data and whatever follows as new commands (the
//! 2023 "SMTP smuggling" attack). Mail can reach the queue with such line ends (bare
//! CRs inside lines from `postie sendmail`, bodies from older versions), so the relay
//! normalises whatever it was given: bare CR → CRLF, bare LF → CRLF, CRLF unchanged.
//! Then, for DATA, a line starting with `.` gets another `.` (RFC 5321 §4.5.2), a
//! last line without a line end gets one, and `.CRLF` ends the data (§4.1.1.4). BDAT
//! chunks (RFC 3030) carry the normalised bytes without stuffing, in chunks of the
//! requested size. The one exception is a body sent as `BODY=BINARYMIME` (RFC 3030 §3,
//! [`WireBody::binary`]): its octets are the content and go unchanged, which is safe
//! because BDAT chunks are counted, not delimited by line ends.
//!
//! Streaming: [`WireBody::fill`] appends the next block of about `target` octets
//! (DATA blocks end at a line end where they can), so the relay holds one block rather than a second
//! copy of the whole message. Runs of ordinary bytes are found with memchr.
//!
//! Security stance: pure byte transformation, no I/O; each block is bounded by twice
//! the requested size plus a few octets, whatever the input.

/// A body being turned into its wire form.
#[derive(Debug)]
pub(super) struct WireBody<'a> {
    /// The input not yet written out.
    rest: &'a [u8],
    /// DATA (dot-stuffing and the terminating `.` line) rather than BDAT.
    data: bool,
    /// Copy octets unchanged (BINARYMIME in BDAT).
    binary: bool,
    /// The next byte of output starts a line.
    line_start: bool,
    /// Everything, including the DATA terminator, has been produced.
    finished: bool,
}

impl<'a> WireBody<'a> {
    /// The DATA form of `body`: normalised line ends, dot-stuffed, terminated.
    pub(super) fn data(body: &'a [u8]) -> Self {
        Self::new(body, true, false)
    }

    /// The BDAT form of `body`: normalised line ends only.
    pub(super) fn bdat(body: &'a [u8]) -> Self {
        Self::new(body, false, false)
    }

    /// The BDAT form of a `BODY=BINARYMIME` body: every octet unchanged.
    pub(super) fn binary(body: &'a [u8]) -> Self {
        Self::new(body, false, true)
    }

    fn new(rest: &'a [u8], data: bool, binary: bool) -> Self {
        WireBody {
            rest,
            data,
            binary,
            line_start: true,
            finished: false,
        }
    }

    /// True once every octet (and for DATA the terminator) has been produced.
    pub(super) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Appends the next block to `out`. BDAT: `target` octets unless the body ends
    /// first (one more when a line end falls on the boundary). DATA: at least `target`
    /// octets unless the body ends first, stopping at the first line end after that,
    /// or at `2 × target` inside a very long line (plus at most the stuffed dot and the
    /// terminator).
    pub(super) fn fill(&mut self, out: &mut Vec<u8>, target: usize) {
        let target = target.max(1);
        let hard = if self.data {
            target.saturating_mul(2)
        } else {
            target
        };
        let start = out.len();
        if self.binary {
            let take = self.rest.len().min(target);
            out.extend_from_slice(&self.rest[..take]);
            self.rest = &self.rest[take..];
            self.finished = self.rest.is_empty();
            return;
        }
        while !self.rest.is_empty() {
            let produced = out.len() - start;
            if produced >= hard || (produced >= target && self.line_start) {
                return;
            }
            if self.data && self.line_start && self.rest[0] == b'.' {
                // RFC 5321 §4.5.2: a line starting with "." gets one more.
                out.push(b'.');
            }
            match memchr::memchr2(b'\r', b'\n', self.rest) {
                Some(0) => {
                    // CRLF, bare CR or bare LF: each is one line end, written as CRLF.
                    let len = if self.rest.starts_with(b"\r\n") { 2 } else { 1 };
                    out.extend_from_slice(b"\r\n");
                    self.rest = &self.rest[len..];
                    self.line_start = true;
                }
                found => {
                    let run = found.unwrap_or(self.rest.len());
                    let room = hard.saturating_sub(out.len() - start).max(1);
                    let take = run.min(room);
                    out.extend_from_slice(&self.rest[..take]);
                    self.rest = &self.rest[take..];
                    self.line_start = false;
                }
            }
        }
        if !self.finished {
            if self.data {
                if !self.line_start {
                    out.extend_from_slice(b"\r\n");
                }
                // RFC 5321 §4.1.1.4: the data ends with CRLF "." CRLF.
                out.extend_from_slice(b".\r\n");
            }
            self.finished = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole wire form, in blocks of `target`.
    fn blocks(mut body: WireBody<'_>, target: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut guard = 0;
        while !body.is_finished() {
            let mut block = Vec::new();
            body.fill(&mut block, target);
            out.push(block);
            guard += 1;
            assert!(guard < 100_000, "fill makes no progress");
        }
        out
    }

    fn data(body: &[u8], target: usize) -> Vec<u8> {
        blocks(WireBody::data(body), target).concat()
    }

    fn bdat(body: &[u8], target: usize) -> Vec<u8> {
        blocks(WireBody::bdat(body), target).concat()
    }

    /// The obvious definition, byte by byte: normalise, then dot-stuff.
    fn reference(body: &[u8], stuff: bool) -> Vec<u8> {
        let mut lines: Vec<Vec<u8>> = vec![Vec::new()];
        let mut ended = false;
        let mut i = 0;
        while i < body.len() {
            match body[i] {
                b'\r' if body.get(i + 1) == Some(&b'\n') => {
                    lines.push(Vec::new());
                    i += 2;
                    ended = true;
                    continue;
                }
                b'\r' | b'\n' => {
                    lines.push(Vec::new());
                    ended = true;
                }
                b => {
                    lines.last_mut().unwrap().push(b);
                    ended = false;
                }
            }
            i += 1;
        }
        let last_open = !ended && !body.is_empty();
        let mut out = Vec::new();
        let n = lines.len();
        for (k, line) in lines.into_iter().enumerate() {
            let is_last = k == n - 1;
            if is_last && line.is_empty() {
                break; // after the final line end
            }
            if stuff && line.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(&line);
            if !is_last || stuff || !last_open {
                out.extend_from_slice(b"\r\n");
            }
        }
        if stuff {
            out.extend_from_slice(b".\r\n");
        }
        out
    }

    /// No CR without LF after it and no LF without CR before it.
    fn assert_only_crlf(wire: &[u8]) {
        for (i, &b) in wire.iter().enumerate() {
            if b == b'\r' {
                assert_eq!(wire.get(i + 1), Some(&b'\n'), "bare CR at {i} in {wire:?}");
            }
            if b == b'\n' {
                assert!(i > 0 && wire[i - 1] == b'\r', "bare LF at {i} in {wire:?}");
            }
        }
    }

    #[test]
    fn table() {
        let cases: &[(&[u8], &[u8], &[u8])] = &[
            // input, DATA form, BDAT form
            (b"", b".\r\n", b""),
            (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n", b"a\r\nb\r\n"),
            (b"a\nb\n", b"a\r\nb\r\n.\r\n", b"a\r\nb\r\n"),
            (b"a\rb\r", b"a\r\nb\r\n.\r\n", b"a\r\nb\r\n"),
            // The smuggling shape: the dot line becomes a stuffed dot line.
            (b"x\r.\r\ny", b"x\r\n..\r\ny\r\n.\r\n", b"x\r\n.\r\ny"),
            (b"x\n.\ny\n", b"x\r\n..\r\ny\r\n.\r\n", b"x\r\n.\r\ny\r\n"),
            (b"x\r\n.\ry", b"x\r\n..\r\ny\r\n.\r\n", b"x\r\n.\r\ny"),
            (b"\r\r\n", b"\r\n\r\n.\r\n", b"\r\n\r\n"),
            (b"\n\r", b"\r\n\r\n.\r\n", b"\r\n\r\n"),
            (b"\r", b"\r\n.\r\n", b"\r\n"),
            (b"no end", b"no end\r\n.\r\n", b"no end"),
            (b".lead", b"..lead\r\n.\r\n", b".lead"),
            (b"a\r\n.\r\n", b"a\r\n..\r\n.\r\n", b"a\r\n.\r\n"),
            (b"a\0b\r\n", b"a\0b\r\n.\r\n", b"a\0b\r\n"),
            (b"..\r\n", b"...\r\n.\r\n", b"..\r\n"),
        ];
        for &(input, want_data, want_bdat) in cases {
            assert_eq!(data(input, 1 << 16), want_data, "DATA {input:?}");
            assert_eq!(bdat(input, 1 << 16), want_bdat, "BDAT {input:?}");
            assert_eq!(
                reference(input, true),
                want_data,
                "reference DATA {input:?}"
            );
            assert_eq!(
                reference(input, false),
                want_bdat,
                "reference BDAT {input:?}"
            );
        }
    }

    #[test]
    fn every_short_input_at_every_block_size_matches_the_reference() {
        // Every string of up to 6 bytes over an alphabet that has all the cases.
        let alphabet = [b'a', b'.', b'\r', b'\n'];
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..6 {
            let mut next = Vec::new();
            for s in &last {
                for &c in &alphabet {
                    let mut t = s.clone();
                    t.push(c);
                    next.push(t);
                }
            }
            inputs.extend(next.iter().cloned());
            last = next;
        }
        for input in &inputs {
            let want_data = reference(input, true);
            let want_bdat = reference(input, false);
            for target in [1, 2, 3, 4, 5, 7, 8, 64] {
                let got = data(input, target);
                assert_eq!(got, want_data, "DATA {input:?} in blocks of {target}");
                assert_only_crlf(&got);
                let got = bdat(input, target);
                assert_eq!(got, want_bdat, "BDAT {input:?} in blocks of {target}");
                assert_only_crlf(&got);
            }
        }
    }

    #[test]
    fn bdat_chunks_have_the_requested_size_and_binary_is_unchanged() {
        let body: Vec<u8> = (0..10_000).map(|i| b"abc\rdef\n\0"[i % 9]).collect();
        let chunks = blocks(WireBody::bdat(&body), 1000);
        assert_eq!(chunks.concat(), reference(&body, false));
        for chunk in &chunks[..chunks.len() - 1] {
            assert!((1000..=1001).contains(&chunk.len()), "{}", chunk.len());
        }
        let chunks = blocks(WireBody::binary(&body), 1000);
        assert_eq!(chunks.len(), 10);
        assert!(chunks.iter().all(|c| c.len() == 1000));
        assert_eq!(chunks.concat(), body);
        assert_eq!(blocks(WireBody::binary(b""), 1000), [Vec::<u8>::new()]);
    }

    #[test]
    fn blocks_are_bounded_and_end_at_line_ends_when_they_can() {
        let mut body = Vec::new();
        for i in 0..2000 {
            body.extend_from_slice(format!("line {i} with some text\n").as_bytes());
        }
        body.extend_from_slice(&vec![b'x'; 100_000]); // one very long line
        body.extend_from_slice(b"\rtail\n");
        let target = 1024;
        let all = blocks(WireBody::data(&body), target);
        assert_eq!(all.concat(), reference(&body, true));
        for (i, block) in all.iter().enumerate() {
            assert!(block.len() <= 2 * target + 8, "block {i}: {}", block.len());
            if i + 1 < all.len() && block.len() < 2 * target {
                assert!(block.ends_with(b"\r\n"), "block {i} cut mid-line");
            }
        }
        // Every block of every size puts the same bytes on the wire.
        for target in 1..=40 {
            assert_eq!(
                blocks(WireBody::data(&body[..3000]), target).concat(),
                reference(&body[..3000], true)
            );
            assert_eq!(
                blocks(WireBody::bdat(&body[..3000]), target).concat(),
                reference(&body[..3000], false)
            );
        }
    }
}
