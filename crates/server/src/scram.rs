//! The driver side of SCRAM-SHA-256(-PLUS) (RFC 5802, RFC 7677), the same for SMTP
//! AUTH, POP3 AUTH and IMAP AUTHENTICATE: hands a session the stored keys it asks for
//! ([`keys`]) and settles the login once the proof is checked ([`finish`]).
//!
//! Where it sits: between a protocol session's `ScramKeys` / `ScramLogin` queries and
//! [`crate::login`]'s throttle. The policy is PLAIN's: the throttle may delay or refuse
//! before any key is handed out; failures and successes are counted; with
//! `auth.account_password = "web-only"` only app passwords' keys count on the mail
//! protocols; keys whose fingerprint no longer matches their credential's password hash
//! never count; an app password's login records its last use. An unknown user (or an
//! account without keys yet) gets a salt derived from a server secret and the name
//! (RFC 5802 §5.1) and no keys, so it fails at the end like a wrong password.
//!
//! Also computes the `tls-exporter` channel binding of a TLS 1.3 connection
//! ([`tls_exporter`], RFC 9266 §2). Never logs keys or proofs.

use crate::listen::Shared;
use crate::login::{self, Outcome};
use base64::Engine;
use config::AccountPassword;
use proto::sasl::scram::{Credential, EXPORTER_LABEL, ITERATIONS, Keys};
use std::net::IpAddr;
use store::scram as keys_store;

/// The `tls-exporter` value of a TLS 1.3 connection (RFC 9266 §2: label
/// "EXPORTER-Channel-Binding", no context, 32 bytes); `None` before TLS 1.3, where
/// RFC 9266 §3 leaves it undefined (and -PLUS is then not offered).
pub(crate) fn tls_exporter(conn: &rustls::ServerConnection) -> Option<[u8; 32]> {
    if conn.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return None;
    }
    conn.export_keying_material([0u8; 32], EXPORTER_LABEL, None)
        .ok()
}

/// The keys for a SCRAM exchange by `username` from `ip`; `Err` is the outcome when
/// the throttle refuses or the store fails.
pub(crate) async fn keys(
    shared: &Shared,
    ip: IpAddr,
    protocol: &'static str,
    username: &str,
) -> Result<Keys, Outcome> {
    login::admit(shared, ip, protocol, username, true).await?;
    let store = shared.store.as_ref();
    let temp = |e: store::StoreError| {
        tracing::error!(error = %e, protocol, "SCRAM key lookup failed");
        Outcome::TempFail
    };
    let nonce: [u8; 24] = rand::random();
    let server_nonce = base64::engine::general_purpose::STANDARD.encode(nonce);
    let account = match message::Address::parse(username.trim()) {
        Ok(address) if shared.capture.is_none() => {
            store.account_get(&address).await.map_err(temp)?
        }
        _ => None,
    };
    let record = match &account {
        Some(a) => keys_store::load(store, a.id).await.map_err(temp)?,
        None => None,
    };
    let (Some(account), Some(record)) = (account.as_ref(), record) else {
        let secret = keys_store::server_secret(store).await.map_err(temp)?;
        return Ok(Keys {
            salt: keys_store::unknown_salt(&secret, username.trim()),
            iterations: ITERATIONS,
            credentials: Vec::new(),
            server_nonce,
            account_exists: account.is_some(),
        });
    };
    // The current hash of each credential that may be used here.
    let mut current: Vec<(String, String)> = Vec::new();
    if shared.config.auth.account_password != AccountPassword::WebOnly {
        current.push((keys_store::ACCOUNT.into(), account.password_hash.clone()));
    }
    for app in store.app_password_list(account.id).await.map_err(temp)? {
        current.push((keys_store::app_label(&app.id), app.hash));
    }
    let credentials = record
        .entries
        .iter()
        .filter(|e| {
            current.iter().any(|(label, hash)| {
                *label == e.label && keys_store::fingerprint(hash) == e.fingerprint
            })
        })
        .map(|e| Credential {
            label: e.label.clone(),
            secret: e.secret.clone(),
        })
        .collect();
    Ok(Keys {
        salt: record.salt,
        iterations: record.iterations,
        credentials,
        server_nonce,
        account_exists: true,
    })
}

/// Settles a SCRAM login whose proof matched the credential `matched` (or none):
/// the throttle is asked again (a lockout may have come meanwhile) and told the
/// result, an app password's last use is recorded.
pub(crate) async fn finish(
    shared: &Shared,
    ip: IpAddr,
    protocol: &'static str,
    username: &str,
    matched: Option<String>,
    account_exists: bool,
) -> Outcome {
    let admitted = match login::admit(shared, ip, protocol, username, false).await {
        Ok(admitted) => admitted,
        Err(outcome) => return outcome,
    };
    let checked = match matched {
        None => {
            tracing::info!(user = %username, protocol, "SCRAM login failed: invalid proof");
            Ok(crate::auth::Checked::Wrong { account_exists })
        }
        Some(label) => settle(shared, username, &label).await,
    };
    login::record(shared, ip, protocol, username, admitted, checked).await
}

