//! The composer's output, parsed back with mail-parser: every header, part, encoding
//! and file name, in several scripts.

use super::*;
use mail_parser::{MessageParser, MimeHeaders};

const NOW: i64 = 1_700_000_000;

fn draft() -> Draft {
    Draft {
        from: "Alice <alice@example.org>".into(),
        to: vec!["bob@example.net".into()],
        subject: Some("Hello".into()),
        text: Some("Hi Bob.\n".into()),
        ..Draft::default()
    }
}

fn build(d: &Draft) -> (Composed, String) {
    let c = compose(d, NOW).expect("compose");
    let text = String::from_utf8(c.message.clone()).expect("7-bit output");
    (c, text)
}

/// The header block, unfolded: one entry per field.
fn fields(text: &str) -> Vec<String> {
    let head = text.split("\r\n\r\n").next().unwrap();
    let mut out: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            out.last_mut().unwrap().push_str(line);
        } else {
            out.push(line.to_string());
        }
    }
    out
}

/// An unstructured field value decoded (mail-parser leaves unknown fields raw).
fn decoded(raw: &str) -> String {
    let text = format!("Subject:{raw}\r\n\r\n");
    let m = MessageParser::new().parse_headers(text.as_bytes()).unwrap();
    m.subject().unwrap().to_string()
}

fn assert_lines_ok(text: &str) {
    assert!(text.is_ascii(), "non-ASCII output");
    for line in text.split("\r\n") {
        assert!(line.len() <= MAX_LINE, "line of {} octets", line.len());
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "bare line end: {line:?}"
        );
    }
    let head = text.split("\r\n\r\n").next().unwrap();
    for line in head.split("\r\n") {
        assert!(line.len() <= 78, "header line over 78: {line:?}");
    }
}

#[test]
fn simple_message_has_every_header() {
    let (c, text) = build(&draft());
    assert_lines_ok(&text);
    let m = MessageParser::new().parse(&c.message).unwrap();
    let from = m.from().unwrap().first().unwrap();
    assert_eq!(from.name.as_deref(), Some("Alice"));
    assert_eq!(from.address.as_deref(), Some("alice@example.org"));
    assert_eq!(
        m.to().unwrap().first().unwrap().address.as_deref(),
        Some("bob@example.net")
    );
    assert_eq!(m.subject(), Some("Hello"));
    assert_eq!(m.date().unwrap().to_timestamp(), NOW);
    assert_eq!(m.message_id(), Some(c.message_id.as_str()));
    assert!(c.message_id.ends_with("@example.org"), "{}", c.message_id);
    assert_eq!(m.header_raw("MIME-Version").map(str::trim), Some("1.0"));
    assert_eq!(m.body_text(0).as_deref(), Some("Hi Bob.\r\n"));
    let ct = m.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
    assert_eq!(ct.attribute("charset"), Some("utf-8"));
    assert!(
        text.contains("Content-Transfer-Encoding: 7bit\r\n"),
        "{text}"
    );
    assert_eq!(c.sender.to_string(), "alice@example.org");
    assert_eq!(c.recipients.len(), 1);
}

#[test]
fn non_ascii_names_and_subjects_use_encoded_words() {
    let cases = [
        ("张伟", "季度报告：收入增长"),
        ("Иван Петров", "Отчёт за квартал"),
        ("Zoë 🎉", "Party time 🎉🥳 and more"),
        ("Ελένη", "Καλημέρα"),
    ];
    for (name, subject) in cases {
        let d = Draft {
            from: format!("{name} <sender@example.org>"),
            to: vec![format!("\"{name}\" <rcpt@example.net>")],
            subject: Some(subject.into()),
            ..draft()
        };
        let (c, text) = build(&d);
        assert_lines_ok(&text);
        let fields = fields(&text);
        let subject_field = fields.iter().find(|f| f.starts_with("Subject: ")).unwrap();
        assert!(
            subject_field.contains("=?utf-8?B?") || subject_field.contains("=?utf-8?Q?"),
            "{subject_field}"
        );
        let from_field = fields.iter().find(|f| f.starts_with("From: ")).unwrap();
        assert!(from_field.contains("=?utf-8?"), "{from_field}");
        assert!(from_field.ends_with("<sender@example.org>"), "{from_field}");
        let m = MessageParser::new().parse(&c.message).unwrap();
        assert_eq!(m.subject(), Some(subject));
        assert_eq!(
            m.from().unwrap().first().unwrap().name.as_deref(),
            Some(name)
        );
        assert_eq!(m.to().unwrap().first().unwrap().name.as_deref(), Some(name));
    }
}

