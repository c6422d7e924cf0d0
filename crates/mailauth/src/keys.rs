//! DKIM keys on disk: generating, listing, removing and loading them.
//!
//! Where it sits: `postie dkim generate|list|remove` call [`KeyStore`] directly; the
//! pipeline loads a domain's signing keys through [`KeyStore::signing_keys`] when a
//! submitted message is signed ([`crate::sign`]).
//!
//! Layout: `DATA_DIR/dkim/<domain>/<selector>.key` is the private key (PKCS#8 PEM,
//! mode 0600) and `<selector>.pub` the DNS TXT record value to publish at
//! `<selector>._domainkey.<domain>` (mode 0644). Selectors are dated: `YYYYMM` plus `e`
//! for Ed25519 (RFC 8463) or `r` for RSA (RFC 6376), with a counter when a month already
//! has one (`202611e`, `202611e2`, …). Signing uses the newest key of each algorithm;
//! older ones stay on disk (and in DNS) until removed, so a rotation never breaks mail
//! that is still in transit.
//!
//! `<domain>` is the canonical A-label form of [`message::Domain::as_str`]
//! (`xn--bcher-kva.example` whether `bücher.example` or its A-label was typed), which is
//! also the `d=` of the signatures (RFC 6376 §3.5; A-labels are valid in every message,
//! RFC 8616 §4). A folder an older Postie made under the U-label spelling is renamed to
//! the A-label the first time the domain's keys are listed.
//!
//! Security stance: writes only below `DATA_DIR/dkim`, each file temp → fsync → rename
//! so a crash never leaves half a key; the domain and selector are validated before
//! they become path components (no `/`, no `..`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The RSA modulus size (RFC 8301 §3.2: at least 1024, 2048 recommended).
pub const RSA_BITS: usize = 2048;

/// What can go wrong with keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A domain or selector that cannot be a DNS label sequence / file name.
    #[error("{0}")]
    Invalid(String),
    /// Key generation or parsing failed.
    #[error("key {0}")]
    Crypto(String),
    /// No such key.
    #[error("no key {selector} for {domain}")]
    NotFound {
        /// The domain.
        domain: String,
        /// The selector.
        selector: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The two signature algorithms Postie signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Algorithm {
    /// `ed25519-sha256` (RFC 8463).
    Ed25519,
    /// `rsa-sha256` (RFC 6376, RFC 8301).
    Rsa,
}

impl Algorithm {
    /// The letter that ends a selector of this algorithm.
    fn letter(self) -> char {
        match self {
            Algorithm::Ed25519 => 'e',
            Algorithm::Rsa => 'r',
        }
    }

    /// The `k=` tag value of the key record (RFC 6376 §3.6.1, RFC 8463 §4.2).
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::Rsa => "rsa",
        }
    }

    /// The algorithm whose [`Algorithm::key_type`] is `name`, if any.
    pub fn from_key_type(name: &str) -> Option<Algorithm> {
        [Algorithm::Ed25519, Algorithm::Rsa]
            .into_iter()
            .find(|a| a.key_type() == name)
    }
}

/// One key as listed: domain, selector, algorithm and the TXT record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The signing domain (`d=`), in A-label form, lower case.
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The TXT record value: `v=DKIM1; k=…; p=…`.
    pub record: String,
}

impl KeyInfo {
    /// The owner name of the key record (RFC 6376 §3.6.2.1), without the final dot.
    pub fn record_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// Order within a domain: by date, then counter (unparsable selectors first).
    fn age_key(&self) -> (u32, u32, String) {
        let (date, n) = parse_selector(&self.selector).unwrap_or((0, 0));
        (date, n, self.selector.clone())
    }
}

/// A key ready to sign with.
pub struct LoadedKey {
    /// What it is.
    pub info: KeyInfo,
    /// The loaded private key.
    pub key: DkimKey,
}

