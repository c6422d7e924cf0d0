//! Accounts: create, change the password, the administrator flag or the display
//! name, look up, remove; and the parsing of addresses and domains with the words
//! every admin command uses.
//!
//! Where it sits: the admin operations on the store's accounts
//! (`Store::account_*`), called by `postie user …` and the web face's user pages and
//! API. Passwords are hashed here (`store::password::hash`, argon2, on a blocking
//! thread); only the hash reaches the store, with the password's SCRAM-SHA-256 keys
//! (`store::scram`, derived on a blocking thread too).

use crate::{AdminError, Result};
use message::{Address, Domain};
use store::{Account, Store};

/// `text` as an address, or `Invalid` quoting it.
pub fn parse_address(text: &str) -> Result<Address> {
    Address::parse(text)
        .map_err(|e| AdminError::Invalid(format!("{text:?} is not a valid address: {e}")))
}

/// `text` as a domain, or `Invalid` quoting it.
pub fn parse_domain(text: &str) -> Result<Domain> {
    Domain::parse(text)
        .map_err(|e| AdminError::Invalid(format!("{text:?} is not a valid domain: {e}")))
}

/// `Invalid` unless mail for `address`'s domain is delivered here, saying how to
/// make it so.
pub async fn ensure_local(store: &dyn Store, address: &Address) -> Result<()> {
    if store.domain_is_local(address.domain()).await? {
        return Ok(());
    }
    Err(AdminError::Invalid(format!(
        "{} is not a local domain; add it first with `postie domain add {}`",
        address.domain(),
        address.domain()
    )))
}

/// The argon2 hash of `password`, made on a blocking thread; an empty password is
/// `Invalid`.
pub async fn hash_password(password: &str) -> Result<String> {
    if password.is_empty() {
        return Err(AdminError::Invalid("the password must not be empty".into()));
    }
    let password = password.to_owned();
    Ok(tokio::task::spawn_blocking(move || store::password::hash(&password)).await??)
}

/// Creates the account `address` (in a local domain) with `password`, then gives it
/// `display_name` and the administrator flag when asked. Returns it as stored.
pub async fn create(
    store: &dyn Store,
    address: &str,
    password: &str,
    display_name: Option<&str>,
    admin: bool,
) -> Result<Account> {
    let address = parse_address(address)?;
    ensure_local(store, &address).await?;
    let hash = hash_password(password).await?;
    let id = store.account_add(&address, &hash).await?;
    remember_scram(store, id, store::scram::ACCOUNT, password, &hash).await;
    if let Some(name) = display_name.filter(|n| !n.is_empty()) {
        store.account_set_display_name(&address, Some(name)).await?;
    }
    if admin {
        store.account_set_admin(&address, true).await?;
    }
    account_of(store, &address).await
}

/// Replaces the password of the account `address`.
pub async fn set_password(store: &dyn Store, address: &str, password: &str) -> Result<()> {
    let address = parse_address(address)?;
    let hash = hash_password(password).await?;
    store.account_set_password(&address, &hash).await?;
    let account = account_of(store, &address).await?;
    remember_scram(store, account.id, store::scram::ACCOUNT, password, &hash).await;
    Ok(())
}

/// Derives and keeps the SCRAM-SHA-256 keys of a credential just set (RFC 5802 §3).
/// A failure is logged, not returned: the password is set, and its keys are made
/// again at its next PLAIN/LOGIN login.
pub async fn remember_scram(
    store: &dyn Store,
    account: store::AccountId,
    label: &str,
    password: &str,
    hash: &str,
) {
    if let Err(e) = store::scram::remember(store, account, label, password, hash).await {
        tracing::warn!(error = %e, account = account.0, "could not keep the SCRAM keys");
    }
}

/// Makes the account `address` an administrator (`true`) or not.
pub async fn set_admin(store: &dyn Store, address: &str, admin: bool) -> Result<()> {
    let address = parse_address(address)?;
    Ok(store.account_set_admin(&address, admin).await?)
}

/// Sets the display name of the account `address`; `None` (or an empty name)
/// clears it.
pub async fn set_display_name(store: &dyn Store, address: &str, name: Option<&str>) -> Result<()> {
    let address = parse_address(address)?;
    let name = name.filter(|n| !n.is_empty());
    Ok(store.account_set_display_name(&address, name).await?)
}

