//! The capture API through the router (no sockets), over the in-memory store with
//! messages filed directly into the capture inboxes.

use crate::WebState;
use crate::capture::CaptureHooks;
use crate::testing;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use message::capture::{capture_domain, inbox_address};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::watch;
use tower::ServiceExt;

struct Env {
    state: WebState,
    events: watch::Sender<u64>,
    /// How many times the web told the server it deleted mail.
    deletions: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

async fn env_with(config: config::Config) -> Env {
    let mut state = testing::state_with(config).await;
    state.store.domain_add(&capture_domain()).await.unwrap();
    let (events, rx) = watch::channel(0);
    let deletions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = deletions.clone();
    state.capture = Some(CaptureHooks {
        events: rx,
        deleted: std::sync::Arc::new(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }),
    });
    Env {
        state,
        events,
        deletions,
    }
}

async fn env() -> Env {
    env_with(config::Config::default()).await
}

/// Files `raw` into inbox `inbox`, arrived at `at`; returns its ID.
async fn file(state: &WebState, inbox: &str, raw: &str, at: i64) -> String {
    let address = inbox_address(inbox);
    let account = match state.store.account_get(&address).await.unwrap() {
        Some(a) => a.id,
        None => state.store.account_add(&address, "x").await.unwrap(),
    };
    let mailbox = state
        .store
        .mailbox_get(account, "INBOX")
        .await
        .unwrap()
        .unwrap();
    let uid = state
        .store
        .message_append(mailbox.id, raw.as_bytes(), &[], at)
        .await
        .unwrap();
    format!("{inbox}-{uid}")
}

fn simple(subject: &str, from: &str, to: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@test>\r\n\r\n{body}\r\n",
        subject.replace(' ', "."),
    )
}

async fn call(
    state: &WebState,
    method: Method,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(Body::from(body.unwrap_or("").to_owned()))
        .unwrap();
    let response = crate::router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, bytes)
}

async fn get_json(state: &WebState, uri: &str) -> (StatusCode, Value) {
    let (status, _, body) = call(state, Method::GET, uri, None).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn ids(v: &Value) -> Vec<String> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ID"].as_str().unwrap().to_owned())
        .collect()
}

const MIXED: &str = "From: Alice <alice@example.com>\r\n\
To: Bob <bob@example.org>\r\n\
Cc: Carol <carol@example.org>\r\n\
Reply-To: replies@example.com\r\n\
Subject: Your sign-in code\r\n\
Message-ID: <mixed@example.com>\r\n\
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
Your verification code is 482913. Confirm at https://app.example.com/confirm?t=abc\r\n\
--inner\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Code <b>482913</b> <a href=\"https://app.example.com/confirm?t=abc&amp;h=1\">Confirm</a><script>alert(1)</script></p>\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: image/png; name=\"logo.png\"\r\n\
Content-ID: <logo@example.com>\r\n\
Content-Disposition: inline; filename=\"logo.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--outer\r\n\
Content-Type: application/pdf; name=\"doc.pdf\"\r\n\
Content-Disposition: attachment; filename=\"doc.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--outer\r\n\
Content-Type: text/html; name=\"evil.html\"\r\n\
Content-Disposition: attachment; filename=\"evil.html\"\r\n\
\r\n\
<script>alert(1)</script>\r\n\
--outer--\r\n";