#[test]
fn a_long_subject_is_folded_and_decodes_whole() {
    let subject = "Слово ".repeat(60) + "конец 🎉";
    let d = Draft {
        subject: Some(subject.clone()),
        ..draft()
    };
    let (c, text) = build(&d);
    assert_lines_ok(&text);
    let subject_lines = text
        .split("\r\n")
        .skip_while(|l| !l.starts_with("Subject:"))
        .take_while(|l| l.starts_with("Subject:") || l.starts_with(' '))
        .count();
    assert!(subject_lines > 3, "not folded: {text}");
    let m = MessageParser::new().parse(&c.message).unwrap();
    assert_eq!(m.subject(), Some(subject.as_str()));
}

#[test]
fn bcc_is_in_the_envelope_only() {
    let d = Draft {
        to: vec!["to@example.net".into()],
        cc: vec!["Carol <cc@example.net>, to@example.net".into()],
        bcc: vec!["hidden@example.com".into(), "TO@example.net".into()],
        ..draft()
    };
    let (c, text) = build(&d);
    assert!(!text.to_ascii_lowercase().contains("bcc"), "{text}");
    assert!(!text.contains("hidden@example.com"), "{text}");
    let rcpts: Vec<String> = c.recipients.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        rcpts,
        ["to@example.net", "cc@example.net", "hidden@example.com"]
    );
    let m = MessageParser::new().parse(&c.message).unwrap();
    let cc: Vec<_> = m
        .cc()
        .unwrap()
        .iter()
        .map(|a| a.address.clone().unwrap())
        .collect();
    assert_eq!(cc, ["cc@example.net", "to@example.net"]);
}

#[test]
fn bcc_only_is_allowed() {
    let d = Draft {
        to: vec![],
        bcc: vec!["hidden@example.com".into()],
        ..draft()
    };
    let (c, text) = build(&d);
    assert!(!text.contains("hidden"), "{text}");
    assert_eq!(c.recipients.len(), 1);
}

#[test]
fn reply_to_and_extra_headers() {
    let d = Draft {
        reply_to: vec!["Help Desk <help@example.org>".into()],
        headers: vec![
            ("X-Campaign".into(), "spring-2024".into()),
            ("X-Note".into(), "Grüße aus Köln".into()),
            ("List-Id".into(), "News <news.example.org>".into()),
        ],
        ..draft()
    };
    let (c, text) = build(&d);
    assert_lines_ok(&text);
    assert!(text.contains("\r\nX-Campaign: spring-2024\r\n"), "{text}");
    assert!(text.contains("\r\nX-Note: =?utf-8?"), "{text}");
    let m = MessageParser::new().parse(&c.message).unwrap();
    assert_eq!(
        m.reply_to().unwrap().first().unwrap().address.as_deref(),
        Some("help@example.org")
    );
    assert_eq!(decoded(m.header_raw("X-Note").unwrap()), "Grüße aus Köln");
    assert_eq!(
        m.header_raw("List-Id").map(str::trim),
        Some("News <news.example.org>")
    );
}

#[test]
fn date_and_message_id_can_be_given() {
    let d = Draft {
        headers: vec![
            ("Date".into(), "Mon, 1 Jan 2024 10:00:00 +0100".into()),
            ("Message-ID".into(), "<fixed.1@example.org>".into()),
        ],
        ..draft()
    };
    let (c, text) = build(&d);
    assert_eq!(
        text.matches("\r\nDate: ").count() + usize::from(text.starts_with("Date: ")),
        1
    );
    assert_eq!(text.matches("Message-ID: ").count(), 1, "{text}");
    assert_eq!(c.message_id, "fixed.1@example.org");
    let m = MessageParser::new().parse(&c.message).unwrap();
    assert_eq!(m.message_id(), Some("fixed.1@example.org"));
    assert_eq!(m.date().unwrap().to_timestamp(), 1_704_099_600);
}

