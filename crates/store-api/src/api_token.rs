//! The stored record of an HTTP API token (see `store::api_token` for making and
//! parsing them).

/// One API token as stored (the secret only as its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// The name the administrator gave it (`ci`), unique.
    pub name: String,
    /// The id part of the token, unique.
    pub id: String,
    /// Hash of the secret part (`store::api_token::hash_secret`).
    pub hash: String,
    /// When it was made, unix seconds.
    pub created_at: i64,
    /// When it was last used, unix seconds; `None` if never.
    pub last_used: Option<i64>,
}
