//! End-to-end checks of `dsn::render`: every report is parsed back with mail-parser and
//! its delivery-status part with the small RFC 3464 field parser below, so these tests
//! fail if the structure, the fields, the returned content or the sanitising breaks.

use dsn::{Action, RecipientReport, Report, needs_smtputf8, render};
use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};
use message::dsn::Ret;
use message::headers::rfc5322_date;

const ARRIVAL: i64 = 1_767_225_600; // Thu, 01 Jan 2026 00:00:00 +0000
const NOW: i64 = ARRIVAL + 3_600;

/// An original with an RFC 2047 encoded non-ASCII subject and an 8-bit body.
fn original() -> Vec<u8> {
    b"From: Alice <alice@example.org>\r\n\
      To: bob@example.net, carol@example.net\r\n\
      Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n\
      Message-ID: <orig@example.org>\r\n\
      MIME-Version: 1.0\r\n\
      Content-Type: text/plain; charset=utf-8\r\n\
      Content-Transfer-Encoding: 8bit\r\n\
      \r\n\
      The secret body text. Sch\xc3\xb6n.\r\n"
        .to_vec()
}

fn failed(address: &str) -> RecipientReport {
    RecipientReport {
        final_recipient: address.to_string(),
        original_recipient: Some(format!("rfc822;{address}")),
        action: Action::Failed,
        status: (5, 1, 1),
        diagnostic: Some("550 5.1.1 no such user".to_string()),
        remote_mta: Some("mx.example.net".to_string()),
        last_attempt: Some(NOW - 60),
        will_retry_until: None,
    }
}

fn delayed(address: &str) -> RecipientReport {
    RecipientReport {
        final_recipient: address.to_string(),
        original_recipient: None,
        action: Action::Delayed,
        status: (4, 4, 1),
        diagnostic: Some("421 4.4.1 try again later".to_string()),
        remote_mta: Some("mx2.example.net".to_string()),
        last_attempt: Some(NOW - 30),
        will_retry_until: Some(ARRIVAL + 5 * 86_400),
    }
}

fn delivered(address: &str, action: Action) -> RecipientReport {
    RecipientReport {
        final_recipient: address.to_string(),
        original_recipient: None,
        action,
        status: (2, 0, 0),
        diagnostic: Some("250 2.0.0 ok".to_string()),
        remote_mta: Some("mx3.example.net".to_string()),
        last_attempt: Some(NOW),
        will_retry_until: None,
    }
}

fn report(original: &[u8], recipients: Vec<RecipientReport>) -> Report<'_> {
    Report {
        reporting_mta: "mx.example.org",
        postmaster: "MAILER-DAEMON@mx.example.org",
        to: "alice@example.org",
        envid: Some("QQ+2B314"),
        arrival_date: ARRIVAL,
        queue_id: "Q1",
        recipients,
        original,
        ret: None,
        max_returned_size: 10 * 1024 * 1024,
        now: NOW,
        message_id: "<dsn.1@mx.example.org>",
    }
}

fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::default().parse(raw).expect("report parses")
}

/// The three parts under the multipart/report root.
fn parts<'a>(msg: &'a Message<'a>) -> Vec<&'a MessagePart<'a>> {
    let ids = msg.root_part().sub_parts().expect("root is multipart");
    ids.iter().map(|&id| &msg.parts[id as usize]).collect()
}

fn media_type(part: &MessagePart<'_>) -> String {
    let ct = part.content_type().expect("part has a content type");
    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
}

/// RFC 3464 §2.1 as a test sees it: groups of fields separated by blank lines, each
/// field `Name: value`, continuation lines (starting with white space) unfolded.
fn status_groups(body: &[u8]) -> Vec<Vec<(String, String)>> {
    let text = String::from_utf8(body.to_vec()).expect("status part is UTF-8");
    let text = text.replace("\r\n", "\n");
    text.split("\n\n")
        .filter(|g| !g.trim().is_empty())
        .map(|group| {
            let mut fields: Vec<(String, String)> = Vec::new();
            for line in group.lines() {
                if line.starts_with([' ', '\t']) {
                    fields.last_mut().expect("continuation follows a field").1 += line;
                } else {
                    let (name, value) = line.split_once(':').expect("field has a colon");
                    fields.push((name.to_string(), value.trim_start().to_string()));
                }
            }
            fields
        })
        .collect()
}

