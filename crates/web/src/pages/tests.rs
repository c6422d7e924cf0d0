//! The sign-in flow and the account pages through the router (`oneshot`, no sockets).

use crate::principal::ConnInfo;
use crate::session::{COOKIE, LOGIN_CSRF_COOKIE, cookie_value};
use crate::testing::{add_account, conn, state};
use crate::{WebState, router};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use message::Address;
use tower::ServiceExt;

const ALICE: &str = "alice@example.org";
const BOB: &str = "bob@example.org";
const PW: &str = "correct horse";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `Set-Cookie` header that sets `name`.
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The value `Set-Cookie` gives `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        let c = self.set_cookie(name)?;
        cookie_value(c.split(';').next()?, name).map(str::to_owned)
    }
}

async fn send(state: &WebState, request: Request<Body>) -> Answer {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::get(uri).header(header::HOST, "mail.example.net");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.extension(conn()).body(Body::empty()).unwrap()
}

fn post(uri: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Request<Body> {
    post_on(uri, cookie, fields, conn())
}

fn post_on(uri: &str, cookie: Option<&str>, fields: &[(&str, &str)], c: ConnInfo) -> Request<Body> {
    let mut r = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "mail.example.net");
    if let Some(cookie) = cookie {
        r = r.header(header::COOKIE, cookie);
    }
    r.extension(c).body(Body::from(form_body(fields))).unwrap()
}

/// The login form's double-submit token (field and cookie).
async fn login_token(state: &WebState) -> String {
    let a = send(state, get("/login", None)).await;
    assert_eq!(a.status, StatusCode::OK);
    let token = a.cookie(LOGIN_CSRF_COOKIE).expect("login csrf cookie");
    assert!(a.body.contains(&format!("value=\"{token}\"")), "{}", a.body);
    token
}

/// Signs in; the whole answer of `POST /login`.
async fn sign_in_on(state: &WebState, address: &str, password: &str, c: ConnInfo) -> Answer {
    let token = login_token(state).await;
    let cookie = format!("{LOGIN_CSRF_COOKIE}={token}");
    let fields = [
        ("csrf", token.as_str()),
        ("address", address),
        ("password", password),
    ];
    send(state, post_on("/login", Some(&cookie), &fields, c)).await
}

/// Signs in: the `Cookie` header value of the session, and its CSRF token.
async fn session(state: &WebState, address: &str, password: &str) -> (String, String) {
    let a = sign_in_on(state, address, password, conn()).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id = a.cookie(COOKIE).expect("session cookie");
    let csrf = state.sessions.get(&id).expect("live").csrf;
    (format!("{COOKIE}={id}"), csrf)
}

async fn with_alice() -> WebState {
    let state = state().await;
    add_account(&state, ALICE, PW, false).await;
    state
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_goes_to_the_right_page() {
    let state = with_alice().await;
    add_account(&state, "root@example.org", PW, true).await;

    let a = sign_in_on(&state, "Alice@Example.org", PW, conn()).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), "/account");
    let c = a.set_cookie(COOKIE).unwrap();
    assert!(c.contains("; HttpOnly"), "{c}");
    assert!(c.contains("; SameSite=Strict"), "{c}");
    assert!(c.contains("; Path=/"), "{c}");
    assert!(!c.contains("Secure"), "plain http: {c}");
    let cleared = a.set_cookie(LOGIN_CSRF_COOKIE).unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let id = a.cookie(COOKIE).unwrap();
    assert_eq!(state.sessions.get(&id).unwrap().address, ALICE);

    let secure = ConnInfo {
        secure: true,
        ..conn()
    };
    let a = sign_in_on(&state, "root@example.org", PW, secure).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(
        a.location(),
        "/admin",
        "an administrator goes to the dashboard"
    );
    let c = a.set_cookie(COOKIE).unwrap();
    assert!(c.ends_with("; Secure") && c.contains("HttpOnly"), "{c}");

    // The home page follows the session.
    let cookie = format!("{COOKIE}={id}");
    let a = send(&state, get("/", Some(&cookie))).await;
    assert_eq!(
        (a.status, a.location()),
        (StatusCode::SEE_OTHER, "/account")
    );
    let a = send(&state, get("/", None)).await;
    assert_eq!((a.status, a.location()), (StatusCode::SEE_OTHER, "/login"));
    let a = send(&state, get("/account", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains(ALICE), "{}", a.body);
}

#[tokio::test]
async fn the_login_page_carries_the_security_headers() {
    let state = state().await;
    let a = send(&state, get("/login", None)).await;
    assert_eq!(a.headers["content-security-policy"], crate::CSP);
    assert_eq!(a.headers["x-frame-options"], "DENY");
    assert_eq!(a.headers["cache-control"], "no-store");
    let c = a.set_cookie(LOGIN_CSRF_COOKIE).unwrap();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Strict"),
        "{c}"
    );
    assert!(a.body.contains("action=\"/login\""));
}

#[tokio::test]
async fn wrong_password_is_401_with_the_form_again() {
    let state = with_alice().await;
    for (address, password) in [(ALICE, "wrong"), ("nobody@example.org", PW), ("", "")] {
        let a = sign_in_on(&state, address, password, conn()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{address}");
        assert!(a.body.contains("wrong address or password"), "{}", a.body);
        assert!(a.set_cookie(COOKIE).is_none());
        assert!(a.cookie(LOGIN_CSRF_COOKIE).is_some(), "a fresh token");
    }
    assert!(state.sessions.is_empty());
}

#[tokio::test]
async fn locked_and_tempfail_outcomes() {
    use crate::login::LoginOutcome;
    for (outcome, status, text) in [
        (
            0,
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins, try again later",
        ),
        (1, StatusCode::SERVICE_UNAVAILABLE, "try again later"),
    ] {
        let mut state = with_alice().await;
        state.login = std::sync::Arc::new(move |_, _, _, _| {
            Box::pin(async move {
                if outcome == 0 {
                    LoginOutcome::Locked
                } else {
                    LoginOutcome::TempFail
                }
            })
        });
        let a = sign_in_on(&state, ALICE, PW, conn()).await;
        assert_eq!(a.status, status);
        assert!(a.body.contains(text), "{}", a.body);
        assert!(state.sessions.is_empty());
    }
}

#[tokio::test]
async fn login_post_without_the_double_submit_token_is_403() {
    let state = with_alice().await;
    let token = login_token(&state).await;
    let cookie = format!("{LOGIN_CSRF_COOKIE}={token}");
    let other = format!("{LOGIN_CSRF_COOKIE}=0123");
    let cases: [(Option<&str>, &str); 4] = [
        (None, token.as_str()),
        (Some(cookie.as_str()), ""),
        (Some(cookie.as_str()), "0123"),
        (Some(other.as_str()), token.as_str()),
    ];
    for (cookie, csrf) in cases {
        let fields = [("csrf", csrf), ("address", ALICE), ("password", PW)];
        let a = send(&state, post("/login", cookie, &fields)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{cookie:?} {csrf:?}");
    }
    // Without any csrf field or cookie at all.
    let a = send(
        &state,
        post("/login", None, &[("address", ALICE), ("password", PW)]),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(state.sessions.is_empty());
    // Not a form at all.
    let r = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        send(&state, r).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn pages_redirect_to_login_without_a_session() {
    let state = with_alice().await;
    for uri in [
        "/account",
        "/account/password",
        "/account/app-passwords",
        "/account/setup",
        "/account/mobileconfig",
    ] {
        for cookie in [None, Some("postie_session=0000")] {
            let a = send(&state, get(uri, cookie)).await;
            assert_eq!(
                (a.status, a.location()),
                (StatusCode::SEE_OTHER, "/login"),
                "{uri}"
            );
        }
    }
    for uri in [
        "/logout",
        "/account/password",
        "/account/app-passwords",
        "/account/app-passwords/revoke",
    ] {
        let a = send(&state, post(uri, None, &[("csrf", "x")])).await;
        assert_eq!(
            (a.status, a.location()),
            (StatusCode::SEE_OTHER, "/login"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    let state = with_alice().await;
    let (cookie, csrf) = session(&state, ALICE, PW).await;
    let a = send(&state, post("/logout", Some(&cookie), &[])).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "no csrf");
    let a = send(&state, post("/logout", Some(&cookie), &[("csrf", "nope")])).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "wrong csrf");
    assert_eq!(
        send(&state, get("/account", Some(&cookie))).await.status,
        StatusCode::OK
    );

    let a = send(&state, post("/logout", Some(&cookie), &[("csrf", &csrf)])).await;
    assert_eq!((a.status, a.location()), (StatusCode::SEE_OTHER, "/login"));
    assert!(a.set_cookie(COOKIE).unwrap().contains("Max-Age=0"));
    assert!(state.sessions.is_empty());
    let a = send(&state, get("/account", Some(&cookie))).await;
    assert_eq!((a.status, a.location()), (StatusCode::SEE_OTHER, "/login"));
}

#[tokio::test]
async fn password_change_ends_the_other_sessions() {
    let state = with_alice().await;
    let (other_browser, _) = session(&state, ALICE, PW).await;
    let (cookie, csrf) = session(&state, ALICE, PW).await;
    let new = "a much better one";

    let a = send(&state, get("/account/password", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("name=\"csrf\""));

    let change = |csrf: &str, current: &str, new: &str, again: &str| {
        post(
            "/account/password",
            Some(&cookie),
            &[
                ("csrf", csrf),
                ("current", current),
                ("new", new),
                ("again", again),
            ],
        )
    };
    assert_eq!(
        send(&state, change("", PW, new, new)).await.status,
        StatusCode::FORBIDDEN
    );
    let a = send(&state, change(&csrf, "wrong", new, new)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("current password is wrong"));
    let a = send(&state, change(&csrf, PW, new, "something else")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("differ"));
    let a = send(&state, change(&csrf, PW, "short", "short")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("at least 8"));

    let a = send(&state, change(&csrf, PW, new, new)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Your password is changed"));
    let fresh = a.cookie(COOKIE).expect("a fresh session for this browser");
    let fresh = format!("{COOKIE}={fresh}");
    assert_eq!(
        send(&state, get("/account", Some(&fresh))).await.status,
        StatusCode::OK
    );
    for old in [&cookie, &other_browser] {
        let a = send(&state, get("/account", Some(old))).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "old sessions are over");
    }
    assert_eq!(
        sign_in_on(&state, ALICE, PW, conn()).await.status,
        StatusCode::UNAUTHORIZED,
        "the old password fails"
    );
    assert_eq!(
        sign_in_on(&state, ALICE, new, conn()).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn app_passwords_create_once_list_revoke() {
    let state = with_alice().await;
    let (cookie, csrf) = session(&state, ALICE, PW).await;

    let a = send(&state, get("/account/app-passwords", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("None yet"));

    let create = |csrf: &str, name: &str| {
        post(
            "/account/app-passwords",
            Some(&cookie),
            &[("csrf", csrf), ("name", name)],
        )
    };
    assert_eq!(
        send(&state, create("", "phone")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&state, create("bad", "phone")).await.status,
        StatusCode::FORBIDDEN
    );

    let a = send(&state, create(&csrf, "phone")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.headers["cache-control"], "no-store");
    let start = a.body.find("id=\"new-app-password\">").expect("shown") + 22;
    let password = &a.body[start..start + a.body[start..].find('<').unwrap()];
    let (id, secret) = store::app_password::parse(password).expect("a whole app password");
    assert!(a.body.contains("shown only this once"));

    // It works, as an app password, for the API (and so for the mail protocols).
    let login = (state.login)(
        conn().peer.ip(),
        ALICE.into(),
        password.into(),
        crate::login::Purpose::Api,
    )
    .await;
    assert!(matches!(login, crate::login::LoginOutcome::Ok(_)));

    // The list shows it, but never the password, its id or hash again.
    let a = send(&state, get("/account/app-passwords", Some(&cookie))).await;
    assert!(a.body.contains("<td>phone</td>"), "{}", a.body);
    assert!(a.body.contains("never"));
    assert!(!a.body.contains(password) && !a.body.contains(secret) && !a.body.contains(id));

    let a = send(&state, create(&csrf, "phone")).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let a = send(&state, create(&csrf, "")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    let revoke = |csrf: &str, name: &str| {
        post(
            "/account/app-passwords/revoke",
            Some(&cookie),
            &[("csrf", csrf), ("name", name)],
        )
    };
    assert_eq!(
        send(&state, revoke("", "phone")).await.status,
        StatusCode::FORBIDDEN
    );
    let a = send(&state, revoke(&csrf, "phone")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("revoked"));
    assert!(a.body.contains("None yet"));
    let a = send(&state, revoke(&csrf, "phone")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let login = (state.login)(
        conn().peer.ip(),
        ALICE.into(),
        password.into(),
        crate::login::Purpose::Api,
    )
    .await;
    assert!(matches!(login, crate::login::LoginOutcome::Wrong));
}

#[tokio::test]
async fn a_user_never_sees_another_users_app_passwords() {
    let state = with_alice().await;
    add_account(&state, BOB, PW, false).await;
    let alice = state
        .store
        .account_get(&Address::parse(ALICE).unwrap())
        .await
        .unwrap()
        .unwrap();
    admin::app_passwords::create(state.store.as_ref(), &alice, "alices-laptop")
        .await
        .unwrap();

    let (cookie, csrf) = session(&state, BOB, PW).await;
    let a = send(&state, get("/account/app-passwords", Some(&cookie))).await;
    assert!(!a.body.contains("alices-laptop"), "{}", a.body);
    assert!(a.body.contains("None yet"));
    // Revoking by Alice's name acts on Bob's own (none): 404, and Alice keeps hers.
    let fields = [("csrf", csrf.as_str()), ("name", "alices-laptop")];
    let a = send(
        &state,
        post("/account/app-passwords/revoke", Some(&cookie), &fields),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(
        state.store.app_password_list(alice.id).await.unwrap().len(),
        1
    );
    // Alice's session token does not work for Bob's session, nor the reverse.
    let (_, alice_csrf) = session(&state, ALICE, PW).await;
    let fields = [("csrf", alice_csrf.as_str()), ("name", "x")];
    let a = send(
        &state,
        post("/account/app-passwords", Some(&cookie), &fields),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn display_names_are_escaped() {
    let state = with_alice().await;
    let evil = "<script>alert(1)</script>";
    state
        .store
        .account_set_display_name(&Address::parse(ALICE).unwrap(), Some(evil))
        .await
        .unwrap();
    let (cookie, _) = session(&state, ALICE, PW).await;
    let a = send(&state, get("/account", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        a.body
    );
    assert!(!a.body.contains("<script"), "{}", a.body);

    let a = send(&state, get("/account/mobileconfig", Some(&cookie))).await;
    assert!(a.body.contains("&lt;script&gt;"), "{}", a.body);
    assert!(!a.body.contains("<script"), "{}", a.body);
}

#[tokio::test]
async fn account_page_shows_quota_usage() {
    let state = with_alice().await;
    let address = Address::parse(ALICE).unwrap();
    state
        .store
        .quota_set(
            &address,
            store::Quota {
                storage: Some(10 * 1024 * 1024),
                messages: Some(1000),
            },
        )
        .await
        .unwrap();
    let (cookie, _) = session(&state, ALICE, PW).await;
    let a = send(&state, get("/account", Some(&cookie))).await;
    assert!(a.body.contains("of 10.0 MiB"), "{}", a.body);
    assert!(a.body.contains("of 1000"), "{}", a.body);
}

/// The values of `<key>K</key>` followed by one element, in document order, from a
/// flat scan (enough for a generated plist).
fn plist_values<'a>(doc: &'a str, key: &str) -> Vec<&'a str> {
    let tag = format!("<key>{key}</key>");
    doc.match_indices(&tag)
        .map(|(at, _)| {
            let rest = doc[at + tag.len()..].trim_start();
            let end = rest.find('\n').unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[tokio::test]
async fn mobileconfig_is_a_plist_with_the_advertised_ports() {
    let state = with_alice().await;
    let (cookie, _) = session(&state, ALICE, PW).await;
    let a = send(&state, get("/account/mobileconfig", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        a.headers["content-type"],
        "application/x-apple-aspen-config"
    );
    assert_eq!(
        a.headers["content-disposition"],
        "attachment; filename=\"alice@example.org.mobileconfig\""
    );
    let doc = &a.body;
    assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist"));
    assert!(doc.trim_end().ends_with("</dict>\n</plist>"));
    // Balanced elements, in a flat scan.
    for tag in ["dict", "array", "key", "string", "integer", "plist"] {
        let opens =
            doc.matches(&format!("<{tag}>")).count() + doc.matches(&format!("<{tag} ")).count();
        assert_eq!(opens, doc.matches(&format!("</{tag}>")).count(), "{tag}");
    }
    let one = |key: &str| plist_values(doc, key);
    assert_eq!(
        one("IncomingMailServerPortNumber"),
        ["<integer>1993</integer>"]
    );
    assert_eq!(
        one("OutgoingMailServerPortNumber"),
        ["<integer>1465</integer>"]
    );
    assert_eq!(
        one("IncomingMailServerHostName"),
        ["<string>mail.example.net</string>"]
    );
    assert_eq!(one("OutgoingMailServerUseSSL"), ["<true/>"]);
    assert_eq!(one("IncomingMailServerUseSSL"), ["<true/>"]);
    assert_eq!(one("OutgoingPasswordSameAsIncomingPassword"), ["<true/>"]);
    assert_eq!(one("EmailAccountType"), ["<string>EmailTypeIMAP</string>"]);
    assert_eq!(one("EmailAddress"), ["<string>alice@example.org</string>"]);
    assert_eq!(
        one("IncomingMailServerUsername"),
        ["<string>alice@example.org</string>"]
    );
    assert_eq!(
        one("PayloadType"),
        [
            "<string>com.apple.mail.managed</string>",
            "<string>Configuration</string>"
        ]
    );
    assert_eq!(one("PayloadVersion").len(), 2);
    let uuids = one("PayloadUUID");
    assert_eq!(uuids.len(), 2);
    assert_ne!(uuids[0], uuids[1]);
    assert!(!doc.contains(PW) && !doc.to_lowercase().contains("<key>incomingpassword"));
    // The same profile every time (installing it again replaces it).
    let again = send(&state, get("/account/mobileconfig", Some(&cookie))).await;
    assert_eq!(&again.body, doc);
}

#[tokio::test]
async fn mobileconfig_needs_imaps_and_submissions() {
    let mut state = with_alice().await;
    state.ports.submissions = None;
    let (cookie, _) = session(&state, ALICE, PW).await;
    let a = send(&state, get("/account/mobileconfig", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let a = send(&state, get("/account/setup", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(!a.body.contains("<svg"), "no profile, no QR code");
    assert!(a.body.contains("not offered"));
}

#[tokio::test]
async fn setup_page_has_the_settings_and_a_qr_code() {
    let state = with_alice().await;
    let (cookie, _) = session(&state, ALICE, PW).await;
    let a = send(&state, get("/account/setup", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK);
    for text in [
        "mail.example.net",
        ">1993<",
        ">1995<",
        ">1465<",
        "SSL/TLS",
        ALICE,
        "app password",
        "web-only",
        "href=\"/account/mobileconfig\"",
        "http://mail.example.net/account/mobileconfig",
        "Thunderbird",
        "Outlook",
    ] {
        assert!(a.body.contains(text), "{text}: {}", a.body);
    }
    assert!(a.body.contains("<svg class=\"qr\""));
    assert!(a.body.matches("<rect ").count() > 200);

    // A Host header with a port is used; an implausible one is not.
    let mut r = get("/account/setup", Some(&cookie));
    r.headers_mut()
        .insert(header::HOST, "webmail.example.org:8443".parse().unwrap());
    let a = send(&state, r).await;
    assert!(
        a.body
            .contains("http://webmail.example.org:8443/account/mobileconfig")
    );
    let mut r = get("/account/setup", Some(&cookie));
    r.headers_mut()
        .insert(header::HOST, "evil\"><b>x".parse().unwrap());
    let a = send(&state, r).await;
    assert!(
        a.body
            .contains("http://mail.example.net/account/mobileconfig")
    );
    assert!(!a.body.contains("<b>x"));
}

#[tokio::test]
async fn every_account_form_needs_its_csrf_token() {
    let state = with_alice().await;
    let (cookie, _) = session(&state, ALICE, PW).await;
    for uri in [
        "/logout",
        "/account/password",
        "/account/app-passwords",
        "/account/app-passwords/revoke",
    ] {
        let a = send(&state, post(uri, Some(&cookie), &[("name", "x")])).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{uri}");
    }
    assert_eq!(state.sessions.len(), 1, "still signed in");
}

#[test]
fn forms_decode() {
    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct F {
        a: String,
        b: String,
    }
    let f: F = serde_urlencoded::from_bytes(b"a=1&b=x+y%26z%C3%A9").unwrap();
    assert_eq!(
        f,
        F {
            a: "1".into(),
            b: "x y&zé".into()
        }
    );
    assert!(
        serde_urlencoded::from_bytes::<F>(b"a=1&a=2&b=3").is_err(),
        "repeated field"
    );
    assert_eq!(super::human_size(512), "512 B");
    assert_eq!(super::human_size(1536), "1.5 KiB");
    assert_eq!(super::human_time(0), "1970-01-01 00:00 UTC");
}
