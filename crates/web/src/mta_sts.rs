//! `GET /.well-known/mta-sts.txt`: our MTA-STS policy (RFC 8461 §3.3) for the local
//! domain the request's `Host` names as `mta-sts.DOMAIN`.
//!
//! Where it sits: a route of [`crate::router`], on the HTTPS listener where senders
//! fetch it (and on the HTTP listener too, harmless, for a TLS proxy in front). The
//! text is [`mailauth::sts_publish::policy_text`] of `[mta_sts]` and `hostname` in
//! force, the same `postie dns records` hashes into the `_mta-sts` record's id.
//!
//! Answers (§3.3): 200 with media type `text/plain` and the policy; 404 when `Host`
//! is not `mta-sts.` plus a local domain (we publish no policy for other people's
//! domains), never a redirect; 503 when the store cannot say whether the domain is
//! ours. The `Host` value is only parsed and looked up, never echoed.

use crate::WebState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mailauth::sts_publish::{POLICY_HOST_LABEL, policy_text};
use message::Domain;

/// `GET /.well-known/mta-sts.txt`.
pub async fn handler(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let Some(domain) = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(policy_domain)
    else {
        return crate::text(StatusCode::NOT_FOUND, "no MTA-STS policy here\n");
    };
    match crate::autoconfig::local_domain(&state, &domain).await {
        Ok(true) => {}
        Ok(false) => return crate::text(StatusCode::NOT_FOUND, "not a domain of this server\n"),
        Err(status) => return crate::text(status, "the store is not available\n"),
    }
    let config = (state.config)();
    let m = &config.mta_sts;
    let body = policy_text(m.mode.as_str(), m.max_age, &config.hostname, &m.mx);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"))],
        body,
    )
        .into_response()
}

/// The mail domain of a `Host` header `mta-sts.DOMAIN[:port]` (any case, a final dot
/// allowed); `None` for anything else (an address, another name, a bad domain).
fn policy_domain(host: &str) -> Option<Domain> {
    if host.starts_with('[') {
        return None; // an IPv6 literal names no domain
    }
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let domain = name.strip_prefix(POLICY_HOST_LABEL)?.strip_prefix('.')?;
    if domain.is_empty() || domain.len() > 253 {
        return None;
    }
    Domain::parse(domain).ok()
}

#[cfg(test)]
mod tests {
    use super::policy_domain;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn fetch(config: config::Config, host: &str) -> (StatusCode, String, String) {
        let state = crate::testing::state_with(config).await;
        let request = Request::get("/.well-known/mta-sts.txt")
            .header("host", host)
            .body(Body::empty())
            .unwrap();
        let response = crate::router(state).oneshot(request).await.unwrap();
        let status = response.status();
        let h = response.headers().clone();
        assert_eq!(h["x-content-type-options"], "nosniff");
        let kind = h["content-type"].to_str().unwrap().to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, kind, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_policy_is_served_for_local_domains_only() {
        let mut config = config::Config {
            hostname: "mail.example.net".into(),
            ..config::Config::default()
        };
        let (status, kind, body) = fetch(config.clone(), "mta-sts.example.org").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(kind, "text/plain");
        assert_eq!(
            body,
            "version: STSv1\r\nmode: testing\r\nmx: mail.example.net\r\nmax_age: 604800\r\n"
        );
        config.mta_sts.mode = config::MtaStsMode::Enforce;
        config.mta_sts.max_age = 86400;
        config.mta_sts.mx = vec!["*.example.net".into()];
        let (_, _, body) = fetch(config.clone(), "MTA-STS.example.org:8443").await;
        assert!(body.contains("mode: enforce\r\n"), "{body}");
        assert!(
            body.contains("mx: *.example.net\r\nmax_age: 86400\r\n"),
            "{body}"
        );
        for other in ["mta-sts.other.example", "example.org", "mail.example.net"] {
            let (status, _, _) = fetch(config.clone(), other).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{other}");
        }
    }

    #[test]
    fn the_domain_comes_from_the_policy_host() {
        let d = |h: &str| policy_domain(h).map(|d| d.as_str().to_owned());
        assert_eq!(d("mta-sts.example.org").as_deref(), Some("example.org"));
        assert_eq!(
            d("MTA-STS.Example.ORG.:443").as_deref(),
            Some("example.org")
        );
        for other in [
            "example.org",
            "mta-sts.",
            "mta-sts",
            "xmta-sts.example.org",
            "mta-stsexample.org",
            "[::1]:443",
            "127.0.0.1",
            "mta-sts.bad domain",
        ] {
            assert_eq!(d(other), None, "{other}");
        }
    }
}