/// The DKIM keys under one data directory.
#[derive(Debug, Clone)]
pub struct KeyStore {
    root: PathBuf,
}

impl KeyStore {
    /// The keys of the data directory `data_dir` (in its `dkim` folder).
    pub fn new(data_dir: &Path) -> KeyStore {
        KeyStore {
            root: data_dir.join("dkim"),
        }
    }

    /// Generates a key pair of `algorithm` for `domain` under a fresh dated selector
    /// for the month of `unix_seconds`, writes it, and returns what to publish.
    pub fn generate(
        &self,
        domain: &str,
        algorithm: Algorithm,
        unix_seconds: i64,
    ) -> Result<KeyInfo, KeyError> {
        let domain = checked_domain(domain)?;
        let dir = self.root.join(&domain);
        let existing = self.domain_keys(&domain)?;
        let (info, pem) = generate_pem(&domain, algorithm, unix_seconds, &existing)?;
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let selector = &info.selector;
        write_atomic(&dir.join(format!("{selector}.key")), pem.as_bytes(), 0o600)?;
        write_atomic(
            &dir.join(format!("{selector}.pub")),
            format!("{}\n", info.record).as_bytes(),
            0o644,
        )?;
        Ok(info)
    }

    /// Every key of every domain, by domain and then oldest first.
    pub fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let mut all = Vec::new();
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(all),
            Err(e) => return Err(io(&self.root)(e)),
        };
        let mut domains: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            // A U-label folder of an older Postie is its A-label domain (renamed below).
            .filter_map(|name| checked_domain(&name).ok())
            .collect();
        domains.sort();
        domains.dedup();
        for domain in domains {
            all.extend(self.domain_keys(&domain)?);
        }
        Ok(all)
    }

    /// The keys of `domain`, oldest first; none when it has no folder.
    pub fn domain_keys(&self, domain: &str) -> Result<Vec<KeyInfo>, KeyError> {
        let domain = checked_domain(domain)?;
        let dir = self.root.join(&domain);
        self.adopt_legacy_folder(&domain, &dir)?;
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir)(e)),
        };
        let mut keys = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let Some(selector) = name.to_str().and_then(|n| n.strip_suffix(".key")) else {
                continue;
            };
            match self.load(&domain, selector) {
                Ok(key) => keys.push(key.info),
                Err(e) => tracing::warn!(error = %e, "DKIM key skipped"),
            }
        }
        sort_oldest_first(&mut keys);
        Ok(keys)
    }

    /// Loads one key. Its record is derived from the private key, so a `.pub` file that
    /// was edited or lost does not matter.
    pub fn load(&self, domain: &str, selector: &str) -> Result<LoadedKey, KeyError> {
        let domain = checked_domain(domain)?;
        checked_selector(selector)?;
        let path = self.root.join(&domain).join(format!("{selector}.key"));
        let pem = match fs::read(&path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyError::NotFound {
                    domain,
                    selector: selector.to_owned(),
                });
            }
            Err(e) => return Err(io(&path)(e)),
        };
        let der = PrivatePkcs8KeyDer::from_pem_slice(&pem).map_err(|e| {
            KeyError::Crypto(format!("{}: not a PKCS#8 PEM key: {e}", path.display()))
        })?;
        let (algorithm, key, record) = parse_private_key(der.secret_pkcs8_der())
            .map_err(|e| KeyError::Crypto(format!("{}: {e}", path.display())))?;
        Ok(LoadedKey {
            info: KeyInfo {
                domain,
                selector: selector.to_owned(),
                algorithm,
                record,
            },
            key,
        })
    }

    /// The keys to sign `domain`'s mail with: the newest Ed25519 and the newest RSA key
    /// (either may be missing). Empty when the domain has no keys.
    pub fn signing_keys(&self, domain: &str) -> Result<Vec<LoadedKey>, KeyError> {
        let keys = self.domain_keys(domain)?;
        newest_per_algorithm(&keys)
            .into_iter()
            .map(|newest| self.load(&newest.domain, &newest.selector))
            .collect()
    }

    /// Deletes one key (both files). Mail signed with it fails verification once its
    /// record is gone from DNS too, so remove it only after the newer key has been
    /// published and signing with it for a while.
    pub fn remove(&self, domain: &str, selector: &str) -> Result<(), KeyError> {
        let domain = checked_domain(domain)?;
        checked_selector(selector)?;
        let dir = self.root.join(&domain);
        let key = dir.join(format!("{selector}.key"));
        match fs::remove_file(&key) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyError::NotFound {
                    domain,
                    selector: selector.to_owned(),
                });
            }
            Err(e) => return Err(io(&key)(e)),
        }
        let public = dir.join(format!("{selector}.pub"));
        match fs::remove_file(&public) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&public)(e)),
        }
        sync_dir(&dir)
    }
}

