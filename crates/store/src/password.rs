//! Password hashing for accounts: argon2id in the PHC string format.
//!
//! Where it sits: `postie user add` and `postie user passwd` call [`hash`] before handing
//! the result to [`crate::Store::account_add`] / [`crate::Store::account_set_password`];
//! the SMTP, POP3 and IMAP drivers call [`verify`] when a client authenticates. The store
//! itself only ever sees the PHC string.
//!
//! Security stance: no I/O. The salt is 16 random bytes from the operating system's
//! generator (through `rand`). [`verify`] treats every hash string as untrusted: a
//! malformed string, an algorithm other than argon2, or cost parameters so large that
//! checking them would exhaust the machine all answer `false`, never a panic.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};

use crate::StoreError;

/// Largest memory cost [`verify`] accepts, in KiB (1 GiB). A stored hash asking for more
/// is treated as damaged rather than allocated.
const MAX_M_COST_KIB: u32 = 1 << 20;
/// Largest time cost (passes) [`verify`] accepts.
const MAX_T_COST: u32 = 64;
/// Largest parallelism [`verify`] accepts.
const MAX_P_COST: u32 = 16;

/// Hashes `password` with argon2id (the argon2 crate's default parameters) and a fresh
/// random salt, returning the PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
pub fn hash(password: &str) -> Result<String, StoreError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| StoreError::Io(format!("cannot encode salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Io(format!("cannot hash password: {e}")))
}

/// True when `password` matches the PHC string `phc`. False on any mismatch, on a
/// malformed hash, on a non-argon2 algorithm and on unreasonable cost parameters.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash("correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(verify("correct horse", &phc));
        assert!(!verify("correct horsE", &phc));
        assert!(!verify("", &phc));
    }

    #[test]
    fn salts_differ() {
        let a = hash("same").expect("hash");
        let b = hash("same").expect("hash");
        assert_ne!(a, b);
        assert!(verify("same", &a) && verify("same", &b));
    }

    #[test]
    fn empty_and_unicode_passwords() {
        let phc = hash("").expect("hash");
        assert!(verify("", &phc));
        let phc = hash("pässwörd ✓").expect("hash");
        assert!(verify("pässwörd ✓", &phc));
        assert!(!verify("passwörd ✓", &phc));
    }

    #[test]
    fn malformed_hashes_are_false() {
        let good = hash("pw").expect("hash");
        let table = [
            "",
            "plain",
            "$",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$!!!!",
            "$argon2id$v=99$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
            "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
            "$5$rounds=5000$salt$hash",
            &good[..good.len() - 3],
        ];
        for phc in table {
            assert!(!verify("pw", phc), "{phc:?}");
        }
    }

    #[test]
    fn oversized_parameters_are_refused() {
        // A hash asking for 4 GiB of memory must not be computed.
        let phc = "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$\
                   AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!verify("pw", phc));
        let phc = "$argon2id$v=19$m=19456,t=100000,p=1$c2FsdHNhbHRzYWx0$\
                   AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!verify("pw", phc));
    }
}
