//! Personalising a message per row: `{{column}}` placeholders in the subject, the
//! header fields and the bodies of a [`Draft`], and reading a template message
//! (`--template message.eml`) into a draft.
//!
//! Where it sits: [`crate::bulk`] checks a template's placeholders against the CSV
//! columns before anything is sent ([`placeholders`]) and renders one draft per row
//! ([`render`]); [`crate::compose`] then builds each message, so a value with non-ASCII
//! text is encoded like any other (RFC 2047), and a value with a line break cannot
//! inject a header field (the composer refuses it, and that row fails alone).
//!
//! Values are inserted as they are, except in the HTML body, where they are escaped
//! (`<` `>` `&` `"` `'`), and in the unsubscribe URL, where they are percent-encoded
//! (RFC 3986 §2.1).

use std::collections::BTreeSet;

use mail_parser::{MessageParser, MimeHeaders};

use crate::compose::{Attachment, Draft};

/// How a value is inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As it is.
    None,
    /// HTML-escaped.
    Html,
    /// Percent-encoded for a URL.
    Url,
}

/// The placeholder names in `text`, trimmed (`{{ name }}` is `name`).
pub fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    out
}

/// Replaces each `{{name}}` in `text` by `value(name)`, escaped as `escape` says.
pub fn fill(text: &str, escape: Escape, value: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push_str(&rest[..start]);
        let name = after[..end].trim();
        match value(name) {
            Some(v) => out.push_str(&escaped(&v, escape)),
            // Unknown names were refused before sending; keep the text if one slips by.
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn escaped(value: &str, escape: Escape) -> String {
    match escape {
        Escape::None => value.to_string(),
        Escape::Html => {
            let mut out = String::with_capacity(value.len());
            for c in value.chars() {
                match c {
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '&' => out.push_str("&amp;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#39;"),
                    c => out.push(c),
                }
            }
            out
        }
        Escape::Url => {
            // RFC 3986 §2.3: unreserved characters stay, everything else is %XX.
            let mut out = String::with_capacity(value.len());
            for b in value.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out
        }
    }
}

/// Every placeholder name a draft uses (addresses, subject, header values, bodies).
pub fn placeholders(draft: &Draft) -> BTreeSet<String> {
    let mut texts: Vec<&str> = Vec::new();
    texts.push(&draft.from);
    for list in [&draft.to, &draft.cc, &draft.bcc, &draft.reply_to] {
        texts.extend(list.iter().map(String::as_str));
    }
    texts.extend(draft.subject.as_deref());
    texts.extend(draft.text.as_deref());
    texts.extend(draft.html.as_deref());
    texts.extend(draft.headers.iter().map(|(_, v)| v.as_str()));
    texts.into_iter().flat_map(names).collect()
}

/// The draft for one row: every placeholder replaced by `value(name)`.
pub fn render(draft: &Draft, value: &dyn Fn(&str) -> Option<String>) -> Draft {
    let plain = |t: &String| fill(t, Escape::None, value);
    Draft {
        from: plain(&draft.from),
        to: draft.to.iter().map(plain).collect(),
        cc: draft.cc.iter().map(plain).collect(),
        bcc: draft.bcc.iter().map(plain).collect(),
        reply_to: draft.reply_to.iter().map(plain).collect(),
        subject: draft.subject.as_ref().map(plain),
        text: draft.text.as_ref().map(plain),
        html: draft.html.as_ref().map(|h| fill(h, Escape::Html, value)),
        attachments: draft.attachments.clone(),
        headers: draft
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), plain(v)))
            .collect(),
    }
}

/// Why a template message could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the template is not a usable message: {0}")]
pub struct TemplateError(String);

/// Header fields of a template that are not carried over: the composer makes them
/// afresh for every message (a copied Message-ID would repeat), or they describe the
/// template's own transport.
const DROPPED: &[&str] = &[
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "received",
    "return-path",
    "delivered-to",
    "x-original-to",
];

/// Reads a template message (an .eml file, RFC 5322) into a draft: its address fields
/// and other header fields as written (unfolded), the subject decoded, its text and
/// HTML bodies, and its attachments.
pub fn from_eml(bytes: &[u8]) -> Result<Draft, TemplateError> {
    let message = MessageParser::new()
        .parse(bytes)
        .ok_or_else(|| TemplateError("no header found".into()))?;
    let mut draft = Draft::default();
    for (name, raw) in message.headers_raw() {
        let value = unfold(raw);
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "from" => draft.from = value,
            "to" => draft.to.push(value),
            "cc" => draft.cc.push(value),
            "bcc" => draft.bcc.push(value),
            "reply-to" => draft.reply_to.push(value),
            "subject" => {}
            l if DROPPED.contains(&l) => {}
            _ => draft.headers.push((name.to_string(), value)),
        }
    }
    draft.subject = message.subject().map(str::to_string);
    for part in message.text_bodies() {
        if !part.is_text_html() && draft.text.is_none() {
            draft.text = part.text_contents().map(|t| t.to_string());
        }
    }
    for part in message.html_bodies() {
        if part.is_text_html() && draft.html.is_none() {
            draft.html = part.text_contents().map(|t| t.to_string());
        }
    }
    for part in message.attachments() {
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_string());
        draft.attachments.push(Attachment {
            file_name: part.attachment_name().unwrap_or("attachment").to_string(),
            content_type,
            data: part.contents().to_vec(),
        });
    }
    if draft.text.is_none() && draft.html.is_none() {
        return Err(TemplateError("it has no text or HTML body".into()));
    }
    Ok(draft)
}

