//! A captured message parsed for the API and the UI: its [`Summary`] (what a list
//! shows, Mailpit's `MessageSummary` minus what the store knows: ID, size, date, read)
//! and its [`Detail`] (text, HTML, headers, the MIME tree with Mailpit's part ids,
//! attachments, links and one-time codes), and one decoded part ([`part`]).
//!
//! Security stance: the bytes are a stranger's. Parsing is mail-parser's (vendored
//! with a nesting limit); callers run [`summary`], [`detail`] and [`part`] on the
//! blocking pool (`tokio::task::spawn_blocking`), as a message can be large.
//! Everything extracted is bounded ([`MAX_LINKS`], [`MAX_CODES`], [`SNIPPET_CHARS`],
//! [`MAX_PARTS`], [`MAX_DEPTH`], [`MAX_HEADERS`]); the MIME tree is walked with an
//! explicit stack, never recursion on the input's depth; encapsulated messages
//! (`message/rfc822`) are leaves. HTML is only ever scanned as text here, never
//! rendered.

use mail_parser::{Address, MessageParser, MimeHeaders, PartType};
use serde::Serialize;
use std::collections::BTreeMap;

/// The most links [`links`] returns.
pub const MAX_LINKS: usize = 100;
/// The longest link kept, in bytes (longer ones are skipped).
pub const MAX_LINK_LEN: usize = 2048;
/// The most one-time codes [`codes`] returns.
pub const MAX_CODES: usize = 20;
/// The length of a snippet, in characters (Mailpit's: 250).
pub const SNIPPET_CHARS: usize = 250;
/// The most MIME parts listed in [`Detail::parts`].
pub const MAX_PARTS: usize = 500;
/// The deepest multipart nesting walked (deeper parts are not listed).
pub const MAX_DEPTH: usize = 32;
/// The most header fields [`Detail::headers`] keeps.
pub const MAX_HEADERS: usize = 1000;
/// How much of the text body a [`Summary`] keeps for searching, in bytes.
pub const SEARCH_TEXT_BYTES: usize = 4096;
/// The most addresses kept per address field.
pub const MAX_ADDRESSES: usize = 100;

/// A name and address, as Mailpit writes them: `{"Name": "…", "Address": "…"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Addr {
    /// The display name, empty when none.
    #[serde(rename = "Name")]
    pub name: String,
    /// The address, empty when none.
    #[serde(rename = "Address")]
    pub address: String,
}

/// What a message list shows of a message, from one parse of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// `Message-ID` without the angle brackets, empty when none.
    pub message_id: String,
    /// `Subject`, empty when none.
    pub subject: String,
    /// The first `From` address (empty fields when none).
    pub from: Addr,
    /// `To` addresses.
    pub to: Vec<Addr>,
    /// `Cc` addresses.
    pub cc: Vec<Addr>,
    /// `Bcc` addresses (present when the sender wrote the header).
    pub bcc: Vec<Addr>,
    /// `Reply-To` addresses.
    pub reply_to: Vec<Addr>,
    /// The `Date` header, unix seconds; `None` when absent or unreadable.
    pub date: Option<i64>,
    /// How many attachments (inline ones included), as Mailpit counts them.
    pub attachments: usize,
    /// The start of the text (HTML as text when there is no text part), whitespace
    /// collapsed, at most [`SNIPPET_CHARS`] characters.
    pub snippet: String,
    /// The first [`SEARCH_TEXT_BYTES`] of the text, lower-cased, for search.
    pub search_text: String,
}

/// One part of the MIME tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part {
    /// Mailpit's (and IMAP's) part number: `1`, `2.1`…; empty for a top-level
    /// multipart, which has none.
    #[serde(rename = "PartID")]
    pub part_id: String,
    /// The file name, empty when none.
    #[serde(rename = "FileName")]
    pub file_name: String,
    /// `type/subtype`, lower-case.
    #[serde(rename = "ContentType")]
    pub content_type: String,
    /// `Content-ID` without angle brackets, empty when none.
    #[serde(rename = "ContentID")]
    pub content_id: String,
    /// Decoded size in bytes (0 for a multipart).
    #[serde(rename = "Size")]
    pub size: usize,
    /// Nesting depth in the tree (0 for the top).
    #[serde(skip)]
    pub depth: usize,
    /// What the part is to the reader.
    #[serde(skip)]
    pub role: Role,
}

