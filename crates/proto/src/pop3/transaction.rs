//! TRANSACTION state (RFC 1939 §5 and §7): STAT, LIST, UIDL, RETR, TOP, DELE, RSET,
//! NOOP, and QUIT, which enters UPDATE (RFC 1939 §6).
//!
//! The maildrop listing comes from the driver at login and does not change during the
//! session (RFC 1939 §8: the lock makes the maildrop stable). Deletion marks live here
//! until QUIT turns them into a [`Query::Commit`]; a session that ends any other way
//! removes nothing.

use std::borrow::Cow;

use super::{MAX_UID_LEN, MessageInfo, Mode, Output, Query, Response, Session, State};

/// A TRANSACTION command with its arguments parsed. Message numbers are 1-based and
/// not yet checked against the maildrop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TxCommand {
    Stat,
    List(Option<usize>),
    Uidl(Option<usize>),
    Retr(usize),
    Top(usize, usize),
    Dele(usize),
    Rset,
    Noop,
    Quit,
}

/// What a command needs beyond the maildrop.
enum Step {
    /// A complete response.
    Send(Vec<u8>),
    /// Read a message from the driver.
    Retrieve {
        index: usize,
        octets: u64,
        top: Option<usize>,
    },
    /// QUIT: remove these (0-based) messages; `left` stay.
    Quit { deleted: Vec<usize>, left: usize },
}

/// The listing given at login, with the deletion marks.
#[derive(Debug)]
pub(super) struct Maildrop {
    messages: Vec<MessageInfo>,
    deleted: Vec<bool>,
}

impl Maildrop {
    pub(super) fn new(mut messages: Vec<MessageInfo>) -> Self {
        for m in &mut messages {
            if !valid_uid(&m.uid) {
                m.uid = repair_uid(&m.uid);
            }
        }
        let deleted = vec![false; messages.len()];
        Maildrop { messages, deleted }
    }

    /// The messages not marked deleted, with their 1-based numbers.
    fn live(&self) -> impl Iterator<Item = (usize, &MessageInfo)> {
        self.messages
            .iter()
            .zip(&self.deleted)
            .enumerate()
            .filter(|(_, (_, deleted))| !**deleted)
            .map(|(i, (m, _))| (i + 1, m))
    }

    /// Count and total size of the messages not marked deleted (RFC 1939 §5, STAT).
    pub(super) fn stat(&self) -> (usize, u64) {
        self.live()
            .fold((0, 0), |(n, octets), (_, m)| (n + 1, octets + m.size))
    }

    /// The 0-based index of message `number`, which must exist and not be deleted
    /// (RFC 1939 §5: "may NOT refer to a message marked as deleted").
    fn index(&self, number: usize) -> Result<usize, Response> {
        let index = number.checked_sub(1).unwrap_or(usize::MAX);
        match self.deleted.get(index) {
            None => Err(Response::no_such_message(self.messages.len())),
            Some(true) => Err(Response::already_deleted(number)),
            Some(false) => Ok(index),
        }
    }

    fn run(&mut self, command: TxCommand) -> Result<Step, Response> {
        let send = |response: Response| Ok(Step::Send(response.to_wire()));
        match command {
            TxCommand::Stat => {
                let (count, octets) = self.stat();
                send(Response::stat(count, octets))
            }
            TxCommand::List(None) => {
                let (count, octets) = self.stat();
                let lines = self.live().map(|(n, m)| format!("{n} {}", m.size));
                Ok(Step::Send(
                    Response::listing(count, octets).with_lines(lines),
                ))
            }
            TxCommand::List(Some(n)) => {
                let size = self.messages[self.index(n)?].size;
                send(Response::ok(format!("{n} {size}")))
            }
            TxCommand::Uidl(None) => {
                let lines = self.live().map(|(n, m)| format!("{n} {}", m.uid));
                Ok(Step::Send(Response::done().with_lines(lines)))
            }
            TxCommand::Uidl(Some(n)) => {
                let uid = &self.messages[self.index(n)?].uid;
                send(Response::ok(format!("{n} {uid}")))
            }
            TxCommand::Retr(n) => self.retrieve(n, None),
            TxCommand::Top(n, lines) => self.retrieve(n, Some(lines)),
            TxCommand::Dele(n) => {
                let index = self.index(n)?;
                self.deleted[index] = true;
                send(Response::deleted(n))
            }
            TxCommand::Rset => {
                self.deleted.fill(false);
                let (count, octets) = self.stat();
                send(Response::maildrop(count, octets))
            }
            TxCommand::Noop => send(Response::done()),
            TxCommand::Quit => {
                let deleted = (0..self.messages.len())
                    .filter(|&i| self.deleted[i])
                    .collect();
                Ok(Step::Quit {
                    deleted,
                    left: self.stat().0,
                })
            }
        }
    }

    fn retrieve(&self, number: usize, top: Option<usize>) -> Result<Step, Response> {
        let index = self.index(number)?;
        Ok(Step::Retrieve {
            index,
            octets: self.messages[index].size,
            top,
        })
    }
}