/// The account of a matched proof, with an app password's use recorded.
async fn settle(
    shared: &Shared,
    username: &str,
    label: &str,
) -> Result<crate::auth::Checked, store::StoreError> {
    let store = shared.store.as_ref();
    let account = match message::Address::parse(username.trim()) {
        Ok(address) => store.account_get(&address).await?,
        Err(_) => None,
    };
    let Some(account) = account else {
        return Ok(crate::auth::Checked::Wrong {
            account_exists: false,
        });
    };
    if let Some(id) = label.strip_prefix("app:") {
        tracing::info!(user = %username, "logged in with SCRAM and an app password");
        if let Err(e) = store
            .app_password_used(account.id, id, crate::auth::now_unix())
            .await
        {
            tracing::warn!(error = %e, "could not record the app password's last use");
        }
    } else {
        tracing::info!(user = %username, "logged in with SCRAM");
    }
    Ok(crate::auth::Checked::Ok(account))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use store::Store;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    async fn shared(edit: impl FnOnce(&mut config::Config)) -> (Shared, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = config::Config::default().with_data_dir(dir.path().to_owned());
        config.dns.nameservers = vec!["127.0.0.1:9".parse().expect("address")];
        edit(&mut config);
        let store: Arc<dyn Store> = Arc::new(store::memory::MemoryStore::new());
        let domain = message::Domain::parse("example.org").expect("domain");
        store.domain_add(&domain).await.expect("domain");
        let (_tx, stop) = tokio::sync::watch::channel(false);
        (Shared::for_tests(&config, store, stop).expect("state"), dir)
    }

    /// Alice with the password `pencil`, her keys made as `postie user add` does.
    async fn alice(shared: &Shared) -> store::Account {
        let store = shared.store.as_ref();
        let hash = store::password::hash("pencil").expect("hash");
        let address = message::Address::parse("alice@example.org").expect("address");
        let id = store.account_add(&address, &hash).await.expect("account");
        keys_store::remember(store, id, keys_store::ACCOUNT, "pencil", &hash)
            .await
            .expect("keys");
        store
            .account_get(&address)
            .await
            .expect("get")
            .expect("alice")
    }

    fn labels(keys: &Keys) -> Vec<&str> {
        keys.credentials.iter().map(|c| c.label.as_str()).collect()
    }

    #[tokio::test]
    async fn current_keys_only_and_web_only_drops_the_account_password() {
        let (shared, _dir) = shared(|_| {}).await;
        let account = alice(&shared).await;
        let got = super::keys(&shared, LOCAL, "imap", "alice@example.org")
            .await
            .unwrap();
        assert_eq!(labels(&got), ["account"]);
        assert!(got.account_exists && got.server_nonce.len() >= 24);

        // The password changed behind the server's back: its keys are stale.
        let other = store::password::hash("other").unwrap();
        shared
            .store
            .account_set_password(&account.address, &other)
            .await
            .unwrap();
        let got = super::keys(&shared, LOCAL, "imap", "alice@example.org")
            .await
            .unwrap();
        assert!(labels(&got).is_empty(), "stale keys are never offered");

        let (shared, _dir) = super::tests::shared(|c| {
            c.auth.account_password = AccountPassword::WebOnly;
        })
        .await;
        alice(&shared).await;
        let got = super::keys(&shared, LOCAL, "imap", "alice@example.org")
            .await
            .unwrap();
        assert!(
            labels(&got).is_empty(),
            "web-only: no account password on mail"
        );
    }

    #[tokio::test]
    async fn unknown_users_get_a_stable_plausible_salt_and_fail() {
        let (shared, _dir) = shared(|_| {}).await;
        let a = keys(&shared, LOCAL, "smtp", "nobody@example.org")
            .await
            .unwrap();
        let b = keys(&shared, LOCAL, "smtp", "nobody@example.org")
            .await
            .unwrap();
        assert_eq!(a.salt, b.salt);
        assert_eq!((a.salt.len(), a.iterations), (16, ITERATIONS));
        assert!(a.credentials.is_empty() && !a.account_exists);
        assert_ne!(a.server_nonce, b.server_nonce, "a fresh nonce each time");
        let outcome = finish(&shared, LOCAL, "smtp", "nobody@example.org", None, false).await;
        assert!(matches!(outcome, Outcome::Wrong));
    }

    #[tokio::test]
    async fn a_match_logs_in_and_counts_failures_toward_the_lockout() {
        let (shared, _dir) = shared(|c| {
            c.auth.max_failures_per_ip = 2;
            c.auth.failure_delay_ms = 0;
        })
        .await;
        alice(&shared).await;
        let user = "alice@example.org";
        let elsewhere = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
        let ok = finish(
            &shared,
            elsewhere,
            "pop3",
            user,
            Some("account".into()),
            true,
        )
        .await;
        assert!(matches!(ok, Outcome::Ok(a) if a.address.to_string() == user));
        for _ in 0..2 {
            let wrong = finish(&shared, LOCAL, "pop3", user, None, true).await;
            assert!(matches!(wrong, Outcome::Wrong));
        }
        let locked = keys(&shared, LOCAL, "pop3", user).await;
        assert!(matches!(locked, Err(Outcome::Locked)), "{locked:?}");
    }
}