fn get<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut found = group.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
    let first = found.next().map(|(_, v)| v.as_str());
    assert!(found.next().is_none(), "{name} appears once");
    first
}

fn status_of<'a>(msg: &'a Message<'a>) -> Vec<Vec<(String, String)>> {
    status_groups(parts(msg)[1].contents())
}

fn human_text(msg: &Message<'_>) -> String {
    parts(msg)[0]
        .text_contents()
        .expect("text part")
        .to_string()
}

fn boundary(msg: &Message<'_>) -> String {
    msg.content_type()
        .and_then(|ct| ct.attribute("boundary"))
        .expect("boundary")
        .to_string()
}

fn assert_lines_ok(raw: &[u8]) {
    for (i, line) in raw.split(|&b| b == b'\n').enumerate() {
        assert!(line.len() <= 999, "line {i} is {} octets", line.len());
    }
    for (i, w) in raw.windows(2).enumerate() {
        if w[1] == b'\n' {
            assert_eq!(w[0], b'\r', "bare LF at {i}");
        }
    }
}

#[test]
fn failure_report_structure_and_fields() {
    let original = original();
    let raw = render(&report(
        &original,
        vec![failed("bob@example.net"), failed("carol@example.net")],
    ));
    assert_lines_ok(&raw);
    let msg = parse(&raw);

    // The report's own header.
    assert_eq!(msg.subject(), Some("Undelivered Mail Returned to Sender"));
    assert_eq!(
        msg.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    assert_eq!(msg.header_raw("MIME-Version").map(str::trim), Some("1.0"));
    assert_eq!(msg.message_id(), Some("dsn.1@mx.example.org"));
    assert_eq!(
        msg.header_raw("Date").map(str::trim),
        Some(rfc5322_date(NOW).as_str())
    );
    let from = msg.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some("MAILER-DAEMON@mx.example.org"));
    assert_eq!(from.name(), Some("Mail Delivery System"));
    let to = msg.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some("alice@example.org"));

    let ct = msg.content_type().expect("content type");
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
    assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
    let b = boundary(&msg);
    assert!(!String::from_utf8_lossy(&original).contains(&b));

    let p = parts(&msg);
    assert_eq!(p.len(), 3);
    assert_eq!(media_type(p[0]), "text/plain");
    assert_eq!(
        p[0].content_type().unwrap().attribute("charset"),
        Some("utf-8")
    );
    assert_eq!(media_type(p[1]), "message/delivery-status");
    assert_eq!(media_type(p[2]), "message/rfc822");
    // The original body is 8-bit, so the returned message is declared 8bit.
    assert_eq!(p[2].content_transfer_encoding(), Some("8bit"));

    // The delivery-status part, parsed back.
    let groups = status_of(&msg);
    assert_eq!(groups.len(), 3, "per-message group and two recipients");
    let per_message = &groups[0];
    assert_eq!(
        get(per_message, "Reporting-MTA"),
        Some("dns; mx.example.org")
    );
    assert_eq!(get(per_message, "Original-Envelope-Id"), Some("QQ+314"));
    assert_eq!(
        get(per_message, "Arrival-Date"),
        Some(rfc5322_date(ARRIVAL).as_str())
    );
    for (group, who) in groups[1..].iter().zip(["bob", "carol"]) {
        let address = format!("{who}@example.net");
        assert_eq!(
            get(group, "Original-Recipient"),
            Some(format!("rfc822;{address}").as_str())
        );
        assert_eq!(
            get(group, "Final-Recipient"),
            Some(format!("rfc822;{address}").as_str())
        );
        assert_eq!(get(group, "Action"), Some("failed"));
        assert_eq!(get(group, "Status"), Some("5.1.1"));
        assert_eq!(get(group, "Remote-MTA"), Some("dns; mx.example.net"));
        assert_eq!(
            get(group, "Diagnostic-Code"),
            Some("smtp; 550 5.1.1 no such user")
        );
        assert_eq!(
            get(group, "Last-Attempt-Date"),
            Some(rfc5322_date(NOW - 60).as_str())
        );
        assert_eq!(get(group, "Will-Retry-Until"), None);
    }

    // The returned message is the original, decoded subject and all.
    let PartType::Message(returned) = &p[2].body else {
        panic!("message/rfc822 part holds a message");
    };
    let parsed_original = parse(&original);
    assert_eq!(returned.subject(), Some("Grüße aus Köln"));
    assert_eq!(returned.subject(), parsed_original.subject());
    assert_eq!(returned.message_id(), Some("orig@example.org"));
    assert!(returned.body_text(0).unwrap().contains("Schön"));

    // The human-readable part names the recipients, the reply and the queue id.
    let text = human_text(&msg);
    assert!(text.contains("<bob@example.net>"), "{text}");
    assert!(text.contains("<carol@example.net>"));
    assert!(text.contains("550 5.1.1 no such user"));
    assert!(text.contains("mx.example.net"));
    assert!(text.contains("Q1"));
    assert!(text.contains("failed permanently"));
    assert!(text.contains("A copy of your message is attached."));
}

