//! The API through the router (`tower::ServiceExt::oneshot`, no sockets): every
//! endpoint's happy path and its errors, who may call what, and the OpenAPI document
//! against the routes.

use super::ROUTES;
use crate::WebState;
use crate::router;
use crate::testing::{add_account, state, state_with};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use message::{Address, Envelope, QueueId};
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN: &str = "admin@example.org";
const ADMIN_PW: &str = "admin-secret";
const USER: &str = "user@example.org";
const USER_PW: &str = "user-secret";

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn admin() -> String {
    basic(ADMIN, ADMIN_PW)
}

fn user() -> String {
    basic(USER, USER_PW)
}

/// A state with an administrator and a plain user.
async fn setup() -> WebState {
    let state = state().await;
    add_account(&state, ADMIN, ADMIN_PW, true).await;
    add_account(&state, USER, USER_PW, false).await;
    state
}

/// Sends one request; the status and the body as JSON (`Null` when empty). Every
/// body the API sends is JSON: a body that is not fails the test.
async fn call(
    state: &WebState,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    if bytes.is_empty() {
        return (status, Value::Null);
    }
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{method} {uri}: {status}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, value)
}

/// Asserts an error response: `status` and `{"error": "…"}`.
#[track_caller]
fn assert_error(got: &(StatusCode, Value), status: StatusCode) {
    assert_eq!(got.0, status, "{}", got.1);
    assert!(
        got.1["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        got.1
    );
}

/// A concrete URI for a route pattern.
fn concrete(path: &str) -> String {
    path.replace("{domain}", "example.org")
        .replace("{address}", USER)
        .replace("{alias}", "alias@example.org")
        .replace("{name}", "phone")
        .replace("{selector}", "s1")
        .replace("{id}", "0000000000000001")
}

#[tokio::test]
async fn openapi_lists_every_route_and_the_security_schemes() {
    let state = setup().await;
    let (status, doc) = call(&state, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["basic"]["scheme"], "basic");
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let operation = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from the document"))
            [method.to_ascii_lowercase()];
        assert!(operation.is_object(), "{method} {path} missing");
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "the document has extra operations"
    );
    for schema in [
        "AccountView",
        "NewAccount",
        "QueueEntry",
        "ErrorBody",
        "DnsCheck",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

#[tokio::test]
async fn every_route_is_served_and_wants_credentials() {
    let state = setup().await;
    for (method, path) in ROUTES {
        let uri = concrete(path);
        let body = matches!(*method, "POST" | "PATCH").then_some("{}");
        let got = call(&state, method, &uri, None, body).await;
        if *path == "/api/v1/openapi.json" {
            assert_eq!(got.0, StatusCode::OK);
        } else {
            assert_error(&got, StatusCode::UNAUTHORIZED);
        }
        // Bad credentials of each kind are 401 too.
        if *path != "/api/v1/openapi.json" {
            for auth in [
                basic(ADMIN, "wrong"),
                basic("nobody@example.org", "x"),
                "Bearer nonsense".to_owned(),
                "Digest x".to_owned(),
            ] {
                let got = call(&state, method, &uri, Some(&auth), body).await;
                assert_error(&got, StatusCode::UNAUTHORIZED);
            }
        }
    }
    let got = call(&state, "GET", "/api/v1/me", Some("Basic !!!"), None).await;
    assert_error(&got, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_user_gets_403_on_every_admin_endpoint() {
    let state = setup().await;
    // Everything but these (the DELETE of an account is an administrator's).
    let own = [
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/accounts/{address}"),
        ("PATCH", "/api/v1/accounts/{address}"),
    ];
    for (method, path) in ROUTES {
        if own.contains(&(*method, *path))
            || path.starts_with("/api/v1/accounts/{address}/app-passwords")
        {
            continue;
        }
        let body = matches!(*method, "POST" | "PATCH").then_some("{}");
        let got = call(&state, method, &concrete(path), Some(&user()), body).await;
        assert_error(&got, StatusCode::FORBIDDEN);
    }
    // Their own account, yes; somebody else's, no.
    let own = format!("/api/v1/accounts/{USER}");
    let (status, body) = call(&state, "GET", &own, Some(&user()), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["address"], USER);
    assert_eq!(body["admin"], false);
    let other = format!("/api/v1/accounts/{ADMIN}");
    assert_error(
        &call(&state, "GET", &other, Some(&user()), None).await,
        StatusCode::FORBIDDEN,
    );
    assert_error(
        &call(&state, "DELETE", &own, Some(&user()), None).await,
        StatusCode::FORBIDDEN,
    );
}

#[tokio::test]
async fn me_is_the_account_or_the_token() {
    let state = setup().await;
    let (status, body) = call(&state, "GET", "/api/v1/me", Some(&admin()), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"address": ADMIN, "display_name": null, "admin": true})
    );
    let token = admin::tokens::create(state.store.as_ref(), "ci")
        .await
        .unwrap();
    let bearer = format!("Bearer {token}");
    let (status, body) = call(&state, "GET", "/api/v1/me", Some(&bearer), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"token": "ci"}));
}

