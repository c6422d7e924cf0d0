//! The routes through the router with `tower::ServiceExt::oneshot`: no sockets.

use crate::{WebState, autodiscover, router, xml};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::testing::{state, state_with};

/// Status, headers and body of one request.
async fn send(
    state: WebState,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = router(state).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "text/xml")
        .body(body.into())
        .unwrap()
}

fn assert_security_headers(h: &axum::http::HeaderMap) {
    assert_eq!(h["content-security-policy"], crate::CSP);
    assert!(crate::CSP.starts_with("default-src 'none'; "));
    assert!(!crate::CSP.contains("script-src"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn healthz_is_ok_with_the_headers() {
    let (status, h, body) = send(state().await, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.trim(), "ok");
    assert_security_headers(&h);
    let (status, h, _) = send(state().await, get("/nothing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_security_headers(&h);
}

#[tokio::test]
async fn metrics_are_the_renderers_text() {
    let (status, h, body) = send(state().await, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["content-type"], "text/plain; version=0.0.4");
    assert_eq!(body, "postie_up 1\n");
}

#[tokio::test]
async fn autoconfig_names_every_server() {
    for path in [
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        "/mail/config-v1.1.xml",
    ] {
        let uri = format!("{path}?emailaddress=alice%40Example.ORG");
        let (status, h, body) = send(state().await, get(&uri)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_security_headers(&h);
        assert!(
            h["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/xml")
        );
        assert!(
            body.contains("<emailProvider id=\"example.org\">"),
            "{body}"
        );
        assert!(body.contains("<domain>example.org</domain>"));
        for (kind, port) in [("imap", 1993), ("pop3", 1995), ("smtp", 1465)] {
            let at = body.find(&format!("type=\"{kind}\"")).expect(kind);
            let part = &body[at..];
            let part = &part[..part.find("Server>").unwrap()];
            assert!(
                part.contains("<hostname>mail.example.net</hostname>"),
                "{part}"
            );
            assert!(part.contains(&format!("<port>{port}</port>")), "{part}");
            assert!(part.contains("<socketType>SSL</socketType>"));
            assert!(part.contains("<username>%EMAILADDRESS%</username>"));
            assert!(part.contains("<authentication>password-cleartext</authentication>"));
        }
        assert!(body.contains("<outgoingServer type=\"smtp\">"));
    }
}

#[tokio::test]
async fn autoconfig_overrides_win_and_unknown_domains_are_404() {
    let mut config = config::Config {
        hostname: "mail.example.net".into(),
        ..config::Config::default()
    };
    config.autoconfig.imaps_port = Some(993);
    let state = state_with(config).await;
    let (_, _, body) = send(
        state.clone(),
        get("/mail/config-v1.1.xml?emailaddress=a@example.org"),
    )
    .await;
    assert!(body.contains("<port>993</port>") && body.contains("<port>1995</port>"));
    let (status, h, _) = send(
        state.clone(),
        get("/mail/config-v1.1.xml?emailaddress=a@other.example"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_security_headers(&h);
    for bad in ["", "?emailaddress=nobody", "?emailaddress=a@b@", "?x=1"] {
        let (status, _, _) = send(state.clone(), get(&format!("/mail/config-v1.1.xml{bad}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn everything_written_is_escaped() {
    let config = config::Config {
        hostname: "mail<&>\"'.example".into(),
        ..config::Config::default()
    };
    let state = state_with(config).await;
    let (status, _, body) = send(
        state.clone(),
        get("/mail/config-v1.1.xml?emailaddress=a@example.org"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<hostname>mail&lt;&amp;&gt;&quot;&apos;.example</hostname>"));
    // A quoted local part may hold XML's special characters: the login name is escaped.
    let request = request_for("&quot;x&lt;/LoginName&gt;&amp;&quot;@example.org");
    let (status, _, body) = send(state, post("/autodiscover/autodiscover.xml", request)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("<LoginName>&quot;x&lt;/LoginName&gt;&amp;&quot;@example.org</LoginName>"),
        "{body}"
    );
    assert_eq!(xml::escape("a\u{1}b"), "ab");
}

fn request_for(address: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\n\
         <Request><EMailAddress>{address}</EMailAddress>\n\
         <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\n\
         </Request></Autodiscover>\n"
    )
}

#[tokio::test]
async fn autodiscover_answers_both_paths() {
    for path in [
        "/autodiscover/autodiscover.xml",
        "/Autodiscover/Autodiscover.xml",
    ] {
        let (status, h, body) =
            send(state().await, post(path, request_for("bob@example.org"))).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_security_headers(&h);
        for (kind, port) in [("IMAP", 1993), ("POP3", 1995), ("SMTP", 1465)] {
            let at = body.find(&format!("<Type>{kind}</Type>")).expect(kind);
            let part = &body[at..];
            let part = &part[..part.find("</Protocol>").unwrap()];
            assert!(part.contains("<Server>mail.example.net</Server>"));
            assert!(part.contains(&format!("<Port>{port}</Port>")));
            assert!(part.contains("<SSL>on</SSL>"));
            assert!(part.contains("<LoginName>bob@example.org</LoginName>"));
        }
    }
}

#[tokio::test]
async fn autodiscover_refuses_bad_and_oversized_bodies() {
    let path = "/autodiscover/autodiscover.xml";
    for bad in [
        String::new(),
        "<Autodiscover/>".to_string(),
        "<EMailAddress></EMailAddress>".to_string(),
        "<EMailAddress>not-an-address</EMailAddress>".to_string(),
        "<EMailAddress>a@example.org".to_string(),
        "<!DOCTYPE x [<!ENTITY e \"a@example.org\">]><EMailAddress>&e;</EMailAddress>".to_string(),
        "<EMailAddress>a&bogus;@example.org</EMailAddress>".to_string(),
    ] {
        let (status, _, _) = send(state().await, post(path, bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (status, _, _) = send(state().await, post(path, vec![0xff, 0xfe])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let huge = format!(
        "{}{}",
        " ".repeat(autodiscover::MAX_BODY),
        request_for("a@example.org")
    );
    let (status, h, _) = send(state().await, post(path, huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_security_headers(&h);
    let (status, _, _) = send(state().await, post(path, request_for("a@other.example"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(state().await, get(path)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn the_address_parser_is_flat_and_bounded() {
    let cases: &[(&str, Option<&str>)] = &[
        (
            "<EMailAddress>a@b.example</EMailAddress>",
            Some("a@b.example"),
        ),
        (
            "<a:EMailAddress xmlns:a=\"x\"> a@b.example </a:EMailAddress>",
            Some("a@b.example"),
        ),
        (
            "<Request><LegacyDN>x</LegacyDN><EMailAddress>a&amp;b@c.example</EMailAddress>",
            Some("a&b@c.example"),
        ),
        (
            "<EMailAddress/><EMailAddress>z@c.example</EMailAddress>",
            Some("z@c.example"),
        ),
        ("<EMailAddressX>a@b.example</EMailAddressX>", None),
        ("<EMailAddress>a@b.example", None),
        ("<<<<<<<<", None),
        ("", None),
    ];
    for (input, want) in cases {
        assert_eq!(
            autodiscover::email_address(input).as_deref(),
            *want,
            "{input}"
        );
    }
    let long = format!("<EMailAddress>{}@b.example</EMailAddress>", "a".repeat(300));
    assert_eq!(autodiscover::email_address(&long), None);
    // Deep nesting costs a linear scan, nothing more.
    let deep = format!(
        "{}<EMailAddress>a@b.example</EMailAddress>",
        "<x>".repeat(5000)
    );
    assert_eq!(
        autodiscover::email_address(&deep).as_deref(),
        Some("a@b.example")
    );
}

#[test]
fn unescape_resolves_only_what_xml_predefines() {
    assert_eq!(xml::unescape("a&lt;b&#x41;&#66;").as_deref(), Some("a<bAB"));
    assert_eq!(xml::unescape("&amp;lt;").as_deref(), Some("&lt;"));
    assert_eq!(xml::unescape("&x;"), None);
    assert_eq!(xml::unescape("&amp"), None);
}

/// Hostile connections on [`crate::serve::connection`], over an in-memory pipe with
/// tokio's clock paused (it advances by itself whenever everything waits).
mod connection_bounds {
    use super::state;
    use crate::serve::{CONNECTION_DEADLINE, HEADER_READ_TIMEOUT, MAX_HEAD, connection};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::Instant;

    /// Everything the server writes until it closes the connection.
    async fn read_to_close(client: &mut tokio::io::DuplexStream) -> String {
        let mut out = Vec::new();
        let _ = client.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_that_never_ends_is_cut_off_at_the_header_deadline() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let served = tokio::spawn(connection(
            server,
            crate::router(state().await),
            crate::testing::conn(),
            stop,
        ));
        let start = Instant::now();
        client
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: ")
            .await
            .unwrap();
        let answer = read_to_close(&mut client).await;
        let waited = start.elapsed();
        assert!(!answer.contains("200 OK"), "{answer}");
        assert!(waited >= HEADER_READ_TIMEOUT, "closed after {waited:?}");
        assert!(waited < CONNECTION_DEADLINE, "closed after {waited:?}");
        served.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_past_the_cap_is_refused_without_buffering_it() {
        let (mut client, server) = tokio::io::duplex(256 * 1024);
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let served = tokio::spawn(connection(
            server,
            crate::router(state().await),
            crate::testing::conn(),
            stop,
        ));
        let mut head = b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', 4 * MAX_HEAD));
        // The server may stop reading (and close) before all of it is written.
        let _ = client.write_all(&head).await;
        let answer = read_to_close(&mut client).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
        served.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alive_ends_at_the_connection_deadline() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let served = tokio::spawn(connection(
            server,
            crate::router(state().await),
            crate::testing::conn(),
            stop,
        ));
        let start = Instant::now();
        // A request every few seconds, never idle long enough for the header
        // deadline: only the connection deadline ends it.
        let mut answered = 0;
        let mut buf = vec![0u8; 4096];
        loop {
            if client
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                .await
                .is_err()
            {
                break;
            }
            match client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => answered += 1,
            }
            tokio::time::sleep(HEADER_READ_TIMEOUT / 2).await;
            assert!(start.elapsed() < CONNECTION_DEADLINE * 2, "never cut off");
        }
        let lasted = start.elapsed();
        assert!(answered > 1, "{answered}");
        assert!(lasted >= CONNECTION_DEADLINE, "{lasted:?}");
        assert!(
            lasted < CONNECTION_DEADLINE + HEADER_READ_TIMEOUT,
            "{lasted:?}"
        );
        served.await.unwrap();
    }
}

#[tokio::test]
async fn acme_http01_answers_a_pending_token_only() {
    let s = state().await;
    let token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    let path = format!("/.well-known/acme-challenge/{token}");
    let (status, _, _) = send(s.clone(), get(&path)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    s.store
        .value_put(
            &crate::acme_challenge::store_key(token),
            b"TOKEN.thumbprint",
        )
        .await
        .unwrap();
    let (status, headers, body) = send(s.clone(), get(&path)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(body, "TOKEN.thumbprint");
    // Not a way into other store values.
    s.store.value_put("acme/account", b"secret").await.unwrap();
    let (status, _, body) = send(s, get("/.well-known/acme-challenge/..%2Faccount")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("secret"));
}