/// What a [`Part`] is to the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A container (`multipart/*`).
    Multipart,
    /// The text or HTML body.
    Body,
    /// An attachment meant to be shown within the HTML (has a `Content-ID`, not
    /// `Content-Disposition: attachment`): Mailpit's `Inline`.
    Inline,
    /// Any other attachment: Mailpit's `Attachments`.
    Attachment,
}

/// Everything the message view shows.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    /// The list's view of it.
    pub summary: Summary,
    /// `Return-Path` without angle brackets, empty when none.
    pub return_path: String,
    /// The text body (the HTML as text when there is no text part).
    pub text: String,
    /// The HTML body, empty when none. Never render it outside a sandbox.
    pub html: String,
    /// The top-level header fields, by name as written, in order, values unfolded.
    pub headers: Vec<(String, String)>,
    /// The MIME tree, depth first, in order.
    pub parts: Vec<Part>,
    /// The links ([`links`]).
    pub links: Vec<String>,
    /// The one-time codes ([`codes`]).
    pub codes: Vec<String>,
}

impl Detail {
    /// The parts of `role`.
    pub fn parts_of(&self, role: Role) -> Vec<Part> {
        self.parts
            .iter()
            .filter(|p| p.role == role)
            .cloned()
            .collect()
    }

    /// The headers as Mailpit's `GET /api/v1/message/{ID}/headers` gives them: by
    /// name, alphabetically, each with its values in order.
    pub fn header_map(&self) -> BTreeMap<String, Vec<String>> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in &self.headers {
            map.entry(name.clone()).or_default().push(value.clone());
        }
        map
    }
}

/// The parser: mail-parser's full parse.
fn parse(raw: &[u8]) -> Option<mail_parser::Message<'_>> {
    MessageParser::default().parse(raw)
}

/// Parses `raw` for the list. Never fails: an unparsable message has an empty summary.
pub fn summary(raw: &[u8]) -> Summary {
    parse(raw).map(|m| summary_of(&m)).unwrap_or_default()
}

