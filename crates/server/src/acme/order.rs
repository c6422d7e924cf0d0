//! One ACME order (RFC 8555 §7.4) with instant-acme: the account (made once, kept
//! in the store), a new order for the wanted names, the challenges answered through
//! the store (HTTP-01 §8.3, TLS-ALPN-01 RFC 8737), finalized with a CSR for a fresh
//! ECDSA P-256 key (rcgen), the chain fetched; then the result goes to the store.
//!
//! Where it sits: called by [`super::task`] when renewal is due and by `postie cert
//! renew` ([`renew_now`]), always under the store lease `acme-renew` so that one node
//! orders at a time. Every call to the CA has a deadline ([`CALL_DEADLINE`]) and the
//! order as a whole another ([`ORDER_DEADLINE`]); the challenge answers are removed
//! from the store whatever happens.

use super::stored::{self, Issued};
use crate::tls::inspect::{self, Summary};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use store::Store;

/// The longest wait for one request to the CA.
pub const CALL_DEADLINE: Duration = Duration::from_secs(30);
/// The longest a whole order may take, account and validation included.
pub const ORDER_DEADLINE: Duration = Duration::from_secs(300);
/// How long the lease is taken for: the order's deadline and a margin.
const LEASE_SECS: i64 = 600;

/// Why no certificate came.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// The CA refused or failed (its problem document, RFC 8555 §6.7), or the
    /// connection to it did.
    #[error("ACME CA: {0}")]
    Ca(String),
    /// A deadline passed.
    #[error("ACME CA: no answer in time ({0})")]
    Timeout(&'static str),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
    /// Another node (or command) holds the lease and is ordering now.
    #[error(
        "another node is ordering the certificate now (lease {})",
        stored::LEASE
    )]
    Busy,
    /// Nothing a CA could validate: `hostname` is not a public DNS name.
    #[error("no name to order: hostname {0:?} is not a DNS name with a dot")]
    NoNames(String),
    /// The CA does not know the stored account.
    #[error("ACME CA: unknown account: {0}")]
    AccountGone(String),
    /// `[acme]` is not in the configuration.
    #[error("[acme] is not configured")]
    NotConfigured,
}

fn ca(e: impl std::fmt::Display) -> AcmeError {
    AcmeError::Ca(e.to_string())
}

fn store_error(e: impl std::fmt::Display) -> AcmeError {
    AcmeError::Store(e.to_string())
}

/// `fut` with [`CALL_DEADLINE`].
async fn step<T, E: std::fmt::Display>(
    what: &'static str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, AcmeError> {
    match tokio::time::timeout(CALL_DEADLINE, fut).await {
        Ok(result) => result.map_err(|e| AcmeError::Ca(format!("{what}: {e}"))),
        Err(_) => Err(AcmeError::Timeout(what)),
    }
}

/// The names to order under `config` (the local domains come from the store).
pub async fn names_for(
    config: &config::Config,
    store: &dyn Store,
) -> Result<Vec<String>, AcmeError> {
    let acme = config.acme.as_ref().ok_or(AcmeError::NotConfigured)?;
    let domains = if acme.include_service_names {
        store
            .domain_list()
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|d| d.to_string())
            .collect()
    } else {
        Vec::new()
    };
    let names = super::names::wanted(&config.hostname, &domains, acme.include_service_names);
    if names.is_empty() {
        return Err(AcmeError::NoNames(config.hostname.clone()));
    }
    Ok(names)
}

/// Orders a certificate now for the names `config` wants, under the lease, and puts
/// it in the store, where every running node picks it up (`acme.check_secs`).
/// `holder` names who holds the lease (node or command).
pub async fn renew_now(
    config: &config::Config,
    store: &Arc<dyn Store>,
    holder: &str,
) -> Result<Summary, AcmeError> {
    renew(config, store, holder, None)
        .await?
        .ok_or(AcmeError::Busy)
}

/// For a server's renewal task: like [`renew_now`], but once the lease is held it
/// orders nothing (`Ok(None)`) when the stored certificate is no longer `seen`, the
/// one the node last read: another node renewed in between.
pub(crate) async fn renew_unless_changed(
    config: &config::Config,
    store: &Arc<dyn Store>,
    holder: &str,
    seen: Option<&[u8]>,
) -> Result<Option<Summary>, AcmeError> {
    renew(config, store, holder, Some(seen)).await
}