#[tokio::test]
async fn list_has_mailpits_shape() {
    let e = env().await;
    let first = file(
        &e.state,
        "default",
        &simple("First", "Ann <ann@example.com>", "x@example.org", "one"),
        1_700_000_000,
    )
    .await;
    let second = file(&e.state, "default", MIXED, 1_700_000_100).await;
    let (status, v) = get_json(&e.state, "/api/v1/messages").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["total"], 2);
    assert_eq!(v["unread"], 2);
    assert_eq!(v["count"], 2);
    assert_eq!(v["messages_count"], 2);
    assert_eq!(v["messages_unread"], 2);
    assert_eq!(v["start"], 0);
    assert_eq!(v["tags"], serde_json::json!([]));
    assert_eq!(ids(&v), [second.as_str(), first.as_str()]);
    let m = &v["messages"][0];
    assert_eq!(m["ID"], second);
    assert_eq!(m["MessageID"], "mixed@example.com");
    assert_eq!(m["Read"], false);
    assert_eq!(
        m["From"],
        serde_json::json!({"Name": "Alice", "Address": "alice@example.com"})
    );
    assert_eq!(
        m["To"],
        serde_json::json!([{"Name": "Bob", "Address": "bob@example.org"}])
    );
    assert_eq!(m["Cc"][0]["Address"], "carol@example.org");
    assert_eq!(m["Bcc"], serde_json::json!([]));
    assert_eq!(
        m["ReplyTo"],
        serde_json::json!([{"Name": "", "Address": "replies@example.com"}])
    );
    assert_eq!(m["Subject"], "Your sign-in code");
    assert_eq!(m["Created"], "2023-11-14T22:15:00Z");
    assert_eq!(m["Tags"], serde_json::json!([]));
    assert_eq!(m["Size"], MIXED.len());
    assert!(m["Size"].is_number());
    // Inline image, PDF and the HTML attachment.
    assert_eq!(m["Attachments"], 3);
    assert!(
        m["Snippet"]
            .as_str()
            .unwrap()
            .starts_with("Your verification code is 482913.")
    );
    assert_eq!(m["Inbox"], "default");
}

