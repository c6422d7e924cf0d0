//! `GET /account/mobileconfig`: an Apple configuration profile for the signed-in
//! user's account, which iPhone, iPad and Mac install to set up Mail (Apple's
//! Configuration Profile Reference, payload type `com.apple.mail.managed`).
//!
//! Where it sits: offered on the setup page ([`super::setup`]), by link and QR code.
//! It names the config's `hostname` and the advertised ports
//! ([`crate::WebState::advertised_ports`]): IMAP on the imaps port, SMTP on the
//! submissions port, both over implicit TLS (RFC 8314); 409 when either listener is
//! off, since a profile cannot say "none".
//!
//! Security stance: the profile holds no password (the device asks for one: the
//! account's, or better an app password). Every value in it is XML-escaped
//! ([`crate::xml::escape`]). The payload UUIDs are derived from the address and the
//! host name, so installing it again replaces the profile instead of adding a second.

use crate::WebState;
use crate::principal::SignedIn;
use crate::xml::escape;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;

/// The MIME type Apple devices install profiles from.
pub const CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// The mobileconfig route.
pub fn routes() -> Router<WebState> {
    Router::new().route("/account/mobileconfig", get(download))
}

/// `GET /account/mobileconfig`.
async fn download(State(state): State<WebState>, user: SignedIn) -> Response {
    let ports = state.advertised_ports();
    let (Some(imaps), Some(submissions)) = (ports.imaps, ports.submissions) else {
        let body = html! {
            p {
                "This server offers no IMAP over TLS or no SMTP submission over TLS "
                "(listen.imaps or listen.submissions is off), so there is no profile to "
                "install. The " a href="/account/setup" { "setup page" } " lists what it does offer."
            }
        };
        return super::layout::respond(
            StatusCode::CONFLICT,
            super::layout::page("No profile", Some(&user), body),
        );
    };
    let hostname = (state.config)().hostname.clone();
    let address = user.account.address.to_unicode();
    let description = match &user.account.display_name {
        Some(name) => format!("{name} ({address})"),
        None => address.clone(),
    };
    let document = profile(&Profile {
        address: &address,
        display_name: user.account.display_name.as_deref(),
        description: &description,
        hostname: &hostname,
        imaps,
        submissions,
    });
    let filename = format!(
        "{}.mobileconfig",
        filename_safe(&user.account.address.normalized())
    );
    let disposition = format!("attachment; filename=\"{filename}\"");
    let mut response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        document,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    super::no_store(&mut response);
    response
}

/// What a profile describes.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    /// The mail address (user name, email address).
    pub address: &'a str,
    /// The account's display name, for the mail it sends.
    pub display_name: Option<&'a str>,
    /// The account's name in Settings.
    pub description: &'a str,
    /// The server's host name.
    pub hostname: &'a str,
    /// The IMAP-over-TLS port.
    pub imaps: u16,
    /// The SMTP-submission-over-TLS port.
    pub submissions: u16,
}

