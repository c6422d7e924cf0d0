//! Summaries: computed once, stored, read back; the stored form renders exactly what a
//! fresh parse renders, and damaged bytes are refused, never trusted or panicked on.

use super::parts::{Field, Kind, Part};
use super::*;
use crate::fetch::{self, Parsed};

const NESTED: &[u8] = b"Return-Path: <a@x.example>\r\n\
From: =?UTF-8?Q?J=C3=B6rg?= <jorg@x.example>\r\n\
To: Bob <bob@y.example>, carol@y.example\r\n\
Cc: dave@z.example\r\n\
Subject: =?UTF-8?B?WmVwcGVsaW4=?= news\r\n\
Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n\
Message-ID: <m1@x.example>\r\n\
X-Other: ignored\r\n\
Content-Type: multipart/mixed; boundary=X\r\n\
\r\n\
--X\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
one\r\ntwo\r\n\
--X\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
From: in@x.example\r\n\
\r\n\
inner body\r\n\
--X--\r\n";

fn roundtrip(raw: &[u8]) -> Vec<u8> {
    Summary::compute(raw).encode()
}

#[test]
fn stored_summary_renders_what_a_fresh_parse_renders() {
    for raw in [
        NESTED,
        b"Subject: plain\r\n\r\nbody",
        b"",
        b"no header at all",
    ] {
        let bytes = roundtrip(raw);
        let back = Summary::decode(&bytes).expect("decodes");
        assert_eq!(back, Summary::compute(raw), "{raw:?}");
        let parsed = Parsed::new(raw);
        assert_eq!(back.envelope(), fetch::envelope(&parsed));
        assert_eq!(
            back.body_structure(true),
            fetch::body_structure(&parsed, true)
        );
        assert_eq!(
            back.body_structure(false),
            fetch::body_structure(&parsed, false)
        );
    }
}

#[test]
fn keeps_only_the_fields_renderers_and_search_read() {
    let s = Summary::compute(NESTED);
    let kinds: Vec<Kind> = s.parts().iter().map(Part::kind).collect();
    assert_eq!(
        kinds,
        [Kind::Multipart, Kind::Leaf, Kind::Message, Kind::Leaf]
    );
    // Return-Path and X-Other are not kept; the trace prefix does not change it.
    assert_eq!(s.header_contains(b"Return-Path", b""), None);
    assert_eq!(s.header_contains(b"X-Other", b""), None);
    let other_prefix = [&b"Return-Path: <b@w.example>\r\n"[..], &NESTED[28..]].concat();
    assert_eq!(Summary::compute(&other_prefix).encode(), roundtrip(NESTED));
    // The encapsulated message's Subject is not the message's.
    assert_eq!(s.header_contains(b"subject", b"inner"), Some(false));
    assert!(roundtrip(NESTED).len() < NESTED.len());
}

#[test]
fn search_and_sort_keys() {
    let bytes = roundtrip(NESTED);
    let s = Summary::decode(&bytes).expect("decodes");
    assert_eq!(s.header_contains(b"TO", b"CAROL@"), Some(true));
    assert_eq!(s.header_contains(b"bcc", b""), Some(false));
    assert_eq!(s.header_contains(b"message-id", b""), Some(true));
    // SUBJECT matches the raw field and the decoded one.
    assert!(s.subject_contains(b"=?UTF-8?B?"));
    assert!(s.subject_contains(b"zeppelin NEWS"));
    assert!(!s.subject_contains(b"inner"));
    assert_eq!(s.subject_text().as_deref(), Some("Zeppelin news"));
    assert_eq!(s.sent_day(), Some((2003, 7, 1)));
    assert_eq!(s.sent_timestamp(), Some(1_057_049_557));
    let (name, address) = s.first_address(AddressField::From).expect("from");
    assert_eq!(name.as_deref(), Some("Jörg"));
    assert_eq!(address.as_deref(), Some("jorg@x.example"));
    let (_, to) = s.first_address(AddressField::To).expect("to");
    assert_eq!(to.as_deref(), Some("bob@y.example"));
    // A field the summary does not keep is answered from the message itself, the
    // same way.
    assert!(raw_header_contains(NESTED, b"x-other", b"IGNORED"));
    assert!(!raw_header_contains(NESTED, b"x-other", b"absent"));
    assert_eq!(
        raw_header_contains(NESTED, b"to", b"carol"),
        s.header_contains(b"to", b"carol").expect("kept")
    );
    let plain = Summary::compute(b"Subject:  Re: hi\r\n there \r\n\r\n");
    assert_eq!(plain.subject, Subject::AsSent);
    assert_eq!(plain.subject_text().as_deref(), Some("Re: hi there"));
    assert_eq!(Summary::compute(b"From: a@b\r\n\r\n").subject_text(), None);
}

#[test]
fn other_versions_and_damage_are_refused() {
    let mut bytes = roundtrip(NESTED);
    assert!(matches!(
        Summary::decode(&[]),
        Err(SummaryError::Damaged(_))
    ));
    bytes[0] = VERSION + 1;
    assert_eq!(
        Summary::decode(&bytes),
        Err(SummaryError::Version(VERSION + 1))
    );
    bytes[0] = VERSION;
    bytes.push(0);
    assert!(matches!(
        Summary::decode(&bytes),
        Err(SummaryError::Damaged(_))
    ));
    bytes.pop();
    // Every truncation is refused; every single-byte change either is refused or
    // decodes into a summary that renders without panicking.
    for len in 0..bytes.len() {
        assert!(
            Summary::decode(&bytes[..len]).is_err(),
            "truncated at {len}"
        );
    }
    for i in 1..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            if let Ok(s) = Summary::decode(&bad) {
                let _ = (s.envelope(), s.body_structure(true), s.subject_text());
            }
        }
    }
}

fn part(kind: Kind, end: u32) -> Part<'static> {
    Part {
        fields: Vec::new(),
        size: 0,
        lines: 0,
        kind,
        end,
    }
}

#[test]
fn part_trees_that_do_not_nest_are_refused() {
    use super::check::tree_ok;
    assert!(tree_ok(&[part(Kind::Leaf, 1)]));
    assert!(tree_ok(&[part(Kind::Multipart, 1)]));
    assert!(tree_ok(&[
        part(Kind::Multipart, 3),
        part(Kind::Leaf, 2),
        part(Kind::Leaf, 3)
    ]));
    assert!(!tree_ok(&[]));
    assert!(!tree_ok(&[part(Kind::Leaf, 2), part(Kind::Leaf, 2)]));
    assert!(!tree_ok(&[part(Kind::Message, 1)]));
    assert!(!tree_ok(&[
        part(Kind::Message, 3),
        part(Kind::Leaf, 2),
        part(Kind::Leaf, 3)
    ]));
    assert!(!tree_ok(&[
        part(Kind::Multipart, 3),
        part(Kind::Multipart, 4),
        part(Kind::Leaf, 3)
    ]));
    assert!(!tree_ok(&[part(Kind::Multipart, 2), part(Kind::Leaf, 0)]));
    let mut unknown = part(Kind::Leaf, 1);
    unknown.fields.push(Field {
        name: 200,
        value: Bytes::from(&b"x"[..]),
    });
    assert!(!tree_ok(&[unknown]));
    // Deeper than the tree builder ever nests.
    let deep: Vec<Part<'static>> = (0..200u32)
        .map(|i| {
            part(
                if i == 199 {
                    Kind::Leaf
                } else {
                    Kind::Multipart
                },
                200,
            )
        })
        .collect();
    assert!(!tree_ok(&deep));
}
