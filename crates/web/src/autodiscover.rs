//! Microsoft Autodiscover, the "POX" (plain old XML) form Outlook uses for IMAP and
//! POP3 accounts ([MS-OXDSCLI] §2.2.3 request, §2.2.4 response with the
//! `outlook/responseschema/2006a` schema): `POST /autodiscover/autodiscover.xml`
//! (and `/Autodiscover/Autodiscover.xml`) with the user's `EMailAddress`.
//!
//! Where it sits: a route of [`crate::router`]. The body is read up to [`MAX_BODY`]
//! (past it: 413), the address is taken out by [`email_address`], a flat scan for
//! the `EMailAddress` element (no XML tree, no entity expansion beyond the predefined
//! ones, no recursion, no DTD: a `<!DOCTYPE` is refused), and the answer lists IMAP,
//! POP3 and SMTP with SSL on at the advertised ports, or 404 when the domain is not
//! local. Every value is XML-escaped.

use crate::{MailPorts, WebState, autoconfig::local_domain, text, xml, xml_response};
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use message::Address;

/// The largest request body read (a real request is a few hundred bytes).
pub const MAX_BODY: usize = 16 * 1024;

/// The longest address taken from a request (RFC 5321 §4.5.3.1.3 path length).
const MAX_ADDRESS: usize = 256;

/// `POST …/autodiscover.xml`.
pub async fn handler(State(state): State<WebState>, body: Body) -> Response {
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"),
    };
    let Some(address) = std::str::from_utf8(&bytes).ok().and_then(email_address) else {
        return text(StatusCode::BAD_REQUEST, "no EMailAddress in the request\n");
    };
    let Ok(address) = Address::parse(&address) else {
        return text(StatusCode::BAD_REQUEST, "EMailAddress is not an address\n");
    };
    match local_domain(&state, address.domain()).await {
        Ok(true) => {}
        Ok(false) => return text(StatusCode::NOT_FOUND, "not a domain of this server\n"),
        Err(status) => return text(status, "the store is not available\n"),
    }
    let config = (state.config)();
    xml_response(document(
        &config.hostname,
        &address.to_string(),
        state.advertised_ports(),
    ))
}

/// The text of the first `EMailAddress` element of a request (any namespace prefix),
/// unescaped and trimmed; `None` when there is none, it is empty or too long, or the
/// request has a DTD.
pub fn email_address(request: &str) -> Option<String> {
    if request.contains("<!DOCTYPE") || request.contains("<!ENTITY") {
        return None;
    }
    let mut rest = request;
    while let Some(open) = rest.find('<') {
        let tag_start = &rest[open + 1..];
        let close = tag_start.find('>')?;
        let tag = &tag_start[..close];
        let after = &tag_start[close + 1..];
        // The element name, without a namespace prefix and attributes.
        let name = tag.split([' ', '\t', '\r', '\n']).next().unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        if local == "EMailAddress" && !tag.ends_with('/') {
            let end = after.find("</")?;
            let value = xml::unescape(after[..end].trim())?;
            let value = value.trim();
            if value.is_empty() || value.len() > MAX_ADDRESS {
                return None;
            }
            return Some(value.to_owned());
        }
        rest = after;
    }
    None
}

/// The Outlook POX response for `address`, served by `hostname` on `ports`.
pub fn document(hostname: &str, address: &str, ports: MailPorts) -> String {
    let host = xml::escape(hostname);
    let login = xml::escape(address);
    let mut out = String::with_capacity(2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(
        "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n",
    );
    out.push_str(
        "  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n",
    );
    out.push_str("    <Account>\n");
    out.push_str("      <AccountType>email</AccountType>\n");
    out.push_str("      <Action>settings</Action>\n");
    let protocols = [
        ("IMAP", ports.imaps),
        ("POP3", ports.pop3s),
        ("SMTP", ports.submissions),
    ];
    for (kind, port) in protocols {
        let Some(port) = port else { continue };
        out.push_str("      <Protocol>\n");
        out.push_str(&format!("        <Type>{kind}</Type>\n"));
        out.push_str(&format!("        <Server>{host}</Server>\n"));
        out.push_str(&format!("        <Port>{port}</Port>\n"));
        out.push_str("        <DomainRequired>off</DomainRequired>\n");
        out.push_str(&format!("        <LoginName>{login}</LoginName>\n"));
        out.push_str("        <SPA>off</SPA>\n");
        out.push_str("        <SSL>on</SSL>\n");
        out.push_str("        <AuthRequired>on</AuthRequired>\n");
        out.push_str("      </Protocol>\n");
    }
    out.push_str("    </Account>\n");
    out.push_str("  </Response>\n");
    out.push_str("</Autodiscover>\n");
    out
}
