//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677), server side, as a pure
//! state machine driven by [`super::Exchange`], with channel binding `tls-exporter`
//! (RFC 9266).
//!
//! Where it sits: SMTP AUTH, POP3 AUTH and IMAP AUTHENTICATE start an exchange; the
//! client-first message names a user, and the exchange asks its driver for that user's
//! stored keys ([`Keys`]: salt, iteration count, one StoredKey/ServerKey pair per
//! credential, a fresh server nonce). It answers with server-first, checks the
//! client-final proof against every credential and reports which one matched (if any);
//! only after the driver has accepted the login (throttle, lockout) does server-final
//! (`v=`) go out. No I/O, no clock, no randomness: the nonce comes from the driver.
//!
//! Security stance: every client message is capped at [`MAX_MESSAGE`] bytes of base64
//! before it is decoded; parsing is linear with no recursion; the proof is compared in
//! constant time and against every credential (no early exit). The keys it holds are
//! derived values (RFC 5802 §3): a StoredKey does not let anyone log in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The largest client message accepted, in base64 bytes before decoding (RFC 5802
/// sets no limit; real messages are under 300 bytes).
pub const MAX_MESSAGE: usize = 4096;

/// The iteration count for new keys: RFC 7677 §4's minimum for SCRAM-SHA-256.
pub const ITERATIONS: u32 = 4096;

/// The channel binding type this server supports (RFC 9266 §2).
pub const TLS_EXPORTER: &str = "tls-exporter";

/// The TLS exporter label for `tls-exporter` (RFC 9266 §2): no context, 32 bytes.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";

/// The two keys kept for one credential (RFC 5802 §3): what the server needs to check
/// a proof and to prove itself, and nothing that logs in by itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    /// StoredKey = H(ClientKey).
    pub stored_key: [u8; 32],
    /// ServerKey = HMAC(SaltedPassword, "Server Key").
    pub server_key: [u8; 32],
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Derives the stored keys of `password` (RFC 5802 §3): SaltedPassword =
/// Hi(Normalize(password), salt, i) with PBKDF2-HMAC-SHA-256 (RFC 7677 §3), Normalize
/// being SASLprep (RFC 4013); a password SASLprep refuses is used as it is. CPU work
/// (thousands of HMACs): callers run it off the async workers.
pub fn derive(password: &str, salt: &[u8], iterations: u32) -> Secret {
    let normalized = stringprep::saslprep(password)
        .map(|p| p.into_owned())
        .unwrap_or_else(|_| password.to_owned());
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(normalized.as_bytes(), salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    Secret {
        stored_key: Sha256::digest(client_key).into(),
        server_key: hmac(&salted, b"Server Key"),
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// One credential the user may have used, with a label the driver chooses (the account
/// password, an app password's id) to learn which one matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The driver's name for it; reported back in [`Proved::matched`].
    pub label: String,
    /// Its keys.
    pub secret: Secret,
}

/// The driver's answer to [`super::Step::NeedKeys`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// The account's salt (or, for an unknown user, one derived from a server secret
    /// and the name, RFC 5802 §5.1, so the two look alike).
    pub salt: Vec<u8>,
    /// The iteration count.
    pub iterations: u32,
    /// The credentials whose keys count now (none for an unknown user).
    pub credentials: Vec<Credential>,
    /// The server's part of the nonce: printable ASCII without `,` (RFC 5802 §7), from
    /// at least 18 random bytes.
    pub server_nonce: String,
    /// Whether the user exists (handed back in [`Proved`] for the throttle).
    pub account_exists: bool,
}

/// The end of the proof check, for the driver to accept or refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proved {
    /// The user name (after SASLprep).
    pub username: String,
    /// The credential whose key the proof matched; `None` is a failed login.
    pub matched: Option<String>,
    /// As given in [`Keys::account_exists`].
    pub account_exists: bool,
}