#[test]
fn ret_hdrs_returns_only_the_header() {
    let original = original();
    let mut r = report(&original, vec![failed("bob@example.net")]);
    r.ret = Some(Ret::Headers);
    let raw = render(&r);
    let msg = parse(&raw);
    let p = parts(&msg);
    assert_eq!(media_type(p[2]), "text/rfc822-headers");
    let headers = String::from_utf8(p[2].contents().to_vec()).unwrap();
    assert!(headers.contains("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?="));
    assert!(headers.contains("Message-ID: <orig@example.org>"));
    assert!(!headers.contains("secret body"));
    assert!(!String::from_utf8_lossy(&raw).contains("secret body"));
    // The returned header still parses as a header with the original subject.
    assert_eq!(parse(headers.as_bytes()).subject(), Some("Grüße aus Köln"));
    assert!(human_text(&msg).contains("The header of your message is attached."));
}

#[test]
fn ret_full_returns_the_message() {
    let original = original();
    let mut r = report(&original, vec![failed("bob@example.net")]);
    r.ret = Some(Ret::Full);
    let raw = render(&r);
    let msg = parse(&raw);
    let p = parts(&msg);
    assert_eq!(media_type(p[2]), "message/rfc822");
    let returned = p[2].message().expect("nested message");
    assert_eq!(returned.subject(), parse(&original).subject());
    assert!(String::from_utf8_lossy(&raw).contains("secret body"));
}

#[test]
fn oversized_original_falls_back_to_headers() {
    let original = original();
    let mut r = report(&original, vec![failed("bob@example.net")]);
    r.ret = Some(Ret::Full);
    r.max_returned_size = original.len() - 1;
    let raw = render(&r);
    let msg = parse(&raw);
    assert_eq!(media_type(parts(&msg)[2]), "text/rfc822-headers");
    assert!(!String::from_utf8_lossy(&raw).contains("secret body"));
    assert!(human_text(&msg).contains("too large"));

    // Exactly at the limit it is still returned whole.
    r.max_returned_size = original.len();
    let raw = render(&r);
    assert_eq!(media_type(parts(&parse(&raw))[2]), "message/rfc822");
}

