//! One `* n FETCH (...)` response as bytes, including the items imap-codec's types
//! cannot say.
//!
//! Where it sits: the last step of a FETCH. The server renders each item with the
//! functions of [`super`] into an [`Item`] and hands the message's items to
//! [`encode`]. Nearly every item is an imap-codec `MessageDataItem`, encoded by
//! imap-codec (which picks quoted strings or literals); the exception is a partial
//! BINARY: RFC 3516 §4.2 and RFC 9051 §7.5.2 answer `BINARY[1]<0.7>` with
//! `BINARY[1]<0> ~{7}`, naming the origin as `BODY[]<0>` does, and imap-types'
//! `MessageDataItem::Binary` has no origin. Those are written here, by hand.

use std::num::NonZeroU32;

use imap_codec::ResponseCodec;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::core::Vec1;
use imap_codec::imap_types::fetch::MessageDataItem;
use imap_codec::imap_types::response::{Data, Response};

/// One FETCH data item, ready to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a handful per response, built and encoded at once; boxing would cost an \
              allocation for every item of every message"
)]
pub enum Item {
    /// Any item imap-codec encodes as the RFCs want it.
    Codec(MessageDataItem<'static>),
    /// `BINARY[section]<origin>`: the decoded octets of a partial BINARY fetch, sent in
    /// a literal8 (RFC 3516 §4.2: decoded content may hold NUL).
    BinaryPartial {
        /// The part number, `[]` for the whole message.
        section: Vec<NonZeroU32>,
        /// Where the octets start in the decoded part.
        origin: u32,
        /// The octets, already cut to the partial's length.
        data: Vec<u8>,
    },
}

impl From<MessageDataItem<'static>> for Item {
    fn from(item: MessageDataItem<'static>) -> Self {
        Item::Codec(item)
    }
}

/// `* seq FETCH (items)\r\n`; nothing when `items` is empty (a FETCH response must
/// carry at least one item, RFC 3501 §7.4.2).
pub fn encode(seq: NonZeroU32, items: Vec<Item>) -> Vec<u8> {
    if items.iter().all(|i| matches!(i, Item::Codec(_))) {
        let items: Vec<MessageDataItem<'static>> = items
            .into_iter()
            .filter_map(|i| match i {
                Item::Codec(item) => Some(item),
                Item::BinaryPartial { .. } => None,
            })
            .collect();
        return codec_response(seq, items).unwrap_or_default();
    }
    let mut out = format!("* {seq} FETCH (").into_bytes();
    for (n, item) in items.into_iter().enumerate() {
        if n > 0 {
            out.push(b' ');
        }
        match item {
            Item::Codec(item) => out.extend_from_slice(&codec_item(seq, item)),
            Item::BinaryPartial {
                section,
                origin,
                data,
            } => {
                let section: Vec<String> = section.iter().map(ToString::to_string).collect();
                // RFC 3516 §4.2: "BINARY" section-binary ["<" number ">"] SP literal8.
                out.extend_from_slice(
                    format!(
                        "BINARY[{}]<{origin}> ~{{{}}}\r\n",
                        section.join("."),
                        data.len()
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(&data);
            }
        }
    }
    out.extend_from_slice(b")\r\n");
    out
}

/// The whole response as imap-codec encodes it; `None` for no items.
fn codec_response(seq: NonZeroU32, items: Vec<MessageDataItem<'static>>) -> Option<Vec<u8>> {
    let items = Vec1::try_from(items).ok()?;
    let response = Response::Data(Data::Fetch { seq, items });
    Some(ResponseCodec::default().encode(&response).dump())
}

/// One item as imap-codec encodes it inside a response: the response of that one
/// item, without `* seq FETCH (` and `)\r\n`.
fn codec_item(seq: NonZeroU32, item: MessageDataItem<'static>) -> Vec<u8> {
    let whole = codec_response(seq, vec![item]).unwrap_or_default();
    let head = format!("* {seq} FETCH (");
    whole
        .strip_prefix(head.as_bytes())
        .and_then(|rest| rest.strip_suffix(b")\r\n"))
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::imap_types::core::{IString, Literal, NString};

    fn seq(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("nonzero")
    }

    #[test]
    fn partial_binary_names_its_origin() {
        let items = vec![
            Item::Codec(MessageDataItem::Uid(seq(7))),
            Item::BinaryPartial {
                section: vec![seq(1), seq(2)],
                origin: 5,
                data: b"a\0b".to_vec(),
            },
            Item::Codec(MessageDataItem::Rfc822Size(42)),
        ];
        assert_eq!(
            encode(seq(3), items),
            b"* 3 FETCH (UID 7 BINARY[1.2]<5> ~{3}\r\na\0b RFC822.SIZE 42)\r\n".to_vec()
        );
        let whole = vec![Item::BinaryPartial {
            section: vec![],
            origin: 0,
            data: Vec::new(),
        }];
        assert_eq!(
            encode(seq(1), whole),
            b"* 1 FETCH (BINARY[]<0> ~{0}\r\n)\r\n".to_vec()
        );
    }

    #[test]
    fn other_items_are_encoded_as_imap_codec_does() {
        let body = || MessageDataItem::BodyExt {
            section: None,
            origin: Some(4),
            data: NString(Some(IString::Literal(
                Literal::try_from(b"x)\r\n".to_vec()).expect("literal"),
            ))),
        };
        let plain = encode(
            seq(2),
            vec![body().into(), MessageDataItem::Uid(seq(9)).into()],
        );
        assert_eq!(
            plain,
            b"* 2 FETCH (BODY[]<4> {4}\r\nx)\r\n UID 9)\r\n".to_vec()
        );
        // The same items next to a partial BINARY come out byte for byte the same.
        let mixed = encode(
            seq(2),
            vec![
                body().into(),
                MessageDataItem::Uid(seq(9)).into(),
                Item::BinaryPartial {
                    section: vec![seq(1)],
                    origin: 0,
                    data: b"y".to_vec(),
                },
            ],
        );
        assert_eq!(
            mixed,
            b"* 2 FETCH (BODY[]<4> {4}\r\nx)\r\n UID 9 BINARY[1]<0> ~{1}\r\ny)\r\n".to_vec()
        );
        assert!(encode(seq(1), Vec::new()).is_empty());
    }
}