/// Parses `raw` for the message view. Never fails: an unparsable message is shown as
/// its bytes (lossily decoded) as text.
pub fn detail(raw: &[u8]) -> Detail {
    let Some(message) = parse(raw) else {
        let text = String::from_utf8_lossy(raw).into_owned();
        return Detail {
            links: links(&text, ""),
            codes: codes(&text),
            text,
            ..Detail::default()
        };
    };
    let summary = summary_of(&message);
    let text = text_of(&message);
    let html = html_of(&message);
    let mut headers = Vec::new();
    if let Some(top) = message.parts.first() {
        for h in top.headers.iter().take(MAX_HEADERS) {
            let start = (h.offset_start as usize).min(raw.len());
            let end = (h.offset_end as usize).clamp(start, raw.len());
            headers.push((h.name.as_str().to_owned(), unfold(&raw[start..end])));
        }
    }
    let return_path = message
        .header_raw("Return-Path")
        .map(|v| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
        .unwrap_or_default();
    let links = links(&text, &html);
    let codes = codes(&text);
    Detail {
        parts: tree(&message),
        summary,
        return_path,
        text,
        html,
        headers,
        links,
        codes,
    }
}

/// The decoded part `part_id` ([`Part::part_id`]) of `raw`: its content type
/// (`type/subtype`, lower-case), its file name if any, and its bytes. `None` when the
/// message has no such leaf part.
pub fn part(raw: &[u8], part_id: &str) -> Option<(String, Option<String>, Vec<u8>)> {
    let message = parse(raw)?;
    let index = walk(&message)
        .into_iter()
        .find(|(_, id, _)| id == part_id)
        .map(|(index, _, _)| index)?;
    let p = message.parts.get(index)?;
    if p.is_multipart() {
        return None;
    }
    Some((
        content_type(p),
        p.attachment_name().map(str::to_owned),
        p.contents().to_vec(),
    ))
}

/// The tree's nodes as (mail-parser's part index, part id, depth), depth first, at
/// most [`MAX_PARTS`], no deeper than [`MAX_DEPTH`]; an explicit stack.
fn walk(message: &mail_parser::Message<'_>) -> Vec<(usize, String, usize)> {
    let mut out = Vec::new();
    let mut stack = vec![(0usize, String::new(), 0usize)];
    while let Some((index, id, depth)) = stack.pop() {
        if out.len() >= MAX_PARTS {
            break;
        }
        let Some(p) = message.parts.get(index) else {
            continue;
        };
        if let PartType::Multipart(children) = &p.body {
            if depth < MAX_DEPTH {
                for (i, child) in children.iter().enumerate().rev() {
                    let child_id = if id.is_empty() {
                        (i + 1).to_string()
                    } else {
                        format!("{id}.{}", i + 1)
                    };
                    stack.push((*child as usize, child_id, depth + 1));
                }
            }
            out.push((index, id, depth));
        } else {
            let id = if id.is_empty() { "1".to_owned() } else { id };
            out.push((index, id, depth));
        }
    }
    out
}

/// The MIME tree with each part's role.
fn tree(message: &mail_parser::Message<'_>) -> Vec<Part> {
    walk(message)
        .into_iter()
        .filter_map(|(index, part_id, depth)| {
            let p = message.parts.get(index)?;
            let index32 = index as u32;
            let is_body_part = (message.text_body.contains(&index32)
                || message.html_body.contains(&index32))
                && p.is_text()
                && p.attachment_name().is_none()
                && !p.content_disposition().is_some_and(|d| d.is_attachment());
            let role = if p.is_multipart() {
                Role::Multipart
            } else if is_body_part {
                Role::Body
            } else if p.content_id().is_some()
                && !p.content_disposition().is_some_and(|d| d.is_attachment())
            {
                Role::Inline
            } else {
                Role::Attachment
            };
            Some(Part {
                part_id,
                file_name: p.attachment_name().unwrap_or_default().to_owned(),
                content_type: content_type(p),
                content_id: p
                    .content_id()
                    .unwrap_or_default()
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_owned(),
                size: p.len(),
                depth,
                role,
            })
        })
        .collect()
}

/// A part's `type/subtype`, lower-case; the MIME default by kind when absent.
fn content_type(p: &mail_parser::MessagePart<'_>) -> String {
    match p.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => match &p.body {
            PartType::Html(_) => "text/html".into(),
            PartType::Text(_) => "text/plain".into(),
            PartType::Message(_) => "message/rfc822".into(),
            PartType::Multipart(_) => "multipart/mixed".into(),
            _ => "application/octet-stream".into(),
        },
    }
}

fn summary_of(message: &mail_parser::Message<'_>) -> Summary {
    let text = text_of(message);
    let attachments = tree(message)
        .iter()
        .filter(|p| matches!(p.role, Role::Attachment | Role::Inline))
        .count();
    let mut search_text = String::new();
    for c in text.chars() {
        if search_text.len() + c.len_utf8() > SEARCH_TEXT_BYTES {
            break;
        }
        search_text.extend(c.to_lowercase());
    }
    Summary {
        message_id: message.message_id().unwrap_or_default().to_owned(),
        subject: message.subject().unwrap_or_default().to_owned(),
        from: addrs(message.from()).into_iter().next().unwrap_or_default(),
        to: addrs(message.to()),
        cc: addrs(message.cc()),
        bcc: addrs(message.bcc()),
        reply_to: addrs(message.reply_to()),
        date: message.date().map(|d| d.to_timestamp()),
        attachments,
        snippet: snippet(&text),
        search_text,
    }
}