#[test]
fn delay_report() {
    let original = original();
    let mut r = report(&original, vec![delayed("bob@example.net")]);
    r.ret = Some(Ret::Full); // delay reports return the header regardless
    let raw = render(&r);
    let msg = parse(&raw);
    assert_eq!(msg.subject(), Some("Delayed Mail (still being retried)"));
    assert_eq!(media_type(parts(&msg)[2]), "text/rfc822-headers");
    let groups = status_of(&msg);
    let rcpt = &groups[1];
    assert_eq!(get(rcpt, "Action"), Some("delayed"));
    assert_eq!(get(rcpt, "Status"), Some("4.4.1"));
    assert_eq!(get(rcpt, "Original-Recipient"), None);
    let until = rfc5322_date(ARRIVAL + 5 * 86_400);
    assert_eq!(get(rcpt, "Will-Retry-Until"), Some(until.as_str()));
    assert_eq!(
        get(rcpt, "Diagnostic-Code"),
        Some("smtp; 421 4.4.1 try again later")
    );
    // The human part says until when we keep trying (the sentence may be wrapped).
    let text = human_text(&msg)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains(&format!("keep trying until {until}")),
        "{text}"
    );
    assert!(text.contains("only a warning"));
}

#[test]
fn success_reports() {
    let original = original();
    for action in [Action::Delivered, Action::Relayed, Action::Expanded] {
        let r = report(&original, vec![delivered("bob@example.net", action)]);
        let raw = render(&r);
        let msg = parse(&raw);
        assert_eq!(msg.subject(), Some("Successful Mail Delivery Report"));
        assert_eq!(media_type(parts(&msg)[2]), "text/rfc822-headers");
        let groups = status_of(&msg);
        assert_eq!(get(&groups[1], "Action"), Some(action.as_str()));
        assert_eq!(get(&groups[1], "Status"), Some("2.0.0"));
    }
}

#[test]
fn mixed_report_is_a_failure_report_with_every_recipient() {
    let original = original();
    let r = report(
        &original,
        vec![
            delivered("ann@example.net", Action::Delivered),
            delayed("bob@example.net"),
            failed("carol@example.net"),
        ],
    );
    let raw = render(&r);
    let msg = parse(&raw);
    assert_eq!(msg.subject(), Some("Undelivered Mail Returned to Sender"));
    assert_eq!(media_type(parts(&msg)[2]), "message/rfc822");
    let groups = status_of(&msg);
    let actions: Vec<_> = groups[1..]
        .iter()
        .map(|g| get(g, "Action").unwrap())
        .collect();
    assert_eq!(actions, ["delivered", "delayed", "failed"]);
    assert!(get(&groups[2], "Will-Retry-Until").is_some());
    assert!(get(&groups[3], "Will-Retry-Until").is_none());
    let text = human_text(&msg);
    let failed_at = text.find("failed permanently").unwrap();
    let delayed_at = text.find("is delayed").unwrap();
    let delivered_at = text.find("was delivered to:").unwrap();
    assert!(failed_at < delayed_at && delayed_at < delivered_at);
}

#[test]
fn hostile_text_cannot_inject_or_overflow() {
    let original = original();
    let long_line = "x".repeat(2000);
    let diagnostic =
        format!("550-5.1.1 first line\r\nX-Injected: diag\r\n\r\n550 5.1.1 {long_line} end");
    let mut rcpt = failed("bob@example.net");
    rcpt.diagnostic = Some(diagnostic);
    rcpt.remote_mta = Some("mx.example.net\r\nX-Injected: mta".to_string());
    let mut r = report(&original, vec![rcpt]);
    r.to = "alice@example.org>\r\nBcc: <victim@example.com";
    r.message_id = "<id@x>\r\nX-Injected: header";
    let raw = render(&r);
    assert_lines_ok(&raw);

    let msg = parse(&raw);
    assert!(msg.header("Bcc").is_none());
    assert!(msg.header("X-Injected").is_none());
    assert_eq!(parts(&msg).len(), 3);
    let groups = status_of(&msg);
    assert_eq!(
        groups.len(),
        2,
        "the diagnostic's blank line did not split a group"
    );
    let rcpt = &groups[1];
    let names: Vec<_> = rcpt.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Original-Recipient",
            "Final-Recipient",
            "Action",
            "Status",
            "Remote-MTA",
            "Diagnostic-Code",
            "Last-Attempt-Date"
        ]
    );
    // Unfolded, the diagnostic is the reply's words with line breaks turned to spaces.
    let diag = get(rcpt, "Diagnostic-Code").unwrap();
    let words: Vec<_> = diag.split_whitespace().collect();
    assert_eq!(
        &words[..7],
        [
            "smtp;",
            "550-5.1.1",
            "first",
            "line",
            "X-Injected:",
            "diag",
            "550"
        ]
    );
    assert_eq!(words[words.len() - 1], "end");
    // The 2000-octet word was cut into pieces, but none of it was lost.
    assert_eq!(words.concat().matches('x').count(), 2000);
    // No line anywhere in the report starts with the injected field name.
    for line in String::from_utf8_lossy(&raw).split("\r\n") {
        assert!(!line.starts_with("X-Injected"), "{line}");
        assert!(!line.starts_with("Bcc"), "{line}");
    }
}

