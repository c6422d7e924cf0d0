//! The admin pages through the router (`tower::ServiceExt::oneshot`, no sockets),
//! signed in by starting a session directly.

use crate::WebState;
use crate::status::{DeliveryNote, ServerStatus};
use crate::testing::{add_account, state, state_with};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use message::{Address, Envelope, QueueId};
use std::sync::Arc;
use tower::ServiceExt;

const ADMIN: &str = "admin@example.org";

/// Every admin page a GET reaches.
const PAGES: &[&str] = &[
    "/admin",
    "/admin/domains",
    "/admin/domains/example.org",
    "/admin/accounts",
    "/admin/accounts/admin@example.org",
    "/admin/aliases",
    "/admin/queue",
    "/admin/dkim",
];

/// Every form, with fields that would do something given the right token.
const FORMS: &[(&str, &str)] = &[
    ("/admin/domains", "domain=new.example"),
    ("/admin/domains/delete", "domain=example.org&confirm=yes"),
    (
        "/admin/accounts",
        "address=x%40example.org&password=pw&display_name=X",
    ),
    ("/admin/accounts/admin@example.org/password", "password=pw2"),
    ("/admin/accounts/admin@example.org/name", "display_name=Y"),
    ("/admin/accounts/admin@example.org/admin", "admin=off"),
    ("/admin/accounts/admin@example.org/quota", "messages=5"),
    ("/admin/accounts/admin@example.org/delete", "confirm=yes"),
    (
        "/admin/aliases",
        "alias=info%40example.org&target=admin%40example.org",
    ),
    ("/admin/aliases/delete", "alias=info%40example.org"),
    ("/admin/queue/flush", ""),
    ("/admin/queue/message", "id=x&op=flush"),
    ("/admin/dkim/generate", "domain=example.org"),
    ("/admin/dkim/remove", "domain=example.org&selector=s"),
];

/// A signed-in browser: the session cookie and the session's CSRF token.
struct Browser {
    state: WebState,
    cookie: String,
    csrf: String,
}

impl Browser {
    /// Signs `address` in (the account must exist).
    fn new(state: &WebState, address: &str) -> Browser {
        let id = state.sessions.start(address);
        let csrf = state.sessions.get(&id).expect("session").csrf;
        Browser {
            state: state.clone(),
            cookie: format!("{}={id}", crate::session::COOKIE),
            csrf,
        }
    }

    async fn get(&self, uri: &str) -> (StatusCode, HeaderMap, String) {
        let request = Request::get(uri)
            .header(header::COOKIE, &self.cookie)
            .body(Body::empty())
            .unwrap();
        send(&self.state, request).await
    }

    /// Posts `body` as it is (no token added).
    async fn post_raw(&self, uri: &str, body: &str) -> (StatusCode, HeaderMap, String) {
        let request = Request::post(uri)
            .header(header::COOKIE, &self.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_owned()))
            .unwrap();
        send(&self.state, request).await
    }

    /// Posts the fields with the session's token.
    async fn post(&self, uri: &str, fields: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
        let mut body = format!("csrf={}", self.csrf);
        for (name, value) in fields {
            body.push_str(&format!("&{}={}", encode(name), encode(value)));
        }
        self.post_raw(uri, &body).await
    }

    /// Posts, expects the 303 back with `code`, then shows where it leads.
    async fn post_ok(&self, uri: &str, fields: &[(&str, &str)], to: &str, code: &str) -> String {
        let (status, headers, body) = self.post(uri, fields).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{uri}: {body}");
        let location = headers[header::LOCATION].to_str().unwrap().to_owned();
        assert_eq!(location, format!("{to}?done={code}"));
        let (status, _, page) = self.get(&location).await;
        assert_eq!(status, StatusCode::OK);
        let text = super::done_text(code).expect("a known code");
        assert!(page.contains(&maud::html!((text)).into_string()), "{page}");
        page
    }
}

