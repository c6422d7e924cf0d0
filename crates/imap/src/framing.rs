//! The gate in front of imap-next: frames the client's bytes into lines and literals
//! (the same way imap-codec's fragmentizer does), and refuses a command before any of
//! it is buffered past its limits or parsed: lines too long, literals too large,
//! commands too large (RFC 7888 §4, RFC 9051 §7.1 `TOOBIG`), and nesting too deep.
//!
//! Where it sits: the server's IMAP driver reads bytes from the connection and feeds
//! them here ([`Gate::next`]); only complete lines ([`Step::Line`]) and literal data
//! ([`Step::Literal`]) go on to imap-next, whose imap-codec parser (and our own raw
//! parsers behind it, for ESEARCH, LIST-EXTENDED and `$`) never sees a refused
//! command. Every complete line and literal is also the driver's signal to move the
//! command deadline: a drip of one byte per minute never completes one.
//!
//! Nesting: imap-codec parses search keys, body structures and THREAD lists by
//! recursive descent (with its own limits), and so do some of our helpers. Each line
//! of a command is scanned here, iteratively and outside quoted strings and literals,
//! for the depth of parentheses plus pending prefix operators (`NOT` takes one key,
//! `OR` two, RFC 3501 §6.4.4), so `OR OR OR …`, `NOT NOT …`, `OR a OR b OR c …` and
//! `((((…` all count one level each. More than [`MAX_NESTING`] levels gets a tagged
//! `BAD`. 64 is far beyond what clients send (imap-codec itself stops search keys at
//! 9 levels and body structures at 8) while a recursion of 64 frames is nothing for a
//! 2 MiB worker stack.
//!
//! Memory: the gate holds at most one line ([`Limits::line`]); literal data passes
//! through. Before login the whole command is capped at [`PRE_AUTH_COMMAND`] octets
//! (LOGIN, AUTHENTICATE and their SASL lines need far less), so an unauthenticated
//! connection holds kilobytes, not the 25 MiB of an APPEND.
//!
//! Refusals: when nothing of the command has been handed on yet and no data follows
//! unasked (no non-synchronising literal, RFC 7888), the command gets a tagged `BAD`
//! and the connection goes on. Otherwise the input cannot be framed safely any more
//! (the client sends the rest regardless), so the answer is `BAD` then `* BYE`, and the
//! connection closes: a 100 MB non-synchronising literal is answered at once, never
//! read.

use imap_codec::imap_types::core::Tag;

/// The deepest nesting of parentheses and prefix operators a command may have.
pub const MAX_NESTING: usize = 64;

/// Before login, the largest command: its lines and literals together, in octets.
pub const PRE_AUTH_COMMAND: usize = 8 * 1024;

/// The limits a command is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest line, CRLF included.
    pub line: usize,
    /// The largest literal.
    pub literal: u32,
    /// The largest command: lines and literals together.
    pub command: usize,
    /// The deepest nesting.
    pub nesting: usize,
}

impl Limits {
    /// Before login: [`PRE_AUTH_COMMAND`] for everything.
    pub fn unauthenticated() -> Self {
        Limits {
            line: PRE_AUTH_COMMAND,
            literal: PRE_AUTH_COMMAND as u32,
            command: PRE_AUTH_COMMAND,
            nesting: MAX_NESTING,
        }
    }

    /// After login: lines up to `line`, literals up to `literal` (the APPEND limit),
    /// and one literal plus one line per command.
    pub fn authenticated(line: usize, literal: u32) -> Self {
        Limits {
            line,
            literal,
            command: (literal as usize).saturating_add(line),
            nesting: MAX_NESTING,
        }
    }
}

/// What the driver does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'i> {
    /// All input is used: read more.
    NeedMore,
    /// A complete line (its line end included): hand it to imap-next.
    Line(Vec<u8>),
    /// Literal data for imap-next; `last` when the literal is complete.
    Literal { bytes: &'i [u8], last: bool },
    /// The command is refused: see [`Refusal`].
    Refuse(Refusal),
}

/// A refused command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The command's tag, if its first line had a valid one.
    pub tag: Option<String>,
    /// The text for `BAD` (with its response code).
    pub text: &'static str,
    /// After the `BAD`, `* BYE` and close: the rest of the input cannot be framed.
    pub close: bool,
}

enum Mode {
    Line,
    Literal { remaining: u32 },
    Closed,
}

/// The framing gate of one connection (see the module docs).
pub struct Gate {
    limits: Limits,
    mode: Mode,
    /// The unfinished line.
    line: Vec<u8>,
    /// Octets of the current command handed on so far.
    command_bytes: usize,
    /// The current command's tag, once its first line is complete.
    tag: Option<String>,
    nesting: Nesting,
}

