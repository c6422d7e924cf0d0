//! Password checks shared by every protocol driver.

use message::Address;
use store::{Account, Store, StoreError};

/// Checks `password` for the account named `username` (a mail address). `Ok(None)` for
/// an unknown user or a wrong password alike, so callers cannot tell them apart in
/// replies. The argon2 check runs on the blocking pool.
pub async fn check_password(
    store: &dyn Store,
    username: &str,
    password: String,
) -> Result<Option<Account>, StoreError> {
    let Ok(address) = Address::parse(username) else {
        tracing::info!(user = %username, "login failed: not an address");
        return Ok(None);
    };
    let Some(account) = store.account_get(&address).await? else {
        tracing::info!(user = %username, "login failed: no such account");
        return Ok(None);
    };
    let hash = account.password_hash.clone();
    let ok = tokio::task::spawn_blocking(move || store::password::verify(&password, &hash))
        .await
        .unwrap_or(false);
    if !ok {
        tracing::info!(user = %username, "login failed: wrong password");
        return Ok(None);
    }
    Ok(Some(account))
}
