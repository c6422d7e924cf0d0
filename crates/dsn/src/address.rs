//! The `address-type;address` values of a per-recipient block: `Final-Recipient` from
//! the address Postie tried, `Original-Recipient` from the ORCPT the client gave
//! (RFC 3464 §2.3.1, §2.3.2). [`crate::status`] writes them; [`crate::report`] asks
//! whether any needs the internationalised report form.

/// `rfc822;addr` for an ASCII address, `utf-8;addr` for one that needs SMTPUTF8.
///
/// RFC 6533 §3: non-ASCII addresses take the `utf-8` address type; such an address
/// makes the whole report use `message/global-delivery-status` (see
/// [`crate::report::needs_smtputf8`]), where the raw `utf-8-address` form is allowed.
pub(crate) fn final_recipient(address: &str) -> String {
    typed("rfc822", address)
}

/// The ORCPT value `type;xtext` as given on RCPT (RFC 3461 §4.2) turned into the
/// `Original-Recipient` value: the address part xtext-decoded (RFC 3461 §4 defines
/// xtext as the encoding of the parameter on the SMTP command line, not of the address
/// itself). A value with no `;` is taken as an `rfc822` address; one whose xtext is
/// malformed is kept as given.
pub(crate) fn original_recipient(orcpt: &str) -> String {
    let (kind, encoded) = orcpt.split_once(';').unwrap_or(("rfc822", orcpt));
    let encoded = encoded.trim();
    let decoded = message::dsn::xtext_decode(encoded).unwrap_or_else(|| encoded.to_string());
    typed(kind.trim(), &decoded)
}

/// Whether the ORCPT's address is non-ASCII once decoded.
pub(crate) fn original_is_utf8(orcpt: &str) -> bool {
    !original_recipient(orcpt).is_ascii()
}

/// `kind;address`; an `rfc822` address that is not ASCII becomes `utf-8` (RFC 6533 §3:
/// `rfc822` addresses are ASCII only).
fn typed(kind: &str, address: &str) -> String {
    let kind = if kind.eq_ignore_ascii_case("rfc822") && !address.is_ascii() {
        "utf-8"
    } else {
        kind
    };
    format!("{kind};{address}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_recipient_types() {
        assert_eq!(final_recipient("bob@example.net"), "rfc822;bob@example.net");
        assert_eq!(
            final_recipient("b\u{f8}b@example.net"),
            "utf-8;b\u{f8}b@example.net"
        );
    }

    #[test]
    fn orcpt_is_xtext_decoded() {
        assert_eq!(
            original_recipient("rfc822;alice+2Btag@example.org"),
            "rfc822;alice+tag@example.org"
        );
        assert_eq!(
            original_recipient("RFC822;b+C3+B8b@example.org"),
            "utf-8;b\u{f8}b@example.org"
        );
        assert!(original_is_utf8("rfc822;b+C3+B8b@example.org"));
        assert!(!original_is_utf8("rfc822;bob@example.org"));
        assert_eq!(
            original_recipient("utf-8;b\\x{F8}b@example.org"),
            "utf-8;b\\x{F8}b@example.org"
        );
        assert_eq!(
            original_recipient("bob@example.org"),
            "rfc822;bob@example.org"
        );
        assert_eq!(original_recipient("rfc822;bad+Z"), "rfc822;bad+Z");
    }
}