/// Deletes the account `address`, its mail and its aliases.
pub async fn remove(store: &dyn Store, address: &str) -> Result<()> {
    let address = parse_address(address)?;
    let id = store.account_get(&address).await?.map(|a| a.id);
    store.account_remove(&address).await?;
    if let Some(id) = id
        && let Err(e) = store::scram::forget(store, id).await
    {
        tracing::warn!(error = %e, "could not remove the SCRAM keys of a removed account");
    }
    Ok(())
}

/// The account `address`; `NotFound` (`no account …`) when there is none.
pub async fn get(store: &dyn Store, address: &str) -> Result<Account> {
    account_of(store, &parse_address(address)?).await
}

/// The account `address`, already parsed; `NotFound` when there is none.
pub async fn account_of(store: &dyn Store, address: &Address) -> Result<Account> {
    match store.account_get(address).await? {
        Some(account) => Ok(account),
        None => Err(AdminError::NotFound(format!("no account {address}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "alice@example.org";

    #[tokio::test]
    async fn create_with_name_and_flag_then_change_them() {
        let store = crate::test_store().await;
        let store = store.as_ref();
        let alice = create(store, ALICE, "secret", Some("Alice A."), true)
            .await
            .expect("create");
        assert_eq!(alice.display_name.as_deref(), Some("Alice A."));
        assert!(alice.admin);
        assert!(store::password::verify("secret", &alice.password_hash));

        set_admin(store, ALICE, false).await.expect("admin off");
        set_display_name(store, ALICE, None).await.expect("clear");
        let alice = get(store, ALICE).await.expect("get");
        assert!(!alice.admin);
        assert_eq!(alice.display_name, None);
        set_display_name(store, ALICE, Some("Al"))
            .await
            .expect("set");
        assert_eq!(
            get(store, ALICE).await.unwrap().display_name.as_deref(),
            Some("Al")
        );

        set_password(store, ALICE, "other").await.expect("passwd");
        let hash = get(store, ALICE).await.unwrap().password_hash;
        assert!(store::password::verify("other", &hash));

        let plain = create(store, "bob@example.org", "pw", None, false)
            .await
            .expect("create bob");
        assert!(!plain.admin && plain.display_name.is_none());

        remove(store, ALICE).await.expect("remove");
        assert!(
            matches!(get(store, ALICE).await, Err(AdminError::NotFound(m)) if m == "no account alice@example.org")
        );
    }

    #[tokio::test]
    async fn refusals() {
        let store = crate::test_store().await;
        let store = store.as_ref();
        let err = create(store, "nope", "pw", None, false).await.unwrap_err();
        assert!(
            matches!(&err, AdminError::Invalid(m) if m.starts_with("\"nope\" is not a valid address")),
            "{err}"
        );
        let err = create(store, "a@elsewhere.example", "pw", None, false)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            AdminError::Invalid(
                "elsewhere.example is not a local domain; add it first with \
                 `postie domain add elsewhere.example`"
                    .into()
            )
        );
        let err = create(store, ALICE, "", None, false).await.unwrap_err();
        assert_eq!(
            err,
            AdminError::Invalid("the password must not be empty".into())
        );
        assert!(
            store
                .account_get(&parse_address(ALICE).unwrap())
                .await
                .unwrap()
                .is_none()
        );

        create(store, ALICE, "pw", None, false)
            .await
            .expect("create");
        let err = create(store, ALICE, "pw", None, false).await.unwrap_err();
        assert!(matches!(err, AdminError::Exists(_)), "{err}");
        for err in [
            set_admin(store, "nobody@example.org", true)
                .await
                .unwrap_err(),
            set_display_name(store, "nobody@example.org", Some("x"))
                .await
                .unwrap_err(),
            remove(store, "nobody@example.org").await.unwrap_err(),
        ] {
            assert!(matches!(err, AdminError::NotFound(_)), "{err}");
        }
        let err = set_display_name(store, ALICE, Some("a\u{7}b"))
            .await
            .unwrap_err();
        assert!(matches!(err, AdminError::Invalid(_)), "{err}");
        assert!(
            matches!(parse_domain("bad domain"), Err(AdminError::Invalid(m)) if m.starts_with("\"bad domain\" is not a valid domain"))
        );
    }
}