impl Gate {
    /// A gate at the start of a command.
    pub fn new(limits: Limits) -> Self {
        Gate {
            limits,
            mode: Mode::Line,
            line: Vec::new(),
            command_bytes: 0,
            tag: None,
            nesting: Nesting::default(),
        }
    }

    /// Changes the limits (at login); they apply from the next line on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Whether part of a command has arrived (a line begun, or a command that
    /// continues after a literal).
    pub fn in_command(&self) -> bool {
        !self.line.is_empty() || self.command_bytes > 0
    }

    /// Takes what it can of `input`: returns how many octets it used and what to do.
    /// Call again with the rest until [`Step::NeedMore`].
    pub fn next<'i>(&mut self, input: &'i [u8]) -> (usize, Step<'i>) {
        match self.mode {
            Mode::Closed => (input.len(), Step::NeedMore),
            Mode::Literal { remaining } => {
                if input.is_empty() {
                    return (0, Step::NeedMore);
                }
                let n = input.len().min(remaining as usize);
                let remaining = remaining - n as u32;
                self.command_bytes += n;
                self.mode = if remaining == 0 {
                    Mode::Line
                } else {
                    Mode::Literal { remaining }
                };
                let step = Step::Literal {
                    bytes: &input[..n],
                    last: remaining == 0,
                };
                (n, step)
            }
            Mode::Line => {
                let (take, complete) = match input.iter().position(|&b| b == b'\n') {
                    Some(lf) => (lf + 1, true),
                    None => (input.len(), false),
                };
                let length = self.line.len() + take;
                if length > self.limits.line
                    || self.command_bytes.saturating_add(length) > self.limits.command
                {
                    let tag = self.tag.take().or_else(|| {
                        // The tag of a line still arriving: from its first 64
                        // octets, however the line was cut into reads.
                        let mut start = self.line[..self.line.len().min(64)].to_vec();
                        let more = 64 - start.len();
                        start.extend_from_slice(&input[..take.min(more)]);
                        tag_of(&start)
                    });
                    return (
                        input.len(),
                        self.close(tag, "[TOOBIG] Command line too long"),
                    );
                }
                self.line.extend_from_slice(&input[..take]);
                if !complete {
                    return (take, Step::NeedMore);
                }
                (take, self.line_done())
            }
        }
    }

    /// A line is complete: check it and hand it on.
    fn line_done<'i>(&mut self) -> Step<'i> {
        let line = std::mem::take(&mut self.line);
        let first = self.command_bytes == 0;
        if first {
            self.tag = tag_of(&line);
        }
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        let announcement = literal_announcement(content);
        let total = self.command_bytes + line.len();
        let refusal = if self.nesting.exceeds(content, self.limits.nesting) {
            Some("Nesting too deep")
        } else if announcement.is_some_and(|(length, _)| {
            length > self.limits.literal
                || total.saturating_add(length as usize) > self.limits.command
        }) {
            Some("[TOOBIG] Literal too large")
        } else {
            None
        };
        if let Some(text) = refusal {
            let tag = self.tag.take();
            // Nothing was handed on and the client waits for `+` (or sends nothing
            // more): the connection can go on.
            let unasked = announcement.is_some_and(|(_, non_sync)| non_sync);
            if first && !unasked {
                self.end_command();
                return Step::Refuse(Refusal {
                    tag,
                    text,
                    close: false,
                });
            }
            return self.close(tag, text);
        }
        self.command_bytes = total;
        match announcement {
            Some((0, _)) => {}
            Some((length, _)) => self.mode = Mode::Literal { remaining: length },
            None => self.end_command(),
        }
        Step::Line(line)
    }

    fn end_command(&mut self) {
        self.command_bytes = 0;
        self.tag = None;
        self.nesting = Nesting::default();
    }

    fn close<'i>(&mut self, tag: Option<String>, text: &'static str) -> Step<'i> {
        self.mode = Mode::Closed;
        self.line = Vec::new();
        self.end_command();
        Step::Refuse(Refusal {
            tag,
            text,
            close: true,
        })
    }
}

/// The tag at the start of a line, if it is a valid tag followed by a space.
pub fn tag_of(line: &[u8]) -> Option<String> {
    let end = line.iter().position(|&b| b == b' ')?;
    let tag = std::str::from_utf8(&line[..end]).ok()?;
    Tag::try_from(tag).ok().map(|t| t.inner().to_owned())
}

