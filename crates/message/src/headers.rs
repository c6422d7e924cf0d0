//! Header helpers: finding a header in a raw message, and building the trace and
//! identity headers Postie adds (RFC 5321 §4.4, RFC 5322 §3.3 and §3.6.4).
//!
//! These work on raw bytes on purpose: the server must not rewrite a client's message,
//! only prepend lines to it, so a full MIME parse is not needed here.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// The header block of a raw message: everything before the first empty line
/// (CRLF CRLF, or LF LF for lenient input). A message with no body is all header.
pub fn header_block(message: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < message.len() {
        let end = message[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| start + p + 1)
            .unwrap_or(message.len());
        let line = &message[start..end];
        if line == b"\r\n" || line == b"\n" {
            return &message[..start];
        }
        start = end;
    }
    message
}

/// True when the message's header block has a field named `name` (case-insensitive).
pub fn has_header(message: &[u8], name: &str) -> bool {
    let name = name.as_bytes();
    header_block(message).split(|&b| b == b'\n').any(|line| {
        line.len() > name.len()
            && line[name.len()] == b':'
            && line[..name.len()].eq_ignore_ascii_case(name)
    })
}

/// An RFC 5322 §3.3 date-time for `unix_seconds`, in UTC:
/// `Sun, 22 Nov 2026 15:44:15 +0000`.
pub fn rfc5322_date(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&Rfc2822)
        .unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 +0000".to_string())
}

/// A fresh `Message-ID` value (RFC 5322 §3.6.4): `<random.time@hostname>`.
pub fn new_message_id(hostname: &str, unix_seconds: i64) -> String {
    let random: u64 = rand::random();
    format!("<{random:016x}.{unix_seconds}@{hostname}>")
}

/// What a `Received:` header records (RFC 5321 §4.4).
pub struct ReceivedInfo<'a> {
    /// The name the client gave in EHLO/HELO.
    pub helo: &'a str,
    /// The client's IP address as text.
    pub peer_ip: &'a str,
    /// This server's host name.
    pub hostname: &'a str,
    /// `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPA`, `ESMTPSA`, `UTF8SMTPS`… (RFC 3848, RFC 6531).
    pub protocol: &'a str,
    /// The queue id the message got.
    pub queue_id: &'a str,
    /// The single recipient, when there is exactly one (the `for` clause).
    pub for_recipient: Option<&'a str>,
    /// Time of receipt.
    pub unix_seconds: i64,
}

/// The `Received:` header line, folded, ending in CRLF.
pub fn received_header(info: &ReceivedInfo<'_>) -> String {
    let mut h = format!(
        "Received: from {} ([{}])\r\n\tby {} (Postie) with {} id {}",
        sanitize(info.helo),
        info.peer_ip,
        info.hostname,
        info.protocol,
        info.queue_id
    );
    if let Some(rcpt) = info.for_recipient {
        h.push_str(&format!("\r\n\tfor <{}>", sanitize(rcpt)));
    }
    h.push_str(&format!("; {}\r\n", rfc5322_date(info.unix_seconds)));
    h
}

/// Keeps client-supplied text from breaking a header: no CR, LF or other controls.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(255)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_headers_only_in_the_header_block() {
        let msg = b"Subject: hi\r\nmessage-id: <x@y>\r\n\r\nDate: not a header\r\n";
        assert!(has_header(msg, "Message-ID"));
        assert!(has_header(msg, "subject"));
        assert!(!has_header(msg, "Date"));
        assert!(!has_header(b"Subjectless: x\r\n\r\n", "Subject"));
        assert_eq!(header_block(msg), b"Subject: hi\r\nmessage-id: <x@y>\r\n");
        assert_eq!(header_block(b"no body"), b"no body");
    }

    #[test]
    fn dates_and_received() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        let h = received_header(&ReceivedInfo {
            helo: "client\r\nX-Injected: 1",
            peer_ip: "127.0.0.1",
            hostname: "mx.example.org",
            protocol: "ESMTPS",
            queue_id: "0123456789abcdef",
            for_recipient: Some("a@example.org"),
            unix_seconds: 0,
        });
        assert!(h.starts_with("Received: from client??X-Injected: 1 ([127.0.0.1])\r\n"));
        assert!(h.ends_with("; Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
        assert!(h.contains("for <a@example.org>"));
        assert!(new_message_id("h.example", 5).ends_with(".5@h.example>"));
    }

    #[test]
    fn header_scanning_never_panics_on_the_corpus() {
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/mime");
        let Ok(dirs) = std::fs::read_dir(&root) else {
            eprintln!(
                "SKIPPED: MIME corpus {} not found (no ../shared/testdata beside this checkout)",
                root.display()
            );
            return;
        };
        let mut seen = 0;
        for dir in dirs.flatten() {
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for file in files.flatten() {
                if let Ok(bytes) = std::fs::read(file.path()) {
                    let block = header_block(&bytes);
                    assert!(block.len() <= bytes.len());
                    let _ = has_header(&bytes, "Message-ID");
                    seen += 1;
                }
            }
        }
        assert!(seen > 10, "corpus has files");
    }
}