async fn renew(
    config: &config::Config,
    store: &Arc<dyn Store>,
    holder: &str,
    seen: Option<Option<&[u8]>>,
) -> Result<Option<Summary>, AcmeError> {
    let acme = config.acme.as_ref().ok_or(AcmeError::NotConfigured)?;
    let names = names_for(config, store.as_ref()).await?;
    let now = unix_now();
    if !store
        .lease_take(stored::LEASE, holder, now, now + LEASE_SECS)
        .await
        .map_err(store_error)?
    {
        return Err(AcmeError::Busy);
    }
    let result = async {
        if let Some(seen) = seen {
            let current = store
                .value_get(stored::CERTIFICATE)
                .await
                .map_err(store_error)?;
            if current.as_deref() != seen {
                return Ok(None);
            }
        }
        let issued =
            match tokio::time::timeout(ORDER_DEADLINE, order(acme, store.as_ref(), &names)).await {
                Ok(result) => result?,
                Err(_) => return Err(AcmeError::Timeout("the whole order")),
            };
        let summary = summary_of(&issued)?;
        store
            .value_put(stored::CERTIFICATE, &issued.encode())
            .await
            .map_err(store_error)?;
        Ok(Some(summary))
    }
    .await;
    // Whatever happened, the lease goes (it would expire on its own otherwise).
    let _ = store.lease_drop(stored::LEASE, holder).await;
    result
}

/// The leaf's summary of `issued`.
fn summary_of(issued: &Issued) -> Result<Summary, AcmeError> {
    let (chain, _) = Issued::decode(&issued.encode()).map_err(ca)?;
    inspect::summarize(chain[0].as_ref()).map_err(ca)
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs one order for `names`; the challenge answers it writes are removed after.
/// An account the CA no longer knows (RFC 8555 §6.7 `accountDoesNotExist`: a test
/// CA restarted, an account deactivated) is replaced once.
async fn order(
    acme: &config::Acme,
    store: &dyn Store,
    names: &[String],
) -> Result<Issued, AcmeError> {
    let mut again = true;
    loop {
        let account = account(acme, store).await?;
        let mut written = Vec::new();
        let result = validate_and_finalize(acme, store, &account, names, &mut written).await;
        for key in written {
            let _ = store.value_delete(&key).await;
        }
        match result {
            Err(AcmeError::AccountGone(e)) if again => {
                tracing::warn!(error = %e, "ACME: the CA does not know the stored account; making a new one");
                store
                    .value_delete(stored::ACCOUNT)
                    .await
                    .map_err(store_error)?;
                again = false;
            }
            Err(AcmeError::AccountGone(e)) => return Err(AcmeError::Ca(e)),
            other => return other,
        }
    }
}

async fn validate_and_finalize(
    acme: &config::Acme,
    store: &dyn Store,
    account: &Account,
    names: &[String],
    written: &mut Vec<String>,
) -> Result<Issued, AcmeError> {
    let identifiers: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
    let mut order = match tokio::time::timeout(
        CALL_DEADLINE,
        account.new_order(&NewOrder::new(&identifiers)),
    )
    .await
    {
        Err(_) => return Err(AcmeError::Timeout("new order")),
        Ok(Ok(order)) => order,
        Ok(Err(instant_acme::Error::Api(problem)))
            if problem
                .r#type
                .as_deref()
                .is_some_and(|t| t.ends_with(":accountDoesNotExist")) =>
        {
            return Err(AcmeError::AccountGone(problem.to_string()));
        }
        Ok(Err(e)) => return Err(AcmeError::Ca(format!("new order: {e}"))),
    };
    let kind = match acme.challenge {
        config::AcmeChallenge::Http01 => ChallengeType::Http01,
        config::AcmeChallenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
    };
    let mut authorizations = order.authorizations();
    loop {
        let next = tokio::time::timeout(CALL_DEADLINE, authorizations.next())
            .await
            .map_err(|_| AcmeError::Timeout("authorization"))?;
        let Some(authorization) = next else { break };
        let mut authorization = authorization.map_err(ca)?;
        match authorization.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => return Err(AcmeError::Ca(format!("authorization is {other:?}"))),
        }
        let mut challenge = authorization.challenge(kind.clone()).ok_or_else(|| {
            AcmeError::Ca(format!("the CA offers no {:?} challenge", acme.challenge))
        })?;
        let answer = challenge.key_authorization();
        let (key, value) = match kind {
            ChallengeType::Http01 => (
                web::acme_challenge::store_key(&challenge.token),
                answer.as_str().as_bytes().to_vec(),
            ),
            _ => (
                stored::tls_alpn_key(&challenge.identifier().to_string().to_ascii_lowercase()),
                answer.digest().as_ref().to_vec(),
            ),
        };
        store.value_put(&key, &value).await.map_err(store_error)?;
        written.push(key);
        step("challenge ready", challenge.set_ready()).await?;
    }
    let retries = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .timeout(Duration::from_secs(90));
    let status = order.poll_ready(&retries).await.map_err(ca)?;
    if status != OrderStatus::Ready {
        return Err(AcmeError::Ca(format!(
            "order is {status:?}, not ready (validation failed)"
        )));
    }
    let key = rcgen::KeyPair::generate().map_err(ca)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(ca)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).map_err(ca)?;
    step("finalize", order.finalize_csr(csr.der())).await?;
    let chain_pem = order.poll_certificate(&retries).await.map_err(ca)?;
    Ok(Issued {
        chain_pem,
        key_pem: key.serialize_pem(),
    })
}