/// The literal a line (without its line end) announces at its end: `{n}` or `{n+}`
/// (also after `~`, RFC 3516), as `(n, non-synchronising)`. The same rule as
/// imap-codec's fragmentizer, so both agree where literals are.
pub fn literal_announcement(content: &[u8]) -> Option<(u32, bool)> {
    let inner = content.strip_suffix(b"}")?;
    let (inner, non_sync) = match inner.strip_suffix(b"+") {
        Some(i) => (i, true),
        None => (inner, false),
    };
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut length: u32 = 0;
    for &d in digits {
        length = length.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
    }
    Some((length, non_sync))
}

/// One open level: a parenthesis, or an operator still owed `n` keys.
#[derive(Debug, Clone, Copy)]
enum Open {
    Paren,
    Operator(u8),
}

/// The nesting of one command so far (see the module docs): a stack never deeper
/// than the limit plus one.
#[derive(Debug, Default)]
struct Nesting {
    open: Vec<Open>,
    /// Arguments the current search key still takes (`SUBJECT x`, `HEADER f v`).
    arguments: u8,
    /// The last key was MODSEQ: a quoted entry name means two more arguments
    /// (RFC 7162 §3.1.5).
    modseq: bool,
}

impl Nesting {
    /// Scans one line's content; true when the nesting goes past `limit`.
    fn exceeds(&mut self, line: &[u8], limit: usize) -> bool {
        let mut i = 0;
        while i < line.len() {
            match line[i] {
                b' ' => i += 1,
                b'(' => {
                    i += 1;
                    self.modseq = false;
                    self.open.push(Open::Paren);
                    if self.open.len() > limit {
                        return true;
                    }
                }
                b')' => {
                    i += 1;
                    self.modseq = false;
                    self.arguments = 0;
                    // Whatever is still open inside the group ends with it.
                    while let Some(open) = self.open.pop() {
                        if matches!(open, Open::Paren) {
                            break;
                        }
                    }
                    self.key_done();
                }
                b'"' => {
                    i += 1;
                    while i < line.len() {
                        match line[i] {
                            b'\\' => i += 2,
                            b'"' => {
                                i += 1;
                                break;
                            }
                            _ => i += 1,
                        }
                    }
                    self.string(true);
                }
                _ => {
                    let start = i;
                    while i < line.len() && !matches!(line[i], b' ' | b'(' | b')' | b'"') {
                        i += 1;
                    }
                    if self.word(&line[start..i]) && self.open.len() > limit {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// A string (quoted, or a literal): an argument, or a key by itself.
    fn string(&mut self, quoted: bool) {
        if self.modseq && quoted {
            // MODSEQ "entry" type value.
            self.modseq = false;
            self.arguments = 2;
            return;
        }
        self.modseq = false;
        self.argument_or_key();
    }

    fn argument_or_key(&mut self) {
        if self.arguments > 0 {
            self.arguments -= 1;
            if self.arguments == 0 {
                self.key_done();
            }
        } else {
            self.key_done();
        }
    }

    /// An atom; true when it opened a level.
    fn word(&mut self, word: &[u8]) -> bool {
        if word.first() == Some(&b'{') || word.starts_with(b"~{") {
            self.string(false);
            return false;
        }
        self.modseq = false;
        if self.arguments > 0 {
            self.argument_or_key();
            return false;
        }
        let is = |w: &str| word.eq_ignore_ascii_case(w.as_bytes());
        if is("NOT") || is("FUZZY") {
            self.open.push(Open::Operator(1));
            return true;
        }
        if is("OR") {
            self.open.push(Open::Operator(2));
            return true;
        }
        // RFC 3501 §6.4.4 and the extensions' keys: how many arguments follow.
        const ONE: [&str; 21] = [
            "BCC",
            "BODY",
            "CC",
            "FROM",
            "KEYWORD",
            "SUBJECT",
            "TEXT",
            "TO",
            "UNKEYWORD",
            "LARGER",
            "SMALLER",
            "BEFORE",
            "ON",
            "SINCE",
            "SENTBEFORE",
            "SENTON",
            "SENTSINCE",
            "OLDER",
            "YOUNGER",
            "UID",
            "CHARSET",
        ];
        if is("HEADER") {
            self.arguments = 2;
        } else if is("MODSEQ") {
            self.arguments = 1;
            self.modseq = true;
        } else if ONE.iter().any(|w| is(w)) {
            self.arguments = 1;
        } else {
            self.key_done();
        }
        false
    }

    /// A whole key is done: it may complete the operators waiting for it.
    fn key_done(&mut self) {
        while let Some(Open::Operator(owed)) = self.open.last_mut() {
            *owed -= 1;
            if *owed > 0 {
                return;
            }
            self.open.pop();
        }
    }
}

#[cfg(test)]
mod tests;
