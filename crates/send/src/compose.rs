//! Building a correct Internet message (RFC 5322) with MIME (RFC 2045, RFC 2046) from
//! what the user asked for: addresses, subject, text and HTML bodies, attachments and
//! extra header fields.
//!
//! Where it sits: the first step of `postie send` (and of each row of a bulk run): a
//! [`Draft`] becomes a [`Composed`] message with its envelope, which
//! [`crate::transport`] or [`crate::local`] then sends.
//!
//! The encoding is mail-builder's, checked by this module's tests against mail-parser:
//! non-ASCII display names and subjects become RFC 2047 encoded words, attachment file
//! names RFC 2231 parameters, bodies 7bit, quoted-printable or base64 (whichever is
//! shortest and valid), header lines folded at 78 characters (RFC 5322 §2.1.1: never
//! over 998). What mail-builder leaves to its caller is done here:
//! - `Date` and `Message-ID` are always set (RFC 5322 §3.6.1, §3.6.4), the id on the
//!   sender's domain;
//! - Bcc recipients go only into the envelope, never into a header (RFC 5322 §3.6.3
//!   allows either; a header would tell every recipient);
//! - a header value with a line break is refused (header injection), and extra
//!   header fields are checked for a valid name (RFC 5322 §2.2).

pub mod mailbox;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::path::Path;

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as MbAddress;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::MimePart;
use message::Address;

pub use mailbox::Mailbox;

/// The longest line RFC 5322 §2.1.1 allows, without its CRLF.
pub const MAX_LINE: usize = 998;

/// Why a message could not be composed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// An address argument or header is not a valid address list.
    #[error("{field}: {text:?} is not a valid address ({reason})")]
    Address {
        /// The field (From, To, ...).
        field: String,
        /// What was given.
        text: String,
        /// Why it was refused.
        reason: String,
    },
    /// Something required is missing (a sender, a recipient).
    #[error("{0}")]
    Missing(String),
    /// An extra header field is not acceptable.
    #[error("header {name:?}: {reason}")]
    Header {
        /// The field name as given.
        name: String,
        /// Why it was refused.
        reason: String,
    },
}

/// One file to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name the recipient sees (no directories).
    pub file_name: String,
    /// The MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// The contents.
    pub data: Vec<u8>,
}

impl Attachment {
    /// Reads `path`; the file name is its last component and the MIME type is guessed
    /// from its extension (`application/octet-stream` when unknown).
    pub fn from_file(path: &Path) -> std::io::Result<Attachment> {
        let data = std::fs::read(path)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".to_string());
        Ok(Attachment {
            content_type: guess_type(&file_name),
            file_name,
            data,
        })
    }
}

/// The MIME type for a file name, by its extension.
pub fn guess_type(file_name: &str) -> String {
    mime_guess::from_path(file_name)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

/// What the user asked for. Address fields hold the text as given (each may be a
/// comma-separated list); bodies and header values are Unicode text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    /// The author (`From:`), also the envelope sender.
    pub from: String,
    /// `To:` recipients.
    pub to: Vec<String>,
    /// `Cc:` recipients.
    pub cc: Vec<String>,
    /// Envelope-only recipients.
    pub bcc: Vec<String>,
    /// `Reply-To:`.
    pub reply_to: Vec<String>,
    /// `Subject:`.
    pub subject: Option<String>,
    /// The text/plain body.
    pub text: Option<String>,
    /// The text/html body (with `text`, the two become multipart/alternative).
    pub html: Option<String>,
    /// Files to attach (the message becomes multipart/mixed).
    pub attachments: Vec<Attachment>,
    /// Extra header fields, `(name, value)`, in order. `Date` and `Message-ID` given
    /// here replace the generated ones.
    pub headers: Vec<(String, String)>,
}

/// A composed message and its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// The message, CRLF line ends, no line over [`MAX_LINE`] octets.
    pub message: Vec<u8>,
    /// The envelope sender (the From address).
    pub sender: Address,
    /// The envelope recipients: To, Cc and Bcc without duplicates, in that order.
    pub recipients: Vec<Address>,
    /// The Message-ID, without angle brackets.
    pub message_id: String,
}

