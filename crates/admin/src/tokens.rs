//! HTTP API tokens: server-wide bearer tokens, each acting as an administrator
//! (`postie token create|list|revoke`, and the check of a presented token).
//!
//! Where it sits: the admin operations over `Store::token_*`, with the token format of
//! `store::api_token` (an id part the store finds it by, and a secret part stored only
//! as a hash). The CLI makes, lists and revokes tokens; the web face calls
//! [`authenticate`] on every request carrying `Authorization: Bearer …`.

use crate::{AdminError, Result};
use store::{ApiToken, Store, StoreError};

/// Makes a token named `name` and returns it whole: the only time anyone sees it.
/// `Invalid` for an unusable name, `Exists` when a token has that name.
pub async fn create(store: &dyn Store, name: &str) -> Result<String> {
    if !store::api_token::valid_name(name) {
        return Err(AdminError::Invalid(format!(
            "{name:?} is not a usable token name (1-64 characters: letters, digits, \
             `.`, `_` and `-`)"
        )));
    }
    let (id, secret, whole) = store::api_token::generate();
    let hash = store::api_token::hash_secret(&secret);
    let token = ApiToken {
        name: name.to_owned(),
        id,
        hash,
        created_at: crate::now_unix(),
        last_used: None,
    };
    match store.token_add(&token).await {
        Err(StoreError::Exists(_)) => Err(AdminError::Exists(format!(
            "there is already a token named {name:?}"
        ))),
        other => Ok(other.map(|()| whole)?),
    }
}

/// Every token, by name (the hash included: never show it).
pub async fn list(store: &dyn Store) -> Result<Vec<ApiToken>> {
    Ok(store.token_list().await?)
}

/// Revokes the token `name`: requests with it are refused from now on. `NotFound`
/// when there is no token by that name.
pub async fn revoke(store: &dyn Store, name: &str) -> Result<()> {
    match store.token_revoke(name).await {
        Err(StoreError::NotFound(_)) => {
            Err(AdminError::NotFound(format!("no token named {name:?}")))
        }
        other => Ok(other?),
    }
}

/// The token `presented` is, when it is a live one: `None` for anything malformed,
/// unknown (revoked) or with the wrong secret. Records the use (best effort: a failure
/// to record it is logged, the request still goes through). `Err` only when the store
/// cannot be asked.
pub async fn authenticate(store: &dyn Store, presented: &str) -> Result<Option<ApiToken>> {
    let Some((id, secret)) = store::api_token::parse(presented) else {
        return Ok(None);
    };
    let Some(token) = store.token_get(id).await? else {
        return Ok(None);
    };
    if !store::api_token::verify_secret(secret, &token.hash) {
        return Ok(None);
    }
    if let Err(e) = store.token_used(&token.id, crate::now_unix()).await {
        tracing::warn!(token = %token.name, error = %e, "could not record the use of an API token");
    }
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn create_authenticate_list_revoke() {
        let store = crate::test_store().await;
        let store = store.as_ref();
        let whole = create(store, "ci").await.expect("create");
        let listed = list(store).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, "ci");
        assert!(!listed[0].hash.contains(&whole) && !whole.contains(&listed[0].hash));
        assert_eq!(listed[0].last_used, None);

        let token = authenticate(store, &whole)
            .await
            .expect("ask")
            .expect("live");
        assert_eq!(token.name, "ci");
        assert!(
            list(store).await.unwrap()[0].last_used.is_some(),
            "use recorded"
        );

        // A wrong secret with the right id, garbage, nothing: no token.
        let (id, secret) = store::api_token::parse(&whole).expect("parse");
        let (_, _, other) = store::api_token::generate();
        let (_, other_secret) = store::api_token::parse(&other).expect("parse");
        let forged = whole.replace(secret, other_secret);
        assert_ne!(forged, whole);
        for bad in [forged.as_str(), "", "garbage", id] {
            assert_eq!(
                authenticate(store, bad).await.expect("ask"),
                None,
                "{bad:?}"
            );
        }

        assert_eq!(
            create(store, "ci").await.unwrap_err(),
            AdminError::Exists("there is already a token named \"ci\"".into())
        );
        assert!(matches!(
            create(store, "").await,
            Err(AdminError::Invalid(_))
        ));

        revoke(store, "ci").await.expect("revoke");
        assert_eq!(authenticate(store, &whole).await.expect("ask"), None);
        assert_eq!(
            revoke(store, "ci").await.unwrap_err(),
            AdminError::NotFound("no token named \"ci\"".into())
        );
        assert!(list(store).await.unwrap().is_empty());
    }
}