#[test]
fn boundary_never_occurs_in_the_content() {
    // An original that contains the boundary the first counter value would give.
    let mut original = original();
    original.extend_from_slice(b"--postie-report-Q1-0\r\n--postie-report-Q1-0--\r\n");
    let raw = render(&report(&original, vec![failed("bob@example.net")]));
    let msg = parse(&raw);
    let b = boundary(&msg);
    assert_ne!(b, "postie-report-Q1-0");
    assert!(!String::from_utf8_lossy(&original).contains(&b));
    let p = parts(&msg);
    assert_eq!(p.len(), 3);
    let returned = p[2].message().expect("nested message");
    assert_eq!(returned.subject(), Some("Grüße aus Köln"));
    assert!(
        returned
            .body_text(0)
            .unwrap()
            .contains("--postie-report-Q1-0--")
    );
}

#[test]
fn utf8_recipient_gives_a_global_report() {
    let original = original();
    let mut rcpt = failed("b\u{f8}b@example.net");
    rcpt.original_recipient = Some("rfc822;b+C3+B8b@example.net".to_string());
    rcpt.diagnostic = Some("550 5.1.1 unbekannter Empfänger".to_string());
    let r = report(&original, vec![rcpt]);
    assert!(needs_smtputf8(&r));
    let raw = render(&r);
    assert_lines_ok(&raw);
    let msg = parse(&raw);
    let ct = msg.content_type().unwrap();
    assert_eq!(ct.attribute("report-type"), Some("global-delivery-status"));
    let p = parts(&msg);
    assert_eq!(media_type(p[0]), "text/plain");
    assert_eq!(media_type(p[1]), "message/global-delivery-status");
    assert_eq!(media_type(p[2]), "message/global");
    let groups = status_of(&msg);
    let rcpt = &groups[1];
    assert_eq!(
        get(rcpt, "Final-Recipient"),
        Some("utf-8;b\u{f8}b@example.net")
    );
    assert_eq!(
        get(rcpt, "Original-Recipient"),
        Some("utf-8;b\u{f8}b@example.net")
    );
    assert_eq!(
        get(rcpt, "Diagnostic-Code"),
        Some("smtp; 550 5.1.1 unbekannter Empfänger")
    );
    let returned = p[2].message().expect("message/global is a nested message");
    assert_eq!(returned.subject(), Some("Grüße aus Köln"));
    assert!(human_text(&msg).contains("<b\u{f8}b@example.net>"));
}

#[test]
fn ascii_report_keeps_the_status_part_seven_bit() {
    // A non-ASCII reply in a classic report: replaced in the 7-bit status part,
    // kept in the UTF-8 human part.
    let original = original();
    let mut rcpt = failed("bob@example.net");
    rcpt.diagnostic = Some("550 5.1.1 unbekannter Empfänger".to_string());
    let r = report(&original, vec![rcpt]);
    assert!(!needs_smtputf8(&r));
    let raw = render(&r);
    let msg = parse(&raw);
    let p = parts(&msg);
    assert_eq!(media_type(p[1]), "message/delivery-status");
    assert!(p[1].contents().is_ascii());
    assert_eq!(p[1].content_transfer_encoding(), Some("7bit"));
    let groups = status_of(&msg);
    assert_eq!(
        get(&groups[1], "Diagnostic-Code"),
        Some("smtp; 550 5.1.1 unbekannter Empf?nger")
    );
    assert_eq!(p[0].content_transfer_encoding(), Some("8bit"));
    assert!(human_text(&msg).contains("unbekannter Empfänger"));
}

