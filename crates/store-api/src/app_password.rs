//! The stored record of an app password (see `store::app_password` for what app
//! passwords are, and for making and parsing them).

/// One app password as stored (the secret only as its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    /// The name the user gave it (`phone`), unique per account.
    pub name: String,
    /// The id part of the password, unique in the store.
    pub id: String,
    /// Argon2 PHC string of the secret part (`store::password::hash`).
    pub hash: String,
    /// When it was made, unix seconds.
    pub created_at: i64,
    /// When it was last used to log in, unix seconds; `None` if never.
    pub last_used: Option<i64>,
}