/// A raw field value without its folding (RFC 5322 §2.2.3) and outer spaces.
fn unfold(raw: &str) -> String {
    raw.replace("\r\n", "").replace('\n', "").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str) -> Option<String> {
        match name {
            "name" => Some("Zoë <3 & \"co\"".into()),
            "email" => Some("zoe@example.org".into()),
            "id" => Some("a b/c?d=é".into()),
            _ => None,
        }
    }

    #[test]
    fn finds_and_fills_placeholders() {
        assert_eq!(names("Hi {{name}}, {{ email }} {{x"), ["name", "email"]);
        assert_eq!(
            fill("Hi {{ name }}!", Escape::None, &row),
            "Hi Zoë <3 & \"co\"!"
        );
        assert_eq!(
            fill("<p>{{name}}</p>", Escape::Html, &row),
            "<p>Zoë &lt;3 &amp; &quot;co&quot;</p>"
        );
        assert_eq!(
            fill("https://x.org/u?id={{id}}", Escape::Url, &row),
            "https://x.org/u?id=a%20b%2Fc%3Fd%3D%C3%A9"
        );
        assert_eq!(fill("{{missing}} {{", Escape::None, &row), "{{missing}} {{");
    }

    #[test]
    fn renders_every_field() {
        let d = Draft {
            from: "News <news@example.org>".into(),
            to: vec!["{{name}} <{{email}}>".into()],
            subject: Some("Hello {{name}}".into()),
            text: Some("Dear {{name}}".into()),
            html: Some("<p>Dear {{name}}</p>".into()),
            headers: vec![("X-Id".into(), "{{id}}".into())],
            ..Draft::default()
        };
        let set: Vec<String> = placeholders(&d).into_iter().collect();
        assert_eq!(set, ["email", "id", "name"]);
        let r = render(&d, &row);
        assert_eq!(r.to, ["Zoë <3 & \"co\" <zoe@example.org>"]);
        assert_eq!(r.subject.as_deref(), Some("Hello Zoë <3 & \"co\""));
        assert_eq!(
            r.html.as_deref(),
            Some("<p>Dear Zoë &lt;3 &amp; &quot;co&quot;</p>")
        );
        assert_eq!(r.headers[0].1, "a b/c?d=é");
    }

    #[test]
    fn reads_a_template_message() {
        let eml = "From: News <news@example.org>\r\n\
To: {{name}} <{{email}}>\r\n\
Subject: =?utf-8?B?0J/RgNC40LLQtdGC?= {{name}}\r\n\
Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
Message-ID: <template@example.org>\r\n\
X-Campaign: spring\r\n\t-2024\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: multipart/alternative; boundary=\"a\"\r\n\
\r\n\
--a\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hi {{name}}\r\n\
--a\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Hi {{name}}</p>\r\n\
--a--\r\n\
--b\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename=\"terms.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERg==\r\n\
--b--\r\n";
        let d = from_eml(eml.as_bytes()).unwrap();
        assert_eq!(d.from, "News <news@example.org>");
        assert_eq!(d.to, ["{{name}} <{{email}}>"]);
        assert_eq!(d.subject.as_deref(), Some("Привет {{name}}"));
        assert_eq!(
            d.headers,
            [("X-Campaign".to_string(), "spring\t-2024".to_string())]
        );
        assert_eq!(d.text.as_deref(), Some("Hi {{name}}"));
        assert_eq!(d.html.as_deref(), Some("<p>Hi {{name}}</p>"));
        assert_eq!(d.attachments.len(), 1);
        assert_eq!(d.attachments[0].file_name, "terms.pdf");
        assert_eq!(d.attachments[0].content_type, "application/pdf");
        assert_eq!(d.attachments[0].data, b"%PDF");
    }

    #[test]
    fn a_text_only_template_has_no_html() {
        let d = from_eml(b"From: a@example.org\r\nSubject: s\r\n\r\nbody {{x}}\r\n").unwrap();
        assert_eq!(d.text.as_deref(), Some("body {{x}}\r\n"));
        assert_eq!(d.html, None);
        assert!(from_eml(b"").is_err());
    }
}