/// Why an exchange failed, named as RFC 5802 §7's `server-error-value`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// The proof matched no credential.
    #[error("invalid-proof")]
    InvalidProof,
    /// `c=` is not the gs2 header and binding data of this connection.
    #[error("channel-bindings-dont-match")]
    ChannelBindingsDontMatch,
    /// The client used `y` though the server offers -PLUS here (RFC 5802 §6).
    #[error("server-does-support-channel-binding")]
    ServerDoesSupportChannelBinding,
    /// -PLUS on a connection without `tls-exporter` (not TLS 1.3).
    #[error("channel-binding-not-supported")]
    ChannelBindingNotSupported,
    /// A binding type other than `tls-exporter`.
    #[error("unsupported-channel-binding-type")]
    UnsupportedChannelBindingType,
    /// A `m=` extension (RFC 5802 §5.1: the server must fail).
    #[error("extensions-not-supported")]
    ExtensionsNotSupported,
    /// A user name with a bad `=` escape or refused by SASLprep.
    #[error("invalid-username-encoding")]
    InvalidUsernameEncoding,
    /// Not the message syntax of RFC 5802 §7, or too long.
    #[error("invalid-encoding")]
    InvalidEncoding,
    /// Anything else: a nonce that is not ours, acting as another user, the wrong
    /// gs2 flag for the mechanism.
    #[error("other-error")]
    OtherError,
}

/// Where a SCRAM exchange stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Scram {
    /// Waiting for client-first.
    ClientFirst(Binding),
    /// Waiting for the driver's [`Keys`].
    Keys(Box<First>),
    /// Server-first sent; waiting for client-final.
    ClientFinal(Box<Pending>),
    /// The proof was checked; waiting for the driver to accept the login of this user
    /// (the ServerSignature, the user name).
    Outcome([u8; 32], String),
    /// Server-final sent to this user; waiting for the client's empty answer.
    Ack(String),
}

/// The channel binding situation of one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Binding {
    /// The client chose SCRAM-SHA-256-PLUS.
    pub plus: bool,
    /// The connection's `tls-exporter` value, when it has one (TLS 1.3); -PLUS is
    /// offered exactly then.
    pub exporter: Option<[u8; 32]>,
}

/// A parsed client-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct First {
    binding: Binding,
    /// The gs2 header as sent (`n,,`, `y,,`, `p=tls-exporter,a=…,`).
    gs2_header: String,
    /// The flag was `p=tls-exporter`.
    bound: bool,
    username: String,
    client_nonce: String,
    bare: String,
}

/// What the check of client-final needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pending {
    first: First,
    keys: Keys,
    server_first: String,
}

/// Parses client-first (RFC 5802 §7 `client-first-message`) under `binding`.
pub(super) fn client_first(binding: Binding, msg: &[u8]) -> Result<First, ScramError> {
    let text = std::str::from_utf8(msg).map_err(|_| ScramError::InvalidEncoding)?;
    let mut parts = text.splitn(3, ',');
    let (Some(flag), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ScramError::InvalidEncoding);
    };
    // RFC 5802 §6 and §7 (gs2-cbind-flag); RFC 9266 §2 (the type name).
    let bound = match flag {
        "n" => false,
        // The client could bind but thinks we cannot: a downgrade if we offered -PLUS.
        "y" if binding.exporter.is_some() => {
            return Err(ScramError::ServerDoesSupportChannelBinding);
        }
        "y" => false,
        _ => match flag.strip_prefix("p=") {
            Some(TLS_EXPORTER) => true,
            Some(name) if valid_cb_name(name) => {
                return Err(ScramError::UnsupportedChannelBindingType);
            }
            _ => return Err(ScramError::InvalidEncoding),
        },
    };
    // RFC 5802 §6: -PLUS needs `p`, plain SCRAM must not have it.
    if binding.plus != bound {
        return Err(ScramError::OtherError);
    }
    if bound && binding.exporter.is_none() {
        return Err(ScramError::ChannelBindingNotSupported);
    }
    let authzid = match authzid {
        "" => None,
        a => Some(
            a.strip_prefix("a=")
                .ok_or(ScramError::InvalidEncoding)
                .and_then(saslname)?,
        ),
    };
    let mut fields = bare.split(',');
    let user = fields.next().unwrap_or_default();
    // RFC 5802 §5.1: a mandatory extension we do not know fails the exchange.
    if user.starts_with("m=") {
        return Err(ScramError::ExtensionsNotSupported);
    }
    let username = user
        .strip_prefix("n=")
        .ok_or(ScramError::InvalidEncoding)
        .and_then(saslname)?;
    let client_nonce = fields
        .next()
        .and_then(|r| r.strip_prefix("r="))
        .filter(|r| valid_nonce(r))
        .ok_or(ScramError::InvalidEncoding)?;
    // Optional extensions after the nonce are ignored (RFC 5802 §7), but still need
    // the attr=value shape.
    if fields.any(|f| !is_attr_value(f)) {
        return Err(ScramError::InvalidEncoding);
    }
    if username.is_empty() {
        return Err(ScramError::InvalidUsernameEncoding);
    }
    // Acting as someone else is not supported (like PLAIN's authzid).
    if authzid.is_some_and(|a| a != username) {
        return Err(ScramError::OtherError);
    }
    let header_len = flag.len() + authzid_len(text, flag) + 2;
    Ok(First {
        binding,
        gs2_header: text[..header_len].to_owned(),
        bound,
        username,
        client_nonce: client_nonce.to_owned(),
        bare: bare.to_owned(),
    })
}

