//! `BINARY[part]` and `BINARY.SIZE[part]` (RFC 3516, RFC 9051 §6.4.5).
//!
//! Where it sits: [`super::binary()`] and [`super::binary_size()`] find the part with
//! the part tree and undo its Content-Transfer-Encoding, so a client gets the
//! octets themselves instead of base64 or quoted-printable. An encoding this server
//! does not know is [`SectionError::UnknownCte`], which the IMAP driver answers with
//! `NO [UNKNOWN-CTE]` (RFC 3516 §4.3).

use super::{
    decode, header,
    structure::transfer_encoding,
    tree::{self, Kind, Node},
};

/// Why a section cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SectionError {
    /// The part's Content-Transfer-Encoding is none this server decodes (RFC 3516
    /// §4.3: answer `NO [UNKNOWN-CTE]`).
    #[error("unknown Content-Transfer-Encoding {0:?}")]
    UnknownCte(String),
}

/// The decoded content of the part `path` names. An empty path is the whole
/// message as stored; a part the message does not have is empty (like BODY[]).
/// Multiparts and encapsulated messages may only have an identity encoding (RFC 2045
/// §6.4), so their bodies come back as they are.
pub(crate) fn decoded(root: &Node, raw: &[u8], path: &[u32]) -> Result<Vec<u8>, SectionError> {
    if path.is_empty() {
        return Ok(raw.to_vec());
    }
    let Some(node) = tree::find(root, path) else {
        return Ok(Vec::new());
    };
    let body = raw.get(node.body.clone()).unwrap_or_default();
    if !matches!(node.kind, Kind::Leaf) {
        return Ok(body.to_vec());
    }
    let fields = header::fields(raw.get(node.header.clone()).unwrap_or_default());
    let cte = transfer_encoding(&fields).to_ascii_lowercase();
    match cte.as_slice() {
        b"7bit" | b"8bit" | b"binary" => Ok(body.to_vec()),
        b"base64" => Ok(decode::base64(body)),
        b"quoted-printable" => Ok(decode::quoted_printable(body)),
        other => Err(SectionError::UnknownCte(
            String::from_utf8_lossy(other).into_owned(),
        )),
    }
}