/// Header fields a [`Draft`] sets through its own fields; naming one in
/// [`Draft::headers`] is an error that says which field to use.
const MANAGED: &[(&str, &str)] = &[
    ("from", "--from"),
    ("to", "--to"),
    ("cc", "--cc"),
    ("bcc", "--bcc"),
    ("reply-to", "--reply-to"),
    ("subject", "--subject"),
    ("mime-version", "nothing (it is always 1.0)"),
    ("content-type", "--text, --html-file and --attach"),
    (
        "content-transfer-encoding",
        "nothing (it is chosen per part)",
    ),
    ("content-disposition", "--attach"),
];

/// Builds the message `draft` describes, dated `unix_seconds`.
pub fn compose(draft: &Draft, unix_seconds: i64) -> Result<Composed, ComposeError> {
    if draft.from.trim().is_empty() {
        return Err(ComposeError::Missing(
            "a sender is needed (--from)".to_string(),
        ));
    }
    let from = mailbox::parse_list(&draft.from, "From")?;
    let [author] = from.as_slice() else {
        return Err(ComposeError::Address {
            field: "From".into(),
            text: draft.from.clone(),
            reason: "give exactly one author".into(),
        });
    };
    let to = mailbox::parse_all(&draft.to, "To")?;
    let cc = mailbox::parse_all(&draft.cc, "Cc")?;
    let bcc = mailbox::parse_all(&draft.bcc, "Bcc")?;
    let reply_to = mailbox::parse_all(&draft.reply_to, "Reply-To")?;

    let mut recipients: Vec<Address> = Vec::new();
    for m in to.iter().chain(&cc).chain(&bcc) {
        if !recipients
            .iter()
            .any(|r| r.normalized() == m.address.normalized())
        {
            recipients.push(m.address.clone());
        }
    }
    if recipients.is_empty() {
        return Err(ComposeError::Missing(
            "at least one recipient is needed (--to, --cc or --bcc)".to_string(),
        ));
    }

    let extra = check_headers(&draft.headers)?;
    let subject = draft.subject.as_deref().map(one_line).transpose()?;

    let message_id = match extra.message_id {
        Some(id) => id,
        None => {
            let id =
                message::headers::new_message_id(author.address.domain().as_str(), unix_seconds);
            id.trim_matches(['<', '>']).to_string()
        }
    };

    let mut builder = MessageBuilder::new().from(mb_address(author));
    if !reply_to.is_empty() {
        builder = builder.reply_to(mb_list(&reply_to));
    }
    if !to.is_empty() {
        builder = builder.to(mb_list(&to));
    }
    if !cc.is_empty() {
        builder = builder.cc(mb_list(&cc));
    }
    if let Some(subject) = subject {
        builder = builder.subject(Text::new(subject));
    }
    builder = match extra.date {
        Some(date) => builder.header("Date", Raw::new(date)),
        None => builder.date(Date::new(unix_seconds)),
    };
    builder = builder.message_id(message_id.clone());
    for (name, value) in extra.fields {
        builder = builder.header(name, value);
    }
    builder = body(builder, draft);

    let mut out = Vec::new();
    builder.serialize(&mut out);
    Ok(Composed {
        message: out,
        sender: author.address.clone(),
        recipients,
        message_id,
    })
}

/// A whole `From:` field (CRLF included) for `name <address>`, the name quoted or
/// RFC 2047-encoded as needed; control characters in the name become spaces.
pub fn from_field(name: Option<&str>, address: &str) -> String {
    use mail_builder::headers::Header;
    let name = name
        .map(|n| {
            n.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
        })
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let mut out = b"From: ".to_vec();
    MbAddress::new_address(name, address.to_string()).write_header(&mut out, "From: ".len());
    String::from_utf8_lossy(&out).into_owned()
}