impl First {
    /// The user name the driver must look up.
    pub(super) fn username(&self) -> &str {
        &self.username
    }

    /// Builds server-first (RFC 5802 §7 `server-first-message`) with the driver's keys.
    pub(super) fn server_first(self, keys: Keys) -> Result<(Pending, Vec<u8>), ScramError> {
        if !valid_nonce(&keys.server_nonce) || keys.iterations == 0 {
            return Err(ScramError::OtherError);
        }
        let server_first = format!(
            "r={}{},s={},i={}",
            self.client_nonce,
            keys.server_nonce,
            STANDARD.encode(&keys.salt),
            keys.iterations
        );
        let bytes = server_first.clone().into_bytes();
        Ok((
            Pending {
                first: self,
                keys,
                server_first,
            },
            bytes,
        ))
    }
}

impl Pending {
    /// Checks client-final (RFC 5802 §7 `client-final-message`): the binding, the
    /// nonce, then the proof against every credential. Returns what matched and the
    /// ServerSignature for server-final.
    pub(super) fn client_final(self, msg: &[u8]) -> Result<(Proved, [u8; 32]), ScramError> {
        let text = std::str::from_utf8(msg).map_err(|_| ScramError::InvalidEncoding)?;
        let (without_proof, proof) = text.rsplit_once(",p=").ok_or(ScramError::InvalidEncoding)?;
        let mut fields = without_proof.split(',');
        let cbind = fields
            .next()
            .and_then(|c| c.strip_prefix("c="))
            .ok_or(ScramError::InvalidEncoding)?;
        let nonce = fields
            .next()
            .and_then(|r| r.strip_prefix("r="))
            .ok_or(ScramError::InvalidEncoding)?;
        if fields.any(|f| !is_attr_value(f)) {
            return Err(ScramError::InvalidEncoding);
        }
        let cbind = STANDARD
            .decode(cbind)
            .map_err(|_| ScramError::InvalidEncoding)?;
        let proof: [u8; 32] = STANDARD
            .decode(proof)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or(ScramError::InvalidEncoding)?;
        // RFC 5802 §7 (cbind-input) and RFC 9266 §2: the gs2 header, then the
        // exporter value when the client bound to it.
        let mut expected = self.first.gs2_header.as_bytes().to_vec();
        if self.first.bound {
            let exporter = self
                .first
                .binding
                .exporter
                .ok_or(ScramError::ChannelBindingNotSupported)?;
            expected.extend_from_slice(&exporter);
        }
        if !bool::from(expected.as_slice().ct_eq(cbind.as_slice())) {
            return Err(ScramError::ChannelBindingsDontMatch);
        }
        let ours = format!("{}{}", self.first.client_nonce, self.keys.server_nonce);
        if nonce != ours {
            return Err(ScramError::OtherError);
        }
        // RFC 5802 §3: AuthMessage, ClientSignature, ClientKey = proof XOR signature,
        // and the check H(ClientKey) == StoredKey, for every credential.
        let auth_message = format!(
            "{},{},{}",
            self.first.bare, self.server_first, without_proof
        );
        let mut matched = None;
        let mut server_signature = [0u8; 32];
        for credential in &self.keys.credentials {
            let signature = hmac(&credential.secret.stored_key, auth_message.as_bytes());
            let mut client_key = proof;
            client_key
                .iter_mut()
                .zip(signature)
                .for_each(|(k, s)| *k ^= s);
            let stored: [u8; 32] = Sha256::digest(client_key).into();
            if bool::from(stored.ct_eq(&credential.secret.stored_key)) && matched.is_none() {
                matched = Some(credential.label.clone());
                server_signature = hmac(&credential.secret.server_key, auth_message.as_bytes());
            }
        }
        Ok((
            Proved {
                username: self.first.username,
                matched,
                account_exists: self.keys.account_exists,
            },
            server_signature,
        ))
    }
}

