//! Fuzzes what Postie does with untrusted IMAP input in pure code.
//!
//! The first byte picks a mode and a chunk size; the rest is the input:
//! - even first byte: client bytes, cut into chunks, through imap-next's server framing
//!   with the options the driver uses (`crates/server/src/imap_driver.rs`
//!   `new_server`) and imap-codec's command parser; every command is then handled as
//!   far as pure code goes: sequence sets resolved against a small mailbox
//!   (`imap::sequence`), FETCH items rendered from sample messages (`imap::fetch`:
//!   sections, partials, BINARY, ENVELOPE, BODYSTRUCTURE), THREAD run with the
//!   command's algorithm (`imap::thread`), mailbox names decoded from modified UTF-7
//!   and encoded back (`imap::mutf7`). AUTHENTICATE and IDLE are answered the way
//!   the driver does, so the framing goes on past them.
//! - odd first byte: the rest is several messages separated by NUL bytes; each is read
//!   as a message (ENVELOPE, BODYSTRUCTURE, BINARY of part paths up to two levels), its
//!   summary is computed, encoded and decoded (`imap::summary`), it becomes a THREAD
//!   record both from the summary (as the server does) and from the bytes, and both
//!   threading algorithms run over the records, checking that every message comes out
//!   exactly once.
//!
//! The server crate's own raw-line parsers (`imap/extended.rs`) and the session's
//! command handlers are reached by the `imap_session` target, which runs the real
//! session. Run: `cargo +nightly fuzz run imap_command` from this folder.
#![no_main]

use imap::sequence::{SeqBound, SeqRange, SequenceSet};
use imap::thread::{Algorithm, Message, thread};
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::Text;
use imap_codec::imap_types::extensions::thread::ThreadingAlgorithm;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName};
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::{
    CommandContinuationRequest, Greeting, Status, StatusBody, StatusKind, Tagged,
};
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence};
use imap_next::server::{Event, Options, Server};
use imap_next::{Interrupt, Io, State};
use libfuzzer_sys::fuzz_target;

/// Sample messages a FETCH or THREAD command works on: nested multipart with an
/// encoded part, a message/rfc822 part, and a reply with References.
const MESSAGES: [&[u8]; 3] = [
    b"Subject: =?utf-8?q?caf=C3=A9?=\r\nMessage-ID: <1@x>\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
      Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
      hello\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
      aGVsbG8=\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n",
    b"Subject: Re: cafe\r\nIn-Reply-To: <1@x>\r\nReferences: <0@x> <1@x>\r\n\r\nreply\r\n",
    b"Subject: (fwd) [list] other\nContent-Transfer-Encoding: quoted-printable\n\nx=3Dy=\n",
];

/// The UIDs of the sample mailbox (ascending, with gaps like a real one).
const UIDS: [u32; 3] = [3, 7, 40];

/// The driver's framing options (`new_server`), with the default literal limit.
fn new_server() -> Server {
    let mut options = Options::default();
    options.crlf_relaxed = true;
    options.max_literal_size = 64 * 1024;
    options.max_command_size = options.max_literal_size.saturating_add(64 * 1024);
    let _ = options.set_literal_accept_text("Ready for literal data".into());
    let _ = options.set_literal_reject_text("Literal too large (APPENDLIMIT)".into());
    let greeting = Greeting::ok(None, "Postie ready").expect("valid greeting");
    let mut server = Server::new(options, greeting);
    while let Err(Interrupt::Io(Io::Output(_))) = server.next() {}
    server
}