#[tokio::test]
async fn paging_and_inbox_filter() {
    let e = env().await;
    let mut all = Vec::new();
    for i in 0..5 {
        let inbox = if i % 2 == 0 { "project-a" } else { "project-b" };
        all.push(
            file(
                &e.state,
                inbox,
                &simple(&format!("m{i}"), "a@b.c", "d@e.f", "x"),
                1_700_000_000 + i,
            )
            .await,
        );
    }
    all.reverse();
    let (_, v) = get_json(&e.state, "/api/v1/messages?start=1&limit=2").await;
    assert_eq!(v["total"], 5);
    assert_eq!(v["count"], 2);
    assert_eq!(v["start"], 1);
    assert_eq!(ids(&v), all[1..3]);
    let (_, v) = get_json(&e.state, "/api/v1/messages?inbox=project-a").await;
    assert_eq!(v["total"], 3);
    assert_eq!(ids(&v), ["project-a-3", "project-a-2", "project-a-1"]);
    // Names are normalised as the SMTP side does.
    let (_, v) = get_json(&e.state, "/api/v1/messages?inbox=Project-B").await;
    assert_eq!(ids(&v), ["project-b-2", "project-b-1"]);
    let (_, v) = get_json(&e.state, "/api/v1/messages?inbox=nobody").await;
    assert_eq!(v["total"], 0);
    assert_eq!(v["messages"], serde_json::json!([]));
    let (status, _) = get_json(&e.state, "/api/v1/messages?start=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn search_forms() {
    let e = env().await;
    let a = file(
        &e.state,
        "default",
        &simple(
            "Welcome aboard",
            "Shop <shop@example.com>",
            "Zed <zed@example.org>",
            "Thanks for joining the club",
        ),
        1,
    )
    .await;
    let b = file(
        &e.state,
        "other",
        &simple(
            "Invoice 7",
            "billing@example.net",
            "amy@example.org",
            "Pay soon",
        ),
        2,
    )
    .await;
    let search = |q: &str| {
        let state = e.state.clone();
        let uri = format!("/api/v1/search?query={q}");
        async move { ids(&get_json(&state, &uri).await.1) }
    };
    assert_eq!(search("subject:welcome").await, [a.as_str()]);
    assert_eq!(search("from:billing").await, [b.as_str()]);
    assert_eq!(search("from:Shop").await, [a.as_str()]);
    assert_eq!(search("to:amy").await, [b.as_str()]);
    assert_eq!(search("%22joining%20the%22").await, [a.as_str()]);
    assert_eq!(search("%22the%20joining%22").await, Vec::<String>::new());
    assert_eq!(search("pay").await, [b.as_str()]);
    assert_eq!(search("example").await, [b.as_str(), a.as_str()]);
    assert_eq!(search("-subject:invoice").await, [a.as_str()]);
    assert_eq!(search("is:unread%20pay").await, [b.as_str()]);
    let (_, v) = get_json(&e.state, "/api/v1/search?query=example&inbox=other").await;
    assert_eq!(ids(&v), [b.as_str()]);
    assert_eq!(v["total"], 1);
    let (_, v) = get_json(&e.state, "/api/v1/search?query=pay").await;
    assert_eq!(v["total"], 2);
    assert_eq!(v["messages_count"], 1);
    let long = "x".repeat(1025);
    let (status, v) = get_json(&e.state, &format!("/api/v1/search?query={long}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"].is_string());
}

#[tokio::test]
async fn message_detail_parts_headers_and_raw() {
    let e = env().await;
    let id = file(&e.state, "default", MIXED, 1_700_000_000).await;
    let (status, m) = get_json(&e.state, &format!("/api/v1/message/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(m["ID"], id);
    assert_eq!(m["MessageID"], "mixed@example.com");
    assert_eq!(m["Subject"], "Your sign-in code");
    assert_eq!(m["Date"], "2025-07-01T10:00:00Z");
    assert_eq!(m["From"]["Address"], "alice@example.com");
    assert_eq!(m["Cc"][0]["Name"], "Carol");
    assert_eq!(m["Bcc"], serde_json::json!([]));
    assert_eq!(m["ReplyTo"][0]["Address"], "replies@example.com");
    assert!(
        m["Text"]
            .as_str()
            .unwrap()
            .starts_with("Your verification code")
    );
    assert!(m["HTML"].as_str().unwrap().contains("<b>482913</b>"));
    assert_eq!(m["Size"], MIXED.len());
    assert_eq!(m["Tags"], serde_json::json!([]));
    assert_eq!(
        m["Inline"],
        serde_json::json!([{"PartID": "2", "FileName": "logo.png", "ContentType": "image/png",
            "ContentID": "logo@example.com", "Size": 8}])
    );
    assert_eq!(
        m["Attachments"],
        serde_json::json!([
            {"PartID": "3", "FileName": "doc.pdf", "ContentType": "application/pdf",
             "ContentID": "", "Size": 9},
            {"PartID": "4", "FileName": "evil.html", "ContentType": "text/html",
             "ContentID": "", "Size": 25},
        ])
    );
    assert_eq!(m["Inbox"], "default");
    assert_eq!(m["Codes"], serde_json::json!(["482913"]));
    assert_eq!(
        m["Links"],
        serde_json::json!([
            "https://app.example.com/confirm?t=abc",
            "https://app.example.com/confirm?t=abc&h=1"
        ])
    );
    // Opening it marked it read.
    assert_eq!(m["Read"], true);
    let (_, v) = get_json(&e.state, "/api/v1/messages").await;
    assert_eq!(v["messages"][0]["Read"], true);
    assert_eq!(v["unread"], 0);
    // `latest`.
    let (_, l) = get_json(&e.state, "/api/v1/message/latest").await;
    assert_eq!(l["ID"], id);

    // Parts, decoded, with their type.
    let (status, h, body) = call(
        &e.state,
        Method::GET,
        &format!("/api/v1/message/{id}/part/3"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(body, b"%PDF-1.4\n");
    let (_, h, body) = call(
        &e.state,
        Method::GET,
        &format!("/api/v1/message/{id}/part/1.1"),
        None,
    )
    .await;
    assert_eq!(h[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert!(body.starts_with(b"Your verification"));
    // HTML is a download in a sandbox, never a page of this origin.
    let (_, h, _) = call(
        &e.state,
        Method::GET,
        &format!("/api/v1/message/{id}/part/4"),
        None,
    )
    .await;
    assert!(
        h[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(
        h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    for bad in ["1", "9", "0", "1..1", "x", "01"] {
        let (status, _, _) = call(
            &e.state,
            Method::GET,
            &format!("/api/v1/message/{id}/part/{bad}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }

    let (status, h, body) = call(
        &e.state,
        Method::GET,
        &format!("/api/v1/message/{id}/raw"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(body, MIXED.as_bytes());

    let (status, hv) = get_json(&e.state, &format!("/api/v1/message/{id}/headers")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hv["Subject"], serde_json::json!(["Your sign-in code"]));
    assert_eq!(hv["Message-ID"], serde_json::json!(["<mixed@example.com>"]));
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let e = env().await;
    file(&e.state, "default", &simple("s", "a@b.c", "d@e.f", "x"), 1).await;
    for id in [
        "default-2",
        "nobody-1",
        "default-0",
        "default-x",
        "default",
        "DEFAULT-1",
    ] {
        for suffix in ["", "/raw", "/headers", "/part/1"] {
            let (status, v) = get_json(&e.state, &format!("/api/v1/message/{id}{suffix}")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{id}{suffix}");
            assert!(v["error"].is_string());
        }
    }
    let empty = env().await;
    let (status, _) = get_json(&empty.state, "/api/v1/message/latest").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_some_then_all_and_mark_read() {
    let e = env().await;
    let mut made = Vec::new();
    for (i, inbox) in ["a", "a", "b", "b"].iter().enumerate() {
        made.push(
            file(
                &e.state,
                inbox,
                &simple("s", "a@b.c", "d@e.f", "x"),
                i as i64,
            )
            .await,
        );
    }
    let body = format!(r#"{{"IDs": ["{}", "nobody-9", "junk"]}}"#, made[0]);
    let (status, _, text) = call(&e.state, Method::DELETE, "/api/v1/messages", Some(&body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, b"ok");
    let (_, v) = get_json(&e.state, "/api/v1/messages").await;
    assert_eq!(v["total"], 3);
    // The server hears of it (its lists refresh, its cap count is re-read).
    assert_eq!(e.deletions.load(std::sync::atomic::Ordering::SeqCst), 1);

    let body = format!(r#"{{"IDs": ["{}"], "Read": true}}"#, made[2]);
    let (status, _, _) = call(&e.state, Method::PUT, "/api/v1/messages", Some(&body)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, v) = get_json(&e.state, "/api/v1/messages").await;
    assert_eq!(v["unread"], 2);
    let (_, _, _) = call(
        &e.state,
        Method::PUT,
        "/api/v1/messages",
        Some(r#"{"Read": true}"#),
    )
    .await;
    let (_, v) = get_json(&e.state, "/api/v1/messages").await;
    assert_eq!(v["unread"], 0);

    // Everything in one inbox, then everything.
    let (status, _, _) = call(&e.state, Method::DELETE, "/api/v1/messages?inbox=b", None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, v) = get_json(&e.state, "/api/v1/messages").await;
    assert_eq!(ids(&v), [made[1].as_str()]);
    let (status, _, _) = call(
        &e.state,
        Method::DELETE,
        "/api/v1/messages",
        Some(r#"{"IDs": []}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, v) = get_json(&e.state, "/api/v1/messages").await;
    assert_eq!(v["total"], 0);
    let (status, _, _) = call(&e.state, Method::DELETE, "/api/v1/messages", Some("{nope")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn wait_returns_a_message_that_arrives_after_the_request() {
    let e = env().await;
    // Already there: does not count with since=now.
    file(
        &e.state,
        "default",
        &simple("Reset password", "a@b.c", "d@e.f", "old"),
        1,
    )
    .await;
    let state = e.state.clone();
    let events = e.events.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        file(
            &state,
            "other",
            &simple("Reset password", "a@b.c", "d@e.f", "wrong inbox"),
            2,
        )
        .await;
        events.send_modify(|n| *n += 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        file(
            &state,
            "default",
            &simple("Hello", "a@b.c", "d@e.f", "no match"),
            3,
        )
        .await;
        events.send_modify(|n| *n += 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        file(
            &state,
            "default",
            &simple(
                "Reset password",
                "a@b.c",
                "d@e.f",
                "Your code is 7731. https://x.example/r",
            ),
            4,
        )
        .await;
        events.send_modify(|n| *n += 1);
    });
    let started = std::time::Instant::now();
    let (status, v) = get_json(
        &e.state,
        "/api/v1/wait?query=subject:reset&timeout=10&inbox=default&since=now",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(v["ID"], "default-3");
    assert_eq!(v["Subject"], "Reset password");
    assert_eq!(v["Codes"], serde_json::json!(["7731"]));
    assert_eq!(v["Links"], serde_json::json!(["https://x.example/r"]));
    assert_eq!(v["Inbox"], "default");
}

#[tokio::test]
async fn wait_times_out_with_408() {
    let e = env().await;
    file(
        &e.state,
        "default",
        &simple("Match", "a@b.c", "d@e.f", "x"),
        1,
    )
    .await;
    let started = std::time::Instant::now();
    let (status, v) = get_json(&e.state, "/api/v1/wait?query=match&timeout=1&since=now").await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert!(v["error"].is_string());
    assert!(started.elapsed() >= Duration::from_secs(1));
    // A message in a new inbox (made after the request began) counts.
    let state = e.state.clone();
    let events = e.events.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        file(&state, "fresh", &simple("Match", "a@b.c", "d@e.f", "x"), 2).await;
        events.send_modify(|n| *n += 1);
    });
    let (status, v) = get_json(&e.state, "/api/v1/wait?query=match&timeout=5&since=now").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["ID"], "fresh-1");
}

/// The usual test: the app sends, then the test waits. Without `since`, a match
/// already there is the answer at once; `since=T` counts only what arrived from T on.
#[tokio::test]
async fn wait_finds_a_message_already_there_unless_told_since() {
    let e = env().await;
    file(
        &e.state,
        "default",
        &simple("Welcome", "a@b.c", "d@e.f", "x"),
        1_700_000_000,
    )
    .await;
    let started = std::time::Instant::now();
    let (status, v) = get_json(&e.state, "/api/v1/wait?query=welcome&timeout=10").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["ID"], "default-1");
    assert!(started.elapsed() < Duration::from_secs(2), "at once");
    for since in ["1700000001", "2023-11-14T22:13:21Z"] {
        let uri = format!("/api/v1/wait?query=welcome&timeout=1&since={since}");
        let (status, _) = get_json(&e.state, &uri).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{since}");
    }
    let (status, v) = get_json(&e.state, "/api/v1/wait?query=welcome&since=1700000000").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = get_json(&e.state, "/api/v1/wait?query=welcome&since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn release_needs_a_smarthost() {
    let e = env().await;
    let id = file(&e.state, "default", MIXED, 1).await;
    let (status, _, body) = call(
        &e.state,
        Method::POST,
        &format!("/api/v1/message/{id}/release"),
        Some(r#"{"To": ["someone@example.net"]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"], "release needs relay.smarthost");

    let mut config = config::Config::default();
    config.relay.smarthost = Some("smtp.example.net:587".into());
    let e = env_with(config).await;
    let id = file(
        &e.state,
        "default",
        &format!("Return-Path: <x@y.z>\r\n{MIXED}"),
        1,
    )
    .await;
    let uri = format!("/api/v1/message/{id}/release");
    let (status, _, _) = call(
        &e.state,
        Method::POST,
        &uri,
        Some(r#"{"To": ["not an address"]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = call(&e.state, Method::POST, &uri, Some(r#"{"To": []}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = call(
        &e.state,
        Method::POST,
        "/api/v1/message/default-99/release",
        Some(r#"{"To": ["someone@example.net"]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = call(
        &e.state,
        Method::POST,
        &uri,
        Some(r#"{"To": ["someone@example.net"]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let queued = e.state.store.queue_due(i64::MAX, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].envelope.recipients[0].to_string(),
        "someone@example.net"
    );
    assert_eq!(
        queued[0].envelope.sender.as_ref().unwrap().to_string(),
        "alice@example.com"
    );
}

/// A wait always ends with an answer (200 or 408) before the connection deadline
/// would cut it off.
#[test]
fn the_longest_wait_ends_before_the_connection_deadline() {
    assert!(crate::capture::api::MAX_WAIT < crate::serve::CONNECTION_DEADLINE);
}