/// Server-final for a good proof (RFC 5802 §7 `verifier`).
pub(super) fn server_final(signature: &[u8; 32]) -> Vec<u8> {
    format!("v={}", STANDARD.encode(signature)).into_bytes()
}

/// Server-final for a failure (RFC 5802 §7 `server-error`).
pub fn server_error(error: ScramError) -> Vec<u8> {
    format!("e={error}").into_bytes()
}

/// Decodes a `saslname` (RFC 5802 §7: `=2C` is `,`, `=3D` is `=`, no other `=`) and
/// applies SASLprep (RFC 5802 §5.1, RFC 4013).
fn saslname(raw: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::InvalidUsernameEncoding),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    stringprep::saslprep(&out)
        .map(|s| s.into_owned())
        .map_err(|_| ScramError::InvalidUsernameEncoding)
}

/// The length of the authzid part of the gs2 header in `text` (after `flag,`).
fn authzid_len(text: &str, flag: &str) -> usize {
    text[flag.len() + 1..].find(',').unwrap_or(0)
}

/// RFC 5802 §7 `printable`: 0x21–0x7E except `,`.
fn valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// RFC 5802 §7 `cb-name`: letters, digits, `.` and `-`.
fn valid_cb_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// RFC 5802 §7 `attr-val`: one letter, `=`, anything.
fn is_attr_value(field: &str) -> bool {
    let b = field.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b'='
}

/// RFC 7677 §3's example (user `user`, password `pencil`), for transcript tests of
/// the protocols that run SCRAM.
#[doc(hidden)]
pub mod rfc7677 {
    /// client-first.
    pub const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    /// The server's part of the nonce.
    pub const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    /// server-first.
    pub const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    /// client-final.
    pub const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    /// server-final.
    pub const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    /// A client's final message for `server_first` (RFC 5802 §3, §7), for tests of
    /// the drivers: `cbind_input` is the gs2 header plus any binding data. `None` if
    /// server-first does not parse.
    pub fn client_final(
        password: &str,
        client_first_bare: &str,
        server_first: &str,
        cbind_input: &[u8],
    ) -> Option<String> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut fields = server_first.split(',');
        let nonce = fields.next()?.strip_prefix("r=")?;
        let salt = b64.decode(fields.next()?.strip_prefix("s=")?).ok()?;
        let iterations: u32 = fields.next()?.strip_prefix("i=")?.parse().ok()?;
        let without_proof = format!("c={},r={nonce}", b64.encode(cbind_input));
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<super::Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
        let client_key = super::hmac(&salted, b"Client Key");
        let stored: [u8; 32] = <super::Sha256 as super::Digest>::digest(client_key).into();
        let signature = super::hmac(&stored, auth_message.as_bytes());
        let mut proof = client_key;
        proof.iter_mut().zip(signature).for_each(|(p, s)| *p ^= s);
        Some(format!("{without_proof},p={}", b64.encode(proof)))
    }

    /// The keys a driver would answer for `user` with the password `password`.
    pub fn keys(password: &str) -> super::Keys {
        use base64::Engine;
        let salt = base64::engine::general_purpose::STANDARD
            .decode("W22ZaJ0SNY7soEsUEjb6gQ==")
            .unwrap_or_default();
        super::Keys {
            credentials: vec![super::Credential {
                label: "account".into(),
                secret: super::derive(password, &salt, 4096),
            }],
            salt,
            iterations: 4096,
            server_nonce: SERVER_NONCE.into(),
            account_exists: true,
        }
    }
}

#[cfg(test)]
mod tests;
