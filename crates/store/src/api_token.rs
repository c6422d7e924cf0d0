//! API tokens: server-wide bearer tokens for the HTTP API (`postie token create`), each
//! with a name, each acting as an administrator, each revocable on its own.
//!
//! Where it sits: `postie token create` calls [`generate`], stores the id and
//! [`hash_secret`] of the secret with [`crate::Store::token_add`] and prints the token
//! once; it is never stored in the clear. When a request carries
//! `Authorization: Bearer …`, the web layer calls [`parse`], looks the record up by its
//! id with [`crate::Store::token_get`] and checks the secret with [`verify_secret`],
//! so exactly one hash is checked however many tokens there are.
//!
//! The form is `postie_tok_` + an 8-character id + `_` + a 32-character secret, both
//! in lower-case base32 (`a`-`z`, `2`-`7`) as app passwords use: 160 random bits of
//! secret, and a prefix secret scanners can recognise. Underscores, not hyphens, so a
//! double click selects the whole token.
//!
//! Why SHA-256 and not argon2 (as for passwords): the secret is 160 bits from the
//! operating system's generator, not something a person chose, so there is no
//! dictionary to slow down; a fast hash keeps every API request cheap.
//!
//! Security stance: no I/O; randomness from the operating system's generator (`rand`).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// One API token as stored; the record is part of the storage interface.
pub use store_api::ApiToken;

/// The prefix every API token starts with.
pub const PREFIX: &str = "postie_tok_";
/// Length of the id part.
pub const ID_LEN: usize = 8;
/// Length of the secret part.
pub const SECRET_LEN: usize = 32;
/// The longest token name, in characters.
pub const MAX_NAME: usize = 64;

/// A new token: (id, secret, the whole token to show the administrator once).
pub fn generate() -> (String, String, String) {
    let id = crate::secret_form::random_chars(ID_LEN);
    let secret = crate::secret_form::random_chars(SECRET_LEN);
    let whole = format!("{PREFIX}{id}_{secret}");
    (id, secret, whole)
}

/// Splits a token of the API-token form into (id, secret); `None` for anything else.
/// Surrounding spaces are ignored.
pub fn parse(whole: &str) -> Option<(&str, &str)> {
    crate::secret_form::split(whole, PREFIX, '_', ID_LEN, SECRET_LEN)
}

/// The hash stored for `secret`: SHA-256, lower-case hex (see the module docs for why
/// a fast hash suffices).
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// True when `secret` hashes to `hash`.
///
/// The comparison takes the same time wherever the first difference is (`subtle`'s
/// constant-time equality): with an early-exit `==`, the response time of many
/// guesses would tell an attacker how many leading characters of the stored hash
/// their guess matched. Hashing first also means the guess's own bytes never meet the
/// stored value directly.
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    let computed = hash_secret(secret);
    // Lengths are public (always 64 hex digits for a well-formed hash); only the
    // contents must not leak, and `ct_eq` is false for differing lengths.
    computed.as_bytes().ct_eq(hash.as_bytes()).into()
}

/// True when `name` is an acceptable token name: 1 to [`MAX_NAME`] characters of
/// `A`-`Z`, `a`-`z`, `0`-`9`, `.`, `_` and `-`.
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_back() {
        let (id, secret, whole) = generate();
        assert_eq!(whole.len(), PREFIX.len() + ID_LEN + 1 + SECRET_LEN);
        assert!(whole.starts_with("postie_tok_"));
        assert_eq!(parse(&whole), Some((id.as_str(), secret.as_str())));
        assert_eq!(
            parse(&format!(" {whole}\n")),
            Some((id.as_str(), secret.as_str()))
        );
        let (other, _, _) = generate();
        assert_ne!(id, other, "random ids");
    }

    #[test]
    fn other_strings_are_not_tokens() {
        let secret = "abcdefghijklmnopqrstuvwxyz234567";
        assert_eq!(secret.len(), SECRET_LEN);
        for t in [
            String::new(),
            "postie_tok_".to_string(),
            "postie_tok_abcdefgh".to_string(),
            format!("postie_tok_abcdefgh_{}", &secret[1..]), // secret one short
            format!("postie_tok_abcdefgh_{secret}a"),        // one long
            format!("postie_tok_ABCDEFGH_{secret}"),         // upper case
            format!("postie_tok_abcdefg1_{secret}"),         // 1 is not base32
            format!("postie_tok_abcdefgh-{secret}"),         // wrong separator
            format!("postie-abcdefgh-{secret}"),             // not the prefix
            format!("Postie_tok_abcdefgh_{secret}"),
        ] {
            assert_eq!(parse(&t), None, "{t:?}");
        }
        assert!(parse(&format!("postie_tok_abcdefgh_{secret}")).is_some());
    }

    #[test]
    fn hashes_verify_only_their_secret() {
        let (_, secret, _) = generate();
        let hash = hash_secret(&secret);
        assert_eq!(hash.len(), 64);
        assert!(
            hash.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert!(verify_secret(&secret, &hash));
        let (_, other, _) = generate();
        assert!(!verify_secret(&other, &hash));
        assert!(!verify_secret(&secret, ""));
        assert!(!verify_secret(&secret, &hash[1..]));
        // A known value, so the stored form never changes by accident.
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn names() {
        assert!(valid_name("ci"));
        assert!(valid_name("deploy-bot_2.prod"));
        assert!(valid_name(&"x".repeat(64)));
        assert!(!valid_name(""));
        assert!(!valid_name(&"x".repeat(65)));
        assert!(!valid_name("a b"));
        assert!(!valid_name("a\nb"));
        assert!(!valid_name("é"));
        assert!(!valid_name("a/b"));
    }
}