/// The stored account, or a new one (kept in the store) when there is none for this
/// directory.
async fn account(acme: &config::Acme, store: &dyn Store) -> Result<Account, AcmeError> {
    let builder = || match &acme.ca_file {
        Some(roots) => Account::builder_with_root(roots).map_err(ca),
        None => Account::builder().map_err(ca),
    };
    if let Some(bytes) = store
        .value_get(stored::ACCOUNT)
        .await
        .map_err(store_error)?
    {
        match serde_json::from_slice::<StoredAccount>(&bytes) {
            Ok(kept) if kept.directory == acme.directory => {
                return step("account", builder()?.from_credentials(kept.credentials)).await;
            }
            Ok(_) => tracing::info!("ACME: a new directory; making a new account"),
            Err(e) => {
                tracing::warn!(error = %e, "ACME: the stored account is damaged; making a new one")
            }
        }
    }
    let contact: Vec<&str> = acme.contact.iter().map(String::as_str).collect();
    let new = NewAccount {
        contact: &contact,
        // RFC 8555 §7.3: the operator agreed by configuring [acme] (docs/tls.md).
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, credentials) = step(
        "new account",
        builder()?.create(&new, acme.directory.clone(), None),
    )
    .await?;
    let kept = StoredAccount {
        directory: acme.directory.clone(),
        credentials,
    };
    let json = serde_json::to_vec(&kept).map_err(store_error)?;
    store
        .value_put(stored::ACCOUNT, &json)
        .await
        .map_err(store_error)?;
    tracing::info!(directory = %acme.directory, "ACME: account created");
    Ok(account)
}

/// The account as the store keeps it: for which directory, and its credentials.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::memory::MemoryStore;

    fn config() -> config::Config {
        config::Config {
            hostname: "mx.example.org".into(),
            acme: Some(config::Acme {
                // Nothing listens there: a test that reached the network would fail.
                directory: "https://127.0.0.1:9/dir".into(),
                ..config::Acme::default()
            }),
            ..config::Config::default()
        }
    }

    #[tokio::test]
    async fn only_one_orders_at_a_time() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let now = unix_now();
        assert!(
            store
                .lease_take(stored::LEASE, "node-a", now, now + 600)
                .await
                .unwrap()
        );
        let e = renew_now(&config(), &store, "node-b").await.unwrap_err();
        assert!(matches!(e, AcmeError::Busy), "{e}");
        assert_eq!(store.value_get(stored::CERTIFICATE).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_node_that_saw_an_older_certificate_does_not_order_again() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        // Another node stored a certificate after this one last looked (it saw none).
        store
            .value_put(stored::CERTIFICATE, b"newer")
            .await
            .unwrap();
        let outcome = renew_unless_changed(&config(), &store, "node-b", None)
            .await
            .unwrap();
        assert!(outcome.is_none());
        assert_eq!(
            store
                .value_get(stored::CERTIFICATE)
                .await
                .unwrap()
                .as_deref(),
            Some(&b"newer"[..])
        );
        let now = unix_now();
        assert!(
            store
                .lease_take(stored::LEASE, "node-c", now, now + 600)
                .await
                .unwrap(),
            "the lease is free again"
        );
    }

    #[tokio::test]
    async fn a_failed_order_drops_the_lease_and_stores_nothing() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let e = renew_now(&config(), &store, "node-a").await.unwrap_err();
        assert!(matches!(e, AcmeError::Ca(_)), "{e}");
        assert_eq!(store.value_get(stored::CERTIFICATE).await.unwrap(), None);
        let now = unix_now();
        assert!(
            store
                .lease_take(stored::LEASE, "node-b", now, now + 600)
                .await
                .unwrap(),
            "the lease is free again"
        );
    }

    #[tokio::test]
    async fn a_host_name_a_ca_cannot_validate_is_refused_before_any_call() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let mut c = config();
        c.hostname = "localhost".into();
        let e = renew_now(&c, &store, "node-a").await.unwrap_err();
        assert!(matches!(e, AcmeError::NoNames(_)), "{e}");
    }
}