/// The profile as plist XML (Apple's PropertyList-1.0 DTD).
pub fn profile(p: &Profile) -> String {
    let host = p.hostname.trim_end_matches('.').to_ascii_lowercase();
    let seed = format!("{}\n{}", p.address.to_lowercase(), host);
    let profile_uuid = uuid(&format!("profile\n{seed}"));
    let mail_uuid = uuid(&format!("mail\n{seed}"));
    let reverse: Vec<&str> = host.split('.').rev().collect();
    let base = format!("{}.postie", reverse.join("."));
    let profile_id = format!("{base}.profile.{}", profile_uuid.to_ascii_lowercase());
    let mail_id = format!("{base}.mail.{}", mail_uuid.to_ascii_lowercase());
    let s = |v: &str| format!("<string>{}</string>", escape(v));
    let address = s(p.address);
    let hostname = s(&host);

    let mut mail = vec![
        ("EmailAccountType", s("EmailTypeIMAP")),
        ("EmailAccountDescription", s(p.description)),
    ];
    if let Some(name) = p.display_name {
        mail.push(("EmailAccountName", s(name)));
    }
    mail.extend([
        ("EmailAddress", address.clone()),
        ("IncomingMailServerHostName", hostname.clone()),
        (
            "IncomingMailServerPortNumber",
            format!("<integer>{}</integer>", p.imaps),
        ),
        ("IncomingMailServerUseSSL", "<true/>".into()),
        ("IncomingMailServerUsername", address.clone()),
        ("IncomingMailServerAuthentication", s("EmailAuthPassword")),
        ("OutgoingMailServerHostName", hostname),
        (
            "OutgoingMailServerPortNumber",
            format!("<integer>{}</integer>", p.submissions),
        ),
        ("OutgoingMailServerUseSSL", "<true/>".into()),
        ("OutgoingMailServerUsername", address),
        ("OutgoingMailServerAuthentication", s("EmailAuthPassword")),
        ("OutgoingPasswordSameAsIncomingPassword", "<true/>".into()),
        ("PayloadDisplayName", s(&format!("Mail: {}", p.address))),
        ("PayloadIdentifier", s(&mail_id)),
        ("PayloadType", s("com.apple.mail.managed")),
        ("PayloadUUID", s(&mail_uuid)),
        ("PayloadVersion", "<integer>1</integer>".into()),
    ]);

    let mut out = String::with_capacity(4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n");
    out.push_str("<plist version=\"1.0\">\n<dict>\n");
    out.push_str("\t<key>PayloadContent</key>\n\t<array>\n\t\t<dict>\n");
    for (key, value) in &mail {
        out.push_str(&format!("\t\t\t<key>{key}</key>\n\t\t\t{value}\n"));
    }
    out.push_str("\t\t</dict>\n\t</array>\n");
    let outer = [
        (
            "PayloadDescription",
            s(&format!(
                "Sets up Mail for {} on {}. Mail asks for the password: your own, or an app password.",
                p.address, host
            )),
        ),
        ("PayloadDisplayName", s(&format!("{} ({host})", p.address))),
        ("PayloadIdentifier", s(&profile_id)),
        ("PayloadRemovalDisallowed", "<false/>".into()),
        ("PayloadType", s("Configuration")),
        ("PayloadUUID", s(&profile_uuid)),
        ("PayloadVersion", "<integer>1</integer>".into()),
    ];
    for (key, value) in &outer {
        out.push_str(&format!("\t<key>{key}</key>\n\t{value}\n"));
    }
    out.push_str("</dict>\n</plist>\n");
    out
}

/// A UUID derived from `seed` (FNV-1a, 128 bits: stable across builds and
/// platforms), marked as an RFC 9562 version 8 (custom) UUID, written 8-4-4-4-12 in
/// upper-case hex.
pub fn uuid(seed: &str) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut h = OFFSET;
    for b in seed.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(PRIME);
    }
    let mut bytes = h.to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `name` with every character but ASCII letters, digits and `.@+-_` as `_`, for a
/// `Content-Disposition` file name.
fn filename_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".@+-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stable_and_well_formed() {
        let a = uuid("alice@example.org\nmail.example.net");
        assert_eq!(a, uuid("alice@example.org\nmail.example.net"));
        assert_ne!(a, uuid("bob@example.org\nmail.example.net"));
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(
            a.chars()
                .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert!(parts[2].starts_with('8'), "version 8: {a}");
    }

    #[test]
    fn values_are_escaped_and_filenames_safe() {
        let doc = profile(&Profile {
            address: "a&b@example.org",
            display_name: Some("<Al & \"Bo\">"),
            description: "<d>",
            hostname: "mail.example.net",
            imaps: 993,
            submissions: 465,
        });
        assert!(
            doc.contains("<string>a&amp;b@example.org</string>"),
            "{doc}"
        );
        assert!(
            doc.contains("<string>&lt;Al &amp; &quot;Bo&quot;&gt;</string>"),
            "{doc}"
        );
        assert!(!doc.contains("<d>"));
        assert_eq!(filename_safe("a\"b@ex.org"), "a_b@ex.org");
        assert_eq!(filename_safe("li@例子.cn"), "li@__.cn");
    }
}
