//! The shape app passwords ([`crate::app_password`]) and API tokens
//! ([`crate::api_token`]) share: a recognisable prefix, an id that names the stored
//! record, a separator and a secret, both in lower-case base32 (`a`-`z`, `2`-`7`:
//! easy to type, no look-alikes).
//!
//! Security stance: no I/O; randomness from the operating system's generator
//! (`rand`).

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `n` random base32 characters.
pub(crate) fn random_chars(n: usize) -> String {
    // 256 is a multiple of 32, so masking a random byte picks every letter equally.
    (0..n)
        .map(|_| ALPHABET[usize::from(rand::random::<u8>() & 31)] as char)
        .collect()
}

/// Splits `whole` (surrounding spaces ignored) of the form
/// `PREFIX` + id + `separator` + secret, with exactly `id_len` and `secret_len` base32
/// characters, into (id, secret); `None` for anything else.
pub(crate) fn split<'a>(
    whole: &'a str,
    prefix: &str,
    separator: char,
    id_len: usize,
    secret_len: usize,
) -> Option<(&'a str, &'a str)> {
    let rest = whole.trim().strip_prefix(prefix)?;
    let (id, secret) = rest.split_once(separator)?;
    let ok =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| ALPHABET.contains(&b));
    (ok(id, id_len) && ok(secret, secret_len)).then_some((id, secret))
}