fn addrs(address: Option<&Address<'_>>) -> Vec<Addr> {
    let Some(address) = address else {
        return Vec::new();
    };
    address
        .iter()
        .take(MAX_ADDRESSES)
        .map(|a| Addr {
            name: a.name().unwrap_or_default().to_owned(),
            address: a.address().unwrap_or_default().to_owned(),
        })
        .collect()
}

/// The text body: the first real `text/plain` body part, else mail-parser's text
/// version of the HTML body.
fn text_of(message: &mail_parser::Message<'_>) -> String {
    for &i in &message.text_body {
        if let Some(p) = message.parts.get(i as usize)
            && let PartType::Text(t) = &p.body
        {
            return t.to_string();
        }
    }
    message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default()
}

/// The HTML body: the first real `text/html` body part, else empty.
fn html_of(message: &mail_parser::Message<'_>) -> String {
    for &i in &message.html_body {
        if let Some(p) = message.parts.get(i as usize)
            && let PartType::Html(t) = &p.body
        {
            return t.to_string();
        }
    }
    String::new()
}

/// A header value: CRLF (and LF) folding removed, trimmed, lossily UTF-8.
fn unfold(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if !out.is_empty() && !line.trim().is_empty() {
            out.push(' ');
        }
        out.push_str(line.trim());
    }
    out
}

