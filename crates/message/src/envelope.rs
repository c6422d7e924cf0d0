//! The SMTP envelope: who sent a message and to whom (RFC 5321 §2.3.1), kept apart from
//! the message's own headers.

use crate::{Address, Dsn};

/// The body type the client declared with `MAIL FROM ... BODY=` (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyType {
    /// 7-bit text, the SMTP default.
    #[default]
    SevenBit,
    /// 8BITMIME (RFC 6152).
    EightBitMime,
    /// BINARYMIME (RFC 3030), only with BDAT.
    BinaryMime,
}

impl BodyType {
    /// Short name stored with queued messages.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyType::SevenBit => "7BIT",
            BodyType::EightBitMime => "8BITMIME",
            BodyType::BinaryMime => "BINARYMIME",
        }
    }

    /// Parses [`BodyType::as_str`] back; unknown values are 7BIT.
    pub fn from_name(name: &str) -> Self {
        match name {
            "8BITMIME" => BodyType::EightBitMime,
            "BINARYMIME" => BodyType::BinaryMime,
            _ => BodyType::SevenBit,
        }
    }
}

/// Sender and recipients of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path; `None` is the null sender `<>` used by bounces.
    pub sender: Option<Address>,
    /// The forward-paths, in the order accepted, without duplicates.
    pub recipients: Vec<Address>,
    /// What `BODY=` said.
    pub body_type: BodyType,
    /// The client asked for SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// The sender asked that every hop use verified TLS (`MAIL FROM … REQUIRETLS`,
    /// RFC 8689 §4): relayed only over TLS verified by DANE or MTA-STS to servers that
    /// advertise REQUIRETLS, else bounced with 5.7.30.
    pub require_tls: bool,
    /// What the sender asked to be told about delivery (RFC 3461).
    pub dsn: Dsn,
}

impl Envelope {
    /// The reverse-path as written in `Return-Path:` and `MAIL FROM:`, `<>` when null.
    pub fn sender_path(&self) -> String {
        match &self.sender {
            Some(a) => format!("<{a}>"),
            None => "<>".to_string(),
        }
    }
}