fn status(tag: imap_codec::imap_types::core::Tag<'static>) -> Status<'static> {
    Status::Tagged(Tagged {
        tag,
        body: StatusBody {
            kind: StatusKind::Ok,
            code: None,
            text: Text::try_from("done").expect("valid text"),
        },
    })
}

/// imap-codec's sequence set as ours (as `crates/imap/src/session/wire.rs` does).
fn our_set(set: &imap_codec::imap_types::sequence::SequenceSet) -> SequenceSet {
    let bound = |b: &SeqOrUid| match b {
        SeqOrUid::Value(v) => SeqBound::Value(v.get()),
        SeqOrUid::Asterisk => SeqBound::Star,
    };
    SequenceSet(
        set.0
            .as_ref()
            .iter()
            .map(|s| match s {
                Sequence::Single(x) => SeqRange(bound(x), bound(x)),
                Sequence::Range(a, b) => SeqRange(bound(a), bound(b)),
            })
            .collect(),
    )
}

/// Resolves a set both ways; results must name messages of the mailbox.
fn resolve(set: &imap_codec::imap_types::sequence::SequenceSet) {
    let set = our_set(set);
    if let Ok(seqs) = set.seqs(UIDS.len() as u32) {
        assert!(seqs.iter().all(|&s| s >= 1 && s as usize <= UIDS.len()));
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    }
    let positions = set.uid_positions(&UIDS);
    assert!(positions.iter().all(|&p| p < UIDS.len()));
    // Our own text form parses back to the same set.
    let text: Vec<String> = set
        .0
        .iter()
        .map(|SeqRange(a, b)| {
            let b2s = |b: &SeqBound| match b {
                SeqBound::Value(v) => v.to_string(),
                SeqBound::Star => "*".to_owned(),
            };
            format!("{}:{}", b2s(a), b2s(b))
        })
        .collect();
    assert_eq!(SequenceSet::parse(&text.join(",")).ok(), Some(set));
}

/// Every sequence set inside search keys.
fn resolve_keys(keys: &[SearchKey<'_>]) {
    let mut stack: Vec<&SearchKey<'_>> = keys.iter().collect();
    while let Some(key) = stack.pop() {
        match key {
            SearchKey::SequenceSet(set) | SearchKey::Uid(set) => resolve(set),
            SearchKey::Not(k) => stack.push(k),
            SearchKey::Or(a, b) => stack.extend([a.as_ref(), b.as_ref()]),
            SearchKey::And(ks) => stack.extend(ks.as_ref().iter()),
            _ => {}
        }
    }
}

/// Renders one FETCH item from every sample message.
fn fetch_item(name: &MessageDataItemName<'_>) {
    for raw in MESSAGES {
        let parsed = imap::fetch::Parsed::new(raw);
        match name {
            MessageDataItemName::Envelope => {
                let _ = imap::fetch::envelope(&parsed);
            }
            MessageDataItemName::Body => {
                let _ = imap::fetch::body_structure(&parsed, false);
            }
            MessageDataItemName::BodyStructure => {
                let _ = imap::fetch::body_structure(&parsed, true);
            }
            MessageDataItemName::BodyExt {
                section, partial, ..
            } => {
                let partial = partial.map(|(a, n)| (a, n.get()));
                let data = imap::fetch::section(&parsed, raw, section.as_ref(), partial);
                if let Some((_, count)) = partial {
                    assert!(data.len() <= count as usize);
                }
            }
            MessageDataItemName::Binary {
                section, partial, ..
            } => {
                let part: Vec<u32> = section.iter().map(|n| n.get()).collect();
                let partial = partial.map(|(a, n)| (a, n.get()));
                let _ = imap::fetch::binary(&parsed, raw, &part, partial);
            }
            MessageDataItemName::BinarySize { section } => {
                let part: Vec<u32> = section.iter().map(|n| n.get()).collect();
                let _ = imap::fetch::binary_size(&parsed, raw, &part);
            }
            _ => {}
        }
    }
}

/// Threads `records` with both algorithms; each must come out exactly once.
fn thread_all(records: &[Message], only: Option<Algorithm>) {
    for algorithm in [Algorithm::References, Algorithm::OrderedSubject] {
        if only.is_some_and(|a| a != algorithm) {
            continue;
        }
        let threads = thread(algorithm, records);
        let mut ids = threads.ids();
        ids.sort_unstable();
        let mut want: Vec<u32> = records.iter().map(|m| m.id).collect();
        want.sort_unstable();
        assert_eq!(ids, want);
        let text = threads.render();
        assert_eq!(text.matches('(').count(), text.matches(')').count());
    }
}

/// A mailbox name as the server reads it (modified UTF-7, RFC 3501 §5.1.3): what
/// decodes must encode to a form that decodes to the same name.
fn mailbox_name(mailbox: &Mailbox<'_>) {
    let Mailbox::Other(other) = mailbox else {
        return;
    };
    if let Ok(name) = imap::mutf7::decode(other.as_ref()) {
        let wire = imap::mutf7::encode(&name);
        assert_eq!(imap::mutf7::decode(wire.as_bytes()).ok(), Some(name));
    }
}

/// What the session would do with one command, as far as pure code goes.
fn command(command: Command<'static>) {
    match &command.body {
        CommandBody::Select { mailbox, .. }
        | CommandBody::Examine { mailbox, .. }
        | CommandBody::Create { mailbox }
        | CommandBody::Delete { mailbox }
        | CommandBody::Subscribe { mailbox }
        | CommandBody::Unsubscribe { mailbox }
        | CommandBody::Status { mailbox, .. }
        | CommandBody::Append { mailbox, .. }
        | CommandBody::Copy { mailbox, .. }
        | CommandBody::Move { mailbox, .. } => mailbox_name(mailbox),
        CommandBody::Rename { from, to } => {
            mailbox_name(from);
            mailbox_name(to);
        }
        _ => {}
    }
    match command.body {
        CommandBody::Fetch {
            sequence_set,
            macro_or_item_names,
            ..
        } => {
            resolve(&sequence_set);
            let names = match &macro_or_item_names {
                MacroOrMessageDataItemNames::Macro(m) => m.expand(),
                MacroOrMessageDataItemNames::MessageDataItemNames(names) => names.clone(),
            };
            for name in &names {
                fetch_item(name);
            }
        }
        CommandBody::Store { sequence_set, .. }
        | CommandBody::Copy { sequence_set, .. }
        | CommandBody::Move { sequence_set, .. }
        | CommandBody::ExpungeUid { sequence_set } => resolve(&sequence_set),
        CommandBody::Search { criteria, .. } => resolve_keys(criteria.as_ref()),
        CommandBody::Sort {
            search_criteria, ..
        } => resolve_keys(search_criteria.as_ref()),
        CommandBody::Thread {
            algorithm,
            search_criteria,
            uid,
            ..
        } => {
            resolve_keys(search_criteria.as_ref());
            let only = match &algorithm {
                ThreadingAlgorithm::References => Some(Algorithm::References),
                ThreadingAlgorithm::OrderedSubject => Some(Algorithm::OrderedSubject),
                ThreadingAlgorithm::Other(other) => Algorithm::from_name(other.as_ref()),
            };
            if let Some(only) = only {
                let records: Vec<Message> = MESSAGES
                    .iter()
                    .enumerate()
                    .map(|(i, raw)| {
                        let id = if uid { UIDS[i] } else { i as u32 + 1 };
                        Message::from_header(id, raw, 0)
                    })
                    .collect();
                thread_all(&records, Some(only));
            }
        }
        _ => {}
    }
}

/// Client bytes through the framing, as the driver feeds them.
fn session(chunk: usize, data: &[u8]) {
    let mut server = new_server();
    let mut auth_tag = None;
    for piece in data.chunks(chunk) {
        server.enqueue_input(piece);
        loop {
            match server.next() {
                Ok(Event::CommandReceived { command: c }) => command(c),
                Ok(Event::CommandAuthenticateReceived {
                    command_authenticate,
                }) => {
                    let tag = command_authenticate.tag;
                    if command_authenticate.initial_response.is_some() {
                        let _ = server.authenticate_finish(status(tag));
                    } else {
                        auth_tag = Some(tag);
                        let _ = server
                            .authenticate_continue(CommandContinuationRequest::base64(Vec::new()));
                    }
                }
                Ok(Event::AuthenticateDataReceived { .. }) => {
                    if let Some(tag) = auth_tag.take() {
                        let _ = server.authenticate_finish(status(tag));
                    }
                }
                Ok(Event::IdleCommandReceived { .. }) => {
                    let cont = CommandContinuationRequest::basic(None, "idling").expect("text");
                    let _ = server.idle_accept(cont);
                }
                Ok(_) => {}
                Err(Interrupt::Io(Io::Output(_))) => {}
                Err(Interrupt::Io(Io::NeedMoreInput)) => break,
                // Malformed commands: the driver answers BAD and goes on.
                Err(Interrupt::Error(_)) => {}
            }
        }
    }
}

/// NUL-separated messages, read and threaded.
fn messages(data: &[u8]) {
    let records: Vec<Message> = data
        .split(|&b| b == 0)
        .take(64)
        .enumerate()
        .map(|(i, raw)| {
            let parsed = imap::fetch::Parsed::new(raw);
            let _ = imap::fetch::envelope(&parsed);
            let _ = imap::fetch::body_structure(&parsed, true);
            for a in 0..3u32 {
                for b in 0..3u32 {
                    let part: Vec<u32> = [a, b].into_iter().filter(|&n| n > 0).collect();
                    let _ = imap::fetch::binary(&parsed, raw, &part, Some((1, 5)));
                }
            }
            // The server threads from the stored summary: it must survive its own
            // encoding and give the same record.
            let id = i as u32 + 1;
            let summary = imap::summary::Summary::compute(raw);
            let stored = summary.encode();
            let decoded = imap::summary::Summary::decode(&stored).expect("own encoding decodes");
            let record = Message::from_summary(id, &summary, i as i64);
            assert_eq!(Message::from_summary(id, &decoded, i as i64), record);
            let _ = Message::from_header(id, raw, i as i64);
            record
        })
        .collect();
    thread_all(&records, None);
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    if first & 1 == 0 {
        session(1 + (first as usize >> 1), rest);
    } else {
        messages(rest);
    }
});