/// `text` with whitespace collapsed, at most [`SNIPPET_CHARS`] characters.
pub fn snippet(text: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    for word in text.split_whitespace() {
        for c in (!out.is_empty())
            .then_some(' ')
            .into_iter()
            .chain(word.chars())
        {
            if count == SNIPPET_CHARS {
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

/// The http and https links of a message: URLs written in `text`, then the `href`s of
/// `html` (entities `&amp;` decoded), in order of appearance, deduplicated, at most
/// [`MAX_LINKS`], each at most [`MAX_LINK_LEN`] bytes. Trailing punctuation
/// (`.,;:!?)]'"`) is not part of a URL written in text.
pub fn links(text: &str, html: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let add = |url: &str, out: &mut Vec<String>| {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        let scheme_ok = lower.starts_with("http://") || lower.starts_with("https://");
        let has_host = url.find("//").is_some_and(|i| url.len() > i + 2);
        if scheme_ok
            && has_host
            && url.len() <= MAX_LINK_LEN
            && out.len() < MAX_LINKS
            && !out.iter().any(|u| u == url)
        {
            out.push(url.to_owned());
        }
    };
    // URLs in the text.
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while out.len() < MAX_LINKS {
        let Some(pos) = find_scheme(&lower[from..]) else {
            break;
        };
        let start = from + pos;
        let rest = &text[start..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`' | '{' | '}'))
            .unwrap_or(rest.len());
        let url = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '\'', '"']);
        add(url, &mut out);
        from = start + end.max(1);
    }
    // hrefs in the HTML.
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while out.len() < MAX_LINKS {
        let Some(pos) = lower[from..].find("href") else {
            break;
        };
        let mut i = from + pos + 4;
        from = i;
        let bytes = html.as_bytes();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let (quote, start) = match bytes.get(i) {
            Some(b'"') => (Some('"'), i + 1),
            Some(b'\'') => (Some('\''), i + 1),
            Some(_) => (None, i),
            None => break,
        };
        let rest = &html[start..];
        let end = match quote {
            Some(q) => rest.find(q).unwrap_or(rest.len()),
            None => rest
                .find(|c: char| c.is_whitespace() || c == '>')
                .unwrap_or(rest.len()),
        };
        let url = rest[..end].trim().replace("&amp;", "&");
        add(&url, &mut out);
        from = start + end;
    }
    out
}

/// The byte offset of the next `http://` or `https://` in a lower-cased text.
fn find_scheme(lower: &str) -> Option<usize> {
    match (lower.find("http://"), lower.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The words that mark a nearby number as a one-time code.
const CODE_WORDS: &[&str] = &[
    "code", "verif", "otp", "pin", "passcode", "one-time", "one time", "token", "password",
    "confirm", "security", "login", "sign in", "2fa",
];

/// How far (in bytes, either side) a [`CODE_WORDS`] word may be from a code.
const CODE_WINDOW: usize = 80;

/// The one-time codes of a message's text: runs of 4 to 8 digits, or of 6 to 8
/// upper-case letters and digits with at least one digit, standing alone (not part
/// of a longer word, a date like `2024-01-02`, a time, an amount or a decimal), with
/// one of the words in [`CODE_WORDS`] (`code`, `verification`, `OTP`, `PIN`…)
/// within 80 bytes before or after. In order, deduplicated, at most [`MAX_CODES`].
pub fn codes(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    // Lower-casing can change lengths outside ASCII: only use it when it did not.
    let lower = if lower.len() == text.len() {
        lower
    } else {
        text.to_ascii_lowercase()
    };
    let bytes = text.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < bytes.len() && out.len() < MAX_CODES {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let end = i;
        // A token glued to a non-ASCII letter is part of a longer word.
        let glued_before = text[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        let glued_after = text[end..]
            .chars()
            .next()
            .is_some_and(char::is_alphanumeric);
        if glued_before || glued_after {
            continue;
        }
        let token = &text[start..end];
        if !is_code_shape(token) {
            continue;
        }
        // Part of a date, time, amount, decimal, version or address.
        let joined = |sep: Option<&u8>, next: Option<&u8>| {
            sep.is_some_and(|s| b"-/.:,_@".contains(s))
                && next.is_some_and(u8::is_ascii_alphanumeric)
        };
        if (start >= 2 && joined(bytes.get(start - 1), bytes.get(start - 2)))
            || joined(bytes.get(end), bytes.get(end + 1))
            || (start >= 1 && b"$#+%".contains(&bytes[start - 1]))
        {
            continue;
        }
        let from = floor_boundary(&lower, start.saturating_sub(CODE_WINDOW));
        let to = floor_boundary(&lower, (end + CODE_WINDOW).min(lower.len()));
        let window = &lower[from..to];
        if CODE_WORDS.iter().any(|w| window.contains(w)) && !out.iter().any(|c| c == token) {
            out.push(token.to_owned());
        }
    }
    out
}

/// 4–8 digits, or 6–8 upper-case letters and digits with at least one digit.
fn is_code_shape(token: &str) -> bool {
    let len = token.len();
    let digits = token.bytes().filter(u8::is_ascii_digit).count();
    if digits == len {
        return (4..=8).contains(&len);
    }
    (6..=8).contains(&len)
        && digits > 0
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// The largest char boundary of `s` at or below `i`.
fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: Bob <bob@example.org>, carol@example.org\r\n\
Cc: Dan <dan@example.org>\r\n\
Subject: Hello there\r\n\
Message-ID: <m1@example.com>\r\n\
Date: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=\"inner\"\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Your verification code is 482913. Visit https://example.com/verify?t=abc.\r\n\
--inner\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Code <b>482913</b> <a href=\"https://example.com/verify?t=abc&amp;x=1\">go</a></p>\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: application/pdf; name=\"doc.pdf\"\r\n\
Content-Disposition: attachment; filename=\"doc.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--outer--\r\n";

    #[test]
    fn summary_reads_the_headers_and_counts_attachments() {
        let s = summary(MIXED);
        assert_eq!(s.subject, "Hello there");
        assert_eq!(s.message_id, "m1@example.com");
        assert_eq!(
            s.from,
            Addr {
                name: "Alice".into(),
                address: "alice@example.com".into()
            }
        );
        assert_eq!(s.to.len(), 2);
        assert_eq!(s.to[1].name, "");
        assert_eq!(s.cc[0].address, "dan@example.org");
        assert_eq!(s.attachments, 1);
        assert!(s.snippet.starts_with("Your verification code is 482913."));
        assert_eq!(s.date, Some(1_751_364_000));
    }

    #[test]
    fn detail_numbers_parts_as_mailpit() {
        let d = detail(MIXED);
        let ids: Vec<(&str, &str)> = d
            .parts
            .iter()
            .map(|p| (p.part_id.as_str(), p.content_type.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("", "multipart/mixed"),
                ("1", "multipart/alternative"),
                ("1.1", "text/plain"),
                ("1.2", "text/html"),
                ("2", "application/pdf"),
            ]
        );
        let att = d.parts_of(Role::Attachment);
        assert_eq!(att.len(), 1);
        assert_eq!(att[0].file_name, "doc.pdf");
        assert_eq!(att[0].size, 9);
        assert!(d.html.contains("<b>482913</b>"));
        assert!(d.text.starts_with("Your verification"));
        assert_eq!(d.codes, ["482913"]);
        assert_eq!(
            d.links,
            [
                "https://example.com/verify?t=abc",
                "https://example.com/verify?t=abc&x=1"
            ]
        );
        let (ct, name, bytes) = part(MIXED, "2").unwrap();
        assert_eq!(ct, "application/pdf");
        assert_eq!(name.as_deref(), Some("doc.pdf"));
        assert_eq!(bytes, b"%PDF-1.4\n");
        assert!(part(MIXED, "1").is_none());
        assert!(part(MIXED, "9").is_none());
        assert_eq!(d.header_map()["Subject"], ["Hello there"]);
    }

    #[test]
    fn single_part_is_part_one() {
        let raw = b"Subject: x\r\n\r\nhello\r\n";
        let d = detail(raw);
        assert_eq!(d.parts.len(), 1);
        assert_eq!(d.parts[0].part_id, "1");
        assert_eq!(part(raw, "1").unwrap().2, b"hello\r\n");
    }

    #[test]
    fn codes_need_a_nearby_word_and_a_standalone_token() {
        assert_eq!(codes("Your code: 1234"), ["1234"]);
        assert_eq!(codes("Use AB12CD to sign in"), ["AB12CD"]);
        assert_eq!(codes("123456 is your OTP"), ["123456"]);
        assert!(codes("Meeting at 2024-01-02, code 3 pm").is_empty());
        assert!(codes("Invoice 12345 total").is_empty());
        assert!(codes("code ABCDEF (no digit)").is_empty());
        assert!(codes("code 123").is_empty());
        assert!(codes("code 123456789").is_empty());
        assert!(codes("pin costs $1234").is_empty());
        let many: String = (0..50).map(|i| format!("code {} ", 100000 + i)).collect();
        assert_eq!(codes(&many).len(), MAX_CODES);
    }

    #[test]
    fn links_are_bounded_and_deduplicated() {
        let text: String = (0..300)
            .map(|i| format!("see https://e.com/{i}, "))
            .collect();
        let l = links(&text, "");
        assert_eq!(l.len(), MAX_LINKS);
        assert_eq!(l[0], "https://e.com/0");
        assert_eq!(
            links("x http://a.b/c http://a.b/c ftp://x", ""),
            ["http://a.b/c"]
        );
        assert_eq!(
            links(
                "",
                "<a HREF = 'http://q.r/s'>x</a><a href=javascript:alert(1)>"
            ),
            ["http://q.r/s"]
        );
        assert!(links("http:// nothing", "").is_empty());
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut raw = String::from("Subject: deep\r\n");
        for i in 0..200 {
            raw.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            ));
        }
        raw.push_str("Content-Type: text/plain\r\n\r\nx\r\n");
        let d = detail(raw.as_bytes());
        assert!(d.parts.len() <= MAX_PARTS);
        assert!(d.parts.iter().all(|p| p.depth <= MAX_DEPTH));
        let _ = summary(b"");
        let _ = detail(b"\xff\xfe garbage");
    }

    #[test]
    fn snippet_is_collapsed_and_bounded() {
        assert_eq!(snippet("  a \r\n b  "), "a b");
        assert_eq!(snippet(&"x ".repeat(1000)).chars().count(), SNIPPET_CHARS);
    }
}