#[test]
fn utf8_header_original_is_returned_as_global_headers() {
    let original = "From: Jörg <j\u{f6}rg@example.org>\r\nSubject: Grüße\r\n\r\nhallo\r\n";
    let mut r = report(original.as_bytes(), vec![delayed("bob@example.net")]);
    r.to = "j\u{f6}rg@example.org";
    assert!(needs_smtputf8(&r));
    let raw = render(&r);
    let msg = parse(&raw);
    let to = msg.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some("j\u{f6}rg@example.org"));
    let p = parts(&msg);
    assert_eq!(media_type(p[1]), "message/global-delivery-status");
    assert_eq!(media_type(p[2]), "message/global-headers");
    let headers = String::from_utf8(p[2].contents().to_vec()).unwrap();
    assert_eq!(
        headers,
        "From: Jörg <j\u{f6}rg@example.org>\r\nSubject: Grüße\r\n"
    );
}

#[test]
fn lf_only_original_is_returned_with_crlf() {
    let original = b"Subject: plain\n\nline one\nline two\n";
    let raw = render(&report(original, vec![failed("bob@example.net")]));
    assert_lines_ok(&raw);
    let msg = parse(&raw);
    let returned = parts(&msg)[2].message().expect("nested");
    assert_eq!(returned.subject(), Some("plain"));
    assert_eq!(parts(&msg)[2].content_transfer_encoding(), Some("7bit"));
}

#[test]
fn original_with_overlong_lines_is_not_returned_whole() {
    let mut original = b"Subject: wide\r\n\r\n".to_vec();
    original.extend(std::iter::repeat_n(b'y', 1200));
    original.extend_from_slice(b"\r\n");
    let raw = render(&report(&original, vec![failed("bob@example.net")]));
    assert_lines_ok(&raw);
    let msg = parse(&raw);
    assert_eq!(media_type(parts(&msg)[2]), "text/rfc822-headers");
    assert!(human_text(&msg).contains("could not be returned intact"));
}

#[test]
fn local_error_text_is_not_labelled_an_smtp_reply() {
    let original = original();
    let mut rcpt = failed("bob@example.net");
    rcpt.diagnostic = Some("connection refused".to_string());
    rcpt.remote_mta = None;
    let raw = render(&report(&original, vec![rcpt]));
    let groups = status_of(&parse(&raw));
    assert_eq!(
        get(&groups[1], "Diagnostic-Code"),
        Some("x-postie; connection refused")
    );
    assert_eq!(get(&groups[1], "Remote-MTA"), None);
}

#[test]
fn wanted_follows_notify_and_never_answers_a_null_sender() {
    use dsn::wanted;
    use message::dsn::Notify;
    let cases = [
        ("NEVER", [false, false, false]),
        ("FAILURE", [true, false, false]),
        ("DELAY", [false, true, false]),
        ("SUCCESS", [false, false, true]),
        ("SUCCESS,FAILURE,DELAY", [true, true, true]),
    ];
    for (param, [fail, delay, success]) in cases {
        let n = Notify::from_param(param).unwrap();
        assert_eq!(wanted(Action::Failed, n, false), fail, "{param}");
        assert_eq!(wanted(Action::Delayed, n, false), delay, "{param}");
        for a in [Action::Delivered, Action::Relayed, Action::Expanded] {
            assert_eq!(wanted(a, n, false), success, "{param} {a:?}");
        }
        for a in [
            Action::Failed,
            Action::Delayed,
            Action::Delivered,
            Action::Relayed,
            Action::Expanded,
        ] {
            assert!(!wanted(a, n, true), "null sender, {param} {a:?}");
        }
    }
    let d = Notify::default();
    assert!(wanted(Action::Failed, d, false) && wanted(Action::Delayed, d, false));
    assert!(!wanted(Action::Delivered, d, false));
}