impl KeyStore {
    /// Renames the folder an older Postie made for an IDN domain under its U-label
    /// spelling to `dir`, the A-label one, when only the old one exists.
    fn adopt_legacy_folder(&self, domain: &str, dir: &Path) -> Result<(), KeyError> {
        let Ok(parsed) = message::Domain::parse(domain) else {
            return Ok(());
        };
        if !parsed.is_idn() || dir.exists() {
            return Ok(());
        }
        let legacy = self.root.join(parsed.unicode());
        if legacy.is_dir() {
            fs::rename(&legacy, dir).map_err(io(&legacy))?;
            sync_dir(&self.root)?;
            tracing::info!(from = %legacy.display(), to = %dir.display(), "DKIM key folder renamed to the A-label form");
        }
        Ok(())
    }
}

/// Generates a key pair of `algorithm` for `domain` under a fresh dated selector for
/// the month of `unix_seconds`, one none of `existing` (the domain's keys) has, and
/// returns what to publish with the private key as PKCS#8 PEM, writing nothing: for
/// keys kept elsewhere than files ([`crate::keyset`]).
pub fn generate_pem(
    domain: &str,
    algorithm: Algorithm,
    unix_seconds: i64,
    existing: &[KeyInfo],
) -> Result<(KeyInfo, String), KeyError> {
    let domain = checked_domain(domain)?;
    let month = month_of(unix_seconds)?;
    let selector = (1u32..)
        .map(|n| match n {
            1 => format!("{month}{}", algorithm.letter()),
            n => format!("{month}{}{n}", algorithm.letter()),
        })
        .find(|s| !existing.iter().any(|k| &k.selector == s))
        .unwrap_or_default();
    let (pkcs8, record) = match algorithm {
        Algorithm::Ed25519 => generate_ed25519()?,
        Algorithm::Rsa => generate_rsa()?,
    };
    let pem = pem_encode("PRIVATE KEY", &pkcs8);
    let info = KeyInfo {
        domain,
        selector,
        algorithm,
        record,
    };
    Ok((info, pem))
}

impl LoadedKey {
    /// Loads a key from its PKCS#8 PEM text, for `domain` (any spelling; kept in
    /// A-label form) under `selector`. The record is derived from the private key.
    /// Error messages never quote the key.
    pub fn from_pem(domain: &str, selector: &str, pem: &[u8]) -> Result<LoadedKey, KeyError> {
        let domain = checked_domain(domain)?;
        checked_selector(selector)?;
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(|e| {
            KeyError::Crypto(format!("{selector} of {domain}: not a PKCS#8 PEM key: {e}"))
        })?;
        let (algorithm, key, record) = parse_private_key(der.secret_pkcs8_der())
            .map_err(|e| KeyError::Crypto(format!("{selector} of {domain}: {e}")))?;
        Ok(LoadedKey {
            info: KeyInfo {
                domain,
                selector: selector.to_owned(),
                algorithm,
                record,
            },
            key,
        })
    }
}

