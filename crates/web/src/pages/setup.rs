//! `GET /account/setup`: what a person types into a mail client (server, port,
//! security, user name, password) for IMAP, POP3 and SMTP submission, a link to the
//! Apple profile ([`super::mobileconfig`]) and a QR code of its URL ([`super::qr`]).
//!
//! Where it sits: under [`crate::principal::SignedIn`]; the server is the config's
//! `hostname`, the ports the advertised ones ([`crate::WebState::advertised_ports`]),
//! as in the Thunderbird autoconfig and Outlook Autodiscover documents
//! ([`crate::autoconfig`], [`crate::autodiscover`]), which those clients fetch by
//! themselves.
//!
//! Security stance: the QR code's URL names the host the browser asked for (the
//! `Host` header) only when that is a plausible host name with an optional port,
//! else the config's `hostname`; it is drawn as SVG and shown as escaped text, never as markup.

use super::layout::page;
use crate::WebState;
use crate::principal::SignedIn;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use config::AccountPassword;
use maud::{Markup, html};

/// The setup route.
pub fn routes() -> Router<WebState> {
    Router::new().route("/account/setup", get(setup))
}

/// `GET /account/setup`.
async fn setup(State(state): State<WebState>, user: SignedIn, headers: HeaderMap) -> Response {
    let config = (state.config)();
    let hostname = config.hostname.clone();
    let web_only = config.auth.account_password == AccountPassword::WebOnly;
    let ports = state.advertised_ports();
    let address = user.account.address.to_unicode();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| plausible_host(h))
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| hostname.clone());
    // The address this page was reached at, scheme included: the Host header names
    // the listener's port, so an http page's port would be wrong under https.
    let scheme = if user.secure { "https" } else { "http" };
    let profile_url = format!("{scheme}://{host}/account/mobileconfig");
    let profile_offered = ports.imaps.is_some() && ports.submissions.is_some();
    let qr = if profile_offered {
        super::qr::svg(&profile_url, "QR code of the address of your Apple profile")
    } else {
        None
    };
    let rows = [
        ("Incoming mail: IMAP", ports.imaps),
        ("Incoming mail: POP3", ports.pop3s),
        ("Outgoing mail: SMTP", ports.submissions),
    ];
    let body: Markup = html! {
        h2 { "Automatic set-up" }
        p {
            "Thunderbird and Outlook find these settings by themselves (Thunderbird's "
            "autoconfig, Outlook's Autodiscover): give them your address "
            strong { (address) } " and your password, and they fill in the rest."
        }
        @if profile_offered {
            h2 { "iPhone, iPad and Mac" }
            p {
                "Install the "
                a href="/account/mobileconfig" download { "configuration profile" }
                " (Settings then shows it under \u{201c}Profile Downloaded\u{201d}), or "
                "scan this code with the phone's camera and sign in there:"
            }
            @if let Some(qr) = qr {
                figure.qr-code {
                    (qr)
                    figcaption.mono { (profile_url) }
                }
            }
            p.muted { "The profile holds no password: Mail asks for it when you install it." }
        }
        h2 { "By hand" }
        p { "For any other mail client, these are the settings:" }
        table.setup {
            thead { tr { th { "" } th { "Server" } th { "Port" } th { "Security" } } }
            tbody {
                @for (what, port) in rows {
                    tr {
                        th { (what) }
                        @match port {
                            Some(port) => {
                                td.mono { (hostname) }
                                td.mono { (port) }
                                td { "SSL/TLS" }
                            },
                            None => td.muted colspan="3" { "not offered by this server" },
                        }
                    }
                }
            }
        }
        table.setup {
            tr { th { "User name" } td.mono { (address) } }
            tr {
                th { "Password" }
                td {
                    "your password, or an "
                    a href="/account/app-passwords" { "app password" }
                    " (recommended; required when auth.account_password = web-only)"
                    @if web_only {
                        strong { " This server is set to web-only: mail clients need an app password." }
                    }
                }
            }
            tr { th { "Authentication" } td { "normal password (PLAIN over TLS)" } }
        }
    };
    super::layout::respond(StatusCode::OK, page("Set up a device", Some(&user), body))
}

/// Whether a `Host` header is a plausible host name, with an optional port: DNS
/// labels of letters, digits and hyphens (none starting or ending with a hyphen, at
/// most 63 octets each, 253 in all), or an IPv4 address; a port of 1 to 5 digits.
pub fn plausible_host(value: &str) -> bool {
    let (host, port) = match value.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (value, None),
    };
    if let Some(port) = port
        && (port.is_empty()
            || port.len() > 5
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u32>().map_or(true, |p| p == 0 || p > 65535))
    {
        return false;
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    message::domain::is_ldh_name(host)
}

#[cfg(test)]
mod tests {
    use super::plausible_host;

    #[test]
    fn plausible_hosts() {
        for ok in [
            "mail.example.org",
            "mail.example.org:8443",
            "localhost",
            "127.0.0.1:8080",
            "MAIL.Example.ORG.",
        ] {
            assert!(plausible_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example/x",
            "a b",
            "<script>",
            "[::1]:8443",
            "host:",
            "host:99999",
            "host:0",
            "-bad.example",
            "a..b",
            "user@host",
            "x\"y",
        ] {
            assert!(!plausible_host(bad), "{bad}");
        }
    }
}