#[test]
fn text_and_html_become_multipart_alternative() {
    let d = Draft {
        text: Some("Plain café\n".into()),
        html: Some("<p>HTML café</p>\n".into()),
        ..draft()
    };
    let (c, text) = build(&d);
    assert_lines_ok(&text);
    let m = MessageParser::new().parse(&c.message).unwrap();
    let ct = m.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!(m.body_text(0).as_deref(), Some("Plain café\r\n"));
    assert_eq!(m.body_html(0).as_deref(), Some("<p>HTML café</p>\r\n"));
    assert_eq!(m.attachment_count(), 0);
}

#[test]
fn html_only() {
    let d = Draft {
        text: None,
        html: Some("<b>hi</b>".into()),
        ..draft()
    };
    let (c, _) = build(&d);
    let m = MessageParser::new().parse(&c.message).unwrap();
    let ct = m.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("html")));
}

#[test]
fn attachments_make_multipart_mixed_with_rfc2231_names() {
    let pdf: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let d = Draft {
        text: Some("See attached.\n".into()),
        html: Some("<p>See attached.</p>".into()),
        attachments: vec![
            Attachment {
                file_name: "年度报告 2024.pdf".into(),
                content_type: guess_type("年度报告 2024.pdf"),
                data: pdf.clone(),
            },
            Attachment {
                file_name: "отчёт.csv".into(),
                content_type: guess_type("отчёт.csv"),
                data: b"a,b\nc,d\n".to_vec(),
            },
            Attachment {
                file_name: "plain name.txt".into(),
                content_type: guess_type("plain name.txt"),
                data: "línea uno\r\nline two\r\n".as_bytes().to_vec(),
            },
        ],
        ..draft()
    };
    let (c, text) = build(&d);
    assert_lines_ok(&text);
    assert!(text.contains("filename*=UTF-8''"), "{text}");
    assert!(
        !text.contains("filename=\"=?"),
        "RFC 2047 in a parameter: {text}"
    );
    let m = MessageParser::new().parse(&c.message).unwrap();
    let ct = m.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("mixed")));
    assert_eq!(m.body_text(0).as_deref(), Some("See attached.\r\n"));
    assert_eq!(m.body_html(0).as_deref(), Some("<p>See attached.</p>"));
    let atts: Vec<_> = m.attachments().collect();
    assert_eq!(atts.len(), 3);
    assert_eq!(atts[0].attachment_name(), Some("年度报告 2024.pdf"));
    let t = atts[0].content_type().unwrap();
    assert_eq!((t.ctype(), t.subtype()), ("application", Some("pdf")));
    assert_eq!(atts[0].contents(), pdf.as_slice());
    assert!(
        atts[0]
            .content_transfer_encoding()
            .is_some_and(|e| e.eq_ignore_ascii_case("base64"))
    );
    assert_eq!(atts[1].attachment_name(), Some("отчёт.csv"));
    let t = atts[1].content_type().unwrap();
    assert_eq!((t.ctype(), t.subtype()), ("text", Some("csv")));
    // Bare LFs in an attached file survive: it is encoded, not re-lined.
    assert_eq!(atts[1].contents(), b"a,b\nc,d\n");
    assert_eq!(atts[2].attachment_name(), Some("plain name.txt"));
    assert_eq!(atts[2].contents(), "línea uno\r\nline two\r\n".as_bytes());
    assert!(text.contains("filename=\"plain name.txt\""), "{text}");
}