#[tokio::test]
async fn a_token_works_until_revoked() {
    let state = setup().await;
    let token = admin::tokens::create(state.store.as_ref(), "ci")
        .await
        .unwrap();
    let bearer = format!("Bearer {token}");
    let (status, _) = call(&state, "GET", "/api/v1/accounts", Some(&bearer), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &state,
        "POST",
        "/api/v1/domains",
        Some(&bearer),
        Some(r#"{"domain": "example.net"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    admin::tokens::revoke(state.store.as_ref(), "ci")
        .await
        .unwrap();
    let got = call(&state, "GET", "/api/v1/accounts", Some(&bearer), None).await;
    assert_error(&got, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn domains() {
    let state = setup().await;
    let auth = Some(admin());
    let auth = auth.as_deref();
    let (status, body) = call(&state, "GET", "/api/v1/domains", auth, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([{"domain": "example.org"}]));

    let add = r#"{"domain": "Example.NET"}"#;
    let (status, body) = call(&state, "POST", "/api/v1/domains", auth, Some(add)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({"domain": "example.net"}));
    let got = call(&state, "POST", "/api/v1/domains", auth, Some(add)).await;
    assert_error(&got, StatusCode::CONFLICT);
    let bad = r#"{"domain": "not a domain"}"#;
    let got = call(&state, "POST", "/api/v1/domains", auth, Some(bad)).await;
    assert_error(&got, StatusCode::BAD_REQUEST);
    for malformed in ["{", "[]", r#"{"domain": 1}"#, "{}", "nonsense"] {
        let got = call(&state, "POST", "/api/v1/domains", auth, Some(malformed)).await;
        assert_error(&got, StatusCode::BAD_REQUEST);
    }
    let (_, body) = call(&state, "GET", "/api/v1/domains", auth, None).await;
    assert_eq!(body.as_array().unwrap().len(), 2);

    let (status, body) = call(&state, "DELETE", "/api/v1/domains/example.net", auth, None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let got = call(&state, "DELETE", "/api/v1/domains/example.net", auth, None).await;
    assert_error(&got, StatusCode::NOT_FOUND);
    // A domain with accounts stays.
    let got = call(&state, "DELETE", "/api/v1/domains/example.org", auth, None).await;
    assert_error(&got, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_body_past_the_limit_is_413_and_json_needs_its_content_type() {
    let state = setup().await;
    let huge = format!(r#"{{"domain": "{}"}}"#, "a".repeat(crate::MAX_BODY));
    let got = call(
        &state,
        "POST",
        "/api/v1/domains",
        Some(&admin()),
        Some(&huge),
    )
    .await;
    assert_error(&got, StatusCode::PAYLOAD_TOO_LARGE);
    let request = Request::post("/api/v1/domains")
        .header("authorization", admin())
        .body(Body::from(r#"{"domain": "example.net"}"#))
        .unwrap();
    let response = router(state).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(body["error"].is_string());
}

#[tokio::test]
async fn dns_records_and_check() {
    let state = setup().await;
    let auth = Some(admin());
    let auth = auth.as_deref();
    let (status, body) = call(&state, "GET", "/api/v1/domains/example.org/dns", auth, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["domain"], "example.org");
    let records = body["records"].as_array().unwrap();
    let mx = records.iter().find(|r| r["type"] == "MX").expect("an MX");
    assert_eq!(mx["name"], "example.org");
    assert_eq!(mx["ttl"], 3600);
    assert!(mx["value"].as_str().unwrap().ends_with("mail.example.net."));
    let spf = records
        .iter()
        .find(|r| r["value"].as_str().unwrap().starts_with("v=spf1"))
        .expect("SPF, unquoted");
    assert_eq!(spf["type"], "TXT");
    // MTA-STS (RFC 8461): the record announcing the policy, and its host.
    let sts = records
        .iter()
        .find(|r| r["name"] == "_mta-sts.example.org")
        .expect("an _mta-sts record");
    assert_eq!(sts["type"], "TXT");
    assert!(sts["value"].as_str().unwrap().starts_with("v=STSv1; id="));
    assert!(records.iter().any(|r| r["name"] == "mta-sts.example.org"));
    assert!(body["note"].as_str().unwrap().contains("no DKIM keys"));

    for path in [
        "/api/v1/domains/example.net/dns",
        "/api/v1/domains/example.net/dns/check",
    ] {
        let got = call(&state, "GET", path, auth, None).await;
        assert_error(&got, StatusCode::NOT_FOUND);
    }
    let got = call(
        &state,
        "GET",
        "/api/v1/domains/bad%20domain/dns",
        auth,
        None,
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn accounts() {
    let state = setup().await;
    let auth = Some(admin());
    let auth = auth.as_deref();
    let new =
        r#"{"address": "carol@example.org", "password": "carol-pw", "display_name": "Carol C."}"#;
    let (status, body) = call(&state, "POST", "/api/v1/accounts", auth, Some(new)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body,
        json!({
            "address": "carol@example.org",
            "display_name": "Carol C.",
            "admin": false,
            "quota": {"storage_limit": null, "messages_limit": null,
                      "storage_used": 0, "messages_used": 0},
        })
    );
    // The new account can log in at once.
    let carol = basic("carol@example.org", "carol-pw");
    let (status, body) = call(&state, "GET", "/api/v1/me", Some(&carol), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["address"], "carol@example.org");

    let got = call(&state, "POST", "/api/v1/accounts", auth, Some(new)).await;
    assert_error(&got, StatusCode::CONFLICT);
    for bad in [
        r#"{"address": "nope", "password": "x"}"#,
        r#"{"address": "x@elsewhere.example", "password": "x"}"#,
        r#"{"address": "x@example.org", "password": ""}"#,
        r#"{"address": "x@example.org"}"#,
        r#"{"address": "x@example.org", "password": "x", "color": "red"}"#,
    ] {
        let got = call(&state, "POST", "/api/v1/accounts", auth, Some(bad)).await;
        assert_error(&got, StatusCode::BAD_REQUEST);
    }
    let admin_new = r#"{"address": "dave@example.org", "password": "pw", "admin": true}"#;
    let (status, body) = call(&state, "POST", "/api/v1/accounts", auth, Some(admin_new)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["admin"], true);

    let (status, body) = call(&state, "GET", "/api/v1/accounts", auth, None).await;
    assert_eq!(status, StatusCode::OK);
    let addresses: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        [ADMIN, "carol@example.org", "dave@example.org", USER]
    );

    let carol_uri = "/api/v1/accounts/carol@example.org";
    let (status, body) = call(&state, "GET", carol_uri, auth, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["display_name"], "Carol C.");
    let got = call(
        &state,
        "GET",
        "/api/v1/accounts/nobody@example.org",
        auth,
        None,
    )
    .await;
    assert_error(&got, StatusCode::NOT_FOUND);
    let got = call(&state, "GET", "/api/v1/accounts/nope", auth, None).await;
    assert_error(&got, StatusCode::BAD_REQUEST);

    let change =
        r#"{"display_name": null, "admin": true, "storage_limit": 1000000, "messages_limit": 10}"#;
    let (status, body) = call(&state, "PATCH", carol_uri, auth, Some(change)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["display_name"], Value::Null);
    assert_eq!(body["admin"], true);
    assert_eq!(body["quota"]["storage_limit"], 1000000);
    assert_eq!(body["quota"]["messages_limit"], 10);
    // One limit back to unlimited; the other stays.
    let change = r#"{"storage_limit": null, "password": "new-pw"}"#;
    let (status, body) = call(&state, "PATCH", carol_uri, auth, Some(change)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["quota"]["storage_limit"], Value::Null);
    assert_eq!(body["quota"]["messages_limit"], 10);
    let got = call(&state, "GET", "/api/v1/me", Some(&carol), None).await;
    assert_error(&got, StatusCode::UNAUTHORIZED);
    let carol = basic("carol@example.org", "new-pw");
    let (status, _) = call(&state, "GET", "/api/v1/me", Some(&carol), None).await;
    assert_eq!(status, StatusCode::OK);
    for (bad, code) in [
        (r#"{"password": ""}"#, StatusCode::BAD_REQUEST),
        (r#"{"display_name": "a\u0007b"}"#, StatusCode::BAD_REQUEST),
        (r#"{"admin": "yes"}"#, StatusCode::BAD_REQUEST),
        (r#"{"storage_limit": -1}"#, StatusCode::BAD_REQUEST),
        ("{", StatusCode::BAD_REQUEST),
    ] {
        let got = call(&state, "PATCH", carol_uri, auth, Some(bad)).await;
        assert_error(&got, code);
    }
    let got = call(
        &state,
        "PATCH",
        "/api/v1/accounts/nobody@example.org",
        auth,
        Some(r#"{"admin": true}"#),
    )
    .await;
    assert_error(&got, StatusCode::NOT_FOUND);

    // An administrator account cannot lock itself out; a token may change anyone.
    let own = format!("/api/v1/accounts/{ADMIN}");
    let got = call(&state, "PATCH", &own, auth, Some(r#"{"admin": false}"#)).await;
    assert_error(&got, StatusCode::FORBIDDEN);
    let got = call(&state, "DELETE", &own, auth, None).await;
    assert_error(&got, StatusCode::FORBIDDEN);
    let (status, _) = call(&state, "PATCH", &own, auth, Some(r#"{"admin": true}"#)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = call(&state, "DELETE", carol_uri, auth, None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let got = call(&state, "DELETE", carol_uri, auth, None).await;
    assert_error(&got, StatusCode::NOT_FOUND);
    let got = call(&state, "GET", "/api/v1/me", Some(&carol), None).await;
    assert_error(&got, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_user_changes_only_their_own_password_and_name() {
    let state = setup().await;
    let own = format!("/api/v1/accounts/{USER}");
    let (status, body) = call(
        &state,
        "PATCH",
        &own,
        Some(&user()),
        Some(r#"{"display_name": "Ursula", "password": "changed"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["display_name"], "Ursula");
    let changed = basic(USER, "changed");
    for forbidden in [
        r#"{"admin": true}"#,
        r#"{"admin": false}"#,
        r#"{"storage_limit": null}"#,
        r#"{"messages_limit": 5, "display_name": "x"}"#,
    ] {
        let got = call(&state, "PATCH", &own, Some(&changed), Some(forbidden)).await;
        assert_error(&got, StatusCode::FORBIDDEN);
    }
    let other = format!("/api/v1/accounts/{ADMIN}");
    let got = call(
        &state,
        "PATCH",
        &other,
        Some(&changed),
        Some(r#"{"password": "taken-over"}"#),
    )
    .await;
    assert_error(&got, StatusCode::FORBIDDEN);
    let (status, body) = call(&state, "GET", &own, Some(&changed), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["admin"], false);
    assert_eq!(body["display_name"], "Ursula");
}

#[tokio::test]
async fn app_passwords() {
    let state = setup().await;
    let own = format!("/api/v1/accounts/{USER}/app-passwords");
    // A user makes one for themselves…
    let (status, body) = call(
        &state,
        "POST",
        &own,
        Some(&user()),
        Some(r#"{"name": "phone"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "phone");
    let password = body["password"].as_str().unwrap().to_owned();
    // …which logs in (the API takes app passwords)…
    let with_app = basic(USER, &password);
    let (status, body) = call(&state, "GET", "/api/v1/me", Some(&with_app), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["address"], USER);
    // …but not for anyone else.
    let others = format!("/api/v1/accounts/{ADMIN}/app-passwords");
    let got = call(
        &state,
        "POST",
        &others,
        Some(&user()),
        Some(r#"{"name": "evil"}"#),
    )
    .await;
    assert_error(&got, StatusCode::FORBIDDEN);
    let got = call(&state, "GET", &others, Some(&user()), None).await;
    assert_error(&got, StatusCode::FORBIDDEN);
    let got = call(
        &state,
        "DELETE",
        &format!("{others}/phone"),
        Some(&user()),
        None,
    )
    .await;
    assert_error(&got, StatusCode::FORBIDDEN);

    let got = call(
        &state,
        "POST",
        &own,
        Some(&user()),
        Some(r#"{"name": "phone"}"#),
    )
    .await;
    assert_error(&got, StatusCode::CONFLICT);
    let got = call(&state, "POST", &own, Some(&user()), Some(r#"{"name": ""}"#)).await;
    assert_error(&got, StatusCode::BAD_REQUEST);

    // The administrator sees it (never the secret) and may revoke it.
    let (status, body) = call(&state, "GET", &own, Some(&admin()), None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = body.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "phone");
    assert!(listed[0]["created_at"].is_i64());
    assert!(listed[0].get("password").is_none() && listed[0].get("hash").is_none());
    let missing = "/api/v1/accounts/nobody@example.org/app-passwords";
    let got = call(&state, "GET", missing, Some(&admin()), None).await;
    assert_error(&got, StatusCode::NOT_FOUND);

    let (status, _) = call(
        &state,
        "DELETE",
        &format!("{own}/phone"),
        Some(&admin()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let got = call(
        &state,
        "DELETE",
        &format!("{own}/phone"),
        Some(&user()),
        None,
    )
    .await;
    assert_error(&got, StatusCode::NOT_FOUND);
    let got = call(&state, "GET", "/api/v1/me", Some(&with_app), None).await;
    assert_error(&got, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn aliases() {
    let state = setup().await;
    let auth = Some(admin());
    let auth = auth.as_deref();
    let add = format!(r#"{{"alias": "Postmaster@example.org", "target": "{USER}"}}"#);
    let (status, body) = call(&state, "POST", "/api/v1/aliases", auth, Some(&add)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body,
        json!({"alias": "Postmaster@example.org", "target": USER})
    );
    let got = call(&state, "POST", "/api/v1/aliases", auth, Some(&add)).await;
    assert_error(&got, StatusCode::CONFLICT);
    for bad in [
        r#"{"alias": "x@example.org", "target": "nobody@example.org"}"#,
        r#"{"alias": "x@elsewhere.example", "target": "user@example.org"}"#,
        r#"{"alias": "nope", "target": "user@example.org"}"#,
        r#"{"alias": "x@example.org"}"#,
    ] {
        let got = call(&state, "POST", "/api/v1/aliases", auth, Some(bad)).await;
        assert_error(&got, StatusCode::BAD_REQUEST);
    }
    let (status, body) = call(&state, "GET", "/api/v1/aliases", auth, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!([{"alias": "Postmaster@example.org", "target": USER}])
    );
    let uri = "/api/v1/aliases/postmaster@example.org";
    let (status, _) = call(&state, "DELETE", uri, auth, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &call(&state, "DELETE", uri, auth, None).await,
        StatusCode::NOT_FOUND,
    );
}

/// A data directory of its own for a test (the DKIM keys are files there).
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "postie-web-api-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn dkim_keys() {
    let dir = TempDir::new("dkim");
    let config = config::Config {
        hostname: "mail.example.net".into(),
        ..config::Config::default()
    }
    .with_data_dir(dir.0.clone());
    let state = state_with(config).await;
    add_account(&state, ADMIN, ADMIN_PW, true).await;
    let auth = Some(admin());
    let auth = auth.as_deref();

    let (status, body) = call(&state, "GET", "/api/v1/dkim", auth, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let generate = r#"{"domain": "example.org"}"#;
    let (status, body) = call(&state, "POST", "/api/v1/dkim", auth, Some(generate)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let made = body.as_array().unwrap();
    let kinds: Vec<&str> = made
        .iter()
        .map(|k| k["algorithm"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ed25519", "rsa"]);
    for key in made {
        assert_eq!(key["domain"], "example.org");
        let selector = key["selector"].as_str().unwrap();
        assert_eq!(
            key["record_name"],
            format!("{selector}._domainkey.example.org")
        );
        assert!(key["record"].as_str().unwrap().starts_with("v=DKIM1;"));
    }
    let (_, listed) = call(&state, "GET", "/api/v1/dkim?domain=example.org", auth, None).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let (_, other) = call(&state, "GET", "/api/v1/dkim?domain=example.net", auth, None).await;
    assert_eq!(other, json!([]));
    let got = call(
        &state,
        "GET",
        "/api/v1/dkim?domain=bad%20domain",
        auth,
        None,
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST);
    // The DNS records now name the keys.
    let (_, dns) = call(&state, "GET", "/api/v1/domains/example.org/dns", auth, None).await;
    assert_eq!(dns["note"], Value::Null);

    let got = call(
        &state,
        "POST",
        "/api/v1/dkim",
        auth,
        Some(r#"{"domain": "example.net"}"#),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST);

    let selector = made[0]["selector"].as_str().unwrap();
    let uri = format!("/api/v1/dkim/example.org/{selector}");
    let (status, _) = call(&state, "DELETE", &uri, auth, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &call(&state, "DELETE", &uri, auth, None).await,
        StatusCode::NOT_FOUND,
    );
    let (_, listed) = call(&state, "GET", "/api/v1/dkim", auth, None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

async fn enqueue(state: &WebState, sender: Option<&str>) -> QueueId {
    let envelope = Envelope {
        sender: sender.map(|s| Address::parse(s).unwrap()),
        recipients: vec![Address::parse("rcpt@example.net").unwrap()],
        body_type: Default::default(),
        smtputf8: false,
        require_tls: false,
        dsn: Default::default(),
    };
    let body = b"From: a@example.org\r\nSubject: t\r\n\r\nhello\r\n";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let id = QueueId::generate(u64::try_from(now).unwrap());
    state.store.enqueue(id, &envelope, body).await.unwrap();
    id
}

#[tokio::test]
async fn queue() {
    let state = setup().await;
    let auth = Some(admin());
    let auth = auth.as_deref();
    let (status, body) = call(&state, "GET", "/api/v1/queue", auth, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let id = enqueue(&state, Some("a@example.org")).await;

    let (status, body) = call(&state, "GET", "/api/v1/queue", auth, None).await;
    assert_eq!(status, StatusCode::OK);
    let entry = &body[0];
    assert_eq!(entry["id"], id.to_string());
    assert_eq!(entry["sender"], "a@example.org");
    assert_eq!(entry["held"], false);
    assert_eq!(entry["recipients"][0]["address"], "rcpt@example.net");
    assert_eq!(entry["recipients"][0]["status"], "pending");
    assert_eq!(entry["recipients"][0]["attempts"], 0);
    assert!(entry["next_attempt"].is_i64());
    assert_eq!(entry["recipients"][0]["hosts"], json!([]));

    // A deferral after two MX hosts failed: the reason's summary, then each host.
    let reason = "4.4.1 mx2.example.net[192.0.2.2]: connection refused\n  \
                  mx1.example.net[192.0.2.1]: 421 4.3.2 busy\n  \
                  mx2.example.net[192.0.2.2]: 4.4.1 connection refused";
    let outcome = store::RecipientOutcome::Deferred {
        next_attempt: 1,
        reason: reason.to_owned(),
    };
    state.store.queue_mark(id, 0, &outcome).await.unwrap();
    let one = format!("/api/v1/queue/{id}");
    let (status, body) = call(&state, "GET", &one, auth, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], id.to_string());
    assert_eq!(body["last_error"], reason);
    assert_eq!(
        body["recipients"][0]["hosts"],
        json!([
            {"host": "mx1.example.net[192.0.2.1]", "error": "421 4.3.2 busy"},
            {"host": "mx2.example.net[192.0.2.2]", "error": "4.4.1 connection refused"},
        ])
    );

    let (status, body) = call(&state, "POST", &format!("{one}/hold"), auth, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["held"], true);
    let (status, body) = call(&state, "POST", &format!("{one}/release"), auth, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["due"], 1);
    let (_, body) = call(&state, "GET", &one, auth, None).await;
    assert_eq!(body["held"], false);

    for flush in [
        None,
        Some("{}".to_owned()),
        Some(format!(r#"{{"id": "{id}"}}"#)),
        Some(r#"{"domain": "example.net"}"#.to_owned()),
    ] {
        let (status, body) = call(
            &state,
            "POST",
            "/api/v1/queue/flush",
            auth,
            flush.as_deref(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{flush:?}: {body}");
        assert_eq!(body["due"], 1, "{flush:?}");
    }
    for (bad, code) in [
        (r#"{"id": "nope"}"#, StatusCode::BAD_REQUEST),
        (r#"{"domain": "bad domain"}"#, StatusCode::BAD_REQUEST),
        ("{", StatusCode::BAD_REQUEST),
        (r#"{"id": "0000000000000001"}"#, StatusCode::NOT_FOUND),
    ] {
        let got = call(&state, "POST", "/api/v1/queue/flush", auth, Some(bad)).await;
        assert_error(&got, code);
    }

    let missing = "/api/v1/queue/0000000000000001";
    for (method, uri) in [
        ("GET", missing.to_owned()),
        ("DELETE", missing.to_owned()),
        ("POST", format!("{missing}/hold")),
        ("POST", format!("{missing}/release")),
    ] {
        assert_error(
            &call(&state, method, &uri, auth, None).await,
            StatusCode::NOT_FOUND,
        );
    }
    for (method, uri) in [
        ("GET", "/api/v1/queue/nope"),
        ("DELETE", "/api/v1/queue/nope"),
        ("POST", "/api/v1/queue/nope/hold"),
        ("POST", "/api/v1/queue/nope/release"),
    ] {
        assert_error(
            &call(&state, method, uri, auth, None).await,
            StatusCode::BAD_REQUEST,
        );
    }
    let got = call(&state, "DELETE", &format!("{one}?bounce=maybe"), auth, None).await;
    assert_error(&got, StatusCode::BAD_REQUEST);

    let (status, body) = call(&state, "DELETE", &format!("{one}?bounce=true"), auth, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id.to_string());
    let report = body["bounce"].as_str().expect("a bounce to the sender");
    let got = call(&state, "GET", &one, auth, None).await;
    assert_error(&got, StatusCode::NOT_FOUND);
    let (status, body) = call(
        &state,
        "GET",
        &format!("/api/v1/queue/{report}"),
        auth,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sender"], Value::Null, "a bounce has the null sender");

    let (status, body) = call(
        &state,
        "DELETE",
        &format!("/api/v1/queue/{report}"),
        auth,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["bounce"], Value::Null);
    let (_, body) = call(&state, "GET", "/api/v1/queue", auth, None).await;
    assert_eq!(body, json!([]));
}

#[tokio::test]
async fn a_dns_check_past_its_deadline_is_504() {
    // A name server that never answers (the socket is bound, nothing reads it).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut config = config::Config {
        hostname: "mail.example.net".into(),
        ..config::Config::default()
    };
    config.dns.nameservers = vec![silent.local_addr().unwrap()];
    let state = state_with(config).await;
    add_account(&state, ADMIN, ADMIN_PW, true).await;
    let started = std::time::Instant::now();
    let got = call(
        &state,
        "GET",
        "/api/v1/domains/example.org/dns/check",
        Some(&admin()),
        None,
    )
    .await;
    assert!(started.elapsed() < super::dns::CHECK_DEADLINE * 2);
    // Either the resolver gave up on each record first (each an `error`), or the
    // deadline cut the check short.
    if got.0 == StatusCode::OK {
        assert!(
            got.1["records"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["status"] == "error" && r["why"].is_string()),
            "{}",
            got.1
        );
        assert_eq!(got.1["all_ok"], false);
    } else {
        assert_error(&got, StatusCode::GATEWAY_TIMEOUT);
    }
    drop(silent);
}

/// An app password opens the API for its account, but never changes that account's
/// credentials: a leaked device password must not take the account over.
#[tokio::test]
async fn an_app_password_cannot_change_its_accounts_credentials() {
    let state = setup().await;
    let own = format!("/api/v1/accounts/{USER}/app-passwords");
    let (status, body) = call(
        &state,
        "POST",
        &own,
        Some(&user()),
        Some(r#"{"name": "phone"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let phone = basic(USER, body["password"].as_str().unwrap());
    let account = format!("/api/v1/accounts/{USER}");

    // What the account may do otherwise still works with it.
    let (status, _) = call(&state, "GET", &account, Some(&phone), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &state,
        "PATCH",
        &account,
        Some(&phone),
        Some(r#"{"display_name": "From the phone"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Its credentials do not.
    let got = call(
        &state,
        "PATCH",
        &account,
        Some(&phone),
        Some(r#"{"password": "taken-over-1234"}"#),
    )
    .await;
    assert_error(&got, StatusCode::FORBIDDEN);
    let got = call(
        &state,
        "POST",
        &own,
        Some(&phone),
        Some(r#"{"name": "more"}"#),
    )
    .await;
    assert_error(&got, StatusCode::FORBIDDEN);
    let got = call(
        &state,
        "DELETE",
        &format!("{own}/phone"),
        Some(&phone),
        None,
    )
    .await;
    assert_error(&got, StatusCode::FORBIDDEN);
    // The account password still may.
    let (status, body) = call(
        &state,
        "PATCH",
        &account,
        Some(&user()),
        Some(r#"{"password": "new-user-secret"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(
        &state,
        "GET",
        "/api/v1/me",
        Some(&basic(USER, "new-user-secret")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}
