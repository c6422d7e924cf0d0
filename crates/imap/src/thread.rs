//! THREAD (RFC 5256 §3): the ORDEREDSUBJECT and REFERENCES threading algorithms, pure.
//!
//! Where it sits: the server's `imap/thread.rs` selects messages with the search keys
//! of a THREAD or UID THREAD command, turns each one's stored summary into a
//! [`Message`] ([`Message::from_summary`]; [`Message::from_header`] reads the same
//! from the message bytes), calls [`thread`] and writes `* THREAD` followed by
//! [`Threads::render`]. Nothing here knows about a store or a
//! socket; every step of the algorithms is here and cites its rule.
//!
//! Inside: [`subject`] (base subject, RFC 5256 §2.1, also used by SORT), `msgid`
//! (Message IDs out of header values), `references` and `ordered` (the two
//! algorithms), [`tree`] (the result and its rendering).
//!
//! Invariants (checked by the property tests): every input message appears exactly
//! once in the result; dummies appear only as thread roots, each with at least two
//! children; no input, however malformed, makes this panic, and no shape of reply
//! chain makes it recurse.

mod msgid;
mod ordered;
mod references;
pub mod subject;
pub mod tree;

pub use subject::{BaseSubject, base_subject};
pub use tree::{Node, Threads};

use crate::summary::Summary;

/// The threading algorithms of RFC 5256 §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// "Poor man's threading": one thread per base subject, flat.
    OrderedSubject,
    /// Parent/child links from Message-ID, References and In-Reply-To, then threads
    /// with the same base subject gathered.
    References,
}

impl Algorithm {
    /// The algorithm called `name` (case-insensitive), as in a THREAD command.
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("REFERENCES") {
            Some(Algorithm::References)
        } else if name.eq_ignore_ascii_case("ORDEREDSUBJECT") {
            Some(Algorithm::OrderedSubject)
        } else {
            None
        }
    }
}

/// What threading needs of one message. A list of these is in mailbox (sequence
/// number) order: ties between equal sent dates go to the earlier entry, and of two
/// messages with the same Message ID the earlier keeps it (RFC 5256 §3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The number the response shows: the sequence number, or the UID for UID THREAD.
    pub id: u32,
    /// The Subject, RFC 2047-decoded (empty if none).
    pub subject: String,
    /// The sent date (RFC 5256 §2.2): the Date header in UTC, or the INTERNALDATE
    /// when there is no parsable Date header; Unix seconds.
    pub sent: i64,
    /// The raw `Message-ID` header value, if present.
    pub message_id: Option<String>,
    /// The raw `References` header value, if present.
    pub references: Option<String>,
    /// The raw `In-Reply-To` header value, if present.
    pub in_reply_to: Option<String>,
}

impl Message {
    /// Reads the fields threading needs from a message's header block (the whole
    /// message works too: reading stops at the blank line). `internal_date` stands in
    /// for a missing or unparsable Date header (RFC 5256 §2.2).
    pub fn from_header(id: u32, header: &[u8], internal_date: i64) -> Self {
        // mail-parser finds no header in an empty block or one that starts with a
        // blank line, and its accessors index the first part: check before use.
        let Some(parsed) = mail_parser::MessageParser::default()
            .parse_headers(header)
            .filter(|m| !m.parts.is_empty())
        else {
            return Message {
                id,
                sent: internal_date,
                ..Message::default()
            };
        };
        // The first field of that name, as sent (lossy: 8-bit junk must not hide the
        // IDs around it).
        let raw = |name: mail_parser::HeaderName<'static>| {
            let field = parsed.parts[0].headers.iter().find(|h| h.name == name)?;
            let value = header.get(field.offset_start as usize..field.offset_end as usize)?;
            Some(String::from_utf8_lossy(value).into_owned())
        };
        Message {
            id,
            subject: parsed.subject().unwrap_or("").to_owned(),
            sent: parsed
                .date()
                .map_or(internal_date, mail_parser::DateTime::to_timestamp),
            message_id: raw(mail_parser::HeaderName::MessageId),
            references: raw(mail_parser::HeaderName::References),
            in_reply_to: raw(mail_parser::HeaderName::InReplyTo),
        }
    }
}

impl Message {
    /// [`Message::from_header`] from a message's stored summary ([`crate::summary`]),
    /// which keeps every field threading needs, so the message itself is not read.
    pub fn from_summary(id: u32, summary: &Summary<'_>, internal_date: i64) -> Self {
        let own = summary.parts().first();
        let raw = |field: &[u8]| {
            let field = crate::summary::parts::id_of(field)?;
            let value = own?.first(field)?;
            Some(String::from_utf8_lossy(value).into_owned())
        };
        Message {
            id,
            subject: summary
                .subject_text()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default(),
            sent: summary.sent_timestamp().unwrap_or(internal_date),
            message_id: raw(b"Message-ID"),
            references: raw(b"References"),
            in_reply_to: raw(b"In-Reply-To"),
        }
    }
}

/// Threads `messages` (in mailbox order) with `algorithm`.
pub fn thread(algorithm: Algorithm, messages: &[Message]) -> Threads {
    match algorithm {
        Algorithm::OrderedSubject => ordered::thread(messages),
        Algorithm::References => references::thread(messages),
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
