//! Thunderbird's autoconfig document, version 1.1 (the "clientConfig" format of
//! Mozilla's ISPDB, <https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat>),
//! served at `/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=A` and
//! `/mail/config-v1.1.xml?emailaddress=A` (the second on `autoconfig.DOMAIN`).
//!
//! Where it sits: a route of [`crate::router`]. The domain of the address must be one
//! of this server's local domains (else 404: we do not describe other people's
//! domains). The document names IMAP over TLS, POP3 over TLS and submission over TLS
//! (RFC 8314 implicit TLS, `socketType` SSL) on `hostname` at the ports of
//! [`crate::WebState::advertised_ports`]; a protocol without a port is left out. The
//! user name is `%EMAILADDRESS%` (the client puts the whole address), the password
//! travels inside TLS (`password-cleartext`). Every value is XML-escaped.

use crate::{MailPorts, WebState, text, xml::escape, xml_response};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use message::{Address, Domain};
use std::collections::HashMap;

/// `GET …/config-v1.1.xml?emailaddress=A`.
pub async fn handler(
    State(state): State<WebState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(address) = query.get("emailaddress") else {
        return text(StatusCode::BAD_REQUEST, "emailaddress is missing\n");
    };
    let Ok(address) = Address::parse(address.trim()) else {
        return text(StatusCode::BAD_REQUEST, "emailaddress is not an address\n");
    };
    match local_domain(&state, address.domain()).await {
        Ok(true) => {}
        Ok(false) => return text(StatusCode::NOT_FOUND, "not a domain of this server\n"),
        Err(status) => return text(status, "the store is not available\n"),
    }
    let config = (state.config)();
    xml_response(document(
        &config.hostname,
        address.domain(),
        state.advertised_ports(),
    ))
}

/// Whether `domain` is one of the server's; a store failure is a 503.
pub(crate) async fn local_domain(state: &WebState, domain: &Domain) -> Result<bool, StatusCode> {
    state.store.domain_is_local(domain).await.map_err(|e| {
        tracing::warn!(error = %e, "web: cannot look up a domain");
        StatusCode::SERVICE_UNAVAILABLE
    })
}

/// The clientConfig document for `domain`, served by `hostname` on `ports`.
pub fn document(hostname: &str, domain: &Domain, ports: MailPorts) -> String {
    let host = escape(hostname);
    let id = escape(domain.as_str());
    let name = escape(&domain.to_string());
    let mut out = String::with_capacity(1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<clientConfig version=\"1.1\">\n");
    out.push_str(&format!("  <emailProvider id=\"{id}\">\n"));
    out.push_str(&format!("    <domain>{id}</domain>\n"));
    out.push_str(&format!("    <displayName>{name}</displayName>\n"));
    out.push_str(&format!(
        "    <displayShortName>{name}</displayShortName>\n"
    ));
    let servers = [
        ("incomingServer", "imap", ports.imaps),
        ("incomingServer", "pop3", ports.pop3s),
        ("outgoingServer", "smtp", ports.submissions),
    ];
    for (element, kind, port) in servers {
        let Some(port) = port else { continue };
        out.push_str(&format!("    <{element} type=\"{kind}\">\n"));
        out.push_str(&format!("      <hostname>{host}</hostname>\n"));
        out.push_str(&format!("      <port>{port}</port>\n"));
        out.push_str("      <socketType>SSL</socketType>\n");
        out.push_str("      <authentication>password-cleartext</authentication>\n");
        out.push_str("      <username>%EMAILADDRESS%</username>\n");
        out.push_str(&format!("    </{element}>\n"));
    }
    out.push_str("  </emailProvider>\n");
    out.push_str("</clientConfig>\n");
    out
}
