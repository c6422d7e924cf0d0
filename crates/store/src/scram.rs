//! The stored SCRAM-SHA-256 keys of an account (RFC 5802 §3, RFC 7677), kept as a
//! server-owned value under `scram/<account id>` so every node sharing the store sees
//! them.
//!
//! Where it sits: `admin` derives keys when a password is set or an app password made;
//! the server derives them at the next successful PLAIN/LOGIN/web login of an account
//! whose keys are missing or stale, and reads them ([`usable`]) when a SCRAM exchange
//! asks. The derivation itself is [`proto::sasl::scram::derive`].
//!
//! One record per account: one random salt and iteration count (the client picks no
//! credential, so all of an account's credentials share them), then one entry per
//! credential (the account password, each app password) with its StoredKey and
//! ServerKey and a fingerprint (SHA-256) of the credential's current password hash.
//! An entry whose fingerprint no longer matches (password changed elsewhere, app
//! password revoked or replaced) is never used.
//!
//! Security stance: no I/O of its own. A record read back is untrusted: any damage
//! ([`decode`] returns `None`) means "no keys", never a panic. The keys do not log
//! anyone in by themselves; the password never reaches the store.

use crate::{AccountId, Store, StoreError};
use proto::sasl::scram::{self, Secret};
use sha2::{Digest, Sha256};

/// The key prefix of SCRAM records.
pub const PREFIX: &str = "scram/";

/// The key of the server secret for unknown users' salts.
const SECRET_KEY: &str = "scram/server-secret";

/// The label of the account password's entry.
pub const ACCOUNT: &str = "account";

/// The label of an app password's entry: `app:<id>`.
pub fn app_label(id: &str) -> String {
    format!("app:{id}")
}

/// Record format version.
const VERSION: u8 = 1;
/// Most entries a record keeps (the account password and app passwords); decoding
/// refuses more.
const MAX_ENTRIES: usize = 256;

/// An account's SCRAM keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The account's salt, 16 random bytes.
    pub salt: Vec<u8>,
    /// The iteration count ([`scram::ITERATIONS`] for new records).
    pub iterations: u32,
    /// One entry per credential.
    pub entries: Vec<Entry>,
}

/// The keys of one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// [`ACCOUNT`] or [`app_label`].
    pub label: String,
    /// SHA-256 of the credential's password hash when the keys were made.
    pub fingerprint: [u8; 32],
    /// StoredKey and ServerKey.
    pub secret: Secret,
}

/// The fingerprint of a password hash (argon2 PHC string).
pub fn fingerprint(hash: &str) -> [u8; 32] {
    Sha256::digest(hash.as_bytes()).into()
}

/// The store key of `account`'s record.
pub fn key(account: AccountId) -> String {
    format!("{PREFIX}{}", account.0)
}

impl Record {
    /// A new record with a random salt and no entries.
    pub fn new() -> Record {
        let salt: [u8; 16] = rand::random();
        Record {
            salt: salt.to_vec(),
            iterations: scram::ITERATIONS,
            entries: Vec::new(),
        }
    }

    /// Whether `label` has an entry made from the password hash `hash`.
    pub fn is_current(&self, label: &str, hash: &str) -> bool {
        let print = fingerprint(hash);
        self.entries
            .iter()
            .any(|e| e.label == label && e.fingerprint == print)
    }

    /// Derives and sets the keys of `label` from `password` (whose stored hash is
    /// `hash`), replacing an older entry. CPU work (PBKDF2, [`scram::ITERATIONS`]
    /// rounds): run it off the async workers.
    pub fn set(&mut self, label: &str, password: &str, hash: &str) {
        let secret = scram::derive(password, &self.salt, self.iterations);
        self.entries.retain(|e| e.label != label);
        self.entries.push(Entry {
            label: label.to_owned(),
            fingerprint: fingerprint(hash),
            secret,
        });
    }

    /// Drops entries no longer wanted: `keep` says, by label, whether one stays.
    pub fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        self.entries.retain(|e| keep(e));
    }

    /// The compact encoding: version, salt, iterations, then the entries.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION, self.salt.len().min(255) as u8];
        out.extend_from_slice(&self.salt[..self.salt.len().min(255)]);
        out.extend_from_slice(&self.iterations.to_be_bytes());
        let entries = &self.entries[..self.entries.len().min(MAX_ENTRIES)];
        out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
        for e in entries {
            let label = &e.label.as_bytes()[..e.label.len().min(255)];
            out.push(label.len() as u8);
            out.extend_from_slice(label);
            out.extend_from_slice(&e.fingerprint);
            out.extend_from_slice(&e.secret.stored_key);
            out.extend_from_slice(&e.secret.server_key);
        }
        out
    }
}

impl Default for Record {
    fn default() -> Self {
        Record::new()
    }
}

