//! Deeply nested messages through everything the IMAP side does with a message: the
//! summary computed when it is filed (and its stored form read back), ENVELOPE,
//! BODYSTRUCTURE, sections, and imap-codec's encoder for the responses.
//!
//! Each runs on a thread with a 512 KiB stack, a quarter of a tokio worker's, so any
//! recursion on the input's depth overflows here, in CI, before it could in production
//! (where a stack overflow aborts the whole server). The renderers do recurse, but only
//! down to `fetch::tree::MAX_DEPTH` (64) levels: in a debug build that takes about
//! 300 KiB (BODYSTRUCTURE values are large), while 10,000 unbounded levels would take
//! tens of megabytes. ~40,000 nested `message/rfc822`
//! parts is the 2 MB message that did abort it, through mail-parser; see
//! `vendor/README.md`.

use imap::fetch::{self, Parsed};
use imap::summary::Summary;
use imap_codec::{
    ResponseCodec,
    encode::Encoder,
    imap_types::{
        core::Vec1,
        fetch::MessageDataItem,
        response::{Data, Response},
    },
};
use std::num::NonZeroU32;

fn nested_messages(levels: usize) -> Vec<u8> {
    let mut m = b"From: a@example.org\r\nSubject: outer\r\n".to_vec();
    for _ in 0..levels {
        m.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    m.extend_from_slice(b"Subject: inner\r\n\r\nhello\r\n");
    m
}

fn nested_multiparts(levels: usize) -> Vec<u8> {
    let mut m = Vec::new();
    for i in 0..levels {
        m.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}x\"\r\n\r\n--b{i}x\r\n")
                .as_bytes(),
        );
    }
    m.extend_from_slice(b"Content-Type: text/plain\r\n\r\nleaf\r\n");
    for i in (0..levels).rev() {
        m.extend_from_slice(format!("--b{i}x--\r\n").as_bytes());
    }
    m
}

fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic and no overflow");
}

/// What a client gets for `FETCH 1 (ENVELOPE BODYSTRUCTURE BODY[1.1.1])`, encoded.
fn render(raw: &[u8]) -> Vec<u8> {
    let summary = Summary::compute(raw);
    let stored = summary.encode();
    let summary = Summary::decode(&stored).expect("a fresh summary decodes");
    let parsed = Parsed::new(raw);
    let section = fetch::whole(raw, Some((0, 64)));
    let items = Vec1::try_from(vec![
        MessageDataItem::Envelope(summary.envelope()),
        MessageDataItem::BodyExt {
            section: None,
            origin: None,
            data: imap_codec::imap_types::core::NString(Some(
                imap_codec::imap_types::core::Literal::try_from(section)
                    .expect("literal")
                    .into(),
            )),
        },
        MessageDataItem::BodyStructure(summary.body_structure(true)),
        MessageDataItem::BodyStructure(fetch::body_structure(&parsed, true)),
    ])
    .expect("items");
    let response = Response::Data(Data::Fetch {
        seq: NonZeroU32::new(1).unwrap(),
        items,
    });
    ResponseCodec::default().encode(&response).dump()
}

#[test]
fn forty_thousand_nested_messages_on_a_small_stack() {
    on_small_stack(|| {
        let wire = render(&nested_messages(40_000));
        assert!(wire.starts_with(b"* 1 FETCH ("));
    });
}

#[test]
fn ten_thousand_nested_multiparts_on_a_small_stack() {
    on_small_stack(|| {
        let wire = render(&nested_multiparts(10_000));
        assert!(wire.starts_with(b"* 1 FETCH ("));
    });
}

#[test]
fn a_reasonable_depth_is_still_rendered_whole() {
    // Five forwarded messages inside each other: every level in BODYSTRUCTURE.
    let raw = nested_messages(5);
    let wire = String::from_utf8_lossy(&render(&raw)).into_owned();
    assert_eq!(
        wire.matches("\"MESSAGE\" \"RFC822\"").count(),
        2 * 5,
        "{wire}"
    );
}