/// Sorts one domain's keys oldest first, as [`KeyStore::domain_keys`] lists them: by
/// the date and counter of their selectors (others first, by name).
pub fn sort_oldest_first(keys: &mut [KeyInfo]) {
    keys.sort_by_key(KeyInfo::age_key);
}

/// The keys to sign with among one domain's `keys` (oldest first): the newest of each
/// algorithm, Ed25519 first.
pub fn newest_per_algorithm(keys: &[KeyInfo]) -> Vec<&KeyInfo> {
    [Algorithm::Ed25519, Algorithm::Rsa]
        .into_iter()
        .filter_map(|algorithm| keys.iter().rev().find(|k| k.algorithm == algorithm))
        .collect()
}

/// `YYYYMM` of a unix time, UTC.
fn month_of(unix_seconds: i64) -> Result<String, KeyError> {
    let at = time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .map_err(|e| KeyError::Invalid(format!("bad clock: {e}")))?;
    Ok(format!("{:04}{:02}", at.year(), u8::from(at.month())))
}

/// `(YYYYMM, counter)` of a selector made by [`KeyStore::generate`].
fn parse_selector(selector: &str) -> Option<(u32, u32)> {
    let date: u32 = selector.get(..6)?.parse().ok()?;
    let rest = selector.get(6..)?;
    let mut chars = rest.chars();
    let letter = chars.next()?;
    if letter != 'e' && letter != 'r' {
        return None;
    }
    let counter = chars.as_str();
    let n = if counter.is_empty() {
        1
    } else {
        counter.parse().ok()?
    };
    Some((date, n))
}

/// The domain's canonical A-label form, if it is a plain domain name safe as a folder
/// name.
fn checked_domain(domain: &str) -> Result<String, KeyError> {
    let parsed = message::Domain::parse(domain)
        .map_err(|e| KeyError::Invalid(format!("{domain:?}: {e}")))?;
    let name = parsed.as_str();
    // Labels are checked by Domain::parse; an address literal is not a signing domain.
    if name.starts_with('[') || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(KeyError::Invalid(format!("{domain:?}: not a domain name")));
    }
    Ok(name.to_owned())
}

/// A selector is one or more DNS labels of letters, digits and hyphens (RFC 6376 §3.1).
fn checked_selector(selector: &str) -> Result<(), KeyError> {
    let ok = !selector.is_empty()
        && selector.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(KeyError::Invalid(format!("{selector:?}: not a selector")))
    }
}

/// A new Ed25519 key: its PKCS#8 document and the TXT record (RFC 8463 §4.2: `p=` is
/// the raw 32-byte public key in base64).
fn generate_ed25519() -> Result<(Vec<u8>, String), KeyError> {
    let pkcs8 = Ed25519Key::generate_pkcs8().map_err(|e| KeyError::Crypto(e.to_string()))?;
    let (_, _, record) = parse_private_key(&pkcs8)?;
    Ok((pkcs8, record))
}

/// A new RSA key: its PKCS#8 document and the TXT record (`p=` is the
/// SubjectPublicKeyInfo in base64, what RFC 6376 §3.6.1 verifiers and OpenSSL expect).
fn generate_rsa() -> Result<(Vec<u8>, String), KeyError> {
    use rsa::pkcs8::EncodePrivateKey as _;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
        .map_err(|e| KeyError::Crypto(format!("RSA generation: {e}")))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| KeyError::Crypto(format!("RSA encoding: {e}")))?;
    let pkcs8 = der.as_bytes().to_vec();
    let (_, _, record) = parse_private_key(&pkcs8)?;
    Ok((pkcs8, record))
}

