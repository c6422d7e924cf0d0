//! App passwords (what providers call authorisation codes): one per device or
//! program, each usable for SMTP AUTH, POP3 and IMAP and revocable on its own (see
//! `store::app_password` and docs/security.md).
//!
//! Where it sits: the admin operations behind `postie user app-password …` and the
//! web face's app password pages, over `Store::app_password_*`. A new password is
//! made here, only its id and the argon2 hash of its secret are stored, and the whole
//! password goes back to the caller to show once.

use crate::{AdminError, Result, accounts};
use store::{Account, AppPassword, Store, StoreError};

/// Makes a new app password named `name` for `account` and returns it whole: the only
/// time anyone sees it. `Invalid` for an unusable name, `Exists` when the account has
/// one by that name.
pub async fn create(store: &dyn Store, account: &Account, name: &str) -> Result<String> {
    if !store::app_password::valid_name(name) {
        return Err(AdminError::Invalid(format!(
            "{name:?} is not a usable name (1-64 characters, no control characters)"
        )));
    }
    let (id, secret, whole) = store::app_password::generate();
    let hash = accounts::hash_password(&secret).await?;
    match store
        .app_password_add(account.id, name, &id, &hash, crate::now_unix())
        .await
    {
        Err(StoreError::Exists(_)) => Err(AdminError::Exists(format!(
            "{} already has an app password named {name:?}",
            account.address
        ))),
        Err(e) => Err(e.into()),
        Ok(()) => {
            // SCRAM keys come from what the client types: the whole password.
            let label = store::scram::app_label(&id);
            accounts::remember_scram(store, account.id, &label, &whole, &hash).await;
            Ok(whole)
        }
    }
}

/// The account's app passwords, by name (ids and hashes included: show neither).
pub async fn list(store: &dyn Store, account: &Account) -> Result<Vec<AppPassword>> {
    Ok(store.app_password_list(account.id).await?)
}

/// Revokes the account's app password `name`: logins with it fail from now on.
/// `NotFound` when it has none by that name.
pub async fn revoke(store: &dyn Store, account: &Account, name: &str) -> Result<()> {
    match store.app_password_revoke(account.id, name).await {
        Err(StoreError::NotFound(_)) => Err(AdminError::NotFound(format!(
            "{} has no app password named {name:?}",
            account.address
        ))),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn create_list_revoke() {
        let store = crate::test_store().await;
        let store = store.as_ref();
        let alice = accounts::create(store, "alice@example.org", "pw", None, false)
            .await
            .expect("account");
        let whole = create(store, &alice, "phone").await.expect("create");
        let (id, secret) = store::app_password::parse(&whole).expect("the usual form");
        let listed = list(store, &alice).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].name.as_str(), listed[0].id.as_str()),
            ("phone", id)
        );
        assert!(store::password::verify(secret, &listed[0].hash));

        let err = create(store, &alice, "phone").await.unwrap_err();
        assert_eq!(
            err,
            AdminError::Exists(
                "alice@example.org already has an app password named \"phone\"".into()
            )
        );
        let err = create(store, &alice, "").await.unwrap_err();
        assert!(matches!(err, AdminError::Invalid(_)), "{err}");

        revoke(store, &alice, "phone").await.expect("revoke");
        let err = revoke(store, &alice, "phone").await.unwrap_err();
        assert_eq!(
            err,
            AdminError::NotFound("alice@example.org has no app password named \"phone\"".into())
        );
        assert!(list(store, &alice).await.unwrap().is_empty());
    }
}