impl Session {
    /// Runs a TRANSACTION command (the command table already checked the state).
    pub(super) fn transaction(&mut self, command: TxCommand, out: &mut Vec<Output>) {
        let State::Transaction { maildrop, .. } = &mut self.state else {
            return self.error(Response::not_logged_in(), out);
        };
        match maildrop.run(command) {
            Ok(Step::Send(bytes)) => out.push(Output::Send(bytes)),
            Ok(Step::Retrieve { index, octets, top }) => {
                out.push(Output::Query(Query::Retrieve { index }));
                self.mode = Mode::AwaitRetrieve { octets, top };
            }
            Ok(Step::Quit { deleted, left }) if deleted.is_empty() => {
                // Nothing to remove: UPDATE has no work, so no Commit query.
                let bye = Response::signing_off(&self.policy.hostname, left);
                self.close_with(bye, out);
            }
            Ok(Step::Quit { deleted, left }) => {
                // RFC 1939 §6: UPDATE removes the messages marked deleted.
                out.push(Output::Query(Query::Commit { deleted }));
                self.mode = Mode::AwaitCommit { left };
            }
            Err(response) => self.error(response, out),
        }
    }
}

/// The RETR or TOP response for a message the driver read: `+OK n octets` (with the
/// listed size) or `+OK`, the byte-stuffed text with CRLF line ends, and `.`.
pub(super) fn retrieved(octets: u64, top: Option<usize>, message: &[u8]) -> Vec<u8> {
    match top {
        // with_body makes every line end in CRLF itself.
        None => Response::octets(octets).with_body(message),
        Some(lines) => Response::done().with_body(top_of(&crlf(message), lines)),
    }
}

/// Turns bare LF line ends into CRLF (RFC 1939 §3: lines end in CRLF).
fn crlf(message: &[u8]) -> Cow<'_, [u8]> {
    let bare_lf = |(i, &b): (usize, &u8)| b == b'\n' && (i == 0 || message[i - 1] != b'\r');
    if !message.iter().enumerate().any(bare_lf) {
        return Cow::Borrowed(message);
    }
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 2);
    for (i, &b) in message.iter().enumerate() {
        if bare_lf((i, &b)) {
            out.push(b'\r');
        }
        out.push(b);
    }
    Cow::Owned(out)
}

/// TOP (RFC 1939 §7): the header, the blank line after it, and the first `lines` lines
/// of the body. A message without a blank line is all header and is sent whole.
fn top_of(message: &[u8], lines: usize) -> &[u8] {
    let body_start = if message.starts_with(b"\r\n") {
        2
    } else {
        match message.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(pos) => pos + 4,
            None => return message,
        }
    };
    let mut end = body_start;
    for _ in 0..lines {
        match message[end..].iter().position(|&b| b == b'\n') {
            Some(pos) => end += pos + 1,
            None => return message,
        }
    }
    &message[..end]
}

/// RFC 1939 §7: 1 to 70 characters in 0x21..=0x7E.
fn valid_uid(uid: &str) -> bool {
    (1..=MAX_UID_LEN).contains(&uid.len()) && uid.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// A damaged unique-id made safe to send: other characters become `_`, cut to length.
fn repair_uid(uid: &str) -> String {
    let repaired: String = uid
        .chars()
        .map(|c| if matches!(c, '\x21'..='\x7e') { c } else { '_' })
        .take(MAX_UID_LEN)
        .collect();
    if repaired.is_empty() {
        "_".to_string()
    } else {
        repaired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_table() {
        let m = b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree";
        let cases: &[(usize, &[u8])] = &[
            (0, b"A: 1\r\nB: 2\r\n\r\n"),
            (1, b"A: 1\r\nB: 2\r\n\r\none\r\n"),
            (2, b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n"),
            (3, m),
            (usize::MAX, m),
        ];
        for (lines, want) in cases {
            assert_eq!(top_of(m, *lines), *want, "TOP {lines}");
        }
        assert_eq!(top_of(b"A: 1\r\nB: 2\r\n", 0), b"A: 1\r\nB: 2\r\n");
        assert_eq!(top_of(b"\r\nbody\r\nmore\r\n", 1), b"\r\nbody\r\n");
        assert_eq!(top_of(b"", 5), b"");
    }

    #[test]
    fn line_ends() {
        assert_eq!(&*crlf(b"a\r\nb\r\n"), b"a\r\nb\r\n");
        assert!(matches!(crlf(b"a\r\nb"), Cow::Borrowed(_)));
        assert_eq!(&*crlf(b"a\nb\r\n\n"), b"a\r\nb\r\n\r\n");
        assert_eq!(&*crlf(b"\n"), b"\r\n");
    }

    #[test]
    fn uids() {
        assert!(valid_uid("whqtswO00WBw418f9t5JxYwZ"));
        assert!(!valid_uid(""));
        assert!(!valid_uid("a b"));
        assert!(!valid_uid(&"x".repeat(71)));
        assert_eq!(repair_uid("a b\r\n"), "a_b__");
        assert_eq!(repair_uid("é"), "_");
        assert_eq!(repair_uid(""), "_");
        assert_eq!(repair_uid(&"y".repeat(80)).len(), MAX_UID_LEN);
    }
}