/// Loads a PKCS#8 private key of either kind; returns it with its TXT record.
fn parse_private_key(pkcs8: &[u8]) -> Result<(Algorithm, DkimKey, String), KeyError> {
    if let Ok(key) = Ed25519Key::from_pkcs8_der(pkcs8) {
        let record = key_record(Algorithm::Ed25519, &key.public_key());
        return Ok((Algorithm::Ed25519, DkimKey::Ed25519(key), record));
    }
    let rsa_key = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        pkcs8.to_vec(),
    )))
    .map_err(|e| KeyError::Crypto(format!("neither Ed25519 nor RSA: {e}")))?;
    let spki = rsa_spki(pkcs8)?;
    let record = key_record(Algorithm::Rsa, &spki);
    Ok((Algorithm::Rsa, DkimKey::Rsa(rsa_key), record))
}

/// The SubjectPublicKeyInfo DER of an RSA PKCS#8 private key.
fn rsa_spki(pkcs8: &[u8]) -> Result<Vec<u8>, KeyError> {
    use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
    let key = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8)
        .map_err(|e| KeyError::Crypto(format!("RSA key: {e}")))?;
    let spki = rsa::RsaPublicKey::from(&key)
        .to_public_key_der()
        .map_err(|e| KeyError::Crypto(format!("RSA public key: {e}")))?;
    Ok(spki.as_bytes().to_vec())
}

/// The key record (RFC 6376 §3.6.1): version, key type, public key.
pub fn key_record(algorithm: Algorithm, public_key: &[u8]) -> String {
    format!(
        "v=DKIM1; k={}; p={}",
        algorithm.key_type(),
        B64.encode(public_key)
    )
}