async fn send(state: &WebState, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = crate::router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn encode(text: &str) -> String {
    super::path_segment(text)
}

/// A state with the administrator `admin@example.org` and a browser signed in as it.
async fn signed_in_admin() -> (WebState, Browser) {
    let state = state().await;
    add_account(&state, ADMIN, "secret", true).await;
    let browser = Browser::new(&state, ADMIN);
    (state, browser)
}

async fn enqueue(state: &WebState, to: &str) -> QueueId {
    let envelope = Envelope {
        sender: Some(Address::parse("sender@example.org").unwrap()),
        recipients: vec![Address::parse(to).unwrap()],
        body_type: Default::default(),
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    };
    let id = QueueId::generate(u64::try_from(super::now_unix()).unwrap() * 1000);
    state
        .store
        .enqueue(
            id,
            &envelope,
            b"From: sender@example.org\r\nSubject: t\r\n\r\nhi\r\n",
        )
        .await
        .expect("enqueue");
    id
}

#[tokio::test]
async fn without_a_session_every_page_redirects_to_sign_in() {
    let state = state().await;
    for page in PAGES {
        let (status, headers, _) =
            send(&state, Request::get(*page).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(headers[header::LOCATION], "/login", "{page}");
    }
    for (uri, body) in FORMS {
        let request = Request::post(*uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(*body))
            .unwrap();
        let (status, headers, _) = send(&state, request).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(headers[header::LOCATION], "/login", "{uri}");
    }
}

#[tokio::test]
async fn a_non_administrator_gets_403_everywhere() {
    let (state, _) = signed_in_admin().await;
    add_account(&state, "user@example.org", "pw", false).await;
    let user = Browser::new(&state, "user@example.org");
    for page in PAGES {
        let (status, _, body) = user.get(page).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert!(body.contains("administrators only"), "{body}");
    }
    for (uri, body) in FORMS {
        let (status, _, _) = user
            .post_raw(uri, &format!("csrf={}&{body}", user.csrf))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
    }
    // Nothing changed.
    assert_eq!(state.store.domain_list().await.unwrap().len(), 1);
    assert_eq!(state.store.account_list().await.unwrap().len(), 2);
    // The dashboard link is not even shown to them.
    let (_, _, page) = user.get("/admin").await;
    assert!(!page.contains("href=\"/admin/queue\""));
}

#[tokio::test]
async fn every_form_without_its_token_is_403_and_changes_nothing() {
    let (state, admin) = signed_in_admin().await;
    for (uri, body) in FORMS {
        let (status, _, _) = admin.post_raw(uri, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri} without a token");
        let wrong = format!("csrf=00000000000000000000000000000000&{body}");
        let (status, _, _) = admin.post_raw(uri, &wrong).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri} with a wrong token");
    }
    // Another session's token does not do either.
    let other = Browser::new(&state, ADMIN);
    let (status, _, _) = admin
        .post_raw(
            "/admin/domains",
            &format!("csrf={}&domain=new.example", other.csrf),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let domains = state.store.domain_list().await.unwrap();
    assert_eq!(domains.len(), 1);
    let accounts = state.store.account_list().await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert!(accounts[0].admin);
    assert!(state.store.alias_list().await.unwrap().is_empty());
}

#[tokio::test]
async fn every_page_shows_for_an_administrator_with_a_token_in_each_form() {
    let (_, admin) = signed_in_admin().await;
    for page in PAGES {
        if page.starts_with("/admin/domains/") {
            continue; // the live DNS check: see records_page_lists_what_to_publish
        }
        let (status, headers, body) = admin.get(page).await;
        assert_eq!(status, StatusCode::OK, "{page}: {body}");
        assert_eq!(headers["content-security-policy"], crate::CSP);
        let forms = body.matches("<form").count();
        let tokens = body
            .matches(&format!("name=\"csrf\" value=\"{}\"", admin.csrf))
            .count();
        assert_eq!(forms, tokens, "{page}: every form carries the token");
    }
}

#[tokio::test]
async fn domains_add_list_refuse_and_delete_with_confirmation() {
    let (state, admin) = signed_in_admin().await;
    let page = admin
        .post_ok(
            "/admin/domains",
            &[("domain", "New.Example")],
            "/admin/domains",
            "domain-added",
        )
        .await;
    assert!(page.contains("new.example"), "{page}");
    assert!(page.contains("href=\"/admin/domains/new.example\""));

    // Twice: 409 with the store's words; nonsense: 400.
    let (status, _, page) = admin
        .post("/admin/domains", &[("domain", "new.example")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        page.contains("notice error") && page.contains("already exists"),
        "{page}"
    );
    let (status, _, page) = admin
        .post("/admin/domains", &[("domain", "not a domain")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("is not a valid domain"), "{page}");

    // Delete without the box ticked: refused, still there.
    let (status, _, page) = admin
        .post("/admin/domains/delete", &[("domain", "new.example")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("tick the confirmation box"), "{page}");
    assert_eq!(state.store.domain_list().await.unwrap().len(), 2);
    // A domain with accounts: refused by the store.
    let (status, _, _) = admin
        .post(
            "/admin/domains/delete",
            &[("domain", "example.org"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let page = admin
        .post_ok(
            "/admin/domains/delete",
            &[("domain", "new.example"), ("confirm", "yes")],
            "/admin/domains",
            "domain-removed",
        )
        .await;
    assert!(!page.contains("new.example"));
    assert_eq!(state.store.domain_list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn accounts_add_list_change_and_delete() {
    let (state, admin) = signed_in_admin().await;
    let page = admin
        .post_ok(
            "/admin/accounts",
            &[
                ("address", "bob@example.org"),
                ("password", "bob-secret"),
                ("display_name", "Bob B."),
            ],
            "/admin/accounts",
            "account-added",
        )
        .await;
    assert!(
        page.contains("bob@example.org") && page.contains("Bob B."),
        "{page}"
    );
    assert!(page.contains("href=\"/admin/accounts/bob@example.org\""));
    let bob = Address::parse("bob@example.org").unwrap();
    let stored = state.store.account_get(&bob).await.unwrap().unwrap();
    assert!(!stored.admin);
    assert!(store::password::verify("bob-secret", &stored.password_hash));

    // Refusals as red notices: not local (400), twice (409), empty password (400).
    let (status, _, page) = admin
        .post(
            "/admin/accounts",
            &[("address", "x@elsewhere.example"), ("password", "pw")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("is not a local domain"), "{page}");
    let (status, _, _) = admin
        .post(
            "/admin/accounts",
            &[("address", "bob@example.org"), ("password", "pw")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, _) = admin
        .post(
            "/admin/accounts",
            &[("address", "carol@example.org"), ("password", "")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The account's own page and its forms.
    let base = "/admin/accounts/bob@example.org";
    let (status, _, page) = admin.get(base).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Bob B.") && page.contains("Delete account"));
    let bob_session = Browser::new(&state, "bob@example.org");
    admin
        .post_ok(
            &format!("{base}/password"),
            &[("password", "new-pw")],
            base,
            "password-set",
        )
        .await;
    let stored = state.store.account_get(&bob).await.unwrap().unwrap();
    assert!(store::password::verify("new-pw", &stored.password_hash));
    let (status, _, _) = bob_session.get("/account").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "a new password ends the sessions"
    );

    let page = admin
        .post_ok(
            &format!("{base}/name"),
            &[("display_name", "Robert")],
            base,
            "name-set",
        )
        .await;
    assert!(page.contains("Robert"));
    admin
        .post_ok(
            &format!("{base}/admin"),
            &[("admin", "on")],
            base,
            "admin-on",
        )
        .await;
    assert!(state.store.account_get(&bob).await.unwrap().unwrap().admin);
    admin
        .post_ok(
            &format!("{base}/admin"),
            &[("admin", "off")],
            base,
            "admin-off",
        )
        .await;
    assert!(!state.store.account_get(&bob).await.unwrap().unwrap().admin);

    let page = admin
        .post_ok(
            &format!("{base}/quota"),
            &[("storage_mb", "10"), ("messages", "500")],
            base,
            "quota-set",
        )
        .await;
    assert!(
        page.contains("/ 10.0 MiB") && page.contains("0 / 500"),
        "{page}"
    );
    let quota = state.store.quota_get(stored.id).await.unwrap();
    assert_eq!(
        (quota.storage, quota.messages),
        (Some(10 * 1024 * 1024), Some(500))
    );
    admin
        .post_ok(
            &format!("{base}/quota"),
            &[("storage_mb", ""), ("messages", "")],
            base,
            "quota-set",
        )
        .await;
    assert!(
        state
            .store
            .quota_get(stored.id)
            .await
            .unwrap()
            .is_unlimited()
    );
    let (status, _, page) = admin
        .post(&format!("{base}/quota"), &[("storage_mb", "lots")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("whole number"));

    // Not one's own flag or account.
    let own = "/admin/accounts/admin@example.org";
    let (status, _, _) = admin
        .post(&format!("{own}/admin"), &[("admin", "off")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = admin
        .post(&format!("{own}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        state
            .store
            .account_get(&Address::parse(ADMIN).unwrap())
            .await
            .unwrap()
            .unwrap()
            .admin
    );

    // Delete: only confirmed.
    let (status, _, _) = admin.post(&format!("{base}/delete"), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let page = admin
        .post_ok(
            &format!("{base}/delete"),
            &[("confirm", "yes")],
            "/admin/accounts",
            "account-removed",
        )
        .await;
    assert!(!page.contains("bob@example.org"));
    let (status, _, page) = admin.get(base).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("no account bob@example.org"), "{page}");
}

#[tokio::test]
async fn a_hostile_display_name_is_shown_escaped() {
    let (state, admin) = signed_in_admin().await;
    add_account(&state, "eve@example.org", "pw", false).await;
    let eve = Address::parse("eve@example.org").unwrap();
    state
        .store
        .account_set_display_name(&eve, Some("<script>alert(1)</script>"))
        .await
        .unwrap();
    for page in ["/admin/accounts", "/admin/accounts/eve@example.org"] {
        let (status, _, body) = admin.get(page).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body.contains("<script>"), "{page}: {body}");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
    }
    // And a done code that is not one of ours shows nothing of itself.
    let (_, _, body) = admin.get("/admin/accounts?done=%3Cscript%3Ex").await;
    assert!(!body.contains("<script>") && !body.contains("notice ok"));
}

#[tokio::test]
async fn aliases_add_list_delete() {
    let (state, admin) = signed_in_admin().await;
    let page = admin
        .post_ok(
            "/admin/aliases",
            &[("alias", "info@example.org"), ("target", ADMIN)],
            "/admin/aliases",
            "alias-added",
        )
        .await;
    assert!(page.contains("<td>info@example.org</td>"), "{page}");
    assert_eq!(state.store.alias_list().await.unwrap().len(), 1);
    // To nobody: refused by the store.
    let (status, _, page) = admin
        .post(
            "/admin/aliases",
            &[("alias", "x@example.org"), ("target", "nobody@example.org")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("notice error"));
    let page = admin
        .post_ok(
            "/admin/aliases/delete",
            &[("alias", "info@example.org")],
            "/admin/aliases",
            "alias-removed",
        )
        .await;
    assert!(!page.contains("<td>info@example.org</td>"));
    assert!(page.contains("No aliases yet."));
    let (status, _, _) = admin
        .post("/admin/aliases/delete", &[("alias", "info@example.org")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_queue_lists_and_acts() {
    let (state, admin) = signed_in_admin().await;
    let (_, _, page) = admin.get("/admin/queue").await;
    assert!(page.contains("The queue is empty."));
    let id = enqueue(&state, "rcpt@example.net").await;
    let kept = enqueue(&state, "other@example.net").await;
    let (status, _, page) = admin.get("/admin/queue").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&id.to_string()) && page.contains("rcpt@example.net"),
        "{page}"
    );
    assert!(page.contains("sender@example.org") && page.contains("pending"));

    admin
        .post_ok("/admin/queue/flush", &[], "/admin/queue", "queue-flushed")
        .await;
    let idt = id.to_string();
    admin
        .post_ok(
            "/admin/queue/message",
            &[("id", &idt), ("op", "flush")],
            "/admin/queue",
            "message-flushed",
        )
        .await;
    let page = admin
        .post_ok(
            "/admin/queue/message",
            &[("id", &idt), ("op", "hold")],
            "/admin/queue",
            "message-held",
        )
        .await;
    assert!(state.store.queue_get(id).await.unwrap().unwrap().held);
    assert!(page.contains("value=\"release\""));
    admin
        .post_ok(
            "/admin/queue/message",
            &[("id", &idt), ("op", "release")],
            "/admin/queue",
            "message-released",
        )
        .await;
    assert!(!state.store.queue_get(id).await.unwrap().unwrap().held);
    let page = admin
        .post_ok(
            "/admin/queue/message",
            &[("id", &idt), ("op", "delete")],
            "/admin/queue",
            "message-deleted",
        )
        .await;
    assert!(state.store.queue_get(id).await.unwrap().is_none());
    assert!(!page.contains(&idt) && page.contains(&kept.to_string()));

    // Again: 404; nonsense: 400.
    let (status, _, page) = admin
        .post("/admin/queue/message", &[("id", &idt), ("op", "hold")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    assert!(page.contains("in the queue"));
    let (status, _, _) = admin
        .post("/admin/queue/message", &[("id", "nope"), ("op", "flush")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = admin
        .post(
            "/admin/queue/message",
            &[("id", &kept.to_string()), ("op", "explode")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Delete with a bounce: gone, and a report to the sender queued instead.
    admin
        .post_ok(
            "/admin/queue/message",
            &[("id", &kept.to_string()), ("op", "bounce")],
            "/admin/queue",
            "message-bounced",
        )
        .await;
    let left = state.store.queue_list().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].id, kept);
    assert_eq!(
        left[0].envelope.recipients[0].normalized(),
        "sender@example.org"
    );
}

#[tokio::test]
async fn the_dashboard_shows_counts_listeners_and_recent_deliveries() {
    let mut state = state().await;
    state.status = Arc::new(|| ServerStatus {
        version: "9.8.7".into(),
        started_at: super::now_unix() - (2 * 86_400 + 3 * 3600 + 4 * 60),
        listeners: vec![("imaps".into(), "127.0.0.1:1993".parse().unwrap())],
        recent: vec![
            DeliveryNote {
                at: 1_700_000_000,
                queue_id: "Q1".into(),
                recipient: "ok@example.net".into(),
                result: "delivered".into(),
                detail: "250 2.0.0 <fine>".into(),
            },
            DeliveryNote {
                at: 1_700_000_100,
                queue_id: "Q2".into(),
                recipient: "gone@example.net".into(),
                result: "failed".into(),
                detail: "550 5.1.1 no such user".into(),
            },
        ],
    });
    add_account(&state, ADMIN, "secret", true).await;
    add_account(&state, "b@example.org", "pw", false).await;
    state
        .store
        .alias_add(
            &Address::parse("info@example.org").unwrap(),
            &Address::parse("b@example.org").unwrap(),
        )
        .await
        .unwrap();
    enqueue(&state, "rcpt@example.net").await;
    let admin = Browser::new(&state, ADMIN);
    let (status, _, page) = admin.get("/admin").await;
    assert_eq!(status, StatusCode::OK);
    for wanted in [
        "9.8.7",
        "2d 3h 4m",
        "imaps",
        "127.0.0.1:1993",
        "Q1",
        "ok@example.net",
        "gone@example.net",
        "550 5.1.1 no such user",
        "250 2.0.0 &lt;fine&gt;",
        "2023-11-14 22:13:20 UTC",
        "<td class=\"status-ok\">delivered</td>",
        "<td class=\"status-bad\">failed</td>",
    ] {
        assert!(page.contains(wanted), "{wanted} in {page}");
    }
    let card = |value: &str, label: &str| {
        format!("<div class=\"value\">{value}</div><div class=\"label\">{label}</div>")
    };
    for (value, label) in [
        ("1", "Domains"),
        ("2", "Accounts"),
        ("1", "Aliases"),
        ("1", "Queued messages"),
    ] {
        assert!(
            page.contains(&card(value, label)),
            "{label} = {value} in {page}"
        );
    }
}

#[tokio::test]
async fn dkim_generate_list_remove() {
    let dir = std::env::temp_dir().join(format!(
        "postie-web-admin-dkim-{}",
        crate::session::random_token()
    ));
    let config = config::Config {
        hostname: "mail.example.net".into(),
        ..config::Config::default()
    }
    .with_data_dir(dir.clone());
    let state = state_with(config).await;
    add_account(&state, ADMIN, "secret", true).await;
    let admin = Browser::new(&state, ADMIN);
    let (_, _, page) = admin.get("/admin/dkim").await;
    assert!(page.contains("No DKIM keys yet") && page.contains("<option value=\"example.org\">"));
    let page = admin
        .post_ok(
            "/admin/dkim/generate",
            &[("domain", "example.org")],
            "/admin/dkim",
            "dkim-generated",
        )
        .await;
    assert!(
        page.contains("ed25519-sha256") && page.contains("rsa-sha256"),
        "{page}"
    );
    assert!(page.contains("._domainkey.example.org") && page.contains("v=DKIM1"));
    let (status, _, _) = admin
        .post("/admin/dkim/generate", &[("domain", "elsewhere.example")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let config = (state.config)();
    let keys = admin::dkim::list(&config, Some(state.store.as_ref()), None)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2);
    admin
        .post_ok(
            "/admin/dkim/remove",
            &[("domain", "example.org"), ("selector", &keys[0].selector)],
            "/admin/dkim",
            "dkim-removed",
        )
        .await;
    let left = admin::dkim::list(&config, Some(state.store.as_ref()), None)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    let (status, _, _) = admin
        .post(
            "/admin/dkim/remove",
            &[("domain", "example.org"), ("selector", &keys[0].selector)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(start_paused = true)]
async fn records_page_lists_what_to_publish_with_a_verdict_per_record() {
    // A name server that is not there: each look-up fails or the check times out
    // (the paused clock runs on to the deadline at once); the page still shows every
    // record, in red.
    let config = config::Config {
        hostname: "mail.example.net".into(),
        dns: config::Dns {
            nameservers: vec!["127.0.0.1:9".parse().unwrap()],
            ..config::Dns::default()
        },
        ..config::Config::default()
    };
    let state = state_with(config).await;
    add_account(&state, ADMIN, "secret", true).await;
    let admin = Browser::new(&state, ADMIN);
    let (status, _, page) = admin.get("/admin/domains/example.org").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("mail.example.net") && page.contains("MX"),
        "{page}"
    );
    assert!(page.contains("_dmarc.example.org"), "{page}");
    assert!(page.contains("has no DKIM keys yet"));
    assert!(
        page.contains("status-bad") || page.contains("check timed out"),
        "{page}"
    );
    let (status, _, _) = admin.get("/admin/domains/elsewhere.example").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = admin.get("/admin/domains/not%20a%20domain").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[test]
fn helpers() {
    assert_eq!(super::path_segment("a b/c@d.e"), "a%20b%2Fc@d.e");
    assert_eq!(super::dashboard::uptime(59), "0m");
    assert_eq!(super::dashboard::uptime(3 * 3600 + 60), "3h 1m");
    assert_eq!(super::dashboard::uptime(-5), "0m");
    assert_eq!(super::done_text("nope"), None);
    assert_eq!(super::when(0), "1970-01-01 00:00:00 UTC");
}