/// Puts the bodies and attachments in: text and HTML as multipart/alternative
/// (RFC 2046 §5.1.4), attachments after them in multipart/mixed (§5.1.3).
fn body<'a>(mut builder: MessageBuilder<'a>, draft: &'a Draft) -> MessageBuilder<'a> {
    if let Some(text) = &draft.text {
        builder = builder.text_body(crlf(text));
    }
    if let Some(html) = &draft.html {
        builder = builder.html_body(crlf(html));
    }
    if draft.text.is_none() && draft.html.is_none() {
        // An empty text part rather than mail-builder's lone line feed.
        builder = builder.text_body("");
    }
    for a in &draft.attachments {
        let part = MimePart::new(a.content_type.as_str(), a.data.as_slice())
            .attachment(a.file_name.as_str());
        builder.attachments.get_or_insert_with(Vec::new).push(part);
    }
    builder
}

/// Text in canonical form, every line break CRLF (RFC 2046 §4.1.1). mail-builder
/// normalises bare LFs only when it sends a part as 7bit; base64 would keep them.
fn crlf(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let bare = bytes.iter().enumerate().any(|(i, &b)| {
        (b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
            || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
    });
    if !bare {
        return Cow::Borrowed(text);
    }
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    Cow::Owned(unified.replace('\n', "\r\n"))
}

fn mb_address(m: &Mailbox) -> MbAddress<'static> {
    MbAddress::new_address(m.name.clone(), m.address.to_string())
}

fn mb_list(list: &[Mailbox]) -> MbAddress<'static> {
    MbAddress::new_list(list.iter().map(mb_address).collect())
}

/// A header value must stay on its line: a CR or LF in it could start a new field.
fn one_line(value: &str) -> Result<&str, ComposeError> {
    if value.contains(['\r', '\n']) {
        return Err(ComposeError::Header {
            name: "Subject".into(),
            reason: "contains a line break".into(),
        });
    }
    Ok(value)
}

/// The checked extra header fields.
struct Extra {
    date: Option<String>,
    message_id: Option<String>,
    fields: Vec<(String, mail_builder::headers::HeaderType<'static>)>,
}

fn check_headers(headers: &[(String, String)]) -> Result<Extra, ComposeError> {
    let mut extra = Extra {
        date: None,
        message_id: None,
        fields: Vec::new(),
    };
    for (name, value) in headers {
        let refuse = |reason: String| ComposeError::Header {
            name: name.clone(),
            reason,
        };
        // RFC 5322 §2.2: a field name is printable US-ASCII other than the colon.
        if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
            return Err(refuse("not a valid header field name".into()));
        }
        if value.contains(['\r', '\n']) {
            return Err(refuse("the value contains a line break".into()));
        }
        let lower = name.to_ascii_lowercase();
        if let Some((_, flag)) = MANAGED.iter().find(|(n, _)| *n == lower) {
            return Err(refuse(format!("set it with {flag}")));
        }
        let value = value.trim();
        match lower.as_str() {
            "date" => extra.date = Some(value.to_string()),
            "message-id" => {
                let id = value.trim_matches(['<', '>']);
                if id.is_empty() || id.contains(char::is_whitespace) || !id.contains('@') {
                    return Err(refuse("not a valid message id (id@domain)".into()));
                }
                extra.message_id = Some(id.to_string());
            }
            _ => extra.fields.push((name.clone(), header_value(name, value))),
        }
    }
    Ok(extra)
}

/// An extra field's value: as it is (folded at spaces) when it is printable ASCII
/// whose words fit on a line, else RFC 2047 encoded words, which fold anywhere.
fn header_value(name: &str, value: &str) -> mail_builder::headers::HeaderType<'static> {
    let printable = value.bytes().all(|b| b == b'\t' || (32..127).contains(&b));
    let longest_word = value.split([' ', '\t']).map(str::len).max().unwrap_or(0);
    if printable && name.len() + 2 + longest_word <= MAX_LINE {
        Raw::new(Cow::Owned(value.to_string())).into()
    } else {
        Text::new(Cow::Owned(value.to_string())).into()
    }
}