/// Decodes a record; `None` when it is damaged or of another version.
pub fn decode(bytes: &[u8]) -> Option<Record> {
    let mut r = Reader(bytes);
    if r.take(1)?[0] != VERSION {
        return None;
    }
    let salt_len = r.take(1)?[0] as usize;
    let salt = r.take(salt_len)?.to_vec();
    let iterations = u32::from_be_bytes(r.take(4)?.try_into().ok()?);
    let count = u16::from_be_bytes(r.take(2)?.try_into().ok()?) as usize;
    if count > MAX_ENTRIES || iterations == 0 || salt.is_empty() {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.take(1)?[0] as usize;
        let label = String::from_utf8(r.take(len)?.to_vec()).ok()?;
        let array = |r: &mut Reader| -> Option<[u8; 32]> { r.take(32)?.try_into().ok() };
        let fingerprint = array(&mut r)?;
        let stored_key = array(&mut r)?;
        let server_key = array(&mut r)?;
        entries.push(Entry {
            label,
            fingerprint,
            secret: Secret {
                stored_key,
                server_key,
            },
        });
    }
    r.0.is_empty().then_some(Record {
        salt,
        iterations,
        entries,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
}

/// The account's record; `None` when it has none (or it is damaged, which is
/// logged).
pub async fn load(store: &dyn Store, account: AccountId) -> Result<Option<Record>, StoreError> {
    let Some(bytes) = store.value_get(&key(account)).await? else {
        return Ok(None);
    };
    let record = decode(&bytes);
    if record.is_none() {
        tracing::warn!(account = account.0, "damaged SCRAM record ignored");
    }
    Ok(record)
}

/// Writes the account's record.
pub async fn save(
    store: &dyn Store,
    account: AccountId,
    record: &Record,
) -> Result<(), StoreError> {
    store.value_put(&key(account), &record.encode()).await
}

/// Derives (on a blocking thread) and saves the keys of `label` for `account`, from
/// `password` whose stored hash is `hash`. Two updates of one account at the same
/// moment may lose one entry; that credential then gets its keys at its next
/// PLAIN/LOGIN login.
pub async fn remember(
    store: &dyn Store,
    account: AccountId,
    label: &str,
    password: &str,
    hash: &str,
) -> Result<(), StoreError> {
    let mut record = load(store, account).await?.unwrap_or_default();
    let (label, password, hash) = (label.to_owned(), password.to_owned(), hash.to_owned());
    let record = tokio::task::spawn_blocking(move || {
        record.set(&label, &password, &hash);
        record
    })
    .await
    .map_err(|e| StoreError::Io(format!("SCRAM key derivation failed: {e}")))?;
    save(store, account, &record).await
}

/// Removes the account's record (the account is gone).
pub async fn forget(store: &dyn Store, account: AccountId) -> Result<(), StoreError> {
    store.value_delete(&key(account)).await
}

/// The server's secret for unknown users' salts (RFC 5802 §5.1), made once and kept
/// in the store so every node and every restart gives an unknown name the same salt.
pub async fn server_secret(store: &dyn Store) -> Result<Vec<u8>, StoreError> {
    if let Some(secret) = store.value_get(SECRET_KEY).await?
        && secret.len() == 32
    {
        return Ok(secret);
    }
    let secret: [u8; 32] = rand::random();
    store.value_put(SECRET_KEY, &secret).await?;
    // Another node may have written first: use what the store holds.
    Ok(store
        .value_get(SECRET_KEY)
        .await?
        .filter(|s| s.len() == 32)
        .unwrap_or_else(|| secret.to_vec()))
}

/// The salt an unknown `username` gets: 16 bytes of SHA-256(secret, name), stable,
/// and shaped like a real one.
pub fn unknown_salt(secret: &[u8], username: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(username.to_lowercase().as_bytes());
    h.finalize()[..16].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip_and_damage() {
        let mut r = Record::new();
        r.set(ACCOUNT, "pencil", "$argon2id$one");
        r.set(&app_label("abc"), "secret", "$argon2id$two");
        r.set(ACCOUNT, "pencil2", "$argon2id$three");
        assert_eq!(r.entries.len(), 2);
        assert!(r.is_current(ACCOUNT, "$argon2id$three"));
        assert!(!r.is_current(ACCOUNT, "$argon2id$one"));
        let bytes = r.encode();
        assert_eq!(decode(&bytes), Some(r.clone()));
        // Every truncation and a trailing byte are damage, never a panic.
        for n in 0..bytes.len() {
            assert_eq!(decode(&bytes[..n]), None, "{n}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode(&long), None);
        assert_eq!(decode(&[2]), None);
        // The keys are RFC 5802's: derived from the password, salt and count.
        let e = &r.entries[0];
        assert_eq!(
            e.secret,
            scram::derive("secret", &r.salt, scram::ITERATIONS)
        );
    }

    #[test]
    fn unknown_salts_are_stable_per_name() {
        assert_eq!(unknown_salt(b"k", "Bob@x"), unknown_salt(b"k", "bob@x"));
        assert_ne!(unknown_salt(b"k", "bob@x"), unknown_salt(b"k", "eve@x"));
        assert_eq!(unknown_salt(b"k", "a").len(), 16);
    }

    #[tokio::test]
    async fn remember_load_and_secret() {
        let store = crate::memory::MemoryStore::new();
        let id = AccountId(7);
        assert_eq!(load(&store, id).await.unwrap(), None);
        remember(&store, id, ACCOUNT, "pencil", "h1").await.unwrap();
        remember(&store, id, &app_label("x"), "s", "h2")
            .await
            .unwrap();
        let r = load(&store, id).await.unwrap().unwrap();
        assert!(r.is_current(ACCOUNT, "h1") && r.is_current("app:x", "h2"));
        let salt = r.salt.clone();
        remember(&store, id, ACCOUNT, "new", "h3").await.unwrap();
        let r = load(&store, id).await.unwrap().unwrap();
        assert_eq!(
            r.salt, salt,
            "the salt stays: app passwords' keys depend on it"
        );
        forget(&store, id).await.unwrap();
        assert_eq!(load(&store, id).await.unwrap(), None);
        let a = server_secret(&store).await.unwrap();
        assert_eq!(server_secret(&store).await.unwrap(), a);
    }
}
