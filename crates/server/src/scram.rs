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
