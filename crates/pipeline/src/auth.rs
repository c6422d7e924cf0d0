//! The mail-authentication stages of the pipeline: stripping forged results, the
//! inbound SPF / DKIM / DMARC checks, and DKIM signing of submitted mail.
//!
//! Where it sits: [`crate::process`] runs these around [`crate::prepare`]. The server
//! builds one [`MailAuth`] at start ([`MailAuth::new`]) and shares it between
//! sessions; a local submitter with no DNS needs (`postie sendmail`) can use
//! [`MailAuth::signing_only`].
//!
//! Keys are read from `DATA_DIR/dkim` through [`mailauth::KeyStore`] and kept in memory
//! per domain until that domain's key folder changes (a `postie dkim generate` or
//! `remove` while the server runs is seen by the next message, without a restart).
//! With a store several nodes share, the keys come from the store instead: the caller
//! hands them in as a [`SharedKeys`] ([`MailAuth::with_shared_keys`]) and refreshes it
//! (the server every half minute), and the files are not looked at.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use mailauth::{Checks, KeyStore, LoadedKey, Origin, SharedKeys, Verdict, Verifier};
use message::Address;

/// Keys of one domain as loaded, and the folder's modification time then.
struct Cached {
    stamp: Option<SystemTime>,
    keys: Arc<Vec<LoadedKey>>,
}

/// Shared state of the mail-authentication stages.
pub struct MailAuth {
    hostname: String,
    keys: KeyStore,
    dkim_dir: std::path::PathBuf,
    cache: Mutex<HashMap<String, Cached>>,
    verifier: Option<Verifier>,
    /// The keys a shared store keeps, when there is one (then `keys` is not used).
    shared: Option<Arc<SharedKeys>>,
}

impl MailAuth {
    /// Signing with the keys under `data_dir`, and inbound `checks` through the name
    /// servers `nameservers` (empty: the system's). `Err` when the resolver cannot be
    /// built (no usable system configuration).
    pub fn new(
        hostname: &str,
        data_dir: &Path,
        nameservers: &[SocketAddr],
        checks: Checks,
    ) -> Result<MailAuth, String> {
        let verifier = if checks.none() {
            None
        } else {
            let authenticator = mailauth::resolver::authenticator(nameservers)?;
            Some(Verifier::new(authenticator, hostname, checks))
        };
        Ok(MailAuth {
            verifier,
            ..MailAuth::signing_only(hostname, data_dir)
        })
    }

    /// Signing only: no inbound checks, no DNS.
    pub fn signing_only(hostname: &str, data_dir: &Path) -> MailAuth {
        MailAuth {
            hostname: hostname.to_owned(),
            keys: KeyStore::new(data_dir),
            dkim_dir: data_dir.join("dkim"),
            cache: Mutex::new(HashMap::new()),
            verifier: None,
            shared: None,
        }
    }

    /// Signing with the keys of `keys` (a shared store's, refreshed by the caller)
    /// instead of the data directory's files.
    pub fn with_shared_keys(self, keys: Arc<SharedKeys>) -> MailAuth {
        MailAuth {
            shared: Some(keys),
            ..self
        }
    }

    /// Our host name (the authserv-id of our results).
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// Runs the inbound checks; `None` when they are all off.
    pub async fn verify(&self, origin: &Origin<'_>, message: &[u8]) -> Option<Verdict> {
        let verifier = self.verifier.as_ref()?;
        Some(verifier.check(origin, message).await)
    }

    /// The `DKIM-Signature` fields for a message our user submitted, or `None` when
    /// there is no key to sign with. The signing domain is the `From` domain when it has
    /// keys, else the MAIL FROM domain when that has keys (RFC 6376 §3.5: `d=` is the
    /// domain taking responsibility; DMARC alignment wants the `From` domain).
    pub fn sign(&self, sender: Option<&Address>, message: &[u8]) -> Option<String> {
        let candidates = [
            mailauth::sign::from_domain(message),
            sender.map(|s| s.domain().as_str().to_owned()),
        ];
        for domain in candidates.into_iter().flatten() {
            let keys = self.domain_keys(&domain);
            if keys.is_empty() {
                continue;
            }
            return match mailauth::sign::sign(&keys, message) {
                Ok(fields) => Some(fields),
                Err(e) => {
                    tracing::warn!(%domain, error = %e, "message left unsigned");
                    None
                }
            };
        }
        None
    }

    /// `message` with its `DKIM-Signature` fields in front ([`MailAuth::sign`]), or
    /// unchanged when there is no key. The one call a local submitter needs, after it
    /// has added its own trace and `Date`/`Message-ID` fields.
    pub fn signed(&self, sender: Option<&Address>, message: Vec<u8>) -> Vec<u8> {
        match self.sign(sender, &message) {
            Some(fields) => {
                let mut out = fields.into_bytes();
                out.extend_from_slice(&message);
                out
            }
            None => message,
        }
    }

    /// The signing keys of `domain`: the shared ones, or from the files (cached while
    /// the domain's folder is unchanged).
    fn domain_keys(&self, domain: &str) -> Arc<Vec<LoadedKey>> {
        if let Some(shared) = &self.shared {
            return shared.signing_keys(domain);
        }
        let stamp = std::fs::metadata(self.dkim_dir.join(domain))
            .and_then(|m| m.modified())
            .ok();
        if let Ok(cache) = self.cache.lock()
            && let Some(cached) = cache.get(domain)
            && cached.stamp == stamp
        {
            return Arc::clone(&cached.keys);
        }
        let keys = match stamp {
            None => Vec::new(),
            Some(_) => self.keys.signing_keys(domain).unwrap_or_else(|e| {
                tracing::error!(%domain, error = %e, "cannot load DKIM keys");
                Vec::new()
            }),
        };
        let keys = Arc::new(keys);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                domain.to_owned(),
                Cached {
                    stamp,
                    keys: Arc::clone(&keys),
                },
            );
        }
        keys
    }
}
