//! Postie's administrative operations, one module per kind of thing administered:
//! [`accounts`], [`app_passwords`], [`tokens`] (HTTP API tokens), [`dkim`] keys,
//! [`dns`] records, the delivery queue ([`queue_ops`]), and the [`audit`] line every
//! change is logged with.
//!
//! Where it sits: between the two faces an administrator uses, the command line
//! (`crates/postie`) and the web pages and HTTP API (`crates/web`), and the store
//! (`store::Store`) with the config (`config::Config`). Both faces call these
//! functions so an operation works, checks and fails the same way whichever face
//! asked for it; the faces only turn text into arguments and results into output.
//!
//! Every function returns a typed result or an [`AdminError`], whose kind says which
//! HTTP status it is (400, 404, 409, 500) and whose text is what the CLI prints after
//! `postie: `. None of them prints or takes an actor: the caller logs each change with
//! [`audit::log`] (the CLI as `cli`, the web as the signed-in address or `token:NAME`).

pub mod accounts;
pub mod app_passwords;
pub mod audit;
pub mod dkim;
pub mod dns;
mod error;
pub mod queue_ops;
pub mod tokens;

pub use error::AdminError;

/// Shorthand for results of admin operations.
pub type Result<T> = std::result::Result<T, AdminError>;

/// Now, in unix seconds.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An in-memory store with the local domain `example.org`, for the tests.
#[cfg(test)]
pub(crate) async fn test_store() -> std::sync::Arc<dyn store::Store> {
    let store = store::memory::MemoryStore::new();
    store::Store::domain_add(
        &store,
        &message::Domain::parse("example.org").expect("domain"),
    )
    .await
    .expect("domain_add");
    std::sync::Arc::new(store)
}