#[test]
fn bodies_choose_quoted_printable_or_base64() {
    // Mostly ASCII with a few accents: quoted-printable.
    let latin = "Grüße aus Köln, wir sehen uns am Montag.\n".repeat(5);
    // Mostly non-Latin: base64 is shorter.
    let cjk = "这是一个测试消息，用于检查编码。\n".repeat(5);
    // Long ASCII lines: quoted-printable soft breaks keep lines short.
    let long = "word ".repeat(400) + "\n";
    for (body, expected) in [
        (latin, "quoted-printable"),
        (cjk, "base64"),
        (long, "quoted-printable"),
    ] {
        let d = Draft {
            text: Some(body.clone()),
            ..draft()
        };
        let (c, text) = build(&d);
        assert_lines_ok(&text);
        assert!(
            text.contains(&format!("Content-Transfer-Encoding: {expected}\r\n")),
            "{expected}: {text}"
        );
        for line in text.split("\r\n") {
            assert!(line.len() <= 78, "{line:?}");
        }
        let m = MessageParser::new().parse(&c.message).unwrap();
        assert_eq!(m.body_text(0).unwrap(), body.replace('\n', "\r\n"));
    }
}

#[test]
fn line_ends_become_crlf() {
    for (given, canonical) in [
        ("a\nb\n", "a\r\nb\r\n"),
        ("a\r\nb", "a\r\nb"),
        ("a\rb\r\n\n", "a\r\nb\r\n\r\n"),
        ("\n", "\r\n"),
    ] {
        assert_eq!(crlf(given), canonical, "{given:?}");
    }
}

#[test]
fn emoji_in_the_body_round_trips() {
    let body = "Party 🎉 tonight 🥳\n";
    let d = Draft {
        text: Some(body.into()),
        ..draft()
    };
    let (c, _) = build(&d);
    let m = MessageParser::new().parse(&c.message).unwrap();
    assert_eq!(m.body_text(0).unwrap(), body.replace('\n', "\r\n"));
}

#[test]
fn a_huge_unbreakable_header_value_stays_under_998() {
    let d = Draft {
        headers: vec![("X-Token".into(), "x".repeat(3000))],
        ..draft()
    };
    let (c, text) = build(&d);
    assert_lines_ok(&text);
    let m = MessageParser::new().parse(&c.message).unwrap();
    assert_eq!(decoded(m.header_raw("X-Token").unwrap()), "x".repeat(3000));
}

#[test]
fn refuses_bad_input() {
    let cases: Vec<(Draft, &str)> = vec![
        (
            Draft {
                from: String::new(),
                ..draft()
            },
            "sender",
        ),
        (
            Draft {
                from: "a@x.org, b@x.org".into(),
                ..draft()
            },
            "exactly one",
        ),
        (
            Draft {
                to: vec![],
                ..draft()
            },
            "recipient",
        ),
        (
            Draft {
                to: vec!["not an address".into()],
                ..draft()
            },
            "To",
        ),
        (
            Draft {
                subject: Some("a\r\nBcc: x@y.org".into()),
                ..draft()
            },
            "line break",
        ),
        (
            Draft {
                headers: vec![("X-A".into(), "a\nb".into())],
                ..draft()
            },
            "line break",
        ),
        (
            Draft {
                headers: vec![("Bad Name".into(), "v".into())],
                ..draft()
            },
            "field name",
        ),
        (
            Draft {
                headers: vec![("subject".into(), "v".into())],
                ..draft()
            },
            "--subject",
        ),
        (
            Draft {
                headers: vec![("Message-ID".into(), "nope".into())],
                ..draft()
            },
            "message id",
        ),
    ];
    for (d, expected) in cases {
        let err = compose(&d, NOW).expect_err(expected).to_string();
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn guesses_types() {
    assert_eq!(guess_type("a.pdf"), "application/pdf");
    assert_eq!(guess_type("photo.JPG"), "image/jpeg");
    assert_eq!(guess_type("noext"), "application/octet-stream");
}

#[test]
fn attachment_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("résumé.pdf");
    std::fs::write(&path, b"%PDF-1.4").unwrap();
    let a = Attachment::from_file(&path).unwrap();
    assert_eq!(a.file_name, "résumé.pdf");
    assert_eq!(a.content_type, "application/pdf");
    assert_eq!(a.data, b"%PDF-1.4");
}
