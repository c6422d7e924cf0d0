//! The capture UI through the router (`oneshot`, no sockets): the list and its inbox
//! switcher, escaping, the sandboxed HTML and its CSP, the CSRF token on the forms,
//! the event stream.

use super::{HTML_CSP, HTML_CSP_REMOTE, PAGE_CSP, csrf_token};
use crate::capture::CaptureHooks;
use crate::testing::state;
use crate::{WebState, router};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use message::capture::{capture_domain, inbox_address};
use std::time::Duration;
use tokio::sync::watch;
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A capture-mode state and the sender of its event counter.
async fn capture_state() -> (WebState, watch::Sender<u64>) {
    let mut state = state().await;
    let (tx, rx) = watch::channel(0u64);
    state.capture = Some(CaptureHooks {
        events: rx,
        deleted: std::sync::Arc::new(|| {}),
    });
    state.store.domain_add(&capture_domain()).await.unwrap();
    (state, tx)
}

/// Files `raw` into inbox `inbox` (made on first use).
async fn file(state: &WebState, inbox: &str, raw: &str) {
    let address = inbox_address(inbox);
    let account = match state.store.account_get(&address).await.unwrap() {
        Some(a) => a.id,
        None => state
            .store
            .account_add(&address, &store::password::hash("x").unwrap())
            .await
            .unwrap(),
    };
    let inbox = state
        .store
        .mailbox_get(account, "INBOX")
        .await
        .unwrap()
        .unwrap();
    let raw = raw.replace('\n', "\r\n");
    state
        .store
        .message_append(inbox.id, raw.as_bytes(), &[], 1_780_000_000)
        .await
        .unwrap();
}