/// PEM armour (RFC 7468): base64 in 64-character lines. Hand-written because the PEM
/// crates we have only decode; this is the whole of it.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Writes `path` as temp → fsync → rename → fsync of the folder, with `mode`.
fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path
        .parent()
        .ok_or_else(|| KeyError::Invalid(format!("{}: no folder", path.display())))?;
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(data).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    const NOV_2026: i64 = 1_793_750_400; // 2026-11-04

    #[test]
    fn selectors_are_dated_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        let e1 = store
            .generate("Example.ORG", Algorithm::Ed25519, NOV_2026)
            .unwrap();
        let e2 = store
            .generate("example.org", Algorithm::Ed25519, NOV_2026)
            .unwrap();
        assert_eq!(e1.selector, "202611e");
        assert_eq!(e2.selector, "202611e2");
        assert_eq!(e1.domain, "example.org");
        assert!(e1.record.starts_with("v=DKIM1; k=ed25519; p="));
        // 32 raw bytes → 44 base64 characters.
        assert_eq!(e1.record.len(), "v=DKIM1; k=ed25519; p=".len() + 44);
        let listed: Vec<String> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|k| k.selector)
            .collect();
        assert_eq!(listed, ["202611e", "202611e2"]);
        // The newest signs.
        let signing = store.signing_keys("example.org").unwrap();
        assert_eq!(signing.len(), 1);
        assert_eq!(signing[0].info.selector, "202611e2");
    }

    #[test]
    fn files_are_private_and_the_record_matches_the_pub_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        let info = store
            .generate("example.org", Algorithm::Ed25519, NOV_2026)
            .unwrap();
        let key = dir.path().join("dkim/example.org/202611e.key");
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let public = fs::read_to_string(dir.path().join("dkim/example.org/202611e.pub")).unwrap();
        assert_eq!(public.trim_end(), info.record);
        assert_eq!(store.load("example.org", "202611e").unwrap().info, info);
        assert!(!dir.path().join("dkim/example.org/202611e.tmp").exists());
    }

    #[test]
    fn rsa_keys_publish_a_subject_public_key_info() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        let info = store
            .generate("example.org", Algorithm::Rsa, NOV_2026)
            .unwrap();
        assert_eq!(info.selector, "202611r");
        let p = info.record.split("p=").nth(1).unwrap();
        let spki = B64.decode(p).unwrap();
        // SEQUENCE { SEQUENCE { OID rsaEncryption … } BIT STRING … }, 2048-bit: 294 bytes.
        assert_eq!(spki.len(), 294);
        assert_eq!(
            &spki[4..17],
            b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"
        );
    }

    #[test]
    fn remove_deletes_one_selector_and_unknown_ones_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        store
            .generate("example.org", Algorithm::Ed25519, NOV_2026)
            .unwrap();
        store
            .generate("example.org", Algorithm::Ed25519, NOV_2026)
            .unwrap();
        store.remove("example.org", "202611e").unwrap();
        let left: Vec<String> = store
            .domain_keys("example.org")
            .unwrap()
            .into_iter()
            .map(|k| k.selector)
            .collect();
        assert_eq!(left, ["202611e2"]);
        assert!(matches!(
            store.remove("example.org", "202611e"),
            Err(KeyError::NotFound { .. })
        ));
    }

    #[test]
    fn path_tricks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        for domain in ["../etc", "a/b", "[127.0.0.1]", ""] {
            assert!(
                store
                    .generate(domain, Algorithm::Ed25519, NOV_2026)
                    .is_err(),
                "{domain}"
            );
        }
        for selector in ["../x", "a/b", "", "a..b"] {
            assert!(
                matches!(
                    store.remove("example.org", selector),
                    Err(KeyError::Invalid(_))
                ),
                "{selector}"
            );
        }
    }

    #[test]
    fn idn_domains_keep_keys_under_the_a_label_and_sign_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        let key = store
            .generate("Bücher.example", Algorithm::Ed25519, NOV_2026)
            .unwrap();
        assert_eq!(key.domain, "xn--bcher-kva.example");
        assert_eq!(
            key.record_name(),
            "202611e._domainkey.xn--bcher-kva.example"
        );
        assert!(dir.path().join("dkim/xn--bcher-kva.example").is_dir());
        // Either spelling finds the key; a second one is counted, not a new folder.
        assert_eq!(store.domain_keys("bücher.example").unwrap().len(), 1);
        store
            .generate("XN--BCHER-KVA.example", Algorithm::Ed25519, NOV_2026)
            .unwrap();
        assert_eq!(store.domain_keys("bücher.example").unwrap().len(), 2);
        // The From domain, in either spelling, picks the keys and becomes an A-label d=.
        for from in ["kunde@bücher.example", "kunde@xn--bcher-kva.example"] {
            let message = format!("From: {from}\r\nSubject: x\r\n\r\nbody\r\n");
            let domain = crate::sign::from_domain(message.as_bytes()).unwrap();
            assert_eq!(domain, "xn--bcher-kva.example");
            let keys = store.signing_keys(&domain).unwrap();
            let fields = crate::sign::sign(&keys, message.as_bytes()).unwrap();
            assert!(fields.contains("d=xn--bcher-kva.example;"), "{fields}");
        }
    }

    #[test]
    fn a_u_label_folder_of_an_older_postie_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        store
            .generate("xn--fsqu00a.xn--fiqs8s", Algorithm::Ed25519, NOV_2026)
            .unwrap();
        let root = dir.path().join("dkim");
        fs::rename(root.join("xn--fsqu00a.xn--fiqs8s"), root.join("例子.中国")).unwrap();
        let all = store.list().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].domain, "xn--fsqu00a.xn--fiqs8s");
        assert!(root.join("xn--fsqu00a.xn--fiqs8s").is_dir());
        assert!(!root.join("例子.中国").exists());
        assert_eq!(store.signing_keys("例子.中国").unwrap().len(), 1);
    }

    #[test]
    fn selector_order_uses_date_then_counter() {
        assert_eq!(parse_selector("202611e"), Some((202611, 1)));
        assert_eq!(parse_selector("202611r12"), Some((202611, 12)));
        assert_eq!(parse_selector("default"), None);
        assert!(parse_selector("202612e") > parse_selector("202611e9"));
    }
}
