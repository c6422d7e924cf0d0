//! Fuzzes every MIME-parsing path Postie runs over untrusted mail: the input is one
//! message, as a client could send it over SMTP or IMAP APPEND.
//!
//! - `imap::summary::Summary::compute` (run once when a message is filed), its stored
//!   encoding read back (`encode` then `decode` must give the same summary), and what
//!   SEARCH/SORT ask of it;
//! - the FETCH renderers from `imap::fetch::Parsed` (ENVELOPE, BODYSTRUCTURE, BODY,
//!   `BODY[section]<partial>` for the whole message and for part paths, `BINARY`,
//!   `BINARY.SIZE`), which must agree with the summary's ENVELOPE and BODYSTRUCTURE;
//! - THREAD's header parse (`imap::thread::Message::from_header`, `from_summary`) and
//!   both threading algorithms over the two records;
//! - the structure check at DATA (`pipeline::mime_depth`, `check_structure`) and the
//!   header scans of `message::headers` used before queueing.
//!
//! Deep nesting (message/rfc822 in message/rfc822, multipart in multipart) must not
//! overflow the stack: `scripts/fuzz` seeds such messages. Run: `scripts/fuzz mime`.
#![no_main]

use std::num::NonZeroU32;

use imap::fetch::{self, Parsed};
use imap::summary::{AddressField, Summary, raw_header_contains};
use imap::thread::{Algorithm, Message, base_subject, thread};
use imap_codec::imap_types::core::{AString, Vec1};
use imap_codec::imap_types::fetch::{Part, Section};
use libfuzzer_sys::fuzz_target;

/// Part paths tried: every path of one or two levels with numbers 1 to 3, and the
/// chains `1.1.1...` of 3, 4, 8, 16, 32 and 64 levels that the message has parts for.
fn paths(parts: usize) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    for a in 1..=3 {
        out.push(vec![a]);
        for b in 1..=3 {
            out.push(vec![a, b]);
        }
    }
    for depth in [3, 4, 8, 16, 32, 64] {
        if depth <= parts {
            out.push(vec![1; depth]);
        }
    }
    out
}

fn part(path: &[u32]) -> Part {
    let numbers: Vec<NonZeroU32> = path.iter().filter_map(|&n| NonZeroU32::new(n)).collect();
    Part(Vec1::try_from(numbers).expect("non-empty path"))
}

/// Every section kind of `path` (`None`: the message itself), each with `partial`.
fn sections(parsed: &Parsed<'_>, raw: &[u8], path: Option<&[u32]>, partial: Option<(u32, u32)>) {
    let names = || {
        Vec1::try_from(vec![
            AString::try_from("Subject").expect("atom"),
            AString::try_from("content-type").expect("atom"),
        ])
        .expect("non-empty")
    };
    let p = path.map(part);
    let mut all = vec![
        Section::Header(p.clone()),
        Section::Text(p.clone()),
        Section::HeaderFields(p.clone(), names()),
        Section::HeaderFieldsNot(p.clone(), names()),
    ];
    if let Some(p) = p {
        all.push(Section::Part(p.clone()));
        all.push(Section::Mime(p));
    }
    for section in &all {
        let data = fetch::section(parsed, raw, Some(section), partial);
        if let Some((_, count)) = partial {
            assert!(data.len() <= count as usize);
        }
    }
    if let Some(path) = path {
        let binary = fetch::binary(parsed, raw, path, partial);
        let size = fetch::binary_size(parsed, raw, path);
        match (binary, size, partial) {
            (Ok(data), Ok(size), None) => assert_eq!(data.len(), size as usize),
            (Ok(_), Ok(_), Some(_)) | (Err(_), Err(_), _) => {}
            (b, s, _) => panic!("BINARY and BINARY.SIZE disagree: {b:?} / {s:?}"),
        }
    }
}

#[path = "common/worker.rs"]
mod worker;

fuzz_target!(init: worker::init(), |raw: &[u8]| worker::run(|| one_message(raw)));

fn one_message(raw: &[u8]) {
    // Filing: the summary, stored and read back.
    let summary = Summary::compute(raw);
    let stored = summary.encode();
    let decoded = Summary::decode(&stored).expect("own encoding decodes");
    assert_eq!(decoded, summary, "summary changes through its stored form");

    // FETCH from the message bytes agrees with FETCH from the summary.
    let parsed = Parsed::new(raw);
    assert_eq!(fetch::envelope(&parsed), decoded.envelope());
    assert_eq!(
        fetch::body_structure(&parsed, true),
        decoded.body_structure(true)
    );
    assert_eq!(
        fetch::body_structure(&parsed, false),
        decoded.body_structure(false)
    );
    let whole = fetch::section(&parsed, raw, None, None);
    assert_eq!(whole, raw, "BODY[] is the message");
    assert_eq!(
        fetch::whole(raw, Some((3, 10))),
        fetch::section(&parsed, raw, None, Some((3, 10)))
    );
    let partial = raw.first().map(|&b| (u32::from(b & 7), u32::from(b >> 3)));
    sections(&parsed, raw, None, partial);
    for path in paths(summary.parts().len()) {
        sections(&parsed, raw, Some(&path), None);
        sections(&parsed, raw, Some(&path), partial);
    }
    let _ = fetch::binary(&parsed, raw, &[], None);

    // SEARCH and SORT keys.
    let _ = decoded.subject_contains(b"re:");
    let _ = decoded.header_contains(b"From", b"@");
    let _ = decoded.header_contains(b"X-Unknown", b"");
    let _ = raw_header_contains(raw, b"X-Spam", b"yes");
    let _ = (decoded.sent_day(), decoded.sent_timestamp());
    if let Some(subject) = decoded.subject_text() {
        let _ = base_subject(&subject);
    }
    for field in [AddressField::From, AddressField::To, AddressField::Cc] {
        let _ = decoded.first_address(field);
    }

    // THREAD from the header and from the summary; each message comes out once.
    let records = [
        Message::from_header(1, raw, 0),
        Message::from_summary(2, &decoded, 0),
    ];
    for algorithm in [Algorithm::References, Algorithm::OrderedSubject] {
        let threads = thread(algorithm, &records);
        let mut ids = threads.ids();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2]);
        let _ = threads.render();
    }

    // The structure check at DATA (refuses deep nesting with 554 5.6.0).
    let depth = pipeline::mime_depth(raw);
    assert_eq!(
        pipeline::check_structure(raw).is_err(),
        depth > pipeline::MAX_MIME_DEPTH
    );

    // Header scans before queueing.
    let block = message::headers::header_block(raw);
    assert!(raw.starts_with(block));
    let _ = message::headers::has_header(raw, "Message-ID");
}
