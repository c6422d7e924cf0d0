//! App passwords (what providers call authorisation codes): extra passwords of an
//! account, one per device or program, each with a name, that work for SMTP AUTH, POP3
//! and IMAP and can be revoked one at a time.
//!
//! Where it sits: `postie user app-password add` calls [`generate`], stores the id and
//! the argon2 hash of the secret with [`crate::Store::app_password_add`] and prints the
//! password once; it is never stored in the clear. At login the server calls [`parse`]:
//! a password of this form names its record by its id, so exactly one argon2 hash is
//! checked however many app passwords the account has (Fastmail and Stalwart do
//! likewise); any other password is checked against the account password.
//!
//! The form is `postie-` + an 8-character id + `-` + a 24-character secret, both in
//! lower-case base32 (`a`-`z`, `2`-`7`): 120 random bits of secret, easy to type on a
//! phone, and recognisable (by people and secret scanners) as a Postie password.
//!
//! Security stance: no I/O; randomness from the operating system's generator (`rand`).

/// The prefix every app password starts with.
pub const PREFIX: &str = "postie-";
/// Length of the id part.
pub const ID_LEN: usize = 8;
/// Length of the secret part.
pub const SECRET_LEN: usize = 24;

/// One app password as stored; the record is part of the storage interface.
pub use store_api::AppPassword;

/// A new app password: (id, secret, the whole password to show the user).
pub fn generate() -> (String, String, String) {
    let id = crate::secret_form::random_chars(ID_LEN);
    let secret = crate::secret_form::random_chars(SECRET_LEN);
    let whole = format!("{PREFIX}{id}-{secret}");
    (id, secret, whole)
}

/// Splits a password of the app-password form into (id, secret); `None` for any other
/// password (which is then an account password). Surrounding spaces are ignored.
pub fn parse(password: &str) -> Option<(&str, &str)> {
    crate::secret_form::split(password, PREFIX, '-', ID_LEN, SECRET_LEN)
}

/// True when `name` is an acceptable app password name: 1-64 characters, no control
/// characters, not only spaces.
pub fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= 64 && !name.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_parse_back() {
        let (id, secret, whole) = generate();
        assert_eq!(whole.len(), PREFIX.len() + ID_LEN + 1 + SECRET_LEN);
        assert_eq!(parse(&whole), Some((id.as_str(), secret.as_str())));
        assert_eq!(
            parse(&format!(" {whole}\n")),
            Some((id.as_str(), secret.as_str()))
        );
        let (other, _, _) = generate();
        assert_ne!(id, other, "random ids");
    }

    #[test]
    fn other_passwords_are_not_app_passwords() {
        for p in [
            "",
            "alice-secret",
            "postie-",
            "postie-abcdefgh",
            "postie-abcdefgh-abcdefghijklmnopqrstuvw", // secret one short
            "postie-abcdefgh-abcdefghijklmnopqrstuvwxy", // one long
            "postie-ABCDEFGH-abcdefghijklmnopqrstuvwx", // upper case
            "postie-abcdefg1-abcdefghijklmnopqrstuvwx", // 1 is not base32
            "Postie-abcdefgh-abcdefghijklmnopqrstuvwx",
        ] {
            assert_eq!(parse(p), None, "{p:?}");
        }
        assert!(parse("postie-abcdefgh-abcdefghijklmnopqrstuvwx").is_some());
    }

    #[test]
    fn names() {
        assert!(valid_name("phone"));
        assert!(valid_name("Alice's laptop (work)"));
        assert!(!valid_name(""));
        assert!(!valid_name("   "));
        assert!(!valid_name("a\nb"));
        assert!(!valid_name(&"x".repeat(65)));
    }
}