async fn send(state: &WebState, request: Request<Body>) -> Answer {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// The ids of the messages the list page links to, in order.
fn ids(page: &str) -> Vec<String> {
    page.split("href=\"/view/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|s| !s.contains('/') && !s.contains('?'))
        .map(str::to_owned)
        .collect()
}

const PLAIN: &str = "From: Ann <ann@app.test>\nTo: bob@example.com\nSubject: Welcome aboard\n\
Date: Sat, 05 Dec 2026 10:00:00 +0000\n\nHello Bob, your code is 123456.\n";

const HTML_MAIL: &str = "From: shop@app.test\nTo: bob@example.com\nSubject: Your receipt\n\
MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b1\n\n--b1\n\
Content-Type: text/plain; charset=utf-8\n\nThe receipt in text.\n--b1\n\
Content-Type: text/html; charset=utf-8\n\n<html><body><p id=x>Receipt HTML</p>\
<script>document.body.innerHTML='PWNED'</script><img src=\"http://127.0.0.9/x.png\"></body></html>\n\
--b1--\n";

const XSS: &str = "From: \"<script>alert(1)</script>\" <evil@app.test>\nTo: bob@example.com\n\
Subject: <img src=x onerror=alert(2)>\n\nbody <b>bold</b>\n";

#[tokio::test]
async fn list_shows_messages_and_the_inbox_switcher() {
    let (state, _tx) = capture_state().await;
    file(&state, "default", PLAIN).await;
    file(&state, "project-a", HTML_MAIL).await;
    let a = send(&state, get("/")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.header(header::CONTENT_SECURITY_POLICY), PAGE_CSP);
    assert!(a.body.contains("Welcome aboard"), "{}", a.body);
    assert!(a.body.contains("Your receipt"));
    assert!(a.body.contains("ann@app.test"));
    assert!(a.body.contains("href=\"/?inbox=default\""), "{}", a.body);
    assert!(a.body.contains("href=\"/?inbox=project-a\""));
    assert!(a.body.contains("<script src=\"/static/capture.js\""));
    assert_eq!(ids(&a.body).len(), 2, "{}", a.body);
    // One inbox only.
    let a = send(&state, get("/?inbox=project-a")).await;
    assert!(a.body.contains("Your receipt"));
    assert!(!a.body.contains("Welcome aboard"));
    // The delete-all form names the inbox and carries the token.
    assert!(a.body.contains("action=\"/delete-all\""));
    assert!(a.body.contains(&format!("value=\"{}\"", csrf_token())));
    // The static assets.
    let js = send(&state, get("/static/capture.js")).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.contains("EventSource"));
    assert!(
        js.header(header::CONTENT_TYPE)
            .starts_with("text/javascript")
    );
    let css = send(&state, get("/static/capture.css")).await;
    assert_eq!(css.status, StatusCode::OK);
}

#[tokio::test]
async fn search_finds_by_subject() {
    let (state, _tx) = capture_state().await;
    file(&state, "default", PLAIN).await;
    file(&state, "default", HTML_MAIL).await;
    let a = send(&state, get("/?query=subject%3Areceipt")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Your receipt"), "{}", a.body);
    assert!(!a.body.contains("Welcome aboard"));
    assert!(a.body.contains("value=\"subject:receipt\""));
}

#[tokio::test]
async fn strangers_text_is_escaped() {
    let (state, _tx) = capture_state().await;
    file(&state, "default", XSS).await;
    let a = send(&state, get("/")).await;
    assert!(!a.body.contains("<script>alert"), "{}", a.body);
    assert!(!a.body.contains("<img src=x"), "{}", a.body);
    assert!(
        a.body.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{}",
        a.body
    );
    let id = ids(&a.body).remove(0);
    for tab in ["", "?tab=text", "?tab=headers", "?tab=raw", "?tab=mime"] {
        let v = send(&state, get(&format!("/view/{id}{tab}"))).await;
        assert_eq!(v.status, StatusCode::OK, "{tab}: {}", v.body);
        assert!(!v.body.contains("<script>alert"), "{tab}: {}", v.body);
        assert!(!v.body.contains("<img src=x"), "{tab}: {}", v.body);
        assert!(!v.body.contains("<b>bold"), "{tab}: {}", v.body);
    }
}

#[tokio::test]
async fn html_is_sandboxed_with_a_strict_csp() {
    let (state, _tx) = capture_state().await;
    file(&state, "default", HTML_MAIL).await;
    let id = ids(&send(&state, get("/")).await.body).remove(0);
    let v = send(&state, get(&format!("/view/{id}"))).await;
    assert_eq!(v.status, StatusCode::OK);
    assert!(
        v.body.contains(&format!(
            "sandbox=\"\" title=\"The message's HTML\" src=\"/view/{id}/html\""
        )),
        "{}",
        v.body
    );
    assert!(!v.body.contains("allow-scripts"));
    assert!(
        !v.body.contains("Receipt HTML"),
        "the HTML is never in our page"
    );
    assert!(
        v.body
            .contains(&format!("/view/{id}?tab=html&amp;remote=1"))
    );
    let h = send(&state, get(&format!("/view/{id}/html"))).await;
    assert_eq!(h.status, StatusCode::OK);
    assert!(h.header(header::CONTENT_TYPE).starts_with("text/html"));
    assert!(h.body.contains("Receipt HTML"));
    assert_eq!(h.header(header::CONTENT_SECURITY_POLICY), HTML_CSP);
    assert!(!HTML_CSP.contains("http"));
    assert!(!HTML_CSP.contains("script-src"));
    assert_eq!(h.header(header::X_FRAME_OPTIONS), "SAMEORIGIN");
    let r = send(&state, get(&format!("/view/{id}/html?remote=1"))).await;
    assert_eq!(r.header(header::CONTENT_SECURITY_POLICY), HTML_CSP_REMOTE);
    assert!(HTML_CSP_REMOTE.contains("img-src data: cid: https: http:"));
    // The other tabs.
    let t = send(&state, get(&format!("/view/{id}?tab=text"))).await;
    assert!(t.body.contains("The receipt in text."), "{}", t.body);
    let m = send(&state, get(&format!("/view/{id}?tab=mime"))).await;
    assert!(m.body.contains("multipart/alternative"), "{}", m.body);
    assert!(m.body.contains("text/html"));
    // No HTML part: 404 on the endpoint.
    file(&state, "default", PLAIN).await;
    let plain = ids(&send(&state, get("/")).await.body).remove(0);
    assert_ne!(plain, id);
    let n = send(&state, get(&format!("/view/{plain}/html"))).await;
    assert_eq!(n.status, StatusCode::NOT_FOUND);
    // An unknown message.
    let n = send(&state, get("/view/no-such-id")).await;
    assert_eq!(n.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn attachments_link_to_the_part_url() {
    let (state, _tx) = capture_state().await;
    let raw = "From: a@app.test\nTo: b@example.com\nSubject: With file\nMIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain\n\nSee the file.\n\
--m\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"report.pdf\"\n\
Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--m--\n";
    file(&state, "default", raw).await;
    let list = send(&state, get("/")).await.body;
    let id = ids(&list).remove(0);
    let v = send(&state, get(&format!("/view/{id}?tab=attachments"))).await;
    assert!(v.body.contains("report.pdf"), "{}", v.body);
    assert!(
        v.body.contains(&format!("/api/v1/message/{id}/part/2")),
        "{}",
        v.body
    );
}

#[tokio::test]
async fn deleting_needs_the_token() {
    let (state, _tx) = capture_state().await;
    file(&state, "default", PLAIN).await;
    file(&state, "default", HTML_MAIL).await;
    file(&state, "other", PLAIN).await;
    let list = send(&state, get("/?inbox=default")).await.body;
    let id = ids(&list).remove(0);
    // Without the token, or with a wrong one: 403, nothing deleted.
    let a = send(&state, post(&format!("/view/{id}/delete"), "")).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = send(&state, post(&format!("/view/{id}/delete"), "csrf=0000")).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = send(&state, post("/delete-all", "inbox=")).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(ids(&send(&state, get("/")).await.body).len(), 3);
    // With it: one.
    let token = format!("csrf={}", csrf_token());
    let a = send(&state, post(&format!("/view/{id}/delete"), &token)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let left = ids(&send(&state, get("/")).await.body);
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&id));
    // All of one inbox.
    let a = send(
        &state,
        post("/delete-all", &format!("{token}&inbox=default")),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.header(header::LOCATION), "/?inbox=default");
    let left = send(&state, get("/")).await.body;
    assert_eq!(ids(&left).len(), 1, "{left}");
    // Everything.
    let a = send(&state, post("/delete-all", &format!("{token}&inbox="))).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(ids(&send(&state, get("/")).await.body).is_empty());
}

/// The next data frame of an event stream, as text (5 s at most).
async fn next_frame(body: &mut Body) -> String {
    let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("an event within 5 s")
        .expect("the stream goes on")
        .unwrap();
    String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap()
}

#[tokio::test]
async fn events_stream_yields_a_change() {
    let (state, tx) = capture_state().await;
    tx.send_replace(7);
    let response = router(state.clone()).oneshot(get("/events")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = response.into_body();
    // The counter as it is on connecting.
    let first = next_frame(&mut body).await;
    assert!(first.contains("event: change\n"), "{first}");
    assert!(first.contains("data: 7\n"), "{first}");
    // Then each change.
    tx.send_replace(8);
    let second = next_frame(&mut body).await;
    assert!(second.contains("event: change\ndata: 8\n"), "{second}");
}

#[tokio::test(start_paused = true)]
async fn events_stream_ends_before_the_connection_deadline() {
    let (state, _tx) = capture_state().await;
    let response = router(state.clone()).oneshot(get("/events")).await.unwrap();
    let body = response.into_body().collect();
    // Paused time: the keep-alives and the lifetime pass at once.
    let collected = tokio::time::timeout(super::EVENTS_LIFETIME + Duration::from_secs(1), body)
        .await
        .expect("the stream ends by itself")
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(collected.to_vec()).unwrap();
    assert!(text.contains("data: 0"));
    assert!(text.contains("\n:"), "keep-alive comments: {text}");
    assert!(super::EVENTS_LIFETIME < crate::serve::CONNECTION_DEADLINE);
}

#[tokio::test]
async fn the_list_pages() {
    let (state, _tx) = capture_state().await;
    for n in 0..super::PAGE_SIZE + 2 {
        let raw = format!("From: a@app.test\nTo: b@example.com\nSubject: Number {n}\n\nHi.\n");
        file(&state, "default", &raw).await;
    }
    let first = send(&state, get("/?inbox=default")).await.body;
    assert_eq!(ids(&first).len(), super::PAGE_SIZE);
    assert!(
        first.contains(&format!(
            "href=\"/?inbox=default&amp;start={}\"",
            super::PAGE_SIZE
        )),
        "{first}"
    );
    assert!(!first.contains("Newer"));
    let second = send(
        &state,
        get(&format!("/?inbox=default&start={}", super::PAGE_SIZE)),
    )
    .await
    .body;
    assert_eq!(ids(&second).len(), 2, "{second}");
    assert!(second.contains("Newer"));
    assert!(!second.contains("Older"));
    let n = super::PAGE_SIZE;
    assert!(second.contains(&format!("{}–{} of {}", n + 1, n + 2, n + 2)));
}

/// DNS rebinding: a page of another site whose name resolves to 127.0.0.1 must not
/// reach the capture UI or API through the browser; only this machine's names do.
#[tokio::test]
async fn only_requests_naming_this_machine_are_served() {
    let (state, _tx) = capture_state().await;
    file(&state, "default", "Subject: kept\n\nbody\n").await;
    for path in ["/", "/api/v1/messages"] {
        for (host, want) in [
            ("evil.example:8025", StatusCode::FORBIDDEN),
            ("127.0.0.1:8025", StatusCode::OK),
            ("localhost:8025", StatusCode::OK),
        ] {
            let request = Request::get(path)
                .header(header::HOST, host)
                .body(Body::empty())
                .unwrap();
            let a = send(&state, request).await;
            assert_eq!(a.status, want, "{path} with Host {host}");
        }
    }
    // Nothing was deleted by a refused request either.
    let request = Request::delete("/api/v1/messages")
        .header(header::HOST, "evil.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, request).await.status, StatusCode::FORBIDDEN);
    let a = send(&state, Request::get("/").body(Body::empty()).unwrap()).await;
    assert!(a.body.contains("kept"));
}
