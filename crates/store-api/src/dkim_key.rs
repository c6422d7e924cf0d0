//! The stored record of a DKIM signing key, for stores several nodes share (see
//! [`crate::Store::keeps_dkim_keys`]). Generating, loading and choosing keys is the
//! `mailauth` crate's; a store only keeps the records.
//!
//! Security stance: [`DkimKey::private_key_pem`] is private key material. The `Debug`
//! output leaves it out, so logging a record never shows it.

use message::Domain;

/// One DKIM key as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct DkimKey {
    /// The signing domain (`d=`); stored in its A-label form ([`Domain::as_str`]).
    pub domain: Domain,
    /// The selector (`s=`), unique per domain.
    pub selector: String,
    /// The algorithm's `k=` name: `ed25519` or `rsa`.
    pub algorithm: String,
    /// The private key, PKCS#8 PEM.
    pub private_key_pem: String,
    /// The TXT record value to publish at `SELECTOR._domainkey.DOMAIN`
    /// (`v=DKIM1; k=…; p=…`).
    pub public_record: String,
    /// When it was made, unix seconds.
    pub created_at: i64,
}

impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimKey")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .field("public_record", &self.public_record)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_the_private_key_out() {
        let key = DkimKey {
            domain: Domain::parse("example.org").unwrap(),
            selector: "202611e".into(),
            algorithm: "ed25519".into(),
            private_key_pem: "-----BEGIN PRIVATE KEY-----\nsecret\n".into(),
            public_record: "v=DKIM1; k=ed25519; p=x".into(),
            created_at: 1,
        };
        let shown = format!("{key:?}");
        assert!(
            shown.contains("202611e") && !shown.contains("secret"),
            "{shown}"
        );
    }
}
